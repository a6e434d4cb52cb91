#pragma once
/// The caching pinned host pool (perf-anchors §2.2): page-locked blocks are expensive to make
/// (cudaHostAlloc takes a driver-wide lock and costs milliseconds), so they are made once and
/// reused. Requests round up to a power of two (at least kMinBlock); freed blocks wait in a
/// free list; the bytes kept cached are bounded (Note [A bounded cache that follows the work]).
///
/// Note [A bounded cache that follows the work]: a release that would pass the bound gives
/// the oldest cached blocks back to the backend to make room, and caches the block just
/// released (a block larger than the whole bound goes back itself). The pool once gave back
/// the block just released instead: after large conversions had filled the cache with their
/// sizes, every later conversion of another size missed, and pinned a block per call for ever
/// (cudaHostAlloc's milliseconds each; on sim's link model, ci/bench's 4 MiB blocking loop took
/// 2.90 ms per batch before and 2.14 after, in two separate runs).
///
/// The pool knows nothing of streams: whoever queued work on a block must wait for it before
/// releasing (the staging ring's events, or a non-blocking result's Pending). The same bound
/// caps the leased bytes: a miss over it first reaps and waits for finished non-blocking work
/// (Note [Reaping finished non-blocking work] in pending_reaper.h) before it pins more. The
/// process-wide pools give their cached blocks back at exit (Note [Caches at exit] in
/// device_allocator.h).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "core/backend.h"

namespace astensor::transfer {

class PinnedPool;

/// A block leased from the pool; returns it on destruction.
class PinnedLease {
 public:
  PinnedLease() = default;
  PinnedLease(PinnedLease&& o) noexcept { *this = std::move(o); }
  PinnedLease& operator=(PinnedLease&& o) noexcept;
  PinnedLease(const PinnedLease&) = delete;
  PinnedLease& operator=(const PinnedLease&) = delete;
  ~PinnedLease() { reset(); }

  void* data() const { return p_; }
  std::size_t size() const { return n_; }  ///< the rounded (usable) size
  explicit operator bool() const { return p_ != nullptr; }
  void reset() noexcept;

 private:
  friend class PinnedPool;
  PinnedLease(PinnedPool* pool, void* p, std::size_t n) : pool_(pool), p_(p), n_(n) {}
  PinnedPool* pool_ = nullptr;
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

class PinnedPool {
 public:
  static constexpr std::size_t kMinBlock = std::size_t(64) << 10;  // 64 KiB
  static constexpr std::size_t kDefaultMaxCached = std::size_t(256) << 20;

  struct Stats {
    std::size_t cached_bytes = 0;    ///< free blocks kept for reuse
    std::size_t in_use_bytes = 0;    ///< leased blocks
    std::size_t cached_blocks = 0;
    std::size_t in_use_blocks = 0;
    uint64_t backend_allocs = 0;     ///< allocate_pinned calls (misses)
    uint64_t backend_frees = 0;
    uint64_t hits = 0;               ///< acquisitions served from the cache
    uint64_t bound_waits = 0;        ///< waits for in-flight work over the bound
  };

  explicit PinnedPool(Backend& be, std::size_t max_cached_bytes = kDefaultMaxCached)
      : be_(be), max_cached_(max_cached_bytes) {}
  ~PinnedPool();  ///< frees the cached blocks (leases must be gone)
  PinnedPool(const PinnedPool&) = delete;
  PinnedPool& operator=(const PinnedPool&) = delete;

  /// A block of at least nbytes (rounded by block_size()): a cached one; else, after reaping
  /// finished non-blocking work, a cached one; else, while the leased bytes would pass the
  /// bound and tracked work is in flight, one that work gives back once waited for; else a
  /// new one. Throws RuntimeError when the backend cannot pin more memory.
  PinnedLease acquire(std::size_t nbytes);
  /// Frees every cached block.
  void trim() noexcept;
  /// Frees every cached block, and from now on released blocks go straight back to the
  /// backend (Note [Caches at exit]). Leased blocks are not affected.
  void shutdown() noexcept;
  bool is_shut_down() const;
  Stats stats() const;
  std::size_t max_cached_bytes() const { return max_cached_; }
  Backend& backend() const { return be_; }

  /// The size a request of nbytes is served with: the next power of two >= max(n, kMinBlock).
  static std::size_t block_size(std::size_t nbytes);

 private:
  friend class PinnedLease;
  void release(void* p, std::size_t n) noexcept;
  std::optional<PinnedLease> take_cached(std::size_t n);
  bool over_bound(std::size_t n) const;

  Backend& be_;
  const std::size_t max_cached_;
  mutable std::mutex m_;
  struct FreeBlock {
    std::size_t size;
    void* ptr;
  };
  std::deque<FreeBlock> free_;  // cached blocks, oldest release first
  Stats stats_;
  bool shutdown_ = false;
};

/// The process-wide pool of a device type's backend: created on first use, never per call;
/// its cache bound is ASTENSOR_PINNED_POOL_MB (MiB) when set, else kDefaultMaxCached.
PinnedPool& pinned_pool(DeviceType type);

/// The exit hook of Note [Caches at exit]: shutdown() of every process-wide pool made so far.
/// Registered with std::atexit after a pool's first backend allocation; callable directly
/// (tests). Idempotent.
void shutdown_pinned_pools() noexcept;

}  // namespace astensor::transfer
