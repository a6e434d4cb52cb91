// The Tensor's exports (DLP-3): numpy() and __array__, the buffer protocol (CPU), __dlpack__
// (versioned and legacy) with __dlpack_device__, and __cuda_array_interface__ (CUDA).

#include "python/src/exports.h"

#include <vector>

#include "core/pending.h"
#include "python/src/dlpack.h"
#include "python/src/entry.h"

namespace astensor::python {

// --- NumPy export ----------------------------------------------------------------------------

static py::dtype numpy_dtype(DType d) {
  if (d == DType::bfloat16) {
    py::module_ ml;
    try {
      ml = py::module_::import("ml_dtypes");
    } catch (py::error_already_set&) {
      throw TypeError("[numpy] a bfloat16 tensor needs the ml_dtypes package to become a NumPy array");
    }
    return py::dtype::from_args(ml.attr("bfloat16"));
  }
  return py::dtype(std::string(name(d)));
}

py::object to_numpy(py::handle self) {
  const Tensor& t = self_tensor(self);
  ASTENSOR_CHECK_TYPE(t.device().is_cpu(), "[numpy] the tensor is on ", t.device().str(),
                      "; copy it to the CPU first: as_tensor(t, device='cpu').numpy()");
  wait_until_final(t);  // a non-blocking device -> host result (XFER-4)
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  std::vector<py::ssize_t> strides(t.strides().begin(), t.strides().end());
  for (auto& s : strides) s *= static_cast<py::ssize_t>(t.itemsize());
  // base=self: the array keeps the tensor (and so the memory) alive; zero-copy.
  py::array arr(numpy_dtype(t.dtype()), shape, strides, t.data_ptr(), self);
  if (t.is_read_only()) py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

// --- buffer protocol -------------------------------------------------------------------------

namespace {
struct BufferInfo {
  std::vector<Py_ssize_t> shape, strides;
  std::string format;
};
}  // namespace

static bool is_f_contiguous(const Tensor& t) {
  int64_t expected = 1;
  for (std::size_t d = 0; d < t.shape().size(); ++d) {
    if (t.shape()[d] == 0) return true;
    if (t.shape()[d] != 1 && t.strides()[d] != expected) return false;
    expected *= t.shape()[d];
  }
  return true;
}

int tensor_getbuffer(PyObject* self, Py_buffer* view, int flags) {
  view->obj = nullptr;
  const Tensor& t = tensor_of(self);
  auto fail = [&](const std::string& msg) {
    PyErr_SetString(PyExc_BufferError, msg.c_str());
    return -1;
  };
  if (!t.device().is_cpu())
    return fail("[tensor] a tensor on " + t.device().str() + " has no host buffer; use __dlpack__");
  auto fmt = pep3118_format(t.dtype());
  // 64-bit integers as 'l'/'L' (C long, 8 bytes on LP64): NumPy then makes int64/uint64 of
  // its canonical type numbers, which every consumer (torch included) recognises; 'q'/'Q'
  // give numpy.longlong/ulonglong, which torch refuses for uint64.
  if (sizeof(long) == 8 && t.dtype() == DType::int64) fmt = "l";
  if (sizeof(long) == 8 && t.dtype() == DType::uint64) fmt = "L";
  if (!fmt)
    return fail(std::string("[tensor] ") + name(t.dtype()) +
                " has no PEP 3118 format; use numpy() (ml_dtypes) or __dlpack__");
  if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE && t.is_read_only())
    return fail("[tensor] the tensor is read-only (ARR-7); a writable buffer was requested");
  const bool c = t.is_contiguous();
  if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES && !c)
    return fail("[tensor] the tensor is not C-contiguous and the consumer asked for no strides");
  if ((flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS && !c)
    return fail("[tensor] the tensor is not C-contiguous");
  if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && !is_f_contiguous(t))
    return fail("[tensor] the tensor is not Fortran-contiguous");
  if ((flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS && !c && !is_f_contiguous(t))
    return fail("[tensor] the tensor is not contiguous");
  auto* info = new (std::nothrow) BufferInfo;
  if (!info) {
    PyErr_NoMemory();
    return -1;
  }
  const auto isz = static_cast<Py_ssize_t>(t.itemsize());
  info->shape.assign(t.shape().begin(), t.shape().end());
  info->strides.assign(t.strides().begin(), t.strides().end());
  for (auto& s : info->strides) s *= isz;
  info->format = *fmt;
  try {
    wait_until_final(t);  // XFER-4: the buffer is final before anyone reads it
  } catch (...) {
    delete info;
    throw;
  }
  view->buf = const_cast<void*>(t.data_ptr());
  view->obj = Py_NewRef(self);
  view->len = static_cast<Py_ssize_t>(t.numel()) * isz;
  view->readonly = t.is_read_only() ? 1 : 0;
  view->itemsize = isz;
  view->format = (flags & PyBUF_FORMAT) ? info->format.data() : nullptr;
  view->ndim = static_cast<int>(t.ndim());
  view->shape = (flags & PyBUF_ND) == PyBUF_ND ? info->shape.data() : nullptr;
  view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? info->strides.data() : nullptr;
  view->suboffsets = nullptr;
  view->internal = info;
  return 0;
}

void tensor_releasebuffer(PyObject*, Py_buffer* view) {
  delete static_cast<BufferInfo*>(view->internal);
  view->internal = nullptr;
}

// --- DLPack export ---------------------------------------------------------------------------

namespace {
struct ExportCtx {
  Tensor tensor;  // keeps the storage (and its producer) alive until the consumer is done
  std::vector<int64_t> shape, strides;
};
}  // namespace

dlpack::DLDevice dl_device_of(Device d) {
  switch (d.type) {
    case DeviceType::CPU: return {dlpack::kDLCPU, 0};
    case DeviceType::CUDA: return {dlpack::kDLCUDA, d.index};
    case DeviceType::Sim: return {dlpack::kDLExtDev, d.index};
  }
  return {dlpack::kDLCPU, 0};
}

static void fill_dltensor(dlpack::DLTensor* dl, ExportCtx* ctx) {
  const Tensor& t = ctx->tensor;
  ctx->shape.assign(t.shape().begin(), t.shape().end());
  ctx->strides.assign(t.strides().begin(), t.strides().end());
  dl->data = const_cast<void*>(t.data_ptr());
  dl->device = dl_device_of(t.device());
  dl->ndim = static_cast<int32_t>(t.ndim());
  const auto& inf = info(t.dtype());
  dl->dtype = {static_cast<uint8_t>(inf.dl_code), static_cast<uint8_t>(inf.itemsize * 8), 1};
  dl->shape = ctx->shape.data();
  dl->strides = ctx->strides.data();  // always filled (required since DLPack 1.2)
  dl->byte_offset = 0;
}

static void versioned_capsule_destructor(PyObject* cap) {
  // Called when the capsule dies; the deleter runs only if nobody consumed it.
  if (PyCapsule_IsValid(cap, dlpack::kCapsuleVersioned)) {
    auto* m = static_cast<dlpack::DLManagedTensorVersioned*>(
        PyCapsule_GetPointer(cap, dlpack::kCapsuleVersioned));
    if (m && m->deleter) m->deleter(m);
  }
}

static void legacy_capsule_destructor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, dlpack::kCapsuleLegacy)) {
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(cap, dlpack::kCapsuleLegacy));
    if (m && m->deleter) m->deleter(m);
  }
}

