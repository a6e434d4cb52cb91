#pragma once
/// Helpers of the libFuzzer targets that drive the Python-facing readers (python/src) through
/// an embedded CPython (issue 7): interpreter start-up with the real `_astensor` module linked
/// in as a built-in, the oracle on exceptions, and the differential conversion of an
/// accepted ArrayView (XFER-3).
///
/// The interpreter is the one the module is built for (ASTENSOR_FUZZ_PYTHON, the venv's
/// python, baked in by fuzz/CMakeLists.txt; the environment variable of the same name
/// overrides it): its site-packages give NumPy, which classify() needs. CPython's allocator is
/// set to plain malloc (PYMEM_ALLOCATOR_MALLOC) so that ASan sees every Python object and
/// LeakSanitizer can follow pointers held inside them (see fuzz/README.md, "Leak checking").

#include <Python.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/array_view.h"
#include "core/storage.h"
#include "fuzz/fuzz_util.h"
#include "impl/as_tensor.h"
#include "python/src/classify.h"
#include "reference/as_tensor.h"

extern "C" PyObject* PyInit__astensor();

namespace astensor::fuzz {

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "fuzz: %s\n", what);
  if (PyErr_Occurred()) PyErr_Print();
  std::abort();
}

/// ASTENSOR_FUZZ_VERBOSE=1: each input says what happened (to check that seeds reach the
/// accept paths).
inline bool verbose() {
  static const bool v = std::getenv("ASTENSOR_FUZZ_VERBOSE") != nullptr;
  return v;
}

/// Starts the interpreter once, imports numpy and the built-in _astensor, then runs `setup`
/// (Python source defining the harness's helper classes in __main__).
inline void start_python(const char* setup) {
  PyPreConfig pre;
  PyPreConfig_InitPythonConfig(&pre);
  pre.allocator = PYMEM_ALLOCATOR_MALLOC;
  if (PyStatus_Exception(Py_PreInitialize(&pre))) die("Py_PreInitialize failed");
  if (PyImport_AppendInittab("_astensor", PyInit__astensor) != 0) die("AppendInittab failed");
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  const char* exe = std::getenv("ASTENSOR_FUZZ_PYTHON");
#ifdef ASTENSOR_FUZZ_PYTHON
  if (!exe || !*exe) exe = ASTENSOR_FUZZ_PYTHON;
#endif
  // The venv's python as program name: getpath finds its pyvenv.cfg and site-packages.
  if (exe && *exe && PyStatus_Exception(PyConfig_SetBytesString(&config, &config.program_name, exe)))
    die("program_name");
  config.install_signal_handlers = 0;  // libFuzzer owns the signals
  config.parse_argv = 0;
  if (PyStatus_Exception(Py_InitializeFromConfig(&config))) die("Py_InitializeFromConfig failed");
  PyConfig_Clear(&config);
  PyObject* np = PyImport_ImportModule("numpy");
  if (!np) die("cannot import numpy (set ASTENSOR_FUZZ_PYTHON to the venv's python)");
  Py_DECREF(np);
  PyObject* m = PyImport_ImportModule("_astensor");
  if (!m) die("cannot import the built-in _astensor");
  Py_DECREF(m);
  PyObject* main = PyImport_AddModule("__main__");  // borrowed
  PyObject* g = PyModule_GetDict(main);
  PyObject* r = PyRun_String(setup, Py_file_input, g, g);
  if (!r) die("harness setup code failed");
  Py_DECREF(r);
}

/// A global of __main__ (borrowed).
inline PyObject* main_global(const char* name) {
  PyObject* g = PyModule_GetDict(PyImport_AddModule("__main__"));
  PyObject* o = PyDict_GetItemString(g, name);
  if (!o) die(name);
  return o;
}

inline std::string type_name_of(PyObject* type) {
  return type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "?";
}

/// The oracle on a Python exception raised by the readers (the producer's own, or CPython's
/// while reading a hostile value): only these kinds are clean errors; anything else (a
/// SystemError: a C API misused; RuntimeError from pybind11's cast machinery) is a finding.
inline void expect_clean_python_error(const char* where) {
  if (!PyErr_Occurred()) die("error_already_set without a Python error");
  if (verbose()) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    std::fprintf(stderr, "Python error from %s: %s: %s\n", where, type_name_of(t).c_str(),
                 v ? python::short_repr(v).c_str() : "");
    PyErr_Restore(t, v, tb);
  }
  if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError) ||
      PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_BufferError) ||
      PyErr_ExceptionMatches(PyExc_KeyError) || PyErr_ExceptionMatches(PyExc_MemoryError)) {
    PyErr_Clear();
    return;
  }
  std::fprintf(stderr, "fuzz: unexpected Python exception from %s:\n", where);
  PyErr_Print();
  std::abort();
}

/// Byte extent [lo, hi) of a validated view with numel > 0, relative to v.data.
inline void byte_extent(const ArrayView& v, int64_t* lo, int64_t* hi) {
  *lo = 0;
  *hi = static_cast<int64_t>(itemsize(v.dtype));
  for (std::size_t d = 0; d < v.shape.size(); ++d) {
    const int64_t span = v.byte_strides[d] * (v.shape[d] - 1);  // validate() checked these
    (span < 0 ? *lo : *hi) += span;
  }
}

/// XFER-3 on an accepted view: validate() it; a rejected view must be rejected by both
/// as_tensor with the same error (without reading it); an accepted one is converted by both
/// only when its bytes lie inside [base, base + len) (a view elsewhere is the producer's lie,
/// not ours to read), and the two results must be the same tensor.
inline void check_view(const ArrayView& v, const void* base, std::size_t len, const Options& opt) {
  int64_t numel = -1;
  try {
    numel = validate(v);
  } catch (const ValueError&) {
  }
  if (numel < 0) {
    auto r = run([&] { return reference::as_tensor(v, opt); });
    auto i = run([&] { return impl::as_tensor(v, opt); });
    if (r.ok || r.kind != ErrorKind::Value) fail("validate() rejected the view", r, i);
    expect_same(r, i);
    if (verbose()) std::fprintf(stderr, "view rejected by validate(): %s\n", r.message.c_str());
    return;
  }
  if (!v.device.is_cpu()) return;
  if (numel > 0) {
    if (!base) return;
    int64_t lo = 0, hi = 0;
    byte_extent(v, &lo, &hi);
    const auto p = reinterpret_cast<intptr_t>(v.data), b = reinterpret_cast<intptr_t>(base);
    if (p + lo < b || p + hi > b + static_cast<intptr_t>(len)) {
      if (verbose()) std::fprintf(stderr, "view outside the producer's memory: not read\n");
      return;
    }
    if (numel > (int64_t(1) << 16)) return;  // keep each run fast
  }
  auto r = run([&] { return reference::as_tensor(v, opt); });
  auto i = run([&] { return impl::as_tensor(v, opt); });
  expect_same(r, i);
  if (verbose())
    std::fprintf(stderr, "view converted: %s %s %s\n", r.ok ? "ok" : "error",
                 r.ok ? r.shape.str().c_str() : r.message.c_str(), r.ok ? name(r.dtype) : "");
}

/// Live library storage (allocations, bytes): must be back to the baseline after each input.
inline std::pair<int64_t, int64_t> live_storage() {
  auto s = storage_stats();
  return {static_cast<int64_t>(s.live_allocations), static_cast<int64_t>(s.live_bytes)};
}

}  // namespace astensor::fuzz
