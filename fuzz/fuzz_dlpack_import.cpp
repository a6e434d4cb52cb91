// libFuzzer target (issue 7): DLPack import (DLP-1, DLP-2) of python/src/dlpack_import.cpp in
// an embedded CPython. The fuzz bytes decode into a DLManagedTensorVersioned or a legacy
// DLManagedTensor (version major/minor, supported or not; flags with read-only, is-copied
// and unknown bits; ndim 0..6, 62..70, negative, INT32_MAX; shapes with negative, huge and
// overflowing sizes, or a NULL shape; NULL or fuzzed element strides; dtype code/bits/lanes,
// valid or bogus; byte_offset; device type/id: CPU, CUDA host, CUDA, CUDA managed, junk; data
// in a heap block of the decoded size or NULL; a NULL deleter sometimes), wrapped in a capsule
// named "dltensor_versioned"/"dltensor" (matching the struct), "used_..." (already consumed),
// another name or no name. It is fed to import_dlpack_capsule(), to classify() (a raw capsule,
// ARG-4 (3)), or through a producer object whose __dlpack__ returns the capsule, refuses
// max_version (a pre-1.0 producer), raises, or returns a non-capsule, and whose
// __dlpack_device__ returns good or bad values, via classify() or import_dlpack_object(), and
// to classify() of a producer exporting through the DLPack C exchange table
// (__dlpack_c_exchange_api__; the export succeeds or fails, __dlpack__ refuses). A tensor with
// a foreign major version has its dl_tensor ASan-poisoned: the consumer must read nothing but
// the version and the deleter.
//
// Oracles: a view or a clean error (astensor Error: Type/Value/Overflow, Runtime only for a
// CUDA device (DEV-3); or the Python exception the producer raised), no Python error left
// pending; an accepted view inside the data block converts identically in the reference and
// impl (XFER-3). The deleter runs EXACTLY once per input, after the last reference is gone
// (it frees the struct, shape, strides and data, so a later read is an ASan report): by the
// importer when it consumed (renamed) the capsule, by the capsule's destructor when it did
// not; never for a NULL deleter. The producer object and the capsule are back to their
// reference counts, and library storage to its baseline.

#include <sanitizer/asan_interface.h>

#include <climits>
#include <vector>

#include "fuzz/fuzz_python.h"
#include "python/src/dlpack.h"

using namespace astensor;
namespace py = pybind11;
namespace dl = astensor::dlpack;

namespace {

constexpr const char* kSetup = R"PY(
class Raise:
    pass
RAISE = Raise()

class Producer:
    def __init__(self, cap, dev, mode):
        self.cap, self.dev, self.mode = cap, dev, mode
    def __dlpack__(self, *, stream=None, max_version=None, **kwargs):
        m = self.mode
        if m == 1 and max_version is not None:
            raise TypeError("__dlpack__() got an unexpected keyword argument 'max_version'")
        if m == 2:
            raise BufferError('cannot export this array')
        if m == 3:
            raise TypeError('no DLPack at all')
        if m == 4:
            return 42
        if m == 5 and stream is not None:
            raise ValueError('bad stream %r' % (stream,))
        return self.cap
    def __dlpack_device__(self):
        if self.dev is RAISE:
            raise ValueError('no device')
        return self.dev

class ExchangeProducer:
    """Exports through the DLPack C exchange table only (__dlpack_c_exchange_api__ is set on
    the class by the harness); __dlpack__, the fallback, refuses."""
    def __dlpack__(self, **kwargs):
        raise BufferError('only the C exchange API')

class ProducerNoDevice:
    def __init__(self, cap):
        self.cap = cap
    def __dlpack__(self, **kwargs):
        return self.cap
)PY";

PyObject* g_producer_t = nullptr;
PyObject* g_producer_nodev_t = nullptr;
PyObject* g_raise = nullptr;
PyObject* g_exchange_t = nullptr;

/// What the deleter frees, and how often it ran.
struct Ctx {
  int calls = 0;
  bool legacy = false;
  void* data = nullptr;
  int64_t* shape = nullptr;
  int64_t* strides = nullptr;
  const char* capsule_name = nullptr;  // the name the capsule was created with
  void* managed = nullptr;
};
Ctx g_ctx;

