#pragma once
// The random inputs of the properties in conf_properties.cpp (rapidcheck generators, called
// inside a property): dtypes, strided host arrays over their own buffer (negative, zero,
// gapped, transposed and odd strides, misaligned data), and nested values whose leaves record
// the dtype they count as (SEQ-3) and the exact values they contribute.
#include <rapidcheck.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "conf_util.h"
#include "core/nested.h"

namespace astensor::conformance {

/// Uniform over all dtypes from the first case on (inRange alone starts small with the size).
inline DType gen_dtype() { return static_cast<DType>(*rc::gen::resize(100, rc::gen::inRange(0, kNumDTypes))); }

/// A random strided host array: its own buffer, the view on it, and how it was made.
struct RandomArray {
  std::shared_ptr<Buffer> buffer;
  ArrayView view;
};

/// Shape rank 0..4, sizes 0..4 (zero rarely); strides: a random dense order of the dims,
/// each multiplied by a step in {-2, -1, 0, 1, 2, 3} (negative, broadcast, gapped); data
/// optionally misaligned by one byte; byte strides optionally made odd (ARR-5).
inline RandomArray gen_array(DType dtype, bool allow_odd_strides) {
  const int rank = *rc::gen::inRange(0, 5);
  Dims shape(static_cast<std::size_t>(rank));
  for (auto& s : shape) s = *rc::gen::weightedElement<int64_t>({{1, 0}, {3, 1}, {6, 2}, {6, 3}, {4, 4}});
  std::vector<int> order(static_cast<std::size_t>(rank));
  std::iota(order.begin(), order.end(), 0);
  for (int k = rank - 1; k > 0; --k)  // Fisher-Yates with generated choices
    std::swap(order[static_cast<std::size_t>(k)], order[static_cast<std::size_t>(*rc::gen::inRange(0, k + 1))]);
  const auto isz = static_cast<int64_t>(itemsize(dtype));
  Dims byte_strides(static_cast<std::size_t>(rank));
  int64_t dense = 1;
  for (int k = rank; k-- > 0;) {
    const auto d = static_cast<std::size_t>(order[static_cast<std::size_t>(k)]);
    const int64_t step = *rc::gen::weightedElement<int64_t>({{2, -2}, {3, -1}, {2, 0}, {8, 1}, {2, 2}, {1, 3}});
    byte_strides[d] = step * dense * isz;
    dense *= std::max<int64_t>(shape[d], 1);
  }
  if (allow_odd_strides && rank > 0 && *rc::gen::inRange(0, 4) == 0) {
    // Packed records: every stride grows by a few bytes that are not a multiple of isz.
    const int64_t pad = *rc::gen::inRange<int64_t>(1, isz + 1);
    for (auto& s : byte_strides) s = s == 0 ? 0 : s + (s > 0 ? pad : -pad);
  }
  int64_t lo = 0, hi = 0;
  const bool empty = checked_numel(shape.span()) == 0;
  if (!empty) {
    for (std::size_t d = 0; d < shape.size(); ++d) {
      const int64_t span = (shape[d] - 1) * byte_strides[d];
      (span < 0 ? lo : hi) += span;
    }
  }
  const int64_t misalign = *rc::gen::inRange(0, 2);
  auto buf = std::make_shared<Buffer>(static_cast<std::size_t>(hi - lo + isz + 1));
  auto bytes = *rc::gen::container<std::vector<uint8_t>>(buf->size(), rc::gen::arbitrary<uint8_t>());
  if (dtype == DType::bool_)
    for (auto& b : bytes) b &= 1;  // only 0 and 1 are bool values
  std::memcpy(buf->data(), bytes.data(), bytes.size());
  RandomArray a;
  a.buffer = buf;
  a.view = make_view(buf->data() + misalign - lo, dtype, shape, byte_strides);
  return a;
}

inline std::pair<uintptr_t, uintptr_t> buffer_range(const RandomArray& a) {
  auto p = reinterpret_cast<uintptr_t>(a.buffer->data());
  return {p, p + a.buffer->size()};
}

/// Element i of a view in native byte order.
inline std::vector<unsigned char> native_element(const ArrayView& v, int64_t i) {
  const std::size_t isz = itemsize(v.dtype);
  const unsigned char* p = element_addr(v, i);
  std::vector<unsigned char> e(p, p + isz);
  if (v.byteswapped) {
    const std::size_t part = is_complex(v.dtype) ? isz / 2 : isz;
    for (std::size_t c = 0; c < isz; c += part) std::reverse(e.begin() + c, e.begin() + c + part);
  }
  return e;
}

/// A random leaf (or block) of a nested value, with the dtype it counts as (SEQ-3) and the
/// exact values it contributes, in row-major order.
struct LeafGen {
  std::vector<std::shared_ptr<Buffer>> keep;  // block memory
  std::vector<DType> leaf_dtypes;             // in visiting order
  std::vector<OValue> values;                 // every element, row-major

