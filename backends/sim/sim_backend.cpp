// The simulated accelerator (DESIGN.md "The simulated accelerator", SPEC DEV-4), after
// PyTorch's OpenReg: device memory is mmap'd and kept PROT_NONE except while a legal copy or
// kernel touches it, so a host access to device memory faults at once; each device has a
// memory capacity (sim::device_memory(), CUDA's out-of-memory); each stream is a worker thread
// running its queue in order (Note [sim streams model CUDA]); events are generation counters;
// a random-delay mode makes a missing wait corrupt data instead of passing by luck.
//
// This file is the Backend (SimBackend), its registration, and the sim:: functions of sim.h
// that go through it. Its parts, each in backends/sim/:
//   settings.cpp                            random delays, device memory capacity (environment)
//   link_model.cpp, detail/link_model.h     Note [the sim link model], ASTENSOR_SIM_LINK, copy engines
//   memory.cpp, detail/memory.h             the registry of mappings; opening device memory
//   streams.cpp, detail/streams.h           Note [sim streams model CUDA], SimStream, SimEvent
//   host_kernels.cpp                        the CastKernel run on host memory (launch_cast)
//
// Over ~450 lines on purpose: SimBackend is one class, the whole Backend interface over the
// tables its methods share (streams, events, the registry, the copy engines, the counters).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "core/fault.h"
#include "backends/sim/sim.h"
#include "backends/sim/host_kernels.h"
#include "backends/sim/detail/link_model.h"
#include "backends/sim/detail/memory.h"
#include "backends/sim/detail/settings.h"
#include "backends/sim/detail/streams.h"
#include "core/kernel_geometry.h"

namespace astensor {

namespace {

using sim::kDeviceCount;
using sim_detail::active_link_model;  // detail/link_model.h
using sim_detail::CopyEngine;
using sim_detail::engine_index;
using sim_detail::kPinned;  // detail/memory.h
using sim_detail::modelled_start;  // detail/streams.h
using sim_detail::set_modelled_end;
using sim_detail::OpenScope;
using sim_detail::Range;
using sim_detail::Registry;
using sim_detail::delays_from_env;  // detail/settings.h
using sim_detail::SimEvent;  // detail/streams.h
using sim_detail::SimStream;

// --- the backend ---------------------------------------------------------------------------

class SimBackend final : public Backend {
 public:
  SimBackend() { delays_from_env(); }

  DeviceType type() const override { return DeviceType::Sim; }
  int device_count() override { return kDeviceCount; }
  std::string unavailable_reason() override { return ""; }
  int current_device() override { return 0; }

  void* allocate(int device, std::size_t nbytes) override {
    check_device(device, "allocate");
    return reg_.map(nbytes, device);
  }
  void deallocate(int device, void* ptr) noexcept override {
    if (!ptr) return;
    // Like cudaFree: waits for the device's queued work first.
    if (device >= 0 && device < kDeviceCount)
      for (auto& s : streams_of(device)) s->wait_idle();
    if (!reg_.unmap(ptr, 0)) std::fprintf(stderr, "astensor: [sim] deallocate of unknown pointer %p\n", ptr);
  }

  void copy_sync(void* dst, Device dst_device, const void* src, Device src_device,
                 std::size_t nbytes) override {
    if (nbytes == 0) return;
    const Checked c = check_copy(dst, dst_device, src, src_device, nbytes);
    // Ordered after all queued work of the devices involved, as the CUDA backend's copy_sync
    // (which synchronizes them: cudaMemcpy alone would not wait for non-blocking streams).
    if (!src_device.is_cpu()) synchronize_device(src_device.index);
    if (!dst_device.is_cpu() && dst_device != src_device) synchronize_device(dst_device.index);
    fault::point(fault::Site::Copy);
    // The engines of the device the copy involves (the source's, but a host source's target).
    const ModelledCopy m = modelled_copy(c, nbytes, src_device.is_cpu() ? dst_device.index : src_device.index);
    run_copy(c, dst, src, nbytes, m);
  }

