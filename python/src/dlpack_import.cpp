// DLPack import (DLP-1, DLP-2): capsules (versioned and legacy), objects with __dlpack__, and
// the DLPack C exchange API fast path for CPU producers. See Note [Consumer streams].

#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>

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

/// The accelerator a DLPack device (CUDA, CUDA managed, or kDLExtDev, which is sim: what our
/// own export writes for sim memory [ext]) names, resolved and checked to exist (DEV-3).
Device accelerator_of(long long device_type, long long device_id) {
  ASTENSOR_CHECK_VALUE(device_id >= 0 && device_id <= INT32_MAX, "[as_tensor] DLPack device id ",
                       device_id, " (device type ", device_type, ") is not a device index");
  const DeviceType type = device_type == dlpack::kDLExtDev ? DeviceType::Sim : DeviceType::CUDA;
  return resolve_device(Device(type, static_cast<int>(device_id)));
}

/// The extension device type (12) is read as sim, but other libraries may use it for their
/// own devices: the first and the last byte a view reads must be memory of that sim device (sim's
/// copies then check the whole range), or the import is refused (ValueError) before anything
/// reads them.
void check_sim_memory(const ArrayView& v) {
  if (validate(v) == 0) return;  // ValueError for an impossible view; nothing to read
  int64_t lo = 0, hi = 0;
  element_extent(v.shape.span(), v.byte_strides.span(), &lo, &hi);
  Backend& be = backend(DeviceType::Sim);
  const auto* base = static_cast<const char*>(v.data);
  const PointerInfo first = be.pointer_info(base + lo);
  const PointerInfo last = be.pointer_info(base + hi + static_cast<int64_t>(itemsize(v.dtype)) - 1);
  ASTENSOR_CHECK_VALUE(first.kind == MemoryKind::Device && first.device == v.device && last.kind == MemoryKind::Device &&
                           last.device == v.device,
                       "[as_tensor] a DLPack tensor of the extension device type (12) is read as ",
                       v.device.str(), " [ext], but the bytes it reads (", static_cast<const void*>(base + lo),
                       " ..) are not ", v.device.str(), " memory");
}

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
    case dlpack::kDLExtDev:
      device = accelerator_of(t.device.device_type, t.device.device_id);  // DEV-3
      break;
    default:
      throw TypeError(detail::str_cat("[as_tensor] DLPack device type ", t.device.device_type,
                                      " (device ", t.device.device_id,
                                      ") is not supported; supported: CPU (1), CUDA (2), "
                                      "CUDA host (3), CUDA managed (13), and the extension "
                                      "device (12) as the test device sim:N [ext]"));
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
  if (device.type == DeviceType::Sim) check_sim_memory(v);
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
  // CPU tensors only: this entry point does no stream synchronization (its name says
  // "no_sync"), so a device tensor taken here would skip DLP-2 (Note [Consumer streams]); those
  // go through __dlpack__(stream=...) in import_dlpack_object instead.
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

// Note [Consumer streams]
// DLP-2: a producer's work on its device may still be pending when as_tensor is called, so
// __dlpack__(stream=S) asks the producer to order that work before stream S, and every read
// this library makes must then run after S. The library never reads on the legacy default
// stream (1): its copies and cast kernels run on its own NON-blocking streams (the backend's
// current stream of the device, the pipeline's cast stream, and on a peer transfer the
// destination device's current stream), which do not synchronize with stream 1. Naming 1 and
// reading elsewhere returned stale data on a real GPU (issue 11). So:
//  - S is the backend's current stream of the producer's device (the stream the transfer
//    pipeline's first reads and copies run on), passed as the integer the protocol carries
//    (a cudaStream_t or a sim stream handle; a null CUDA handle is the legacy stream, 1);
//  - the imported view's ArrayView::stream is S as well, so every OTHER stream the pipeline
//    uses (the cast stream, a peer destination stream) is made to wait for S (wait_producer in
//    impl/transfer/producer_wait.h); on S itself that wait is a no-op.
// Covered: to the host, on the same device with a cast, to another device (with or without a
// cast), and the reference implementation (its blocking copies synchronize the device). The
// same-device zero-copy share reads nothing: the shared tensor's memory is ready for work
// queued on S (the current stream) after this call; work on any other stream must order
// itself after S, as with any DLPack consumer. A producer without __dlpack_device__ is asked
// with no stream, which DLPack defines as the legacy default stream, so a device tensor it
// returns is read after stream 1. Raw capsules carry no stream: their producer synchronized
// (or not) when it made them.

