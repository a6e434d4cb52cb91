// The staging ring: slots, events, the cast stream, a chunk's host side, and the stage
// counters (StageCounters in transfer.h) that time them.

#include "impl/transfer/staging_ring.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#include "core/trace.h"
#include "impl/transfer/transfer.h"

namespace astensor::transfer {

std::vector<Slot> make_ring(Backend& be, int device, int slots, std::size_t slot_bytes, bool with_casts) {
  ASTENSOR_RANGE("staging_ring_acquire");
  std::vector<Slot> ring(static_cast<std::size_t>(slots));
  PinnedPool& pool = pinned_pool(be.type());
  for (Slot& s : ring) {
    s.host = pool.acquire(slot_bytes);
    s.done = Event(be, device);
    if (with_casts) s.cast_done = Event(be, device);
  }
  return ring;
}

StreamHandle cast_stream(Backend& be, int device) {
  static std::mutex m;
  static std::map<std::pair<int, int>, StreamHandle> streams;
  std::lock_guard<std::mutex> g(m);
  auto key = std::make_pair(static_cast<int>(be.type()), device);
  auto it = streams.find(key);
  if (it == streams.end()) it = streams.emplace(key, be.create_stream(device)).first;
  return it->second;
}

void host_chunk(const impl::cpu::CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
                DType to, int64_t first, int64_t last, int max_threads) {
  int threads = impl::cpu::threads_for((last - first) * int64_t(itemsize(from) + itemsize(to)));
  if (max_threads > 0) threads = std::min(threads, max_threads);
  impl::cpu::run_copy_range(layout, src, from, byteswap, dst, to, first, last, threads);
}

namespace {

// StageCounters, kept with relaxed atomics (a counter is read after the transfers it counts).
struct AtomicStageCounters {
  std::atomic<uint64_t> transfers{0}, small_transfers{0}, chunks{0}, host_stage_ns{0}, host_stage_bytes{0},
      wait_ns{0};
} g_stage;

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

/// Adds the time from construction to destruction to a counter.
class ScopedTime {
 public:
  explicit ScopedTime(std::atomic<uint64_t>& into) : into_(into), t0_(now_ns()) {}
  ~ScopedTime() { into_.fetch_add(now_ns() - t0_, std::memory_order_relaxed); }
  ScopedTime(const ScopedTime&) = delete;
  ScopedTime& operator=(const ScopedTime&) = delete;

 private:
  std::atomic<uint64_t>& into_;
  uint64_t t0_;
};

}  // namespace

void staged_host_chunk(const impl::cpu::CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
                       DType to, int64_t first, int64_t last, int max_threads, std::size_t slot_bytes) {
  ScopedTime t(g_stage.host_stage_ns);
  host_chunk(layout, src, from, byteswap, dst, to, first, last, max_threads);
  g_stage.chunks.fetch_add(1, std::memory_order_relaxed);
  g_stage.host_stage_bytes.fetch_add(slot_bytes, std::memory_order_relaxed);
}

void count_transfer(bool small) {
  g_stage.transfers.fetch_add(1, std::memory_order_relaxed);
  if (small) g_stage.small_transfers.fetch_add(1, std::memory_order_relaxed);
}

void wait_slot(Slot& s) {
  if (s.used) {
    ASTENSOR_RANGE("slot_wait");
    ScopedTime t(g_stage.wait_ns);
    s.done.synchronize();
  }
}

void finish_counted(SyncGuard& g) {
  ScopedTime t(g_stage.wait_ns);
  g.finish();
}

impl::cpu::CopyLayout dense_layout(int64_t n, DType from) {
  impl::cpu::CopyLayout l;
  l.numel = n;
  l.shape = Dims{n};
  l.src_strides = Dims{static_cast<int64_t>(itemsize(from))};
  return l;
}

StageCounters stage_counters() {
  StageCounters c;
  c.transfers = g_stage.transfers.load();
  c.small_transfers = g_stage.small_transfers.load();
  c.chunks = g_stage.chunks.load();
  c.host_stage_ns = g_stage.host_stage_ns.load();
  c.host_stage_bytes = g_stage.host_stage_bytes.load();
  c.wait_ns = g_stage.wait_ns.load();
  return c;
}

void reset_stage_counters() {
  for (auto* a : {&g_stage.transfers, &g_stage.small_transfers, &g_stage.chunks, &g_stage.host_stage_ns,
                  &g_stage.host_stage_bytes, &g_stage.wait_ns})
    a->store(0);
}

}  // namespace astensor::transfer
