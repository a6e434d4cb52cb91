#pragma once
/// The transfer pipeline's stage counters (impl/transfer: transfer::stage_counters) over a timed
/// loop, per call (issue 12): begin_stage_counters() resets them; report_stage_counters() adds
/// stage_us (host staging: gather, cast, byteswap into or out of pinned slots), wait_us (blocked
/// on a slot's reuse or the final synchronize), chunks (staging chunks per call) and small (the
/// share of transfers on the small-copy path) to the case, when any transfer ran. With a device
/// whose backend times its device work (TransferCounters::device_times: sim), they also reset
/// and report its copy_busy_us (copy engines held, all links) and kernel_us (its kernels), per
/// call; the CUDA backend does not time them (Nsight does). The transfer counters need the
/// optimized implementation. time_as_tensor() (host_report.h), the cuda/ cases' time_calls()
/// (cuda_harness.h) and the sim/link/ cases call them.

#include <benchmark/benchmark.h>

#include "core/device.h"

namespace astensor::bench {

void begin_stage_counters(DeviceType device = DeviceType::CPU);
void report_stage_counters(benchmark::State& state, DeviceType device = DeviceType::CPU);

}  // namespace astensor::bench
