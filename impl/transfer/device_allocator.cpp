// See Note [Stream-ordered reuse] in device_allocator.h.

#include "impl/transfer/device_allocator.h"

#include <atomic>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "core/error.h"
#include "core/trace.h"
#include "impl/cpu/copy.h"

namespace astensor::transfer {

namespace {

std::atomic<DeviceAllocator*> g_allocators[kNumDeviceTypes] = {};
std::once_flag g_once[kNumDeviceTypes];
std::once_flag g_exit_once;

/// Not in a forked child: its copy of the backend's state is not usable (no CUDA context, no
/// sim stream threads); the memory goes with the process.
void shutdown_at_exit() {
  if (!impl::cpu::in_forked_child()) shutdown_device_allocators();
}

/// Note [Caches at exit]: called after a successful backend allocation, so the backend has
/// started and its own exit teardown was registered before this hook.
void register_exit_hook() {
  std::call_once(g_exit_once, [] { std::atexit(shutdown_at_exit); });
}

}  // namespace

std::size_t DeviceAllocator::round_size(std::size_t nbytes) {
  constexpr std::size_t kSmall = std::size_t(1) << 20;
  if (nbytes <= kSmall) return std::bit_ceil(std::max(nbytes, kMinBlock));
  // Quarter steps of the power of two below: 1.25, 1.5, 1.75, 2 MiB, 2.5, 3, ... (<= 25% slack).
  const std::size_t step = std::bit_floor(nbytes) / 4;
  return (nbytes + step - 1) / step * step;
}

DeviceAllocator::~DeviceAllocator() { shutdown(); }

EventHandle DeviceAllocator::take_event(int device) {
  {
    std::lock_guard<std::mutex> g(m_);
    auto& v = events_[device];
    if (!v.empty()) {
      EventHandle e = v.back();
      v.pop_back();
      return e;
    }
  }
  return be_.create_event(device);
}

void DeviceAllocator::give_event(int device, EventHandle e) noexcept {
  if (!e) return;
  try {
    std::lock_guard<std::mutex> g(m_);
    events_[device].push_back(e);
  } catch (...) {  // out of memory growing the list: drop the event instead
    be_.destroy_event(e);
  }
}

void* DeviceAllocator::take_cached(int device, std::size_t size, StreamHandle stream) {
  Block got;
  bool pending = false;
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = free_.find({device, size});
    if (it == free_.end() || it->second.empty()) return nullptr;
    auto& v = it->second;
    std::ptrdiff_t pick = -1;
    for (std::ptrdiff_t i = std::ptrdiff_t(v.size()) - 1; i >= 0 && pick < 0; --i) {
      const Block& b = v[std::size_t(i)];
      bool ready = b.stream == stream || b.event == nullptr;
      if (!ready) {
        try {
          ready = be_.query_event(b.event);
        } catch (...) {
          ready = false;  // an error the next synchronization will report; not ready here
        }
      }
      if (ready) pick = i;
    }
    if (pick < 0) {  // only blocks whose previous stream may still use them: wait for the
      pick = 0;      // oldest, the likeliest to be done
      pending = true;
    }
    got = v[std::size_t(pick)];
    v.erase(v.begin() + pick);
    stats_.cached_bytes -= size;
    --stats_.cached_blocks;
    stats_.in_use_bytes += size;
    ++stats_.in_use_blocks;
    ++stats_.hits;
    if (pending) ++stats_.waits;
  }
  if (pending) {
    ASTENSOR_RANGE("device_alloc_wait");
    try {
      be_.synchronize_event(got.event);
    } catch (...) {
      // The event's stream failed: the block's state is unknown; hand it back to the backend.
      give_event(device, got.event);
      {
        std::lock_guard<std::mutex> g(m_);
        stats_.in_use_bytes -= size;
        --stats_.in_use_blocks;
        ++stats_.backend_frees;
      }
      be_.deallocate(device, got.ptr);
      throw;
    }
  }
  give_event(device, got.event);
  return got.ptr;
}

