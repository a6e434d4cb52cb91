// The CUDA side of cuda_test_util.h (test-only; compiled only into the CUDA test binaries).
// Kept trivial on purpose: the backend's spin kernel (cuda::enqueue_spin) and raw stream
// handles, every runtime call checked.

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "backends/cuda/cuda.h"
#include "backends/cuda/cuda_check.h"

// Declared in cuda_test_util.h (not included here: it pulls GoogleTest into nvcc's way; a
// signature that drifts apart fails to link).

namespace astensor::testing::cuda_test {

namespace {

/// Makes `device` current for the scope.
class CurrentDevice {
 public:
  explicit CurrentDevice(int device) {
    ASTENSOR_CUDA_CHECK(cudaGetDevice(&prev_));
    ASTENSOR_CUDA_CHECK(cudaSetDevice(device));
  }
  ~CurrentDevice() { ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaSetDevice(prev_)); }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int prev_ = 0;
};

}  // namespace

void spin(int device, void* stream, uint64_t ns) { cuda::enqueue_spin(device, stream, ns); }

void* create_raw_stream(int device) {
  CurrentDevice g(device);
  cudaStream_t s = nullptr;
  ASTENSOR_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void destroy_raw_stream(int device, void* stream) noexcept {
  if (!stream) return;
  int prev = 0;
  ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaGetDevice(&prev));
  ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaSetDevice(device));
  ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
  ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
  ASTENSOR_CUDA_CHECK_NOEXCEPT(cudaSetDevice(prev));
}

void* protocol_stream(intptr_t value) {
  ASTENSOR_CHECK_VALUE(value == 1 || value == 2, "protocol_stream: ", value, " is not 1 or 2");
  return value == 1 ? cudaStreamLegacy : cudaStreamPerThread;
}

}  // namespace astensor::testing::cuda_test