[[noreturn]] static void buffer_error(const std::string& msg) {
  PyErr_SetString(PyExc_BufferError, msg.c_str());
  throw py::error_already_set();
}

py::object dlpack_export(py::handle self, py::object stream, py::object max_version,
                         py::object dl_device, py::object copy) {
  Tensor t = self_tensor(self);
  if (t.device().type == DeviceType::Sim)
    buffer_error("[__dlpack__] sim device memory cannot be exported through DLPack");
  // Streams: on the CPU only None (-1 tolerated); on CUDA any stream but 0. Work of ours is
  // pending only after a non-blocking conversion (XFER-4): the consumer's stream then waits
  // for it (DLP-2, producer side); with no stream named (None or -1), the host waits.
  int64_t consumer = -1;
  if (!stream.is_none()) {
    consumer = stream.cast<int64_t>();
    if (t.device().is_cpu() && consumer != -1)
      throw ValueError("[__dlpack__] stream must be None for a CPU tensor (got " +
                       std::to_string(consumer) + ")");
    if (consumer == 0) throw ValueError("[__dlpack__] stream 0 is disallowed by the DLPack protocol");
  }
  if (!t.is_ready()) {  // not ready: the storage has a Pending
    if (consumer > 0)
      t.storage()->pending()->order_before(reinterpret_cast<StreamHandle>(static_cast<intptr_t>(consumer)));
    else wait_until_final(t);
  }
  if (!dl_device.is_none()) {
    auto want = dl_device.cast<std::pair<int, int>>();
    auto have = dl_device_of(t.device());
    if (want.first != have.device_type || want.second != have.device_id)
      buffer_error("[__dlpack__] cannot export a tensor on " + t.device().str() +
                   " to DLPack device (" + std::to_string(want.first) + ", " +
                   std::to_string(want.second) + ")");
  }
  bool copied = false;
  if (!copy.is_none() && copy.cast<bool>()) {
    Options o;
    o.copy = true;
    t = as_tensor_dispatch(Source(t), o, /*reference=*/false);
    copied = true;
  }
  bool versioned = false;
  if (!max_version.is_none()) {
    auto mv = max_version.cast<std::pair<int, int>>();
    versioned = mv.first >= 1;
  }
  if (!versioned && t.is_read_only())
    buffer_error("[__dlpack__] a read-only tensor cannot be exported as a legacy (unversioned) "
                 "DLPack capsule, which cannot say read-only; pass max_version=(1, 0)");
  return make_dlpack_capsule(t, versioned,
                             (t.is_read_only() ? dlpack::kFlagReadOnly : 0) | (copied ? dlpack::kFlagIsCopied : 0));
}

