#pragma once
/// The Python Tensor type: a plain CPython heap type whose instances hold an astensor::Tensor
/// in place, so that wrapping a result costs one small allocation (research/ecosystem.md §4:
/// pybind11's generic instance creation is most of a zero-copy call's cost). Its methods are
/// pybind11 functions attached to the type; its exports (buffer protocol, __dlpack__,
/// __cuda_array_interface__, numpy()) follow DLP-3.

#include "python/src/common.h"

namespace astensor::python {

struct TensorObject {
  PyObject_HEAD
  Tensor tensor;
  PyObject* weakrefs;
};

/// The type object (created by init_tensor_type).
PyTypeObject* tensor_type();

/// Exact type check (ARG-4 step 1): subclasses are not allowed, so this is the whole test.
inline bool is_tensor(PyObject* o) { return Py_TYPE(o) == tensor_type(); }
inline const Tensor& tensor_of(PyObject* o) { return reinterpret_cast<TensorObject*>(o)->tensor; }

/// The Tensor of a Python object, checked (TypeError for anything else): for methods.
const Tensor& self_tensor(py::handle self);

/// Note [Pending results] (core/pending.h): a host read or write of `t`'s bytes through the
/// module (exports, scalars, t[i] = v) waits first for work still writing them, without the
/// GIL. A tensor without pending work costs one pointer test.
inline void wait_until_final(const Tensor& t) {
  if (t.is_ready()) return;
  py::gil_scoped_release release;
  t.synchronize();
}

/// A new Python Tensor owning a handle on `t` (new reference); null with a Python error set on
/// allocation failure.
PyObject* wrap_tensor(Tensor t) noexcept;
/// Same, as a py::object; throws error_already_set on failure.
py::object wrap(Tensor t);

/// Creates the type and adds it to the module as `Tensor`.
void init_tensor_type(py::module_& m);

/// The Python dtype objects (astensor.float32 ...): one singleton per DType.
struct DTypeObject {
  DType dtype;
};
/// The singleton of a dtype (borrowed), created by the module init.
py::handle dtype_object(DType d);

}  // namespace astensor::python
