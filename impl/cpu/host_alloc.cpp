// See Note [Huge-page outputs] in host_alloc.h.

#include "impl/cpu/host_alloc.h"

#include "core/trace.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/fault.h"
#include "impl/cpu/copy.h"

namespace astensor::impl::cpu {

namespace {

constexpr std::size_t kHuge = std::size_t(2) << 20;

std::size_t initial_limit() {
  if (const char* e = std::getenv("ASTENSOR_HOST_CACHE_BYTES")) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(e, &end, 10);
    if (end != e) return static_cast<std::size_t>(v);
  }
  // An eighth of physical memory, at least 512 MiB (impl/cpu/NOTES.md "Output memory": a
  // loop over 256 MiB uint8 inputs makes 1 GiB float32 outputs, which a fixed 512 MiB cap
  // sent back to the kernel to be zeroed again on every call).
  std::size_t limit = std::size_t(512) << 20;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0)
    limit = std::max(limit, static_cast<std::size_t>(pages) / 8 * static_cast<std::size_t>(page));
  return limit;
}

/// A block parked in the cache is lazily freed: the kernel may take its pages back under
/// memory pressure (a later reuse then faults them in zeroed, which is still correct since
/// every user overwrites the whole output), and otherwise the next reuse writes them with no
/// fault at all (measured: 0 faults, same time as a plain reuse; NOTES.md "Output memory").
/// So the cache never holds memory the system needs. Advice only: failure changes nothing.
void park(void* p, std::size_t len) {
#if defined(MADV_FREE)
  madvise(p, len, MADV_FREE);
#else
  (void)p, (void)len;
#endif
}

/// Freed huge-page blocks, most recently freed last. Leaked on purpose: tensors may be
/// destroyed during static destruction, after a static cache would be gone.
class BlockCache {
 public:
  /// A cached block of at least `len` bytes and at most 1/8 more, or null.
  void* take(std::size_t len, std::size_t* got) {
    std::lock_guard<std::mutex> g(m_);
    for (std::size_t i = blocks_.size(); i-- > 0;) {
      if (blocks_[i].len >= len && blocks_[i].len <= len + len / 8) {
        void* p = blocks_[i].p;
        *got = blocks_[i].len;
        bytes_ -= blocks_[i].len;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
        return p;
      }
    }
    return nullptr;
  }
  void give(void* p, std::size_t len) {
    std::vector<Block> evicted;
    {
      std::lock_guard<std::mutex> g(m_);
      if (len > limit_) {
        evicted.push_back({p, len});
      } else {
        park(p, len);
        blocks_.push_back({p, len});
        bytes_ += len;
        while (bytes_ > limit_) {  // oldest first
          evicted.push_back(blocks_.front());
          bytes_ -= blocks_.front().len;
          blocks_.erase(blocks_.begin());
        }
      }
    }
    for (const Block& b : evicted) munmap(b.p, b.len);
  }
  void release() {
    std::vector<Block> all;
    {
      std::lock_guard<std::mutex> g(m_);
      all.swap(blocks_);
      bytes_ = 0;
    }
    for (const Block& b : all) munmap(b.p, b.len);
  }
  std::size_t bytes() {
    std::lock_guard<std::mutex> g(m_);
    return bytes_;
  }
  std::size_t limit() const { return limit_; }

 private:
  struct Block {
    void* p;
    std::size_t len;
  };
  std::mutex m_;
  std::vector<Block> blocks_;
  std::size_t bytes_ = 0;
  const std::size_t limit_ = initial_limit();
};

BlockCache& cache() {
  static BlockCache* c = new BlockCache;
  return *c;
}

/// A cached block is only used by the process that cached it: a forked child (whose
/// copy of the cache's mutex may be held by a thread that does not exist there) maps anew.
bool use_cache() { return !in_forked_child() && cache().limit() > 0; }

void* map_huge(std::size_t len) {
  // Over-map by one huge page and trim, so the block starts on a 2 MiB boundary.
  void* raw = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (base + kHuge - 1) / kHuge * kHuge;
  if (start > base) munmap(raw, start - base);
  const uintptr_t tail = start + len, raw_end = base + len + kHuge;
  if (raw_end > tail) munmap(reinterpret_cast<void*>(tail), raw_end - tail);
  void* p = reinterpret_cast<void*>(start);
#if defined(MADV_HUGEPAGE)
  madvise(p, len, MADV_HUGEPAGE);  // advice only: failure leaves ordinary pages
#endif
  return p;
}

}  // namespace

std::shared_ptr<Storage> allocate_host(std::size_t nbytes) {
  ASTENSOR_RANGE("host_alloc");
#if defined(__linux__)
  if (nbytes >= kHugePageMinBytes) {
    fault::point(fault::Site::HostAlloc);
    std::size_t len = (nbytes + kHuge - 1) / kHuge * kHuge;
    void* p = use_cache() ? cache().take(len, &len) : nullptr;
    if (p == nullptr) {
      p = map_huge(len);
      if (p == nullptr && use_cache()) {  // the cache may hold the memory: unmap it, retry
        release_host_cache();
        p = map_huge(len);
      }
      ASTENSOR_CHECK(p != nullptr, "[as_tensor] out of memory mapping ", nbytes, " bytes");
    }
    std::shared_ptr<void> owner(p, [len](void* q) {
      if (use_cache()) cache().give(q, len);
      else munmap(q, len);
    });
    return Storage::adopt(p, nbytes, Device::cpu(), std::move(owner));
  }
#endif
  return Storage::allocate(nbytes, Device::cpu());
}

std::size_t host_cache_bytes() { return cache().bytes(); }
std::size_t host_cache_limit() { return cache().limit(); }
void release_host_cache() { cache().release(); }

}  // namespace astensor::impl::cpu