py::object make_dlpack_capsule(const Tensor& t, bool versioned, uint64_t flags) {
  auto ctx = std::make_unique<ExportCtx>();
  ctx->tensor = t;
  if (versioned) {
    auto m = std::make_unique<dlpack::DLManagedTensorVersioned>();
    m->version = {dlpack::kMajorVersion, dlpack::kMinorVersion};
    m->flags = flags;
    fill_dltensor(&m->dl_tensor, ctx.get());
    m->manager_ctx = ctx.get();
    m->deleter = [](dlpack::DLManagedTensorVersioned* p) {
      delete static_cast<ExportCtx*>(p->manager_ctx);
      delete p;
    };
    PyObject* cap = PyCapsule_New(m.get(), dlpack::kCapsuleVersioned, versioned_capsule_destructor);
    if (!cap) throw py::error_already_set();
    ctx.release();
    m.release();
    return py::reinterpret_steal<py::object>(cap);
  }
  auto m = std::make_unique<dlpack::DLManagedTensor>();
  fill_dltensor(&m->dl_tensor, ctx.get());
  m->manager_ctx = ctx.get();
  m->deleter = [](dlpack::DLManagedTensor* p) {
    delete static_cast<ExportCtx*>(p->manager_ctx);
    delete p;
  };
  PyObject* cap = PyCapsule_New(m.get(), dlpack::kCapsuleLegacy, legacy_capsule_destructor);
  if (!cap) throw py::error_already_set();
  ctx.release();
  m.release();
  return py::reinterpret_steal<py::object>(cap);
}

py::object cuda_array_interface(py::handle self) {
  const Tensor& t = self_tensor(self);
  // AttributeError keeps hasattr() false, so consumers fall back to the other protocols.
  if (t.device().type != DeviceType::CUDA)
    throw py::attribute_error("__cuda_array_interface__ is only defined for CUDA tensors");
  if (t.dtype() == DType::bfloat16)
    throw py::attribute_error("bfloat16 has no __cuda_array_interface__ typestr; use __dlpack__");
  py::dict d;
  py::tuple shape(t.shape().size()), strides(t.shape().size());
  for (std::size_t i = 0; i < t.shape().size(); ++i) {
    shape[i] = py::int_(t.shape()[i]);
    strides[i] = py::int_(t.strides()[i] * static_cast<int64_t>(t.itemsize()));
  }
  d["shape"] = shape;
  d["typestr"] = "<" + typestr_body(t.dtype());
  d["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(t.data_ptr()), t.is_read_only());
  d["strides"] = t.is_contiguous() ? py::object(py::none()) : py::object(strides);
  d["version"] = 3;
  // CAI v3: the stream the consumer must synchronize with. Work of ours is pending only after
  // a non-blocking conversion (XFER-4); then it is the stream that work was queued on.
  const auto& pending = t.storage()->pending();
  if (pending && !pending->ready())
    d["stream"] = py::int_(reinterpret_cast<intptr_t>(pending->stream()));
  else d["stream"] = py::none();
  return d;
}

}  // namespace astensor::python
