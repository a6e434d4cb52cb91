// The simulated accelerator (DESIGN.md "The simulated accelerator", SPEC DEV-4), after
// PyTorch's OpenReg: device memory is mmap'd and kept PROT_NONE except while a legal copy or
// kernel touches it, so a host access to device memory faults at once; each device has a
// memory capacity (sim::device_memory(), CUDA's out-of-memory); each stream is a worker thread
// running its queue in order (Note [sim streams model CUDA]); events are generation counters;
// a random-delay mode makes a missing wait corrupt data instead of passing by luck.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "core/fault.h"
#include "backends/sim/sim.h"
#include "backends/sim/host_kernels.h"
#include "core/kernel_geometry.h"

namespace astensor {

namespace {

using sim::kDeviceCount;

/// Larger capacities are clamped, so page rounding below them cannot overflow.
constexpr std::size_t kMaxDeviceMemory = std::size_t(1) << 50;

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

// --- device memory capacity ----------------------------------------------------------------------

std::size_t capacity_from_env() {
  const char* e = std::getenv("ASTENSOR_SIM_DEVICE_MEMORY");
  if (!e || !*e) return sim::kDefaultDeviceMemory;
  char* end = nullptr;
  unsigned long long v = std::strtoull(e, &end, 10);
  int shift = 0;
  switch (end ? *end : '\0') {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
  }
  if (end == e || v == 0 || v > (kMaxDeviceMemory >> shift)) {
    std::fprintf(stderr, "astensor: [sim] ASTENSOR_SIM_DEVICE_MEMORY='%s' is not a size in bytes "
                         "(e.g. 4294967296 or 4G); using the default\n", e);
    return sim::kDefaultDeviceMemory;
  }
  return static_cast<std::size_t>(v) << shift;
}

std::atomic<std::size_t>& capacity() {
  static std::atomic<std::size_t> c{capacity_from_env()};
  return c;
}

// --- the link model --------------------------------------------------------------------------
//
// Note [the sim link model] (issue 12): sim's copies are host memcpys, as fast or as slow as
// this machine's memory, so a transfer pipeline tuned on sim alone would be tuned to the wrong
// link. With the model on (sim::LinkModel, ASTENSOR_SIM_LINK), each copy also costs modelled
// time: it takes a copy engine of its device (waiting while another copy holds it, as copies
// in one direction serialize on a real GPU even from different streams), runs the real memcpy,
// then keeps the engine (and its stream) until latency + bytes / bandwidth has passed since it
// took the engine. The modelled time is therefore a floor, never added to the memcpy: a
// memcpy slower than the model shows its own time. The last ~150 us of the wait spin (with
// yields) instead of sleeping, so a sleep's wake-up lag (tens of us) does not inflate short
// copies.

constexpr const char* kLinkKindNames[sim::kNumLinkKinds] = {"h2d_pinned", "d2h_pinned", "h2d_pageable",
                                                             "d2h_pageable", "d2d", "peer"};

/// The model's validity (set_link_model and the parser): "" when valid, else the problem.
std::string link_model_problem(const sim::LinkModel& m) {
  for (int k = 0; k < sim::kNumLinkKinds; ++k) {
    if (!(std::isfinite(m.bandwidth[k]) && m.bandwidth[k] > 0))
      return detail::str_cat("the ", kLinkKindNames[k], " bandwidth must be finite and > 0 bytes/s (got ",
                             m.bandwidth[k], ")");
    if (!(std::isfinite(m.latency_us[k]) && m.latency_us[k] >= 0 && m.latency_us[k] <= 1e9))
      return detail::str_cat("the ", kLinkKindNames[k], " latency must be finite, >= 0 and <= 1e9 us (got ",
                             m.latency_us[k], ")");
  }
  if (m.engines != 1 && m.engines != 2)
    return detail::str_cat("engines must be 1 or 2 (got ", m.engines, ")");
  return "";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

/// A number followed by one of `units` (name, scale); nullopt when either is missing or wrong.
std::optional<double> number_with_unit(std::string_view v, std::initializer_list<std::pair<const char*, double>> units) {
  double x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr == v.data()) return std::nullopt;
  const std::string_view unit(r.ptr, static_cast<std::size_t>(v.data() + v.size() - r.ptr));
  for (const auto& [name, scale] : units)
    if (unit == name) return x * scale;
  return std::nullopt;
}

struct LinkState {
  std::mutex m;
  sim::LinkModel model;
  std::string env_error;  // a bad ASTENSOR_SIM_LINK, until set_link_model() replaces it
  std::atomic<bool> enabled{false};  // model.enabled && env_error.empty(), read without the lock
};

LinkState& link_state() {
  static LinkState* s = [] {
    auto* st = new LinkState();  // never destroyed: stream workers may copy during exit
    const char* e = std::getenv("ASTENSOR_SIM_LINK");
    if (e && *e) {
      try {
        st->model = sim::parse_link_model(e);
      } catch (const ValueError& err) {
        st->env_error = err.what();
      }
    }
    st->enabled = st->model.enabled || !st->env_error.empty();
    return st;
  }();
  return *s;
}

/// The model in force for a copy; nullopt when disabled (the fast path: one atomic load).
/// ValueError while ASTENSOR_SIM_LINK is bad.
std::optional<sim::LinkModel> active_link_model() {
  LinkState& st = link_state();
  if (!st.enabled.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard<std::mutex> g(st.m);
  if (!st.env_error.empty()) throw ValueError(st.env_error);
  if (!st.model.enabled) return std::nullopt;
  return st.model;
}

/// One copy engine: at most one modelled copy holds it at a time.
class CopyEngine {
 public:
  /// Runs `copy` holding the engine, and keeps holding it until `seconds` have passed since
  /// the engine was taken.
  template <class F>
  void run(double seconds, F&& copy) {
    {
      std::unique_lock<std::mutex> l(m_);
      cv_.wait(l, [&] { return !busy_; });
      busy_ = true;
    }
    struct Release {
      CopyEngine* e;
      ~Release() {
        {
          std::lock_guard<std::mutex> g(e->m_);
          e->busy_ = false;
        }
        e->cv_.notify_one();
      }
    } release{this};
    using Clock = std::chrono::steady_clock;
    const Clock::time_point end =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    copy();
    constexpr auto kSpin = std::chrono::microseconds(150);
    if (Clock::now() + kSpin < end) std::this_thread::sleep_until(end - kSpin);
    while (Clock::now() < end) std::this_thread::yield();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool busy_ = false;
};

/// The engine of `device` a copy of kind `k` takes (see sim::LinkModel: engine 0 carries H2D,
/// engine 1 everything else; with one engine, everything).
int engine_index(const sim::LinkModel& m, sim::LinkKind k) {
  if (m.engines == 1) return 0;
  return (k == sim::LinkKind::H2DPinned || k == sim::LinkKind::H2DPageable) ? 0 : 1;
}

// --- memory registry ---------------------------------------------------------------------------

struct Alloc {
  std::size_t size = 0;      // bytes asked for
  std::size_t map_size = 0;  // bytes mapped (whole pages, at least one)
  int device = -1;           // >= 0: device memory; kPinned: mapped pinned; kRegistered: a user's
                             // host buffer registered as pinned (not ours to unmap)
  std::vector<uint32_t> open;  // per page: legal accesses in progress (device memory only)
};

constexpr int kPinned = -1;
constexpr int kRegistered = -2;

/// A byte range of one device allocation that an operation touches.
struct Range {
  uintptr_t base = 0;  // the allocation; 0: none (a host side)
  uintptr_t lo = 0, hi = 0;  // [lo, hi) absolute addresses
};

/// Every sim allocation, keyed by base address. One mutex guards the map and the
/// protection changes, so per-page open counts and mprotect calls stay consistent across
/// streams. Only the pages an operation touches are opened (and for as long as it runs), so
/// a chunked pipeline does not re-protect a whole large allocation per chunk.
class Registry {
 public:
  void* map(std::size_t nbytes, int device) {
    fault::point(device >= 0 ? fault::Site::DeviceAlloc : fault::Site::PinnedAlloc);
    const std::size_t ps = page_size();
    if (device >= 0) return map_device(nbytes, device);
    ASTENSOR_CHECK(nbytes <= SIZE_MAX - ps, "[sim] out of memory allocating ", nbytes,
                   " bytes of pinned host memory");
    const std::size_t map_size = std::max<std::size_t>(ps, (nbytes + ps - 1) / ps * ps);
    void* p = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    ASTENSOR_CHECK(p != MAP_FAILED, "[sim] out of memory allocating ", nbytes, " bytes of pinned host memory");
    std::lock_guard<std::mutex> g(m_);
    allocs_[reinterpret_cast<uintptr_t>(p)] = Alloc{nbytes, map_size, kPinned, {}};
    return p;
  }

  /// Bytes taken on a device: live allocations plus cached mappings (whole pages).
  std::size_t used(int device) {
    std::lock_guard<std::mutex> g(m_);
    return used_[device] + cached_[device];
  }

  /// Unmaps; false when `p` is not the base of a live allocation of that kind (`device`:
  /// any index >= 0 for device memory, or kPinned).
  bool unmap(void* p, int device) {
    std::lock_guard<std::mutex> g(m_);
    auto it = allocs_.find(reinterpret_cast<uintptr_t>(p));
    if (it == allocs_.end() || it->second.device == kRegistered || (device < 0) != (it->second.device < 0))
      return false;
    const std::size_t size = it->second.map_size;
    const int d = it->second.device;
    if (d >= 0) used_[d] -= size;
    if (d >= 0 && cached_bytes_ + size <= cache_limit()) {
      // Kept for reuse, like a device caching allocator: fresh mappings cost a page-zeroing
      // pass that would dominate every simulated transfer. They still count against the
      // device's memory until map_device() drops them to make room.
      cache_.emplace(std::make_pair(d, size), p);
      cached_bytes_ += size;
      cached_[d] += size;
    } else {
      munmap(p, size);
    }
    allocs_.erase(it);
    return true;
  }

  /// Records a user's host buffer as pinned; false when it overlaps a known allocation.
  bool add_registered(void* p, std::size_t n) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    std::lock_guard<std::mutex> g(m_);
    auto next = allocs_.lower_bound(a);
    if (next != allocs_.end() && next->first < a + std::max<std::size_t>(n, 1)) return false;
    if (next != allocs_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + std::max(prev->second.size, prev->second.map_size) > a) return false;
    }
    allocs_[a] = Alloc{n, 0, kRegistered, {}};
    return true;
  }
  bool remove_registered(void* p) {
    std::lock_guard<std::mutex> g(m_);
    auto it = allocs_.find(reinterpret_cast<uintptr_t>(p));
    if (it == allocs_.end() || it->second.device != kRegistered) return false;
    allocs_.erase(it);
    return true;
  }

  struct Found {
    uintptr_t base = 0;
    std::size_t size = 0;
    int device = -1;
  };
  /// The allocation holding [p, p + n), or base == 0.
  Found find(const void* p, std::size_t n) {
    std::lock_guard<std::mutex> g(m_);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = allocs_.upper_bound(a);
    if (it == allocs_.begin()) return {};
    --it;
    const uintptr_t base = it->first;
    const std::size_t size = it->second.size;
    // n > 0: the range lies inside the asked-for size; n == 0: p points into the mapping's
    // first max(size, 1) bytes (a zero-byte allocation still owns its base address).
    if (n > 0 ? (a >= base && a + n <= base + size) : (a >= base && a < base + std::max<std::size_t>(size, 1)))
      return {base, size, it->second.device};
    return {};
  }

  /// Opens the pages of `r` for a legal access; false if the allocation is gone.
  bool open(const Range& r) { return change(r, +1); }
  void close(const Range& r) { change(r, -1); }

  std::size_t live() {
    std::lock_guard<std::mutex> g(m_);
    return allocs_.size();
  }

 private:
  bool change(const Range& r, int delta) {
    std::lock_guard<std::mutex> g(m_);
    auto it = allocs_.find(r.base);
    if (it == allocs_.end()) return false;
    if (r.hi <= r.lo) return true;
    const std::size_t ps = page_size();
    const std::size_t first = (r.lo - r.base) / ps, last = (r.hi - 1 - r.base) / ps;
    auto& cnt = it->second.open;
    // Protection changes for runs of pages whose count crosses zero.
    std::size_t run = SIZE_MAX;
    auto flush = [&](std::size_t end) {
      if (run == SIZE_MAX) return;
      mprotect(reinterpret_cast<void*>(r.base + run * ps), (end - run) * ps,
               delta > 0 ? PROT_READ | PROT_WRITE : PROT_NONE);
      run = SIZE_MAX;
    };
    for (std::size_t pg = first; pg <= last; ++pg) {
      const bool crosses = delta > 0 ? cnt[pg]++ == 0 : --cnt[pg] == 0;
      if (crosses && run == SIZE_MAX) run = pg;
      if (!crosses) flush(pg);
    }
    flush(last + 1);
    return true;
  }

  /// Bytes of freed device mappings kept for reuse: ASTENSOR_SIM_CACHE_MB, default 512.
  static std::size_t cache_limit() {
    static const std::size_t limit = [] {
      const char* e = std::getenv("ASTENSOR_SIM_CACHE_MB");
      return (e && *e ? static_cast<std::size_t>(std::strtoull(e, nullptr, 10)) : std::size_t(512)) << 20;
    }();
    return limit;
  }

  /// Device memory within the device's capacity (sim::device_memory()): a cached mapping of
  /// the same size if there is one; else room is made by dropping cached mappings of the
  /// device (as CUDA's caching allocators trim before they give up), and a request that
  /// still does not fit is refused BEFORE mmap: sim maps with MAP_POPULATE, so an oversized
  /// mapping would take the host's RAM, not fail.
  void* map_device(std::size_t nbytes, int device) {
    const std::size_t ps = page_size();
    const std::size_t capacity = sim::device_memory();
    std::size_t map_size = 0;
    {
      std::lock_guard<std::mutex> g(m_);
      if (nbytes <= capacity) {
        map_size = std::max<std::size_t>(ps, (nbytes + ps - 1) / ps * ps);
        // A cached mapping of the same size (already PROT_NONE, every page closed).
        auto it = cache_.find({device, map_size});
        if (it != cache_.end()) {
          void* p = it->second;
          cache_.erase(it);
          cached_bytes_ -= map_size;
          cached_[device] -= map_size;
          used_[device] += map_size;
          Alloc a{nbytes, map_size, device, {}};
          a.open.assign(map_size / ps, 0);
          allocs_[reinterpret_cast<uintptr_t>(p)] = std::move(a);
          return p;
        }
        for (auto c = cache_.lower_bound({device, 0});
             c != cache_.end() && c->first.first == device &&
             used_[device] + cached_[device] + map_size > capacity;) {
          munmap(c->second, c->first.second);
          cached_bytes_ -= c->first.second;
          cached_[device] -= c->first.second;
          c = cache_.erase(c);
        }
      }
      if (nbytes > capacity || used_[device] + map_size > capacity) {
        std::size_t live = 0;
        for (const auto& [base, a] : allocs_) live += a.device == device;
        throw RuntimeError(detail::str_cat(
            "[sim] out of memory: cannot allocate ", nbytes, " bytes on sim:", device, " (capacity ", capacity,
            " bytes, ", used_[device], " bytes in use by ", live,
            " live allocations; ASTENSOR_SIM_DEVICE_MEMORY sets the capacity)"));
      }
      used_[device] += map_size;  // reserved while the mapping is made
    }
    // Pre-faulted (MAP_POPULATE) like real device memory, then closed to the host.
    void* p = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
      std::lock_guard<std::mutex> g(m_);
      used_[device] -= map_size;
      throw RuntimeError(detail::str_cat("[sim] out of memory: the host could not map ", nbytes,
                                         " bytes for sim:", device));
    }
    mprotect(p, map_size, PROT_NONE);
    Alloc a{nbytes, map_size, device, {}};
    a.open.assign(map_size / ps, 0);
    std::lock_guard<std::mutex> g(m_);
    allocs_[reinterpret_cast<uintptr_t>(p)] = std::move(a);
    return p;
  }

