// See Note [Huge-page outputs] in host_alloc.h.

#include "impl/cpu/host_alloc.h"

#include <sys/mman.h>

#include <cstdint>

#include "core/error.h"

namespace astensor::impl::cpu {

namespace {
constexpr std::size_t kHuge = std::size_t(2) << 20;
}

std::shared_ptr<Storage> allocate_host(std::size_t nbytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (nbytes >= kHugePageMinBytes) {
    const std::size_t len = (nbytes + kHuge - 1) / kHuge * kHuge;
    // Over-map by one huge page and trim, so the block starts on a 2 MiB boundary.
    void* raw = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASTENSOR_CHECK(raw != MAP_FAILED, "[as_tensor] out of memory mapping ", nbytes, " bytes");
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t start = (base + kHuge - 1) / kHuge * kHuge;
    if (start > base) munmap(raw, start - base);
    const uintptr_t tail = start + len, raw_end = base + len + kHuge;
    if (raw_end > tail) munmap(reinterpret_cast<void*>(tail), raw_end - tail);
    void* p = reinterpret_cast<void*>(start);
    madvise(p, len, MADV_HUGEPAGE);  // advice only: failure leaves ordinary pages
    std::shared_ptr<void> owner(p, [len](void* q) { munmap(q, len); });
    return Storage::adopt(p, nbytes, Device::cpu(), std::move(owner));
  }
#endif
  return Storage::allocate(nbytes, Device::cpu());
}

}  // namespace astensor::impl::cpu
