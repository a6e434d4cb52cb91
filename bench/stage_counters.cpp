#include "bench/stage_counters.h"

#include <algorithm>

#include "bench/impls.h"
#if ASTENSOR_BENCH_HAVE_IMPL
#include "impl/transfer/transfer.h"
#endif

namespace astensor::bench {

void begin_stage_counters() {
#if ASTENSOR_BENCH_HAVE_IMPL
  transfer::reset_stage_counters();
#endif
}

void report_stage_counters(benchmark::State& state) {
#if ASTENSOR_BENCH_HAVE_IMPL
  const auto c = transfer::stage_counters();
  if (c.transfers == 0) return;
  const double calls = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["stage_us"] = static_cast<double>(c.host_stage_ns) / 1e3 / calls;
  state.counters["wait_us"] = static_cast<double>(c.wait_ns) / 1e3 / calls;
  state.counters["chunks"] = static_cast<double>(c.chunks) / calls;
  state.counters["small"] = static_cast<double>(c.small_transfers) / static_cast<double>(c.transfers);
#else
  (void)state;
#endif
}

}  // namespace astensor::bench
