#pragma once
/// Internal to backends/sim (not the public sim.h): sim's memory registry. Device memory is
/// mmap'd and kept PROT_NONE except while a legal copy or kernel touches it (an OpenScope), so
/// a host access to device memory faults at once; pinned host memory is mapped readable and
/// writable; a user's registered host buffer is only recorded. The Registry's bodies are in
/// memory.cpp.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"
#include "backends/sim/sim.h"

namespace astensor::sim_detail {

using sim::kDeviceCount;

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
  void* map(std::size_t nbytes, int device);

  /// Bytes taken on a device: live allocations plus cached mappings (whole pages).
  std::size_t used(int device);

  /// Unmaps; false when `p` is not the base of a live allocation of that kind (`device`:
  /// any index >= 0 for device memory, or kPinned).
  bool unmap(void* p, int device);

  /// Records a user's host buffer as pinned; false when it overlaps a known allocation.
  bool add_registered(void* p, std::size_t n);
  bool remove_registered(void* p);

  struct Found {
    uintptr_t base = 0;
    std::size_t size = 0;
    int device = -1;
  };
  /// The allocation holding [p, p + n), or base == 0.
  Found find(const void* p, std::size_t n);

  /// Opens the pages of `r` for a legal access; false if the allocation is gone.
  bool open(const Range& r) { return change(r, +1); }
  void close(const Range& r) { change(r, -1); }

  std::size_t live();

 private:
  bool change(const Range& r, int delta);

  /// Bytes of freed device mappings kept for reuse: ASTENSOR_SIM_CACHE_MB, default 512.
  static std::size_t cache_limit();

  /// Device memory within the device's capacity (sim::device_memory()): a cached mapping of
  /// the same size if there is one; else room is made by dropping cached mappings of the
  /// device (as CUDA's caching allocators trim before they give up), and a request that
  /// still does not fit is refused BEFORE mmap: sim maps with MAP_POPULATE, so an oversized
  /// mapping would take the host's RAM, not fail.
  void* map_device(std::size_t nbytes, int device);

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

}  // namespace astensor::sim_detail
