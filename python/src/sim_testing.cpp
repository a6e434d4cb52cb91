// astensor._sim_testing: TEST-ONLY hooks into the simulated accelerator, so the Python
// suites can play a device producer with pending work (issue 11 section 5): a producer's own
// sim stream, a pause and a fill queued on it, a stream that waits for another or for a
// tensor's pending copy, a DLPack capsule of a sim tensor (kDLExtDev, as our export writes it)
// that the public __dlpack__ refuses to make, and sim's link model for a scope. Not part of the
// library's interface: only conformance/ and the overlap bench (bench/overlap.py) use it.
//
// Streams are Python ints, as the protocols carry them: 1 and 2 name the device's protocol
// streams (Note [sim streams model CUDA] in backends/sim/detail/streams.h), anything else is a
// sim stream handle. Every hook takes the device the stream belongs to.

#include "python/src/sim_testing.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/cast.h"
#include "core/pending.h"
#include "backends/sim/sim.h"
#include "python/src/exports.h"
#include "python/src/tensor_object.h"

namespace astensor::python {

namespace {

Backend& sim_be() { return backend(DeviceType::Sim); }

int sim_device(int device) {
  return resolve_device(Device(DeviceType::Sim, device)).index;  // RuntimeError for sim:7
}

StreamHandle handle(int device, int64_t stream) {
  ASTENSOR_CHECK_VALUE(stream != 0, "[_sim_testing] stream 0 is disallowed by the protocols");
  if (stream == 1 || stream == 2) return sim::external_stream(sim_device(device), static_cast<intptr_t>(stream));
  return reinterpret_cast<StreamHandle>(static_cast<intptr_t>(stream));
}

int64_t as_int(StreamHandle h) { return static_cast<int64_t>(reinterpret_cast<intptr_t>(h)); }

/// The capsule our __dlpack__ would make for `o`, which the public export refuses for sim
/// memory: the same builder (make_dlpack_capsule), without that refusal.
py::object capsule(py::handle o, bool versioned) {
  const Tensor& t = self_tensor(o);
  ASTENSOR_CHECK_VALUE(t.device().type == DeviceType::Sim, "[_sim_testing] capsule: the tensor is on ",
                       t.device().str(), ", not on a sim device");
  return make_dlpack_capsule(t, versioned, 0);
}

/// A tensor on sim:device (any layout), checked.
const Tensor& tensor_on(py::handle o, int device, const char* where) {
  const Tensor& t = self_tensor(o);
  ASTENSOR_CHECK_VALUE(t.device() == Device(DeviceType::Sim, sim_device(device)), "[_sim_testing] ", where,
                       ": the tensor is on ", t.device().str(), ", not on sim:", device);
  return t;
}

/// A tensor on sim:device that is dense in memory (C-contiguous), checked.
const Tensor& dense_tensor_on(py::handle o, int device, const char* where) {
  const Tensor& t = tensor_on(o, device, where);
  ASTENSOR_CHECK_VALUE(t.is_contiguous(), "[_sim_testing] ", where, ": the tensor must be contiguous");
  return t;
}

/// A link model as a dict: enabled, engines, and per link kind (sim::link_kind_name) the
/// bandwidth in bytes/s and the latency in microseconds.
py::dict model_dict(const sim::LinkModel& m) {
  py::dict bandwidth, latency;
  for (int k = 0; k < sim::kNumLinkKinds; ++k) {
    const char* name = sim::link_kind_name(static_cast<sim::LinkKind>(k));
    bandwidth[name] = m.bandwidth[k];
    latency[name] = m.latency_us[k];
  }
  py::dict d;
  d["enabled"] = m.enabled;
  d["engines"] = m.engines;
  d["bandwidth"] = bandwidth;
  d["latency_us"] = latency;
  return d;
}

/// `with link_model_scope(text) as model:` sim's link model parsed from `text` (the
/// ASTENSOR_SIM_LINK syntax, backends/sim/sim.h) for the block, the previous model restored on
/// exit; `model` is its dict. A bad text raises ValueError at construction.
class LinkModelScope {
 public:
  explicit LinkModelScope(const std::string& text)
      : model_(sim::parse_link_model(text, "_sim_testing.link_model_scope")) {}
  py::dict enter() {
    ASTENSOR_CHECK_VALUE(!old_, "[_sim_testing] link_model_scope: already entered");
    old_ = sim::link_model();
    sim::set_link_model(model_);
    return model_dict(model_);
  }
  void exit() {
    if (!old_) return;
    sim::set_link_model(*old_);
    old_.reset();
  }

