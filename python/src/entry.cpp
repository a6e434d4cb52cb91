// Entry points: ARG-1 parsing by hand (METH_FASTCALL | METH_KEYWORDS), ARG-2/ARG-3 argument
// conversion, and the reference / optimized switch.

#include "python/src/entry.h"

#include "core/backend.h"
#include "core/pending.h"
#include "core/storage.h"
#include "python/src/classify.h"
#include "python/src/stream_object.h"
#include "python/src/tensor_object.h"
#include "reference/as_tensor.h"

#ifdef ASTENSOR_HAVE_IMPL
#include "impl/as_tensor.h"
#include "impl/sequence_fast.h"
#endif

namespace astensor::python {

Tensor as_tensor_dispatch(const Source& s, const Options& o, bool reference) {
#ifdef ASTENSOR_HAVE_IMPL
  if (!reference) {
    // Python data: impl's walks instantiated with the final CPython reader, so its calls
    // (and the scalar-run hook, Note [Scalar runs]) are inlined. The same plan_sequence /
    // execute_sequence that impl::as_tensor runs for a SequenceSource.
    if (const auto* q = std::get_if<SequenceSource>(&s)) {
      if (auto* pr = dynamic_cast<PySequenceReader*>(q->reader))
        return astensor::impl::as_tensor_sequence(*pr, o);
    }
    return astensor::impl::as_tensor(s, o);
  }
#else
  (void)reference;
#endif
  return astensor::reference::as_tensor(s, o);
}

namespace {

#ifndef ASTENSOR_HAVE_IMPL
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "; ") + x;
  return s;
}

/// What the rules decide, described without converting (modules built without impl/'s planner).
std::string describe_plan(const Source& s, const Options& o) {
  std::string out;
  auto target = [&](std::optional<Device> own) { return target_device(o, own); };
  std::vector<std::string> reasons;
  if (auto* t = std::get_if<Tensor>(&s)) {
    const DType dt = o.dtype.value_or(t->dtype());
    const Device dev = target(t->device());
    out = "source: tensor " + t->shape().str() + " " + name(t->dtype()) + " on " + t->device().str();
    if (dt != t->dtype()) reasons.push_back(std::string("dtype change (") + name(t->dtype()) + " -> " + name(dt) + ")");
    if (dev != t->device()) reasons.push_back("device change (" + t->device().str() + " -> " + dev.str() + ")");
    if (reasons.empty() && o.copy != true) return out + "\ndecision: return the same tensor (TEN-1)";
  } else if (auto* v = std::get_if<ArrayView>(&s)) {
    const DType dt = o.dtype.value_or(v->dtype);
    const Device dev = target(v->device);
    out = "source: array " + v->shape.str() + " " + name(v->dtype) + " on " + v->device.str() +
          ", byte strides " + v->byte_strides.str() + (v->read_only ? ", read-only" : "");
    if (dt != v->dtype) reasons.push_back(std::string("dtype change (") + name(v->dtype) + " -> " + name(dt) + ")");
    if (dev != v->device) reasons.push_back("device change (" + v->device.str() + " -> " + dev.str() + ")");
    if (v->byteswapped) reasons.push_back("non-native byte order (ARR-4)");
    if (!has_element_strides(*v)) reasons.push_back("byte strides not multiples of the item size (ARR-5)");
    if (reasons.empty() && o.copy != true)
      return out + "\ndecision: share the memory, no copy (ARR-1)" +
             (v->read_only ? "; the tensor is read-only (ARR-7)" : "");
  } else {
    const Device dev = target(std::nullopt);
    out = "source: Python scalars / nested sequences; target " + dev.str();
    reasons.push_back("Python data is always copied (SEQ-1)");
  }
  if (o.copy == true) reasons.push_back("copy=True");
  if (o.copy == false) return out + "\ndecision: raise ValueError (copy=False, but " + join(reasons) + ")";
  return out + "\ndecision: copy (" + join(reasons) +
         "); casts run on the host, one element at a time (reference; the optimized planner "
         "is not built into this module)";
}
#endif

}  // namespace

std::string explain_dispatch(const Source& s, const Options& o) {
#ifdef ASTENSOR_HAVE_IMPL
  // COPY-2: explain() says what would happen, a refusal included (copy=False on Python
  // data, an unsupported cast...): the planner's typed error becomes the plan's text.
  try {
    return astensor::impl::explain(s, o);
  } catch (const Error& e) {
    static constexpr const char* kKinds[] = {"TypeError", "ValueError", "OverflowError",
                                             "RuntimeError"};
    return std::string("as_tensor plan: raise ") + kKinds[static_cast<int>(e.kind())] + "\n  " +
           e.what() + "\n";
  }
#else
  return describe_plan(s, o);
#endif
}

