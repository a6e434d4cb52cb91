#pragma once
/// The CastKernel of core/backend.h run on host-addressable memory: the simulated
/// accelerator's "device" kernels (it stands for device code, as
/// backends/cuda/cast_kernels.cu does). The pipeline's host staging does not use it: it runs
/// on the CPU kernels of impl/cpu. Every element goes through cast_value of core/cast.h, the
/// one DT-3 definition, so results equal the reference's bit for bit (XFER-3).

#include "core/backend.h"

namespace astensor::sim {

/// Runs `k` on host-addressable memory. `src_byteswapped`: the source is in non-native byte
/// order (ARR-4; complex values swap each component).
void run_cast_kernel_host(const CastKernel& k, bool src_byteswapped = false);

}  // namespace astensor::sim
