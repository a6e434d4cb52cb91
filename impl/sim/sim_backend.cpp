// The simulated accelerator (DESIGN.md "The simulated accelerator", SPEC DEV-4), after
// PyTorch's OpenReg: device memory is mmap'd and kept PROT_NONE except while a legal copy or
// kernel touches it, so a host access to device memory faults at once; each stream is a
// worker thread running its queue in order; events are generation counters; a random-delay
// mode makes a missing wait corrupt data instead of passing by luck.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "core/fault.h"
#include "impl/sim/sim.h"
#include "impl/transfer/host_kernels.h"

namespace astensor {

namespace {

using sim::kDeviceCount;

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

// --- random delays ---------------------------------------------------------------------------

std::atomic<uint64_t> g_delays{0};  // (min << 32) | max, microseconds

void delays_from_env() {
  const char* e = std::getenv("ASTENSOR_SIM_DELAY_US");
  if (!e || !*e) return;
  char* end = nullptr;
  unsigned long a = std::strtoul(e, &end, 10), b = a, lo = 0;
  if (end && *end == ',') {
    b = std::strtoul(end + 1, nullptr, 10);
    lo = a;
  }
  sim::set_random_delays(static_cast<unsigned>(lo), static_cast<unsigned>(b));
}

void maybe_delay() {
  const uint64_t d = g_delays.load(std::memory_order_relaxed);
  const unsigned lo = static_cast<unsigned>(d >> 32), hi = static_cast<unsigned>(d);
  if (hi == 0) return;
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<unsigned> dist(lo, std::max(lo, hi));
  std::this_thread::sleep_for(std::chrono::microseconds(dist(rng)));
}

// --- memory registry ---------------------------------------------------------------------------

struct Alloc {
  std::size_t size = 0;      // bytes asked for
  std::size_t map_size = 0;  // bytes mapped (whole pages, at least one)
  int device = -1;           // -1: pinned host memory
  int open = 0;              // legal accesses in progress (device memory only)
};

/// Every sim allocation, keyed by base address. One mutex guards the map and the
/// protection changes, so open counts and mprotect calls stay consistent across streams.
class Registry {
 public:
  void* map(std::size_t nbytes, int device) {
    fault::point(device >= 0 ? fault::Site::DeviceAlloc : fault::Site::PinnedAlloc);
    const std::size_t ps = page_size();
    const std::size_t map_size = std::max<std::size_t>(ps, (nbytes + ps - 1) / ps * ps);
    const int prot = device >= 0 ? PROT_NONE : PROT_READ | PROT_WRITE;
    void* p = mmap(nullptr, map_size, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASTENSOR_CHECK(p != MAP_FAILED, "[sim] out of memory allocating ", nbytes, " bytes",
                   device >= 0 ? " on sim:" : " of pinned host memory", device >= 0 ? std::to_string(device) : "");
    std::lock_guard<std::mutex> g(m_);
    allocs_[reinterpret_cast<uintptr_t>(p)] = Alloc{nbytes, map_size, device, 0};
    return p;
  }

  /// Unmaps; false when `p` is not the base of a live allocation of that kind.
  bool unmap(void* p, int device_or_pinned) {
    std::lock_guard<std::mutex> g(m_);
    auto it = allocs_.find(reinterpret_cast<uintptr_t>(p));
    if (it == allocs_.end() || (device_or_pinned < 0) != (it->second.device < 0)) return false;
    munmap(p, it->second.map_size);
    allocs_.erase(it);
    return true;
  }

  /// The allocation holding [p, p + n), or nullopt-like {0, {}}.
  std::pair<uintptr_t, Alloc> find(const void* p, std::size_t n) {
    std::lock_guard<std::mutex> g(m_);
    return find_locked(reinterpret_cast<uintptr_t>(p), n);
  }

  /// Opens the pages of the allocation at `base` for a legal access; false if it is gone.
  bool open(uintptr_t base) {
    std::lock_guard<std::mutex> g(m_);
    auto it = allocs_.find(base);
    if (it == allocs_.end()) return false;
    if (it->second.open++ == 0)
      mprotect(reinterpret_cast<void*>(base), it->second.map_size, PROT_READ | PROT_WRITE);
    return true;
  }
  void close(uintptr_t base) {
    std::lock_guard<std::mutex> g(m_);
    auto it = allocs_.find(base);
    if (it == allocs_.end()) return;
    if (--it->second.open == 0)
      mprotect(reinterpret_cast<void*>(base), it->second.map_size, PROT_NONE);
  }

  std::size_t live() {
    std::lock_guard<std::mutex> g(m_);
    return allocs_.size();
  }

 private:
  std::pair<uintptr_t, Alloc> find_locked(uintptr_t p, std::size_t n) {
    auto it = allocs_.upper_bound(p);
    if (it == allocs_.begin()) return {0, {}};
    --it;
    const uintptr_t base = it->first;
    // n > 0: the range lies inside the asked-for size; n == 0: p points into the mapping's
    // first max(size, 1) bytes (a zero-byte allocation still owns its base address).
    const std::size_t size = it->second.size;
    if (n > 0 ? (p >= base && p + n <= base + size) : (p >= base && p < base + std::max<std::size_t>(size, 1)))
      return {base, it->second};
    return {0, {}};
  }

  std::mutex m_;
  std::map<uintptr_t, Alloc> allocs_;
};

/// Opens device allocations for the scope of one legal operation (the OpenReg
/// ScopedMemoryProtector). Throws when one was freed while the operation was queued.
class OpenScope {
 public:
  OpenScope(Registry& r, std::initializer_list<uintptr_t> bases) : r_(r) {
    for (uintptr_t b : bases) {
      if (b == 0 || std::find(open_.begin(), open_.end(), b) != open_.end()) continue;
      if (!r_.open(b)) {
        release();
        throw RuntimeError("[sim] device memory was freed while an operation on it was queued");
      }
      open_.push_back(b);
    }
  }
  ~OpenScope() { release(); }