 private:
  sim::LinkModel model_;
  std::optional<sim::LinkModel> old_;
};

}  // namespace

void init_sim_testing(py::module_& parent) {
  py::module_ m = parent.def_submodule(
      "_sim_testing", "TEST-ONLY hooks into the simulated accelerator (python/src/sim_testing.cpp).");
  m.def("stream", [](int device) { return as_int(sim_be().create_stream(sim_device(device))); }, py::arg("device"),
        "A new sim stream of sim:device (an int handle); destroy it with destroy_stream.");
  m.def("destroy_stream", [](int device, int64_t s) { sim_be().destroy_stream(sim_device(device), handle(device, s)); },
        py::arg("device"), py::arg("stream"));
  m.def("current_stream", [](int device) { return as_int(sim_be().current_stream(sim_device(device))); },
        py::arg("device"), "The library's current stream of sim:device (the stream a DLPack import names).");
  m.def("external_stream", [](int device, int64_t id) {
          return as_int(sim::external_stream(sim_device(device), static_cast<intptr_t>(id)));
        }, py::arg("device"), py::arg("id"), "The sim stream that protocol id 1 or 2 names on sim:device.");
  m.def("sleep", [](int device, int64_t s, unsigned microseconds) {
          sim::enqueue_sleep(handle(device, s), microseconds);
        }, py::arg("device"), py::arg("stream"), py::arg("microseconds"), "Queues a pause on the stream.");
  m.def("fill", [](int device, int64_t s, py::handle tensor, double value) {
          const Tensor& t = dense_tensor_on(tensor, device, "fill");
          std::vector<unsigned char> pattern(t.itemsize());
          cast_one(&value, DType::float64, pattern.data(), t.dtype());
          sim::enqueue_fill(handle(device, s), const_cast<void*>(t.data_ptr()),
                            static_cast<std::size_t>(t.numel()) * t.itemsize(), pattern.data(), pattern.size());
        }, py::arg("device"), py::arg("stream"), py::arg("tensor"), py::arg("value"),
        "Queues a write of `value` (cast to the tensor's dtype) over every element of a contiguous sim tensor.");
  m.def("wait", [](int device, int64_t consumer, int64_t producer) {
          sim_be().wait_external_stream(sim_device(device), static_cast<intptr_t>(producer), handle(device, consumer));
        }, py::arg("device"), py::arg("consumer"), py::arg("producer"),
        "Makes `consumer` wait for the work queued so far on `producer` (what a DLPack producer does "
        "for the stream its consumer names).");
  m.def("wait_tensor", [](int device, int64_t s, py::handle tensor) {
          const Tensor& t = tensor_on(tensor, device, "wait_tensor");
          if (const auto& pending = t.storage()->pending()) pending->order_before(handle(device, s));
        }, py::arg("device"), py::arg("stream"), py::arg("tensor"),
        "Makes `stream` wait for the work still writing a sim tensor (its Pending, core/pending.h: "
        "what a consumer of a non-blocking result does), without blocking the host; nothing to do "
        "for a ready tensor.");
  m.def("record", [](int device, int64_t s) {
          const int d = sim_device(device);
          EventHandle e = sim_be().create_event(d);
          try {
            sim_be().record_event(e, handle(device, s));
          } catch (...) {
            sim_be().destroy_event(e);
            throw;
          }
          return static_cast<int64_t>(reinterpret_cast<intptr_t>(e));
        }, py::arg("device"), py::arg("stream"),
        "A new event recorded on the stream now (an int); event_wait waits for it and frees it.");
  m.def("event_wait", [](int64_t e) {
          auto* h = reinterpret_cast<EventHandle>(static_cast<intptr_t>(e));
          ASTENSOR_CHECK_VALUE(h != nullptr, "[_sim_testing] event_wait: 0 is not an event");
          {
            py::gil_scoped_release no_gil;
            sim_be().synchronize_event(h);
          }
          sim_be().destroy_event(h);
        }, py::arg("event"),
        "Blocks until the work queued before the event (record) has run, then frees the event.");
  m.def("synchronize", [](int device, int64_t s) { sim_be().synchronize_stream(handle(device, s)); },
        py::arg("device"), py::arg("stream"));
  m.def("capsule", &capsule, py::arg("tensor"), py::arg("versioned") = true,
        "A DLPack capsule (kDLExtDev, the sim index) sharing a sim tensor's memory; test-only: the "
        "public __dlpack__ refuses sim memory.");
  m.def("device_memory", [] { return sim::device_memory(); }, "Capacity of each sim device, in bytes.");
  m.def("set_device_memory", [](std::size_t bytes) { sim::set_device_memory(bytes); }, py::arg("bytes"));
  m.def("device_memory_used", [](int device) { return sim::device_memory_used(sim_device(device)); },
        py::arg("device"), "Bytes of sim:device in use: live allocations and sim's cached mappings.");
  m.def("link_model", [] { return model_dict(sim::link_model()); },
        "sim's link model in force now, as a dict (enabled, engines, bandwidth and latency_us per link kind).");
  py::class_<LinkModelScope>(m, "link_model_scope",
                             "`with link_model_scope(text) as model:` sim's link model parsed from `text` "
                             "(ASTENSOR_SIM_LINK's syntax) for the block, the previous one restored after it.")
      .def(py::init<const std::string&>(), py::arg("text"))
      .def("__enter__", &LinkModelScope::enter)
      .def("__exit__", [](LinkModelScope& self, const py::args&) { self.exit(); });
}

}  // namespace astensor::python