DType parse_dtype(py::handle h) {
  PyObject* o = h.ptr();
  if (py::isinstance<DTypeObject>(h)) return h.cast<const DTypeObject&>().dtype;
  if (PyUnicode_Check(o)) {
    std::string s = h.cast<std::string>();
    if (auto d = dtype_from_name(s)) return *d;  // our names (bfloat16 included)
    // Any other spelling as NumPy reads it: 'f4', '<i8', 'double', 'float' (float64), 'int'
    // (int64), 'complex', 'half', '?'... (torch takes no strings: NumPy is the reference).
    PyObject* descr = nullptr;
    if (npy().PyArray_DescrConverter_(o, &descr) && descr) {
      py::object keep = py::reinterpret_steal<py::object>(descr);
      bool swapped = false;
      if (auto d = dtype_from_numpy_descr(descr, &swapped)) return *d;
      throw TypeError("[as_tensor] dtype '" + s + "' is NumPy's " + short_repr(descr) +
                      ", which astensor does not support; supported: " + supported_dtypes_text());
    }
    PyErr_Clear();
    throw TypeError("[as_tensor] dtype '" + s + "' is not a dtype name (ours or NumPy's); known "
                    "names: " + supported_dtypes_text());
  }
  if (o == reinterpret_cast<PyObject*>(&PyBool_Type)) return DType::bool_;
  if (o == reinterpret_cast<PyObject*>(&PyLong_Type)) return DType::int64;
  if (o == reinterpret_cast<PyObject*>(&PyFloat_Type)) return DType::float64;
  if (o == reinterpret_cast<PyObject*>(&PyComplex_Type)) return DType::complex128;
  if (npy().PyArrayDescr_Check_(o)) {
    bool swapped = false;
    if (auto d = dtype_from_numpy_descr(o, &swapped)) return *d;
    throw TypeError("[as_tensor] NumPy dtype " + short_repr(o) + " is not supported; supported: " +
                    supported_dtypes_text());
  }
  if (PyType_Check(o) && PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(o), numpy_generic_type())) {
    py::object descr = py::dtype::from_args(py::reinterpret_borrow<py::object>(h));
    bool swapped = false;
    if (auto d = dtype_from_numpy_descr(descr.ptr(), &swapped)) return *d;
    throw TypeError("[as_tensor] NumPy type " + short_repr(o) + " is not supported; supported: " +
                    supported_dtypes_text());
  }
  if (type_name(o) == "torch.dtype") {
    std::string s = py::str(h).cast<std::string>();  // "torch.float32"
    if (s.rfind("torch.", 0) == 0) s = s.substr(6);
    if (auto d = dtype_from_name(s)) return *d;
    throw TypeError("[as_tensor] " + py::str(h).cast<std::string>() +
                    " has no astensor equivalent; supported: " + supported_dtypes_text());
  }
  throw TypeError("[as_tensor] dtype must be an astensor dtype, a dtype name, a NumPy dtype or "
                  "type, a torch.dtype, or bool/int/float/complex (got " + short_repr(o) +
                  " of type '" + type_name(o) + "')");
}

Device parse_device(py::handle h) {
  PyObject* o = h.ptr();
  if (py::isinstance<Device>(h)) return h.cast<Device>();
  if (PyUnicode_Check(o)) return Device::parse(h.cast<std::string>());
  if (PyLong_Check(o) && !PyBool_Check(o)) {
    int64_t i = h.cast<int64_t>();
    ASTENSOR_CHECK_VALUE(i >= 0 && i < (1 << 20), "[as_tensor] device index ", i,
                         " is not a valid CUDA device index");
    return Device(DeviceType::CUDA, static_cast<int>(i));
  }
  if (py::hasattr(h, "type") && py::hasattr(h, "index")) {  // torch.device and look-alikes
    py::object type = h.attr("type"), index = h.attr("index");
    if (!PyUnicode_Check(type.ptr()))
      throw TypeError("[as_tensor] device.type must be a str (got '" + type_name(type.ptr()) + "')");
    Device d = Device::parse(type.cast<std::string>());
    if (index.is_none()) return d;
    if (!PyLong_Check(index.ptr()))
      throw TypeError("[as_tensor] device.index must be an int or None (got '" +
                      type_name(index.ptr()) + "')");
    int64_t i = index.cast<int64_t>();
    ASTENSOR_CHECK_VALUE(i >= 0 && i < (1 << 20), "[as_tensor] device index ", i, " is not valid");
    if (d.is_cpu()) {
      ASTENSOR_CHECK_VALUE(i == 0, "[as_tensor] the CPU has only index 0 (got ", i, ")");
      return d;
    }
    return Device(d.type, static_cast<int>(i));
  }
  throw TypeError("[as_tensor] device must be an astensor.Device, a string such as 'cuda:1', "
                  "an int (a CUDA index) or an object with .type and .index (got " +
                  short_repr(o) + " of type '" + type_name(o) + "')");
}