  void* allocate_pinned(std::size_t nbytes) override {
    // Note [the sim link model]: making pinned memory costs what cudaHostAlloc costs. A bad
    // ASTENSOR_SIM_LINK is reported by the copies, not here: pinning then costs nothing.
    std::optional<sim::LinkModel> model;
    try {
      model = active_link_model();
    } catch (const ValueError&) {
    }
    void* p = reg_.map(nbytes, -1);
    if (model)
      std::this_thread::sleep_for(std::chrono::duration<double>(static_cast<double>(nbytes) / model->pin_bytes_per_s));
    return p;
  }
  void free_pinned(void* ptr) noexcept override {
    if (ptr && !reg_.unmap(ptr, kPinned))
      std::fprintf(stderr, "astensor: [sim] free_pinned of unknown pointer %p\n", ptr);
  }
  void register_host(void* ptr, std::size_t nbytes) override {
    ASTENSOR_CHECK(ptr != nullptr && nbytes > 0, "[sim] register_host: empty buffer");
    ASTENSOR_CHECK(reg_.add_registered(ptr, nbytes), "[sim] register_host: [", ptr, ", +", nbytes,
                   ") overlaps memory sim already knows");
  }
  void unregister_host(void* ptr) noexcept override {
    if (ptr && !reg_.remove_registered(ptr))
      std::fprintf(stderr, "astensor: [sim] unregister_host of unknown pointer %p\n", ptr);
  }
  PointerInfo pointer_info(const void* ptr) override {
    const auto f = reg_.find(ptr, 0);
    if (!f.base) return {};
    if (f.device < 0) return {MemoryKind::Pinned, Device::cpu()};
    return {MemoryKind::Device, Device(DeviceType::Sim, f.device)};
  }

  // Streams.
  StreamHandle create_stream(int device) override {
    check_device(device, "create_stream");
    auto s = std::make_unique<SimStream>(device);
    SimStream* h = s.get();
    std::lock_guard<std::mutex> g(streams_m_);
    streams_[h] = std::move(s);
    return h;
  }
  void destroy_stream(int, StreamHandle h) noexcept override {
    std::shared_ptr<SimStream> s;
    {
      std::lock_guard<std::mutex> g(streams_m_);
      auto it = streams_.find(static_cast<SimStream*>(h));
      if (it == streams_.end() || is_default(it->first)) return;
      s = std::move(it->second);
      streams_.erase(it);
    }
    try {
      s->synchronize();
    } catch (...) {
    }
    // ~SimStream joins the worker.
  }
  StreamHandle current_stream(int device) override {
    check_device(device, "current_stream");
    SimStream* s = current_[device];
    return s ? s : default_stream(device);
  }
  void set_current_stream(int device, StreamHandle h) override {
    check_device(device, "set_current_stream");
    if (!h) {  // Note [Null handles] in core/backend.h: back to the device's default stream
      current_[device] = nullptr;
      return;
    }
    SimStream* s = stream(h);
    ASTENSOR_CHECK(s->device() == device, "[sim] set_current_stream: the stream belongs to sim:",
                   s->device(), ", not sim:", device);
    current_[device] = s;
  }
  void synchronize_stream(StreamHandle h) override { stream(h)->synchronize(); }
  void synchronize_device(int device) override {
    for (auto& s : streams_of(device)) s->synchronize();
  }

  // Events.
  EventHandle create_event(int device) override {
    check_device(device, "create_event");
    auto e = std::make_shared<SimEvent>(device);
    std::lock_guard<std::mutex> g(events_m_);
    events_[e.get()] = e;
    return e.get();
  }
  void destroy_event(EventHandle h) noexcept override {
    std::lock_guard<std::mutex> g(events_m_);
    events_.erase(static_cast<SimEvent*>(h));  // queued operations keep their own reference
  }
  void record_event(EventHandle h, StreamHandle sh) override {
    auto e = event(h);
    SimStream* s = stream(sh);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> g(e->m);
      gen = ++e->recorded;
    }
    s->mark([e, gen] {
      const auto at = modelled_start();  // Note [sim's modelled clock]: a record takes no time
      std::lock_guard<std::mutex> g(e->m);
      e->completed.store(std::max(e->completed.load(std::memory_order_relaxed), gen), std::memory_order_release);
      e->completed_at = std::max(e->completed_at, at);
      e->cv.notify_all();
    });
  }
  void stream_wait_event(StreamHandle sh, EventHandle h) override {
    auto e = event(h);
    SimStream* s = stream(sh);
    uint64_t target;
    {
      std::lock_guard<std::mutex> g(e->m);
      target = e->recorded;
    }
    if (target == 0) return;
    s->enqueue([e, target] {
      std::unique_lock<std::mutex> l = e->wait_for(target);
      // Note [sim's modelled clock]: the wait ends, in modelled time, when the event completed
      // or when the stream reached it, whichever is later; not when this worker got to it.
      set_modelled_end(std::max(modelled_start(), e->completed_at));
    });
  }
  void synchronize_event(EventHandle h) override {
    auto e = event(h);
    uint64_t target;
    {
      std::lock_guard<std::mutex> g(e->m);
      target = e->recorded;
    }
    e->wait_for(target);
  }
  bool query_event(EventHandle h) override {
    auto e = event(h);
    std::lock_guard<std::mutex> g(e->m);
    return e->completed.load(std::memory_order_relaxed) >= e->recorded;
  }

