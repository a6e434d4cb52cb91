#include "impl/transfer/pinned_pool.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <vector>

#include "core/error.h"
#include "core/trace.h"
#include "impl/cpu/copy.h"
#include "impl/transfer/pending_reaper.h"

namespace astensor::transfer {

namespace {

std::atomic<PinnedPool*> g_pools[kNumDeviceTypes] = {};
std::once_flag g_once[kNumDeviceTypes];
std::once_flag g_exit_once;

/// Not in a forked child: its copy of the backend's state is not usable (no CUDA context, no
/// sim stream threads); the memory goes with the process.
void shutdown_at_exit() {
  if (!impl::cpu::in_forked_child()) shutdown_pinned_pools();
}

/// Note [Caches at exit] (device_allocator.h): called after a successful allocate_pinned, so
/// the backend has started and its own exit teardown was registered before this hook.
void register_exit_hook() {
  std::call_once(g_exit_once, [] { std::atexit(shutdown_at_exit); });
}

}  // namespace

PinnedLease& PinnedLease::operator=(PinnedLease&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = std::exchange(o.pool_, nullptr);
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

void PinnedLease::reset() noexcept {
  if (pool_ && p_) pool_->release(p_, n_);
  pool_ = nullptr;
  p_ = nullptr;
  n_ = 0;
}

std::size_t PinnedPool::block_size(std::size_t nbytes) {
  return std::bit_ceil(std::max(nbytes, kMinBlock));
}

PinnedPool::~PinnedPool() { trim(); }

std::optional<PinnedLease> PinnedPool::take_cached(std::size_t n) {
  std::lock_guard<std::mutex> g(m_);
  // The most recently released block of the size (the free list is oldest first).
  auto it = std::find_if(free_.rbegin(), free_.rend(), [n](const FreeBlock& b) { return b.size == n; });
  if (it == free_.rend()) return std::nullopt;
  void* p = it->ptr;
  free_.erase(std::next(it).base());
  stats_.cached_bytes -= n;
  --stats_.cached_blocks;
  stats_.in_use_bytes += n;
  ++stats_.in_use_blocks;
  ++stats_.hits;
  return PinnedLease(this, p, n);
}

bool PinnedPool::over_bound(std::size_t n) const {
  std::lock_guard<std::mutex> g(m_);
  return stats_.in_use_bytes + n > max_cached_;
}

PinnedLease PinnedPool::acquire(std::size_t nbytes) {
  const std::size_t n = block_size(nbytes);
  if (auto lease = take_cached(n)) return std::move(*lease);
  // Note [Reaping finished non-blocking work]: a miss first takes back the blocks of
  // non-blocking work that has completed; over the bound, it waits for the oldest such work
  // rather than pin more (until nothing tracked is in flight).
  reap_pending();
  if (auto lease = take_cached(n)) return std::move(*lease);
  while (over_bound(n) && wait_oldest_pending()) {
    {
      std::lock_guard<std::mutex> g(m_);
      ++stats_.bound_waits;
    }
    if (auto lease = take_cached(n)) return std::move(*lease);
  }
  ASTENSOR_RANGE("pinned_pool_alloc");
  void* p = be_.allocate_pinned(n);  // outside the lock: it can take milliseconds
  register_exit_hook();               // no-op after the first time
  std::lock_guard<std::mutex> g(m_);
  ++stats_.backend_allocs;
  stats_.in_use_bytes += n;
  ++stats_.in_use_blocks;
  return PinnedLease(this, p, n);
}

void PinnedPool::release(void* p, std::size_t n) noexcept {
  // Note [A bounded cache that follows the work]: over the bound, the oldest cached blocks go
  // back to the backend to make room, not the one just released.
  std::vector<void*> give_back;
  {
    std::lock_guard<std::mutex> g(m_);
    stats_.in_use_bytes -= n;
    --stats_.in_use_blocks;
    if (shutdown_ || n > max_cached_) {
      give_back.push_back(p);
    } else {
      try {
        while (stats_.cached_bytes + n > max_cached_) {
          const FreeBlock oldest = free_.front();
          free_.pop_front();
          stats_.cached_bytes -= oldest.size;
          --stats_.cached_blocks;
          give_back.push_back(oldest.ptr);
        }
        free_.push_back(FreeBlock{n, p});
        stats_.cached_bytes += n;
        ++stats_.cached_blocks;
      } catch (...) {  // out of memory growing a list: give the block back instead
        give_back.push_back(p);
      }
    }
    stats_.backend_frees += give_back.size();
  }
  for (void* b : give_back) be_.free_pinned(b);
}

void PinnedPool::trim() noexcept {
  std::deque<FreeBlock> blocks;
  {
    std::lock_guard<std::mutex> g(m_);
    blocks.swap(free_);
    stats_.backend_frees += blocks.size();
    stats_.cached_bytes = 0;
    stats_.cached_blocks = 0;
  }
  for (const FreeBlock& b : blocks) be_.free_pinned(b.ptr);
}

void PinnedPool::shutdown() noexcept {
  {
    std::lock_guard<std::mutex> g(m_);
    shutdown_ = true;
  }
  trim();
}

bool PinnedPool::is_shut_down() const {
  std::lock_guard<std::mutex> g(m_);
  return shutdown_;
}

PinnedPool::Stats PinnedPool::stats() const {
  std::lock_guard<std::mutex> g(m_);
  return stats_;
}

PinnedPool& pinned_pool(DeviceType type) {
  const int i = static_cast<int>(type);
  std::call_once(g_once[i], [&] {
    // The bound: ASTENSOR_PINNED_POOL_MB (default 256 MiB); a ValueError (COPY-2) when it is
    // not a whole number of MiB from 1 to 1048576 (call_once then tries again next time).
    std::size_t bound = PinnedPool::kDefaultMaxCached;
    if (const char* e = std::getenv("ASTENSOR_PINNED_POOL_MB"); e && *e) {
      char* end = nullptr;
      const unsigned long long mib = std::strtoull(e, &end, 10);
      ASTENSOR_CHECK_VALUE(*e >= '0' && *e <= '9' && end && *end == '\0' && mib >= 1 && mib <= (1ull << 20),
                           "[transfer] ASTENSOR_PINNED_POOL_MB='", e,
                           "' is invalid: expected a whole number of MiB from 1 to 1048576 (default 256)");
      bound = static_cast<std::size_t>(mib) << 20;
    }
    // Leaked on purpose: leases may be released during static destruction; the cached
    // blocks go back at exit through the hook instead (Note [Caches at exit]).
    g_pools[i].store(new PinnedPool(backend(type), bound), std::memory_order_release);
  });
  return *g_pools[i].load(std::memory_order_acquire);
}

void shutdown_pinned_pools() noexcept {
  for (auto& p : g_pools)
    if (PinnedPool* pool = p.load(std::memory_order_acquire)) pool->shutdown();
}

}  // namespace astensor::transfer