void free_parts(Ctx* c) {
  std::free(c->data);
  delete[] c->shape;
  delete[] c->strides;
  c->data = nullptr;
  c->shape = c->strides = nullptr;
}

void deleter_versioned(dl::DLManagedTensorVersioned* self) {
  auto* c = static_cast<Ctx*>(self->manager_ctx);
  if (c->calls++ != 0) fuzz::die("DLPack deleter called twice (DLP-1)");
  ASAN_UNPOISON_MEMORY_REGION(&self->dl_tensor, sizeof self->dl_tensor);
  free_parts(c);
  delete self;
  c->managed = nullptr;
}

void deleter_legacy(dl::DLManagedTensor* self) {
  auto* c = static_cast<Ctx*>(self->manager_ctx);
  if (c->calls++ != 0) fuzz::die("DLPack deleter called twice (DLP-1)");
  free_parts(c);
  delete self;
  c->managed = nullptr;
}

/// The producer's capsule destructor (DLPack Python spec): calls the deleter only when the
/// capsule still has the name it was created with, i.e. nobody consumed it.
void capsule_destructor(PyObject* cap) {
  auto* c = static_cast<Ctx*>(PyCapsule_GetContext(cap));
  if (PyErr_Occurred()) fuzz::die("capsule context");
  if (PyCapsule_GetName(cap) != c->capsule_name) return;  // renamed: the consumer owns it
  void* p = PyCapsule_GetPointer(cap, c->capsule_name);
  if (!p) fuzz::die("capsule pointer");
  if (c->legacy) {
    auto* m = static_cast<dl::DLManagedTensor*>(p);
    if (m->deleter) m->deleter(m);
  } else {
    auto* m = static_cast<dl::DLManagedTensorVersioned*>(p);
    if (m->deleter) m->deleter(m);
  }
}

PyObject* check(PyObject* o) {
  if (!o) fuzz::die("building a value failed");
  return o;
}

/// The exchange table's export function (DLPack C exchange API): hands out this input's
/// versioned tensor, or fails with a Python error set.
dl::DLManagedTensorVersioned* g_exchange_tensor = nullptr;
bool g_exchange_fail = false;
bool g_exchange_taken = false;
int exchange_export(void*, dl::DLManagedTensorVersioned** out) {
  if (g_exchange_fail || !g_exchange_tensor) {
    PyErr_SetString(PyExc_BufferError, "exchange export refused");
    return -1;
  }
  if (g_exchange_taken) fuzz::die("the exchange export was asked twice for one import");
  g_exchange_taken = true;
  *out = g_exchange_tensor;
  return 0;
}
dl::DLPackExchangeAPI g_exchange_api{};

