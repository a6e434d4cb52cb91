// astensor.Stream: a library stream of one device, for as_tensor(..., stream=) (XFER-4).

#include "python/src/stream_object.h"

#include <cstdint>

#include "core/error.h"
#include "python/src/entry.h"

namespace astensor::python {

namespace {

int64_t as_int(StreamHandle h) { return static_cast<int64_t>(reinterpret_cast<intptr_t>(h)); }

/// The device a Stream is made for: what as_tensor's device= accepts, resolved (DEV-3:
/// RuntimeError naming an absent device), never the CPU (ValueError: it has no streams).
Device stream_device(py::handle spec) {
  Device d;
  try {
    d = parse_device(spec);
  } catch (const Error& e) {  // parse_device speaks for as_tensor; say who asked
    std::string m = e.what();
    const std::string from = "[as_tensor]";
    if (m.rfind(from, 0) == 0) m = "[Stream]" + m.substr(from.size());
    switch (e.kind()) {
      case ErrorKind::Type: throw TypeError(m);
      case ErrorKind::Value: throw ValueError(m);
      case ErrorKind::Overflow: throw OverflowError(m);
      case ErrorKind::Runtime: throw RuntimeError(m);
    }
    throw;
  }
  ASTENSOR_CHECK_VALUE(!d.is_cpu(), "[Stream] the CPU has no streams (got device ", short_repr(spec.ptr()),
                       "); name a device such as 'cuda:0' or 'sim:0'");
  return resolve_device(d);
}

/// Frees an owned stream. The backend may block until the stream's queued work has run (sim
/// does; CUDA does not), so the GIL is let go meanwhile when this thread holds it (the last
/// owner may also be a Pending completing on a thread without the GIL).
void destroy_owned(astensor::Stream* s) {
  if (PyGILState_Check()) {
    py::gil_scoped_release no_gil;
    delete s;
  } else {
    delete s;
  }
}

StreamObject make_owned(py::handle spec) {
  const Device d = stream_device(spec);
  std::shared_ptr<astensor::Stream> owner(new astensor::Stream(backend(d.type), d.index), destroy_owned);
  return StreamObject{d, owner->get(), std::move(owner)};
}

StreamObject current(py::handle spec) {
  const Device d = stream_device(spec);
  return StreamObject{d, backend(d.type).current_stream(d.index), nullptr};
}

void synchronize(const StreamObject& s) {
  py::gil_scoped_release no_gil;
  backend(s.device.type).synchronize_stream(s.handle);
}

/// `s` waits (on the device, the host does not block) for the work queued so far on `other`.
void wait_stream(const StreamObject& s, py::handle other_h) {
  const StreamObject* other = stream_object_of(other_h);
  if (!other)
    throw TypeError("[Stream.wait_stream] other must be an astensor.Stream (got " + short_repr(other_h.ptr()) +
                    " of type '" + type_name(other_h.ptr()) + "')");
  ASTENSOR_CHECK_VALUE(other->device == s.device, "[Stream.wait_stream] the stream is on ", s.device.str(),
                       " but the stream to wait for is on ", other->device.str(), " (same device only)");
  Backend& be = backend(s.device.type);
  Event e(be, s.device.index);
  e.record(other->handle);
  e.block(s.handle);
}

std::string repr(const StreamObject& s) {
  return detail::str_cat("<astensor.Stream ", s.device.str(), " handle=", as_int(s.handle),
                         s.owner ? ">" : " (the current stream, not owned)>");
}

}  // namespace

const StreamObject* stream_object_of(py::handle h) {
  if (!py::isinstance<StreamObject>(h)) return nullptr;
  return &h.cast<const StreamObject&>();
}

void init_stream_type(py::module_& m) {
  py::class_<StreamObject>(
      m, "Stream",
      "A stream of one device (XFER-4), to pass as as_tensor(..., stream=).\n\n"
      "Stream(device) makes a new stream of that device ('cuda:0', 'sim:1', a Device, an int\n"
      "CUDA index or a torch.device); it does not synchronize with other streams (CUDA:\n"
      "cudaStreamNonBlocking). It is destroyed when the object is freed and no pending\n"
      "conversion queued on it is left; work already queued still runs.\n"
      "Stream.current(device) is astensor's current stream of the device (per thread), not owned.\n\n"
      "as_tensor(..., stream=s) refuses s when it belongs to another device than the one doing the\n"
      "conversion's work (the target's; the source's for device -> host).")
      .def(py::init(&make_owned), py::arg("device"))
      .def_static("current", &current, py::arg("device"),
                  "astensor's current stream of `device` for this thread (what stream=None uses); "
                  "not owned: it stays the library's.")
      .def_property_readonly("device", [](const StreamObject& s) { return s.device; })
      .def_property_readonly("handle", [](const StreamObject& s) { return as_int(s.handle); },
                             "The backend's handle as an int (CUDA: the cudaStream_t).")
      .def_property_readonly(
          "cuda_stream", [](const StreamObject& s) { return as_int(s.handle); },
          "The same int as .handle, under torch.cuda.Stream's name so that code reading "
          "s.cuda_stream works (CUDA: the cudaStream_t; sim: sim's own handle, meaningful to "
          "astensor only).")
      .def_property_readonly("owned", [](const StreamObject& s) { return s.owner != nullptr; },
                             "True for Stream(device), False for Stream.current(device).")
      .def("synchronize", &synchronize,
           "Blocks (without the GIL) until the work queued on the stream has run; raises a "
           "failure of that work.")
      .def("wait_stream", &wait_stream, py::arg("other"),
           "Makes this stream wait for the work queued so far on `other` (same device) before "
           "running what is queued on it later; the host does not block.")
      .def("__repr__", &repr)
      .def("__eq__",
           [](const StreamObject& s, py::handle o) -> py::object {
             const StreamObject* other = stream_object_of(o);
             if (!other) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             return py::bool_(other->device == s.device && other->handle == s.handle);
           })
      .def("__hash__", [](const StreamObject& s) {
        return py::hash(py::make_tuple(s.device.str(), as_int(s.handle)));
      });
}

}  // namespace astensor::python
