// The _astensor extension module: dtype objects, Device, defaults, no_grad, error translation,
// the Tensor type, and the hand-written as_tensor / explain entry points.

#include <array>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/defaults.h"
#include "core/storage.h"
#include "python/src/entry.h"
#include "python/src/sim_testing.h"
#include "python/src/stream_object.h"
#include "python/src/tensor_object.h"

namespace astensor::python {

namespace {

// Leaked on purpose: py::objects must not be destroyed after the interpreter is gone.
std::array<py::object, kNumDTypes>* g_dtypes = nullptr;

/// `with no_grad():` (GRAD-3). Re-entrant: each __enter__ pushes a guard.
struct NoGrad {
  NoGrad() = default;
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
  std::vector<std::unique_ptr<NoGradGuard>> guards;
};

PyMethodDef g_fast_methods[] = {
    {"as_tensor", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(as_tensor_fast)),
     METH_FASTCALL | METH_KEYWORDS,
     "as_tensor($module, data, *, dtype=None, device=None, copy=None, non_blocking=False, stream=None)\n--\n\n"
     "Converts data into an astensor.Tensor, sharing its memory when the rules allow.\n\n"
     "data: a Tensor, a NumPy array, an object with __dlpack__, __cuda_array_interface__,\n"
     "    __array_interface__ or __array__, a buffer (memoryview, bytearray...), a Python or\n"
     "    NumPy scalar, or nested sequences of these.\n"
     "dtype: an astensor dtype, a name NumPy understands ('float32', 'f4', 'double'), a NumPy\n"
     "    dtype or type, a torch.dtype, or bool/int/float/complex. None keeps the source's\n"
     "    (Python data: inferred as torch does, floats get the default dtype).\n"
     "device: 'cpu', 'cuda:N', 'sim:N', a Device, an int (CUDA index) or a torch.device.\n"
     "    None keeps the source's device (or the default device, set_default_device).\n"
     "copy: None copies only when needed; True always copies; False raises ValueError\n"
     "    when a copy would be needed.\n"
     "non_blocking: True lets a conversion with device work return once the source has\n"
     "    been read (it may then be modified or freed), while the device copy may still run;\n"
     "    t.is_ready() / t.synchronize(); host reads through astensor wait (XFER-4).\n"
     "stream: the stream the device work is ordered on (an astensor.Stream, an int handle,\n"
     "    a torch or cupy stream); None: astensor's current stream of that device.\n\n"
     "The rules in brief: the same tensor comes back when nothing changes (TEN-1); arrays\n"
     "on the same device and dtype are shared, not copied, read-only ones stay read-only\n"
     "(ARR-1, ARR-7); a dtype or device change copies (casts saturate, DT-3); Python data is\n"
     "always copied (SEQ-1); device copies are finished when it returns (XFER-1), unless\n"
     "non_blocking=True (XFER-4).\n"
     "astensor.explain() says which of these applies without converting.\n\n"
     "Example:\n"
     "    >>> import numpy as np, astensor\n"
     "    >>> a = np.arange(6.0).reshape(2, 3)\n"
     "    >>> t = astensor.as_tensor(a)            # shares a's memory\n"
     "    >>> t[0, 1] = 10.0; a[0, 1]\n"
     "    np.float64(10.0)\n"
     "    >>> astensor.as_tensor(a, dtype='f4')    # a float32 copy\n"
     "    tensor([[ 0., 10.,  2.],\n"
     "            [ 3.,  4.,  5.]])\n"},
    {"explain", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(explain_fast)),
     METH_FASTCALL | METH_KEYWORDS,
     "explain($module, data, *, dtype=None, device=None, copy=None, non_blocking=False, stream=None)\n--\n\n"
     "Says what as_tensor would do with the same arguments (share or copy, and why; where\n"
     "casts run) without converting (COPY-2). Returns a str."},
    {"reference_as_tensor",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(reference_as_tensor_fast)),
     METH_FASTCALL | METH_KEYWORDS,
     "reference_as_tensor($module, data, *, dtype=None, device=None, copy=None, non_blocking=False, stream=None)\n--\n\n"
     "The reference implementation (astensor::reference::as_tensor); same arguments and\n"
     "results as as_tensor, obviously correct and slow (always blocking: non_blocking and\n"
     "stream are accepted and change nothing, which XFER-4 allows)."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

py::handle dtype_object(DType d) { return (*g_dtypes)[static_cast<std::size_t>(d)]; }

}  // namespace astensor::python

