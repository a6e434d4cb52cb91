#include "core/store_scalar.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/cast.h"
#include "core/error.h"

namespace astensor {

namespace {

template <class T>
void put(void* dst, T v) {
  std::memcpy(dst, &v, sizeof(T));
}

// Integer value (neg, magnitude) into an integer storage type, with a range check.
template <class I>
StoreStatus store_int(bool neg, uint64_t mag, void* dst) {
  if constexpr (std::is_signed_v<I>) {
    const uint64_t max = static_cast<uint64_t>(std::numeric_limits<I>::max());
    if (neg ? mag > max + 1 : mag > max) return StoreStatus::OutOfRange;
    put<I>(dst, neg ? static_cast<I>(uint64_t(0) - mag) : static_cast<I>(mag));
  } else {
    if (neg && mag != 0) return StoreStatus::OutOfRange;
    if (mag > static_cast<uint64_t>(std::numeric_limits<I>::max())) return StoreStatus::OutOfRange;
    put<I>(dst, static_cast<I>(mag));
  }
  return StoreStatus::Ok;
}

}  // namespace

StoreStatus store_scalar(const ScalarLeaf& s, DType dtype, void* dst) {
  using Kind = ScalarLeaf::Kind;
  StoreStatus st = StoreStatus::Ok;
  dispatch_dtype(dtype, [&]<DType D>() {
    using T = storage_t<D>;
    if constexpr (std::is_same_v<T, bool>) {
      bool v = false;
      switch (s.kind) {
        case Kind::Bool: v = s.b; break;
        case Kind::Int: v = s.i != 0; break;
        case Kind::UInt: case Kind::BigInt: v = true; break;  // nonzero by construction
        case Kind::Float: v = s.re != 0.0; break;             // NaN is true
        case Kind::Complex: v = s.re != 0.0 || s.im != 0.0; break;
      }
      put<bool>(dst, v);
    } else if constexpr (detail::is_int_v<T>) {
      switch (s.kind) {
        case Kind::Bool: st = store_int<T>(false, s.b ? 1 : 0, dst); break;
        case Kind::Int:
          st = store_int<T>(s.i < 0, s.i < 0 ? uint64_t(0) - static_cast<uint64_t>(s.i)
                                             : static_cast<uint64_t>(s.i), dst);
          break;
        case Kind::UInt: st = store_int<T>(false, s.u, dst); break;
        case Kind::BigInt: st = StoreStatus::OutOfRange; break;
        case Kind::Float: {
          if (!std::isfinite(s.re)) { st = StoreStatus::NotFinite; break; }
          const double t = std::trunc(s.re);  // toward zero
          // 2^64 bounds every integer dtype; beyond it the magnitude cannot fit.
          if (std::fabs(t) >= 18446744073709551616.0) { st = StoreStatus::OutOfRange; break; }
          st = store_int<T>(t < 0, static_cast<uint64_t>(std::fabs(t)), dst);
          break;
        }
        case Kind::Complex: st = StoreStatus::ComplexToReal; break;
      }
    } else {
      // Floating and complex targets: round to nearest, overflow to inf (DT-3's cast).
      auto store_real = [&](auto v) { put<T>(dst, cast_value<T>(v)); };
      switch (s.kind) {
        case Kind::Bool: store_real(s.b); break;
        case Kind::Int: store_real(s.i); break;
        case Kind::UInt: store_real(s.u); break;
        case Kind::BigInt:
          if (std::isinf(s.re)) st = StoreStatus::TooLargeForFloat;
          else store_real(s.re);
          break;
        case Kind::Float: store_real(s.re); break;
        case Kind::Complex:
          if constexpr (detail::is_complex_v<T>) put<T>(dst, cast_value<T>(complex128_t{s.re, s.im}));
          else st = StoreStatus::ComplexToReal;
          break;
      }
    }
  });
  return st;
}

void throw_store_error(StoreStatus st, const std::string& value_text, DType dtype,
                       std::span<const int64_t> path) {
  const std::string where = index_path_str(path);
  switch (st) {
    case StoreStatus::OutOfRange:
      throw OverflowError(detail::str_cat("[as_tensor] value ", value_text, " at ", where,
                                          " is out of range for ", name(dtype)));
    case StoreStatus::NotFinite:
      throw OverflowError(detail::str_cat("[as_tensor] cannot convert ", value_text, " at ", where,
                                          " to ", name(dtype), " (not a finite number)"));
    case StoreStatus::ComplexToReal:
      throw TypeError(detail::str_cat("[as_tensor] cannot store complex value ", value_text,
                                      " at ", where, " into ", name(dtype),
                                      " (a real dtype); pass a complex dtype"));
    case StoreStatus::TooLargeForFloat:
      throw OverflowError(detail::str_cat("[as_tensor] int ", value_text, " at ", where,
                                          " is too large to convert to ", name(dtype)));
    case StoreStatus::Ok: break;
  }
  throw RuntimeError("[as_tensor] internal error: throw_store_error(Ok)");
}

}  // namespace astensor
