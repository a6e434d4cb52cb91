#pragma once
/// The CastKernel of core/backend.h run on host-addressable memory: the simulated
/// accelerator's "device" kernels (impl/sim; it stands for device code, as
/// impl/cuda/cast_kernels.cu does). The pipeline's host staging does not use it: it runs on
/// the CPU kernels of impl/cpu (impl/transfer/transfer.cpp host_chunk). This stays in
/// astensor_core because sim is part of core's backend registry and core must not depend on
/// impl/cpu. Every element goes through cast_value of core/cast.h, the one
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
