// sim's memory registry (detail/memory.h): every sim allocation by base address, device memory
// within each device's capacity, a cache of freed device mappings, and the per-page opening
// and closing of device memory for legal accesses.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <utility>

#include "core/error.h"
#include "core/fault.h"
#include "backends/sim/sim.h"
#include "backends/sim/detail/memory.h"

namespace astensor::sim_detail {

namespace {

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

}  // namespace

void* Registry::map(std::size_t nbytes, int device) {
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

std::size_t Registry::used(int device) {
  std::lock_guard<std::mutex> g(m_);
  return used_[device] + cached_[device];
}

bool Registry::unmap(void* p, int device) {
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

bool Registry::add_registered(void* p, std::size_t n) {
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

bool Registry::remove_registered(void* p) {
  std::lock_guard<std::mutex> g(m_);
  auto it = allocs_.find(reinterpret_cast<uintptr_t>(p));
  if (it == allocs_.end() || it->second.device != kRegistered) return false;
  allocs_.erase(it);
  return true;
}

Registry::Found Registry::find(const void* p, std::size_t n) {
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

std::size_t Registry::live() {
  std::lock_guard<std::mutex> g(m_);
  return allocs_.size();
}

bool Registry::change(const Range& r, int delta) {
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

std::size_t Registry::cache_limit() {
  static const std::size_t limit = [] {
    const char* e = std::getenv("ASTENSOR_SIM_CACHE_MB");
    return (e && *e ? static_cast<std::size_t>(std::strtoull(e, nullptr, 10)) : std::size_t(512)) << 20;
  }();
  return limit;
}

void* Registry::map_device(std::size_t nbytes, int device) {
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

}  // namespace astensor::sim_detail
