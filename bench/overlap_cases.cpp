// overlap/...: a data loader's loop (issue 15): k = 32 batches (8 host arrays, reused in turn
// and overwritten after each call as XFER-1 allows), each converted to sim:0 and then
// "computed on" by a kernel of about the batch's copy time, and the next batch converted while
// the previous one is being computed on. overlap/sim/: sim models the link (4 GB/s pinned,
// 5 us, two copy engines: kOverlapLink in bench/link_settings.h) and the kernel (a queued pause on
// the compute stream: sim::enqueue_sleep), so the overlap the schedule allows shows up on a
// machine without a GPU. overlap/cuda/ (skips without a device): the kernel is a spin kernel
// (cuda::enqueue_spin) lasting a pinned copy of the batch, measured in the same case.
//   mode:blocking      as_tensor blocks; the batch's copy queues behind the previous kernel on
//                      the current stream, so copy and kernel take turns.
//   mode:non_blocking  as_tensor(non_blocking=True, stream=<copy stream>); the compute stream
//                      waits for the result (its Pending) and the next batch is staged and
//                      copied while the kernel runs. The loader keeps kPrefetch = 3 batches in
//                      flight, as data loaders bound their prefetch queue: before converting
//                      batch i it waits (on the host) for the kernel of batch i - 3.
//   mode:non_blocking_unbounded  the same with no bound: the host stages every batch as fast
//                      as it can, ahead of the device. On sim, whose copies and kernels are
//                      host threads, that run-ahead competes with them for this machine's
//                      cores; on a GPU it would not.
// Timed after one warm-up pass, so the pinned and device pools hold what a pass uses, as in a
// loader's steady state. Counters: per_batch_ms (the loop's time / k, median of 5 passes), kernel_ms and link_ms (modelled, per batch),
// bound_ms = max(kernel, link, staging), vs_bound = the loop's time / (k x bound_ms): the
// issue's measure, total time against max(total copy, total compute), target <= 1.1 (the
// pipeline's fill and drain, one batch's copy and one kernel, are inside it: 1/k of it), and
// efficiency = 1 / vs_bound. The torch comparison (pinned memory + to(non_blocking)) is
// bench/overlap.py's, not here.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda.h"
#include "backends/sim/sim.h"
#include "bench/common.h"
#include "bench/cuda_harness.h"
#include "bench/link_settings.h"
#include "core/pending.h"

#if ASTENSOR_BENCH_HAVE_IMPL
#include "impl/as_tensor.h"
#endif

namespace astensor::bench {

namespace {

#if ASTENSOR_BENCH_HAVE_IMPL
constexpr int kBatches = 32;
constexpr int kSources = 8;  // host arrays, reused in turn
constexpr int kPrefetch = 3;  // batches in flight in mode:non_blocking

enum class Mode { Blocking, NonBlocking, NonBlockingUnbounded };

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Blocking: return "blocking";
    case Mode::NonBlocking: return "non_blocking";
    case Mode::NonBlockingUnbounded: return "non_blocking_unbounded";
  }
  return "?";
}

/// The batch's time over the link on CUDA: a pinned cudaMemcpyAsync of `bytes` through the
/// backend on `stream`, best of 3 (the kernel's duration and the copy stage of the bound).
double cuda_pinned_copy_s(Backend& be, std::size_t bytes, StreamHandle stream) {
  void* host = be.allocate_pinned(bytes);
  void* dev = be.allocate(0, bytes);
  std::memset(host, 1, bytes);
  double best = 1e9;
  for (int r = 0; r < 3; ++r) {
    const double t0 = now_s();
    be.copy_async(dev, Device(DeviceType::CUDA, 0), host, Device::cpu(), bytes, stream);
    be.synchronize_stream(stream);
    best = std::min(best, now_s() - t0);
  }
  be.deallocate(0, dev);
  be.free_pinned(host);
  return best;
}

