// Classification of Python objects into core Sources (ARG-4) and the import protocols:
// NumPy through its C-API table, DLPack capsules, __cuda_array_interface__, the buffer
// protocol, __array_interface__ and __array__.

#include "python/src/classify.h"

#include <algorithm>
#include <cstring>

#include "core/backend.h"
#include "python/src/dlpack.h"
#include "python/src/tensor_object.h"

namespace astensor::python {

namespace {

// NumPy type numbers (numpy/ndarraytypes.h); stable across NumPy 1 and 2.
enum NpyType : int {
  kNpyBool = 0, kNpyByte = 1, kNpyUByte = 2, kNpyShort = 3, kNpyUShort = 4, kNpyInt = 5,
  kNpyUInt = 6, kNpyLong = 7, kNpyULong = 8, kNpyLongLong = 9, kNpyULongLong = 10,
  kNpyFloat = 11, kNpyDouble = 12, kNpyLongDouble = 13, kNpyCFloat = 14, kNpyCDouble = 15,
  kNpyCLongDouble = 16, kNpyObject = 17, kNpyHalf = 23, kNpyUserDef = 256,
};
constexpr int kNpyWriteable = 0x0400;

/// ml_dtypes.bfloat16's scalar type, looked up once ml_dtypes is imported (an array of that
/// dtype can only exist after that). Borrowed forever (the module never unloads).
PyObject* bfloat16_type() {
  static PyObject* cached = nullptr;
  if (cached) return cached;
  PyObject* mod = PyImport_GetModule(py::str("ml_dtypes").ptr());  // no import: just look
  if (!mod) {
    if (PyErr_Occurred()) PyErr_Clear();
    return nullptr;
  }
  PyObject* t = PyObject_GetAttrString(mod, "bfloat16");
  Py_DECREF(mod);
  if (!t) {
    PyErr_Clear();
    return nullptr;
  }
  cached = t;  // keep the reference
  return cached;
}

Dims dims_of(const ssize_t* p, int n) {
  Dims d(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) d[static_cast<std::size_t>(i)] = p[i];
  return d;
}

/// The object's own type name for "cannot convert" messages.
[[noreturn]] void throw_cannot_convert(PyObject* o) {
  throw TypeError("[as_tensor] cannot convert object of type '" + type_name(o) +
                  "'; expected a tensor, an array, a buffer, a number or a sequence");
}

bool is_str_or_bytes(PyObject* o) { return PyUnicode_Check(o) || PyBytes_Check(o); }

/// A NumPy scalar (np.generic) as a leaf carrying its dtype (SEQ-1, SEQ-3).
ScalarLeaf numpy_scalar_leaf(PyObject* o) {
  py::object descr = py::reinterpret_steal<py::object>(npy().PyArray_DescrFromScalar_(o));
  if (!descr) throw py::error_already_set();
  bool swapped = false;
  auto d = dtype_from_numpy_descr(descr.ptr(), &swapped);
  if (!d) throw_unsupported_numpy_dtype(descr.ptr(), "NumPy scalar");
  alignas(16) unsigned char buf[32] = {};
  npy().PyArray_ScalarAsCtype_(o, buf);
  return ScalarLeaf::from_element(buf, *d);
}

// --- DLPack ---------------------------------------------------------------------------------

struct DLImport {
  const dlpack::DLTensor* t;
  bool read_only;
  std::shared_ptr<void> owner;
};

ArrayView view_from_dltensor(const DLImport& in) {
  const dlpack::DLTensor& t = *in.t;
  auto dt = dtype_from_dlpack(t.dtype.code, t.dtype.bits, t.dtype.lanes);
  ASTENSOR_CHECK_TYPE(dt, "[as_tensor] DLPack dtype (code ", int(t.dtype.code), ", bits ",
                      int(t.dtype.bits), ", lanes ", t.dtype.lanes, ") is not supported; supported: ",
                      supported_dtypes_text());
  ASTENSOR_CHECK_VALUE(t.ndim >= 0 && t.ndim <= 64, "[as_tensor] DLPack tensor has ndim ", t.ndim,
                       "; expected 0..64");
  ASTENSOR_CHECK_VALUE(t.ndim == 0 || t.shape != nullptr,
                       "[as_tensor] DLPack tensor of ndim ", t.ndim, " has a NULL shape");
  Device device;
  switch (t.device.device_type) {
    case dlpack::kDLCPU:
    case dlpack::kDLCUDAHost:  // pinned host memory: the CPU reads it directly
      device = Device::cpu();
      break;
    case dlpack::kDLCUDA:
    case dlpack::kDLCUDAManaged:
      device = resolve_device(Device(DeviceType::CUDA, t.device.device_id));  // DEV-3
      break;
    default:
      throw TypeError(detail::str_cat("[as_tensor] DLPack device type ", t.device.device_type,
                                      " (device ", t.device.device_id,
                                      ") is not supported; supported: CPU (1), CUDA (2), "
                                      "CUDA host (3), CUDA managed (13)"));
  }
  ArrayView v;
  v.dtype = *dt;
  v.device = device;
  v.read_only = in.read_only;
  v.owner = in.owner;
  v.shape = Dims(static_cast<std::size_t>(t.ndim));
  v.byte_strides = Dims(static_cast<std::size_t>(t.ndim));
  for (int i = 0; i < t.ndim; ++i) v.shape[static_cast<std::size_t>(i)] = t.shape[i];
  checked_numel(v.shape.span());  // ValueError for negative sizes before anything else
  const int64_t isz = static_cast<int64_t>(itemsize(*dt));
  if (t.strides == nullptr) {  // C-contiguous (legal before DLPack 1.2)
    Dims cs = contiguous_strides(v.shape.span());
    for (int i = 0; i < t.ndim; ++i) v.byte_strides[static_cast<std::size_t>(i)] = cs[static_cast<std::size_t>(i)] * isz;
  } else {
    for (int i = 0; i < t.ndim; ++i) {
      int64_t b;
      ASTENSOR_CHECK_VALUE(!__builtin_mul_overflow(t.strides[i], isz, &b),
                           "[as_tensor] DLPack stride ", t.strides[i], " of dimension ", i,
                           " overflows in bytes");
      v.byte_strides[static_cast<std::size_t>(i)] = b;
    }
  }
  v.data = static_cast<const char*>(t.data) + t.byte_offset;
  if (t.data == nullptr && t.byte_offset == 0) v.data = nullptr;
  return v;
}

// --- __array_interface__ / __cuda_array_interface__ ------------------------------------------

/// A field of an interface dict (borrowed), or null when absent.
PyObject* field(PyObject* dict, const char* key) {
  PyObject* v = PyDict_GetItemString(dict, key);  // borrowed; no exception
  return v;
}

int64_t int_field(PyObject* v, const char* iface, const char* key) {
  if (!PyLong_Check(v) || PyBool_Check(v))
    throw TypeError(detail::str_cat("[as_tensor] ", iface, "['", key, "'] must be an int (got '",
                                    type_name(v), "')"));
  int overflow = 0;
  long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
  if (overflow || (x == -1 && PyErr_Occurred())) {
    PyErr_Clear();
    throw ValueError(detail::str_cat("[as_tensor] ", iface, "['", key, "'] = ", short_repr(v),
                                     " does not fit in 64 bits"));
  }
  return x;
}

Dims int_tuple_field(PyObject* v, const char* iface, const char* key) {
  if (!PyTuple_Check(v) && !PyList_Check(v))
    throw TypeError(detail::str_cat("[as_tensor] ", iface, "['", key,
                                    "'] must be a tuple of ints (got '", type_name(v), "')"));
  py::object seq = py::reinterpret_borrow<py::object>(v);
  Py_ssize_t n = PySequence_Size(v);
  ASTENSOR_CHECK_VALUE(n <= 64, "[as_tensor] ", iface, "['", key, "'] has ", n,
                       " entries; at most 64 dimensions are supported");
  Dims out(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    py::object item = py::reinterpret_steal<py::object>(PySequence_GetItem(v, i));
    if (!item) throw py::error_already_set();
    out[static_cast<std::size_t>(i)] = int_field(item.ptr(), iface, key);
  }
  return out;
}

/// The parts of the two interfaces that are the same: version, shape, typestr, strides, mask.
/// Fills shape, dtype, byteswapped and byte_strides.
void parse_interface_common(PyObject* dict, const char* iface, int max_version, ArrayView* v) {
  if (!PyDict_Check(dict))
    throw TypeError(detail::str_cat("[as_tensor] ", iface, " must be a dict (got '",
                                    type_name(dict), "')"));
  for (const char* key : {"shape", "typestr", "version"})
    if (!field(dict, key))
      throw TypeError(detail::str_cat("[as_tensor] ", iface, " has no '", key, "' field"));
  int64_t version = int_field(field(dict, "version"), iface, "version");
  ASTENSOR_CHECK_VALUE(version >= 0 && version <= max_version, "[as_tensor] ", iface,
                       "['version'] = ", version, " is not supported (expected at most ",
                       max_version, ")");
  v->shape = int_tuple_field(field(dict, "shape"), iface, "shape");
  for (int64_t s : v->shape)
    ASTENSOR_CHECK_VALUE(s >= 0, "[as_tensor] ", iface, "['shape'] = ", v->shape.str(),
                         " has a negative size");
  PyObject* ts = field(dict, "typestr");
  if (!PyUnicode_Check(ts))
    throw TypeError(detail::str_cat("[as_tensor] ", iface, "['typestr'] must be a str (got '",
                                    type_name(ts), "')"));
  Py_ssize_t len = 0;
  const char* s = PyUnicode_AsUTF8AndSize(ts, &len);
  if (!s) throw py::error_already_set();
  bool swapped = false;
  auto d = dtype_from_typestr(std::string_view(s, static_cast<std::size_t>(len)), &swapped);
  if (!d)
    throw TypeError(detail::str_cat("[as_tensor] ", iface, "['typestr'] = '", s,
                                    "' is not a supported dtype; supported: ",
                                    supported_dtypes_text(),
                                    " (bfloat16 has no typestr: use DLPack)"));
  v->dtype = *d;
  v->byteswapped = swapped;
  PyObject* strides = field(dict, "strides");
  if (strides && strides != Py_None) {
    v->byte_strides = int_tuple_field(strides, iface, "strides");
    ASTENSOR_CHECK_VALUE(v->byte_strides.size() == v->shape.size(), "[as_tensor] ", iface,
                         "['strides'] = ", v->byte_strides.str(), " does not match shape ",
                         v->shape.str());
  } else {
    v->byte_strides = contiguous_strides(v->shape.span());
    for (auto& x : v->byte_strides) x *= static_cast<int64_t>(itemsize(*d));
  }
  PyObject* mask = field(dict, "mask");
  ASTENSOR_CHECK_VALUE(!mask || mask == Py_None, "[as_tensor] ", iface,
                       "['mask'] is not None: masked arrays are not supported");
}

/// ('data': (ptr, readonly)) of either interface.
void parse_data_tuple(PyObject* data, const char* iface, ArrayView* v) {
  if (!PyTuple_Check(data) || PyTuple_GET_SIZE(data) != 2)
    throw TypeError(detail::str_cat("[as_tensor] ", iface,
                                    "['data'] must be a 2-tuple (pointer: int, readonly: bool) "
                                    "(got ", short_repr(data), ")"));
  PyObject* ptr = PyTuple_GET_ITEM(data, 0);
  PyObject* ro = PyTuple_GET_ITEM(data, 1);
  if (!PyLong_Check(ptr) || PyBool_Check(ptr))
    throw TypeError(detail::str_cat("[as_tensor] ", iface, "['data'][0] must be an int pointer (got '",
                                    type_name(ptr), "')"));
  unsigned long long p = PyLong_AsUnsignedLongLong(ptr);
  if (p == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw ValueError(detail::str_cat("[as_tensor] ", iface, "['data'][0] = ", short_repr(ptr),
                                     " is not a valid pointer"));
  }
  if (!PyBool_Check(ro))
    throw TypeError(detail::str_cat("[as_tensor] ", iface, "['data'][1] (read-only flag) must be a bool (got '",
                                    type_name(ro), "')"));
  v->data = reinterpret_cast<const void*>(static_cast<uintptr_t>(p));
  v->read_only = ro == Py_True;
}

/// ARR-9: __array_interface__ v3. The exporter (and a buffer given as 'data') stay alive.
ArrayView import_array_interface(PyObject* o, PyObject* dict) {
  constexpr const char* iface = "__array_interface__";
  ArrayView v;
  parse_interface_common(dict, iface, 3, &v);
  PyObject* data = field(dict, "data");
  auto owner = std::make_shared<BufferOwner>();
  Py_INCREF(o);
  owner->extra = o;
  if (data && PyTuple_Check(data)) {
    parse_data_tuple(data, iface, &v);
    PyObject* off = field(dict, "offset");
    ASTENSOR_CHECK_VALUE(!off || off == Py_None || int_field(off, iface, "offset") == 0,
                         "[as_tensor] ", iface, "['offset'] applies only when 'data' is a buffer");
  } else {
    // 'data' is a buffer object, or absent/None: the exporter's own buffer.
    PyObject* buf_obj = (data && data != Py_None) ? data : o;
    if (PyObject_GetBuffer(buf_obj, &owner->view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    owner->has_view = true;
    int64_t offset = 0;
    if (PyObject* off = field(dict, "offset"); off && off != Py_None) offset = int_field(off, iface, "offset");
    ASTENSOR_CHECK_VALUE(offset >= 0 && offset <= owner->view.len, "[as_tensor] ", iface,
                         "['offset'] = ", offset, " is outside the buffer of ", owner->view.len, " bytes");
    v.data = static_cast<const char*>(owner->view.buf) + offset;
    v.read_only = owner->view.readonly != 0;
  }
  v.owner = std::move(owner);
  v.device = Device::cpu();
  return v;
}

/// ARR-8: the buffer protocol (PyBUF_RECORDS_RO: strides and format, read-only allowed).
ArrayView import_buffer(PyObject* o) {
  auto owner = std::make_shared<BufferOwner>();
  if (PyObject_GetBuffer(o, &owner->view, PyBUF_RECORDS_RO) != 0) throw py::error_already_set();
  owner->has_view = true;
  const Py_buffer& b = owner->view;
  if (b.suboffsets != nullptr)
    throw ValueError("[as_tensor] the buffer of object of type '" + type_name(o) +
                     "' uses suboffsets (an indirect, PIL-style array), which cannot be shared");
  const char* fmt = b.format ? b.format : "B";
  bool swapped = false;
  auto d = dtype_from_pep3118(fmt, &swapped);
  if (!d)
    throw TypeError(detail::str_cat("[as_tensor] buffer format '", fmt, "' of object of type '",
                                    type_name(o), "' is not supported; supported dtypes: ",
                                    supported_dtypes_text()));
  ASTENSOR_CHECK_TYPE(static_cast<std::size_t>(b.itemsize) == itemsize(*d),
                      "[as_tensor] buffer of object of type '", type_name(o), "' has format '",
                      fmt, "' but item size ", b.itemsize);
  ASTENSOR_CHECK_VALUE(b.ndim >= 0 && b.ndim <= 64, "[as_tensor] buffer has ", b.ndim,
                       " dimensions; at most 64 are supported");
  ArrayView v;
  v.dtype = *d;
  v.byteswapped = swapped;
  v.data = b.buf;
  v.read_only = b.readonly != 0;
  if (b.shape) v.shape = dims_of(b.shape, b.ndim);
  else if (b.ndim == 1) v.shape = Dims{static_cast<int64_t>(b.len / b.itemsize)};
  if (b.strides) {
    v.byte_strides = dims_of(b.strides, b.ndim);
  } else {
    v.byte_strides = contiguous_strides(v.shape.span());
    for (auto& x : v.byte_strides) x *= static_cast<int64_t>(b.itemsize);
  }
  v.owner = std::move(owner);
  return v;
}

/// ARR-9: objects with only __array__(): call it, then share the ndarray it returns.
ArrayView import_via_array_method(PyObject* o, PyObject* method) {
  py::object arr = py::reinterpret_steal<py::object>(PyObject_CallNoArgs(method));
  if (!arr) throw py::error_already_set();
  if (!npy().PyArray_Check_(arr.ptr()))
    throw TypeError("[as_tensor] " + type_name(o) + ".__array__() returned an object of type '" +
                    type_name(arr.ptr()) + "', not a NumPy array");
  auto* proxy = py::detail::array_proxy(arr.ptr());
  bool swapped = false;
  auto d = dtype_from_numpy_descr(proxy->descr, &swapped);
  if (!d) throw_unsupported_numpy_dtype(proxy->descr, "array returned by __array__()");
  return ndarray_view(arr.ptr(), *d, swapped);
}

}  // namespace

// --- NumPy ------------------------------------------------------------------------------------

std::optional<DType> dtype_from_numpy_descr(PyObject* descr, bool* byteswapped) {
  const auto* d = py::detail::array_descriptor_proxy(descr);
  *byteswapped = d->byteorder == '>';  // '=' native, '<' little, '|' not applicable
  switch (d->type_num) {
    case kNpyBool: return DType::bool_;
    case kNpyByte: return DType::int8;
    case kNpyUByte: return DType::uint8;
    case kNpyShort: return DType::int16;
    case kNpyUShort: return DType::uint16;
    case kNpyInt: return DType::int32;
    case kNpyUInt: return DType::uint32;
    case kNpyLong: return sizeof(long) == 8 ? DType::int64 : DType::int32;
    case kNpyULong: return sizeof(long) == 8 ? DType::uint64 : DType::uint32;
    case kNpyLongLong: return DType::int64;
    case kNpyULongLong: return DType::uint64;
    case kNpyHalf: return DType::float16;
    case kNpyFloat: return DType::float32;
    case kNpyDouble: return DType::float64;
    case kNpyCFloat: return DType::complex64;
    case kNpyCDouble: return DType::complex128;
    default: break;
  }
  if (d->type_num >= kNpyUserDef) {
    // ml_dtypes registers legacy user dtypes; identify them by their scalar type (CuPy does
    // the same), not by the ambiguous 'V2' typestr.
    PyObject* bf16 = bfloat16_type();
    if (bf16 && d->typeobj == bf16) return DType::bfloat16;
  }
  return std::nullopt;
}

void throw_unsupported_numpy_dtype(PyObject* descr, const char* what) {
  throw TypeError(detail::str_cat("[as_tensor] cannot convert a ", what, " of dtype ",
                                  short_repr(descr), "; supported dtypes: ", supported_dtypes_text(),
                                  " (object arrays are converted element by element)"));
}

ArrayView ndarray_view(PyObject* arr, DType dtype, bool byteswapped) {
  auto* p = py::detail::array_proxy(arr);
  ArrayView v;
  v.data = p->data;
  v.dtype = dtype;
  v.shape = dims_of(p->dimensions, p->nd);
  v.byte_strides = dims_of(p->strides, p->nd);
  v.byteswapped = byteswapped;
  v.read_only = (p->flags & kNpyWriteable) == 0;
  v.owner = py_owner(arr);
  return v;
}

// --- protocols (3)-(6) -----------------------------------------------------------------------

bool classify_array_protocols(PyObject* o, ArrayView* out) {
  const Names& n = names();
  if (PyCapsule_CheckExact(o)) {  // (3) raw capsule
    *out = import_dlpack_capsule(o);
    return true;
  }
  if (py::object m = py::reinterpret_steal<py::object>(lookup_attr(o, n.dlpack)); m && m.ptr() != Py_None) {
    *out = import_dlpack_object(o);  // (3)
    return true;
  }
  if (py::object cai = py::reinterpret_steal<py::object>(lookup_attr(o, n.cuda_array_interface))) {
    *out = import_cuda_array_interface(o, cai.ptr());  // (4)
    return true;
  }
  if (PyObject_CheckBuffer(o)) {  // (5)
    *out = import_buffer(o);
    return true;
  }
  if (py::object ai = py::reinterpret_steal<py::object>(lookup_attr(o, n.array_interface))) {
    *out = import_array_interface(o, ai.ptr());  // (6)
    return true;
  }
  if (py::object m = py::reinterpret_steal<py::object>(lookup_attr(o, n.array)); m && m.ptr() != Py_None) {
    *out = import_via_array_method(o, m.ptr());  // (6)
    return true;
  }
  return false;
}

ArrayView import_dlpack_capsule(PyObject* capsule) {
  const char* name = PyCapsule_GetName(capsule);
  if (name == nullptr && PyErr_Occurred()) throw py::error_already_set();
  const std::string_view nm = name ? name : "";
  DLImport in{};
  if (nm == dlpack::kCapsuleVersioned) {
    auto* m = static_cast<dlpack::DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule, name));
    if (!m) throw py::error_already_set();
    // Take ownership first: from here on the deleter runs exactly once, whatever happens.
    if (PyCapsule_SetName(capsule, dlpack::kCapsuleVersionedUsed) != 0) throw py::error_already_set();
    in.owner = std::shared_ptr<void>(m, [](void* p) {
      auto* mt = static_cast<dlpack::DLManagedTensorVersioned*>(p);
      if (mt->deleter) mt->deleter(mt);
    });
    ASTENSOR_CHECK_VALUE(m->version.major == dlpack::kMajorVersion,
                         "[as_tensor] DLPack tensor has version ", m->version.major, ".",
                         m->version.minor, "; only major version ", dlpack::kMajorVersion,
                         " is supported");
    in.t = &m->dl_tensor;
    in.read_only = (m->flags & dlpack::kFlagReadOnly) != 0;
  } else if (nm == dlpack::kCapsuleLegacy) {
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(capsule, name));
    if (!m) throw py::error_already_set();
    if (PyCapsule_SetName(capsule, dlpack::kCapsuleLegacyUsed) != 0) throw py::error_already_set();
    in.owner = std::shared_ptr<void>(m, [](void* p) {
      auto* mt = static_cast<dlpack::DLManagedTensor*>(p);
      if (mt->deleter) mt->deleter(mt);
    });
    in.t = &m->dl_tensor;
    in.read_only = false;
  } else if (nm == dlpack::kCapsuleVersionedUsed || nm == dlpack::kCapsuleLegacyUsed) {
    throw ValueError("[as_tensor] this DLPack capsule was already consumed (its name is '" +
                     std::string(nm) + "'); a capsule can be imported only once");
  } else {
    throw TypeError("[as_tensor] cannot convert a PyCapsule named '" + std::string(nm) +
                    "'; expected a DLPack capsule ('dltensor' or 'dltensor_versioned')");
  }
  return view_from_dltensor(in);
}

