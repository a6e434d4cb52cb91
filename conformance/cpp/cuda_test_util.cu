// The CUDA side of cuda_test_util.h (test-only; compiled only into the CUDA test binaries).
// Kept trivial on purpose: one spin kernel and raw stream handles, every runtime call checked.

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "backends/cuda/cuda_check.h"

// Declared in cuda_test_util.h (not included here: it pulls GoogleTest into nvcc's way; a
// signature that drifts apart fails to link).

namespace astensor::testing::cuda_test {

namespace {

/// One thread spins until `ns` nanoseconds of the GPU's global timer have passed. A second
/// bound on SM clock cycles (10 per nanosecond asked, several times the time at any clock of
/// today's GPUs) ends the loop even if the global timer did not advance.
__global__ void spin_kernel(uint64_t ns) {
  uint64_t t0 = 0, now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  const long long c0 = clock64();
  const long long cycle_cap = static_cast<long long>(ns) * 10;
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - t0 < ns && clock64() - c0 < cycle_cap);
}

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

void spin(int device, void* stream, uint64_t ns) {
  CurrentDevice g(device);
  spin_kernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(ns);
  ASTENSOR_CUDA_CHECK(cudaGetLastError());
}

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
