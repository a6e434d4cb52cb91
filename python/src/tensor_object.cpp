// The Python Tensor type and its exports (DLP-3): the buffer protocol, __dlpack__ (versioned
// and legacy), __dlpack_device__, __cuda_array_interface__ on CUDA, numpy() and __array__.

#include "python/src/tensor_object.h"

#include <structmember.h>

#include <cstring>
#include <vector>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/convert.h"
#include "core/store_scalar.h"
#include "python/src/classify.h"
#include "python/src/dlpack.h"
#include "python/src/entry.h"

namespace astensor::python {

namespace {

PyTypeObject* g_tensor_type = nullptr;

const Tensor& self_tensor(py::handle self) {
  if (!self || Py_TYPE(self.ptr()) != g_tensor_type)
    throw TypeError("[tensor] expected an astensor.Tensor (got '" +
                    (self ? type_name(self.ptr()) : std::string("NULL")) + "')");
  return tensor_of(self.ptr());
}

// --- element <-> Python scalars ---------------------------------------------------------------

py::object element_to_py(const void* p, DType d) {
  ScalarLeaf s = ScalarLeaf::from_element(p, d);
  switch (s.kind) {
    case ScalarLeaf::Kind::Bool: return py::bool_(s.b);
    case ScalarLeaf::Kind::Int: return py::reinterpret_steal<py::object>(PyLong_FromLongLong(s.i));
    case ScalarLeaf::Kind::UInt:
      return py::reinterpret_steal<py::object>(PyLong_FromUnsignedLongLong(s.u));
    case ScalarLeaf::Kind::Complex:
      return py::reinterpret_steal<py::object>(PyComplex_FromDoubles(s.re, s.im));
    default: return py::float_(s.re);
  }
}

/// The tensor's elements readable on the host (a copy when it lives on a device).
ArrayView host_view(const Tensor& t, Tensor* keep) {
  if (t.device().is_cpu()) return view_of(t);
  *keep = copy_plain(view_of(t), t.dtype(), Device::cpu());
  return view_of(*keep);
}

py::object tolist_rec(const ArrayView& v, const char* p, std::size_t d) {
  if (d == v.shape.size()) return element_to_py(p, v.dtype);
  py::list out(static_cast<std::size_t>(v.shape[d]));
  for (int64_t i = 0; i < v.shape[d]; ++i)
    out[static_cast<std::size_t>(i)] = tolist_rec(v, p + i * v.byte_strides[d], d + 1);
  return out;
}

/// Stores a Python scalar into one element (SEQ-5 checks), for __setitem__ and fill_.
void store_py_value(const Tensor& t, py::handle value, std::vector<unsigned char>* bytes) {
  PySequenceReader r(value.ptr());
  NodeInfo info;
  r.inspect(r.root(), &info);
  if (info.kind != NodeKind::Scalar)
    throw TypeError("[tensor] can only assign a number (got " + r.describe(r.root()) + ")");
  bytes->assign(t.itemsize(), 0);
  StoreStatus st = store_scalar(info.scalar, t.dtype(), bytes->data());
  if (st != StoreStatus::Ok) throw_store_error(st, r.describe(r.root()), t.dtype(), {});
}

/// Writes one element at `element_offset` elements from element [0, ..., 0], on any device.
void write_element(const Tensor& t, int64_t element_offset, const std::vector<unsigned char>& bytes) {
  char* base = static_cast<char*>(t.mutable_data_ptr());  // ValueError when read-only (ARR-7)
  void* dst = base + element_offset * static_cast<int64_t>(t.itemsize());
  copy_bytes_sync(dst, t.device(), bytes.data(), Device::cpu(), bytes.size());
}

// --- NumPy export ----------------------------------------------------------------------------

py::dtype numpy_dtype(DType d) {
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
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  std::vector<py::ssize_t> strides(t.strides().begin(), t.strides().end());
  for (auto& s : strides) s *= static_cast<py::ssize_t>(t.itemsize());
  // base=self: the array keeps the tensor (and so the memory) alive; zero-copy.
  py::array arr(numpy_dtype(t.dtype()), shape, strides, t.data_ptr(), self);
  if (t.is_read_only()) py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

// --- buffer protocol -------------------------------------------------------------------------

struct BufferInfo {
  std::vector<Py_ssize_t> shape, strides;
  std::string format;
};

bool is_f_contiguous(const Tensor& t) {
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

struct ExportCtx {
  Tensor tensor;  // keeps the storage (and its producer) alive until the consumer is done
  std::vector<int64_t> shape, strides;
};

dlpack::DLDevice dl_device_of(Device d) {
  switch (d.type) {
    case DeviceType::CPU: return {dlpack::kDLCPU, 0};
    case DeviceType::CUDA: return {dlpack::kDLCUDA, d.index};
    case DeviceType::Sim: return {dlpack::kDLExtDev, d.index};
  }
  return {dlpack::kDLCPU, 0};
}

void fill_dltensor(dlpack::DLTensor* dl, ExportCtx* ctx) {
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

void versioned_capsule_destructor(PyObject* cap) {
  // Called when the capsule dies; the deleter runs only if nobody consumed it.
  if (PyCapsule_IsValid(cap, dlpack::kCapsuleVersioned)) {
    auto* m = static_cast<dlpack::DLManagedTensorVersioned*>(
        PyCapsule_GetPointer(cap, dlpack::kCapsuleVersioned));
    if (m && m->deleter) m->deleter(m);
  }
}

void legacy_capsule_destructor(PyObject* cap) {
  if (PyCapsule_IsValid(cap, dlpack::kCapsuleLegacy)) {
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(cap, dlpack::kCapsuleLegacy));
    if (m && m->deleter) m->deleter(m);
  }
}

[[noreturn]] void buffer_error(const std::string& msg) {
  PyErr_SetString(PyExc_BufferError, msg.c_str());
  throw py::error_already_set();
}

py::object dlpack_export(py::handle self, py::object stream, py::object max_version,
                         py::object dl_device, py::object copy) {
  Tensor t = self_tensor(self);
  if (t.device().type == DeviceType::Sim)
    buffer_error("[__dlpack__] sim device memory cannot be exported through DLPack");
  // Streams: on the CPU only None (-1 tolerated); on CUDA any stream but 0. as_tensor is
  // blocking (XFER-1), so no work of ours is pending on any stream.
  if (!stream.is_none()) {
    int64_t s = stream.cast<int64_t>();
    if (t.device().is_cpu() && s != -1)
      throw ValueError("[__dlpack__] stream must be None for a CPU tensor (got " +
                       std::to_string(s) + ")");
    if (s == 0) throw ValueError("[__dlpack__] stream 0 is disallowed by the DLPack protocol");
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
  auto ctx = std::make_unique<ExportCtx>();
  ctx->tensor = t;
  if (versioned) {
    auto m = std::make_unique<dlpack::DLManagedTensorVersioned>();
    m->version = {dlpack::kMajorVersion, dlpack::kMinorVersion};
    m->flags = (t.is_read_only() ? dlpack::kFlagReadOnly : 0) | (copied ? dlpack::kFlagIsCopied : 0);
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
  if (t.is_read_only())
    buffer_error("[__dlpack__] a read-only tensor cannot be exported as a legacy (unversioned) "
                 "DLPack capsule, which cannot say read-only; pass max_version=(1, 0)");
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
  d["stream"] = py::none();  // XFER-1: nothing of ours is pending
  return d;
}

// --- slots -----------------------------------------------------------------------------------

void tensor_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<TensorObject*>(self);
  PyTypeObject* tp = Py_TYPE(self);
  if (o->weakrefs) PyObject_ClearWeakRefs(self);
  o->tensor.~Tensor();
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyObject* tensor_repr(PyObject* self) {
  const Tensor& t = tensor_of(self);
  std::string s = "astensor.Tensor(shape=" + t.shape().str() + ", dtype=" + name(t.dtype()) +
                  ", device='" + t.device().str() + "'";
  if (t.is_read_only()) s += ", read_only=True";
  if (t.requires_grad()) s += ", requires_grad=True";
  if (auto fn = t.grad_fn()) s += std::string(", grad_fn=<") + fn->name() + ">";
  s += ")";
  return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

Py_ssize_t tensor_len(PyObject* self) {
  const Tensor& t = tensor_of(self);
  if (t.ndim() == 0) {
    PyErr_SetString(PyExc_TypeError, "len() of a 0-d tensor");
    return -1;
  }
  return static_cast<Py_ssize_t>(t.shape()[0]);
}

/// t[i, j, ...] = scalar: one element, full integer index (negative counts from the end).
int tensor_ass_subscript(PyObject* self, PyObject* key, PyObject* value) {
  try {
    const Tensor& t = tensor_of(self);
    if (!value) throw TypeError("[tensor] elements cannot be deleted");
    py::tuple idx = PyTuple_Check(key) ? py::reinterpret_borrow<py::tuple>(key) : py::make_tuple(py::handle(key));
    if (static_cast<int64_t>(idx.size()) != t.ndim())
      throw py::index_error("[tensor] assignment needs one integer index per dimension (" +
                            std::to_string(t.ndim()) + ")");
    int64_t off = 0;  // elements from element [0, ..., 0]
    for (std::size_t d = 0; d < idx.size(); ++d) {
      if (!PyIndex_Check(idx[d].ptr())) throw TypeError("[tensor] indices must be integers");
      int64_t i = idx[d].cast<int64_t>();
      const int64_t n = t.shape()[d];
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        throw py::index_error("[tensor] index " + std::to_string(idx[d].cast<int64_t>()) +
                              " is out of bounds for dimension " + std::to_string(d) +
                              " with size " + std::to_string(n));
      off += i * t.strides()[d];
    }
    std::vector<unsigned char> bytes;
    store_py_value(t, value, &bytes);
    write_element(t, off, bytes);
    return 0;
  } catch (...) {
    set_error_from_current_exception();
    return -1;
  }
}

PyMemberDef tensor_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TensorObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

}  // namespace

PyTypeObject* tensor_type() { return g_tensor_type; }

PyObject* wrap_tensor(Tensor t) noexcept {
  PyObject* o = g_tensor_type->tp_alloc(g_tensor_type, 0);
  if (!o) return nullptr;
  auto* to = reinterpret_cast<TensorObject*>(o);
  new (&to->tensor) Tensor(std::move(t));
  to->weakrefs = nullptr;
  return o;
}

py::object wrap(Tensor t) {
  PyObject* o = wrap_tensor(std::move(t));
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

void init_tensor_type(py::module_& m) {
  static PyType_Slot slots[] = {
      {Py_tp_dealloc, reinterpret_cast<void*>(tensor_dealloc)},
      {Py_tp_repr, reinterpret_cast<void*>(tensor_repr)},
      {Py_tp_members, tensor_members},
      {Py_tp_doc, const_cast<char*>(
                      "A strided array on a device (cpu, cuda:N, sim:N). Created by "
                      "astensor.as_tensor; exports the buffer protocol (CPU), __dlpack__ and "
                      "__cuda_array_interface__ (CUDA).")},
      {Py_mp_length, reinterpret_cast<void*>(tensor_len)},
      {Py_sq_length, reinterpret_cast<void*>(tensor_len)},
      {Py_mp_ass_subscript, reinterpret_cast<void*>(tensor_ass_subscript)},
      {Py_bf_getbuffer, reinterpret_cast<void*>(tensor_getbuffer)},
      {Py_bf_releasebuffer, reinterpret_cast<void*>(tensor_releasebuffer)},
      {0, nullptr},
  };
  static PyType_Spec spec = {"astensor.Tensor", sizeof(TensorObject), 0,
                             Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
  PyObject* type = PyType_FromSpec(&spec);
  if (!type) throw py::error_already_set();
  g_tensor_type = reinterpret_cast<PyTypeObject*>(type);
  py::handle cls(type);
  m.attr("Tensor") = cls;  // the module keeps a reference; so do we (never released)

  auto method = [&](const char* name, auto&& f, auto&&... extra) {
    py::cpp_function cf(std::forward<decltype(f)>(f), py::name(name), py::is_method(cls),
                        py::sibling(py::getattr(cls, name, py::none())), extra...);
    cls.attr(name) = cf;
  };
  auto property = [&](const char* name, auto&& getter) {
    py::cpp_function g(std::forward<decltype(getter)>(getter));
    cls.attr(name) = py::module_::import("builtins").attr("property")(g);
  };

  property("shape", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    py::tuple out(t.shape().size());
    for (std::size_t i = 0; i < t.shape().size(); ++i) out[i] = py::int_(t.shape()[i]);
    return out;
  });
  property("strides", [](py::handle self) {  // in elements, like torch's stride()
    const Tensor& t = self_tensor(self);
    py::tuple out(t.strides().size());
    for (std::size_t i = 0; i < t.strides().size(); ++i) out[i] = py::int_(t.strides()[i]);
    return out;
  });
  property("ndim", [](py::handle self) { return self_tensor(self).ndim(); });
  property("dtype", [](py::handle self) {
    return py::reinterpret_borrow<py::object>(dtype_object(self_tensor(self).dtype()));
  });
  property("device", [](py::handle self) { return py::cast(self_tensor(self).device()); });
  property("is_read_only", [](py::handle self) { return self_tensor(self).is_read_only(); });
  property("is_leaf", [](py::handle self) { return self_tensor(self).is_leaf(); });
  property("grad_fn", [](py::handle self) -> py::object {
    auto fn = self_tensor(self).grad_fn();
    if (!fn) return py::none();
    return py::cast(fn);
  });
  property("grad", [](py::handle self) -> py::object {
    Tensor g = self_tensor(self).grad();
    if (!g.defined()) return py::none();
    return wrap(g);
  });
  property("__cuda_array_interface__", cuda_array_interface);
  {
    py::cpp_function get([](py::handle self) { return self_tensor(self).requires_grad(); });
    py::cpp_function set([](py::handle self, bool r) { self_tensor(self).set_requires_grad(r); });
    cls.attr("requires_grad") = py::module_::import("builtins").attr("property")(get, set);
  }

  method("data_ptr", [](py::handle self) {
    return reinterpret_cast<uintptr_t>(self_tensor(self).data_ptr());
  });
  method("numel", [](py::handle self) { return self_tensor(self).numel(); });
  method("dim", [](py::handle self) { return self_tensor(self).ndim(); });
  method("is_contiguous", [](py::handle self) { return self_tensor(self).is_contiguous(); });
  method("storage_offset", [](py::handle self) { return self_tensor(self).offset(); });
  method("numpy", to_numpy);
  method(
      "__array__",
      [](py::handle self, py::object dtype, py::object copy) {
        py::object arr = to_numpy(self);
        if (!dtype.is_none()) arr = arr.attr("astype")(dtype, py::arg("copy") = false);
        if (!copy.is_none() && copy.cast<bool>()) arr = arr.attr("copy")();
        return arr;
      },
      py::arg("dtype") = py::none(), py::kw_only(), py::arg("copy") = py::none());
  method("tolist", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    Tensor keep;
    ArrayView v = host_view(t, &keep);
    return tolist_rec(v, static_cast<const char*>(v.data), 0);
  });
  method("item", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    ASTENSOR_CHECK_VALUE(t.numel() == 1, "[item] only one-element tensors can be converted to a "
                                         "Python scalar (got shape ", t.shape().str(), ")");
    Tensor keep;
    ArrayView v = host_view(t, &keep);
    return element_to_py(v.data, v.dtype);
  });
  method(
      "fill_",
      [](py::handle self, py::handle value) {
        const Tensor& t = self_tensor(self);
        std::vector<unsigned char> bytes;
        store_py_value(t, value, &bytes);
        t.mutable_data_ptr();  // ValueError on read-only before touching anything (ARR-7)
        const int64_t n = t.numel();
        std::vector<int64_t> idx(t.shape().size(), 0);
        for (int64_t k = 0; k < n; ++k) {
          int64_t off = 0;
          for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
          write_element(t, off, bytes);
          for (std::size_t d = idx.size(); d-- > 0;) {
            if (++idx[d] < t.shape()[d]) break;
            idx[d] = 0;
          }
        }
        return self;
      },
      py::arg("value"));
  method(
      "backward",
      [](py::handle self, py::object gradient) {
        const Tensor& t = self_tensor(self);
        if (gradient.is_none()) {
          t.backward();
          return;
        }
        Classified c = classify(gradient.ptr());
        Tensor g = as_tensor_dispatch(c.source, Options{}, /*reference=*/true);
        t.backward(g);
      },
      py::arg("gradient") = py::none());
  method(
      "__dlpack__", dlpack_export, py::kw_only(), py::arg("stream") = py::none(),
      py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
      py::arg("copy") = py::none());
  method("__dlpack_device__", [](py::handle self) {
    auto d = dl_device_of(self_tensor(self).device());
    return py::make_tuple(d.device_type, d.device_id);
  });
}

}  // namespace astensor::python