namespace {

/// The protocol integer for a stream handle of `type` (DLP-2, CAI-3).
intptr_t protocol_stream_id(DeviceType type, StreamHandle h) {
  // No backend returns a null stream (Note [Null handles] in core/backend.h); were a CUDA one to
  // be null, it would mean the legacy default stream, whose protocol integer is 1.
  if (h == nullptr) {
    ASTENSOR_CHECK(type == DeviceType::CUDA, "[as_tensor] the current ", device_type_name(type),
                   " stream is null");
    return 1;
  }
  return reinterpret_cast<intptr_t>(h);
}

/// An int item of __dlpack_device__()'s tuple, checked by hand: pybind11's cast<int> would
/// raise an untyped "Unable to cast" error.
long long dlpack_device_int(PyObject* o, PyObject* dev, Py_ssize_t i, const char* what) {
  PyObject* item = PyTuple_GET_ITEM(dev, i);
  if (!PyLong_Check(item) || PyBool_Check(item))
    throw TypeError("[as_tensor] " + type_name(o) + ".__dlpack_device__() must return a "
                    "(device_type: int, device_id: int) tuple (got " + short_repr(dev) + ")");
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
  if (overflow) PyErr_Clear();
  ASTENSOR_CHECK_VALUE(!overflow, "[as_tensor] ", type_name(o), ".__dlpack_device__() returned ",
                       "the ", what, " ", short_repr(item), ", which is not a DLPack ", what);
  return v;
}

}  // namespace

ArrayView import_dlpack_object(PyObject* o) {
  const Names& n = names();
  py::object obj = py::reinterpret_borrow<py::object>(o);
  // DLP-2: the stream named to the producer (Note [Consumer streams]); none for host memory.
  std::optional<intptr_t> stream;
  Device stream_device;
  if (py::object dev_m = py::reinterpret_steal<py::object>(lookup_attr(o, n.dlpack_device))) {
    py::object dev = dev_m();
    if (!PyTuple_Check(dev.ptr()) || PyTuple_GET_SIZE(dev.ptr()) != 2)
      throw TypeError("[as_tensor] " + type_name(o) + ".__dlpack_device__() must return a "
                      "(device_type, device_id) tuple (got " + short_repr(dev.ptr()) + ")");
    const long long dev_type = dlpack_device_int(o, dev.ptr(), 0, "device type");
    if (dev_type == dlpack::kDLCUDA || dev_type == dlpack::kDLCUDAManaged || dev_type == dlpack::kDLExtDev) {
      const long long dev_id = dlpack_device_int(o, dev.ptr(), 1, "device id");
      stream_device = accelerator_of(dev_type, dev_id);
      stream = protocol_stream_id(stream_device.type, backend(stream_device.type).current_stream(stream_device.index));
    }
  }
  py::object method = obj.attr(py::handle(n.dlpack));
  py::object capsule;
  {
    py::dict kw;
    kw[py::handle(n.max_version)] = py::make_tuple(dlpack::kMajorVersion, dlpack::kMinorVersion);
    if (stream) kw[py::handle(n.stream)] = py::int_(*stream);
    PyObject* r = PyObject_Call(method.ptr(), py::tuple().ptr(), kw.ptr());
    if (r) {
      capsule = py::reinterpret_steal<py::object>(r);
    } else if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      // A producer older than DLPack 1.0 does not know max_version: ask for a legacy capsule.
      PyErr_Clear();
      py::dict kw2;
      if (stream) kw2[py::handle(n.stream)] = py::int_(*stream);
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
  ArrayView v = import_dlpack_capsule(capsule.ptr());  // owns the tensor: refusals below free it
  if (stream) {
    // The producer ordered its work before a stream of stream_device: the data must be there.
    ASTENSOR_CHECK_VALUE(v.device == stream_device, "[as_tensor] ", type_name(o),
                         ".__dlpack_device__() said ", stream_device.str(),
                         ", but __dlpack__() returned a tensor on ", v.device.str());
    v.stream = stream;
  } else if (!v.device.is_cpu()) {
    v.stream = 1;  // asked without a stream: DLPack's "legacy default stream"
  }
  return v;
}

}  // namespace astensor::python
