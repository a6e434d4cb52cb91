#pragma once
/// Host-side element loops of the transfer path: the CastKernel of core/backend.h run on the
/// CPU (the simulated accelerator's "device" kernels, and the host side of staging, where a
/// byteswap can be fused in). Every element goes through cast_value of core/cast.h, the one
/// DT-3 definition, so results equal the reference's bit for bit (XFER-3).

#include "core/backend.h"

namespace astensor::transfer {

/// Merges adjacent dimensions that are contiguous with each other in the source and (when
/// strided) the destination, and drops size-1 dimensions; linear indices are unchanged.
/// Keeps at least one dimension.
CastKernel merge_dims(const CastKernel& k);

/// Runs `k` on host-addressable memory. `src_byteswapped`: the source is in non-native byte
/// order (ARR-4; complex values swap each component).
void run_cast_kernel_host(const CastKernel& k, bool src_byteswapped = false);

/// Touched byte range [lo, hi) of a strided view relative to its base (hi - lo >= itemsize
/// when numel > 0; {0, 0} when numel == 0).
std::pair<int64_t, int64_t> byte_extent(std::span<const int64_t> shape,
                                        std::span<const int64_t> byte_strides,
                                        std::size_t itemsize);

}  // namespace astensor::transfer
