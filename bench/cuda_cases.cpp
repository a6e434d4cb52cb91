// cuda/...: host <-> CUDA device (research/perf-anchors.md section 4, cases T1-T12).
//  - baselines through cudart directly: cudaMemcpyAsync from cudaHostAlloc memory (T1, the
//    pinned copy-engine peak P that every transfer's roofline divides by) and from malloc'd,
//    pre-faulted memory (T2, the driver's pageable path), both directions;
//  - as_tensor(..., device=cuda) for same-dtype, widening and narrowing casts, strided
//    sources, pageable and pinned sources (T3, T4, T6-T9), device -> host (the mirror), many
//    small tensors (T10) and the cold first call (T12).
// Timing: CUDA events give the manual (reported) time; wall time (steady clock around the
// call plus a device synchronize) is a counter, the end-to-end figure. The events of as_tensor
// cases are recorded on the legacy default stream, which does not order the library's own
// non-blocking streams; they still bracket the whole conversion because as_tensor returns only
// after its work has finished (XFER-1): the second event is recorded after the call returns.
// Every case is registered in every build, so --benchmark_filter=cuda selects exactly these;
// without a device (or without CUDA in the build) each one skips with the reason.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "bench/common.h"
#include "core/backend.h"
#include "core/trace.h"
#include "reference/as_tensor.h"

#if defined(ASTENSOR_HAVE_CUDA)
#include <cuda_runtime.h>

#include "backends/cuda/cuda_check.h"
#endif

