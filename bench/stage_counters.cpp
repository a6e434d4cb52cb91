#include "bench/stage_counters.h"

#include <algorithm>

#include "bench/impls.h"
#include "core/backend.h"
#if ASTENSOR_BENCH_HAVE_IMPL
#include "impl/transfer/transfer.h"
#endif

namespace astensor::bench {

void begin_stage_counters(DeviceType device) {
#if ASTENSOR_BENCH_HAVE_IMPL
  transfer::reset_stage_counters();
#endif
  if (device != DeviceType::CPU) backend(device).reset_counters();
}

void report_stage_counters(benchmark::State& state, DeviceType device) {
  const double calls = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
#if ASTENSOR_BENCH_HAVE_IMPL
  const auto c = transfer::stage_counters();
  if (c.transfers > 0) {
    state.counters["stage_us"] = static_cast<double>(c.host_stage_ns) / 1e3 / calls;
    state.counters["wait_us"] = static_cast<double>(c.wait_ns) / 1e3 / calls;
    state.counters["chunks"] = static_cast<double>(c.chunks) / calls;
    state.counters["small"] = static_cast<double>(c.small_transfers) / static_cast<double>(c.transfers);
  }
#endif
  if (device == DeviceType::CPU) return;
  const TransferCounters d = backend(device).counters();
  if (!d.device_times) return;  // CUDA: Nsight shows the device side
  uint64_t copy_ns = 0;
  for (uint64_t n : d.copy_ns) copy_ns += n;
  state.counters["copy_busy_us"] = static_cast<double>(copy_ns) / 1e3 / calls;
  state.counters["kernel_us"] = static_cast<double>(d.kernel_ns) / 1e3 / calls;
}

}  // namespace astensor::bench