  void copy_async(void* dst, Device dst_device, const void* src, Device src_device,
                  std::size_t nbytes, StreamHandle sh) override {
    SimStream* s = stream(sh);
    if (nbytes == 0) return;
    const Checked c = check_copy(dst, dst_device, src, src_device, nbytes);
    const int dev = s->device();
    ASTENSOR_CHECK(dev == dst_device.index || dev == src_device.index,
                   "[sim] copy_async: the stream belongs to sim:", dev, ", which the copy ",
                   src_device.str(), " -> ", dst_device.str(), " does not involve");
    // Note [the sim link model]: under the model the copy holds an engine of the stream's device.
    const ModelledCopy m = modelled_copy(c, nbytes, dev);
    s->enqueue([this, c, dst, src, nbytes, m] {
      fault::point(fault::Site::Copy);  // fails like an asynchronous copy error
      run_copy(c, dst, src, nbytes, m);
    });
  }

  void launch_cast(int device, const CastKernel& k, StreamHandle sh) override {
    SimStream* s = stream(sh);
    check_device(device, "launch_cast");
    ASTENSOR_CHECK(s->device() == device, "[sim] launch_cast on sim:", device,
                   " with a stream of sim:", s->device());
    if (k.count <= 0) return;
    ASTENSOR_CHECK(k.src_strides.size() == k.shape.size() &&
                       (k.dst_strides.empty() || k.dst_strides.size() == k.shape.size()),
                   "[sim] launch_cast: strides and shape disagree in length");
    auto [slo, shi] = byte_extent(k.shape.span(), k.src_strides.span(), itemsize(k.src_dtype));
    std::pair<int64_t, int64_t> dext{0, k.count * int64_t(itemsize(k.dst_dtype))};
    if (!k.dst_strides.empty())
      dext = byte_extent(k.shape.span(), k.dst_strides.span(), itemsize(k.dst_dtype));
    const Range sb = device_range(static_cast<const char*>(k.src) + slo, shi - slo, device, "kernel source");
    const Range db = device_range(static_cast<char*>(k.dst) + dext.first, dext.second - dext.first, device,
                                  "kernel destination");
    counters_.kernel_launches.fetch_add(1, std::memory_order_relaxed);
    counters_.kernel_elements.fetch_add(static_cast<uint64_t>(k.count), std::memory_order_relaxed);
    Registry* reg = &reg_;
    std::atomic<uint64_t>* kernel_ns = &counters_.kernel_ns;
    s->enqueue([reg, k, sb, db, kernel_ns] {
      const auto t0 = std::chrono::steady_clock::now();
      OpenScope open(*reg, {sb, db});
      CastKernel on_alias = k;
      on_alias.src = open.at(k.src);
      on_alias.dst = open.at(k.dst);
      sim::run_cast_kernel_host(on_alias);
      kernel_ns->fetch_add(ns_since(t0), std::memory_order_relaxed);
    });
  }

