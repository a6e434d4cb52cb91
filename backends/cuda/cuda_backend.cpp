// The CUDA backend: a thin adapter from the Backend interface to the CUDA runtime, with the
// same contract as sim (the conformance suites run unchanged on both). Built only when CUDA
// is enabled; otherwise no_cuda_backend.cpp answers "built without CUDA". The fault points
// (core/fault.h) sit where sim has them, before the runtime call: device and pinned
// allocations, and every copy, so the fault-injection suites run on CUDA too.

#include <array>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/fault.h"
#include "core/trace.h"
#include "backends/cuda/cast_kernels.cuh"
#include "backends/cuda/cuda_check.h"

namespace astensor {

namespace {

/// Makes `device` current for the scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    ASTENSOR_CUDA_CHECK(cudaGetDevice(&prev_));
    if (device >= 0 && device != prev_) {
      ASTENSOR_CUDA_CHECK(cudaSetDevice(device));
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaSetDevice(prev_));
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

constexpr int kMaxDevices = 64;

class CudaBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CUDA; }

  int device_count() override {
    std::call_once(probe_, [this] {
      int n = 0;
      cudaError_t e = cudaGetDeviceCount(&n);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        reason_ = std::string("no usable CUDA driver or device (cudaGetDeviceCount: ") +
                  cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")";
        count_ = 0;
      } else {
        count_ = n < kMaxDevices ? n : kMaxDevices;
        if (n == 0) reason_ = "the CUDA driver reports no devices";
      }
    });
    return count_;
  }
  std::string unavailable_reason() override {
    device_count();
    return reason_;
  }
  int current_device() override {
    int d = 0;
    ASTENSOR_CUDA_CHECK(cudaGetDevice(&d));
    return d;
  }
  void* allocate(int device, std::size_t nbytes) override {
    fault::point(fault::Site::DeviceAlloc);
    DeviceGuard g(device);
    void* p = nullptr;
    if (nbytes) ASTENSOR_CUDA_CHECK(cudaMalloc(&p, nbytes));
    return p;
  }
  void deallocate(int, void* ptr) noexcept override {
    if (ptr) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaFree(ptr));
  }
  void copy_sync(void* dst, Device dst_device, const void* src, Device src_device,
                 std::size_t nbytes) override {
    if (!nbytes) return;
    ASTENSOR_RANGE("copy_sync");
    count(dst, dst_device, src, src_device, nbytes);
    // Our streams are non-blocking, so the legacy-stream cudaMemcpy would not wait for them:
    // order the copy after the involved devices' queued work explicitly (the contract).
    if (!src_device.is_cpu()) synchronize_device(src_device.index);
    if (!dst_device.is_cpu() && dst_device != src_device) synchronize_device(dst_device.index);
    fault::point(fault::Site::Copy);
    // Unified addressing: the runtime knows where each pointer lives.
    ASTENSOR_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDefault));
  }

  // Pinned memory: portable, so every device's copy engines can use it.
  void* allocate_pinned(std::size_t nbytes) override {
    ASTENSOR_RANGE("cudaHostAlloc");
    fault::point(fault::Site::PinnedAlloc);
    void* p = nullptr;
    ASTENSOR_CUDA_CHECK(cudaHostAlloc(&p, nbytes ? nbytes : 1, cudaHostAllocPortable));
    return p;
  }
  void free_pinned(void* ptr) noexcept override {
    if (ptr) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaFreeHost(ptr));
  }
  void register_host(void* ptr, std::size_t nbytes) override {
    ASTENSOR_RANGE("cudaHostRegister");
    ASTENSOR_CUDA_CHECK(cudaHostRegister(ptr, nbytes, cudaHostRegisterPortable));
  }
  void unregister_host(void* ptr) noexcept override {
    if (ptr) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaHostUnregister(ptr));
  }
  PointerInfo pointer_info(const void* ptr) override {
    if (device_count() == 0 || ptr == nullptr) return {};
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, ptr) != cudaSuccess) {
      (void)cudaGetLastError();
      return {};
    }
    switch (a.type) {
      case cudaMemoryTypeHost: return {MemoryKind::Pinned, Device::cpu()};
      case cudaMemoryTypeDevice:
      case cudaMemoryTypeManaged: return {MemoryKind::Device, Device(DeviceType::CUDA, a.device)};
      default: return {};
    }
  }

  // Streams. Each device's default current stream is a non-blocking stream of our own, so a
  // handle always names its device (the legacy null stream means "the current device's").
  StreamHandle create_stream(int device) override {
    DeviceGuard g(device);
    cudaStream_t s = nullptr;
    ASTENSOR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return s;
  }
  void destroy_stream(int, StreamHandle s) noexcept override {
    if (s) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaStreamDestroy(static_cast<cudaStream_t>(s)));
  }
  StreamHandle current_stream(int device) override {
    check_device(device);
    StreamHandle s = current_[device];
    return s ? s : default_stream(device);
  }
  void set_current_stream(int device, StreamHandle s) override {
    check_device(device);
    current_[device] = s;
  }
  void synchronize_stream(StreamHandle s) override {
    ASTENSOR_RANGE("stream_synchronize");
    ASTENSOR_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(s)));
  }
  void synchronize_device(int device) override {
    DeviceGuard g(device);
    ASTENSOR_CUDA_CHECK(cudaDeviceSynchronize());
  }

  // Events (no timing: cheaper to record and wait on).
  EventHandle create_event(int device) override {
    DeviceGuard g(device);
    cudaEvent_t e = nullptr;
    ASTENSOR_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }
  void destroy_event(EventHandle e) noexcept override {
    if (e) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaEventDestroy(static_cast<cudaEvent_t>(e)));
  }
  void record_event(EventHandle e, StreamHandle s) override {
    ASTENSOR_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(e), static_cast<cudaStream_t>(s)));
  }
  void stream_wait_event(StreamHandle s, EventHandle e) override {
    ASTENSOR_CUDA_CHECK(cudaStreamWaitEvent(static_cast<cudaStream_t>(s), static_cast<cudaEvent_t>(e), 0));
  }
  void synchronize_event(EventHandle e) override {
    ASTENSOR_RANGE("event_synchronize");
    ASTENSOR_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(e)));
  }
  bool query_event(EventHandle e) override {
    cudaError_t r = cudaEventQuery(static_cast<cudaEvent_t>(e));
    if (r == cudaErrorNotReady) {
      (void)cudaGetLastError();
      return false;
    }
    ASTENSOR_CUDA_CHECK(r);
    return true;
  }

  void copy_async(void* dst, Device dst_device, const void* src, Device src_device,
                  std::size_t nbytes, StreamHandle stream) override {
    if (!nbytes) return;
    ASTENSOR_RANGE("copy_async");
    // Sim fails a copy when it runs (at the next synchronization); here the failure is
    // raised when the copy is queued, as an immediate cudaMemcpyAsync error would be.
    fault::point(fault::Site::Copy);
    const Link link = count(dst, dst_device, src, src_device, nbytes);
    auto s = static_cast<cudaStream_t>(stream);
    if (link == Link::Peer) {
      enable_peer_access(dst_device.index, src_device.index);
      DeviceGuard g(dst_device.index);
      ASTENSOR_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, nbytes, s));
    } else {
      DeviceGuard g(src_device.is_cpu() ? dst_device.index : src_device.index);
      ASTENSOR_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, s));
    }
  }

  void launch_cast(int device, const CastKernel& k, StreamHandle stream) override {
    if (k.count <= 0) return;
    DeviceGuard g(device);
    cuda::launch_cast_kernel(k, static_cast<cudaStream_t>(stream));
    kernel_launches_.fetch_add(1, std::memory_order_relaxed);
    kernel_elements_.fetch_add(static_cast<uint64_t>(k.count), std::memory_order_relaxed);
  }

  void wait_external_stream(int device, intptr_t producer, StreamHandle consumer) override {
    ASTENSOR_CHECK_VALUE(producer != 0, "[cuda] stream 0 is disallowed by the protocol (CAI-3, DLP-2)");
    cudaStream_t p = producer == 1   ? cudaStreamLegacy
                     : producer == 2 ? cudaStreamPerThread
                                     : reinterpret_cast<cudaStream_t>(producer);
    DeviceGuard g(device);
    cudaEvent_t e = nullptr;
    ASTENSOR_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    cudaError_t r1 = cudaEventRecord(e, p);
    cudaError_t r2 = r1 == cudaSuccess ? cudaStreamWaitEvent(static_cast<cudaStream_t>(consumer), e, 0) : r1;
    ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaEventDestroy(e));  // released once the wait is satisfied
    ASTENSOR_CUDA_CHECK(r2);
  }

  TransferCounters counters() override {
    TransferCounters t;
    for (int l = 0; l < kNumLinks; ++l) {
      t.pinned_bytes[l] = pinned_[l].load();
      t.pageable_bytes[l] = pageable_[l].load();
      t.copies[l] = copies_[l].load();
    }
    t.kernel_launches = kernel_launches_.load();
    t.kernel_elements = kernel_elements_.load();
    return t;
  }
  void reset_counters() override {
    for (int l = 0; l < kNumLinks; ++l) {
      pinned_[l] = 0;
      pageable_[l] = 0;
      copies_[l] = 0;
    }
    kernel_launches_ = 0;
    kernel_elements_ = 0;
  }

 private:
  void check_device(int device) {
    const int n = device_count();
    ASTENSOR_CHECK(device >= 0 && device < n, "[cuda] cuda:", device, " does not exist (found ", n,
                   " CUDA device", n == 1 ? "" : "s", ")");
  }
  /// Direct peer copies where the hardware allows them (else the runtime stages through the
  /// host); tried once per ordered pair.
  void enable_peer_access(int dst, int src) {
    std::lock_guard<std::mutex> g(peer_m_);
    const int key = dst * kMaxDevices + src;
    if (peer_tried_.size() <= std::size_t(key)) peer_tried_.resize(std::size_t(key) + 1, false);
    if (peer_tried_[std::size_t(key)]) return;
    peer_tried_[std::size_t(key)] = true;
    int can = 0;
    if (cudaDeviceCanAccessPeer(&can, dst, src) == cudaSuccess && can) {
      DeviceGuard dg(dst);
      cudaError_t e = cudaDeviceEnablePeerAccess(src, 0);
      if (e != cudaSuccess) (void)cudaGetLastError();  // already enabled is fine
    } else {
      (void)cudaGetLastError();
    }
  }
  StreamHandle default_stream(int device) {
    std::call_once(default_once_[device], [&] { default_[device] = create_stream(device); });
    return default_[device].load();
  }
  Link count(void* dst, Device dst_device, const void* src, Device src_device, std::size_t nbytes) {
    const Link link = src_device.is_cpu()       ? Link::H2D
                      : dst_device.is_cpu()     ? Link::D2H
                      : src_device == dst_device ? Link::D2D
                                                 : Link::Peer;
    bool pinned = true;
    if (link == Link::H2D) pinned = pointer_info(src).kind == MemoryKind::Pinned;
    if (link == Link::D2H) pinned = pointer_info(dst).kind == MemoryKind::Pinned;
    const int l = static_cast<int>(link);
    (pinned ? pinned_[l] : pageable_[l]).fetch_add(nbytes, std::memory_order_relaxed);
    copies_[l].fetch_add(1, std::memory_order_relaxed);
    return link;
  }

  std::mutex peer_m_;
  std::vector<bool> peer_tried_;
  std::once_flag probe_;
  int count_ = 0;
  std::string reason_;
  std::once_flag default_once_[kMaxDevices];
  std::atomic<StreamHandle> default_[kMaxDevices] = {};
  static thread_local std::array<StreamHandle, kMaxDevices> current_;
  std::atomic<uint64_t> pinned_[kNumLinks] = {}, pageable_[kNumLinks] = {}, copies_[kNumLinks] = {};
  std::atomic<uint64_t> kernel_launches_{0}, kernel_elements_{0};
};

thread_local std::array<StreamHandle, kMaxDevices> CudaBackend::current_ = {};

}  // namespace

Backend& cuda_backend() {
  // Never destroyed: the CUDA runtime may already be torn down at static destruction.
  static CudaBackend* be = new CudaBackend();
  return *be;
}

// Note [Backend registry] in core/backend.h: kept by astensor_backends linking this library whole.
namespace {
[[maybe_unused]] const bool registered = register_backend(DeviceType::CUDA, &cuda_backend);
}  // namespace

}  // namespace astensor