  Nested scalar() {
    OValue v;
    switch (*rc::gen::inRange(0, 5)) {
      case 0: {
        const bool b = *rc::gen::arbitrary<bool>();
        v.i = b;
        leaf_dtypes.push_back(DType::bool_);
        values.push_back(v);
        return Nested(b);
      }
      case 1: {
        const int k = *rc::gen::inRange(-100, 100);
        v.i = k;
        leaf_dtypes.push_back(DType::int64);
        values.push_back(v);
        return Nested(k);
      }
      case 2: {
        const double x = *rc::gen::inRange(-400, 400) * 0.375;
        v.kind = OValue::Kind::Real;
        v.re = x;
        leaf_dtypes.push_back(default_dtype());
        values.push_back(v);
        return Nested(x);
      }
      case 3: {
        const double re = *rc::gen::inRange(-20, 20) * 0.5, im = *rc::gen::inRange(-20, 20) * 0.25;
        v = OValue{OValue::Kind::Complex, 0, re, im};
        leaf_dtypes.push_back(default_complex_dtype());
        values.push_back(v);
        return Nested(std::complex<double>(re, im));
      }
      default: {  // a NumPy scalar of its own dtype
        const DType d = gen_dtype();
        auto bytes = oracle_cast(small_value(d), d);
        leaf_dtypes.push_back(d);
        values.push_back(read_value(bytes.data(), d));
        return Nested(ScalarLeaf::from_element(bytes.data(), d));
      }
    }
  }

  /// An array or tensor leaf of `shape`, dtype random, small values; stored C-contiguous,
  /// reversed along its first dim, or byteswapped (arrays only), read in logical order.
  Nested block(const Dims& shape) {
    const DType d = gen_dtype();
    const int64_t n = checked_numel(shape.span());
    const auto isz = static_cast<int64_t>(itemsize(d));
    auto buf = std::make_shared<Buffer>(static_cast<std::size_t>(n * isz + 1));
    keep.push_back(buf);
    const int layout = *rc::gen::inRange(0, 3);
    const bool reversed = layout == 1 && !shape.empty();
    const bool swapped = layout == 2 && isz > 1;
    Dims strides = c_byte_strides(shape, static_cast<std::size_t>(isz));
    int64_t origin = 0;  // byte offset of logical element [0,...,0]
    if (reversed) {
      origin = (shape[0] - 1) * strides[0];
      strides[0] = -strides[0];
    }
    ArrayView v = make_view(buf->data() + origin, d, shape, strides);
    v.byteswapped = swapped;
    for (int64_t i = 0; i < n; ++i) {
      auto bytes = oracle_cast(small_value(d), d);
      values.push_back(read_value(bytes.data(), d));
      if (swapped) {
        const int64_t part = is_complex(d) ? isz / 2 : isz;
        for (int64_t c = 0; c < isz; c += part) std::reverse(bytes.begin() + c, bytes.begin() + c + part);
      }
      std::memcpy(const_cast<unsigned char*>(element_addr(v, i)), bytes.data(), bytes.size());
    }
    leaf_dtypes.push_back(d);
    if (!swapped && *rc::gen::arbitrary<bool>()) {
      // The same memory as a tensor (a view with an element offset).
      auto storage = Storage::wrap(buf->data(), static_cast<std::size_t>(n * isz), Device::cpu(), buf, false);
      Dims el = strides;
      for (auto& x : el) x /= isz;
      return Nested(Tensor::make(storage, origin / isz, shape, el, d));
    }
    return Nested(v);
  }

  static OValue small_value(DType d) {
    OValue v;
    v.i = d == DType::bool_ ? *rc::gen::inRange(0, 2) : *rc::gen::inRange(0, 100);
    if (is_floating(d) || is_complex(d)) {
      v.kind = OValue::Kind::Real;
      v.re = static_cast<long double>(v.i) * 0.75L;
    }
    return v;
  }

  Nested build(const Dims& shape, std::size_t depth) {
    if (depth == shape.size()) {
      // A scalar, or (sometimes) a 0-d array.
      if (*rc::gen::inRange(0, 8) == 0) return block(Dims{});
      return scalar();
    }
    if (depth > 0 && *rc::gen::inRange(0, 4) == 0)
      return block(Dims(std::span<const int64_t>(shape.data() + depth, shape.size() - depth)));
    Nested::List l;
    for (int64_t i = 0; i < shape[depth]; ++i) l.push_back(build(shape, depth + 1));
    return Nested(std::move(l));
  }
};

inline Dims gen_shape(int min_rank, int max_rank, int max_dim) {
  Dims shape(static_cast<std::size_t>(*rc::gen::inRange(min_rank, max_rank + 1)));
  for (auto& s : shape) s = *rc::gen::inRange(1, max_dim + 1);
  return shape;
}

}  // namespace astensor::conformance