  // See Note [sim streams model CUDA]: 1 and 2 name the device's own "legacy" and
  // "per-thread" default streams, never the library's streams.
  void wait_external_stream(int device, intptr_t producer, StreamHandle consumer) override {
    ASTENSOR_CHECK_VALUE(producer != 0, "[sim] stream 0 is disallowed by the protocol (CAI-3, DLP-2)");
    check_device(device, "wait_external_stream");
    SimStream* p = nullptr;
    if (producer == 1 || producer == 2) {
      p = external_stream(device, producer);
    } else {
      std::lock_guard<std::mutex> g(streams_m_);
      auto it = streams_.find(reinterpret_cast<SimStream*>(producer));
      ASTENSOR_CHECK_VALUE(it != streams_.end(), "[sim] stream ", producer, " is not a live sim stream");
      p = it->first;
    }
    ASTENSOR_CHECK_VALUE(p->device() == device, "[sim] stream ", producer, " belongs to sim:", p->device(),
                         ", not to sim:", device);
    Event e(*this, device);
    e.record(p);
    e.block(consumer);
  }

  void enqueue_sleep(StreamHandle h, unsigned microseconds) {
    // As exact as a modelled copy (wait_until), so a modelled kernel of the copy's time is not
    // longer than the copy by a sleep's wake-up lag.
    std::atomic<uint64_t>* kernel_ns = &counters_.kernel_ns;
    stream(h)->enqueue([microseconds, kernel_ns] {
      // Note [sim's modelled clock]: from the stream's modelled start, so a late worker catches up.
      const auto end = sim_detail::modelled_start() + std::chrono::microseconds(microseconds);
      sim_detail::wait_until(end);
      sim_detail::set_modelled_end(end);
      kernel_ns->fetch_add(uint64_t(microseconds) * 1000, std::memory_order_relaxed);  // its modelled time
    });
  }
  void enqueue_fill(StreamHandle h, void* dst, std::size_t nbytes, std::vector<unsigned char> pattern) {
    SimStream* s = stream(h);
    ASTENSOR_CHECK_VALUE(!pattern.empty() && nbytes % pattern.size() == 0, "[sim] enqueue_fill: ", nbytes,
                         " bytes is not a whole number of ", pattern.size(), "-byte patterns");
    if (nbytes == 0) return;
    const Range r = device_range(dst, static_cast<int64_t>(nbytes), s->device(), "fill destination");
    Registry* reg = &reg_;
    s->enqueue([reg, r, dst, nbytes, pattern = std::move(pattern)] {
      OpenScope open(*reg, {r});
      char* to = open.at(static_cast<char*>(dst));
      for (std::size_t i = 0; i < nbytes; i += pattern.size()) std::memcpy(to + i, pattern.data(), pattern.size());
    });
  }

  /// The device's stream for protocol id 1 (legacy default) or 2 (per-thread default).
  SimStream* external_stream(int device, intptr_t id) {
    check_device(device, "external_stream");
    ASTENSOR_CHECK_VALUE(id == 1 || id == 2, "[sim] external_stream: ", id,
                         " is not a protocol stream id (1: legacy default, 2: per-thread default)");
    const int k = static_cast<int>(id) - 1;
    std::call_once(external_once_[device][k], [&] {
      external_[device][k] = static_cast<SimStream*>(create_stream(device));
    });
    return external_[device][k].load();
  }

  TransferCounters counters() override {
    TransferCounters t;
    for (int l = 0; l < kNumLinks; ++l) {
      t.pinned_bytes[l] = counters_.pinned[l].load();
      t.pageable_bytes[l] = counters_.pageable[l].load();
      t.copies[l] = counters_.copies[l].load();
    }
    t.kernel_launches = counters_.kernel_launches.load();
    t.kernel_elements = counters_.kernel_elements.load();
    t.device_times = true;
    for (int l = 0; l < kNumLinks; ++l) t.copy_ns[l] = counters_.copy_ns[l].load();
    t.kernel_ns = counters_.kernel_ns.load();
    return t;
  }
  void reset_counters() override {
    for (int l = 0; l < kNumLinks; ++l) {
      counters_.pinned[l] = 0;
      counters_.pageable[l] = 0;
      counters_.copies[l] = 0;
    }
    counters_.kernel_launches = 0;
    counters_.kernel_elements = 0;
    for (auto& n : counters_.copy_ns) n = 0;
    counters_.kernel_ns = 0;
  }

  std::size_t live() { return reg_.live(); }
  std::size_t memory_used(int device) { return reg_.used(device); }

