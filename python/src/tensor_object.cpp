// The Python Tensor type: slots, reading (tolist, item), the small write API (__setitem__,
// fill_; ARR-7 checks), autograd attributes, and the attachment of the exports (exports.cpp).

#include "python/src/tensor_object.h"

#include <structmember.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include <pybind11/stl.h>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/convert.h"
#include "core/store_scalar.h"
#include "python/src/classify.h"
#include "python/src/exports.h"
#include "python/src/entry.h"

namespace astensor::python {

namespace {

PyTypeObject* g_tensor_type = nullptr;

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

// --- views, copies and scalars (the torch-style API) -------------------------------------------

/// Views carry no autograd history (there is no view backward here): making one of a tensor
/// that requires grad, with grad enabled, is refused rather than silently cutting the graph.
void check_view_allowed(const Tensor& t, const char* what) {
  ASTENSOR_CHECK(!(t.requires_grad() && grad_enabled()), "[", what,
                 "] the tensor requires grad and views carry no autograd history here; use "
                 "t.detach() first, or work inside astensor.no_grad()");
}

Tensor make_view(const Tensor& t, int64_t offset, Dims shape, Dims strides) {
  return Tensor::make(t.storage(), offset, std::move(shape), std::move(strides), t.dtype());
}

/// A C-contiguous copy on the tensor's own device (contiguous()): the plain converter on the
/// host, then one blocking copy back to the device.
Tensor contiguous_copy(const Tensor& t) {
  Tensor host = t.device().is_cpu() ? t : copy_plain(view_of(t), t.dtype(), Device::cpu());
  Dims strides = contiguous_strides(t.shape().span());
  const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * t.itemsize();
  auto out = Storage::allocate(nbytes, Device::cpu());
  convert_plain(view_of(host), out->data(), t.dtype(), strides.span());
  if (t.device().is_cpu()) return Tensor::make(out, 0, t.shape(), strides, t.dtype());
  auto dev = Storage::allocate(nbytes, t.device());
  copy_bytes_sync(dev->data(), t.device(), out->data(), Device::cpu(), nbytes);
  return Tensor::make(dev, 0, t.shape(), strides, t.dtype());
}

/// The one element of a one-element tensor as a Python scalar (bool, int, float, complex);
/// ValueError with the shape otherwise (torch's message and kind).
py::object one_element(const Tensor& t) {
  ASTENSOR_CHECK_VALUE(t.numel() == 1, "[tensor] only one element tensors can be converted to "
                                       "Python scalars (got shape ", t.shape().str(), ")");
  Tensor keep;
  ArrayView v = host_view(t, &keep);
  return element_to_py(v.data, v.dtype);
}

/// The real part of a one-element tensor for float()/int(): a complex value with a nonzero
/// imaginary part is refused (RuntimeError, as torch).
py::object one_real_element(const Tensor& t, const char* target) {
  py::object v = one_element(t);
  if (PyComplex_Check(v.ptr())) {
    const double im = PyComplex_ImagAsDouble(v.ptr());
    ASTENSOR_CHECK(im == 0, "[tensor] ", short_repr(v.ptr()), " has a nonzero imaginary part; it "
                   "cannot be converted to ", target, " (use complex(t))");
    return py::float_(PyComplex_RealAsDouble(v.ptr()));
  }
  return v;
}

/// A dimension argument (size(dim), stride(dim)): negative counts from the end; IndexError
/// out of range with torch's wording; TypeError when it is not an int.
std::size_t wrap_dim(const Tensor& t, py::handle dim, const char* fn) {
  if (!PyLong_Check(dim.ptr()) || PyBool_Check(dim.ptr()))
    throw TypeError(std::string("[tensor] ") + fn + "(): argument 'dim' must be int, not " +
                    type_name(dim.ptr()));
  const int64_t n = t.ndim();
  const int64_t d = dim.cast<int64_t>();
  if (n == 0)
    throw py::index_error("[tensor] dimension specified as " + std::to_string(d) +
                          " but the tensor has no dimensions");
  if (d < -n || d >= n)
    throw py::index_error("[tensor] dimension out of range (expected to be in range of [" +
                          std::to_string(-n) + ", " + std::to_string(n - 1) + "], but got " +
                          std::to_string(d) + ")");
  return static_cast<std::size_t>(d < 0 ? d + n : d);
}

/// t[key] for reading: ints (negative from the end), slices with a positive step, None (a new
/// size-1 dim) and one Ellipsis, alone or in a tuple. Always a view sharing t's memory (the
/// read-only flag comes along, it belongs to the memory). Other keys: IndexError.
Tensor index_view(const Tensor& t, PyObject* key) {
  check_view_allowed(t, "tensor[...]");
  py::tuple items = PyTuple_Check(key) ? py::reinterpret_borrow<py::tuple>(key)
                                       : py::make_tuple(py::handle(key));
  int64_t consumed = 0;  // source dims the key uses up (ints and slices)
  bool ellipsis = false;
  for (py::handle it : items) {
    if (it.ptr() == Py_Ellipsis) {
      if (ellipsis) throw py::index_error("[tensor] an index can only have a single ellipsis ('...')");
      ellipsis = true;
    } else if (it.ptr() != Py_None) {
      ++consumed;
    }
  }
  const int64_t ndim = t.ndim();
  if (consumed > ndim) {
    if (ndim == 0)
      throw py::index_error("[tensor] invalid index of a 0-dim tensor; use t.item() to read its "
                            "value");
    throw py::index_error("[tensor] too many indices for a tensor of dimension " +
                          std::to_string(ndim) + " (got " + std::to_string(consumed) + ")");
  }
  Dims shape, strides;
  int64_t offset = t.offset();
  std::size_t d = 0;  // next source dim
  auto keep_dim = [&] {
    shape.push_back(t.shape()[d]);
    strides.push_back(t.strides()[d]);
    ++d;
  };
  for (py::handle it : items) {
    PyObject* o = it.ptr();
    if (o == Py_Ellipsis) {
      for (int64_t k = 0; k < ndim - consumed; ++k) keep_dim();
    } else if (o == Py_None) {  // a size-1 dim; its stride as torch's unsqueeze gives it
      shape.push_back(1);
      strides.push_back(d < t.shape().size() ? t.shape()[d] * t.strides()[d] : 1);
    } else if (PySlice_Check(o)) {
      Py_ssize_t start = 0, stop = 0, step = 0;
      if (PySlice_Unpack(o, &start, &stop, &step) < 0) throw py::error_already_set();
      if (step <= 0) throw ValueError("[tensor] slice step must be greater than zero (got " +
                                      std::to_string(step) + "), as in torch");
      const Py_ssize_t len = PySlice_AdjustIndices(static_cast<Py_ssize_t>(t.shape()[d]), &start, &stop, step);
      offset += static_cast<int64_t>(start) * t.strides()[d];
      shape.push_back(len);
      strides.push_back(t.strides()[d] * step);
      ++d;
    } else if (PyIndex_Check(o) && !PyBool_Check(o)) {
      const Py_ssize_t raw = PyNumber_AsSsize_t(o, PyExc_IndexError);
      if (raw == -1 && PyErr_Occurred()) throw py::error_already_set();
      const int64_t n = t.shape()[d];
      const int64_t i = raw < 0 ? raw + n : raw;
      if (i < 0 || i >= n)
        throw py::index_error("[tensor] index " + std::to_string(raw) +
                              " is out of bounds for dimension " + std::to_string(d) +
                              " with size " + std::to_string(n));
      offset += i * t.strides()[d];
      ++d;
    } else {
      throw py::index_error("[tensor] only integers, slices (`:`), ellipsis (`...`) and None are "
                            "valid indices (got " + type_name(o) + ")");
    }
  }
  while (d < t.shape().size()) keep_dim();  // trailing dims the key did not name
  return make_view(t, offset, std::move(shape), std::move(strides));
}

/// t.to(...): the arguments torch accepts. Positional: a device, a dtype, (device, dtype), or
/// another tensor (its device and dtype); keywords device=, dtype=, copy=, non_blocking=
/// (accepted and ignored: every copy here is blocking, XFER-1).
bool looks_like_dtype(py::handle h) {
  PyObject* o = h.ptr();
  return py::isinstance<DTypeObject>(h) || PyType_Check(o) || npy().PyArrayDescr_Check_(o) ||
         type_name(o) == "torch.dtype";
}

// --- pickling ----------------------------------------------------------------------------------

/// __reduce__ of a CPU tensor: (astensor._astensor._rebuild_tensor, (bytes, dtype name, shape,
/// requires_grad)); the bytes are the values in C order, so the copy is C-contiguous.
py::object tensor_reduce(py::handle self) {
  const Tensor& t = self_tensor(self);
  ASTENSOR_CHECK_TYPE(t.device().is_cpu(), "[pickle] a tensor on ", t.device().str(),
                      " cannot be pickled; copy it to the CPU first (t.cpu())");
  ASTENSOR_CHECK(t.is_leaf() || !t.requires_grad(),
                 "[pickle] a non-leaf tensor that requires grad cannot be pickled (autograd "
                 "history does not cross processes); pickle t.detach()");
  const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * t.itemsize();
  py::bytes data = py::reinterpret_steal<py::bytes>(
      PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(nbytes)));
  if (!data) throw py::error_already_set();
  Dims strides = contiguous_strides(t.shape().span());
  if (nbytes > 0) convert_plain(view_of(t), PyBytes_AS_STRING(data.ptr()), t.dtype(), strides.span());
  py::tuple shape(t.shape().size());
  for (std::size_t i = 0; i < t.shape().size(); ++i) shape[i] = py::int_(t.shape()[i]);
  py::object rebuild = py::module_::import("astensor._astensor").attr("_rebuild_tensor");
  return py::make_tuple(rebuild, py::make_tuple(data, std::string(name(t.dtype())), shape,
                                                t.requires_grad()));
}

Tensor rebuild_tensor(py::bytes data, const std::string& dtype_name, std::vector<int64_t> shape_v,
                      bool requires_grad) {
  auto dt = dtype_from_name(dtype_name);
  ASTENSOR_CHECK_VALUE(dt.has_value(), "[unpickle] unknown dtype '", dtype_name, "'");
  Dims shape(shape_v);
  const int64_t numel = checked_numel(shape.span());
  int64_t signed_nbytes = 0;  // a hostile pickle's shape must not wrap the byte count
  ASTENSOR_CHECK_VALUE(!__builtin_mul_overflow(numel, static_cast<int64_t>(itemsize(*dt)), &signed_nbytes),
                       "[unpickle] shape ", shape.str(), " of ", dtype_name, " is too large");
  const auto nbytes = static_cast<std::size_t>(signed_nbytes);
  const auto have = static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr()));
  ASTENSOR_CHECK_VALUE(have == nbytes, "[unpickle] ", have, " bytes for shape ", shape.str(), " of ",
                       dtype_name, " (expected ", nbytes, ")");
  auto storage = Storage::allocate(nbytes, Device::cpu());
  if (nbytes > 0) std::memcpy(storage->data(), PyBytes_AS_STRING(data.ptr()), nbytes);
  Tensor t = Tensor::make(storage, 0, shape, contiguous_strides(shape.span()), *dt);
  if (requires_grad) t.set_requires_grad(true);
  return t;
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

