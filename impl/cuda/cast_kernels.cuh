#pragma once
/// Device-side casts: the DT-3 cast of core/cast.h in CUDA kernels (the same functions the
/// CPU runs, so CPU and GPU agree bit for bit).

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace astensor::cuda {

/// dst[i] = cast(src[i]) for i < n, both contiguous, on `stream`. Any alignment.
void launch_cast_contiguous(const void* src, DType from, void* dst, DType to, int64_t n,
                            cudaStream_t stream);

}  // namespace astensor::cuda