ArrayView import_dlpack_object(PyObject* o) {
  const Names& n = names();
  py::object obj = py::reinterpret_borrow<py::object>(o);
  // DLP-2: a CUDA producer orders its pending work before the stream we name. The blocking
  // copies of this library run on the legacy default stream (1).
  py::object stream = py::none();
  if (py::object dev_m = py::reinterpret_steal<py::object>(lookup_attr(o, n.dlpack_device))) {
    py::object dev = dev_m();
    if (!PyTuple_Check(dev.ptr()) || PyTuple_GET_SIZE(dev.ptr()) != 2)
      throw TypeError("[as_tensor] " + type_name(o) + ".__dlpack_device__() must return a "
                      "(device_type, device_id) tuple (got " + short_repr(dev.ptr()) + ")");
    int dev_type = py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(dev.ptr(), 0)).cast<int>();
    if (dev_type == dlpack::kDLCUDA || dev_type == dlpack::kDLCUDAManaged) stream = py::int_(1);
  }
  py::object method = obj.attr(py::handle(n.dlpack));
  py::object capsule;
  {
    py::dict kw;
    kw[py::handle(n.max_version)] = py::make_tuple(dlpack::kMajorVersion, dlpack::kMinorVersion);
    if (!stream.is_none()) kw[py::handle(n.stream)] = stream;
    PyObject* r = PyObject_Call(method.ptr(), py::tuple().ptr(), kw.ptr());
    if (r) {
      capsule = py::reinterpret_steal<py::object>(r);
    } else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      // A producer older than DLPack 1.0 does not know max_version: ask for a legacy capsule.
      PyErr_Clear();
      py::dict kw2;
      if (!stream.is_none()) kw2[py::handle(n.stream)] = stream;
      r = PyObject_Call(method.ptr(), py::tuple().ptr(), kw2.ptr());
      if (!r) throw py::error_already_set();
      capsule = py::reinterpret_steal<py::object>(r);
    } else {
      throw py::error_already_set();
    }
  }
  if (!PyCapsule_CheckExact(capsule.ptr()))
    throw TypeError("[as_tensor] " + type_name(o) + ".__dlpack__() returned an object of type '" +
                    type_name(capsule.ptr()) + "', not a PyCapsule");
  return import_dlpack_capsule(capsule.ptr());
}

