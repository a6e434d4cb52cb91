#pragma once
/// What every case file of bench_as_tensor includes: the pieces below, each in its own header,
/// and the family registrars.
///   impls.h           the implementations under test (reference, optimized when built)
///   size_axis.h       the size axis and byte sizes as text
///   host_arrays.h     host buffers, the fill pattern, the layout axis
///   machine_limits.h  the limits measured in the same process (memcpy, pinned), the roofline's
///                     divisors, and the thread counts they are taken at
///   host_report.h     clocks, the timed host loop, the counters and label of a host case
///   stage_counters.h  the transfer pipeline's stage counters per call
/// (The cuda/ cases' own timing and buffers are in cuda_harness.h.)
///
/// Case names are "family/what/key:value/...": the family (cpu, cast, seq, sim, cuda, overlap) comes
/// first so that --benchmark_filter selects it, and every axis is a key:value segment that
/// reports/generate.py parses back.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <vector>

#include "bench/host_arrays.h"
#include "bench/host_report.h"
#include "bench/impls.h"
#include "bench/machine_limits.h"
#include "bench/size_axis.h"
#include "bench/stage_counters.h"

namespace astensor::bench {

/// Each family registers its cases; main() calls them in this order (memcpy first, so the
/// roofline limits are in place before the cases that use them).
void register_cpu();
void register_cast();
void register_seq();
void register_sim();
void register_cuda();
void register_overlap();  // overlap_cases.cpp (issue 15)
void register_retained();  // the alloc:retain variants, last (see cpu_cases.cpp)

/// The host conversion loop shared by cpu/copy and cast/...: as_tensor of a host array of
/// `bytes` (source bytes) in `layout` to dtype `to` on the CPU (copy=True when from == to).
void bm_host_convert(benchmark::State& state, Impl impl, DType from, DType to, Layout layout,
                     std::size_t bytes);
/// "<head>/impl:<impl>/alloc:<alloc>/bytes:<size>".
std::string case_name(const std::string& head, Impl impl, const char* alloc, std::size_t bytes);

/// Lines main() prints before the run (what is built, what is skipped and why); defined in
/// bench_as_tensor.cpp.
std::vector<std::string>& notes();

}  // namespace astensor::bench
