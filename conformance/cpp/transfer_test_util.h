#pragma once
// What the transfer suites share (test_transfer.cpp, test_transfer_small.cpp,
// test_pinned_pool.cpp; built for sim and CUDA): host arrays in every layout, raw device
// blocks, small staging options.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "conformance/cpp/device_test_util.h"
#include "core/array_view.h"
#include "core/backend.h"
#include "impl/transfer/transfer.h"

namespace astensor::testing::transfer_suite {

using astensor::transfer::TransferOptions;

/// A host buffer with a strided view over it. Values are random bytes (any bit pattern,
/// NaN payloads included), except bool, whose storage must be 0 or 1.
struct HostArray {
  std::vector<unsigned char> bytes;
  ArrayView view;
};

enum class Layout { Contiguous, Transposed, Stepped, Negative, Packed };
inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Stepped: return "stepped";
    case Layout::Negative: return "negative";
    case Layout::Packed: return "packed";
  }
  return "?";
}

/// A (rows, cols) view of dtype `dt` in one of the layouts; `swapped` marks it byteswapped.
inline HostArray make_array(DType dt, int64_t rows, int64_t cols, Layout layout, bool swapped, uint32_t seed) {
  const int64_t isz = static_cast<int64_t>(itemsize(dt));
  HostArray a;
  const int64_t pad = layout == Layout::Packed ? 3 : 0;  // bytes between elements: misaligned
  const int64_t step = layout == Layout::Stepped ? 2 : 1;
  const int64_t elem = isz + pad;
  const std::size_t n = static_cast<std::size_t>(rows * cols * step * elem + 16);
  a.bytes.resize(n);
  std::mt19937 rng(seed);
  for (auto& b : a.bytes) b = static_cast<unsigned char>(rng());
  if (dt == DType::bool_)
    for (auto& b : a.bytes) b &= 1;
  ArrayView& v = a.view;
  v.dtype = dt;
  v.byteswapped = swapped;
  v.shape = {rows, cols};
  char* base = reinterpret_cast<char*>(a.bytes.data()) + 1;  // misaligned on purpose (ARR-6)
  switch (layout) {
    case Layout::Contiguous: v.byte_strides = {cols * isz, isz}; v.data = base; break;
    case Layout::Transposed: v.byte_strides = {isz, rows * isz}; v.data = base; break;
    case Layout::Stepped: v.byte_strides = {cols * step * isz, step * isz}; v.data = base; break;
    case Layout::Negative:
      v.byte_strides = {-cols * isz, isz};
      v.data = base + (rows - 1) * cols * isz;
      break;
    case Layout::Packed: v.byte_strides = {cols * elem, elem}; v.data = base; break;
  }
  return a;
}

/// Device memory straight from the backend, released at scope end.
struct DeviceBlock {
  Backend& be;
  int dev;
  void* p;
  DeviceBlock(Backend& b, int d, std::size_t n) : be(b), dev(d), p(b.allocate(d, n)) {}
  ~DeviceBlock() { be.deallocate(dev, p); }
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
};

inline TransferOptions small_chunks(std::size_t chunk = 4096, int slots = 3) {
  TransferOptions o;
  o.chunk_bytes = chunk;
  o.slots = slots;
  return o;
}


}  // namespace astensor::testing::transfer_suite