ArrayView import_cuda_array_interface(PyObject* owner, PyObject* dict) {
  constexpr const char* iface = "__cuda_array_interface__";
  ArrayView v;
  parse_interface_common(dict, iface, 3, &v);
  PyObject* data = field(dict, "data");
  if (!data) throw TypeError(detail::str_cat("[as_tensor] ", iface, " has no 'data' field"));
  parse_data_tuple(data, iface, &v);
  if (PyObject* s = field(dict, "stream"); s && s != Py_None) {
    int64_t stream = int_field(s, iface, "stream");
    ASTENSOR_CHECK_VALUE(stream != 0, "[as_tensor] ", iface,
                         "['stream'] = 0 is disallowed by the CUDA Array Interface v3 (use 1 "
                         "for the legacy default stream)");
    v.stream = static_cast<intptr_t>(stream);  // CAI-3: ordered before the consumer reads
  }
  validate(v);
  // CAI-2: the device comes from the pointer. Until the CUDA backend exposes the pointer
  // query, the current CUDA device stands in; where CUDA is absent this raises DEV-3.
  v.device = resolve_device(Device(DeviceType::CUDA));
  v.owner = py_owner(owner);  // the interface itself holds no reference (CAI lifetime rule)
  return v;
}

// --- PySequenceReader: the slow half ----------------------------------------------------------