  std::mutex m_;
  std::map<uintptr_t, Alloc> allocs_;
  std::multimap<std::pair<int, std::size_t>, void*> cache_;  // (device, map_size) -> mapping
  std::size_t cached_bytes_ = 0;
  std::size_t used_[kDeviceCount] = {};    // per device: bytes mapped for live allocations
  std::size_t cached_[kDeviceCount] = {};  // per device: bytes of cached mappings
};

/// Opens device memory for the scope of one legal operation (the OpenReg
/// ScopedMemoryProtector). Throws when an allocation was freed while the operation was queued.
class OpenScope {
 public:
  OpenScope(Registry& r, std::initializer_list<Range> ranges) : r_(r) {
    for (const Range& g : ranges) {
      if (g.base == 0) continue;
      if (!r_.open(g)) {
        release();
        throw RuntimeError("[sim] device memory was freed while an operation on it was queued");
      }
      open_.push_back(g);
    }
  }
  ~OpenScope() { release(); }
  OpenScope(const OpenScope&) = delete;
  OpenScope& operator=(const OpenScope&) = delete;

 private:
  void release() {
    for (const Range& g : open_) r_.close(g);
    open_.clear();
  }
  Registry& r_;
  std::vector<Range> open_;
};

// --- streams and events ----------------------------------------------------------------------

// Note [sim streams model CUDA]
// Each sim stream is a worker thread running its queue in order; two streams are ordered
// only by events (record_event / stream_wait_event), never implicitly, like CUDA streams
// made with cudaStreamNonBlocking, which is what the CUDA backend makes. The protocols
// (CAI-3, DLP-2) name a producer's stream by an integer: 1 is CUDA's legacy default stream,
// 2 its per-thread default stream, anything else a stream handle. On sim, 1 and 2 are
// streams of their own, one each per device (sim::external_stream), distinct from the
// library's default and current streams: work a producer queues on "stream 1" is seen by
// a library stream only after wait_external_stream(device, 1, that stream) (or a device
// synchronization). Mapping them onto the library's default stream, as sim once did, hid
// issue 11's DLP-2 bug: a DLPack import that named stream 1 and then read on the library's
// own streams passed on sim and returned stale data on a real GPU. Simplifications: the
// per-thread default stream is one stream per device, not one per host thread; the legacy
// stream does not synchronize with other streams (no blocking streams exist here).
// copy_sync and deallocate wait for every stream of the device, protocol streams included,
// as the CUDA backend's do (its copy_sync synchronizes the device; cudaFree waits too).

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
  /// Marks a point in the stream: runs `mark` at once when nothing is queued or running (an
  /// event recorded on an idle stream is complete, as on CUDA; no worker wake-up, which on a
  /// busy host costs more than the rest of a small transfer), else queues it. `mark` must not
  /// throw or block.
  void mark(std::function<void()> mark) {
    {
      std::lock_guard<std::mutex> g(m_);
      if (q_.empty() && !running_) {
        mark();
        return;
      }
      q_.push_back(std::move(mark));
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
    const std::optional<sim::LinkModel> model = active_link_model();
    Registry* reg = &reg_;
    auto copy = [reg, c, dst, src, nbytes] {
      OpenScope open(*reg, {c.src, c.dst});
      std::memcpy(dst, src, nbytes);
    };
    if (!model) return copy();
    // The engines of the device the copy involves (the source's, but a host source's target).
    const int dev = src_device.is_cpu() ? dst_device.index : src_device.index;
    engines_[dev][engine_index(*model, c.kind)].run(model->seconds(c.kind, static_cast<double>(nbytes)), copy);
  }

  void* allocate_pinned(std::size_t nbytes) override { return reg_.map(nbytes, -1); }
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
    const std::optional<sim::LinkModel> model = active_link_model();
    if (!model) {
      s->enqueue([reg, c, dst, src, nbytes] {
        fault::point(fault::Site::Copy);  // fails like an asynchronous copy error
        OpenScope open(*reg, {c.src, c.dst});
        std::memcpy(dst, src, nbytes);
      });
      return;
    }
    // Note [the sim link model]: the copy holds an engine of the stream's device.
    CopyEngine* engine = &engines_[dev][engine_index(*model, c.kind)];
    const double seconds = model->seconds(c.kind, static_cast<double>(nbytes));
    s->enqueue([reg, c, dst, src, nbytes, engine, seconds] {
      fault::point(fault::Site::Copy);
      engine->run(seconds, [&] {
        OpenScope open(*reg, {c.src, c.dst});
        std::memcpy(dst, src, nbytes);
      });
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
    s->enqueue([reg, k, sb, db] {
      OpenScope open(*reg, {sb, db});
      sim::run_cast_kernel_host(k);
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
    stream(h)->enqueue([microseconds] { std::this_thread::sleep_for(std::chrono::microseconds(microseconds)); });
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
      for (std::size_t i = 0; i < nbytes; i += pattern.size())
        std::memcpy(static_cast<char*>(dst) + i, pattern.data(), pattern.size());
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
  std::size_t memory_used(int device) { return reg_.used(device); }

 private:
  struct Checked {
    Range src, dst;  // device memory to open (base 0: a host side)
    sim::LinkKind kind = sim::LinkKind::H2DPinned;  // for the link model
  };

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

void set_random_delays(unsigned min_us, unsigned max_us) {
  g_delays.store((uint64_t(min_us) << 32) | max_us, std::memory_order_relaxed);
}
void get_random_delays(unsigned* min_us, unsigned* max_us) {
  const uint64_t d = g_delays.load(std::memory_order_relaxed);
  *min_us = static_cast<unsigned>(d >> 32);
  *max_us = static_cast<unsigned>(d);
}
std::size_t live_allocations() { return the_sim().live(); }
StreamHandle external_stream(int device, intptr_t id) { return the_sim().external_stream(device, id); }
void enqueue_sleep(StreamHandle stream, unsigned microseconds) { the_sim().enqueue_sleep(stream, microseconds); }
void enqueue_fill(StreamHandle stream, void* dst, std::size_t nbytes, const void* pattern, std::size_t pattern_bytes) {
  const auto* b = static_cast<const unsigned char*>(pattern);
  the_sim().enqueue_fill(stream, dst, nbytes, std::vector<unsigned char>(b, b + pattern_bytes));
}
const char* link_kind_name(LinkKind k) {
  const int i = static_cast<int>(k);
  return i >= 0 && i < kNumLinkKinds ? kLinkKindNames[i] : "?";
}

LinkModel parse_link_model(std::string_view text, std::string_view what) {
  auto fail = [&](std::string_view item, const char* problem) {
    throw ValueError(detail::str_cat("[sim] ", what, "='", text, "' is invalid: ", item.empty() ? "" : "'",
                                     item, item.empty() ? "" : "': ", problem,
                                     " (expected \"off\", \"on\" or items like \"h2d_pinned=55GB/s,latency=5us,engines=2\";"
                                     " keys: h2d_pinned d2h_pinned h2d_pageable d2h_pageable d2d peer pinned pageable,"
                                     " latency, <kind>_latency, engines)"));
  };
  LinkModel m;
  const std::string_view whole = trim(text);
  if (whole == "off") return m;
  m.enabled = true;
  if (whole == "on") return m;
  if (whole.empty()) fail("", "empty");
  std::string_view rest = whole;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) fail(item, "an empty item");
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || item.find('=', eq + 1) != std::string_view::npos)
      fail(item, "not key=value");
    const std::string_view key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
    if (key == "engines") {
      int n = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), n);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || (n != 1 && n != 2))
        fail(item, "engines must be 1 or 2");
      m.engines = n;
    } else if (key == "latency" || (key.size() > 8 && key.substr(key.size() - 8) == "_latency")) {
      const auto us = number_with_unit(value, {{"ns", 1e-3}, {"us", 1.0}, {"ms", 1e3}});
      if (!us || !std::isfinite(*us) || *us < 0 || *us > 1e9)
        fail(item, "a latency is a number >= 0 with a unit ns, us or ms, e.g. 5us");
      int kind = -1;
      if (key != "latency") {
        const std::string_view name = key.substr(0, key.size() - 8);
        for (int k = 0; k < kNumLinkKinds; ++k)
          if (name == kLinkKindNames[k]) kind = k;
        if (kind < 0) fail(item, "an unknown link kind");
      }
      for (int k = 0; k < kNumLinkKinds; ++k)
        if (kind < 0 || k == kind) m.latency_us[k] = *us;
    } else {
      const auto bw = number_with_unit(value, {{"B/s", 1.0}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9},
                                               {"TB/s", 1e12}, {"KiB/s", 1024.0}, {"MiB/s", 1048576.0},
                                               {"GiB/s", 1073741824.0}});
      bool kinds[kNumLinkKinds] = {};  // the kinds the key sets
      if (key == "pinned") kinds[int(LinkKind::H2DPinned)] = kinds[int(LinkKind::D2HPinned)] = true;
      else if (key == "pageable") kinds[int(LinkKind::H2DPageable)] = kinds[int(LinkKind::D2HPageable)] = true;
      else
        for (int k = 0; k < kNumLinkKinds; ++k) kinds[k] = key == kLinkKindNames[k];
      if (std::none_of(kinds, kinds + kNumLinkKinds, [](bool b) { return b; })) fail(item, "an unknown key");
      if (!bw || !std::isfinite(*bw) || *bw <= 0)
        fail(item, "a bandwidth is a number > 0 with a unit B/s, KB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s or GiB/s, "
                   "e.g. 55GB/s");
      for (int k = 0; k < kNumLinkKinds; ++k)
        if (kinds[k]) m.bandwidth[k] = *bw;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return m;
}

LinkModel link_model() {
  LinkState& st = link_state();
  std::lock_guard<std::mutex> g(st.m);
  if (!st.env_error.empty()) throw ValueError(st.env_error);
  return st.model;
}

void set_link_model(const LinkModel& model) {
  const std::string problem = link_model_problem(model);
  ASTENSOR_CHECK_VALUE(problem.empty(), "[sim] set_link_model: ", problem);
  LinkState& st = link_state();
  std::lock_guard<std::mutex> g(st.m);
  st.model = model;
  st.env_error.clear();
  st.enabled.store(model.enabled, std::memory_order_release);
}

std::size_t device_memory() { return capacity().load(std::memory_order_relaxed); }
void set_device_memory(std::size_t bytes) {
  ASTENSOR_CHECK_VALUE(bytes > 0, "[sim] set_device_memory: the capacity must be > 0 bytes");
  capacity().store(std::min(bytes, kMaxDeviceMemory), std::memory_order_relaxed);
}
std::size_t device_memory_used(int device) {
  ASTENSOR_CHECK_VALUE(device >= 0 && device < kDeviceCount, "[sim] device_memory_used: sim:", device,
                       " does not exist (found ", kDeviceCount, " sim devices)");
  return the_sim().memory_used(device);
}

}  // namespace sim

}  // namespace astensor
