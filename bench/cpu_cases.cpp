// cpu/...: the machine's own limit (memcpy, pre-faulted and fresh output), the zero-copy
// share (C1) and same-dtype copies through as_tensor(copy=True).

#include <malloc.h>

#include <cstring>
#include <memory>

#include "bench/common.h"
#include "reference/as_tensor.h"

namespace astensor::bench {

namespace {

using benchmark::State;

/// memcpy between pre-faulted buffers (out:reused) or into a fresh mapping each iteration
/// (out:fresh: mmap + first touch + munmap, what a fresh allocation of that size costs).
/// The reused variant stores the roofline limit for (threads, bytes).
void bm_memcpy(State& state, int threads, std::size_t bytes, OutMemory mem) {
  const bool fresh = mem != OutMemory::Reused;
  HostBuffer src(bytes);
  fill_pattern(src.data(), DType::uint8, static_cast<int64_t>(bytes));
  HostBuffer dst = fresh ? HostBuffer() : HostBuffer(bytes);
  const long long f0 = minor_faults();
  const double t0 = now_s();
  for (auto _ : state) {
    if (fresh) {
      HostBuffer out(bytes, /*prefault=*/false, mem == OutMemory::FreshHuge);
      parallel_memcpy(out.data(), src.data(), bytes, threads);
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    } else {
      parallel_memcpy(dst.data(), src.data(), bytes, threads);
      benchmark::DoNotOptimize(dst.data());
      benchmark::ClobberMemory();
    }
  }
  const double secs = now_s() - t0;
  const long long faults = minor_faults() - f0;
  const auto iters = static_cast<int64_t>(state.iterations());
  if (secs > 0) store_memcpy_limit(threads, bytes, static_cast<double>(bytes * iters) / secs, mem);
  // The baseline against itself: roofline 1 for the reused variant by construction, the
  // fresh variant shows what first touch costs.
  state.SetBytesProcessed(iters * static_cast<int64_t>(bytes));
  state.counters["elems_per_s"] = benchmark::Counter(static_cast<double>(bytes * iters), benchmark::Counter::kIsRate);
  const double limit = memcpy_limit(threads, bytes, OutMemory::Reused);
  state.counters["roofline"] = secs > 0 ? (static_cast<double>(bytes * iters) / secs) / limit : 0;
  state.counters["limit_GBps"] = limit / 1e9;
  state.counters["threads"] = threads;
  state.counters["faults_per_iter"] = iters ? static_cast<double>(faults) / static_cast<double>(iters) : 0;
  state.SetLabel(std::string("baseline out:") +
                 out_state(bytes, faults, iters, mem == OutMemory::FreshHuge ? std::size_t(2) << 20 : 4096));
}

/// C1: as_tensor of an array whose dtype and device already match: a zero-copy share, whose
/// cost must not depend on the size. The array is a reserved mapping that is never touched
/// (sharing reads no element), so 1 GiB costs no memory.
void bm_share_array(State& state, Impl impl, std::size_t bytes) {
  HostBuffer buf(bytes, /*prefault=*/false);
  const int64_t numel = static_cast<int64_t>(bytes / 4);
  const ArrayView view = ArrayView::contiguous(buf.data(), DType::float32, Dims{numel});
  const Source src = view;
  const auto [faults, secs] = time_as_tensor(state, impl, src, Options{});
  // Sanity: it must really share (ARR-1), or this is not the case it claims to be.
  if (call_as_tensor(impl, src, Options{}).data_ptr() != buf.data()) {
    state.SkipWithError("as_tensor copied an array it should share (ARR-1)");
    return;
  }
  report_host_case(state, {impl, numel, bytes, 0, 0, bytes}, faults, secs);
}

/// TEN-1: as_tensor of a Tensor with nothing to change returns that very tensor.
void bm_share_tensor(State& state, Impl impl) {
  HostBuffer buf(4096);
  const Tensor t = reference::as_tensor(ArrayView::contiguous(buf.data(), DType::float32, Dims{1024}),
                                        Options{});
  const Source src = t;
  const double t0 = now_s();
  const long long f0 = minor_faults();
  for (auto _ : state) {
    Tensor r = call_as_tensor(impl, src, Options{});
    benchmark::DoNotOptimize(r.impl());
  }
  report_host_case(state, {impl, 1024, 4096, 0, 0, 4096}, minor_faults() - f0, now_s() - t0);
}

}  // namespace

/// Copies and casts of a host array into a new host tensor: the loop shared by cpu/copy and
/// cast/... (declared in cast_cases.cpp's use too).
void bm_host_convert(State& state, Impl impl, DType from, DType to, Layout layout,
                     std::size_t bytes) {
  HostArray a = make_host_array(from, bytes, layout);
  Options o;
  o.dtype = to;
  if (from == to) o.copy = true;  // same dtype: force the copy (ARR-1 would share)
  const Source src = a.view;
  const std::size_t out_bytes = static_cast<std::size_t>(a.numel) * itemsize(to);
  {
    // One untimed call: the steady state (lazy pools, allocator state) is what is measured.
    Tensor warm = call_as_tensor(impl, src, o);
    benchmark::DoNotOptimize(warm.data_ptr());
  }
  const auto [faults, secs] = time_as_tensor(state, impl, src, o);
  report_host_case(state, {impl, a.numel, bytes, out_bytes, out_bytes, bytes}, faults,
                   secs);
}

/// alloc:retain: the same case while glibc keeps freed memory in its heap (no mmap, no
/// trimming), so the output of one iteration reuses the pages of the previous one: the cost
/// of the conversion without first touch. The setting is switched on by the first such case
/// and stays on for the rest of the process (glibc has no way back to its dynamic mmap
/// threshold), which is why these cases are registered after every other family.
void bm_host_convert_retained(State& state, Impl impl, DType from, DType to, Layout layout,
                              std::size_t bytes) {
  static const bool retained = [] {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);  // read as size_t: never trim
    return true;
  }();
  (void)retained;
  bm_host_convert(state, impl, from, to, layout, bytes);
}