void PySequenceReader::changed(NodeRef) {
  throw ValueError("[as_tensor] a sequence changed its length during conversion");
}

void PySequenceReader::inspect_slow(PyObject* o, NodeInfo* out) {
  if (is_tensor(o)) {  // SEQ-4: a tensor leaf is a sub-block
    out->kind = NodeKind::Block;
    out->block = tensor_of(o);
    return;
  }
  if (PyComplex_CheckExact(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_complex(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
    return;
  }
  if (npy().PyArray_Check_(o)) {
    auto* p = py::detail::array_proxy(o);
    bool swapped = false;
    if (auto d = dtype_from_numpy_descr(p->descr, &swapped)) {
      if (p->nd == 0) {  // a 0-d array counts like a NumPy scalar (SEQ-3, SEQ-5)
        alignas(16) unsigned char buf[16];
        std::memcpy(buf, p->data, itemsize(*d));
        if (swapped) {
          std::size_t part = is_complex(*d) ? itemsize(*d) / 2 : itemsize(*d);
          for (std::size_t q = 0; q < itemsize(*d); q += part) std::reverse(buf + q, buf + q + part);
        }
        out->kind = NodeKind::Scalar;
        out->scalar = ScalarLeaf::from_element(buf, *d);
      } else {
        out->kind = NodeKind::Block;
        out->block = ndarray_view(o, *d, swapped);
      }
      return;
    }
    const auto* descr = py::detail::array_descriptor_proxy(p->descr);
    if (descr->type_num == kNpyObject && p->nd > 0) {  // ARR-10: element by element
      out->kind = NodeKind::Sequence;
      out->length = p->dimensions[0];
      return;
    }
    if (descr->type_num == kNpyObject) {
      out->kind = NodeKind::Invalid;  // describe() names it
      return;
    }
    throw_unsupported_numpy_dtype(p->descr, "NumPy array");
  }
  if (is_str_or_bytes(o)) {  // before np.generic: np.str_ is both
    out->kind = NodeKind::Invalid;
    return;
  }
  if (PyObject_TypeCheck(o, numpy_generic_type())) {
    out->kind = NodeKind::Scalar;
    out->scalar = numpy_scalar_leaf(o);
    return;
  }
  // Subclasses of the Python number types (IntEnum, float subclasses...).
  if (PyLong_Check(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = int_leaf(o);
    return;
  }
  if (PyFloat_Check(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_float(PyFloat_AsDouble(o));
    return;
  }
  if (PyComplex_Check(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_complex(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
    return;
  }
  if (PyList_Check(o)) {
    out->kind = NodeKind::Sequence;
    out->length = PyList_GET_SIZE(o);
    return;
  }
  if (PyTuple_Check(o)) {
    out->kind = NodeKind::Sequence;
    out->length = PyTuple_GET_SIZE(o);
    return;
  }
  if (o == Py_None || PyDict_Check(o) || PyAnySet_Check(o)) {
    out->kind = NodeKind::Invalid;
    return;
  }
  ArrayView v;
  if (classify_array_protocols(o, &v)) {  // SEQ-4: arrays of any protocol are sub-blocks
    out->kind = NodeKind::Block;
    out->block = std::move(v);
    return;
  }
  if (PySequence_Check(o)) {
    Py_ssize_t n = PySequence_Size(o);
    if (n < 0) throw py::error_already_set();
    out->kind = NodeKind::Sequence;
    out->length = n;
    return;
  }
  out->kind = NodeKind::Invalid;
}

NodeRef PySequenceReader::child_slow(PyObject* o, int64_t i) {
  PyObject* c = PySequence_GetItem(o, static_cast<Py_ssize_t>(i));
  if (!c) {
    if (PyErr_ExceptionMatches(PyExc_IndexError)) {
      PyErr_Clear();
      changed(o);
    }
    throw py::error_already_set();
  }
  return hold_new(c);
}

std::string PySequenceReader::describe(NodeRef node) {
  auto* o = static_cast<PyObject*>(const_cast<void*>(node));
  if (o == Py_None || is_str_or_bytes(o) || PyDict_Check(o) || PyAnySet_Check(o))
    return "object of type '" + type_name(o) + "'";
  if (npy().PyArray_Check_(o) && py::detail::array_proxy(o)->nd == 0)
    return "0-d NumPy array of dtype object";
  if (PyNumber_Check(o) || PyObject_TypeCheck(o, numpy_generic_type())) return short_repr(o);
  return "object of type '" + type_name(o) + "'";
}

// --- classify (ARG-4) -------------------------------------------------------------------------

namespace {
Classified from_python_data(PyObject* root) {
  Classified c{Source(Tensor()), std::make_unique<PySequenceReader>(root)};
  c.source = SequenceSource{c.reader.get()};
  return c;
}
}  // namespace

Classified classify(PyObject* o) {
  if (is_tensor(o)) return {Source(tensor_of(o)), nullptr};  // (1)
  PyTypeObject* tp = Py_TYPE(o);
  // Exact builtins first: they have no array protocol, so skip the lookups (ARG-4 (7), (8)).
  if (tp == &PyFloat_Type || tp == &PyLong_Type || tp == &PyBool_Type || tp == &PyComplex_Type ||
      tp == &PyList_Type || tp == &PyTuple_Type)
    return from_python_data(o);
  if (npy().PyArray_Check_(o)) {  // (2)
    auto* p = py::detail::array_proxy(o);
    bool swapped = false;
    if (auto d = dtype_from_numpy_descr(p->descr, &swapped))
      return {Source(ndarray_view(o, *d, swapped)), nullptr};
    if (py::detail::array_descriptor_proxy(p->descr)->type_num == kNpyObject) {
      if (p->nd > 0) return from_python_data(o);  // ARR-10
      // A 0-d object array: convert its one element.
      PyObject* item = PyObject_GetItem(o, py::tuple().ptr());
      if (!item) throw py::error_already_set();
      // The reader holds `item` through the classified value's lifetime.
      Classified c = from_python_data(item);
      Py_DECREF(item);  // still referenced by the 0-d array itself
      return c;
    }
    throw_unsupported_numpy_dtype(p->descr, "NumPy array");
  }
  if (is_str_or_bytes(o))
    throw TypeError("[as_tensor] cannot convert object of type '" + type_name(o) +
                    "' (strings and bytes are not numeric data)");
  if (PyObject_TypeCheck(o, numpy_generic_type()) || PyLong_Check(o) || PyFloat_Check(o) ||
      PyComplex_Check(o))
    return from_python_data(o);  // (7) scalars: checked before the protocols NumPy scalars also speak
  ArrayView v;
  if (classify_array_protocols(o, &v)) return {Source(std::move(v)), nullptr};  // (3)-(6)
  if (PySequence_Check(o) && !PyDict_Check(o)) return from_python_data(o);  // (8)
  throw_cannot_convert(o);
}

}  // namespace astensor::python