/// The summary form: shape, dtype, device and flags, no values.
std::string tensor_summary(const Tensor& t) {
  std::string s = "astensor.Tensor(shape=" + t.shape().str() + ", dtype=" + name(t.dtype()) +
                  ", device='" + t.device().str() + "'";
  if (t.is_read_only()) s += ", read_only=True";
  if (t.requires_grad()) s += ", requires_grad=True";
  if (auto fn = t.grad_fn()) s += std::string(", grad_fn=<") + fn->name() + ">";
  s += ")";
  return s;
}

/// repr(t): the values as torch prints them, by astensor/_format.py (the printing rules are
/// torch's Python code, so they are written in Python here too). Falls back to the summary
/// when that module cannot be imported (the extension loaded outside its package).
PyObject* tensor_repr(PyObject* self) {
  try {
    py::object fmt;
    try {
      fmt = py::module_::import("astensor._format");
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_ImportError)) throw;
      std::string s = tensor_summary(tensor_of(self));
      return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
    }
    return fmt.attr("tensor_repr")(py::handle(self)).release().ptr();
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

PyObject* tensor_subscript(PyObject* self, PyObject* key) {
  try {
    return wrap_tensor(index_view(tensor_of(self), key));
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

/// iter(t): the views t[0], t[1], ... (TypeError on a 0-d tensor, as torch).
PyObject* tensor_iter(PyObject* self) {
  try {
    const Tensor& t = tensor_of(self);
    ASTENSOR_CHECK_TYPE(t.ndim() > 0, "[tensor] iteration over a 0-d tensor");
    check_view_allowed(t, "iter(tensor)");
    const int64_t n = t.shape()[0];
    Dims shape(t.shape().span().subspan(1)), strides(t.strides().span().subspan(1));
    py::list rows(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      rows[static_cast<std::size_t>(i)] = wrap(make_view(t, t.offset() + i * t.strides()[0], shape, strides));
    return PyObject_GetIter(rows.ptr());
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

PyObject* tensor_float(PyObject* self) {
  try {
    return PyNumber_Float(one_real_element(tensor_of(self), "float").ptr());
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

PyObject* tensor_int(PyObject* self) {
  try {
    return PyNumber_Long(one_real_element(tensor_of(self), "int").ptr());
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

/// operator.index(t): one-element integer or bool tensors only (TypeError otherwise, as torch).
PyObject* tensor_index(PyObject* self) {
  try {
    const Tensor& t = tensor_of(self);
    const DType d = t.dtype();
    ASTENSOR_CHECK_TYPE(t.numel() == 1 && !is_floating(d) && !is_complex(d),
                        "[tensor] only integer tensors of a single element can be converted to "
                        "an index (got ", name(d), " of shape ", t.shape().str(), ")");
    py::object v = one_element(t);
    if (PyBool_Check(v.ptr())) return PyLong_FromLong(v.ptr() == Py_True ? 1 : 0);
    return v.release().ptr();
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

/// bool(t): one element only; RuntimeError when empty or larger ("ambiguous", as torch).
int tensor_bool(PyObject* self) {
  try {
    const Tensor& t = tensor_of(self);
    ASTENSOR_CHECK(t.numel() != 0, "[tensor] the boolean value of a tensor with no values is "
                                   "ambiguous (shape ", t.shape().str(), ")");
    ASTENSOR_CHECK(t.numel() == 1, "[tensor] the boolean value of a tensor with more than one "
                                   "value is ambiguous (shape ", t.shape().str(), ")");
    return PyObject_IsTrue(one_element(t).ptr());
  } catch (...) {
    set_error_from_current_exception();
    return -1;
  }
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
                      "A strided array on a device (cpu, cuda:N, sim:N), created by "
                      "astensor.as_tensor.\n\n"
                      "Reads as a torch user expects: size()/stride() (strides in elements), "
                      "float(t)/int(t)/bool(t) on one element, t[i] and slices (views sharing "
                      "memory), iteration, len(t), to()/cpu()/cuda()/clone()/contiguous()/"
                      "detach(), .T, and a repr showing the values. NumPy's names keep NumPy's "
                      "meaning: .strides is in bytes, .itemsize and .nbytes in bytes. Exports "
                      "the buffer protocol (CPU), __array__, __dlpack__ and "
                      "__cuda_array_interface__ (CUDA). CPU tensors pickle (values, dtype, shape, "
                      "requires_grad; restored C-contiguous and writable); device tensors refuse "
                      "(TypeError: copy to the CPU first).")},
      {Py_mp_length, reinterpret_cast<void*>(tensor_len)},
      {Py_sq_length, reinterpret_cast<void*>(tensor_len)},
      {Py_mp_subscript, reinterpret_cast<void*>(tensor_subscript)},
      {Py_mp_ass_subscript, reinterpret_cast<void*>(tensor_ass_subscript)},
      {Py_tp_iter, reinterpret_cast<void*>(tensor_iter)},
      {Py_nb_float, reinterpret_cast<void*>(tensor_float)},
      {Py_nb_int, reinterpret_cast<void*>(tensor_int)},
      {Py_nb_index, reinterpret_cast<void*>(tensor_index)},
      {Py_nb_bool, reinterpret_cast<void*>(tensor_bool)},
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
  m.def("_rebuild_tensor", [](py::bytes data, const std::string& dtype, std::vector<int64_t> shape,
                              bool requires_grad) { return wrap(rebuild_tensor(data, dtype, shape, requires_grad)); },
        "Unpickles a CPU tensor (see Tensor.__reduce__).");

  auto method = [&](const char* name, auto&& f, auto&&... extra) {
    py::cpp_function cf(std::forward<decltype(f)>(f), py::name(name), py::is_method(cls),
                        py::sibling(py::getattr(cls, name, py::none())), extra...);
    cls.attr(name) = cf;
  };
  auto property = [&](const char* name, auto&& getter, const char* doc = nullptr) {
    py::cpp_function g(std::forward<decltype(getter)>(getter));
    cls.attr(name) = py::module_::import("builtins").attr("property")(
        g, py::none(), py::none(), doc ? py::object(py::str(doc)) : py::object(py::none()));
  };
  auto int_tuple = [](const Dims& v, int64_t scale) {
    py::tuple out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = py::int_(v[i] * scale);
    return out;
  };

  property("shape", [int_tuple](py::handle self) { return int_tuple(self_tensor(self).shape(), 1); },
           "The sizes of the dimensions (a tuple of ints), as t.size().");
  property(
      "strides",
      [int_tuple](py::handle self) {
        const Tensor& t = self_tensor(self);
        return int_tuple(t.strides(), static_cast<int64_t>(t.itemsize()));
      },
      "NumPy's strides: the step of each dimension in BYTES (ndarray.strides). torch's "
      "meaning, in elements, is t.stride().");
  property("nbytes", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    return t.numel() * static_cast<int64_t>(t.itemsize());
  }, "numel() * itemsize: the bytes the elements take (not the storage's size).");
  property("itemsize", [](py::handle self) { return self_tensor(self).itemsize(); },
           "The size of one element in bytes (as element_size()).");
  property("is_cuda", [](py::handle self) { return self_tensor(self).device().type == DeviceType::CUDA; },
           "True when the tensor lives on a CUDA device.");
  property("is_cpu", [](py::handle self) { return self_tensor(self).device().is_cpu(); },
           "True when the tensor lives on the CPU.");
  property("T", [](py::handle self) -> py::object {
    const Tensor& t = self_tensor(self);
    if (t.ndim() < 2) return py::reinterpret_borrow<py::object>(self);
    check_view_allowed(t, "T");
    Dims shape(t.shape()), strides(t.strides());
    std::reverse(shape.data(), shape.data() + shape.size());
    std::reverse(strides.data(), strides.data() + strides.size());
    return wrap(make_view(t, t.offset(), std::move(shape), std::move(strides)));
  }, "The transpose, a view sharing memory: a 2-d tensor's dims swapped; a 0-d or 1-d tensor "
     "itself; above 2 dims all dims reversed (NumPy's .T, and what torch does today with a "
     "deprecation warning).");
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
  method(
      "size",
      [int_tuple](py::handle self, py::object dim) -> py::object {
        const Tensor& t = self_tensor(self);
        if (dim.is_none()) return int_tuple(t.shape(), 1);
        return py::int_(t.shape()[wrap_dim(t, dim, "size")]);
      },
      py::arg("dim") = py::none(),
      "size(dim=None): the shape as a tuple, or the size of one dimension (negative counts from "
      "the end; IndexError out of range).");
  method(
      "stride",
      [int_tuple](py::handle self, py::object dim) -> py::object {
        const Tensor& t = self_tensor(self);
        if (dim.is_none()) return int_tuple(t.strides(), 1);
        return py::int_(t.strides()[wrap_dim(t, dim, "stride")]);
      },
      py::arg("dim") = py::none(),
      "stride(dim=None): torch's strides, in ELEMENTS (t.strides is NumPy's, in bytes).");
  method("element_size", [](py::handle self) { return self_tensor(self).itemsize(); },
         "The size of one element in bytes.");
  method(
      "to",
      [](py::handle self, py::args args, py::kwargs kwargs) -> py::object {
        const Tensor& t = self_tensor(self);
        std::optional<Device> device;
        std::optional<DType> dtype;
        bool copy = false;
        auto set_device = [&](py::handle h) {
          if (device) throw TypeError("[to] the device is given twice");
          device = parse_device(h);
        };
        auto set_dtype = [&](py::handle h) {
          if (dtype) throw TypeError("[to] the dtype is given twice");
          dtype = parse_dtype(h);
        };
        if (args.size() > 2)
          throw TypeError("[to] takes at most 2 positional arguments (device, dtype), got " +
                          std::to_string(args.size()));
        if (args.size() >= 1) {
          py::handle a = args[0];
          if (is_tensor(a.ptr())) {
            ASTENSOR_CHECK_TYPE(args.size() == 1, "[to] to(other) takes no dtype after the tensor");
            device = tensor_of(a.ptr()).device();
            dtype = tensor_of(a.ptr()).dtype();
          } else if (looks_like_dtype(a)) {
            ASTENSOR_CHECK_TYPE(args.size() == 1, "[to] to(dtype) takes no second positional argument");
            set_dtype(a);
          } else {
            set_device(a);
          }
        }
        if (args.size() == 2) set_dtype(args[1]);
        for (auto kv : kwargs) {
          std::string k = kv.first.cast<std::string>();
          if (k == "device") {
            if (!kv.second.is_none()) set_device(kv.second);
          } else if (k == "dtype") {
            if (!kv.second.is_none()) set_dtype(kv.second);
          } else if (k == "copy") {
            copy = PyObject_IsTrue(kv.second.ptr()) == 1;
          } else if (k != "non_blocking") {
            throw TypeError("[to] unexpected keyword argument '" + k + "'");
          }
        }
        Options o;
        o.dtype = dtype;
        // The tensor's own device unless asked: the default device (DEV-1) is for new data.
        o.device = device.value_or(t.device());
        if (copy) o.copy = true;
        Tensor r = as_tensor_dispatch(Source(t), o, /*reference=*/false);
        if (r.is_same(t)) return py::reinterpret_borrow<py::object>(self);  // TEN-1
        return wrap(std::move(r));
      },
      "to(device=None, dtype=None, *, copy=False, non_blocking=False), also to(dtype), "
      "to(device, dtype) and to(other_tensor): the tensor itself when nothing changes (TEN-1), "
      "else a converted copy (as as_tensor; recorded for autograd, GRAD-2). A str is a device. "
      "non_blocking is accepted and ignored: copies are blocking (XFER-1).");
  method("cpu", [](py::handle self) -> py::object {
    const Tensor& t = self_tensor(self);
    if (t.device().is_cpu()) return py::reinterpret_borrow<py::object>(self);
    Options o;
    o.device = Device::cpu();
    return wrap(as_tensor_dispatch(Source(t), o, /*reference=*/false));
  }, "The tensor itself on the CPU, else a copy on the CPU.");
  method(
      "cuda",
      [](py::handle self, py::object device, py::object /*non_blocking*/) -> py::object {
        const Tensor& t = self_tensor(self);
        Device d(DeviceType::CUDA);
        if (!device.is_none()) {
          d = parse_device(device);
          ASTENSOR_CHECK_VALUE(d.type == DeviceType::CUDA, "[cuda] expected a CUDA device (got '",
                               d.str(), "')");
        }
        Options o;
        o.device = d;
        Tensor r = as_tensor_dispatch(Source(t), o, /*reference=*/false);
        if (r.is_same(t)) return py::reinterpret_borrow<py::object>(self);
        return wrap(std::move(r));
      },
      py::arg("device") = py::none(), py::arg("non_blocking") = false,
      "cuda(device=None): the tensor on a CUDA device (the current one by default); "
      "RuntimeError naming the reason when CUDA is not available.");
  method("clone", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    Options o;
    o.device = t.device();
    o.copy = true;
    return wrap(as_tensor_dispatch(Source(t), o, /*reference=*/false));
  }, "A copy with its own memory, same dtype and device, the layout kept when dense (TEN-3); "
     "recorded for autograd (GRAD-2).");
  method("contiguous", [](py::handle self) -> py::object {
    const Tensor& t = self_tensor(self);
    if (t.is_contiguous()) return py::reinterpret_borrow<py::object>(self);
    check_view_allowed(t, "contiguous");
    return wrap(contiguous_copy(t));
  }, "The tensor itself when C-contiguous, else a C-contiguous copy on the same device (the "
     "plain element-by-element converter, through the host for device tensors). Refused "
     "(RuntimeError) on a non-contiguous tensor that requires grad: no autograd for it.");
  method("detach", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    return wrap(make_view(t, t.offset(), t.shape(), t.strides()));
  }, "A view sharing memory with no autograd history (requires_grad False).");
  method("__complex__", [](py::handle self) {
    py::object v = one_element(self_tensor(self));
    return py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyComplex_Type))(v);
  });
  method("__reduce__", tensor_reduce);
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

const Tensor& self_tensor(py::handle self) {
  if (!self || Py_TYPE(self.ptr()) != g_tensor_type)
    throw TypeError("[tensor] expected an astensor.Tensor (got '" +
                    (self ? type_name(self.ptr()) : std::string("NULL")) + "')");
  return tensor_of(self.ptr());
}

}  // namespace astensor::python
