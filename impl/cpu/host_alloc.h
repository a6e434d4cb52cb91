#pragma once
/// Output memory of the optimized implementation on the host.
///
/// Note [Huge-page outputs]
/// A fresh large output is dominated by first-touch page faults, not by the copy: ~18 us per
/// 4 KiB page here (research/perf-anchors.md §3), i.e. > 1 s for 256 MiB, against ~20 ms
/// for the copy itself. Large outputs are therefore mapped 2 MiB-aligned with
/// MADV_HUGEPAGE, so the kernel faults them in 2 MiB at a time (512x fewer faults), and the
/// first touch happens inside the (threaded) copy, so the faults are spread over the copy's
/// threads too. Small outputs use the ordinary backend allocation.
///
/// Freed large outputs are kept in a small cache and handed to the next output of (about)
/// the same size, so repeated conversions pay no faults at all. A block enters the cache
/// only when the last tensor on it is gone (its Storage owner ran), so a cached block never
/// aliases a live tensor; the cache holds at most host_cache_limit() bytes (oldest blocks
/// are unmapped first), its blocks are lazily freed (MADV_FREE, the kernel may reclaim
/// them) and release_host_cache() unmaps everything. Reused memory is not
/// zeroed: every user of allocate_host() overwrites all of it. Measurements:
/// impl/cpu/NOTES.md "Output memory".

#include <cstddef>
#include <memory>

#include "core/storage.h"

namespace astensor::impl::cpu {

/// Outputs of at least this many bytes get huge-page mappings.
inline constexpr std::size_t kHugePageMinBytes = std::size_t(4) << 20;

/// New host memory for a copy's output (64-byte aligned at least; counted in
/// storage_stats()). Throws RuntimeError when the memory cannot be had.
std::shared_ptr<Storage> allocate_host(std::size_t nbytes);

/// Bytes held by the cache of freed large outputs now (not counted in storage_stats()).
std::size_t host_cache_bytes();
/// The most the cache keeps: an eighth of physical memory but at least 512 MiB, or
/// ASTENSOR_HOST_CACHE_BYTES (0 disables caching). Cached blocks are lazily freed
/// (MADV_FREE): the kernel reclaims them under memory pressure.
std::size_t host_cache_limit();
/// Unmaps every cached block (returns the memory to the OS).
void release_host_cache();

}  // namespace astensor::impl::cpu