/// __dlpack_device__'s return value: good tuples, wrong shapes and wrong types.
PyObject* device_value(fuzz::Input& in, int32_t dev_type) {
  switch (in.u8() % 12) {
    case 0: return check(Py_BuildValue("(ii)", 1, 0));
    case 1: return check(Py_BuildValue("(ii)", 2, 0));
    case 2: return check(Py_BuildValue("(i)", 1));
    case 3: return check(Py_BuildValue("[ii]", dev_type, 0));
    case 4: return Py_NewRef(Py_None);
    case 5: return check(Py_BuildValue("(si)", "cpu", 0));
    case 6: return check(Py_BuildValue("(Oi)", Py_True, 0));
    case 7: return check(Py_BuildValue("(di)", 1.5, 0));
    case 8: {
      PyObject* big = check(PyLong_FromString("1180591620717411303424", nullptr, 10));  // 2**70
      return check(Py_BuildValue("(Ni)", big, 0));
    }
    case 9: return Py_NewRef(g_raise);
    default: return check(Py_BuildValue("(ii)", dev_type, in.u8() % 3));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_python(kSetup);
  g_producer_t = fuzz::main_global("Producer");
  g_producer_nodev_t = fuzz::main_global("ProducerNoDevice");
  g_raise = fuzz::main_global("RAISE");
  g_exchange_t = fuzz::main_global("ExchangeProducer");
  g_exchange_api.header.version = {dl::kMajorVersion, dl::kMinorVersion};
  g_exchange_api.managed_tensor_from_py_object_no_sync = exchange_export;
  PyObject* api = check(PyCapsule_New(&g_exchange_api, dl::kExchangeApiCapsule, nullptr));
  if (PyObject_SetAttrString(g_exchange_t, "__dlpack_c_exchange_api__", api) != 0) fuzz::die("api");
  Py_DECREF(api);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, std::size_t size) {
  fuzz::Input in(bytes, size);
  g_ctx = Ctx{};
  Ctx* ctx = &g_ctx;
  const uint8_t head = in.u8();
  const bool legacy = head & 1;
  ctx->legacy = legacy;
  const bool null_deleter = (head & 0x0e) == 0x0e;
  // import_dlpack_capsule, classify(capsule), classify(producer), import_dlpack_object,
  // classify(exchange-API producer) (versioned only)
  int entry = (head >> 4) % 5;
  if (entry == 4 && legacy) entry = 0;
  const uint8_t name_kind = in.u8();
  const Options opt = fuzz::options_from(in);

  // DLTensor
  dl::DLTensor t{};
  const std::size_t data_len = in.raw<uint16_t>() % 2049;
  const uint8_t seed = in.u8();
  const uint8_t dflags = in.u8();
  if ((dflags & 7) != 7) {
    ctx->data = std::malloc(data_len ? data_len : 1);
    for (std::size_t k = 0; k < data_len; ++k)
      static_cast<unsigned char*>(ctx->data)[k] = static_cast<unsigned char>(k * 29 + seed);
  }
  t.data = ctx->data;
  {
    const uint8_t b = in.u8();
    t.byte_offset = b < 200 ? 0 : b < 245 ? in.raw<uint16_t>() % 2200 : in.raw<uint64_t>();
  }
  {
    static const int32_t types[] = {dl::kDLCPU, dl::kDLCPU, dl::kDLCPU, dl::kDLCUDAHost,
                                    dl::kDLCUDA, dl::kDLCUDAManaged, dl::kDLROCM, 0, -1};
    const uint8_t b = in.u8();
    t.device.device_type = b < 250 ? types[b % 9] : in.raw<int32_t>();
    t.device.device_id = (dflags & 0x18) == 0x18 ? in.raw<int32_t>() : 0;
  }
  {
    // (code, bits, lanes) of every supported dtype, then bogus ones.
    static const uint8_t valid[][2] = {{6, 8}, {1, 8}, {0, 8}, {0, 16}, {0, 32}, {0, 64},
                                       {1, 16}, {1, 32}, {1, 64}, {2, 16}, {4, 16}, {2, 32},
                                       {2, 64}, {5, 64}, {5, 128}};
    const uint8_t b = in.u8();
    if (b < 200) {
      t.dtype.code = valid[b % 15][0];
      t.dtype.bits = valid[b % 15][1];
      t.dtype.lanes = 1;
    } else {
      t.dtype.code = in.u8() % 20;
      t.dtype.bits = in.u8();
      t.dtype.lanes = b < 230 ? 1 : in.raw<uint16_t>();
    }
  }
  {
    const uint8_t b = in.u8();
    if (b < 230) t.ndim = b % 7;
    else if (b < 245) t.ndim = 62 + (b - 230) % 9;  // 62..70
    else if (b < 250) t.ndim = -1 - (b - 245);
    else t.ndim = b % 2 ? INT32_MAX : INT32_MIN;
    const std::size_t alloc = t.ndim > 0 && t.ndim <= 70 ? static_cast<std::size_t>(t.ndim) : 1;
    const uint8_t f = in.u8();
    if (!(t.ndim == 0 && (f & 1)) && (f & 0x0e) != 0x0e) {  // NULL shape sometimes
      ctx->shape = new int64_t[alloc]();
      for (std::size_t k = 0; k < alloc; ++k) ctx->shape[k] = in.dim();
    }
    if (f & 0x30) {  // NULL strides (C-contiguous) otherwise
      ctx->strides = new int64_t[alloc]();
      for (std::size_t k = 0; k < alloc; ++k) ctx->strides[k] = in.stride(1);
    }
    t.shape = ctx->shape;
    t.strides = ctx->strides;
  }

  void* managed = nullptr;
  if (legacy) {
    auto* m = new dl::DLManagedTensor{};
    m->dl_tensor = t;
    m->manager_ctx = ctx;
    m->deleter = null_deleter ? nullptr : deleter_legacy;
    managed = m;
  } else {
    auto* m = new dl::DLManagedTensorVersioned{};
    const uint8_t v = in.u8();
    m->version.major = v < 220 ? 1 : v < 235 ? 0 : v < 250 ? 2 : in.raw<uint32_t>();
    m->version.minor = v % 5 == 4 ? in.raw<uint32_t>() : v % 4;
    const uint8_t f = in.u8();
    m->flags = (f & 7) | ((f & 0x80) ? in.raw<uint64_t>() & ~uint64_t(7) : 0);
    m->dl_tensor = t;
    m->manager_ctx = ctx;
    m->deleter = null_deleter ? nullptr : deleter_versioned;
    managed = m;
    // "If the major version differs, the consumer must call the deleter and must not touch
    // any other field": a read of dl_tensor is an ASan report.
    if (m->version.major != dl::kMajorVersion) ASAN_POISON_MEMORY_REGION(&m->dl_tensor, sizeof m->dl_tensor);
  }
  ctx->managed = managed;

  // The capsule, named for its struct, or not.
  static const char* kUsedNames[] = {dl::kCapsuleVersionedUsed, dl::kCapsuleLegacyUsed};
  static const char kOther[] = "dltensor_foo";
  const char* cname = legacy ? dl::kCapsuleLegacy : dl::kCapsuleVersioned;
  if (name_kind >= 220) cname = name_kind < 235 ? kUsedNames[name_kind % 2] : name_kind < 250 ? kOther : nullptr;
  ctx->capsule_name = cname;
  PyObject* cap = check(PyCapsule_New(managed, cname, capsule_destructor));
  if (PyCapsule_SetContext(cap, ctx) != 0) fuzz::die("capsule context");

  PyObject* producer = nullptr;
  bool cuda_device = t.device.device_type == dl::kDLCUDA || t.device.device_type == dl::kDLCUDAManaged;
  // Accelerator device types, whose absence (no CUDA, a sim index sim does not have) is DEV-3's
  // RuntimeError: CUDA, CUDA managed, and the extension type (12), read as sim:N [ext].
  const bool accel_device = cuda_device || t.device.device_type == dl::kDLExtDev;
  bool announced_accel = false;
  g_exchange_tensor = nullptr;
  g_exchange_taken = false;
  g_exchange_fail = false;
  if (entry == 4) {
    producer = check(PyObject_CallNoArgs(g_exchange_t));
    g_exchange_tensor = static_cast<dl::DLManagedTensorVersioned*>(managed);
    g_exchange_fail = in.u8() % 8 == 7;
  } else if (entry >= 2) {
    const uint8_t p = in.u8();
    if (p % 8 == 7) {
      producer = check(PyObject_CallOneArg(g_producer_nodev_t, cap));
    } else {
      PyObject* dev = device_value(in, t.device.device_type);
      // A producer that announces an accelerator (whatever its capsule holds) is asked for a
      // stream of that device first (DLP-2, Note [Consumer streams]): a device that is not
      // there (no CUDA, a sim index sim lacks) is the DEV-3 RuntimeError, a legitimate answer.
      if (PyTuple_Check(dev) && PyTuple_GET_SIZE(dev) == 2 && PyLong_CheckExact(PyTuple_GET_ITEM(dev, 0))) {
        const long announced = PyLong_AsLong(PyTuple_GET_ITEM(dev, 0));
        if (announced == -1 && PyErr_Occurred()) PyErr_Clear();
        announced_accel = announced == dl::kDLCUDA || announced == dl::kDLCUDAManaged || announced == dl::kDLExtDev;
      }
      PyObject* mode = check(PyLong_FromLong(p % 8 < 3 ? 0 : (p % 8) - 2));
      producer = check(PyObject_CallFunctionObjArgs(g_producer_t, cap, dev, mode, nullptr));
      Py_DECREF(dev);
      Py_DECREF(mode);
    }
  }
  const auto storage0 = fuzz::live_storage();
  const Py_ssize_t producer_rc = producer ? Py_REFCNT(producer) : 0;

  {
    std::optional<python::Classified> c;
    const ArrayView* v = nullptr;
    ArrayView direct;
    try {
      switch (entry) {
        case 0: direct = python::import_dlpack_capsule(cap); v = &direct; break;
        case 1: c.emplace(python::classify(cap)); break;
        case 2: case 4: c.emplace(python::classify(producer)); break;
        default: direct = python::import_dlpack_object(producer); v = &direct; break;
      }
      if (c) {
        v = std::get_if<ArrayView>(&c->source);
        if (!v) fuzz::die("classify() of a DLPack capsule/producer gave no ArrayView");
      }
      // The extension type (12) is read as sim:N [ext] over that device's memory only; a view
      // of no elements reads nothing, so its pointer is not checked and it may be accepted.
      const bool empty_sim = v->device.type == DeviceType::Sim && t.device.device_type == dl::kDLExtDev &&
                             checked_numel(v->shape.span()) == 0;
      if (!v->device.is_cpu() && !empty_sim) fuzz::die("a device DLPack tensor was accepted over host memory");
      if (!empty_sim && t.device.device_type != dl::kDLCPU && t.device.device_type != dl::kDLCUDAHost)
        fuzz::die("a DLPack tensor of a non-host device type was accepted as CPU memory");
      if (entry != 4 && cname != (legacy ? dl::kCapsuleLegacy : dl::kCapsuleVersioned))
        fuzz::die("a capsule with the wrong name was accepted");
      if (!legacy && v->read_only != ((static_cast<dl::DLManagedTensorVersioned*>(managed)->flags &
                                      dl::kFlagReadOnly) != 0))
        fuzz::die("READ_ONLY flag not carried (DLP-2, ARR-7)");
      if (!empty_sim) fuzz::check_view(*v, ctx->data, data_len, opt);
    } catch (const Error& e) {
      if (fuzz::verbose()) std::fprintf(stderr, "error: %s: %s\n", error_kind_name(e.kind()), e.what());
      if (PyErr_Occurred()) fuzz::die("a typed error with a Python error still set");
      if (e.kind() == ErrorKind::Runtime && !accel_device && !announced_accel) {
        std::fprintf(stderr, "fuzz: RuntimeError for a host DLPack tensor: %s\n", e.what());
        std::abort();
      }
    } catch (py::error_already_set& e) {
      e.restore();
      fuzz::expect_clean_python_error("DLPack import");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fuzz: untyped C++ exception from DLPack import: %s\n", e.what());
      std::abort();
    }
    if (PyErr_Occurred()) fuzz::die("a Python error left set");
  }  // every view and tensor of the import is gone here

  if (producer && Py_REFCNT(producer) != producer_rc) fuzz::die("producer reference count changed");
  Py_XDECREF(producer);
  if (Py_REFCNT(cap) != 1) fuzz::die("capsule still referenced after the import");
  // Entry 4 never shows the capsule to the importer: when the exchange export handed the
  // tensor over, the importer owns it and the capsule must not delete it again.
  if (entry == 4 && g_exchange_taken) ctx->capsule_name = "handed over";
  Py_DECREF(cap);
  const int expected = null_deleter ? 0 : 1;
  if (ctx->calls != expected) {
    std::fprintf(stderr, "fuzz: DLPack deleter ran %d times (expected %d) (DLP-1)\n", ctx->calls, expected);
    std::abort();
  }
  if (null_deleter) {  // nobody frees a tensor without a deleter: the harness does
    free_parts(ctx);
    if (legacy) delete static_cast<dl::DLManagedTensor*>(managed);
    else {
      auto* m = static_cast<dl::DLManagedTensorVersioned*>(managed);
      ASAN_UNPOISON_MEMORY_REGION(&m->dl_tensor, sizeof m->dl_tensor);
      delete m;
    }
  }
  if (fuzz::live_storage() != storage0) fuzz::die("library storage leaked");
  return 0;
}
