#pragma once
/// The caching device allocator of the optimized implementation (issue 6), written once
/// against the Backend interface: sim runs it in CI, CUDA uses it unchanged. Without it every
/// device output costs a backend allocate/deallocate pair per call (cudaMalloc/cudaFree on
/// CUDA; cudaFree also synchronizes the whole device). The reference keeps calling the
/// backend directly (Storage::allocate): it stays simple.
///
/// Note [Stream-ordered reuse]
/// A block belongs to the stream it was allocated for (its "stream"). When the last tensor on
/// it goes away, the block is not handed back to the backend: an event is recorded on its
/// stream (so the event completes once all work queued on that stream up to the free has
/// run) and the block waits in a per-(device, size) free list. A later request
///   - for the same stream takes it at once: stream order puts the new work after the old;
///   - for another stream takes it only when the event has completed (query_event), or,
///     when only blocks with pending events are left, after the allocator has waited for
///     the event on the host (counted in Stats::waits); it never hands out a block whose
///     previous stream may still touch it.
/// Work a user queues on other streams is the user's to order (as with PyTorch's
/// record_stream): the library's own work is finished when as_tensor returns (XFER-1).
/// A stream must outlive the blocks allocated for it, or be idle when they are freed (sim
/// then synchronizes the device instead; CUDA streams of the library are never destroyed).
///
/// Sizes: requests round up to bins (round_size): powers of two from 512 B to 1 MiB, then
/// quarter steps of the power of two below (<= 25% slack); a request is served only by a
/// block of exactly its bin. The cache holds at most max_cached_bytes()
/// (ASTENSOR_DEVICE_CACHE_BYTES, default 1 GiB; 0: no caching); a freed block that does not
/// fit makes room by giving the oldest cached blocks back to the backend (Note [A bounded
/// cache that follows the work] in pinned_pool.h); one larger than the bound goes back itself.
/// When the backend cannot allocate, the allocator frees every cached block (trim) and
/// retries once; a second failure is a RuntimeError naming the
/// request, the device and the backend's error, and leaves the cache consistent (empty).
/// Thread-safe.
///
/// Note [Caches at exit]
/// The process-wide allocators and pinned pools are never destroyed (tensors may die during
/// static destruction, and the backends are never destroyed either), so their cached blocks
/// would stay allocated until the process ends, and tools that check for leaks at exit
/// (compute-sanitizer --leak-check full) report them. Each cache therefore registers an
/// exit hook with std::atexit the first time its backend hands it memory: the backend (the
/// CUDA runtime included) has started by then, and atexit handlers run in reverse order of
/// registration, so the hook runs before the runtime's own teardown. The hook
/// (shutdown_device_allocators(), shutdown_pinned_pools() in pinned_pool.h) waits for the
/// device's work and frees every cached block; blocks still held by live tensors are left
/// alone, and when they are freed later they go straight back to the backend. Nothing cached
/// (or no cache made): the hook does nothing; in a forked child it does nothing either (the
/// child cannot use the parent's CUDA context or sim's stream threads).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/backend.h"
#include "core/storage.h"

namespace astensor::transfer {

class DeviceAllocator {
 public:
  static constexpr std::size_t kMinBlock = 512;
  static constexpr std::size_t kDefaultMaxCached = std::size_t(1) << 30;

  struct Stats {
    uint64_t hits = 0;             ///< requests served from the cache
    uint64_t misses = 0;           ///< requests that went to the backend
    uint64_t waits = 0;            ///< cross-stream reuses that waited for the free-time event
    uint64_t backend_allocs = 0;   ///< successful backend allocate() calls
    uint64_t backend_frees = 0;    ///< backend deallocate() calls
    uint64_t oom_retries = 0;      ///< failed backend allocations followed by trim + retry
    uint64_t oom_failures = 0;     ///< requests that failed after the retry
    std::size_t cached_bytes = 0;  ///< free blocks kept for reuse (rounded sizes)
    std::size_t cached_blocks = 0;
    std::size_t in_use_bytes = 0;  ///< blocks handed out and not yet freed
    std::size_t in_use_blocks = 0;
  };

  explicit DeviceAllocator(Backend& be, std::size_t max_cached_bytes = kDefaultMaxCached)
      : be_(be), max_cached_(max_cached_bytes) {}
  /// Gives every cached block back (blocks still in use must be gone).
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  /// nbytes of `device` memory, ready for work queued on `stream` (Note [Stream-ordered
  /// reuse]), as a Storage counted in storage_stats(); the block returns to the cache when the
  /// last tensor on it goes away. RuntimeError when the backend cannot allocate even after
  /// the cache was freed.
  std::shared_ptr<Storage> allocate(int device, std::size_t nbytes, StreamHandle stream);

  /// Gives every cached block back to the backend (blocks in use are not affected).
  void trim() noexcept;
  /// Gives every cached block and event back, and from now on freed blocks go straight back
  /// to the backend (Note [Caches at exit]). Blocks in use are not affected.
  void shutdown() noexcept;
  bool is_shut_down() const;
  Stats stats() const;
  std::size_t max_cached_bytes() const { return max_cached_; }
  Backend& backend() const { return be_; }

  /// The bin a request of nbytes is served from (see the header comment).
  static std::size_t round_size(std::size_t nbytes);

 private:
  struct Block {
    void* ptr = nullptr;
    std::size_t size = 0;  // rounded
    StreamHandle stream = nullptr;
    EventHandle event = nullptr;  // recorded on `stream` at free time; null: nothing pending
    uint64_t seq = 0;             // release order: the oldest cached block is evicted first
  };
  using Key = std::pair<int, std::size_t>;  // (device, rounded size)

  void* take_cached(int device, std::size_t size, StreamHandle stream);
  /// Moves the oldest cached block (least seq) to `out` (mutex held); false when none.
  bool evict_oldest_locked(std::vector<std::pair<int, Block>>& out);
  void* backend_allocate(int device, std::size_t size);
  void release(int device, void* ptr, std::size_t size, StreamHandle stream) noexcept;
  void free_blocks(std::vector<std::pair<int, Block>>& blocks) noexcept;
  EventHandle take_event(int device);
  void give_event(int device, EventHandle e) noexcept;

  Backend& be_;
  const std::size_t max_cached_;
  mutable std::mutex m_;
  std::map<Key, std::vector<Block>> free_;  // most recently freed last
  uint64_t next_seq_ = 0;                   // Block::seq of the next cached block
  std::map<int, std::vector<EventHandle>> events_;  // unused events per device
  Stats stats_;
  bool shutdown_ = false;
};

/// The process-wide allocator of a device type's backend: made on first use, bound
/// ASTENSOR_DEVICE_CACHE_BYTES (bytes) when set, else kDefaultMaxCached.
DeviceAllocator& device_allocator(DeviceType type);

/// The exit hook of Note [Caches at exit]: shutdown() of every process-wide allocator made so
/// far. Registered with std::atexit after the first backend allocation of any allocator;
/// callable directly (tests). Idempotent.
void shutdown_device_allocators() noexcept;

/// Shorthand: device_allocator(device.type).allocate(device.index, nbytes, stream), where a
/// null stream means the device's current stream.
std::shared_ptr<Storage> allocate_device(std::size_t nbytes, Device device, StreamHandle stream = nullptr);

}  // namespace astensor::transfer