 private:
  void release() {
    for (uintptr_t b : open_) r_.close(b);
    open_.clear();
  }
  Registry& r_;
  std::vector<uintptr_t> open_;
};

// --- streams and events ----------------------------------------------------------------------

class SimStream {
 public:
  explicit SimStream(int device) : device_(device), worker_([this] { run(); }) {}
  ~SimStream() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  int device() const { return device_; }

  void enqueue(std::function<void()> op) {
    {
      std::lock_guard<std::mutex> g(m_);
      q_.push_back(std::move(op));
    }
    cv_.notify_all();
  }
  /// Waits until the queue is empty and idle; rethrows the first failure of queued work.
  void synchronize() {
    std::unique_lock<std::mutex> l(m_);
    idle_cv_.wait(l, [&] { return q_.empty() && !running_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }
  /// Waits until idle, leaving a failure for the next synchronize().
  void wait_idle() {
    std::unique_lock<std::mutex> l(m_);
    idle_cv_.wait(l, [&] { return q_.empty() && !running_; });
  }

 private:
  void run() {
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      cv_.wait(l, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;  // stop_ with nothing left
      auto op = std::move(q_.front());
      q_.pop_front();
      running_ = true;
      l.unlock();
      maybe_delay();
      std::exception_ptr err;
      try {
        op();
      } catch (...) {
        err = std::current_exception();
      }
      op = nullptr;
      l.lock();
      if (err && !error_) error_ = err;
      running_ = false;
      if (q_.empty()) idle_cv_.notify_all();
    }
  }

  const int device_;
  std::mutex m_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> q_;
  bool running_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: starts after the members above exist
};

struct SimEvent {
  explicit SimEvent(int d) : device(d) {}
  const int device;
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0;   // generation of the last record()
  uint64_t completed = 0;  // highest generation whose record has run
};

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
      for (SimStream* s : streams_of(device)) s->wait_idle();
    if (!reg_.unmap(ptr, 0)) std::fprintf(stderr, "astensor: [sim] deallocate of unknown pointer %p\n", ptr);
  }

