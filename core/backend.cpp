#include "core/backend.h"
#include "core/fault.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace astensor {

const char* link_name(Link l) {
  switch (l) {
    case Link::H2D: return "h2d";
    case Link::D2H: return "d2h";
    case Link::D2D: return "d2d";
    case Link::Peer: return "peer";
  }
  return "?";
}

// The asynchronous part's defaults: backends without streams (the CPU) refuse it clearly.
namespace {
[[noreturn]] void unsupported(const Backend& be, const char* what) {
  throw RuntimeError(detail::str_cat("[", device_type_name(be.type()), "] ", what,
                                     " is not supported by this backend"));
}
}  // namespace

void* Backend::allocate_pinned(std::size_t) { unsupported(*this, "pinned memory"); }
void Backend::free_pinned(void*) noexcept {}
void Backend::register_host(void*, std::size_t) { unsupported(*this, "register_host"); }
void Backend::unregister_host(void*) noexcept {}
PointerInfo Backend::pointer_info(const void*) { return {}; }
StreamHandle Backend::create_stream(int) { unsupported(*this, "create_stream"); }
void Backend::destroy_stream(int, StreamHandle) noexcept {}
StreamHandle Backend::current_stream(int) { unsupported(*this, "current_stream"); }
void Backend::set_current_stream(int, StreamHandle) { unsupported(*this, "set_current_stream"); }
void Backend::synchronize_stream(StreamHandle) { unsupported(*this, "synchronize_stream"); }
void Backend::synchronize_device(int) {}
EventHandle Backend::create_event(int) { unsupported(*this, "create_event"); }
void Backend::destroy_event(EventHandle) noexcept {}
void Backend::record_event(EventHandle, StreamHandle) { unsupported(*this, "record_event"); }
void Backend::stream_wait_event(StreamHandle, EventHandle) {
  unsupported(*this, "stream_wait_event");
}
void Backend::synchronize_event(EventHandle) { unsupported(*this, "synchronize_event"); }
bool Backend::query_event(EventHandle) { unsupported(*this, "query_event"); }
void Backend::copy_async(void*, Device, const void*, Device, std::size_t, StreamHandle) {
  unsupported(*this, "copy_async");
}
void Backend::launch_cast(int, const CastKernel&, StreamHandle) {
  unsupported(*this, "launch_cast");
}
void Backend::wait_external_stream(int, intptr_t, StreamHandle) {
  unsupported(*this, "wait_external_stream");
}
TransferCounters Backend::counters() { return {}; }
void Backend::reset_counters() {}

namespace {

/// Host memory: 64-byte aligned so vector loops start aligned.
class CpuBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CPU; }
  int device_count() override { return 1; }
  std::string unavailable_reason() override { return ""; }
  int current_device() override { return -1; }
  void* allocate(int, std::size_t nbytes) override {
    fault::point(fault::Site::HostAlloc);
    std::size_t rounded = (nbytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void* p = std::aligned_alloc(64, rounded);
    ASTENSOR_CHECK(p != nullptr, "[cpu] out of memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(int, void* ptr) noexcept override { std::free(ptr); }
  void copy_sync(void* dst, Device, const void* src, Device, std::size_t nbytes) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
};


/// A device type with no backend linked in (Note [Backend registry]): no devices, and why.
class UnlinkedBackend final : public Backend {
 public:
  explicit UnlinkedBackend(DeviceType type) : type_(type) {}
  DeviceType type() const override { return type_; }
  int device_count() override { return 0; }
  std::string unavailable_reason() override {
    return detail::str_cat("no ", device_type_name(type_),
                           " backend is linked into this program (link astensor::backends)");
  }
  int current_device() override { return 0; }
  void* allocate(int, std::size_t) override { throw RuntimeError(message()); }
  void deallocate(int, void*) noexcept override {}
  void copy_sync(void*, Device, const void*, Device, std::size_t) override {
    throw RuntimeError(message());
  }

 private:
  std::string message() {
    return detail::str_cat("[", device_type_name(type_), "] ", unavailable_reason());
  }
  DeviceType type_;
};

constexpr auto kDeviceTypes = static_cast<std::size_t>(kNumDeviceTypes);

std::size_t slot(DeviceType type) {
  const auto i = static_cast<std::size_t>(type);
  ASTENSOR_CHECK(i < kDeviceTypes, "[device] unknown device type ", i);
  return i;
}

/// Written by the registrars while the program starts, read afterwards: atomics, so a late
/// registration (a backend in a library loaded later) is still race-free.
std::atomic<BackendGetter>& registered(DeviceType type) {
  static std::atomic<BackendGetter> getters[kDeviceTypes] = {};
  return getters[slot(type)];
}

}  // namespace

bool register_backend(DeviceType type, BackendGetter get) {
  ASTENSOR_CHECK(type != DeviceType::CPU && get != nullptr,
                 "[device] register_backend: the CPU backend is core's own, and a getter is required");
  BackendGetter expected = nullptr;
  if (!registered(type).compare_exchange_strong(expected, get))
    ASTENSOR_CHECK(expected == get, "[device] two backends registered for ",
                   device_type_name(type), "; link one library per device type");
  return true;
}

Backend& backend(DeviceType type) {
  static CpuBackend cpu;
  if (type == DeviceType::CPU) return cpu;
  if (BackendGetter get = registered(type).load(std::memory_order_acquire)) return get();
  static UnlinkedBackend unlinked_cuda(DeviceType::CUDA), unlinked_sim(DeviceType::Sim);
  return type == DeviceType::CUDA ? static_cast<Backend&>(unlinked_cuda) : unlinked_sim;
}

Device resolve_device(Device d) {
  if (d.is_cpu()) return d;
  Backend& be = backend(d.type);
  const int count = be.device_count();
  ASTENSOR_CHECK(count > 0, "[device] ", d.str(), " is not available: ", be.unavailable_reason());
  int index = d.has_index() ? d.index : be.current_device();
  ASTENSOR_CHECK(index < count, "[device] ", d.str(), " is not available: found ", count, " ",
                 device_type_name(d.type), " device", count == 1 ? "" : "s", " (valid indices 0..",
                 count - 1, ")");
  return Device(d.type, index);
}

void copy_bytes_sync(void* dst, Device dst_device, const void* src, Device src_device,
                     std::size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
  } else if (src_device.is_cpu() || dst_device.is_cpu() || src_device.type == dst_device.type) {
    DeviceType t = src_device.is_cpu() ? dst_device.type : src_device.type;
    backend(t).copy_sync(dst, dst_device, src, src_device, nbytes);
  } else {
    // Two different accelerator kinds: stage through the host.
    void* tmp = backend(DeviceType::CPU).allocate(-1, nbytes);
    try {
      copy_bytes_sync(tmp, Device::cpu(), src, src_device, nbytes);
      copy_bytes_sync(dst, dst_device, tmp, Device::cpu(), nbytes);
    } catch (...) {
      backend(DeviceType::CPU).deallocate(-1, tmp);
      throw;
    }
    backend(DeviceType::CPU).deallocate(-1, tmp);
  }
}

}  // namespace astensor