namespace astensor::bench {

namespace {

using benchmark::State;

constexpr int kManySmallCount = 1000;

/// True when a CUDA device is present; otherwise skips the case with the reason.
bool cuda_present(State& s) {
  Backend& be = backend(DeviceType::CUDA);
  if (be.device_count() > 0) return true;
  s.SkipWithError(("no CUDA device: " + be.unavailable_reason()).c_str());
  return false;
}

std::string pair_name(DType from, DType to) { return std::string(name(from)) + "_" + name(to); }

#if defined(ASTENSOR_HAVE_CUDA)

const Device kCuda(DeviceType::CUDA, 0);

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
void time_on_stream(State& s, cudaStream_t st, bool device_sync, Work&& work, double* event_s,
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

/// The bytes that must cross the link to move `numel` elements from `from` to `to` under the
/// best plan: the narrower of the two types crosses (a widening cast runs after the copy, a
/// narrowing one before it).
std::size_t link_bytes_of(int64_t numel, DType from, DType to) {
  return static_cast<std::size_t>(numel) * std::min(itemsize(from), itemsize(to));
}

/// Counters of a transfer case: bytes processed (input bytes), elements/s, and the one meaning
/// of roofline for transfers (issue 12): bytes that must cross the link under the best plan
/// (`link_bytes`, also a counter) / time / the pinned peak P measured in the same run, by event
/// time (roofline) and by wall time (roofline_wall); wall time.
void report_transfer(State& s, bool h2d, int64_t numel, std::size_t src_bytes, std::size_t link_bytes,
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

// --- T1/T2: cudaMemcpyAsync baselines -------------------------------------------------------

void bm_memcpy(State& s, bool h2d, bool pinned, std::size_t bytes) {
  if (!cuda_present(s)) return;
  try {
    void* host = pinned ? pinned_buf().get(bytes) : pageable_buf().get(bytes);
    void* dev = device_buf().get(bytes);
    cudaStream_t st = bench_stream();
    double event_s = 0, wall_s = 0;
    time_on_stream(s, st, false, [&] {
      ASTENSOR_CUDA_CHECK(h2d ? cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, st)
                              : cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, st));
    }, &event_s, &wall_s);
    if (s.error_occurred()) return;
    if (pinned && event_s > 0)
      store_pinned_limit(h2d, static_cast<double>(bytes) * static_cast<double>(s.iterations()) / event_s);
    report_transfer(s, h2d, static_cast<int64_t>(bytes / 4), bytes, bytes, event_s, wall_s,
                    std::string("baseline src:") + (pinned ? "pinned" : "pageable"));
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
  }
}

/// T10 baseline: kManySmallCount copies of `bytes` each from pinned memory, one sync.
void bm_many_small_memcpy(State& s, std::size_t bytes) {
  if (!cuda_present(s)) return;
  try {
    const std::size_t total = bytes * kManySmallCount;
    char* host = static_cast<char*>(pinned_buf().get(total));
    char* dev = static_cast<char*>(device_buf().get(total));
    cudaStream_t st = bench_stream();
    double event_s = 0, wall_s = 0;
    time_on_stream(s, st, false, [&] {
      for (int i = 0; i < kManySmallCount; ++i)
        ASTENSOR_CUDA_CHECK(cudaMemcpyAsync(dev + i * bytes, host + i * bytes, bytes, cudaMemcpyHostToDevice, st));
    }, &event_s, &wall_s);
    if (s.error_occurred()) return;
    report_transfer(s, true, static_cast<int64_t>(total / 4), total, total, event_s, wall_s, "baseline src:pinned");
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
  }
}

// --- as_tensor to and from the device -------------------------------------------------------

/// The host source of an h2d case: pageable (its own pre-faulted mapping) or pinned (a
/// cudaHostAlloc block), `bytes` of `from` elements in `layout`.
struct H2DSource {
  HostArray pageable;  // used when !pinned
  ArrayView view;
  int64_t numel = 0;
};
H2DSource make_h2d_source(DType from, std::size_t bytes, Layout layout, bool pinned) {
  H2DSource src;
  if (!pinned) {
    src.pageable = make_host_array(from, bytes, layout);
    src.view = src.pageable.view;
    src.numel = src.pageable.numel;
    return src;
  }
  src.numel = static_cast<int64_t>(bytes / itemsize(from));
  const std::size_t buf = layout_buffer_bytes(from, src.numel, layout);
  void* p = pinned_buf().get(buf);
  fill_pattern(p, from, static_cast<int64_t>(buf / itemsize(from)));
  src.view = layout_view(p, from, src.numel, layout);
  return src;
}

/// Times `call` per iteration on the legacy default stream, then a device synchronize; the
/// returned tensor is dropped after the timing (its cudaFree is not timed). The transfer
/// pipeline's stage counters over the timed calls are reported per call (report_stage_counters).
template <class F>
void time_calls(State& s, F&& call, double* event_s, double* wall_s) {
  begin_stage_counters();
  time_on_stream(s, cudaStreamLegacy, true, call, event_s, wall_s);
  report_stage_counters(s);
}

void bm_h2d_as_tensor(State& s, Impl impl, DType from, DType to, Layout layout, bool pinned,
                      std::size_t bytes) {
  if (!cuda_present(s)) return;
  try {
    H2DSource src = make_h2d_source(from, bytes, layout, pinned);
    Options o;
    o.dtype = to;
    o.device = kCuda;
    const Source source = src.view;
    { Tensor warm = call_as_tensor(impl, source, o); }  // steady state: pools exist
    double event_s = 0, wall_s = 0;
    time_calls(s, [&] { return call_as_tensor(impl, source, o); }, &event_s, &wall_s);
    if (s.error_occurred()) return;
    report_transfer(s, true, src.numel, bytes, link_bytes_of(src.numel, from, to), event_s, wall_s,
                    std::string(impl_name(impl)) + " src:" + (pinned ? "pinned" : "pageable") +
                        " out:device-alloc");
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
  }
}

void bm_d2h_as_tensor(State& s, Impl impl, DType from, DType to, std::size_t bytes) {
  if (!cuda_present(s)) return;
  try {
    HostArray a = make_host_array(from, bytes, Layout::Contig);
    Options up;
    up.device = kCuda;
    const Tensor on_dev = reference::as_tensor(a.view, up);
    Options o;
    o.dtype = to;
    o.device = Device::cpu();
    const Source source = on_dev;
    { Tensor warm = call_as_tensor(impl, source, o); }
    const long long f0 = minor_faults();
    double event_s = 0, wall_s = 0;
    time_calls(s, [&] { return call_as_tensor(impl, source, o); }, &event_s, &wall_s);
    if (s.error_occurred()) return;
    const std::size_t out_bytes = static_cast<std::size_t>(a.numel) * itemsize(to);
    report_transfer(s, false, a.numel, bytes, link_bytes_of(a.numel, from, to), event_s, wall_s,
                    std::string(impl_name(impl)) + " out:" +
                        out_state(out_bytes, minor_faults() - f0, static_cast<int64_t>(s.iterations())));
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
  }
}

/// T10: kManySmallCount separate pageable arrays of `bytes`, one as_tensor call each.
void bm_many_small_as_tensor(State& s, Impl impl, std::size_t bytes) {
  if (!cuda_present(s)) return;
  try {
    HostBuffer buf(bytes * kManySmallCount);
    const int64_t numel = static_cast<int64_t>(bytes / 4);
    fill_pattern(buf.data(), DType::float32, numel * kManySmallCount);
    std::vector<Source> sources;
    for (int i = 0; i < kManySmallCount; ++i)
      sources.emplace_back(ArrayView::contiguous(buf.as<char>() + i * bytes, DType::float32, Dims{numel}));
    Options o;
    o.device = kCuda;
    { Tensor warm = call_as_tensor(impl, sources[0], o); }
    double event_s = 0, wall_s = 0;
    // The outputs live until after the timing (their cudaFree is not timed).
    time_calls(s, [&] {
      std::vector<Tensor> outs(kManySmallCount);
      for (int i = 0; i < kManySmallCount; ++i) outs[i] = call_as_tensor(impl, sources[i], o);
      return outs;
    }, &event_s, &wall_s);
    if (s.error_occurred()) return;
    report_transfer(s, true, numel * kManySmallCount, bytes * kManySmallCount, bytes * kManySmallCount, event_s, wall_s,
                    std::string(impl_name(impl)) + " src:pageable out:device-alloc");
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
  }
}

/// T12: the first as_tensor(..., device=cuda) of an implementation in this process, timed by
/// the wall clock (creating events would initialize the context the case wants to include).
void bm_cold(State& s, Impl impl, std::size_t bytes) {
  if (!cuda_present(s)) return;
  static bool context_used = false;
  const bool first_in_process = !context_used;
  context_used = true;
  try {
    HostArray a = make_host_array(DType::float32, bytes, Layout::Contig);
    Options o;
    o.device = kCuda;
    const Source source = a.view;
    double wall_s = 0, context_s = 0, call_s = 0;
    for (auto _ : s) {
      try {
        double t0 = now_s();
        // The context on its own first (cudaFree(0) creates it), so that set-up below is the
        // library's (pinned pool, streams, allocator); T12's time still includes both.
        if (first_in_process && context_s == 0) {
          ASTENSOR_CUDA_CHECK(cudaFree(nullptr));
          context_s = now_s() - t0;
          t0 = now_s();
        }
        Tensor t = call_as_tensor(impl, source, o);
        ASTENSOR_CUDA_CHECK(cudaDeviceSynchronize());
        const double c = now_s() - t0;
        call_s += c;
        const double w = c + context_s;
        wall_s += w;
        s.SetIterationTime(w);
      } catch (const std::exception& e) {
        s.SkipWithError(e.what());
        break;
      }
    }
    if (s.error_occurred()) return;
    // The call right after (everything set up): setup_ms = first - next is the one-time cost
    // (issue 6: <= 20 ms with the pool; ci/gpu-check runs this case in a process of its own).
    const double t0 = now_s();
    { Tensor t = call_as_tensor(impl, source, o); }
    ASTENSOR_CUDA_CHECK(cudaDeviceSynchronize());
    const double warm_s = now_s() - t0;
    const double first_s = call_s / static_cast<double>(std::max<int64_t>(1, s.iterations()));
    report_transfer(s, true, a.numel, bytes, bytes, wall_s, wall_s,
                    std::string(impl_name(impl)) +
                        (first_in_process ? " cold:context+pool" : " cold:pool (context already up)"));
    s.counters["context_ms"] = context_s * 1e3;  // 0 when a context already existed
    s.counters["cold_ms"] = first_s * 1e3;          // the first as_tensor, context excluded
    s.counters["warm_ms"] = warm_s * 1e3;
    s.counters["setup_ms"] = (first_s - warm_s) * 1e3;
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
  }
}

#else  // no CUDA in this build: the same cases, each skipping with the reason

void bm_memcpy(State& s, bool, bool, std::size_t) { cuda_present(s); }
void bm_many_small_memcpy(State& s, std::size_t) { cuda_present(s); }
void bm_h2d_as_tensor(State& s, Impl, DType, DType, Layout, bool, std::size_t) { cuda_present(s); }
void bm_d2h_as_tensor(State& s, Impl, DType, DType, std::size_t) { cuda_present(s); }
void bm_many_small_as_tensor(State& s, Impl, std::size_t) { cuda_present(s); }
void bm_cold(State& s, Impl, std::size_t) { cuda_present(s); }

#endif

}  // namespace

void register_cuda() {
  // Each case runs inside an NVTX range named after it (domain "astensor", like the library's
  // own ranges), so an Nsight Systems timeline says which case a stretch of copies belongs to.
  auto reg = [](const std::string& n, auto fn) {
    return benchmark::RegisterBenchmark(n.c_str(), [n, fn](State& s) {
#if defined(ASTENSOR_HAVE_NVTX) && !defined(NVTX_DISABLE)
             const std::string label = "bench " + n;
             const ::nvtx3::v1::scoped_range_in<::astensor::nvtx_domain> range{label};
#endif
             fn(s);
           })
        ->UseManualTime();
  };
  if (backend(DeviceType::CUDA).device_count() <= 0)
    notes().push_back("cuda/...: registered, every case skips: no CUDA device (" +
                      backend(DeviceType::CUDA).unavailable_reason() + ")");

  // T12 first: the only place where the first call of the process can be measured.
  for (Impl impl : impls())
    reg(std::string("cuda/h2d/cold/as_tensor/float32_float32/contig/src:pageable/impl:") + impl_name(impl) +
            "/bytes:1MiB",
        [=](State& s) { bm_cold(s, impl, std::size_t(1) << 20); })
        ->Iterations(1)
        ->Repetitions(1);

  // T1, T2 and their D2H mirrors: the limits.
  for (bool h2d : {true, false})
    for (bool pinned : {true, false})
      for (std::size_t b : sizes())
        reg(std::string("cuda/") + (h2d ? "h2d" : "d2h") + "/memcpy_" + (pinned ? "pinned" : "pageable") +
                "/bytes:" + bytes_str(b),
            [=](State& s) { bm_memcpy(s, h2d, pinned, b); });

  // T3, T4, T6-T9.
  struct H2D {
    DType from, to;
    Layout layout;
    bool pinned;
  };
  const H2D h2d_cases[] = {
      {DType::float32, DType::float32, Layout::Contig, false},      // T3
      {DType::float32, DType::float32, Layout::Contig, true},       // T4
      {DType::uint8, DType::float32, Layout::Contig, false},        // T6 widening
      {DType::float64, DType::float32, Layout::Contig, false},      // T7 narrowing
      {DType::float32, DType::bfloat16, Layout::Contig, false},     // T8
      {DType::int64, DType::int32, Layout::Contig, false},          // T8
      {DType::float32, DType::float32, Layout::EveryOther, false},  // T9 gather
      {DType::float32, DType::float32, Layout::Transpose, false},   // T9 dense, permuted
  };
  for (const H2D& c : h2d_cases)
    for (Impl impl : impls())
      for (std::size_t b : sizes())
        reg(std::string("cuda/h2d/as_tensor/") + pair_name(c.from, c.to) + "/" + layout_name(c.layout) +
                "/src:" + (c.pinned ? "pinned" : "pageable") + "/impl:" + impl_name(impl) + "/bytes:" + bytes_str(b),
            [=](State& s) { bm_h2d_as_tensor(s, impl, c.from, c.to, c.layout, c.pinned, b); });

  // Device -> host: same dtype and a narrowing cast.
  const std::pair<DType, DType> d2h_pairs[] = {{DType::float32, DType::float32},
                                               {DType::float64, DType::float32}};
  for (auto [from, to] : d2h_pairs)
    for (Impl impl : impls())
      for (std::size_t b : sizes())
        reg(std::string("cuda/d2h/as_tensor/") + pair_name(from, to) + "/contig/impl:" + impl_name(impl) +
                "/bytes:" + bytes_str(b),
            [=](State& s) { bm_d2h_as_tensor(s, impl, from, to, b); });

  // T10: many small tensors.
  for (std::size_t b : {std::size_t(4) << 10, std::size_t(64) << 10}) {
    reg("cuda/h2d/many_small/memcpy_pinned/count:" + std::to_string(kManySmallCount) + "/bytes:" + bytes_str(b),
        [=](State& s) { bm_many_small_memcpy(s, b); });
    for (Impl impl : impls())
      reg("cuda/h2d/many_small/as_tensor/float32_float32/impl:" + std::string(impl_name(impl)) +
              "/count:" + std::to_string(kManySmallCount) + "/bytes:" + bytes_str(b),
          [=](State& s) { bm_many_small_as_tensor(s, impl, b); });
  }
}

}  // namespace astensor::bench
