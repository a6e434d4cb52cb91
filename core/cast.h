#pragma once
/// The cast of DT-3, defined once for every dtype pair and usable in CUDA kernels:
///   - in-range values convert as static_cast would; integer -> narrower integer wraps;
///   - floating -> floating rounds to nearest even (float16/bfloat16 directly, see
///     Note [Direct rounding] in half.h);
///   - -> bool is `!= 0` (NaN is true; a complex is true when either part is nonzero);
///   - complex -> real keeps the real part; real -> complex has a zero imaginary part;
///   - floating -> integer truncates toward zero and SATURATES when out of range, NaN -> 0,
///     with no undefined behaviour (C++ leaves the out-of-range case undefined).
/// The reference runs it one element at a time; the optimized CPU loops and the CUDA
/// kernels instantiate the same functions.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/dtype.h"
#include "core/half.h"

namespace astensor {

/// Complex storage types, layout-compatible with std::complex / NumPy / C99 _Complex.
template <class T>
struct Complex {
  T re, im;
};
using complex64_t = Complex<float>;
using complex128_t = Complex<double>;

/// The C++ storage type of each dtype.
template <DType D> struct StorageOf;
template <> struct StorageOf<DType::bool_> { using type = bool; };
template <> struct StorageOf<DType::uint8> { using type = uint8_t; };
template <> struct StorageOf<DType::int8> { using type = int8_t; };
template <> struct StorageOf<DType::int16> { using type = int16_t; };
template <> struct StorageOf<DType::int32> { using type = int32_t; };
template <> struct StorageOf<DType::int64> { using type = int64_t; };
template <> struct StorageOf<DType::uint16> { using type = uint16_t; };
template <> struct StorageOf<DType::uint32> { using type = uint32_t; };
template <> struct StorageOf<DType::uint64> { using type = uint64_t; };
template <> struct StorageOf<DType::float16> { using type = Half; };
template <> struct StorageOf<DType::bfloat16> { using type = BFloat16; };
template <> struct StorageOf<DType::float32> { using type = float; };
template <> struct StorageOf<DType::float64> { using type = double; };
template <> struct StorageOf<DType::complex64> { using type = complex64_t; };
template <> struct StorageOf<DType::complex128> { using type = complex128_t; };
template <DType D>
using storage_t = typename StorageOf<D>::type;

/// Loads one element of storage type T from possibly misaligned memory (ARR-6). bool reads
/// its byte and tests != 0: producers (NumPy views of raw bytes, buffers, DLPack) can hand us
/// bool bytes other than 0 and 1, and loading such a byte as a C++ bool is undefined
/// behaviour (issue 7, found by fuzz_array_view and fuzz_nested).
template <class T>
ASTENSOR_HD inline T load_element(const void* p) {
  if constexpr (std::is_same_v<T, bool>) {
    unsigned char b;
    std::memcpy(&b, p, 1);
    return b != 0;
  } else {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
}

namespace detail {

template <class T> inline constexpr bool is_complex_v = false;
template <class T> inline constexpr bool is_complex_v<Complex<T>> = true;
template <class T>
inline constexpr bool is_small_float_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <class T>
inline constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

/// Exact widening of a real floating storage value to double.
template <class T>
ASTENSOR_HD inline double to_double(T v) {
  if constexpr (std::is_same_v<T, Half>) return static_cast<double>(half_to_float(v));
  else if constexpr (std::is_same_v<T, BFloat16>) return static_cast<double>(bfloat16_to_float(v));
  else return static_cast<double>(v);
}

/// Floating -> integer: truncate toward zero; saturate out of range; NaN -> 0 (DT-3).
template <class I>
ASTENSOR_HD inline I saturate_to_int(double x) {
  if (x != x) return I(0);
  constexpr int digits = std::is_signed_v<I> ? int(sizeof(I) * 8 - 1) : int(sizeof(I) * 8);
  // lo and hi are powers of two (or zero), exact in double.
  constexpr double hi = static_cast<double>(uint64_t(1) << (digits - 1)) * 2.0;  // 2^digits
  constexpr double lo = std::is_signed_v<I> ? -hi : 0.0;
  const double t = trunc(x);
  if (t < lo) return std::is_signed_v<I> ? I(I(1) << digits) : I(0);  // the minimum
  if (t >= hi) return static_cast<I>(~(std::is_signed_v<I> ? I(I(1) << digits) : I(0)));
  return static_cast<I>(t);
}

/// Double -> a real floating storage type, rounding to nearest even.
template <class To>
ASTENSOR_HD inline To from_double(double x) {
  if constexpr (std::is_same_v<To, Half>) return half_from_double(x);
  else if constexpr (std::is_same_v<To, BFloat16>) return bfloat16_from_double(x);
  else return static_cast<To>(x);
}

/// Integer -> a real floating storage type, rounding once (hardware for float/double).
template <class To, class I>
ASTENSOR_HD inline To from_integer(I v) {
  if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    bool neg = false;
    uint64_t mag;
    if constexpr (std::is_signed_v<I>) {
      neg = v < 0;
      mag = neg ? uint64_t(0) - static_cast<uint64_t>(static_cast<int64_t>(v))
                : static_cast<uint64_t>(v);
    } else {
      mag = static_cast<uint64_t>(v);
    }
    if constexpr (std::is_same_v<To, Half>) return half_from_int(neg, mag);
    else return bfloat16_from_int(neg, mag);
  } else {
    return static_cast<To>(v);
  }
}

/// Any real value -> a real storage type.
template <class To, class From>
ASTENSOR_HD inline To cast_real(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_same_v<From, bool> || is_int_v<From>) return v != 0;
    else return to_double(v) != 0.0;  // NaN != 0 is true
  } else if constexpr (std::is_same_v<From, bool>) {
    if constexpr (is_small_float_v<To>) return from_double<To>(v ? 1.0 : 0.0);
    else return static_cast<To>(v ? 1 : 0);
  } else if constexpr (is_int_v<To>) {
    if constexpr (is_int_v<From>) return static_cast<To>(v);  // modulo 2^N (C++20)
    else return saturate_to_int<To>(to_double(v));
  } else {  // To is floating
    if constexpr (is_int_v<From>) return from_integer<To>(v);
    else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, double>) return static_cast<float>(v);
    // float16/bfloat16 -> float32 directly: through double, a signalling NaN's bits would
    // depend on whether the compiler folds the float -> double -> float round trip (it does
    // at -O2, not at -O0), and the implementations must agree bit for bit (XFER-3).
    else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, Half>) return half_to_float(v);
    else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, BFloat16>) return bfloat16_to_float(v);
    else return from_double<To>(to_double(v));
  }
}

}  // namespace detail

