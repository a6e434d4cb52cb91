// Python values from a tensor: its one element as a Python scalar (float(), int(),
// operator.index(), bool(), complex(), item()), its elements as nested lists (tolist()), and
// pickling of CPU tensors (__reduce__ and _rebuild_tensor).

#include <cstring>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "core/convert.h"
#include "core/sequence.h"
#include "python/src/tensor_parts.h"

namespace astensor::python {

namespace {

// --- elements as Python scalars and lists ----------------------------------------------------

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

}  // namespace

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

void add_to_python_methods(py::module_& m, py::handle cls) {
  m.def("_rebuild_tensor", [](py::bytes data, const std::string& dtype, std::vector<int64_t> shape,
                              bool requires_grad) { return wrap(rebuild_tensor(data, dtype, shape, requires_grad)); },
        "Unpickles a CPU tensor (see Tensor.__reduce__).");
  add_method(cls, "__complex__", [](py::handle self) {
    py::object v = one_element(self_tensor(self));
    return py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyComplex_Type))(v);
  });
  add_method(cls, "__reduce__", tensor_reduce);
  add_method(cls, "tolist", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    Tensor keep;
    ArrayView v = host_view(t, &keep);
    return tolist_rec(v, static_cast<const char*>(v.data), 0);
  });
  add_method(cls, "item", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    ASTENSOR_CHECK_VALUE(t.numel() == 1, "[item] only one-element tensors can be converted to a "
                                         "Python scalar (got shape ", t.shape().str(), ")");
    Tensor keep;
    ArrayView v = host_view(t, &keep);
    return element_to_py(v.data, v.dtype);
  });
}

}  // namespace astensor::python
