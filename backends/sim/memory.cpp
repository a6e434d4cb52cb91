// sim's memory registry (detail/memory.h): every sim allocation by base address, device memory
// within each device's capacity (a memfd mapped twice: Note [sim device memory]), a cache of
// freed device mappings, and the opening and closing of device memory for legal accesses.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
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

/// A memfd of `bytes` mapped twice (Note [sim device memory]): {PROT_NONE, read-write}, or
/// {nullptr, nullptr} with errno set.
Mapping map_pair(std::size_t bytes) {
  const int fd = memfd_create("astensor-sim-device", MFD_CLOEXEC);
  if (fd < 0) return {};
  Mapping m;
  int err = 0;
  if (int e = posix_fallocate(fd, 0, static_cast<off_t>(bytes)); e != 0) {
    err = e;
  } else {
    void* dev = mmap(nullptr, bytes, PROT_NONE, MAP_SHARED, fd, 0);
    void* alias = dev == MAP_FAILED ? MAP_FAILED
                                    : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (alias == MAP_FAILED) {
      err = errno;
      if (dev != MAP_FAILED) munmap(dev, bytes);
    } else {
      m = {dev, alias};
    }
  }
  close(fd);  // the mappings keep the memory
  errno = err;
  return m;
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
  allocs_[reinterpret_cast<uintptr_t>(p)] = Alloc{nbytes, map_size, kPinned};
  return p;
}

std::size_t Registry::used(int device) {
  std::lock_guard<std::mutex> g(m_);
  return used_[device] + cached_[device];
}

bool Registry::unmap(void* p, int device) {
  std::lock_guard<std::mutex> g(m_);
  auto it = allocs_.find(reinterpret_cast<uintptr_t>(p));
  if (it == allocs_.end() || it->second.freed || it->second.device == kRegistered ||
      (device < 0) != (it->second.device < 0))
    return false;
  const int d = it->second.device;
  if (d >= 0) used_[d] -= it->second.map_size;
  if (d >= 0 && it->second.open > 0) {
    it->second.freed = true;  // an operation still runs on it: the last close releases it
    return true;
  }
  release_locked(it);
  return true;
}

void Registry::release_locked(std::map<uintptr_t, Alloc>::iterator it) {
  void* p = reinterpret_cast<void*>(it->first);
  const std::size_t size = it->second.map_size;
  const int d = it->second.device;
  void* alias = reinterpret_cast<void*>(it->second.alias);
  if (d >= 0 && cached_bytes_ + size <= cache_limit()) {
    // Kept for reuse: a fresh mapping of the same size would fault every page in again, a
    // pass that would dominate every simulated transfer. They still count against the
    // device's memory until map_device() drops them to make room.
    cache_.emplace(std::make_pair(d, size), Mapping{p, alias});
    cached_bytes_ += size;
    cached_[d] += size;
  } else {
    munmap(p, size);
    if (alias) munmap(alias, size);
  }
  allocs_.erase(it);
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
  allocs_[a] = Alloc{n, 0, kRegistered};
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
  if (it->second.freed) return {};
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

uintptr_t Registry::open(const Range& r) {
  std::lock_guard<std::mutex> g(m_);
  auto it = allocs_.find(r.base);
  if (it == allocs_.end() || it->second.freed || !it->second.alias) return 0;
  ++it->second.open;
  return it->second.alias;
}

void Registry::close(const Range& r) {
  std::lock_guard<std::mutex> g(m_);
  auto it = allocs_.find(r.base);
  if (it == allocs_.end() || it->second.open == 0) return;
  if (--it->second.open == 0 && it->second.freed) release_locked(it);
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
        const Mapping m = it->second;
        cache_.erase(it);
        cached_bytes_ -= map_size;
        cached_[device] -= map_size;
        used_[device] += map_size;
        allocs_[reinterpret_cast<uintptr_t>(m.device)] =
            Alloc{nbytes, map_size, device, reinterpret_cast<uintptr_t>(m.alias)};
        return m.device;
      }
      for (auto c = cache_.lower_bound({device, 0});
           c != cache_.end() && c->first.first == device &&
           used_[device] + cached_[device] + map_size > capacity;) {
        munmap(c->second.device, c->first.second);
        munmap(c->second.alias, c->first.second);
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
  // Note [sim device memory]: one memfd, its pages reserved (fallocate reports a host out of
  // memory here, not as a SIGBUS later) and pre-faulted through the read-write alias like real
  // device memory; the address handed out is PROT_NONE for good.
  const Mapping m = map_pair(map_size);
  if (!m.device) {
    std::lock_guard<std::mutex> g(m_);
    used_[device] -= map_size;
    throw RuntimeError(detail::str_cat("[sim] out of memory: the host could not map ", nbytes,
                                       " bytes for sim:", device, " (", std::strerror(errno), ")"));
  }
  std::lock_guard<std::mutex> g(m_);
  allocs_[reinterpret_cast<uintptr_t>(m.device)] =
      Alloc{nbytes, map_size, device, reinterpret_cast<uintptr_t>(m.alias)};
  return m.device;
}

}  // namespace astensor::sim_detail
