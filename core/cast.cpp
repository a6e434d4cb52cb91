#include "core/cast.h"

#include <cstring>

namespace astensor {

void cast_one(const void* src, DType from, void* dst, DType to) {
  dispatch_dtype(from, [&]<DType F>() {
    dispatch_dtype(to, [&]<DType T>() {
      const storage_t<F> in = load_element<storage_t<F>>(src);
      storage_t<T> out = cast_value<storage_t<T>>(in);
      std::memcpy(dst, &out, sizeof(out));
    });
  });
}

}  // namespace astensor