using namespace astensor;
using namespace astensor::python;

PYBIND11_MODULE(_astensor, m) {
  m.doc() = "astensor: as_tensor done carefully (compiled part; import astensor instead)";
  init_names();

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error&) {
      set_error_from_current_exception();
    }
  });

  // dtypes (DT-1)
  py::class_<DTypeObject>(m, "dtype",
                          "An astensor element type (astensor.float32, ...).\n\n"
                          "Compares as NumPy's dtypes do: astensor.float32 == np.float32 == "
                          "np.dtype('float32') == 'float32' == 'f4' (and == torch.float32); "
                          "np.dtype(astensor.float32) works through the .dtype attribute. The "
                          "hash is the name's, so equal NumPy objects may hash differently (as "
                          "with NumPy's own dtypes and type objects).")
      .def_property_readonly("name", [](const DTypeObject& d) { return std::string(name(d.dtype)); })
      .def_property_readonly(
          "dtype",
          [](const DTypeObject& d) -> py::object {
            if (d.dtype == DType::bfloat16) {
              py::module_ ml;
              try {
                ml = py::module_::import("ml_dtypes");
              } catch (py::error_already_set&) {
                throw TypeError("[dtype] bfloat16 has a NumPy dtype only with the ml_dtypes package");
              }
              return py::dtype::from_args(ml.attr("bfloat16"));
            }
            return py::dtype(std::string(name(d.dtype)));
          },
          "The NumPy dtype (np.dtype(astensor.float32) reads it); bfloat16 needs ml_dtypes.")
      .def("__eq__", [](const DTypeObject& d, py::handle other) -> py::object {
        try {
          return py::bool_(parse_dtype(other) == d.dtype);
        } catch (const Error&) {
          return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        }
      })
      .def("__hash__", [](const DTypeObject& d) { return py::hash(py::str(name(d.dtype))); })
      .def_property_readonly("itemsize", [](const DTypeObject& d) { return itemsize(d.dtype); })
      .def_property_readonly("is_floating_point", [](const DTypeObject& d) { return is_floating(d.dtype); })
      .def_property_readonly("is_complex", [](const DTypeObject& d) { return is_complex(d.dtype); })
      .def("__repr__", [](const DTypeObject& d) { return std::string("astensor.") + name(d.dtype); })
      .def("__str__", [](const DTypeObject& d) { return std::string(name(d.dtype)); })
      .def("__reduce__", [](const DTypeObject& d) { return std::string(name(d.dtype)); });
  g_dtypes = new std::array<py::object, kNumDTypes>();
  for (int i = 0; i < kNumDTypes; ++i) {
    auto d = static_cast<DType>(i);
    (*g_dtypes)[static_cast<std::size_t>(i)] = py::cast(DTypeObject{d});
    m.attr(name(d)) = (*g_dtypes)[static_cast<std::size_t>(i)];
  }
  m.attr("bool_") = dtype_object(DType::bool_);

  // Device (ARG-3)
  py::class_<Device>(m, "Device", "A device: 'cpu', 'cuda:N' or 'sim:N'.")
      .def(py::init([](const std::string& s) { return Device::parse(s); }), py::arg("spec"))
      .def(py::init([](const std::string& type, int index) {
             Device d = Device::parse(type);
             ASTENSOR_CHECK_VALUE(!d.has_index() && index >= 0, "[Device] give the index once, as a non-negative int (got '",
                                  type, "', ", index, ")");
             if (d.is_cpu()) {
               ASTENSOR_CHECK_VALUE(index == 0, "[Device] the CPU has only index 0");
               return d;
             }
             return Device(d.type, index);
           }),
           py::arg("type"), py::arg("index"))
      .def_property_readonly("type", [](const Device& d) { return std::string(device_type_name(d.type)); })
      .def_property_readonly("index", [](const Device& d) -> py::object {
        if (!d.has_index()) return py::none();
        return py::int_(d.index);
      })
      .def("__str__", &Device::str)
      .def("__repr__", [](const Device& d) { return "astensor.Device('" + d.str() + "')"; })
      .def("__eq__", [](const Device& a, py::handle b) {
        if (py::isinstance<Device>(b)) return a == b.cast<Device>();
        if (PyUnicode_Check(b.ptr())) {
          try {
            return a == Device::parse(b.cast<std::string>());
          } catch (const Error&) {
            return false;
          }
        }
        return false;
      })
      // Equal to its string form (Device('cpu') == 'cpu'), so it hashes like it.
      .def("__hash__", [](const Device& d) { return py::hash(py::str(d.str())); });

  py::class_<Node, std::shared_ptr<Node>>(m, "GradFn", "A backward function (GRAD-1).")
      .def("name", [](const Node& n) { return std::string(n.name()); })
      .def("__repr__", [](const Node& n) { return "<" + std::string(n.name()) + ">"; });

  py::class_<NoGrad>(m, "no_grad", "Context manager: no autograd history inside (GRAD-3).")
      .def(py::init<>())
      .def("__enter__", [](NoGrad& g) {
        g.guards.push_back(std::make_unique<NoGradGuard>());
        return &g;
      }, py::return_value_policy::reference)
      .def("__exit__", [](NoGrad& g, py::args) {
        if (!g.guards.empty()) g.guards.pop_back();
        return false;
      });
  m.def("is_grad_enabled", &grad_enabled);

  init_tensor_type(m);
  init_stream_type(m);  // astensor.Stream (XFER-4): stream_object.cpp

  // Defaults (DT-4, DEV-1)
  m.def("set_default_dtype", [](py::handle d) { set_default_dtype(parse_dtype(d)); }, py::arg("dtype"));
  m.def("get_default_dtype", [] { return py::reinterpret_borrow<py::object>(dtype_object(default_dtype())); });
  m.def("set_default_device", [](py::handle d) {
    if (d.is_none()) set_default_device(std::nullopt);
    else set_default_device(parse_device(d));
  }, py::arg("device"));
  m.def("get_default_device", [] { return default_device().value_or(Device::cpu()); });

  // Introspection for tests.
  m.def("device_count", [](const std::string& type) {
    return backend(Device::parse(type).type).device_count();
  }, py::arg("type"), "Number of devices of a type ('cuda', 'sim'); 0 when absent.");
  m.def("_storage_stats", [] {
    auto s = storage_stats();
    return py::make_tuple(s.live_allocations, s.live_bytes);
  }, "(live allocations, live bytes) of library-allocated storage (leak checks, SEQ-6).");
m.def("_promote_types", [](py::handle a, py::handle b) -> py::object {
    auto r = promote_types(parse_dtype(a), parse_dtype(b));
    if (!r) return py::none();
    return py::reinterpret_borrow<py::object>(dtype_object(*r));
  }, "DT-2: the promotion table (None where PyTorch refuses the pair).");
#ifdef ASTENSOR_HAVE_IMPL
  m.attr("_have_impl") = true;
#else
  m.attr("_have_impl") = false;
#endif

  if (PyModule_AddFunctions(m.ptr(), g_fast_methods) != 0) throw py::error_already_set();

  init_sim_testing(m);  // astensor._astensor._sim_testing: test-only hooks (sim_testing.cpp)
}
