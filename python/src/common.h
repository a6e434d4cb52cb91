#pragma once
/// Shared helpers of the Python layer: owners that keep Python objects alive for as long as a
/// tensor shares their memory (ARR-2), error translation (core errors -> the Python exception
/// of the same kind), and small CPython utilities.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"

namespace astensor::python {

namespace py = pybind11;

/// True while the interpreter can run Python code for us (not torn down).
inline bool python_alive() {
  if (!Py_IsInitialized()) return false;
#if PY_VERSION_HEX >= 0x030D0000
  if (Py_IsFinalizing()) return PyGILState_Check();
#else
  if (_Py_IsFinalizing()) return PyGILState_Check();
#endif
  return true;
}

/// Drops one reference under the GIL, from any thread. At interpreter shutdown (no GIL to
/// take) the reference is leaked on purpose: touching Python then would crash.
inline void release_ref(PyObject* o) noexcept {
  if (Py_IsInitialized() && PyGILState_Check()) {  // the common case: a tensor died in Python
    Py_DECREF(o);
    return;
  }
  if (!python_alive()) return;
  PyGILState_STATE s = PyGILState_Ensure();
  Py_DECREF(o);
  PyGILState_Release(s);
}

/// An ArrayView/Storage owner holding one strong reference to `o` (ARR-2): the reference is
/// released exactly once, when the last tensor sharing the memory goes away.
inline std::shared_ptr<void> py_owner(PyObject* o) {
  Py_INCREF(o);
  return std::shared_ptr<void>(o, [](void* p) { release_ref(static_cast<PyObject*>(p)); });
}

/// Holds a Py_buffer (PEP 3118 export) and, optionally, the object it came from; releases
/// both under the GIL.
struct BufferOwner {
  Py_buffer view{};
  bool has_view = false;
  PyObject* extra = nullptr;  // another object to keep alive (strong ref) or null
  ~BufferOwner() {
    if (!python_alive()) return;
    PyGILState_STATE s = PyGILState_Ensure();
    if (has_view) PyBuffer_Release(&view);
    Py_XDECREF(extra);
    PyGILState_Release(s);
  }
};

/// Py_ssize_t[] (NumPy, Py_buffer) -> Dims.
inline Dims dims_of(const ssize_t* p, int n) {
  static_assert(sizeof(ssize_t) == sizeof(int64_t));
  return Dims(std::span<const int64_t>(reinterpret_cast<const int64_t*>(p), static_cast<std::size_t>(n)));
}

/// C-contiguous byte strides: core's contiguous_strides() times the item size, wrapping as
/// it does. Only a zero-size shape (whose strides address nothing) or one that validate()
/// refuses (numel * itemsize beyond int64) can overflow; signed overflow would be UB
/// (issue 7, fuzz_dlpack_import / fuzz_interface_dict).
inline Dims contiguous_byte_strides(std::span<const int64_t> shape, std::size_t isz) {
  Dims st = contiguous_strides(shape);
  for (auto& x : st) x = static_cast<int64_t>(static_cast<uint64_t>(x) * isz);
  return st;
}

/// The Python type name of an object, for messages ("str", "numpy.ndarray").
std::string type_name(PyObject* o);
/// repr(o), shortened to about 80 characters; never throws.
std::string short_repr(PyObject* o);

/// Sets the Python error for the exception being handled (call inside catch (...)).
void set_error_from_current_exception() noexcept;

/// Looks an attribute up on an object; a new reference, or null when absent. Other errors
/// raised by the lookup (a property that raises) propagate as py::error_already_set.
PyObject* lookup_attr(PyObject* o, PyObject* name);

/// Interned attribute names, created once at module import.
struct Names {
  PyObject* dlpack;
  PyObject* dlpack_device;
  PyObject* cuda_array_interface;
  PyObject* array_interface;
  PyObject* array;
  PyObject* max_version;
  PyObject* stream;
  PyObject* item;
};
const Names& names();
void init_names();

/// The NumPy C-API table (loaded once by pybind11; no NumPy headers needed).
inline const py::detail::npy_api& npy() { return py::detail::npy_api::get(); }

/// numpy.generic, for NumPy scalar checks (SEQ-1). Loaded at module import.
PyTypeObject* numpy_generic_type();

/// The list of supported dtypes, for messages: "bool, uint8, ..., complex128".
std::string supported_dtypes_text();

}  // namespace astensor::python
