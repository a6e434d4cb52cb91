#include "core/sequence.h"

#include <cstring>

#include "core/cast.h"

namespace astensor {

ScalarLeaf ScalarLeaf::of_uint(uint64_t v) {
  if (v <= static_cast<uint64_t>(INT64_MAX)) return of_int(static_cast<int64_t>(v));
  ScalarLeaf s;
  s.kind = Kind::UInt;
  s.u = v;
  return s;
}

ScalarLeaf ScalarLeaf::from_element(const void* p, DType dtype) {
  ScalarLeaf s;
  dispatch_dtype(dtype, [&]<DType D>() {
    const storage_t<D> v = load_element<storage_t<D>>(p);
    using T = storage_t<D>;
    if constexpr (std::is_same_v<T, bool>) s = of_bool(v);
    else if constexpr (detail::is_complex_v<T>)
      s = of_complex(static_cast<double>(v.re), static_cast<double>(v.im));
    else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) s = of_int(v);
    else if constexpr (std::is_integral_v<T>) s = of_uint(v);
    else s = of_float(detail::to_double(v));
  });
  s.dtype = dtype;
  return s;
}

std::string index_path_str(std::span<const int64_t> path) {
  if (path.empty()) return "the top level";
  std::string s = "index ";
  for (int64_t i : path) s += "[" + std::to_string(i) + "]";
  return s;
}

}  // namespace astensor
