// The CUDA backend (synchronous part). Built only when CUDA is enabled; otherwise
// no_cuda_backend.cpp answers "built without CUDA".

#include <mutex>
#include <string>

#include "core/backend.h"
#include "impl/cuda/cuda_check.h"

namespace astensor {

namespace {

/// Makes `device` current for the scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    ASTENSOR_CUDA_CHECK(cudaGetDevice(&prev_));
    if (device >= 0 && device != prev_) ASTENSOR_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaSetDevice(prev_)); }

 private:
  int prev_ = 0;
};

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
        count_ = n;
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
    DeviceGuard g(device);
    void* p = nullptr;
    if (nbytes) ASTENSOR_CUDA_CHECK(cudaMalloc(&p, nbytes));
    return p;
  }
  void deallocate(int, void* ptr) noexcept override {
    if (ptr) ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaFree(ptr));
  }
  void copy_sync(void* dst, Device, const void* src, Device, std::size_t nbytes) override {
    // Unified addressing: the runtime knows where each pointer lives.
    if (nbytes) ASTENSOR_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDefault));
  }

 private:
  std::once_flag probe_;
  int count_ = 0;
  std::string reason_;
};

}  // namespace

Backend& cuda_backend() {
  static CudaBackend be;
  return be;
}

}  // namespace astensor
