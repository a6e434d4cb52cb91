#include "bench/cuda_harness.h"

#include <algorithm>

#include "core/backend.h"

namespace astensor::bench {

bool cuda_present(benchmark::State& s) {
  Backend& be = backend(DeviceType::CUDA);
  if (be.device_count() > 0) return true;
  s.SkipWithError(("no CUDA device: " + be.unavailable_reason()).c_str());
  return false;
}

#if defined(ASTENSOR_HAVE_CUDA)

Pinned& pinned_buf() {
  static Pinned b;
  return b;
}
Pageable& pageable_buf() {
  static Pageable b;
  return b;
}
DeviceMem& device_buf() {
  static DeviceMem b;
  return b;
}

cudaStream_t bench_stream() {
  static cudaStream_t s = [] {
    cudaStream_t st = nullptr;
    ASTENSOR_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    return st;
  }();
  return s;
}

namespace {

/// One timed pinned copy of `bytes` (no Google Benchmark state): the lazy measurement of P
/// when the memcpy_pinned cases were filtered out.
double measure_pinned(bool h2d, std::size_t bytes) {
  void* host = pinned_buf().get(bytes);
  void* dev = device_buf().get(bytes);
  Events ev;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    ASTENSOR_CUDA_CHECK(cudaEventRecord(ev.a, bench_stream()));
    ASTENSOR_CUDA_CHECK(h2d ? cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, bench_stream())
                            : cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, bench_stream()));
    ASTENSOR_CUDA_CHECK(cudaEventRecord(ev.b, bench_stream()));
    ASTENSOR_CUDA_CHECK(cudaEventSynchronize(ev.b));
    best = std::max(best, static_cast<double>(bytes) / ev.seconds());
  }
  return best;
}

double ensure_pinned_limit(bool h2d) {
  if (pinned_limit(h2d) <= 0) {
    const std::size_t b = std::min<std::size_t>(max_bytes(), std::size_t(64) << 20);
    store_pinned_limit(h2d, measure_pinned(h2d, std::max<std::size_t>(b, std::size_t(1) << 20)));
  }
  return pinned_limit(h2d);
}

}  // namespace

std::size_t link_bytes_of(int64_t numel, DType from, DType to) {
  return static_cast<std::size_t>(numel) * std::min(itemsize(from), itemsize(to));
}

void report_transfer(benchmark::State& s, bool h2d, int64_t numel, std::size_t src_bytes, std::size_t link_bytes,
                     double event_s, double wall_s, const std::string& label) {
  using benchmark::Counter;
  const auto iters = static_cast<int64_t>(s.iterations());
  if (iters == 0) return;
  s.SetBytesProcessed(iters * static_cast<int64_t>(src_bytes));
  s.counters["elems_per_s"] = Counter(static_cast<double>(numel * iters), Counter::kIsRate);
  s.counters["link_bytes"] = static_cast<double>(link_bytes);
  const double p = ensure_pinned_limit(h2d);
  const double bytes = static_cast<double>(link_bytes) * static_cast<double>(iters);
  s.counters["limit_GBps"] = p / 1e9;
  s.counters["roofline"] = event_s > 0 && p > 0 ? bytes / event_s / p : 0;
  s.counters["roofline_wall"] = wall_s > 0 && p > 0 ? bytes / wall_s / p : 0;
  s.counters["wall_s_per_iter"] = wall_s / static_cast<double>(iters);
  s.counters["wall_GBps"] = wall_s > 0 ? bytes / wall_s / 1e9 : 0;
  s.SetLabel(label);
}

#endif  // ASTENSOR_HAVE_CUDA

}  // namespace astensor::bench
