#pragma once
/// Geometry of a strided CastKernel (core/backend.h), shared by every backend's kernels
/// (sim's host loops, CUDA's cast kernels) and by the checks around them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "core/backend.h"

namespace astensor {

/// Merges adjacent dimensions that are contiguous with each other in the source and (when
/// strided) the destination, and drops size-1 dimensions; linear indices are unchanged.
/// Keeps at least one dimension.
CastKernel merge_dims(const CastKernel& k);

/// Touched byte range [lo, hi) of a strided view relative to its base (hi - lo >= itemsize
/// when numel > 0; {0, 0} when numel == 0).
std::pair<int64_t, int64_t> byte_extent(std::span<const int64_t> shape,
                                        std::span<const int64_t> byte_strides,
                                        std::size_t itemsize);

}  // namespace astensor
