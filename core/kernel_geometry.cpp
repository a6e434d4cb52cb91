#include "core/kernel_geometry.h"

namespace astensor {

CastKernel merge_dims(const CastKernel& k) {
  CastKernel out = k;
  const bool dst_strided = !k.dst_strides.empty();
  out.shape = Dims();
  out.src_strides = Dims();
  out.dst_strides = Dims();
  for (std::size_t d = 0; d < k.shape.size(); ++d) {
    if (k.shape[d] == 1) continue;
    const int64_t n = k.shape[d], ss = k.src_strides[d];
    const int64_t ds = dst_strided ? k.dst_strides[d] : 0;
    const std::size_t m = out.shape.size();
    // Outer dim m-1 followed by this one form one dim when outer stride == n * inner stride.
    if (m > 0 && out.src_strides[m - 1] == ss * n &&
        (!dst_strided || out.dst_strides[m - 1] == ds * n)) {
      out.shape[m - 1] *= n;
      out.src_strides[m - 1] = ss;
      if (dst_strided) out.dst_strides[m - 1] = ds;
      continue;
    }
    out.shape.push_back(n);
    out.src_strides.push_back(ss);
    if (dst_strided) out.dst_strides.push_back(ds);
  }
  if (out.shape.empty()) {
    out.shape.push_back(1);
    out.src_strides.push_back(0);
    if (dst_strided) out.dst_strides.push_back(0);
  }
  return out;
}

std::pair<int64_t, int64_t> byte_extent(std::span<const int64_t> shape,
                                        std::span<const int64_t> byte_strides,
                                        std::size_t itemsize) {
  int64_t lo = 0, hi = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return {0, 0};
    const int64_t span = (shape[d] - 1) * byte_strides[d];
    if (span < 0) lo += span;
    else hi += span;
  }
  return {lo, hi + static_cast<int64_t>(itemsize)};
}

}  // namespace astensor