  void copy_sync(void* dst, Device dst_device, const void* src, Device src_device,
                 std::size_t nbytes) override {
    if (nbytes == 0) return;
    const Checked c = check_copy(dst, dst_device, src, src_device, nbytes);
    // Ordered after queued work, as cudaMemcpy on the legacy default stream.
    if (!src_device.is_cpu()) synchronize_device(src_device.index);
    if (!dst_device.is_cpu() && dst_device != src_device) synchronize_device(dst_device.index);
    fault::point(fault::Site::Copy);
    OpenScope open(reg_, {c.src_base, c.dst_base});
    std::memcpy(dst, src, nbytes);
  }

  void* allocate_pinned(std::size_t nbytes) override { return reg_.map(nbytes, -1); }
  void free_pinned(void* ptr) noexcept override {
    if (ptr && !reg_.unmap(ptr, -1))
      std::fprintf(stderr, "astensor: [sim] free_pinned of unknown pointer %p\n", ptr);
  }
  PointerInfo pointer_info(const void* ptr) override {
    auto [base, a] = reg_.find(ptr, 0);
    if (!base) return {};
    if (a.device < 0) return {MemoryKind::Pinned, Device::cpu()};
    return {MemoryKind::Device, Device(DeviceType::Sim, a.device)};
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
    std::unique_ptr<SimStream> s;
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
    SimStream* s = stream(h);
    ASTENSOR_CHECK(s->device() == device, "[sim] set_current_stream: the stream belongs to sim:",
                   s->device(), ", not sim:", device);
    current_[device] = s;
  }
  void synchronize_stream(StreamHandle h) override { stream(h)->synchronize(); }
  void synchronize_device(int device) override {
    for (SimStream* s : streams_of(device)) s->synchronize();
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
    s->enqueue([e, gen] {
      std::lock_guard<std::mutex> g(e->m);
      e->completed = std::max(e->completed, gen);
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
      std::unique_lock<std::mutex> l(e->m);
      e->cv.wait(l, [&] { return e->completed >= target; });
    });
  }
  void synchronize_event(EventHandle h) override {
    auto e = event(h);
    std::unique_lock<std::mutex> l(e->m);
    const uint64_t target = e->recorded;
    e->cv.wait(l, [&] { return e->completed >= target; });
  }
  bool query_event(EventHandle h) override {
    auto e = event(h);
    std::lock_guard<std::mutex> g(e->m);
    return e->completed >= e->recorded;
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
    Registry* reg = &reg_;
    s->enqueue([reg, c, dst, src, nbytes] {
      fault::point(fault::Site::Copy);  // fails like an asynchronous copy error
      OpenScope open(*reg, {c.src_base, c.dst_base});
      std::memcpy(dst, src, nbytes);
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
    auto [slo, shi] = transfer::byte_extent(k.shape.span(), k.src_strides.span(), itemsize(k.src_dtype));
    std::pair<int64_t, int64_t> dext{0, k.count * int64_t(itemsize(k.dst_dtype))};
    if (!k.dst_strides.empty())
      dext = transfer::byte_extent(k.shape.span(), k.dst_strides.span(), itemsize(k.dst_dtype));
    const uintptr_t sb = device_base(static_cast<const char*>(k.src) + slo, shi - slo, device, "kernel source");
    const uintptr_t db = device_base(static_cast<char*>(k.dst) + dext.first, dext.second - dext.first, device, "kernel destination");
    counters_.kernel_launches.fetch_add(1, std::memory_order_relaxed);
    counters_.kernel_elements.fetch_add(static_cast<uint64_t>(k.count), std::memory_order_relaxed);
    Registry* reg = &reg_;
    s->enqueue([reg, k, sb, db] {
      OpenScope open(*reg, {sb, db});
      transfer::run_cast_kernel_host(k);
    });
  }

  void wait_external_stream(int device, intptr_t producer, StreamHandle consumer) override {
    ASTENSOR_CHECK_VALUE(producer != 0, "[sim] stream 0 is disallowed by the protocol (CAI-3, DLP-2)");
    check_device(device, "wait_external_stream");
    StreamHandle p = (producer == 1 || producer == 2) ? default_stream(device)
                                                      : reinterpret_cast<StreamHandle>(producer);
    {
      std::lock_guard<std::mutex> g(streams_m_);
      ASTENSOR_CHECK_VALUE(streams_.count(static_cast<SimStream*>(p)) != 0,
                           "[sim] stream ", producer, " is not a live sim stream");
    }
    Event e(*this, device);
    e.record(p);
    e.block(consumer);
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
  }

  std::size_t live() { return reg_.live(); }

 private:
  struct Checked {
    uintptr_t src_base = 0, dst_base = 0;  // device allocations to open (0: host side)
  };

  static void check_device(int device, const char* op) {
    ASTENSOR_CHECK(device >= 0 && device < kDeviceCount, "[sim] ", op, ": sim:", device,
                   " does not exist (found ", kDeviceCount, " sim devices)");
  }

  /// The base of the device allocation of `device` holding [p, p + n); RuntimeError otherwise.
  uintptr_t device_base(const void* p, int64_t n, int device, const char* what) {
    auto [base, a] = reg_.find(p, static_cast<std::size_t>(n));
    ASTENSOR_CHECK(base != 0 && a.device == device, "[sim] ", what, " [", p, ", +", n,
                   ") is not memory of sim:", device);
    return base;
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
      auto [base, a] = reg_.find(p, 0);
      ASTENSOR_CHECK(!(base && a.device >= 0), "[sim] ", what, " ", p,
                     " is sim device memory, not host memory");
      auto [pb, pa] = reg_.find(p, nbytes);
      pinned_host = pb != 0 && pa.device < 0;
    };
    if (src_device.is_cpu()) host_side(src, "copy source");
    else c.src_base = device_base(src, n, src_device.index, "copy source");
    if (dst_device.is_cpu()) host_side(dst, "copy destination");
    else c.dst_base = device_base(dst, n, dst_device.index, "copy destination");
    Link link = src_device.is_cpu()   ? Link::H2D
                : dst_device.is_cpu() ? Link::D2H
                : src_device == dst_device ? Link::D2D
                                           : Link::Peer;
    const int l = static_cast<int>(link);
    (pinned_host ? counters_.pinned[l] : counters_.pageable[l]).fetch_add(nbytes);
    counters_.copies[l].fetch_add(1);
    return c;
  }

  std::vector<SimStream*> streams_of(int device) {
    std::vector<SimStream*> list;
    std::lock_guard<std::mutex> g(streams_m_);
    for (auto& [p, s] : streams_)
      if (p->device() == device) list.push_back(p);
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
  bool is_default(SimStream* s) const {
    for (int d = 0; d < kDeviceCount; ++d)
      if (default_[d].load() == s) return true;
    return false;
  }

  Registry reg_;
  std::mutex streams_m_;
  std::map<SimStream*, std::unique_ptr<SimStream>> streams_;
  std::once_flag default_once_[kDeviceCount];
  std::atomic<SimStream*> default_[kDeviceCount] = {};
  static thread_local SimStream* current_[kDeviceCount];
  std::mutex events_m_;
  std::map<SimEvent*, std::shared_ptr<SimEvent>> events_;
  struct {
    std::atomic<uint64_t> pinned[kNumLinks]{}, pageable[kNumLinks]{}, copies[kNumLinks]{};
    std::atomic<uint64_t> kernel_launches{0}, kernel_elements{0};
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

namespace sim {

void set_random_delays(unsigned min_us, unsigned max_us) {
  g_delays.store((uint64_t(min_us) << 32) | max_us, std::memory_order_relaxed);
}
void get_random_delays(unsigned* min_us, unsigned* max_us) {
  const uint64_t d = g_delays.load(std::memory_order_relaxed);
  *min_us = static_cast<unsigned>(d >> 32);
  *max_us = static_cast<unsigned>(d);
}
std::size_t live_allocations() { return the_sim().live(); }

}  // namespace sim

}  // namespace astensor
