#pragma once
/// Shared helpers of the conformance suites: host buffers and views, raw element access,
/// guards that restore process-wide defaults, error-message matchers, and the DT-3 cast
/// oracle. The oracle is written here on purpose, independently of core/cast.h and
/// core/half.h: it works on exact values (long double holds every int64/uint64/double value
/// exactly on the platforms we build for) and rounds to float16/bfloat16 by searching a table
/// of every finite value, so it shares no code with what it checks.

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/array_view.h"
#include "core/defaults.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/storage.h"
#include "core/tensor.h"

namespace astensor::conformance {

static_assert(std::numeric_limits<long double>::digits >= 64,
              "the cast oracle needs a long double that holds every 64-bit integer exactly");

inline const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> v = [] {
    std::vector<DType> r;
    for (int i = 0; i < kNumDTypes; ++i) r.push_back(static_cast<DType>(i));
    return r;
  }();
  return v;
}

// --- guards ------------------------------------------------------------------------------

/// DT-4 / DEV-1 tests change process-wide defaults; this puts them back whatever happens.
class DefaultsGuard {
 public:
  DefaultsGuard() : dtype_(default_dtype()), device_(default_device()) {}
  ~DefaultsGuard() {
    set_default_dtype(dtype_);
    set_default_device(device_);
  }
  DefaultsGuard(const DefaultsGuard&) = delete;
  DefaultsGuard& operator=(const DefaultsGuard&) = delete;

 private:
  DType dtype_;
  std::optional<Device> device_;
};

/// Counts how often an owner handle is released (ARR-2: exactly once).
inline std::shared_ptr<void> counting_owner(int* released) {
  return std::shared_ptr<void>(static_cast<void*>(released),
                               [](void* p) { ++*static_cast<int*>(p); });
}

// --- buffers and views -------------------------------------------------------------------

/// Raw host memory, 64-byte aligned, zero-filled.
class Buffer {
 public:
  explicit Buffer(std::size_t nbytes) : bytes_(nbytes + 64, 0) {
    auto addr = reinterpret_cast<uintptr_t>(bytes_.data());
    off_ = static_cast<std::size_t>((64 - addr % 64) % 64);
  }
  unsigned char* data() { return bytes_.data() + off_; }
  std::size_t size() const { return bytes_.size() - 64; }

 private:
  std::vector<unsigned char> bytes_;
  std::size_t off_ = 0;
};

/// A view of `shape` with byte strides `byte_strides` whose element [0,...,0] is at `data`.
inline ArrayView make_view(const void* data, DType dtype, Dims shape, Dims byte_strides,
                           std::shared_ptr<void> owner = nullptr) {
  ArrayView v;
  v.data = data;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.byte_strides = std::move(byte_strides);
  v.owner = std::move(owner);
  return v;
}

/// C-contiguous byte strides.
inline Dims c_byte_strides(const Dims& shape, std::size_t isz) {
  Dims s = contiguous_strides(shape.span());
  for (auto& x : s) x *= static_cast<int64_t>(isz);
  return s;
}

