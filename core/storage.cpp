#include "core/storage.h"

#include "core/backend.h"
#include "core/pending.h"

namespace astensor {

namespace {
std::atomic<long long> g_live_allocations{0};
std::atomic<long long> g_live_bytes{0};
}  // namespace

std::shared_ptr<Storage> Storage::allocate(std::size_t nbytes, Device device) {
  Backend& be = backend(device.type);
  void* p = be.allocate(device.index, nbytes);
  g_live_allocations.fetch_add(1, std::memory_order_relaxed);
  g_live_bytes.fetch_add(static_cast<long long>(nbytes), std::memory_order_relaxed);
  std::shared_ptr<void> owner(p, [&be, device, nbytes](void* q) {
    be.deallocate(device.index, q);
    g_live_allocations.fetch_sub(1, std::memory_order_relaxed);
    g_live_bytes.fetch_sub(static_cast<long long>(nbytes), std::memory_order_relaxed);
  });
  return std::make_shared<Storage>(p, nbytes, device, std::move(owner), false, true);
}

std::shared_ptr<Storage> Storage::wrap(void* data, std::size_t nbytes, Device device,
                                       std::shared_ptr<void> owner, bool read_only) {
  return std::make_shared<Storage>(data, nbytes, device, std::move(owner), read_only, false);
}

std::shared_ptr<Storage> Storage::adopt(void* data, std::size_t nbytes, Device device,
                                        std::shared_ptr<void> owner) {
  g_live_allocations.fetch_add(1, std::memory_order_relaxed);
  g_live_bytes.fetch_add(static_cast<long long>(nbytes), std::memory_order_relaxed);
  // The counters drop when the caller's owner is released: chain it into a new owner.
  std::shared_ptr<void> counted(data, [owner = std::move(owner), nbytes](void*) mutable {
    owner.reset();
    g_live_allocations.fetch_sub(1, std::memory_order_relaxed);
    g_live_bytes.fetch_sub(static_cast<long long>(nbytes), std::memory_order_relaxed);
  });
  return std::make_shared<Storage>(data, nbytes, device, std::move(counted), false, true);
}

bool Storage::ready() const { return !pending_ || pending_->ready(); }

void Storage::wait_ready() const {
  if (pending_) pending_->wait();
}

StorageStats storage_stats() {
  return {g_live_allocations.load(), g_live_bytes.load()};
}

}  // namespace astensor
