#pragma once
/// Device-side casts: the DT-3 cast of core/cast.h in CUDA kernels (the same functions the
/// CPU runs, so CPU and GPU agree bit for bit). A bool source byte 2..255 reads as true, as
/// on the CPU (Note [Loading bool] in cast_kernels.cu).

#include <cuda_runtime.h>

#include <cstdint>

#include "core/backend.h"
#include "core/dtype.h"

namespace astensor::cuda {

/// dst[i] = cast(src[i]) for i < n, both contiguous, on `stream`. Any alignment; 16-byte
/// vector loads and stores when both pointers are aligned for them.
void launch_cast_contiguous(const void* src, DType from, void* dst, DType to, int64_t n,
                            cudaStream_t stream);

/// The CastKernel of core/backend.h (strided gather, optional strided scatter, element range
/// [start, start + count)) on `stream` of the current device. Dimensions are merged first;
/// a view that still has more than kMaxKernelDims dimensions raises ValueError.
void launch_cast_kernel(const CastKernel& k, cudaStream_t stream);

}  // namespace astensor::cuda
