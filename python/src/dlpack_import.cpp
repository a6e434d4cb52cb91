// DLPack import (DLP-1, DLP-2): capsules (versioned and legacy), objects with __dlpack__, and
// the DLPack C exchange API fast path for CPU producers.

#include <cstring>

#include "core/backend.h"
#include "python/src/classify.h"
#include "python/src/dlpack.h"

namespace astensor::python {

namespace {

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
    v.byte_strides = contiguous_byte_strides(v.shape.span(), static_cast<std::size_t>(isz));
  } else {
    for (int i = 0; i < t.ndim; ++i) {
      int64_t b;
      ASTENSOR_CHECK_VALUE(!__builtin_mul_overflow(t.strides[i], isz, &b),
                           "[as_tensor] DLPack stride ", t.strides[i], " of dimension ", i,
                           " overflows in bytes");
      v.byte_strides[static_cast<std::size_t>(i)] = b;
    }
  }
  // In integers: byte_offset is any 64-bit value, and pointer arithmetic on NULL or past the
  // block is undefined. A NULL base stays NULL whatever the offset, so that validate() refuses
  // it when there are elements to read (a zero-size tensor may have no data).
  v.data = t.data == nullptr ? nullptr
                             : reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(t.data) +
                                                             static_cast<uintptr_t>(t.byte_offset));
  return v;
}


/// Takes ownership of a versioned managed tensor (its deleter runs exactly once, when the
/// last tensor sharing it dies, or now if it is refused) and views it.
ArrayView import_versioned(dlpack::DLManagedTensorVersioned* m) {
  DLImport in{};
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
  return view_from_dltensor(in);
}

/// The DLPack C exchange table of a producer type (major version 1), or null. Looked up once
/// per type; the cache holds a reference to each type so that its address is never reused.
const dlpack::DLPackExchangeAPI* exchange_api(PyTypeObject* tp) {
  struct Entry {
    PyTypeObject* type;
    const dlpack::DLPackExchangeAPI* api;
  };
  static Entry cache[16];
  static int used = 0;
  for (int i = 0; i < used; ++i)
    if (cache[i].type == tp) return cache[i].api;
  const dlpack::DLPackExchangeAPI* api = nullptr;
  static PyObject* name = PyUnicode_InternFromString("__dlpack_c_exchange_api__");
  if (PyObject* cap = _PyType_Lookup(tp, name); cap && PyCapsule_IsValid(cap, dlpack::kExchangeApiCapsule)) {
    auto* a = static_cast<const dlpack::DLPackExchangeAPI*>(
        PyCapsule_GetPointer(cap, dlpack::kExchangeApiCapsule));
    for (const auto* h = a ? &a->header : nullptr; h; h = h->prev_api) {
      if (h->version.major == dlpack::kMajorVersion) {
        api = reinterpret_cast<const dlpack::DLPackExchangeAPI*>(h);
        break;
      }
    }
  }
  if (used < 16) {
    Py_INCREF(tp);
    cache[used++] = {tp, api};
  }
  return api;
}

}  // namespace

bool import_via_exchange_api(PyObject* o, ArrayView* out) {
  const auto* api = exchange_api(Py_TYPE(o));
  if (!api || !api->managed_tensor_from_py_object_no_sync) return false;
  dlpack::DLManagedTensorVersioned* m = nullptr;
  if (api->managed_tensor_from_py_object_no_sync(o, &m) != 0 || !m) {
    PyErr_Clear();  // __dlpack__ will report the producer's own error, if any
    return false;
  }
  // A foreign major version may lay dl_tensor out differently: read nothing but the version
  // (and the deleter) before import_versioned() refuses it.
  if (m->version.major == dlpack::kMajorVersion && m->dl_tensor.device.device_type != dlpack::kDLCPU) {
    if (m->deleter) m->deleter(m);
    return false;
  }
  *out = import_versioned(m);
  return true;
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
    return import_versioned(m);
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
    // Checked by hand: pybind11's cast<int> would raise an untyped "Unable to cast" error.
    PyObject* type_obj = PyTuple_GET_ITEM(dev.ptr(), 0);
    if (!PyLong_Check(type_obj) || PyBool_Check(type_obj))
      throw TypeError("[as_tensor] " + type_name(o) + ".__dlpack_device__() must return a "
                      "(device_type: int, device_id: int) tuple (got " + short_repr(dev.ptr()) + ")");
    int overflow = 0;
    const long long dev_type = PyLong_AsLongLongAndOverflow(type_obj, &overflow);
    if (overflow) PyErr_Clear();
    ASTENSOR_CHECK_VALUE(!overflow, "[as_tensor] ", type_name(o), ".__dlpack_device__() returned ",
                         "the device type ", short_repr(type_obj), ", which is not a DLPack device type");
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


}  // namespace astensor::python