 private:
  struct Checked {
    Range src, dst;  // device memory to open (base 0: a host side)
    sim::LinkKind kind = sim::LinkKind::H2DPinned;  // for the link model
    int link = 0;                                   // the Link, for the counters
  };

  /// What the link model makes of a copy: the engine it holds (of `device`) and for how long;
  /// no engine while the model is off.
  struct ModelledCopy {
    CopyEngine* engine = nullptr;
    double seconds = 0;
  };
  ModelledCopy modelled_copy(const Checked& c, std::size_t nbytes, int device) {
    const std::optional<sim::LinkModel> model = active_link_model();
    if (!model) return {};
    return {&engines_[device][engine_index(*model, c.kind)], model->seconds(c.kind, static_cast<double>(nbytes))};
  }

  /// The memcpy of a checked copy, through the read-write views of the device memory it touches
  /// (Note [sim device memory]), holding the modelled copy's engine when there is one; adds the
  /// time it held the link (the engine's modelled time, else the memcpy's) to the counters.
  void run_copy(const Checked& c, void* dst, const void* src, std::size_t nbytes, const ModelledCopy& m) {
    auto copy = [&] {
      OpenScope open(reg_, {c.src, c.dst});
      if (c.dst.base) sim::copy_to_device_memory(open.at(dst), open.at(src), nbytes);  // Note [sim copies into device memory]
      else std::memcpy(open.at(dst), open.at(src), nbytes);
    };
    uint64_t ns = 0;
    if (m.engine) {
      ns = m.engine->run(m.seconds, copy);
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      copy();
      ns = ns_since(t0);
    }
    counters_.copy_ns[c.link].fetch_add(ns, std::memory_order_relaxed);
  }

  static uint64_t ns_since(std::chrono::steady_clock::time_point t0) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  }

  static void check_device(int device, const char* op) {
    ASTENSOR_CHECK(device >= 0 && device < kDeviceCount, "[sim] ", op, ": sim:", device,
                   " does not exist (found ", kDeviceCount, " sim devices)");
  }

  /// [p, p + n) inside a device allocation of `device`; RuntimeError otherwise.
  Range device_range(const void* p, int64_t n, int device, const char* what) {
    const auto f = reg_.find(p, static_cast<std::size_t>(n));
    ASTENSOR_CHECK(f.base != 0 && f.device == device, "[sim] ", what, " [", p, ", +", n,
                   ") is not memory of sim:", device);
    const uintptr_t lo = reinterpret_cast<uintptr_t>(p);
    return {f.base, lo, lo + static_cast<uintptr_t>(n)};
  }

  /// Checks the pointers against the devices, counts the bytes per link, and returns the
  /// allocations the copy must open.
  Checked check_copy(void* dst, Device dst_device, const void* src, Device src_device,
                     std::size_t nbytes) {
    Checked c;
    const int64_t n = static_cast<int64_t>(nbytes);
    ASTENSOR_CHECK(!(src_device.is_cpu() && dst_device.is_cpu()), "[sim] copy between two host buffers");
    bool pinned_host = true;
    auto host_side = [&](const void* p, const char* what) {
      const auto f = reg_.find(p, 0);
      ASTENSOR_CHECK(!(f.base && f.device >= 0), "[sim] ", what, " ", p,
                     " is sim device memory, not host memory");
      const auto pf = reg_.find(p, nbytes);
      pinned_host = pf.base != 0 && pf.device < 0;
    };
    if (src_device.is_cpu()) host_side(src, "copy source");
    else c.src = device_range(src, n, src_device.index, "copy source");
    if (dst_device.is_cpu()) host_side(dst, "copy destination");
    else c.dst = device_range(dst, n, dst_device.index, "copy destination");
    Link link = src_device.is_cpu()   ? Link::H2D
                : dst_device.is_cpu() ? Link::D2H
                : src_device == dst_device ? Link::D2D
                                           : Link::Peer;
    const int l = static_cast<int>(link);
    c.link = l;
    (pinned_host ? counters_.pinned[l] : counters_.pageable[l]).fetch_add(nbytes);
    counters_.copies[l].fetch_add(1);
    switch (link) {
      case Link::H2D: c.kind = pinned_host ? sim::LinkKind::H2DPinned : sim::LinkKind::H2DPageable; break;
      case Link::D2H: c.kind = pinned_host ? sim::LinkKind::D2HPinned : sim::LinkKind::D2HPageable; break;
      case Link::D2D: c.kind = sim::LinkKind::D2D; break;
      case Link::Peer: c.kind = sim::LinkKind::Peer; break;
    }
    return c;
  }