namespace {

struct Args {
  PyObject* data = nullptr;
  Options options;
  /// stream= as an astensor.Stream (borrowed from the arguments, alive for the call): its
  /// device is checked against the conversion's (check_stream_device), and a non-blocking
  /// result holds its owner (hold_stream).
  const StreamObject* stream_object = nullptr;
};

bool key_is(PyObject* key, const char* name) {
  return PyUnicode_CompareWithASCIIString(key, name) == 0;
}

/// XFER-4: `stream=` is None, an astensor.Stream (whose device check_stream_device compares
/// with the conversion's), an int (a cudaStream_t's value, or a sim stream handle from
/// _sim_testing), or an object carrying one: torch.cuda.Stream (.cuda_stream), cupy's
/// Stream (.ptr). 0 is refused: it would mean the legacy default stream by accident.
void* parse_stream(PyObject* s, const StreamObject** object) {
  py::handle h(s);
  if (const StreamObject* so = stream_object_of(h)) {
    *object = so;
    return so->handle;
  }
  py::object value;
  if (PyLong_Check(s) && !PyBool_Check(s)) value = py::reinterpret_borrow<py::object>(h);
  else if (py::hasattr(h, "cuda_stream")) value = h.attr("cuda_stream");
  else if (py::hasattr(h, "ptr")) value = h.attr("ptr");
  else
    throw TypeError("[as_tensor] stream must be None, an astensor.Stream, an int stream handle, or a "
                    "stream object with .cuda_stream (torch) or .ptr (cupy) (got '" + type_name(s) + "')");
  if (!PyLong_Check(value.ptr()) || PyBool_Check(value.ptr()))
    throw TypeError("[as_tensor] the stream handle must be an int (got '" + type_name(value.ptr()) + "')");
  const long long v = PyLong_AsLongLong(value.ptr());
  if (v == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    throw OverflowError("[as_tensor] stream handle " + short_repr(value.ptr()) + " does not fit in 64 bits");
  }
  ASTENSOR_CHECK_VALUE(v > 0, "[as_tensor] stream ", v,
                       " is not a stream handle (0 and negative values are refused; pass None for the "
                       "current stream)");
  return reinterpret_cast<void*>(static_cast<intptr_t>(v));
}

/// ARG-1: as_tensor(data, *, dtype=None, device=None, copy=None, non_blocking=False,
/// stream=None); `data=` works as a keyword.
Args parse_args(const char* fn, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  Args a;
  if (nargs > 1)
    throw py::type_error(std::string(fn) + "() takes 1 positional argument but " +
                         std::to_string(nargs) + " were given (dtype, device, copy, non_blocking and "
                         "stream are keyword-only)");
  if (nargs == 1) a.data = args[0];
  PyObject *dtype = nullptr, *device = nullptr, *copy = nullptr, *non_blocking = nullptr, *stream = nullptr;
  if (kwnames) {
    const Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, i);
      PyObject* value = args[nargs + i];
      PyObject** slot = nullptr;
      if (key_is(key, "dtype")) slot = &dtype;
      else if (key_is(key, "device")) slot = &device;
      else if (key_is(key, "copy")) slot = &copy;
      else if (key_is(key, "non_blocking")) slot = &non_blocking;
      else if (key_is(key, "stream")) slot = &stream;
      else if (key_is(key, "data")) slot = &a.data;
      else
        throw py::type_error(std::string(fn) + "() got an unexpected keyword argument '" +
                             py::reinterpret_borrow<py::str>(key).cast<std::string>() + "'");
      if (*slot)
        throw py::type_error(std::string(fn) + "() got multiple values for argument '" +
                             py::reinterpret_borrow<py::str>(key).cast<std::string>() + "'");
      *slot = value;
    }
  }
  if (!a.data) throw py::type_error(std::string(fn) + "() missing required argument 'data'");
  if (dtype && dtype != Py_None) a.options.dtype = parse_dtype(dtype);
  if (device && device != Py_None) a.options.device = parse_device(device);
  if (copy && copy != Py_None) {
    if (!PyBool_Check(copy))
      throw TypeError("[as_tensor] copy must be None, True or False (got " + short_repr(copy) + ")");
    a.options.copy = copy == Py_True;
  }
  if (non_blocking) {
    if (!PyBool_Check(non_blocking))
      throw TypeError("[as_tensor] non_blocking must be True or False (got " + short_repr(non_blocking) + ")");
    a.options.non_blocking = non_blocking == Py_True;
  }
  if (stream && stream != Py_None) a.options.stream = parse_stream(stream, &a.stream_object);
  return a;
}

