// The Python Tensor's conversions to other tensors, through as_tensor: to(), cpu(), cuda(),
// clone(), and contiguous() (the plain converter).

#include <optional>
#include <string>

#include "core/backend.h"
#include "core/convert.h"
#include "python/src/entry.h"
#include "python/src/tensor_parts.h"

namespace astensor::python {

namespace {

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

/// Whether a positional argument of to() names a dtype (astensor's, a Python type, a NumPy
/// dtype, torch's) rather than a device.
bool looks_like_dtype(py::handle h) {
  PyObject* o = h.ptr();
  return py::isinstance<DTypeObject>(h) || PyType_Check(o) || npy().PyArrayDescr_Check_(o) ||
         type_name(o) == "torch.dtype";
}

}  // namespace

void add_conversion_methods(py::handle cls) {
  // t.to(...): the arguments torch accepts. Positional: a device, a dtype, (device, dtype), or
  // another tensor (its device and dtype); keywords device=, dtype=, copy=, non_blocking=
  // (accepted and ignored: every copy here is blocking, XFER-1).
  add_method(
      cls, "to",
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
  add_method(cls, "cpu", [](py::handle self) -> py::object {
    const Tensor& t = self_tensor(self);
    if (t.device().is_cpu()) return py::reinterpret_borrow<py::object>(self);
    Options o;
    o.device = Device::cpu();
    return wrap(as_tensor_dispatch(Source(t), o, /*reference=*/false));
  }, "The tensor itself on the CPU, else a copy on the CPU.");
  add_method(
      cls, "cuda",
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
  add_method(cls, "clone", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    Options o;
    o.device = t.device();
    o.copy = true;
    return wrap(as_tensor_dispatch(Source(t), o, /*reference=*/false));
  }, "A copy with its own memory, same dtype and device, the layout kept when dense (TEN-3); "
     "recorded for autograd (GRAD-2).");
  add_method(cls, "contiguous", [](py::handle self) -> py::object {
    const Tensor& t = self_tensor(self);
    if (t.is_contiguous()) return py::reinterpret_borrow<py::object>(self);
    check_view_allowed(t, "contiguous");
    return wrap(contiguous_copy(t));
  }, "The tensor itself when C-contiguous, else a C-contiguous copy on the same device (the "
     "plain element-by-element converter, through the host for device tensors). Refused "
     "(RuntimeError) on a non-contiguous tensor that requires grad: no autograd for it.");
}

}  // namespace astensor::python
