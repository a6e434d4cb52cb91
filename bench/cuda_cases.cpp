// cuda/...: host <-> CUDA device, the case numbers of research/perf-anchors.md section 4:
//  - cuda/h2d/cold/... (T12): the first as_tensor(..., device=cuda) of the process, registered
//    first so that it is; the CUDA context is timed apart (context_ms), then cold_ms, warm_ms
//    (the call right after) and setup_ms = cold - warm;
//  - cuda/{h2d,d2h}/memcpy_pinned|memcpy_pageable/... (T1, T2): cudaMemcpyAsync through cudart
//    directly, from cudaHostAlloc memory (the pinned copy-engine bandwidth P that every
//    transfer's roofline divides by, stored per direction) and from malloc'd, pre-faulted
//    memory (the driver's pageable path), both directions;
//  - cuda/h2d/as_tensor/... : same dtype from pageable (T3) and pinned (T4) sources, widening
//    uint8->float32 (T6), narrowing float64->float32 (T7), float32->bfloat16 and int64->int32
//    (T8), every_other and transpose sources (T9); cuda/d2h/as_tensor/... the mirror, same
//    dtype and float64->float32, contiguous;
//  - cuda/h2d/many_small/... (T10): 1000 tensors of 4 KiB or 64 KiB, one as_tensor call each,
//    against 1000 pinned cudaMemcpyAsync and one synchronize.
// T5 (registering a source with cudaHostRegister) and a batched T10 have no case; T11 (one
// small tensor's latency) is measured only at 4 KiB, the smallest size of the other cases.
// Timing (cuda_harness.h): CUDA events give the manual (reported) time, except for the cold
// case, whose first call would create the context: it reports the wall clock. The baselines'
// events are on the bench's own stream. The events of as_tensor cases are recorded on the
// legacy default stream, which does not order the library's own non-blocking streams; they
// still bracket the whole conversion because as_tensor returns only after its work has
// finished (XFER-1): the second event is recorded after the call returns. The wall clock
// around the call plus a device synchronize is the end-to-end figure (roofline_wall,
// wall_GBps, wall_s_per_iter); the as_tensor cases also report the transfer pipeline's stage
// counters. Each case runs inside an NVTX range "bench <case name>".
// Every case is registered in every build, so --benchmark_filter=cuda selects exactly these;
// without a device (or without CUDA in the build) each one skips with the reason.

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "bench/common.h"
#include "bench/cuda_harness.h"
#include "core/backend.h"
#include "core/trace.h"
#include "reference/as_tensor.h"

namespace astensor::bench {

namespace {

using benchmark::State;

constexpr int kManySmallCount = 1000;

std::string pair_name(DType from, DType to) { return std::string(name(from)) + "_" + name(to); }

#if defined(ASTENSOR_HAVE_CUDA)

const Device kCuda(DeviceType::CUDA, 0);

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
