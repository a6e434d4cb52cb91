#pragma once
/// The machine's limits measured in the same process, which the roofline divides by: host
/// memcpy bandwidth per (threads, size, output memory state), with the parallel memcpy that
/// measures it, and the pinned copy-engine bandwidth of the CUDA cases.

#include <cstddef>

#include "bench/impls.h"

namespace astensor::bench {

/// Threads the optimized implementation may use: $ASTENSOR_NUM_THREADS, else all cores.
int impl_threads();
int threads_for(Impl impl);  // reference: 1; optimized: impl_threads()

/// The state of a memcpy baseline's output memory: pre-faulted (`reused`), a fresh mapping
/// of 4 KiB pages per call (`fresh`: glibc's large allocations, the reference's outputs), or
/// a fresh 2 MiB-aligned MADV_HUGEPAGE mapping per call (`fresh_huge`: the optimized
/// implementation's fresh outputs of kHugePageMinBytes and more).
enum class OutMemory { Reused, Fresh, FreshHuge };
const char* out_memory_name(OutMemory m);  // "reused", "fresh", "fresh_huge"

/// Host memcpy bandwidth (bytes/s) with `threads` threads at `bytes`, into output memory in
/// state `out`: the value the cpu/memcpy case stored when it ran at that (threads, bytes,
/// out) in this process, else a short calibration run now (stored too). Never 0.
double memcpy_limit(int threads, std::size_t bytes, OutMemory out = OutMemory::Reused);
void store_memcpy_limit(int threads, std::size_t bytes, double bytes_per_s,
                        OutMemory out = OutMemory::Reused);

/// Parallel memcpy on a persistent pool of `threads` workers (threads == 1: plain memcpy).
void parallel_memcpy(void* dst, const void* src, std::size_t n, int threads);

/// Pinned copy-engine bandwidth (bytes/s) per direction measured by the cuda/*/memcpy_pinned
/// case in this process; 0 when not measured (yet).
double pinned_limit(bool h2d);
void store_pinned_limit(bool h2d, double bytes_per_s);

}  // namespace astensor::bench
