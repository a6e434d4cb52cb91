// seq/...: nested C++ sequences (core/nested.h, NestedReader) into host tensors: the C++ twin
// of Python list conversion (C3), without the interpreter. Flat lists of floats and ints and
// a nested 1000 x 1000 list. bytes = output bytes (float -> float32, the default dtype;
// int -> int64).

#include <memory>

#include "bench/common.h"
#include "core/nested.h"

namespace astensor::bench {

namespace {

std::shared_ptr<Nested> make_flat(int64_t n, bool floats) {
  Nested::List l;
  l.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (floats) l.emplace_back(static_cast<double>(i % 1000) * 0.25);
    else l.emplace_back(static_cast<long long>(i % 100000));
  }
  return std::make_shared<Nested>(std::move(l));
}

std::shared_ptr<Nested> make_nested(int64_t rows, int64_t cols) {
  Nested::List outer;
  outer.reserve(static_cast<std::size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    Nested::List row;
    row.reserve(static_cast<std::size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) row.emplace_back(static_cast<double>((r + c) % 1000) * 0.25);
    outer.emplace_back(std::move(row));
  }
  return std::make_shared<Nested>(std::move(outer));
}

void bm_seq(benchmark::State& state, Impl impl, const std::shared_ptr<Nested>& data, int64_t numel,
            DType out_dtype) {
  NestedReader reader(*data);
  const Source src = SequenceSource{&reader};
  const std::size_t out_bytes = static_cast<std::size_t>(numel) * itemsize(out_dtype);
  {
    Tensor t = call_as_tensor(impl, src, Options{});
    if (t.dtype() != out_dtype || t.numel() != numel) {
      state.SkipWithError(("unexpected result " + t.str() + " (SEQ-3 inference)").c_str());
      return;
    }
  }
  const auto [faults, secs] = time_as_tensor(state, impl, src, Options{});
  report_host_case(state, {impl, numel, out_bytes, out_bytes, out_bytes, out_bytes},
                   faults, secs);
}

}  // namespace

void register_seq() {
  // The 1e6-element cases only when the size axis reaches 1 MiB (not in --quick runs).
  const bool big = max_bytes() >= (std::size_t(1) << 20);
  struct Flat {
    bool floats;
    int64_t n;
  };
  std::vector<Flat> flats{{true, 1000}, {false, 1000}};
  if (big) flats.insert(flats.end(), {{true, 1000000}, {false, 1000000}});
  for (const Flat& f : flats) {
    // Built lazily, once, by the first case that needs it, shared by the impls.
    auto cache = std::make_shared<std::shared_ptr<Nested>>();
    for (Impl impl : impls())
      benchmark::RegisterBenchmark(
          (std::string("seq/") + (f.floats ? "float" : "int") + "/flat/impl:" + impl_name(impl) +
           "/n:" + std::to_string(f.n)).c_str(),
          [=](benchmark::State& s) {
            if (!*cache) *cache = make_flat(f.n, f.floats);
            bm_seq(s, impl, *cache, f.n, f.floats ? DType::float32 : DType::int64);
          })
          ->UseRealTime();
  }
  const int64_t side = big ? 1000 : 32;
  auto cache = std::make_shared<std::shared_ptr<Nested>>();
  for (Impl impl : impls())
    benchmark::RegisterBenchmark(
        (std::string("seq/float/nested/impl:") + impl_name(impl) + "/shape:" + std::to_string(side) + "x" +
         std::to_string(side)).c_str(),
        [=](benchmark::State& s) {
          if (!*cache) *cache = make_nested(side, side);
          bm_seq(s, impl, *cache, side * side, DType::float32);
        })
        ->UseRealTime();
}

}  // namespace astensor::bench
