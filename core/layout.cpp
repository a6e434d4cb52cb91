#include <algorithm>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace astensor {

int64_t checked_numel(std::span<const int64_t> shape) {
  int64_t n = 1;
  bool zero = false;
  for (int64_t s : shape) {
    ASTENSOR_CHECK_VALUE(s >= 0, "[as_tensor] negative dimension ", s, " in shape ",
                         Dims(shape).str());
    if (s == 0) zero = true;
  }
  if (zero) return 0;
  for (int64_t s : shape) {
    ASTENSOR_CHECK_VALUE(!__builtin_mul_overflow(n, s, &n), "[as_tensor] shape ", Dims(shape).str(),
                         " has more elements than an int64 can count");
  }
  return n;
}

Dims contiguous_strides(std::span<const int64_t> shape) {
  Dims st(shape.size());
  int64_t acc = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    // Wrapping: only a shape with a zero dimension (numel 0, whose strides address nothing)
    // can overflow, e.g. (2^40, 2^40, 0); signed overflow would be UB (issue 7, fuzz_array_view).
    acc = static_cast<int64_t>(static_cast<uint64_t>(acc) *
                               static_cast<uint64_t>(std::max<int64_t>(shape[i], 1)));
  }
  return st;
}

bool is_non_overlapping_and_dense(std::span<const int64_t> shape, std::span<const int64_t> strides) {
  const std::size_t n = shape.size();
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  for (std::size_t d = 0; d < n; ++d)
    if (shape[d] > 1 && strides[d] < 0) return false;
  // Sort dims by stride, smallest first; size-1 dims do not matter.
  std::stable_sort(perm.begin(), perm.end(),
                   [&](std::size_t a, std::size_t b) { return strides[a] < strides[b]; });
  int64_t require = 1;
  for (std::size_t d : perm) {
    if (shape[d] == 1) continue;
    if (strides[d] != require) return false;
    require *= shape[d];
  }
  return true;
}

Dims copy_strides(std::span<const int64_t> shape, std::span<const int64_t> strides) {
  bool empty = std::any_of(shape.begin(), shape.end(), [](int64_t s) { return s == 0; });
  if (!empty && is_non_overlapping_and_dense(shape, strides)) return Dims(strides);
  return contiguous_strides(shape);
}

void element_extent(std::span<const int64_t> shape, std::span<const int64_t> strides, int64_t* lo,
                    int64_t* hi) {
  int64_t l = 0, h = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    int64_t span = strides[d] * (shape[d] - 1);
    if (span < 0) l += span;
    else h += span;
  }
  *lo = l;
  *hi = h;
}

}  // namespace astensor