void bm_overlap(benchmark::State& state, DeviceType type, Mode mode, std::size_t bytes) {
  const bool non_blocking = mode != Mode::Blocking;
  const int prefetch = mode == Mode::NonBlocking ? kPrefetch : kBatches;
  if (type == DeviceType::CUDA && !cuda_present(state)) return;
  const bool on_sim = type == DeviceType::Sim;
  const Device dev(type, 0);
  Backend& be = backend(type);
  std::vector<HostArray> batches;
  for (int i = 0; i < kSources; ++i) batches.push_back(make_host_array(DType::float32, bytes, Layout::Contig));
  Stream copy_stream(be, 0);
  const StreamHandle compute = be.current_stream(0);
  // sim: kOverlapLink, 4 GB/s (ScopedLinkModel while the case runs); CUDA: the link as
  // measured now. The kernel lasts the batch's link time.
  const sim::LinkModel model = link_setting_model(kOverlapLink);
  std::optional<sim::ScopedLinkModel> scoped;
  double link_s = 0;
  if (on_sim) {
    scoped.emplace(model);
    link_s = model.seconds(sim::LinkKind::H2DPinned, static_cast<double>(bytes));
  } else {
    link_s = cuda_pinned_copy_s(be, bytes, copy_stream.get());
  }
  const double kernel_s = link_s;
  auto kernel = [&](StreamHandle s) {
    if (on_sim)
      sim::enqueue_sleep(s, static_cast<unsigned>(kernel_s * 1e6));
    else
      cuda::enqueue_spin(0, s, static_cast<uint64_t>(kernel_s * 1e9));
  };
  Options o;
  o.device = dev;
  o.non_blocking = non_blocking;
  o.stream = non_blocking ? copy_stream.get() : nullptr;
  // One pass of the loader's loop: k batches converted, each computed on; returns its seconds.
  auto loop = [&] {
    std::vector<Tensor> on_device;
    std::vector<Event> kernel_done;  // after each batch's kernel, for the prefetch bound
    const double t0 = now_s();
    for (int i = 0; i < kBatches; ++i) {
      if (i >= prefetch) kernel_done[static_cast<std::size_t>(i - prefetch)].synchronize();
      HostArray& src = batches[static_cast<std::size_t>(i % kSources)];
      Tensor t = impl::as_tensor(Source(src.view), o);
      static_cast<unsigned char*>(src.buffer.data())[0] ^= 1;  // reused at once (XFER-1)
      if (non_blocking && t.storage()->pending()) t.storage()->pending()->order_before(compute);
      kernel(compute);  // the kernel on batch i
      kernel_done.emplace_back(be, 0);
      kernel_done.back().record(compute);
      on_device.push_back(std::move(t));
    }
    be.synchronize_stream(compute);
    return now_s() - t0;
  };
  try {
    // A warm-up pass: a loader's steady state, with the pinned and device pools holding what a
    // pass uses (a cold pool pins memory mid-pass, at cudaHostAlloc's cost on sim's model too).
    loop();
    std::vector<double> per_batch;
    for (auto _ : state) {
      const double s = loop();
      state.SetIterationTime(s);
      per_batch.push_back(s / kBatches);
    }
    const double median = median_of(per_batch);
    // Staging: one host memcpy of the batch at this machine's single-stream rate (measured).
    HostBuffer dst(bytes);
    double staging_s = 1e9;
    for (int r = 0; r < 3; ++r) {
      const double t0 = now_s();
      parallel_memcpy(dst.data(), batches[0].buffer.data(), bytes, 1);
      benchmark::ClobberMemory();
      staging_s = std::min(staging_s, now_s() - t0);
    }
    const double bound = std::max({link_s, kernel_s, staging_s});
    state.SetBytesProcessed(static_cast<int64_t>(bytes) * kBatches * static_cast<int64_t>(state.iterations()));
    state.counters["per_batch_ms"] = median * 1e3;
    state.counters["kernel_ms"] = kernel_s * 1e3;
    state.counters["link_ms"] = link_s * 1e3;
    state.counters["staging_ms"] = staging_s * 1e3;
    state.counters["bound_ms"] = bound * 1e3;
    state.counters["vs_bound"] = bound > 0 ? median / bound : 0;
    state.counters["efficiency"] = median > 0 ? bound / median : 0;
    state.counters["batches"] = kBatches;
    state.counters["prefetch"] = prefetch;
    state.SetLabel(std::string("optimized ") + mode_name(mode) + (non_blocking ? " stream:copy" : ""));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
#endif

}  // namespace

void register_overlap() {
#if ASTENSOR_BENCH_HAVE_IMPL
  // cuda/ cases are registered in every build and skip without a device (as cuda/... do);
  // sim/ ones only where sim has a device.
  for (DeviceType type : {DeviceType::Sim, DeviceType::CUDA}) {
    if (type == DeviceType::Sim && backend(type).device_count() <= 0) {
      notes().push_back("overlap/sim/...: not registered: no sim device (" + backend(type).unavailable_reason() + ")");
      continue;
    }
    const std::string dev = type == DeviceType::Sim ? "sim" : "cuda";
    for (std::size_t mib : {4, 16}) {
      const std::size_t b = mib << 20;
      if (b > max_bytes()) continue;
      for (Mode mode : {Mode::Blocking, Mode::NonBlocking, Mode::NonBlockingUnbounded})
        benchmark::RegisterBenchmark(
            case_name("overlap/" + dev + "/h2d/float32_float32/mode:" + mode_name(mode), Impl::Optimized, "system", b)
                .c_str(),
            [=](benchmark::State& s) { bm_overlap(s, type, mode, b); })
            ->UseManualTime()
            ->Iterations(5);
    }
  }
#else
  notes().push_back("overlap/...: not registered: the optimized implementation is not built");
#endif
}

}  // namespace astensor::bench