void* DeviceAllocator::backend_allocate(int device, std::size_t size) {
  ASTENSOR_RANGE("device_alloc_backend");
  std::string first_error;
  // One backend call: the block, or null with the backend's error in first_error.
  auto attempt = [&]() -> void* {
    try {
      void* p = be_.allocate(device, size);
      register_exit_hook();  // no-op after the first time; std::atexit does not throw
      return p;
    } catch (const Error& e) {
      first_error = e.what();
    } catch (const std::bad_alloc&) {
      first_error = "std::bad_alloc";
    }
    return nullptr;
  };
  if (void* p = attempt()) return p;
  // The cache may hold the memory the backend lacks: give it back and try once more.
  std::size_t freed = 0;
  {
    std::lock_guard<std::mutex> g(m_);
    freed = stats_.cached_bytes;
  }
  if (freed > 0) {
    trim();
    {
      std::lock_guard<std::mutex> g(m_);
      ++stats_.oom_retries;
    }
    if (void* p = attempt()) return p;
  }
  {
    std::lock_guard<std::mutex> g(m_);
    ++stats_.oom_failures;
  }
  throw RuntimeError(detail::str_cat("[device_alloc] cannot allocate ", size, " bytes on ",
                                     Device(be_.type(), device).str(),
                                     freed > 0 ? " even after freeing " : " (cache empty, ",
                                     freed > 0 ? std::to_string(freed) + " cached bytes" : "nothing to free)",
                                     ": ", first_error));
}

std::shared_ptr<Storage> DeviceAllocator::allocate(int device, std::size_t nbytes, StreamHandle stream) {
  const std::size_t size = round_size(nbytes);
  void* p = max_cached_ > 0 ? take_cached(device, size, stream) : nullptr;
  if (!p) {
    p = backend_allocate(device, size);
    std::lock_guard<std::mutex> g(m_);
    ++stats_.misses;
    ++stats_.backend_allocs;
    stats_.in_use_bytes += size;
    ++stats_.in_use_blocks;
  }
  // If the control block cannot be allocated, shared_ptr runs the deleter: the block is cached.
  std::shared_ptr<void> owner(p, [this, device, size, stream](void* q) { release(device, q, size, stream); });
  return Storage::adopt(p, nbytes, Device(be_.type(), device), std::move(owner));
}

void DeviceAllocator::release(int device, void* ptr, std::size_t size, StreamHandle stream) noexcept {
  bool keep = false;
  {
    std::lock_guard<std::mutex> g(m_);
    stats_.in_use_bytes -= size;
    --stats_.in_use_blocks;
    keep = !shutdown_ && size <= max_cached_;
    if (!keep) ++stats_.backend_frees;
  }
  if (!keep) {
    be_.deallocate(device, ptr);  // waits for the device's work, like cudaFree
    return;
  }
  Block b{ptr, size, stream, nullptr};
  try {
    b.event = take_event(device);
    be_.record_event(b.event, stream);
  } catch (...) {
    // The stream is gone (or the backend failed): order by synchronizing the device instead,
    // after which the block is free for every stream.
    if (b.event) give_event(device, b.event);
    b.event = nullptr;
    b.stream = nullptr;
    try {
      be_.synchronize_device(device);
    } catch (...) {
    }
  }
  // Note [A bounded cache that follows the work] (pinned_pool.h): over the bound, the oldest
  // cached blocks go back to the backend to make room for this one.
  std::vector<std::pair<int, Block>> evicted;
  bool cached = false;
  try {
    std::lock_guard<std::mutex> g(m_);
    while (stats_.cached_bytes + size > max_cached_ && evict_oldest_locked(evicted)) {
    }
    b.seq = ++next_seq_;
    free_[{device, size}].push_back(b);
    stats_.cached_bytes += size;
    ++stats_.cached_blocks;
    cached = true;
  } catch (...) {  // out of memory growing a list: give the block back instead
  }
  free_blocks(evicted);
  if (cached) return;
  give_event(device, b.event);
  {
    std::lock_guard<std::mutex> g(m_);
    ++stats_.backend_frees;
  }
  be_.deallocate(device, ptr);
}

