#include "core/array_view.h"

#include <cstdint>

#include "core/error.h"
#include "core/tensor.h"

namespace astensor {

ArrayView ArrayView::contiguous(const void* data, DType dtype, Dims shape,
                                std::shared_ptr<void> owner, bool read_only, Device device) {
  ArrayView v;
  v.data = data;
  v.dtype = dtype;
  v.byte_strides = contiguous_strides(shape.span());
  for (auto& s : v.byte_strides) s *= static_cast<int64_t>(itemsize(dtype));
  v.shape = std::move(shape);
  v.owner = std::move(owner);
  v.read_only = read_only;
  v.device = device;
  return v;
}

int64_t validate(const ArrayView& v) {
  ASTENSOR_CHECK_VALUE(v.shape.size() == v.byte_strides.size(), "[as_tensor] array has ",
                       v.shape.size(), " dimensions but ", v.byte_strides.size(), " strides");
  ASTENSOR_CHECK_VALUE(v.shape.size() <= 64, "[as_tensor] array has ", v.shape.size(),
                       " dimensions; at most 64 are supported");
  const int64_t numel = checked_numel(v.shape.span());
  const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
  int64_t nbytes;
  ASTENSOR_CHECK_VALUE(!__builtin_mul_overflow(numel, isz, &nbytes), "[as_tensor] array of shape ",
                       v.shape.str(), " and dtype ", name(v.dtype), " has more bytes than fit in int64");
  if (numel == 0) return 0;
  ASTENSOR_CHECK_VALUE(v.data != nullptr, "[as_tensor] array of shape ", v.shape.str(),
                       " has a null data pointer");
  // The touched byte range [data + lo, data + hi + itemsize) must not overflow or wrap.
  int64_t lo = 0, hi = 0;
  for (std::size_t d = 0; d < v.shape.size(); ++d) {
    int64_t span;
    ASTENSOR_CHECK_VALUE(!__builtin_mul_overflow(v.byte_strides[d], v.shape[d] - 1, &span),
                         "[as_tensor] stride ", v.byte_strides[d], " of dimension ", d,
                         " times its size ", v.shape[d], " overflows");
    int64_t& side = span < 0 ? lo : hi;
    ASTENSOR_CHECK_VALUE(!__builtin_add_overflow(side, span, &side), "[as_tensor] strides ",
                         v.byte_strides.str(), " with shape ", v.shape.str(), " overflow");
  }
  const auto addr = reinterpret_cast<uintptr_t>(v.data);
  uintptr_t first, last;
  // lo may be INT64_MIN: negate it as unsigned (0 - lo wraps to |lo|), never as int64.
  bool wraps = __builtin_sub_overflow(addr, uintptr_t(0) - static_cast<uintptr_t>(lo), &first) ||
               __builtin_add_overflow(addr, static_cast<uintptr_t>(hi), &last) ||
               __builtin_add_overflow(last, static_cast<uintptr_t>(isz - 1), &last) ||
               // No user-space address (x86-64 with 5-level paging, AArch64) reaches 2^57.
               last >= (uintptr_t(1) << 57);
  ASTENSOR_CHECK_VALUE(!wraps, "[as_tensor] array at address ", v.data, " with strides ",
                       v.byte_strides.str(), " and shape ", v.shape.str(),
                       " reaches outside the address space");
  return numel;
}

bool has_element_strides(const ArrayView& v) {
  const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
  if (checked_numel(v.shape.span()) == 0) return true;
  for (std::size_t d = 0; d < v.shape.size(); ++d)
    if (v.shape[d] > 1 && v.byte_strides[d] % isz != 0) return false;
  return true;
}

Dims element_strides(const ArrayView& v) {
  const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
  Dims cs = contiguous_strides(v.shape.span());
  Dims out(v.shape.size());
  for (std::size_t d = 0; d < v.shape.size(); ++d)
    out[d] = v.byte_strides[d] % isz == 0 ? v.byte_strides[d] / isz : cs[d];
  return out;
}

}  // namespace astensor