/// DT-3: converts one value of storage type From to storage type To.
template <class To, class From>
ASTENSOR_HD inline To cast_value(From v) {
  using namespace detail;
  if constexpr (is_complex_v<To>) {
    using C = decltype(To{}.re);
    if constexpr (is_complex_v<From>) return To{cast_real<C>(v.re), cast_real<C>(v.im)};
    else return To{cast_real<C>(v), C(0)};
  } else if constexpr (is_complex_v<From>) {
    if constexpr (std::is_same_v<To, bool>) return v.re != 0 || v.im != 0;
    else return cast_real<To>(v.re);
  } else {
    return cast_real<To>(v);
  }
}

/// Calls f.template operator()<D>() with D the runtime dtype as a compile-time constant.
template <class F>
ASTENSOR_HD inline decltype(auto) dispatch_dtype(DType d, F&& f) {
  switch (d) {
    case DType::bool_: return f.template operator()<DType::bool_>();
    case DType::uint8: return f.template operator()<DType::uint8>();
    case DType::int8: return f.template operator()<DType::int8>();
    case DType::int16: return f.template operator()<DType::int16>();
    case DType::int32: return f.template operator()<DType::int32>();
    case DType::int64: return f.template operator()<DType::int64>();
    case DType::uint16: return f.template operator()<DType::uint16>();
    case DType::uint32: return f.template operator()<DType::uint32>();
    case DType::uint64: return f.template operator()<DType::uint64>();
    case DType::float16: return f.template operator()<DType::float16>();
    case DType::bfloat16: return f.template operator()<DType::bfloat16>();
    case DType::float32: return f.template operator()<DType::float32>();
    case DType::float64: return f.template operator()<DType::float64>();
    case DType::complex64: return f.template operator()<DType::complex64>();
    case DType::complex128: break;
  }
  return f.template operator()<DType::complex128>();
}

/// Converts one element at `src` (dtype `from`) into `dst` (dtype `to`), by memcpy so that
/// misaligned addresses are fine (ARR-6). The reference's inner loop.
void cast_one(const void* src, DType from, void* dst, DType to);

}  // namespace astensor
