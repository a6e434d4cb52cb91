// The dict and buffer protocols: __array_interface__ v3 and __array__ (ARR-9), the buffer
// protocol (ARR-8) and __cuda_array_interface__ v3 (CAI-1..4).

#include "core/backend.h"
#include "python/src/classify.h"

namespace astensor::python {

namespace {

// --- __array_interface__ / __cuda_array_interface__ ------------------------------------------

/// A field of an interface dict (borrowed), or null when absent.
PyObject* field(PyObject* dict, const char* key) {
  PyObject* v = PyDict_GetItemString(dict, key);  // borrowed; no exception
  return v;
}

/// A required field (borrowed), looked up where it is used: reading an earlier field can run
/// the producer's Python code (a list subclass's __getitem__) that empties the dict (issue 7,
/// fuzz_interface_dict). TypeError when absent.
PyObject* required_field(PyObject* dict, const char* iface, const char* key) {
  PyObject* v = field(dict, key);
  if (!v) throw TypeError(detail::str_cat("[as_tensor] ", iface, " has no '", key, "' field"));
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
  for (const char* key : {"shape", "typestr", "version"}) required_field(dict, iface, key);
  int64_t version = int_field(required_field(dict, iface, "version"), iface, "version");
  ASTENSOR_CHECK_VALUE(version >= 0 && version <= max_version, "[as_tensor] ", iface,
                       "['version'] = ", version, " is not supported (expected at most ",
                       max_version, ")");
  v->shape = int_tuple_field(required_field(dict, iface, "shape"), iface, "shape");
  for (int64_t s : v->shape)
    ASTENSOR_CHECK_VALUE(s >= 0, "[as_tensor] ", iface, "['shape'] = ", v->shape.str(),
                         " has a negative size");
  PyObject* ts = required_field(dict, iface, "typestr");
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
    v->byte_strides = contiguous_byte_strides(v->shape.span(), itemsize(*d));
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

}  // namespace

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
    v.byte_strides = contiguous_byte_strides(v.shape.span(), static_cast<std::size_t>(b.itemsize));
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
    v.stream = static_cast<intptr_t>(stream);  // CAI-3: waited on below, once the device is known
  }
  validate(v);
  // CAI-2: the device comes from the pointer (cudaPointerGetAttributes), not from the
  // current device. Where CUDA is absent, resolving raises DEV-3. A zero-size array may have
  // no pointer: it is placed on the current device.
  v.device = resolve_device(Device(DeviceType::CUDA));
  if (v.data) {
    const PointerInfo pi = backend(DeviceType::CUDA).pointer_info(v.data);
    ASTENSOR_CHECK_VALUE(pi.kind == MemoryKind::Device && pi.device.type == DeviceType::CUDA,
                         "[as_tensor] ", iface, "['data'] pointer ", v.data,
                         " is not CUDA device memory (CAI-1 requires a device pointer)");
    v.device = pi.device;
  }
  if (v.stream) {
    // CAI-3, as DLP-2 is done (Note [Consumer streams] in dlpack_import.cpp): the library's
    // current stream of the array's device waits for the producer's stream now (a stream wait,
    // no host wait), and the view carries the current stream. Every read the transfer pipeline
    // makes runs on that stream or waits for it, and a result shared without a copy is ready
    // for work queued on it, which a stream the view merely named would not give.
    Backend& be = backend(DeviceType::CUDA);
    StreamHandle current = be.current_stream(v.device.index);
    be.wait_external_stream(v.device.index, *v.stream, current);
    v.stream = current == nullptr ? intptr_t(1) : reinterpret_cast<intptr_t>(current);
  }
  v.owner = py_owner(owner);  // the interface itself holds no reference (CAI lifetime rule)
  return v;
}


}  // namespace astensor::python
