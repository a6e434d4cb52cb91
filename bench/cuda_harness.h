#pragma once
/// What every cuda/ case (cuda_cases.cpp) is timed, fed and judged with:
///  - cuda_present(): the skip, with the reason, where there is no CUDA device (every build);
///  - with CUDA: the process-lifetime pinned, pageable and device buffers; the benchmark's own
///    non-blocking stream; the CUDA event pair; the timing loops (time_on_stream: events for
///    the manual time plus the wall clock; time_calls: the same on the legacy default stream,
///    with the transfer pipeline's stage counters); and the transfer counters
///    (report_transfer: roofline = link bytes / time / the pinned bandwidth P of the same run,
///    measured on the spot when the memcpy_pinned cases were filtered out).

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

#include "bench/common.h"

#if defined(ASTENSOR_HAVE_CUDA)
#include <cuda_runtime.h>

#include "backends/cuda/cuda_check.h"
#endif

namespace astensor::bench {

/// True when a CUDA device is present; otherwise skips the case with the reason.
bool cuda_present(benchmark::State& s);

#if defined(ASTENSOR_HAVE_CUDA)

/// Process-lifetime buffers, grown on demand: Google Benchmark calls a case several times
/// while it picks the iteration count, and cudaHostAlloc costs ~0.5 s/GiB (perf-anchors 1d),
/// which must not be paid per call. Kept until the process exits (the driver releases them
/// then; freeing from a static destructor could run after the runtime has unloaded).
struct Pinned {
  void* p = nullptr;
  std::size_t n = 0;
  void* get(std::size_t need) {
    if (n < need) {
      if (p) ASTENSOR_CUDA_CHECK(cudaFreeHost(p));
      p = nullptr;
      n = 0;
      ASTENSOR_CUDA_CHECK(cudaHostAlloc(&p, need, cudaHostAllocDefault));
      std::memset(p, 0, need);
      n = need;
    }
    return p;
  }
};
struct DeviceMem {
  void* p = nullptr;
  std::size_t n = 0;
  void* get(std::size_t need) {
    if (n < need) {
      if (p) ASTENSOR_CUDA_CHECK(cudaFree(p));
      p = nullptr;
      n = 0;
      ASTENSOR_CUDA_CHECK(cudaMalloc(&p, need));
      n = need;
    }
    return p;
  }
};
struct Pageable {  // malloc'd and pre-faulted, as T2 asks
  void* p = nullptr;
  std::size_t n = 0;
  void* get(std::size_t need) {
    if (n < need) {
      std::free(p);
      p = std::aligned_alloc(4096, (need + 4095) & ~std::size_t(4095));
      ASTENSOR_CHECK(p != nullptr, "[bench] out of memory allocating ", need, " bytes");
      std::memset(p, 0, need);
      n = need;
    }
    return p;
  }
};
Pinned& pinned_buf();
Pageable& pageable_buf();
DeviceMem& device_buf();

/// The benchmark's own non-blocking stream (the cudart baselines run on it).
cudaStream_t bench_stream();

/// A start/stop event pair (RAII).
struct Events {
  cudaEvent_t a = nullptr, b = nullptr;
  Events() {
    ASTENSOR_CUDA_CHECK(cudaEventCreate(&a));
    ASTENSOR_CUDA_CHECK(cudaEventCreate(&b));
  }
  ~Events() {
    if (a) (void)cudaEventDestroy(a);
    if (b) (void)cudaEventDestroy(b);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  double seconds() const {
    float ms = 0;
    ASTENSOR_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    return ms / 1e3;
  }
};

/// Times `work` once per iteration: CUDA events on `st` around it give the manual time; the
/// wall clock around the enqueue and the synchronization (of the whole device when
/// `device_sync`) is summed into *wall_s. Whatever `work` returns (a tensor, say) is dropped
/// only after the timing, so its free is not timed.
template <class Work>
void time_on_stream(benchmark::State& s, cudaStream_t st, bool device_sync, Work&& work, double* event_s,
                    double* wall_s) {
  Events ev;
  for (auto _ : s) {
    try {
      const double t0 = now_s();
      ASTENSOR_CUDA_CHECK(cudaEventRecord(ev.a, st));
      [[maybe_unused]] auto keep = [&] {
        if constexpr (std::is_void_v<std::invoke_result_t<Work&>>) {
          work();
          return 0;
        } else {
          return work();
        }
      }();
      ASTENSOR_CUDA_CHECK(cudaEventRecord(ev.b, st));
      ASTENSOR_CUDA_CHECK(cudaEventSynchronize(ev.b));
      if (device_sync) ASTENSOR_CUDA_CHECK(cudaDeviceSynchronize());
      *wall_s += now_s() - t0;
      const double e = ev.seconds();
      *event_s += e;
      s.SetIterationTime(e);
    } catch (const std::exception& e) {
      s.SkipWithError(e.what());
      break;
    }
  }
}

/// Times `call` per iteration on the legacy default stream, then a device synchronize; the
/// returned tensor is dropped after the timing (its cudaFree is not timed). The transfer
/// pipeline's stage counters over the timed calls are reported per call (report_stage_counters).
template <class F>
void time_calls(benchmark::State& s, F&& call, double* event_s, double* wall_s) {
  begin_stage_counters();
  time_on_stream(s, cudaStreamLegacy, true, call, event_s, wall_s);
  report_stage_counters(s);
}

/// The bytes that must cross the link to move `numel` elements from `from` to `to` under the
/// best plan: the narrower of the two types crosses (a widening cast runs after the copy, a
/// narrowing one before it).
std::size_t link_bytes_of(int64_t numel, DType from, DType to);

/// Counters of a transfer case: bytes processed (input bytes), elements/s, and the one meaning
/// of roofline for transfers (issue 12): bytes that must cross the link under the best plan
/// (`link_bytes`, also a counter) / time / the pinned peak P measured in the same run, by event
/// time (roofline) and by wall time (roofline_wall); wall time.
void report_transfer(benchmark::State& s, bool h2d, int64_t numel, std::size_t src_bytes, std::size_t link_bytes,
                     double event_s, double wall_s, const std::string& label);

#endif  // ASTENSOR_HAVE_CUDA

}  // namespace astensor::bench