/// Multi-index of the row-major position i.
inline std::vector<int64_t> unravel(const Dims& shape, int64_t i) {
  std::vector<int64_t> idx(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) return idx;
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

/// Address of row-major element i of a strided view (byte strides).
inline const unsigned char* element_addr(const ArrayView& v, int64_t i) {
  auto idx = unravel(v.shape, i);
  auto* p = static_cast<const unsigned char*>(v.data);
  for (std::size_t d = 0; d < idx.size(); ++d) p += idx[d] * v.byte_strides[d];
  return p;
}

/// Address of row-major element i of a CPU tensor (element strides).
inline const unsigned char* element_addr(const Tensor& t, int64_t i) {
  auto idx = unravel(t.shape(), i);
  auto* p = static_cast<const unsigned char*>(t.data_ptr());
  for (std::size_t d = 0; d < idx.size(); ++d)
    p += idx[d] * t.strides()[d] * static_cast<int64_t>(t.itemsize());
  return p;
}

/// The bytes of element i (native order), for bit-exact comparisons.
inline std::vector<unsigned char> element_bytes(const Tensor& t, int64_t i) {
  const unsigned char* p = element_addr(t, i);
  return {p, p + t.itemsize()};
}

/// The byte range [lo, hi) a CPU tensor's elements occupy (empty when numel == 0).
inline std::pair<uintptr_t, uintptr_t> byte_range(const Tensor& t) {
  if (t.numel() == 0) return {0, 0};
  int64_t lo = 0, hi = 0;
  element_extent(t.shape().span(), t.strides().span(), &lo, &hi);
  auto base = reinterpret_cast<uintptr_t>(t.data_ptr());
  const auto isz = static_cast<int64_t>(t.itemsize());
  return {base + lo * isz, base + hi * isz + isz};
}
inline bool ranges_overlap(std::pair<uintptr_t, uintptr_t> a, std::pair<uintptr_t, uintptr_t> b) {
  return a.first < a.second && b.first < b.second && a.first < b.second && b.first < a.second;
}

/// Storage::allocate'd bytes still alive (SEQ-6, DEV-3: nothing left allocated).
inline long long live_allocations() { return storage_stats().live_allocations; }

// --- errors ------------------------------------------------------------------------------

/// Runs f, expects the typed error E, and returns its message ("" with a failure otherwise).
template <class E, class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << ", nothing was thrown";
  return "";
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// --- DT-3 oracle ---------------------------------------------------------------------------

/// An exact value: an integer (bool, integer dtypes), a real or a complex number.
struct OValue {
  enum class Kind { Int, Real, Complex } kind = Kind::Int;
  __int128 i = 0;
  long double re = 0, im = 0;
};

namespace oracle_detail {

inline long double decode_half(uint16_t b) {
  const int sign = b >> 15, e = (b >> 10) & 0x1f, f = b & 0x3ff;
  long double m;
  if (e == 0x1f) m = f ? std::numeric_limits<long double>::quiet_NaN() : INFINITY;
  else if (e == 0) m = std::ldexp(static_cast<long double>(f), -24);
  else m = std::ldexp(static_cast<long double>(1024 + f), e - 25);
  return sign ? -m : m;
}
inline long double decode_bf16(uint16_t b) {
  const int sign = b >> 15, e = (b >> 7) & 0xff, f = b & 0x7f;
  long double m;
  if (e == 0xff) m = f ? std::numeric_limits<long double>::quiet_NaN() : INFINITY;
  else if (e == 0) m = std::ldexp(static_cast<long double>(f), -133);
  else m = std::ldexp(static_cast<long double>(128 + f), e - 134);
  return sign ? -m : m;
}

/// Every finite non-negative value of a 16-bit float format, ascending, plus one sentinel: the
/// value one ulp above the largest finite number, encoded as +inf (its bits are even, so a tie
/// there rounds to infinity, as IEEE round-to-nearest-even does).
struct SmallFloatTable {
  std::vector<long double> values;
  std::vector<uint16_t> bits;
  uint16_t inf_bits, nan_bits;
};
inline SmallFloatTable make_table(bool half) {
  SmallFloatTable t;
  const uint16_t max_finite = half ? 0x7bff : 0x7f7f;
  t.inf_bits = half ? 0x7c00 : 0x7f80;
  t.nan_bits = half ? 0x7e00 : 0x7fc0;
  for (uint32_t b = 0; b <= max_finite; ++b) {
    t.bits.push_back(static_cast<uint16_t>(b));
    t.values.push_back(half ? decode_half(static_cast<uint16_t>(b)) : decode_bf16(static_cast<uint16_t>(b)));
  }
  t.values.push_back(half ? 65536.0L : std::ldexp(1.0L, 128));
  t.bits.push_back(t.inf_bits);
  return t;
}
inline const SmallFloatTable& table(bool half) {
  static const SmallFloatTable h = make_table(true), b = make_table(false);
  return half ? h : b;
}

/// Round-to-nearest-even of an exact value into a 16-bit float format, by table search.
inline uint16_t round_small(long double x, bool half) {
  const auto& t = table(half);
  if (std::isnan(x)) return t.nan_bits;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const long double a = std::fabs(x);
  if (a >= t.values.back()) return sign | t.inf_bits;
  auto it = std::lower_bound(t.values.begin(), t.values.end(), a);
  std::size_t hi = static_cast<std::size_t>(it - t.values.begin());
  if (t.values[hi] == a) return sign | t.bits[hi];
  std::size_t lo = hi - 1;  // hi > 0 because values[0] == 0 <= a
  const long double dlo = a - t.values[lo], dhi = t.values[hi] - a;
  std::size_t pick = dlo < dhi ? lo : dhi < dlo ? hi : ((t.bits[lo] & 1) ? hi : lo);
  return sign | t.bits[pick];
}

/// Round-to-nearest-even into float/double, with overflow to infinity made explicit (a
/// long double beyond the target's range would be undefined behaviour in a plain cast).
template <class F>
F round_ieee(long double x) {
  if (std::isnan(x)) return std::numeric_limits<F>::quiet_NaN();
  const long double maxv = std::numeric_limits<F>::max();
  // Halfway between max and the next power of two: ties go to the even neighbour, infinity.
  const long double limit =
      maxv + (std::ldexp(1.0L, std::numeric_limits<F>::max_exponent) - maxv) / 2;
  if (std::fabs(x) >= limit) return std::signbit(x) ? -std::numeric_limits<F>::infinity()
                                                    : std::numeric_limits<F>::infinity();
  if (std::fabs(x) > maxv) return std::signbit(x) ? -std::numeric_limits<F>::max()
                                                  : std::numeric_limits<F>::max();
  return static_cast<F>(x);  // in range: the hardware rounds to nearest even
}

inline bool is_signed_int(DType d) { return kind(d) == DTypeKind::Signed; }

/// Floating -> integer: truncate, saturate, NaN -> 0.
inline __int128 saturate(long double x, DType to) {
  if (std::isnan(x)) return 0;
  const int bits = static_cast<int>(itemsize(to)) * 8;
  const __int128 lo = is_signed_int(to) ? -(__int128(1) << (bits - 1)) : 0;
  const __int128 hi = is_signed_int(to) ? (__int128(1) << (bits - 1)) - 1 : (__int128(1) << bits) - 1;
  const long double t = std::trunc(x);
  if (t <= static_cast<long double>(lo)) return lo;
  if (t >= static_cast<long double>(hi)) return hi;
  return static_cast<__int128>(t);
}

inline void put_real(long double x, DType to, unsigned char* out) {
  switch (to) {
    case DType::float16: { uint16_t b = round_small(x, true); std::memcpy(out, &b, 2); return; }
    case DType::bfloat16: { uint16_t b = round_small(x, false); std::memcpy(out, &b, 2); return; }
    case DType::float32: { float f = round_ieee<float>(x); std::memcpy(out, &f, 4); return; }
    case DType::float64: { double f = round_ieee<double>(x); std::memcpy(out, &f, 8); return; }
    default: break;
  }
  ADD_FAILURE() << "put_real: not a floating dtype";
}

inline void put_int(__int128 v, DType to, unsigned char* out) {
  // Little-endian host: the low itemsize bytes of the two's complement value are the value
  // modulo 2^N, which is exactly the wrapping rule.
  auto u = static_cast<unsigned __int128>(v);
  for (std::size_t k = 0; k < itemsize(to); ++k) out[k] = static_cast<unsigned char>(u >> (8 * k));
}

}  // namespace oracle_detail

/// Reads one element (native byte order) as its exact value.
inline OValue read_value(const void* p, DType d) {
  using namespace oracle_detail;
  OValue v;
  auto load = [&](auto tag) {
    decltype(tag) x;
    std::memcpy(&x, p, sizeof x);
    return x;
  };
  switch (d) {
    case DType::bool_: v.i = load(uint8_t{}) != 0; break;
    case DType::uint8: v.i = load(uint8_t{}); break;
    case DType::int8: v.i = load(int8_t{}); break;
    case DType::int16: v.i = load(int16_t{}); break;
    case DType::int32: v.i = load(int32_t{}); break;
    case DType::int64: v.i = load(int64_t{}); break;
    case DType::uint16: v.i = load(uint16_t{}); break;
    case DType::uint32: v.i = load(uint32_t{}); break;
    case DType::uint64: v.i = load(uint64_t{}); break;
    case DType::float16: v.kind = OValue::Kind::Real; v.re = decode_half(load(uint16_t{})); break;
    case DType::bfloat16: v.kind = OValue::Kind::Real; v.re = decode_bf16(load(uint16_t{})); break;
    case DType::float32: v.kind = OValue::Kind::Real; v.re = load(float{}); break;
    case DType::float64: v.kind = OValue::Kind::Real; v.re = load(double{}); break;
    case DType::complex64: {
      float c[2];
      std::memcpy(c, p, 8);
      v.kind = OValue::Kind::Complex; v.re = c[0]; v.im = c[1];
      break;
    }
    case DType::complex128: {
      double c[2];
      std::memcpy(c, p, 16);
      v.kind = OValue::Kind::Complex; v.re = c[0]; v.im = c[1];
      break;
    }
  }
  return v;
}

/// DT-3, independently: the bytes `v` must become in dtype `to`.
inline std::vector<unsigned char> oracle_cast(const OValue& v, DType to) {
  using namespace oracle_detail;
  std::vector<unsigned char> out(itemsize(to), 0);
  const bool is_int = v.kind == OValue::Kind::Int;
  const long double re = is_int ? static_cast<long double>(v.i) : v.re;  // exact for 64-bit ints
  const long double im = v.kind == OValue::Kind::Complex ? v.im : 0.0L;
  switch (kind(to)) {
    case DTypeKind::Bool:
      out[0] = is_int ? (v.i != 0) : (re != 0 || im != 0);  // NaN != 0: true
      break;
    case DTypeKind::Signed:
    case DTypeKind::Unsigned:
      put_int(is_int ? v.i : saturate(re, to), to, out.data());
      break;
    case DTypeKind::Float:
      put_real(re, to, out.data());
      break;
    case DTypeKind::Complex: {
      const DType part = to == DType::complex64 ? DType::float32 : DType::float64;
      const std::size_t half = itemsize(to) / 2;
      put_real(re, part, out.data());
      put_real(im, part, out.data() + half);
      break;
    }
  }
  return out;
}

/// Bit-exact comparison, except that any NaN equals any NaN (payloads are not specified).
inline bool same_element(const unsigned char* got, const std::vector<unsigned char>& want, DType d) {
  if (std::memcmp(got, want.data(), want.size()) == 0) return true;
  if (!(is_floating(d) || is_complex(d))) return false;
  OValue a = read_value(got, d), b = read_value(want.data(), d);
  auto eq = [](long double x, long double y) {
    return (std::isnan(x) && std::isnan(y)) ||
           (x == y && std::signbit(x) == std::signbit(y));
  };
  return eq(a.re, b.re) && eq(a.im, b.im);
}

inline std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (std::size_t k = n; k-- > 0;) {  // little-endian: print most significant first
    s += digits[p[k] >> 4];
    s += digits[p[k] & 15];
  }
  return s;
}

}  // namespace astensor::conformance