bool DeviceAllocator::evict_oldest_locked(std::vector<std::pair<int, Block>>& out) {
  std::vector<Block>* list = nullptr;
  int device = 0;
  std::size_t at = 0;
  for (auto& [key, v] : free_)
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!list || v[i].seq < (*list)[at].seq) {
        list = &v;
        device = key.first;
        at = i;
      }
  if (!list) return false;
  out.emplace_back(device, (*list)[at]);  // first: if it throws, nothing was taken
  list->erase(list->begin() + static_cast<std::ptrdiff_t>(at));
  stats_.cached_bytes -= out.back().second.size;
  --stats_.cached_blocks;
  ++stats_.backend_frees;
  return true;
}

void DeviceAllocator::free_blocks(std::vector<std::pair<int, Block>>& blocks) noexcept {
  for (auto& [device, b] : blocks) {
    be_.deallocate(device, b.ptr);  // waits for the device's work first
    give_event(device, b.event);
  }
}

void DeviceAllocator::trim() noexcept {
  std::vector<std::pair<int, Block>> blocks;
  {
    std::lock_guard<std::mutex> g(m_);
    try {
      for (auto& [key, v] : free_)
        for (Block& b : v) blocks.emplace_back(key.first, b);
    } catch (...) {
      return;  // out of memory listing them: keep the cache as it is (still consistent)
    }
    free_.clear();
    stats_.backend_frees += blocks.size();
    stats_.cached_bytes = 0;
    stats_.cached_blocks = 0;
  }
  free_blocks(blocks);
}

void DeviceAllocator::shutdown() noexcept {
  {
    std::lock_guard<std::mutex> g(m_);
    shutdown_ = true;
  }
  trim();  // deallocate() waits for the device's work on each block first
  // Events cached for reuse are not needed any more (a shut-down allocator caches no block).
  std::map<int, std::vector<EventHandle>> events;
  {
    std::lock_guard<std::mutex> g(m_);
    events.swap(events_);
  }
  for (auto& [d, v] : events)
    for (EventHandle e : v) be_.destroy_event(e);
}

bool DeviceAllocator::is_shut_down() const {
  std::lock_guard<std::mutex> g(m_);
  return shutdown_;
}

DeviceAllocator::Stats DeviceAllocator::stats() const {
  std::lock_guard<std::mutex> g(m_);
  return stats_;
}

void shutdown_device_allocators() noexcept {
  for (auto& a : g_allocators)
    if (DeviceAllocator* p = a.load(std::memory_order_acquire)) p->shutdown();
}

DeviceAllocator& device_allocator(DeviceType type) {
  const int i = static_cast<int>(type);
  std::call_once(g_once[i], [&] {
    std::size_t bound = DeviceAllocator::kDefaultMaxCached;
    if (const char* e = std::getenv("ASTENSOR_DEVICE_CACHE_BYTES"); e && *e) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(e, &end, 10);
      if (end != e) bound = static_cast<std::size_t>(v);
    }
    // Leaked on purpose: tensors may be destroyed during static destruction.
    g_allocators[i].store(new DeviceAllocator(backend(type), bound), std::memory_order_release);
  });
  return *g_allocators[i].load(std::memory_order_acquire);
}

std::shared_ptr<Storage> allocate_device(std::size_t nbytes, Device device, StreamHandle stream) {
  Backend& be = backend(device.type);
  if (!stream) stream = be.current_stream(device.index);
  return device_allocator(device.type).allocate(device.index, nbytes, stream);
}

}  // namespace astensor::transfer
