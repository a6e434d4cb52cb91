#pragma once
/// Timing and judging a host case: the clocks (wall seconds, minor page faults), the timed
/// as_tensor loop, and the counters and label every host case reports (the roofline against
/// the memcpy limits of machine_limits.h).

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

#include "bench/impls.h"

namespace astensor::bench {

/// Wall seconds since an arbitrary epoch (steady clock).
double now_s();

/// Minor page faults of this process so far (getrusage), to tell fresh output memory (one
/// fault per 4 KiB page on first touch) from reused memory.
long long minor_faults();

/// The timed loop of the host cases: as_tensor(src, o) once per iteration, its result dropped
/// at once, with the minor page faults and the wall seconds of the whole loop.
struct LoopCost {
  long long faults;
  double seconds;
};
LoopCost time_as_tensor(benchmark::State& state, Impl impl, const Source& src, const Options& o);

/// What one case moved, and how to judge it.
struct CaseInfo {
  Impl impl = Impl::Reference;
  int64_t numel = 0;          ///< elements converted per iteration
  std::size_t src_bytes = 0;  ///< bytes read per iteration (SetBytesProcessed)
  std::size_t dst_bytes = 0;  ///< bytes written per iteration
  std::size_t out_bytes = 0;  ///< size of the output allocated per iteration (0: none)
  std::size_t limit_bytes = 0;  ///< size at which to take the memcpy limit (default src_bytes)
};

/// Sets bytes processed, elements/s, the roofline counters and the label. Call after the
/// loop with the faults counted around it. The roofline: a case that reads S and writes D
/// bytes is at the limit when it runs as fast as memcpy of (S + D) / 2 bytes with the same
/// thread count, into output memory in the SAME state as the case's: when the case's output
/// was fresh, the limit adds what memcpy pays to fault in D fresh bytes of the same page
/// size (the fresh minus the reused memcpy time per byte, measured at the same size), so a
/// fresh case is never judged against a pre-faulted baseline. `roofline` = that limit time /
/// the case's time (CPU time = wall time here: every case is single-process, and memcpy is
/// measured the same way).
/// The label: "<impl> out:<fresh|reused|none> limit:<reused|fresh|fresh_huge>", out:fresh
/// when the loop took at least half a page fault per output page per iteration.
void report_host_case(benchmark::State& state, const CaseInfo& info, long long faults,
                      double seconds);

/// Output freshness from measured faults ("fresh", "reused", "none").
const char* out_state(std::size_t out_bytes, long long faults, int64_t iterations,
                      std::size_t page_bytes = 4096);

}  // namespace astensor::bench
