// The Python Tensor type: the object, wrapping a Tensor, dealloc, repr, len, the slot table,
// the attributes (shape, strides, dtype, device, autograd ...), and the attachment of the
// exports (exports.cpp). The other parts are in the files tensor_parts.h lists.

#include "python/src/tensor_object.h"

#include <structmember.h>

#include <string>

#include "core/autograd.h"
#include "python/src/classify.h"
#include "python/src/entry.h"
#include "python/src/exports.h"
#include "python/src/tensor_parts.h"

namespace astensor::python {

namespace {

PyTypeObject* g_tensor_type = nullptr;

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

Py_ssize_t tensor_len(PyObject* self) {
  const Tensor& t = tensor_of(self);
  if (t.ndim() == 0) {
    PyErr_SetString(PyExc_TypeError, "len() of a 0-d tensor");
    return -1;
  }
  return static_cast<Py_ssize_t>(t.shape()[0]);
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
  add_to_python_methods(m, cls);
  add_indexing_methods(cls);
  add_conversion_methods(cls);

  auto int_tuple = [](const Dims& v, int64_t scale) {
    py::tuple out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = py::int_(v[i] * scale);
    return out;
  };

  add_property(cls, "shape", [int_tuple](py::handle self) { return int_tuple(self_tensor(self).shape(), 1); },
               "The sizes of the dimensions (a tuple of ints), as t.size().");
  add_property(
      cls, "strides",
      [int_tuple](py::handle self) {
        const Tensor& t = self_tensor(self);
        return int_tuple(t.strides(), static_cast<int64_t>(t.itemsize()));
      },
      "NumPy's strides: the step of each dimension in BYTES (ndarray.strides). torch's "
      "meaning, in elements, is t.stride().");
  add_property(cls, "nbytes", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    return t.numel() * static_cast<int64_t>(t.itemsize());
  }, "numel() * itemsize: the bytes the elements take (not the storage's size).");
  add_property(cls, "itemsize", [](py::handle self) { return self_tensor(self).itemsize(); },
               "The size of one element in bytes (as element_size()).");
  add_property(cls, "is_cuda", [](py::handle self) { return self_tensor(self).device().type == DeviceType::CUDA; },
               "True when the tensor lives on a CUDA device.");
  add_property(cls, "is_cpu", [](py::handle self) { return self_tensor(self).device().is_cpu(); },
               "True when the tensor lives on the CPU.");
  add_property(cls, "ndim", [](py::handle self) { return self_tensor(self).ndim(); });
  add_property(cls, "dtype", [](py::handle self) {
    return py::reinterpret_borrow<py::object>(dtype_object(self_tensor(self).dtype()));
  });
  add_property(cls, "device", [](py::handle self) { return py::cast(self_tensor(self).device()); });
  add_property(cls, "is_read_only", [](py::handle self) { return self_tensor(self).is_read_only(); });
  add_property(cls, "is_leaf", [](py::handle self) { return self_tensor(self).is_leaf(); });
  add_property(cls, "grad_fn", [](py::handle self) -> py::object {
    auto fn = self_tensor(self).grad_fn();
    if (!fn) return py::none();
    return py::cast(fn);
  });
  add_property(cls, "grad", [](py::handle self) -> py::object {
    Tensor g = self_tensor(self).grad();
    if (!g.defined()) return py::none();
    return wrap(g);
  });
  add_property(cls, "__cuda_array_interface__", cuda_array_interface);
  {
    py::cpp_function get([](py::handle self) { return self_tensor(self).requires_grad(); });
    py::cpp_function set([](py::handle self, bool r) { self_tensor(self).set_requires_grad(r); });
    cls.attr("requires_grad") = py::module_::import("builtins").attr("property")(get, set);
  }

  add_method(cls, "data_ptr", [](py::handle self) {
    return reinterpret_cast<uintptr_t>(self_tensor(self).data_ptr());
  });
  add_method(cls, "numel", [](py::handle self) { return self_tensor(self).numel(); });
  add_method(cls, "is_ready", [](py::handle self) { return self_tensor(self).is_ready(); },
             "False while a non_blocking=True conversion is still writing this tensor's memory "
             "(XFER-4); never blocks.");
  add_method(cls, "synchronize", [](py::handle self) { wait_until_final(self_tensor(self)); },
             "Blocks until this tensor's bytes are final (XFER-4); returns at once for a tensor "
             "made by a blocking conversion. Host reads through the library (numpy(), the buffer "
             "protocol, tolist(), item(), DLPack and __cuda_array_interface__ exports) wait or "
             "order the consumer themselves.");
  add_method(cls, "dim", [](py::handle self) { return self_tensor(self).ndim(); });
  add_method(cls, "is_contiguous", [](py::handle self) { return self_tensor(self).is_contiguous(); });
  add_method(cls, "storage_offset", [](py::handle self) { return self_tensor(self).offset(); });
  add_method(
      cls, "size",
      [int_tuple](py::handle self, py::object dim) -> py::object {
        const Tensor& t = self_tensor(self);
        if (dim.is_none()) return int_tuple(t.shape(), 1);
        return py::int_(t.shape()[wrap_dim(t, dim, "size")]);
      },
      py::arg("dim") = py::none(),
      "size(dim=None): the shape as a tuple, or the size of one dimension (negative counts from "
      "the end; IndexError out of range).");
  add_method(
      cls, "stride",
      [int_tuple](py::handle self, py::object dim) -> py::object {
        const Tensor& t = self_tensor(self);
        if (dim.is_none()) return int_tuple(t.strides(), 1);
        return py::int_(t.strides()[wrap_dim(t, dim, "stride")]);
      },
      py::arg("dim") = py::none(),
      "stride(dim=None): torch's strides, in ELEMENTS (t.strides is NumPy's, in bytes).");
  add_method(cls, "element_size", [](py::handle self) { return self_tensor(self).itemsize(); },
             "The size of one element in bytes.");
  add_method(cls, "numpy", to_numpy);
  add_method(
      cls, "__array__",
      [](py::handle self, py::object dtype, py::object copy) {
        py::object arr = to_numpy(self);
        if (!dtype.is_none()) arr = arr.attr("astype")(dtype, py::arg("copy") = false);
        if (!copy.is_none() && copy.cast<bool>()) arr = arr.attr("copy")();
        return arr;
      },
      py::arg("dtype") = py::none(), py::kw_only(), py::arg("copy") = py::none());
  add_method(
      cls, "backward",
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
  add_method(
      cls, "__dlpack__", dlpack_export, py::kw_only(), py::arg("stream") = py::none(),
      py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
      py::arg("copy") = py::none());
  add_method(cls, "__dlpack_device__", [](py::handle self) {
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
