#include "impl/transfer/pinned_pool.h"

#include <bit>

#include "core/error.h"
#include "core/trace.h"

namespace astensor::transfer {

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

PinnedLease PinnedPool::acquire(std::size_t nbytes) {
  const std::size_t n = block_size(nbytes);
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = free_.find(n);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats_.cached_bytes -= n;
      --stats_.cached_blocks;
      stats_.in_use_bytes += n;
      ++stats_.in_use_blocks;
      ++stats_.hits;
      return PinnedLease(this, p, n);
    }
  }
  ASTENSOR_RANGE("pinned_pool_alloc");
  void* p = be_.allocate_pinned(n);  // outside the lock: it can take milliseconds
  std::lock_guard<std::mutex> g(m_);
  ++stats_.backend_allocs;
  stats_.in_use_bytes += n;
  ++stats_.in_use_blocks;
  return PinnedLease(this, p, n);
}

void PinnedPool::release(void* p, std::size_t n) noexcept {
  bool give_back = false;
  {
    std::lock_guard<std::mutex> g(m_);
    stats_.in_use_bytes -= n;
    --stats_.in_use_blocks;
    if (stats_.cached_bytes + n <= max_cached_) {
      free_[n].push_back(p);
      stats_.cached_bytes += n;
      ++stats_.cached_blocks;
    } else {
      give_back = true;
      ++stats_.backend_frees;
    }
  }
  if (give_back) be_.free_pinned(p);
}

void PinnedPool::trim() {
  std::map<std::size_t, std::vector<void*>> blocks;
  {
    std::lock_guard<std::mutex> g(m_);
    blocks.swap(free_);
    for (auto& [n, v] : blocks) stats_.backend_frees += v.size();
    stats_.cached_bytes = 0;
    stats_.cached_blocks = 0;
  }
  for (auto& [n, v] : blocks)
    for (void* p : v) be_.free_pinned(p);
}

PinnedPool::Stats PinnedPool::stats() const {
  std::lock_guard<std::mutex> g(m_);
  return stats_;
}

PinnedPool& pinned_pool(DeviceType type) {
  // Leaked on purpose: backends outlive static destruction order issues at exit.
  static PinnedPool* pools[kNumDeviceTypes] = {};
  static std::once_flag once[kNumDeviceTypes];
  const int i = static_cast<int>(type);
  std::call_once(once[i], [&] { pools[i] = new PinnedPool(backend(type)); });
  return *pools[i];
}

}  // namespace astensor::transfer
