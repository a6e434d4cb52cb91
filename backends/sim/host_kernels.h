#pragma once
/// The CastKernel of core/backend.h run on host-addressable memory: the simulated
/// accelerator's "device" kernels (it stands for device code, as
/// backends/cuda/cast_kernels.cu does). The pipeline's host staging does not use it: it runs
/// on the CPU kernels of impl/cpu. Every element goes through cast_value of core/cast.h, the
/// one DT-3 definition, so results equal the reference's bit for bit (XFER-3).

#include <cstddef>

#include "core/backend.h"

namespace astensor::sim {

/// Runs `k` on host-addressable memory. `src_byteswapped`: the source is in non-native byte
/// order (ARR-4; complex values swap each component).
void run_cast_kernel_host(const CastKernel& k, bool src_byteswapped = false);

/// Note [sim copies into device memory]: a GPU's copy engine writes device memory without
/// passing through the host's caches, and sim's copies share this machine's memory bandwidth
/// with the host side of the pipeline. So a copy into sim device memory of at least
/// kStreamingCopyBytes uses non-temporal (streaming) stores where the CPU has them (SSE2):
/// no read-for-ownership of the destination lines, and the host's cache keeps the staging
/// slots the fill is writing. Measured on the 2-core VM (one thread, 64 MiB): ~5.2 ms against
/// glibc memcpy's ~7.2 ms; sim/link/fast h2d float32 at 64 MiB, 3 interleaved runs: efficiency
/// 0.81-0.95 with memcpy, 1.13-1.22 with streaming stores (against the memcpy staging bound of
/// that commit). Copies to the host (D2H) keep memcpy: the host reads the pinned slot next,
/// from the cache. Bytes equal memcpy's (test_sim_memory.cpp).
inline constexpr std::size_t kStreamingCopyBytes = std::size_t(256) << 10;
void copy_to_device_memory(void* dst, const void* src, std::size_t nbytes);

}  // namespace astensor::sim