  /// Shared owners: another thread may destroy one of them while we wait on it.
  std::vector<std::shared_ptr<SimStream>> streams_of(int device) {
    std::vector<std::shared_ptr<SimStream>> list;
    std::lock_guard<std::mutex> g(streams_m_);
    for (auto& [p, s] : streams_)
      if (p->device() == device) list.push_back(s);
    return list;
  }
  SimStream* stream(StreamHandle h) {
    std::lock_guard<std::mutex> g(streams_m_);
    auto it = streams_.find(static_cast<SimStream*>(h));
    ASTENSOR_CHECK(it != streams_.end(), "[sim] ", h, " is not a live sim stream");
    return it->first;
  }
  std::shared_ptr<SimEvent> event(EventHandle h) {
    std::lock_guard<std::mutex> g(events_m_);
    auto it = events_.find(static_cast<SimEvent*>(h));
    ASTENSOR_CHECK(it != events_.end(), "[sim] ", h, " is not a live sim event");
    return it->second;
  }
  SimStream* default_stream(int device) {
    std::call_once(default_once_[device], [&] {
      default_[device] = static_cast<SimStream*>(create_stream(device));
    });
    return default_[device].load();
  }
  /// The streams nobody may destroy: the library's default streams and the protocol's.
  bool is_default(SimStream* s) const {
    for (int d = 0; d < kDeviceCount; ++d)
      if (default_[d].load() == s || external_[d][0].load() == s || external_[d][1].load() == s) return true;
    return false;
  }

  Registry reg_;
  CopyEngine engines_[kDeviceCount][2];  // Note [the sim link model]
  std::mutex streams_m_;
  std::map<SimStream*, std::shared_ptr<SimStream>> streams_;
  std::once_flag default_once_[kDeviceCount];
  std::atomic<SimStream*> default_[kDeviceCount] = {};
  std::once_flag external_once_[kDeviceCount][2];
  std::atomic<SimStream*> external_[kDeviceCount][2] = {};  // [device][id - 1]
  static thread_local SimStream* current_[kDeviceCount];
  std::mutex events_m_;
  std::map<SimEvent*, std::shared_ptr<SimEvent>> events_;
  struct {
    std::atomic<uint64_t> pinned[kNumLinks]{}, pageable[kNumLinks]{}, copies[kNumLinks]{};
    std::atomic<uint64_t> kernel_launches{0}, kernel_elements{0};
    std::atomic<uint64_t> copy_ns[kNumLinks]{}, kernel_ns{0};
  } counters_;
};

thread_local SimStream* SimBackend::current_[kDeviceCount] = {};

SimBackend& the_sim() {
  // Never destroyed: stream workers may still be parked at exit.
  static SimBackend* be = new SimBackend();
  return *be;
}

}  // namespace

Backend& sim_backend() { return the_sim(); }

// Note [Backend registry] in core/backend.h: kept by astensor_backends linking this library whole.
namespace {
[[maybe_unused]] const bool registered = register_backend(DeviceType::Sim, &sim_backend);
}  // namespace

namespace sim {

std::size_t live_allocations() { return the_sim().live(); }
StreamHandle external_stream(int device, intptr_t id) { return the_sim().external_stream(device, id); }
void enqueue_sleep(StreamHandle stream, unsigned microseconds) { the_sim().enqueue_sleep(stream, microseconds); }
void enqueue_fill(StreamHandle stream, void* dst, std::size_t nbytes, const void* pattern, std::size_t pattern_bytes) {
  const auto* b = static_cast<const unsigned char*>(pattern);
  the_sim().enqueue_fill(stream, dst, nbytes, std::vector<unsigned char>(b, b + pattern_bytes));
}
std::size_t device_memory_used(int device) {
  ASTENSOR_CHECK_VALUE(device >= 0 && device < kDeviceCount, "[sim] device_memory_used: sim:", device,
                       " does not exist (found ", kDeviceCount, " sim devices)");
  return the_sim().memory_used(device);
}

}  // namespace sim

}  // namespace astensor
