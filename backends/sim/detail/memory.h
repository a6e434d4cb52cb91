#pragma once
/// Internal to backends/sim (not the public sim.h): sim's memory registry. Device memory is
/// mapped twice (Note [sim device memory]): the address handed out is PROT_NONE for good, so a
/// host access to device memory faults at once, and sim's own copies and kernels reach the same
/// pages through a second, read-write view (an OpenScope translates). Pinned host memory is
/// mapped readable and writable; a user's registered host buffer is only recorded. The
/// Registry's bodies are in memory.cpp.

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

// Note [sim device memory]: a host access to device memory must fault, as on a GPU, or a
// pipeline that reads a device pointer from the host would pass every sim test. Sessions 1-5
// kept device pages PROT_NONE and opened (mprotect) the pages an operation touched for as long
// as it ran. That cost two page-table walks and a TLB shoot-down per operation: on the 2-core
// VM, mprotect open + close of 16 MiB took ~0.5 ms against a ~1 ms memcpy, so every modelled
// copy and kernel paid a tax a GPU's copy engine does not, and sim's fast-link efficiency
// measured the simulator. Now device memory is a memfd mapped twice: the address the backend
// hands out (PROT_NONE, never opened: the guard holds even while a copy runs) and an alias,
// read-write, that only sim's operations use. Opening an allocation is a count, not an
// mprotect; the count also keeps the pages mapped if the memory is freed while an operation
// runs (the last close releases it).
struct Alloc {
  std::size_t size = 0;      // bytes asked for
  std::size_t map_size = 0;  // bytes mapped (whole pages, at least one)
  int device = -1;           // >= 0: device memory; kPinned: mapped pinned; kRegistered: a user's
                             // host buffer registered as pinned (not ours to unmap)
  uintptr_t alias = 0;       // device memory: the read-write view of the same pages
  uint32_t open = 0;         // device memory: legal operations in progress
  bool freed = false;        // device memory freed while open: the last close releases it
};

constexpr int kPinned = -1;
constexpr int kRegistered = -2;

/// A byte range of one device allocation that an operation touches.
struct Range {
  uintptr_t base = 0;  // the allocation; 0: none (a host side)
  uintptr_t lo = 0, hi = 0;  // [lo, hi) absolute addresses
};

/// A device mapping: the address handed out (PROT_NONE) and its read-write alias.
struct Mapping {
  void* device = nullptr;
  void* alias = nullptr;
};

/// Every sim allocation, keyed by base address, under one mutex.
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

  /// Opens the allocation of `r` for a legal access: its read-write alias, or 0 if the
  /// allocation is gone (freed while the operation was queued).
  uintptr_t open(const Range& r);
  void close(const Range& r);

  std::size_t live();

 private:
  /// Caches or unmaps a device allocation nobody has open, and forgets it. Holds m_.
  void release_locked(std::map<uintptr_t, Alloc>::iterator it);

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
  std::multimap<std::pair<int, std::size_t>, Mapping> cache_;  // (device, map_size) -> mapping
  std::size_t cached_bytes_ = 0;
  std::size_t used_[kDeviceCount] = {};    // per device: bytes mapped for live allocations
  std::size_t cached_[kDeviceCount] = {};  // per device: bytes of cached mappings
};

/// Device memory open for the scope of one legal operation (Note [sim device memory]), which
/// reaches it through at(). Throws when an allocation was freed while the operation was queued.
class OpenScope {
 public:
  OpenScope(Registry& r, std::initializer_list<Range> ranges) : r_(r) {
    for (const Range& g : ranges) {
      if (g.base == 0) continue;
      const uintptr_t alias = r_.open(g);
      if (!alias) {
        release();
        throw RuntimeError("[sim] device memory was freed while an operation on it was queued");
      }
      open_.push_back({g, alias});
    }
  }
  ~OpenScope() { release(); }
  OpenScope(const OpenScope&) = delete;
  OpenScope& operator=(const OpenScope&) = delete;

  /// Where the operation reaches `p`: the alias of device memory it opened, else `p` itself
  /// (host memory). A device pointer outside the opened ranges is a bug of sim's own.
  template <class T>
  T* at(T* p) const {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    for (const Opened& o : open_)
      if (a >= o.range.base && a < o.range.hi)
        return reinterpret_cast<T*>(o.alias + (a - o.range.base));
    return p;
  }

 private:
  struct Opened {
    Range range;
    uintptr_t alias;
  };
  void release() {
    for (const Opened& o : open_) r_.close(o.range);
    open_.clear();
  }
  Registry& r_;
  std::vector<Opened> open_;
};

}  // namespace astensor::sim_detail
