// sim/...: host <-> simulated accelerator (backends/sim), registered only when the build has a
// sim device. The sim's "link" is a host memcpy, so the roofline is the memcpy limit; what
// these cases show is the overhead of the transfer pipeline (staging, events, chunking)
// on the CPU, where CI can run it. The sim/link/... cases turn on sim's link model (issue 12,
// sim::LinkModel) and hold the pipeline against the modelled link.

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "bench/common.h"
#include "bench/link_settings.h"
#include "bench/stage_counters.h"
#include "reference/as_tensor.h"
#include "core/backend.h"
#include "core/convert.h"
#if ASTENSOR_BENCH_HAVE_IMPL
#include "backends/sim/sim.h"
#include "backends/sim/host_kernels.h"
#include "impl/transfer/transfer.h"
#endif

namespace astensor::bench {

namespace {

void bm_sim_h2d(benchmark::State& state, Impl impl, DType from, DType to, std::size_t bytes) {
  HostArray a = make_host_array(from, bytes, Layout::Contig);
  Options o;
  o.dtype = to;
  o.device = Device(DeviceType::Sim, 0);
  const Source src = a.view;
  const std::size_t out_bytes = static_cast<std::size_t>(a.numel) * itemsize(to);
  { Tensor warm = call_as_tensor(impl, src, o); }
  const auto [faults, secs] = time_as_tensor(state, impl, src, o);
  report_host_case(state, {impl, a.numel, bytes, out_bytes, out_bytes, bytes}, faults, secs);
}

void bm_sim_d2h(benchmark::State& state, Impl impl, std::size_t bytes) {
  HostArray a = make_host_array(DType::float32, bytes, Layout::Contig);
  Options to_dev;
  to_dev.device = Device(DeviceType::Sim, 0);
  const Tensor on_dev = reference::as_tensor(a.view, to_dev);
  Options to_host;
  to_host.device = Device::cpu();
  const Source src = on_dev;
  { Tensor warm = call_as_tensor(impl, src, to_host); }
  const auto [faults, secs] = time_as_tensor(state, impl, src, to_host);
  report_host_case(state, {impl, a.numel, bytes, bytes, bytes, bytes}, faults, secs);
}

#if ASTENSOR_BENCH_HAVE_IMPL
/// sim/stage/...: only the host side of the staging pipeline (pageable source -> pinned slots,
/// the narrowing cast fused in), through transfer::stage_host_side: the code, threads and slot
/// sizes of a real host -> sim transfer, without the copies the sim stream would run next to
/// it. The roofline counter holds it against host memcpy of (src + dst) / 2 bytes with the same
/// thread count (target >= 0.8 from 16 MiB on: issue 6).
void bm_sim_stage(benchmark::State& state, DType from, DType to, std::size_t bytes) {
  HostArray a = make_host_array(from, bytes, Layout::Contig);
  const impl::Plan plan = transfer::describe_transfer(a.view, to, Device(DeviceType::Sim, 0));
  if (!plan.transfer->staged) {
    state.SkipWithError(("not a staged plan: " + plan.str()).c_str());
    return;
  }
  const std::size_t link_bytes = static_cast<std::size_t>(plan.link_bytes());
  // The memcpy it is held against, timed right after each fill (interleaved, so a busy
  // neighbour slows both alike): (src + dst) / 2 bytes between pre-faulted buffers with the
  // thread count of the roofline.
  const std::size_t mc_bytes = (bytes + link_bytes) / 2;
  HostBuffer mc_dst(mc_bytes);
  // The threads the fill really uses (staging_host_threads: on sim, one core is left to the
  // stream worker), and memcpy with as many.
  const int threads = std::max(1, std::min(threads_for(Impl::Optimized),
                                           transfer::staging_host_threads(DeviceType::Sim)));
  transfer::stage_host_side(a.view, plan);  // warm: the pinned pool's slots exist
  std::vector<double> fill_s, memcpy_s;
  const long long f0 = minor_faults();
  double total = 0;
  for (auto _ : state) {
    double t0 = now_s();
    transfer::stage_host_side(a.view, plan);
    const double f = now_s() - t0;
    state.SetIterationTime(f);
    total += f;
    fill_s.push_back(f);
    state.PauseTiming();
    t0 = now_s();
    parallel_memcpy(mc_dst.data(), a.buffer.data(), mc_bytes, threads);
    benchmark::ClobberMemory();
    memcpy_s.push_back(now_s() - t0);
    state.ResumeTiming();
  }
  report_host_case(state, {Impl::Optimized, a.numel, bytes, link_bytes, 0, bytes}, minor_faults() - f0, total);
  if (state.iterations() > 0 && total > 0) {  // the roofline at the fill's own thread count
    const double limit = memcpy_limit(threads, bytes);
    state.counters["roofline"] = (static_cast<double>(mc_bytes) / limit) / (total / static_cast<double>(state.iterations()));
    state.counters["limit_GBps"] = limit / 1e9;
    state.counters["threads"] = threads;
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  const double mf = median(fill_s), mm = median(memcpy_s);
  // ratio_interleaved: median memcpy time / median fill time (1.0: the fill runs at memcpy speed).
  if (mf > 0) state.counters["ratio_interleaved"] = mm / mf;
  state.counters["memcpy_interleaved_GBps"] = mm > 0 ? static_cast<double>(mc_bytes) / mm / 1e9 : 0;
  state.counters["chunks"] = static_cast<double>(plan.transfer->chunks);
  state.counters["chunk_MiB"] = static_cast<double>(plan.transfer->chunk_bytes) / (1 << 20);
}

/// sim/h2d/cold/...: the first host -> sim conversion of the optimized implementation in the
/// process (sim streams, pinned pool and staging ring, the cast stream and the device
/// allocator are all made on first use), against the call right after it. setup_ms = cold -
/// warm is the one-time set-up (target <= 20 ms: issue 6). Registered before the other sim
/// cases so that nothing has touched sim yet; Google Benchmark's later calls say "warm".
void bm_sim_cold(benchmark::State& state, std::size_t bytes) {
  static bool first = true;
  const bool cold = first;
  first = false;
  HostArray a = make_host_array(DType::float32, bytes, Layout::Contig);
  Options o;
  o.device = Device(DeviceType::Sim, 0);
  const Source src = a.view;
  double cold_s = 0, warm_s = 0;
  for (auto _ : state) {
    double t0 = now_s();
    { Tensor t = call_as_tensor(Impl::Optimized, src, o); }
    cold_s = now_s() - t0;
    t0 = now_s();
    { Tensor t = call_as_tensor(Impl::Optimized, src, o); }
    warm_s = now_s() - t0;
    state.SetIterationTime(cold_s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * static_cast<int64_t>(state.iterations()));
  state.counters["cold_ms"] = cold_s * 1e3;
  state.counters["warm_ms"] = warm_s * 1e3;
  state.counters["setup_ms"] = (cold_s - warm_s) * 1e3;
  state.SetLabel(std::string("optimized ") + (cold ? "cold:first-sim-call" : "warm (already set up)"));
}

/// sim/link/<setting>/...: the transfer pipeline (impl::as_tensor to and from sim:0) under sim's
/// link model (issue 12). Three settings (bench/link_settings.h): "slow", a link slower than
/// every host-side stage here (pinned 2 GB/s each way), "matched" (4 GB/s: as fast as sim's
/// uint8->float32 device cast on the 2-core VM; no target), and "fast", one faster than host
/// staging (pinned 100 GB/s); 5 us per copy, 2 copy engines. The bound of a case is its
/// slowest stage under the best plan, each timed alone:
/// - the link: latency + the bytes that must cross / the modelled pinned bandwidth (one copy,
///   nothing else);
/// - the host staging: for H2D the pipeline's own fill run alone (transfer::stage_host_side:
///   the same chunks, ring and threads, no copies); for D2H a memcpy of the drain's chunks out
///   of a ring of the same size (StagingCopy);
/// - for a cast on the device, sim's "kernel": the host cast (sim::run_cast_kernel_host) on one
///   thread, as a stream worker runs it, so a real stage here (kernels are not modelled).
/// Staging and kernel are timed right after each conversion, so a busy neighbour slows them and
/// the conversion alike. efficiency = bound / the conversion's time (medians over the
/// iterations); the target is >= 0.9 from 16 MiB on the slow and fast links.
/// The settings: bench/link_settings.h.

/// The host staging stage of a same-dtype D2H sim/link case, timed alone: the drain's bytes (the
/// link dtype's, in and out), cut into the plan's chunks (transfer::StagingChunks), each copied
/// from a slot of a ring as large as the plan's (slots x the largest chunk) into the result, as
/// the drain does, so the memcpy meets the cache as the stage does
/// (the ring stays cached, the result does not). (H2D cases time the pipeline's own fill
/// alone, transfer::stage_host_side. One memcpy of all the bytes into a buffer of their size,
/// the bound before, missed the cache where the stage hit it and came out slower than the
/// stage: efficiencies up to 1.2 on the fast link.)
struct StagingCopy {
  transfer::StagingChunks chunks;
  std::size_t elem_bytes = 0;  // bytes per element the drain moves
  HostBuffer ring;
  explicit StagingCopy(const impl::Plan& plan)
      : chunks(plan.layout.numel, *plan.transfer), elem_bytes(itemsize(plan.transfer->link_dtype)) {
    ring = HostBuffer(static_cast<std::size_t>(chunks.slots()) * static_cast<std::size_t>(chunks.largest()) * elem_bytes);
  }
  /// Ring slots -> `result` (which holds all the bytes), chunk by chunk.
  void run(void* result, int threads) {
    char* out = static_cast<char*>(result);
    const std::size_t slot_bytes = ring.size() / static_cast<std::size_t>(chunks.slots());
    for (int64_t c = 0; c < chunks.count(); ++c) {
      const std::size_t off = static_cast<std::size_t>(chunks.start(c)) * elem_bytes;
      const std::size_t n = static_cast<std::size_t>(chunks.size(c)) * elem_bytes;
      parallel_memcpy(out + off, static_cast<char*>(ring.data()) + static_cast<std::size_t>(chunks.slot(c)) * slot_bytes,
                      n, threads);
    }
  }
};

/// `to_host`: D2H of float32 (from, to ignored); else H2D of a pageable host array.
void bm_sim_link(benchmark::State& state, LinkSetting setting, bool to_host, DType from, DType to, std::size_t bytes) {
  const sim::LinkModel model = link_setting_model(setting);
  HostArray a = make_host_array(to_host ? DType::float32 : from, bytes, Layout::Contig);
  const Device sim0(DeviceType::Sim, 0);
  Options o;
  Source src = a.view;
  Tensor on_dev;
  std::size_t link_bytes = 0, staging_bytes = 0;
  bool device_cast = false;
  impl::Plan plan;  // the conversion's own plan: the chunks, ring and cast site it runs with
  if (to_host) {
    o.device = Device::cpu();
    Options to_dev;
    to_dev.device = sim0;
    on_dev = reference::as_tensor(a.view, to_dev);
    src = on_dev;
    plan = transfer::describe_transfer(view_of(on_dev), DType::float32, Device::cpu());
    link_bytes = staging_bytes = bytes;  // the host drains each pinned slot into the result
  } else {
    o.dtype = to;
    o.device = sim0;
    plan = transfer::describe_transfer(a.view, to, sim0);
    link_bytes = static_cast<std::size_t>(plan.link_bytes());
    staging_bytes = (bytes + link_bytes) / 2;  // reads the source, writes the link bytes
    device_cast = plan.cast_site == impl::CastSite::Device;
  }
  std::optional<StagingCopy> drain;
  if (to_host) drain.emplace(plan);
  HostBuffer kernel_dst(device_cast ? static_cast<std::size_t>(a.numel) * itemsize(to) : 0);
  const sim::LinkKind kind = to_host ? sim::LinkKind::D2HPinned : sim::LinkKind::H2DPinned;
  const double link_s = model.seconds(kind, static_cast<double>(link_bytes));
  const int threads = std::max(1, std::min(threads_for(Impl::Optimized), transfer::staging_host_threads(DeviceType::Sim)));
  HostBuffer mc_dst(to_host ? staging_bytes : 0);  // the D2H drain's result
  sim::ScopedLinkModel scoped(model);
  { Tensor warm = call_as_tensor(Impl::Optimized, src, o); }
  std::vector<double> conv_s, memcpy_s, kernel_s;
  begin_stage_counters(DeviceType::Sim);
  for (auto _ : state) {
    double t0 = now_s();
    { Tensor t = call_as_tensor(Impl::Optimized, src, o); }
    const double c = now_s() - t0;
    state.SetIterationTime(c);
    conv_s.push_back(c);
    state.PauseTiming();
    t0 = now_s();
    if (to_host) drain->run(mc_dst.data(), threads);
    else transfer::stage_host_side(a.view, plan);  // the fill alone: same chunks, ring, threads
    benchmark::ClobberMemory();
    memcpy_s.push_back(now_s() - t0);
    if (device_cast) {
      CastKernel k;
      k.src = a.buffer.data();
      k.src_dtype = from;
      k.shape = Dims{a.numel};
      k.src_strides = Dims{static_cast<int64_t>(itemsize(from))};
      k.dst = kernel_dst.data();
      k.dst_dtype = to;
      k.count = a.numel;
      t0 = now_s();
      sim::run_cast_kernel_host(k);
      benchmark::ClobberMemory();
      kernel_s.push_back(now_s() - t0);
    }
    state.ResumeTiming();
  }
  report_stage_counters(state, DeviceType::Sim);
  state.SetBytesProcessed(static_cast<int64_t>(link_bytes) * static_cast<int64_t>(state.iterations()));
  const double mc = median_of(conv_s), mm = median_of(memcpy_s), mk = median_of(kernel_s);
  if (mc <= 0) return;
  const double bound = std::max({link_s, mm, mk});
  state.counters["efficiency"] = bound / mc;
  state.counters["model_GBps"] = model.bytes_per_s(kind) / 1e9;
  state.counters["GBps"] = static_cast<double>(link_bytes) / mc / 1e9;
  state.counters["staging_GBps"] = mm > 0 ? static_cast<double>(staging_bytes) / mm / 1e9 : 0;
  state.counters["median_ms"] = mc * 1e3;
  state.counters["link_ms"] = link_s * 1e3;
  state.counters["staging_ms"] = mm * 1e3;
  if (device_cast) state.counters["kernel_ms"] = mk * 1e3;
  state.counters["threads"] = threads;
  state.SetLabel(std::string("optimized bound:") + (bound == link_s ? "link" : bound == mm ? "staging" : "kernel"));
}

/// sim/small/...: the small-copy path (Note [Small copies] in impl/transfer/to_device.cpp)
/// against sim's own pinned copy under the same link model, the sim twin of issue 12's
/// small-copy targets (cuda/h2d/many_small/... on a GPU):
/// - `count` = 1: one conversion of `bytes` (H2D from a pageable array, or D2H of a device
///   tensor into a new host tensor) against one copy_async of as many bytes from (or into) a
///   pinned block plus a synchronize of the stream; target <= 2x;
/// - `count` > 1: `count` conversions of `bytes` each, against `count` pinned copies queued on
///   one stream and one synchronize; target <= 1.5x per tensor. Blocking, each conversion
///   waits for its copy, so its fill and its copy add up; non-blocking (XFER-4, on the current
///   stream, synchronized once after the last), the fill of one overlaps the copy of the one
///   before, as a loader that converts with non_blocking=True gets.
/// The two are timed one after the other in every iteration (medians): the conversion is the
/// case's time, the copies the baseline. Link: the "fast" setting (100 GB/s, 5 us per copy),
/// the regime of a GPU's link, where a small copy costs its latency.
void bm_sim_small(benchmark::State& state, bool to_host, std::size_t bytes, int count, bool non_blocking) {
  const sim::LinkModel model = link_setting_model(kFastLink);
  const Device sim0(DeviceType::Sim, 0);
  Backend& be = backend(DeviceType::Sim);
  HostBuffer host(bytes * static_cast<std::size_t>(count));
  const int64_t numel = static_cast<int64_t>(bytes / 4);
  fill_pattern(host.data(), DType::float32, numel * count);
  std::vector<Source> sources;
  std::vector<Tensor> on_dev;  // D2H: the device tensors converted back
  Options o;
  o.device = to_host ? Device::cpu() : sim0;
  o.non_blocking = non_blocking;
  for (int i = 0; i < count; ++i) {
    ArrayView v = ArrayView::contiguous(host.as<char>() + i * bytes, DType::float32, Dims{numel});
    if (to_host) {
      Options to_dev;
      to_dev.device = sim0;
      on_dev.push_back(reference::as_tensor(v, to_dev));
      sources.emplace_back(on_dev.back());
    } else {
      sources.emplace_back(v);
    }
  }
  const std::size_t total = bytes * static_cast<std::size_t>(count);
  void* pinned = be.allocate_pinned(total);
  void* dev = be.allocate(0, total);
  StreamHandle stream = be.current_stream(0);
  sim::ScopedLinkModel scoped(model);
  auto pinned_copies = [&] {
    for (int i = 0; i < count; ++i) {
      char* p = static_cast<char*>(pinned) + i * bytes;
      char* d = static_cast<char*>(dev) + i * bytes;
      if (to_host) be.copy_async(p, Device::cpu(), d, sim0, bytes, stream);
      else be.copy_async(d, sim0, p, Device::cpu(), bytes, stream);
    }
    be.synchronize_stream(stream);
  };
  auto conversions = [&](std::vector<Tensor>& outs) {
    for (int i = 0; i < count; ++i)
      outs[static_cast<std::size_t>(i)] = call_as_tensor(Impl::Optimized, sources[static_cast<std::size_t>(i)], o);
    if (non_blocking) be.synchronize_stream(stream);  // every result is complete
  };
  std::vector<Tensor> outs(static_cast<std::size_t>(count));
  conversions(outs);  // warm: pools and caches
  for (Tensor& t : outs) t = Tensor();
  pinned_copies();
  std::vector<double> conv_s, copy_s;
  transfer::reset_stage_counters();
  for (auto _ : state) {
    double t0 = now_s();
    conversions(outs);
    const double c = now_s() - t0;
    state.SetIterationTime(c);
    conv_s.push_back(c);
    state.PauseTiming();
    for (Tensor& t : outs) t = Tensor();  // freed outside the timed conversions
    t0 = now_s();
    pinned_copies();
    copy_s.push_back(now_s() - t0);
    state.ResumeTiming();
  }
  const transfer::StageCounters sc = transfer::stage_counters();
  be.deallocate(0, dev);
  be.free_pinned(pinned);
  const double mc = median_of(conv_s), mp = median_of(copy_s);
  if (mc <= 0 || mp <= 0) return;
  state.counters["us_per_tensor"] = mc / count * 1e6;
  state.counters["pinned_copy_us_per_tensor"] = mp / count * 1e6;
  state.counters["ratio"] = mc / mp;
  state.counters["target"] = count == 1 ? 2.0 : 1.5;
  state.counters["small"] = sc.transfers ? static_cast<double>(sc.small_transfers) / static_cast<double>(sc.transfers) : 0;
  state.SetLabel(std::string("optimized ") + (non_blocking ? "non_blocking" : "blocking") +
                 " vs pinned copy_async + synchronize");
}
#endif

}  // namespace

void register_sim() {
  Backend& be = backend(DeviceType::Sim);
  if (be.device_count() <= 0) {
    notes().push_back("sim/...: not registered: no sim device (" + be.unavailable_reason() + ")");
    return;
  }
#if ASTENSOR_BENCH_HAVE_IMPL
  benchmark::RegisterBenchmark(
      case_name("sim/h2d/cold/float32_float32/contig", Impl::Optimized, "system", std::size_t(1) << 20).c_str(),
      [](benchmark::State& s) { bm_sim_cold(s, std::size_t(1) << 20); })
      ->Iterations(1)
      ->UseManualTime();
#endif
  const std::pair<DType, DType> pairs[] = {{DType::float32, DType::float32},
                                           {DType::uint8, DType::float32},
                                           {DType::float64, DType::float32}};
  for (auto [from, to] : pairs)
    for (Impl impl : impls())
      for (std::size_t b : sizes())
        benchmark::RegisterBenchmark(
            case_name(std::string("sim/h2d/") + name(from) + "_" + name(to) + "/contig", impl, "system", b).c_str(),
            [=](benchmark::State& s) { bm_sim_h2d(s, impl, from, to, b); })
            ->UseRealTime();
#if ASTENSOR_BENCH_HAVE_IMPL
  // The staging fill at 16, 64 and 256 MiB of source (the sizes of the 0.8x memcpy target),
  // same dtype (memcpy into the slots) and the two narrowing casts staging fuses.
  const std::pair<DType, DType> stage_pairs[] = {{DType::float32, DType::float32},
                                                 {DType::float64, DType::float32},
                                                 {DType::float32, DType::float16}};
  for (auto [from, to] : stage_pairs)
    for (std::size_t mib : {16, 64, 256}) {
      const std::size_t b = mib << 20;
      if (b > max_bytes()) continue;
      benchmark::RegisterBenchmark(
          case_name(std::string("sim/stage/") + name(from) + "_" + name(to) + "/contig", Impl::Optimized, "system", b)
              .c_str(),
          [=](benchmark::State& s) { bm_sim_stage(s, from, to, b); })
          ->UseManualTime();
    }
#endif
  // d2h also at 64 MiB, the size where session 1 saw ~250 ms (impl/transfer/README.md).
  std::vector<std::size_t> d2h_sizes = sizes();
  if ((std::size_t(64) << 20) <= max_bytes()) {
    d2h_sizes.push_back(std::size_t(64) << 20);
    std::sort(d2h_sizes.begin(), d2h_sizes.end());
  }
  for (Impl impl : impls())
    for (std::size_t b : d2h_sizes)
      benchmark::RegisterBenchmark(case_name("sim/d2h/float32_float32/contig", impl, "system", b).c_str(),
                                   [=](benchmark::State& s) { bm_sim_d2h(s, impl, b); })
          ->UseRealTime();
#if ASTENSOR_BENCH_HAVE_IMPL
  // The small-copy cases: one 4 KiB conversion each way, and 100 x 64 KiB H2D, blocking and
  // non-blocking (the GPU case has 1000; 100 keep the case short, and the ratio is per tensor).
  for (auto [to_host, bytes, count, non_blocking] :
       {std::tuple{false, std::size_t(4) << 10, 1, false}, std::tuple{true, std::size_t(4) << 10, 1, false},
        std::tuple{false, std::size_t(64) << 10, 100, false}, std::tuple{false, std::size_t(64) << 10, 100, true}}) {
    const std::string name_ = std::string("sim/small/fast/") + (to_host ? "d2h" : "h2d") + "/float32_float32/mode:" +
                              (non_blocking ? "non_blocking" : "blocking") + "/impl:optimized/count:" +
                              std::to_string(count) + "/bytes:" + bytes_str(bytes);
    benchmark::RegisterBenchmark(name_.c_str(),
                                 [=](benchmark::State& s) { bm_sim_small(s, to_host, bytes, count, non_blocking); })
        ->UseManualTime();
  }
  // The link model's cases (issue 12): 1, 16 and 64 MiB of source (64 MiB only where
  // max_bytes allows), a fixed number of iterations so that the medians see the same count.
  for (const LinkSetting& setting : kLinkSettings)
    for (std::size_t mib : {1, 16, 64}) {
      const std::size_t b = mib << 20;
      if (b > max_bytes()) continue;
      const std::string head = std::string("sim/link/") + setting.name + "/";
      const std::pair<DType, DType> h2d_pairs[] = {{DType::float32, DType::float32},
                                                   {DType::uint8, DType::float32},
                                                   {DType::float64, DType::float32}};
      for (auto [from, to] : h2d_pairs)
        benchmark::RegisterBenchmark(
            case_name(head + "h2d/" + name(from) + "_" + name(to) + "/contig", Impl::Optimized, "system", b).c_str(),
            [=](benchmark::State& s) { bm_sim_link(s, setting, false, from, to, b); })
            ->UseManualTime()
            ->Iterations(mib >= 64 ? 9 : 21);
      benchmark::RegisterBenchmark(
          case_name(head + "d2h/float32_float32/contig", Impl::Optimized, "system", b).c_str(),
          [=](benchmark::State& s) { bm_sim_link(s, setting, true, DType::float32, DType::float32, b); })
          ->UseManualTime()
          ->Iterations(mib >= 64 ? 9 : 21);
    }
#endif
}

}  // namespace astensor::bench
