#pragma once
/// What the files of the Python Tensor type share (internal to them; the rest of python/src
/// uses tensor_object.h). Each file holds one part of the type and attaches its methods in its
/// add_*_methods(), which init_tensor_type calls; the slot functions are named here for the
/// type's slot table.
///   tensor_object.cpp       the type: the object, wrapping, dealloc, repr, len, the slot table,
///                           the attributes (shape, strides, dtype, device, autograd ...) and the
///                           attachment of the exports (exports.cpp)
///   tensor_indexing.cpp     t[key] (a view), iteration, .T, detach(), and the small write API
///                           (t[i, j] = value, fill_; ARR-7 checks)
///   tensor_to_python.cpp    Python values from a tensor: float/int/index/bool/complex, item(),
///                           tolist(), pickling
///   tensor_conversions.cpp  to(), cpu(), cuda(), clone(), contiguous()

#include <utility>

#include "python/src/tensor_object.h"

namespace astensor::python {

/// Attaches `f` to the Tensor class `cls` as the method `name` (self first).
template <class F, class... Extra>
void add_method(py::handle cls, const char* name, F&& f, Extra&&... extra) {
  py::cpp_function cf(std::forward<F>(f), py::name(name), py::is_method(cls),
                      py::sibling(py::getattr(cls, name, py::none())), extra...);
  cls.attr(name) = cf;
}

/// Attaches a read-only property `name` (builtins.property over `getter`), with its doc.
template <class G>
void add_property(py::handle cls, const char* name, G&& getter, const char* doc = nullptr) {
  py::cpp_function g(std::forward<G>(getter));
  cls.attr(name) = py::module_::import("builtins").attr("property")(
      g, py::none(), py::none(), doc ? py::object(py::str(doc)) : py::object(py::none()));
}

// --- tensor_indexing.cpp ---------------------------------------------------------------------

/// Views carry no autograd history (there is no view backward here): making one of a tensor
/// that requires grad, with grad enabled, is refused rather than silently cutting the graph.
void check_view_allowed(const Tensor& t, const char* what);

/// t[key] (a view; see index_view in tensor_indexing.cpp).
PyObject* tensor_subscript(PyObject* self, PyObject* key);
/// iter(t): the views t[0], t[1], ... (TypeError on a 0-d tensor, as torch).
PyObject* tensor_iter(PyObject* self);
/// t[i, j, ...] = scalar: one element, full integer index (negative counts from the end).
int tensor_ass_subscript(PyObject* self, PyObject* key, PyObject* value);
/// .T, detach(), fill_().
void add_indexing_methods(py::handle cls);

// --- tensor_to_python.cpp --------------------------------------------------------------------

PyObject* tensor_float(PyObject* self);
PyObject* tensor_int(PyObject* self);
/// operator.index(t): one-element integer or bool tensors only (TypeError otherwise, as torch).
PyObject* tensor_index(PyObject* self);
/// bool(t): one element only; RuntimeError when empty or larger ("ambiguous", as torch).
int tensor_bool(PyObject* self);
/// _rebuild_tensor (on the module `m`), __complex__, __reduce__, tolist(), item().
void add_to_python_methods(py::module_& m, py::handle cls);

// --- tensor_conversions.cpp ------------------------------------------------------------------

/// to(), cpu(), cuda(), clone(), contiguous().
void add_conversion_methods(py::handle cls);

}  // namespace astensor::python
