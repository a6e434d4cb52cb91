#pragma once
/// Shared helpers of the reliability suites (issue 7): leak baselines over every allocator
/// the library uses, and the conversions the suites repeat (CPU casts, nested data,
/// host -> sim -> host round trips) with their expected values.

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/nested.h"
#include "core/source.h"
#include "core/storage.h"
#include "backends/sim/sim.h"
#include "impl/transfer/pinned_pool.h"
#if __has_include("impl/transfer/device_allocator.h")
#include "impl/transfer/device_allocator.h"
#endif
#include "reference/as_tensor.h"
#if __has_include("impl/as_tensor.h")
#include "impl/as_tensor.h"
#define ASTENSOR_RELIAB_HAVE_IMPL 1
#endif

namespace astensor::reliability {

/// Everything that must return to its value once every tensor is gone.
struct Usage {
  long long storages = 0, storage_bytes = 0;
  long long sim_live_uncached = 0;  // sim mappings not held by the pinned pool's or the device allocator's cache
  std::size_t pinned_in_use = 0;    // leased pinned blocks
  bool operator==(const Usage&) const = default;
  std::string str() const {
    return "storages=" + std::to_string(storages) + " bytes=" + std::to_string(storage_bytes) +
           " sim_live_uncached=" + std::to_string(sim_live_uncached) +
           " pinned_in_use=" + std::to_string(pinned_in_use);
  }
};

inline Usage usage() {
  const StorageStats s = storage_stats();
  const auto pool = transfer::pinned_pool(DeviceType::Sim).stats();
  Usage u;
  u.storages = s.live_allocations;
  u.storage_bytes = s.live_bytes;
  u.sim_live_uncached =
      static_cast<long long>(sim::live_allocations()) - static_cast<long long>(pool.cached_blocks);
#ifdef ASTENSOR_RELIAB_HAVE_IMPL
  u.sim_live_uncached -= static_cast<long long>(transfer::device_allocator(DeviceType::Sim).stats().cached_blocks);
#endif
  u.pinned_in_use = pool.in_use_blocks;
  return u;
}

using Convert = std::function<Tensor(const Source&, const Options&)>;

struct NamedImpl {
  const char* name;
  Convert fn;
};
inline std::vector<NamedImpl> implementations() {
  std::vector<NamedImpl> v{{"reference", [](const Source& s, const Options& o) {
                              return reference::as_tensor(s, o);
                            }}};
#ifdef ASTENSOR_RELIAB_HAVE_IMPL
  v.push_back({"impl", [](const Source& s, const Options& o) { return impl::as_tensor(s, o); }});
#endif
  return v;
}

/// One conversion scenario: runs `convert` end to end and returns the host values.
struct Scenario {
  std::string name;
  std::function<std::vector<double>(const Convert&)> run;
};

inline std::vector<double> iota(std::size_t n, double scale = 0.5) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i % 1000) * scale - 7;
  return v;
}

/// The scenarios of the fault and thread suites: CPU cast copy, strided (transposed) copy,
/// a large (huge-page) output, nested data with a block, and host -> sim -> host round trips
/// (contiguous, and a cast of a transposed view through the staging ring).
inline std::vector<Scenario> scenarios(bool with_sim, bool large) {
  std::vector<Scenario> out;
  out.push_back({"cpu_cast", [](const Convert& f) {
                   static const std::vector<double> src = iota(3000);
                   ArrayView v = ArrayView::contiguous(src.data(), DType::float64, Dims{30, 100});
                   return f(v, Options{DType::float32, std::nullopt, std::nullopt}).to_double_vector();
                 }});
  out.push_back({"cpu_transpose_copy", [](const Convert& f) {
                   static const std::vector<double> src = iota(64 * 48);
                   ArrayView v = ArrayView::contiguous(src.data(), DType::float64, Dims{64, 48});
                   std::swap(v.shape[0], v.shape[1]);
                   std::swap(v.byte_strides[0], v.byte_strides[1]);
                   return f(v, Options{std::nullopt, std::nullopt, true}).to_double_vector();
                 }});
  if (large)
    out.push_back({"cpu_large_hugepage", [](const Convert& f) {
                     // 8 MiB of float64 -> 4 MiB of float32: the huge-page output path.
                     static const std::vector<double> src = iota(std::size_t(1) << 20);
                     ArrayView v = ArrayView::contiguous(src.data(), DType::float64,
                                                         Dims{int64_t(1) << 20});
                     auto t = f(v, Options{DType::float32, std::nullopt, std::nullopt});
                     auto d = t.to_double_vector();
                     return std::vector<double>(d.begin(), d.begin() + 4096);
                   }});
  out.push_back({"nested_with_block", [](const Convert& f) {
                   static const std::vector<float> blk = {1.5f, -2.f, 3.25f};
                   Nested x = {{1, 2.5, true}, Nested(ArrayView::contiguous(blk.data(), DType::float32, Dims{3})),
                               {Nested::typed(DType::float16, 0.5), 7, -8}};
                   NestedReader r(x);
                   return f(SequenceSource{&r}, Options{}).to_double_vector();
                 }});
  if (with_sim) {
    out.push_back({"sim_roundtrip", [](const Convert& f) {
                     static const std::vector<float> src = [] {
                       std::vector<float> v(4096);
                       for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.25f;
                       return v;
                     }();
                     ArrayView v = ArrayView::contiguous(src.data(), DType::float32, Dims{64, 64});
                     Tensor d = f(v, Options{std::nullopt, Device(DeviceType::Sim, 0), std::nullopt});
                     return f(d, Options{std::nullopt, Device::cpu(), std::nullopt}).to_double_vector();
                   }});
    out.push_back({"sim_strided_cast_roundtrip", [](const Convert& f) {
                     // A transposed float64 view cast to float32 on sim:1 (gather + cast through the
                     // staging ring), then to sim:0 (peer) and back to int64 on the host.
                     static const std::vector<double> src = iota(256 * 300, 1.0);
                     ArrayView v = ArrayView::contiguous(src.data(), DType::float64, Dims{256, 300});
                     std::swap(v.shape[0], v.shape[1]);
                     std::swap(v.byte_strides[0], v.byte_strides[1]);
                     Tensor d1 = f(v, Options{DType::float32, Device(DeviceType::Sim, 1), std::nullopt});
                     Tensor d0 = f(d1, Options{std::nullopt, Device(DeviceType::Sim, 0), std::nullopt});
                     return f(d0, Options{DType::int64, Device::cpu(), std::nullopt}).to_double_vector();
                   }});
  }
  return out;
}

}  // namespace astensor::reliability
