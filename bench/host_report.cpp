#include "bench/host_report.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "bench/machine_limits.h"
#include "bench/size_axis.h"
#include "bench/stage_counters.h"
#if ASTENSOR_BENCH_HAVE_IMPL
#include "impl/cpu/host_alloc.h"
#endif

namespace astensor::bench {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

LoopCost time_as_tensor(benchmark::State& state, Impl impl, const Source& src, const Options& o) {
  begin_stage_counters();
  const long long f0 = minor_faults();
  const double t0 = now_s();
  for (auto _ : state) {
    Tensor t = call_as_tensor(impl, src, o);
    benchmark::DoNotOptimize(t.data_ptr());
  }
  const LoopCost cost{minor_faults() - f0, now_s() - t0};
  report_stage_counters(state);
  return cost;
}

const char* out_state(std::size_t out_bytes, long long faults, int64_t iterations,
                      std::size_t page_bytes) {
  if (out_bytes == 0) return "none";
  if (iterations <= 0) return "unknown";
  // One fault maps one page: 4 KiB, or 2 MiB for huge-page outputs.
  const double pages = static_cast<double>((out_bytes + page_bytes - 1) / page_bytes);
  return static_cast<double>(faults) / static_cast<double>(iterations) >= 0.5 * pages ? "fresh"
                                                                                     : "reused";
}

void report_host_case(benchmark::State& state, const CaseInfo& info, long long faults,
                      double seconds) {
  using benchmark::Counter;
  const auto iters = static_cast<int64_t>(state.iterations());
  if (iters == 0 || seconds <= 0) return;
  state.SetBytesProcessed(iters * static_cast<int64_t>(info.src_bytes));
  state.counters["elems_per_s"] = Counter(static_cast<double>(info.numel * iters), Counter::kIsRate);
  const int threads = threads_for(info.impl);
  const std::size_t at = info.limit_bytes ? info.limit_bytes : std::max<std::size_t>(info.src_bytes, 64);
  // The optimized implementation puts outputs of kHugePageMinBytes and more on 2 MiB pages
  // (impl/cpu/host_alloc.h), so a fresh output of that size costs one fault per 2 MiB.
  std::size_t page_bytes = 4096;
#if ASTENSOR_BENCH_HAVE_IMPL
  if (info.impl == Impl::Optimized && info.out_bytes >= impl::cpu::kHugePageMinBytes)
    page_bytes = std::size_t(2) << 20;
#endif
  const char* state_name = out_state(info.out_bytes, faults, iters, page_bytes);
  const bool fresh = std::strcmp(state_name, "fresh") == 0;
  const OutMemory limit_out = !fresh ? OutMemory::Reused
                              : page_bytes > 4096 ? OutMemory::FreshHuge
                                                  : OutMemory::Fresh;
  const double limit = memcpy_limit(threads, at, OutMemory::Reused);
  const double traffic = 0.5 * static_cast<double>(info.src_bytes + info.dst_bytes);
  // Seconds the baseline needs: the traffic at the pre-faulted memcpy rate, plus, for a fresh
  // output, what memcpy paid per fresh output byte of the same page size (fresh minus reused
  // time per byte at the same size) times the case's output bytes.
  double limit_s = traffic / limit;
  if (fresh) {
    // Per-byte page cost at a size of the size axis (measured by the cpu/memcpy cases)
    // near the output's size: the smallest axis size >= the output (or the largest one).
    std::size_t fs = 0;
    for (std::size_t b : sizes()) {
      fs = b;
      if (b >= info.out_bytes) break;
    }
    if (fs == 0) fs = at;
    const double per_byte = 1.0 / memcpy_limit(threads, fs, limit_out) -
                            1.0 / memcpy_limit(threads, fs, OutMemory::Reused);
    limit_s += std::max(0.0, per_byte) * static_cast<double>(info.out_bytes);
  }
  const double per_iter = seconds / static_cast<double>(iters);
  state.counters["roofline"] = limit_s / per_iter;
  state.counters["limit_GBps"] = traffic / limit_s / 1e9;
  state.counters["threads"] = threads;
  state.counters["faults_per_iter"] = static_cast<double>(faults) / static_cast<double>(iters);
  state.SetLabel(std::string(impl_name(info.impl)) + " out:" + state_name + " limit:" +
                 out_memory_name(limit_out));
}

}  // namespace astensor::bench