std::string case_name(const std::string& head, Impl impl, const char* alloc, std::size_t bytes) {
  return head + "/impl:" + impl_name(impl) + "/alloc:" + alloc + "/bytes:" + bytes_str(bytes);
}

void register_cpu() {
  std::vector<int> thread_counts{1};
  if (impl_threads() > 1) thread_counts.push_back(impl_threads());
  for (int threads : thread_counts)
    for (OutMemory mem : {OutMemory::Reused, OutMemory::Fresh, OutMemory::FreshHuge})
      for (std::size_t b : sizes()) {
        // Huge pages only where the optimized implementation uses them (4 MiB and more).
        if (mem == OutMemory::FreshHuge && b < (std::size_t(4) << 20)) continue;
        const bool fresh = mem != OutMemory::Reused;
        benchmark::RegisterBenchmark(
            ("cpu/memcpy/threads:" + std::to_string(threads) + "/out:" + out_memory_name(mem) +
             "/bytes:" + bytes_str(b)).c_str(),
            [=](State& s) { bm_memcpy(s, threads, b, mem); })
            ->UseRealTime()
            // The limit every host case divides by: three runs, the best one stored.
            ->Repetitions(fresh ? 1 : 3)
            ->ReportAggregatesOnly(!fresh);
      }

  for (Impl impl : impls()) {
    for (std::size_t b : {std::size_t(4096), std::size_t(1) << 30})
      benchmark::RegisterBenchmark(
          ("cpu/share/array/impl:" + std::string(impl_name(impl)) + "/bytes:" + bytes_str(b)).c_str(),
          [=](State& s) { bm_share_array(s, impl, b); })
          ->UseRealTime();
    benchmark::RegisterBenchmark(("cpu/share/tensor/impl:" + std::string(impl_name(impl))).c_str(),
                                 [=](State& s) { bm_share_tensor(s, impl); })
        ->UseRealTime();
  }

  for (Layout layout : {Layout::Contig, Layout::EveryOther, Layout::Transpose})
    for (Impl impl : impls())
      for (std::size_t b : sizes())
        benchmark::RegisterBenchmark(
            case_name(std::string("cpu/copy/float32/") + layout_name(layout), impl, "system", b).c_str(),
            [=](State& s) { bm_host_convert(s, impl, DType::float32, DType::float32, layout, b); })
            ->UseRealTime();
}

/// The alloc:retain variants of the contiguous copy and casts (see bm_host_convert_retained).
void register_retained() {
  const std::pair<DType, DType> pairs[] = {{DType::float32, DType::float32},
                                           {DType::float64, DType::float32},
                                           {DType::uint8, DType::float32}};
  for (auto [from, to] : pairs)
    for (Impl impl : impls())
      for (std::size_t b : sizes()) {
        const std::string head = from == to ? std::string("cpu/copy/") + name(from) + "/contig"
                                            : std::string("cast/") + name(from) + "_" + name(to) + "/contig";
        benchmark::RegisterBenchmark(case_name(head, impl, "retain", b).c_str(), [=](State& s) {
          bm_host_convert_retained(s, impl, from, to, Layout::Contig, b);
        })->UseRealTime();
      }
}

}  // namespace astensor::bench
