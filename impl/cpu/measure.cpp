// Throwaway throughput harness for impl/cpu (not a test; the project benchmark is
// bench/bench_as_tensor). Prints, per thread count, the memcpy bound (bytes read + written
// per second, measured in the same run) and each kernel's ratio to it. Outputs are
// pre-faulted unless the case says "fresh" (then as_tensor allocates, Note [Huge-page
// outputs]). Usage: impl_measure [threads...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/array_view.h"
#include "impl/as_tensor.h"
#include "impl/cpu/copy.h"
#include "impl/cpu/kernels.h"

using namespace astensor;
using namespace astensor::impl;

namespace {
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
template <class F>
double best_of(int reps, F&& f) {
  double b = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t = now();
    f();
    b = std::min(b, now() - t);
  }
  return b;
}
struct Case {
  const char* label;
  DType from, to;
  Dims shape, byte_strides;  // of the source view
  int64_t src_elems;         // elements to allocate for the source
};
}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  for (int i = 1; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  if (thread_counts.empty()) thread_counts = {1, cpu::max_threads()};
  std::printf("isa %s, max threads %d, parallel_min_bytes %lld\n", cpu::isa_name(cpu::cpu_isa()),
              cpu::max_threads(), (long long)cpu::parallel_min_bytes());
  const int64_t MiB = 1 << 20;
  std::vector<char> src(256 * MiB), dst(256 * MiB);
  for (std::size_t i = 0; i < src.size(); i += 8) {
    double d = double(i) * 0.37;
    std::memcpy(&src[i], &d, 8);
  }
  std::memset(dst.data(), 1, dst.size());
  const int64_t n64 = 16 * MiB;  // f64 elements: 128 MiB in, 64 MiB out as f32
  const int64_t n8 = 32 * MiB;   // u8 elements: 32 MiB in, 128 MiB out as f32
  const int64_t side = 4096;     // 4096 x 4096 f64 = 128 MiB
  std::vector<Case> cases = {
      {"f64->f32 contiguous", DType::float64, DType::float32, Dims{n64}, Dims{8}, n64},
      {"u8->f32 contiguous", DType::uint8, DType::float32, Dims{n8}, Dims{1}, n8},
      {"f64->f32 [:, ::2] gather", DType::float64, DType::float32, Dims{side, side / 2},
       Dims{side * 8, 16}, side * side},
      {"f64->f32 .T (dense: kept order)", DType::float64, DType::float32, Dims{side, side},
       Dims{8, side * 8}, side * side},
      {"f64->f32 .T[:, ::2] gather", DType::float64, DType::float32, Dims{side, side / 2},
       Dims{8, side * 16}, side * side},
      {"f64->f64 [:, ::2] gather", DType::float64, DType::float64, Dims{side, side / 2},
       Dims{side * 8, 16}, side * side},
      {"f32->f16 contiguous", DType::float32, DType::float16, Dims{n64}, Dims{4}, n64},
  };
  for (int threads : thread_counts) {
    // memcpy bound with the same threads: 128 MiB copied.
    const int64_t mb = 128 * MiB;
    cpu::CopyLayout ml = cpu::collapse(Dims{mb}.span(), Dims{1}.span(), Dims{1}.span());
    double tm = best_of(5, [&] { cpu::run_copy(ml, src.data(), DType::uint8, false, dst.data(), DType::uint8, threads); });
    const double bound = 2.0 * mb / tm;
    std::printf("\nthreads %d: memcpy %.1f GB/s copied, bound (read+written) %.1f GB/s\n", threads,
                mb / tm / 1e9, bound / 1e9);
    for (const Case& c : cases) {
      ArrayView v;
      v.data = src.data();
      v.dtype = c.from;
      v.shape = c.shape;
      v.byte_strides = c.byte_strides;
      Options o;
      o.dtype = c.to;
      o.copy = true;  // same-dtype cases would otherwise be shared
      Plan p = plan(Source(v), o);
      const int64_t numel = p.layout.numel;
      const double bytes = double(numel) * (itemsize(c.from) + itemsize(c.to));
      double t = best_of(5, [&] { cpu::run_copy(p.layout, v.data, c.from, false, dst.data(), c.to, threads); });
      // The whole call with a fresh output (allocation + faults + copy), the planner's threads.
      double tf = best_of(3, [&] { Tensor r = impl::as_tensor(Source(v), o); });
      std::printf("  %-34s %-18s %6.2f Gelem/s %6.1f GB/s = %.2fx bound | fresh as_tensor (%d thr) %.2fx\n",
                  c.label, copy_kind_name(p.copy), numel / t / 1e9, bytes / t / 1e9,
                  bytes / t / bound, p.threads, bytes / tf / bound);
    }
  }
}