/// XFER-4: the conversion's device work runs on one device, the target's (the source's for
/// device -> host), and an astensor.Stream must belong to it: ValueError at call time naming
/// both, before anything is queued. Conversions without device work ignore the stream (as
/// they ignore non_blocking). An absent device is left for the conversion to report (DEV-3).
/// (An int or a torch/cupy stream carries no device here; the backend refuses a foreign one
/// when the work is queued.)
void check_stream_device(const Args& a, const Source& src) {
  if (!a.stream_object) return;
  std::optional<Device> own;
  if (const auto* t = std::get_if<Tensor>(&src)) own = t->device();
  else if (const auto* v = std::get_if<ArrayView>(&src)) own = v->device;
  Device target;
  try {
    target = target_device(a.options, own);
  } catch (const Error&) {
    return;  // the conversion raises it, naming the device
  }
  const Device source = own.value_or(Device::cpu());
  const Device work = target.is_cpu() ? source : target;
  if (work.is_cpu()) return;
  const Device s = a.stream_object->device;
  ASTENSOR_CHECK_VALUE(s == work, "[as_tensor] stream is a stream of ", s.str(), ", but this conversion (",
                       source.str(), " -> ", target.str(), ") runs on ", work.str(),
                       "; pass a Stream of ", work.str(), " (or None for its current stream)");
}

/// A non-blocking result queued on an owned astensor.Stream keeps that stream alive until its
/// work has run, so the handle __cuda_array_interface__ reports stays valid even when the
/// Stream object is freed first (Note [Pending results], core/pending.h).
void hold_stream(const Args& a, const Tensor& r) {
  if (!a.stream_object || !a.stream_object->owner || !r.defined()) return;
  if (const auto& pending = r.storage()->pending()) pending->hold(a.stream_object->owner);
}

/// Arrays and tensors this large are converted without holding the GIL: a copy of them
/// touches no Python object (the owners take the GIL themselves), so other Python threads
/// run meanwhile. Python data needs the GIL throughout (its reader calls CPython).
constexpr int64_t kReleaseGilBytes = int64_t(1) << 20;

bool worth_releasing_gil(const Source& s) {
  if (const auto* v = std::get_if<ArrayView>(&s)) {
    int64_t n = 1;
    for (int64_t d : v->shape) {
      if (d <= 0) return false;
      if (__builtin_mul_overflow(n, d, &n)) return false;  // validate() reports it
    }
    // The byte count can overflow where the element count does not (a hostile shape such
    // as (2**62,) of int16): UBSan found it; such a view is refused by validate() anyway.
    int64_t bytes = 0;
    if (__builtin_mul_overflow(n, static_cast<int64_t>(itemsize(v->dtype)), &bytes)) return false;
    return bytes >= kReleaseGilBytes;
  }
  if (const auto* t = std::get_if<Tensor>(&s)) {
    int64_t bytes = 0;
    return t->defined() &&
           !__builtin_mul_overflow(t->numel(), static_cast<int64_t>(t->itemsize()), &bytes) &&
           bytes >= kReleaseGilBytes;
  }
  return false;
}

template <bool kReference>
PyObject* as_tensor_entry(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) noexcept {
  try {
    Args a = parse_args("as_tensor", args, nargs, kwnames);
    Classified c = classify(a.data);
    check_stream_device(a, c.source);
    Tensor r;
    if (worth_releasing_gil(c.source)) {
      py::gil_scoped_release no_gil;
      r = as_tensor_dispatch(c.source, a.options, kReference);
    } else {
      r = as_tensor_dispatch(c.source, a.options, kReference);
    }
    hold_stream(a, r);
    // TEN-1: the same tensor comes back as the same Python object.
    if (is_tensor(a.data) && r.is_same(tensor_of(a.data))) return Py_NewRef(a.data);
    return wrap_tensor(std::move(r));
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

}  // namespace

PyObject* as_tensor_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return as_tensor_entry<false>(args, nargs, kwnames);
}

PyObject* reference_as_tensor_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                                   PyObject* kwnames) {
  return as_tensor_entry<true>(args, nargs, kwnames);
}

PyObject* explain_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    Args a = parse_args("explain", args, nargs, kwnames);
    Classified c = classify(a.data);
    std::string s;
    try {  // COPY-2: a refused stream is described as the plan's error, as impl::explain does
      check_stream_device(a, c.source);
    } catch (const ValueError& e) {
      s = detail::str_cat("as_tensor plan: raises ", error_kind_name(e.kind()), ": ", e.what(), "\n");
    }
    if (s.empty()) s = explain_dispatch(c.source, a.options);
    return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

}  // namespace astensor::python
