#include "core/cast.h"
#include "impl/cuda/cast_kernels.cuh"
#include "impl/cuda/cuda_check.h"

namespace astensor::cuda {

namespace {

template <class From, class To>
__global__ void cast_contiguous_kernel(const char* __restrict__ src, char* __restrict__ dst,
                                       int64_t n) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    From v;
    memcpy(&v, src + i * sizeof(From), sizeof(From));  // sources may be misaligned (ARR-6)
    To out = cast_value<To>(v);
    memcpy(dst + i * sizeof(To), &out, sizeof(To));
  }
}

}  // namespace

void launch_cast_contiguous(const void* src, DType from, void* dst, DType to, int64_t n,
                            cudaStream_t stream) {
  if (n <= 0) return;
  const int threads = 256;
  const int64_t want = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 65535 * 8 ? want : 65535 * 8);
  dispatch_dtype(from, [&]<DType F>() {
    dispatch_dtype(to, [&]<DType T>() {
      cast_contiguous_kernel<storage_t<F>, storage_t<T>><<<blocks, threads, 0, stream>>>(
          static_cast<const char*>(src), static_cast<char*>(dst), n);
    });
  });
  ASTENSOR_CUDA_CHECK(cudaGetLastError());
}

}  // namespace astensor::cuda
