#include "python/src/common.h"

namespace astensor::python {

std::string type_name(PyObject* o) {
  PyTypeObject* t = Py_TYPE(o);
  std::string n = t->tp_name ? t->tp_name : "?";
  return n;
}

std::string short_repr(PyObject* o) {
  PyObject* r = PyObject_Repr(o);
  if (!r) {
    PyErr_Clear();
    return "<" + type_name(o) + " object>";
  }
  Py_ssize_t len = 0;
  const char* s = PyUnicode_AsUTF8AndSize(r, &len);
  std::string out = s ? std::string(s, static_cast<std::size_t>(len)) : "<unprintable>";
  if (!s) PyErr_Clear();
  Py_DECREF(r);
  if (out.size() > 80) out = out.substr(0, 77) + "...";
  return out;
}

void set_error_from_current_exception() noexcept {
  try {
    throw;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const Error& e) {
    PyObject* type = PyExc_RuntimeError;
    switch (e.kind()) {
      case ErrorKind::Type: type = PyExc_TypeError; break;
      case ErrorKind::Value: type = PyExc_ValueError; break;
      case ErrorKind::Overflow: type = PyExc_OverflowError; break;
      case ErrorKind::Runtime: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "[astensor] unknown C++ exception");
  }
}

PyObject* lookup_attr(PyObject* o, PyObject* name) {
  PyObject* r = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
  int found = PyObject_GetOptionalAttr(o, name, &r);
#else
  int found = _PyObject_LookupAttr(o, name, &r);
#endif
  if (found < 0) throw py::error_already_set();
  return found ? r : nullptr;
}

namespace {
Names g_names;
PyTypeObject* g_generic = nullptr;
}  // namespace

const Names& names() { return g_names; }

void init_names() {
  auto intern = [](const char* s) { return PyUnicode_InternFromString(s); };  // immortal enough
  g_names.dlpack = intern("__dlpack__");
  g_names.dlpack_device = intern("__dlpack_device__");
  g_names.cuda_array_interface = intern("__cuda_array_interface__");
  g_names.array_interface = intern("__array_interface__");
  g_names.array = intern("__array__");
  g_names.max_version = intern("max_version");
  g_names.stream = intern("stream");
  g_names.item = intern("item");
  py::module_ np = py::module_::import("numpy");
  g_generic = reinterpret_cast<PyTypeObject*>(py::object(np.attr("generic")).release().ptr());
  npy();  // load the C-API table now, not on the first call
}

PyTypeObject* numpy_generic_type() { return g_generic; }

std::string supported_dtypes_text() {
  std::string s;
  for (int i = 0; i < kNumDTypes; ++i) {
    if (i) s += ", ";
    s += name(static_cast<DType>(i));
  }
  return s;
}

}  // namespace astensor::python
