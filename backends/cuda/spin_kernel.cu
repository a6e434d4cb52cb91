// astensor::cuda::enqueue_spin (backends/cuda/cuda.h): a kernel of known duration.

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/cuda.h"
#include "backends/cuda/cuda_check.h"

namespace astensor::cuda {

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

}  // namespace

void enqueue_spin(int device, void* stream, uint64_t ns) {
  int prev = 0;
  ASTENSOR_CUDA_CHECK(cudaGetDevice(&prev));
  ASTENSOR_CUDA_CHECK(cudaSetDevice(device));
  spin_kernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(ns);
  const cudaError_t launched = cudaGetLastError();
  ASTENSOR_CUDA_CHECK(cudaSetDevice(prev));
  ASTENSOR_CUDA_CHECK(launched);
}

}  // namespace astensor::cuda
