#pragma once
/// The transfer pipeline's stage counters (impl/transfer: transfer::stage_counters) over a timed
/// loop, per call (issue 12): begin_stage_counters() resets them; report_stage_counters() adds
/// stage_us (host staging: gather, cast, byteswap into or out of pinned slots), wait_us (blocked
/// on a slot's reuse or the final synchronize), chunks (staging chunks per call) and small (the
/// share of transfers on the small-copy path) to the case, when any transfer ran. Both do
/// nothing without the optimized implementation. time_as_tensor() (host_report.h) and the
/// cuda/ cases' time_calls() (cuda_harness.h) call them.

#include <benchmark/benchmark.h>

namespace astensor::bench {

void begin_stage_counters();
void report_stage_counters(benchmark::State& state);

}  // namespace astensor::bench
