// DT-3: the one cast definition. float16/bfloat16 rounding is checked exhaustively against an
// independent oracle (nearest representable value by exact midpoint comparison).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/cast.h"

using namespace astensor;

namespace {

template <class To, class From>
To cv(From v) { return cast_value<To>(v); }

/// Oracle for a binary format with E exponent and M fraction bits: the nearest value, ties to
/// the even bit pattern, overflow to inf. Works on long double, which holds every int64 and
/// every double exactly, and every midpoint between two small-float neighbours.
template <int E, int M>
uint16_t oracle(long double x) {
  const uint16_t sign = std::signbit(x) ? uint16_t(1u << (E + M)) : 0;
  const uint16_t inf = uint16_t(((1u << E) - 1) << M);
  if (std::isnan(x)) return sign | inf | (1u << (M - 1));
  long double a = std::fabs(x);
  auto value = [](uint32_t bits) -> long double {  // non-negative finite pattern
    const int bias = (1 << (E - 1)) - 1;
    uint32_t e = bits >> M, f = bits & ((1u << M) - 1);
    if (e == 0) return std::ldexp((long double)f, 1 - bias - M);
    return std::ldexp((long double)(f | (1u << M)), int(e) - bias - M);
  };
  uint32_t lo = 0, hi = inf;  // search the largest finite pattern <= a
  if (a >= value(inf - 1)) {
    long double next = std::ldexp(1.0L, (1 << (E - 1)));  // 2^(emax+1)
    long double mid = (value(inf - 1) + next) / 2;
    if (a >= mid) return sign | inf;  // ties at the top go to inf (even)
    return sign | uint16_t(inf - 1);
  }
  while (hi - lo > 1) {
    uint32_t m = (lo + hi) / 2;
    if (value(m) <= a) lo = m;
    else hi = m;
  }
  long double mid = (value(lo) + value(lo + 1)) / 2;
  uint32_t pick = a < mid ? lo : a > mid ? lo + 1 : ((lo & 1) ? lo + 1 : lo);
  return sign | uint16_t(pick);
}

uint16_t oracle_half(long double x) { return oracle<5, 10>(x); }
uint16_t oracle_bf16(long double x) { return oracle<8, 7>(x); }

}  // namespace

TEST(Half, EveryPatternRoundTripsThroughFloatAndDouble) {  // DT-3 exactness
  for (uint32_t b = 0; b < 65536; ++b) {
    Half h{uint16_t(b)};
    float f = half_to_float(h);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(half_from_double(f))));
      continue;
    }
    ASSERT_EQ(half_from_double(f).bits, b) << "pattern " << b;
    ASSERT_EQ(oracle_half(f), b) << "oracle disagrees on pattern " << b;
    BFloat16 bf{uint16_t(b)};
    float g = bfloat16_to_float(bf);
    if (!std::isnan(g)) ASSERT_EQ(bfloat16_from_double(g).bits, b);
  }
}

TEST(Half, HalfToFloatMatchesCompilerFloat16) {
  for (uint32_t b = 0; b < 65536; ++b) {
    _Float16 h;
    uint16_t bits = uint16_t(b);
    std::memcpy(&h, &bits, 2);
    float want = static_cast<float>(h);
    float got = half_to_float(Half{bits});
    if (std::isnan(want)) ASSERT_TRUE(std::isnan(got));
    else ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << b;
  }
}

TEST(Half, FromDoubleMatchesOracleNearMidpoints) {  // DT-3: round to nearest even, directly
  std::mt19937_64 rng(12345);
  for (uint32_t b = 0; b < 0x7c00; ++b) {  // every finite half and its upper midpoint
    double v = half_to_float(Half{uint16_t(b)});
    double next = half_to_float(Half{uint16_t(b + 1)});
    double mid = (v + next) / 2;
    for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, 1e300), -mid, v}) {
      ASSERT_EQ(half_from_double(x).bits, oracle_half(x)) << x;
    }
  }
  for (int i = 0; i < 200000; ++i) {
    uint64_t bits = rng();
    double x;
    std::memcpy(&x, &bits, 8);
    if (std::isnan(x)) continue;
    ASSERT_EQ(half_from_double(x).bits, oracle_half(x)) << x;
    ASSERT_EQ(bfloat16_from_double(x).bits, oracle_bf16(x)) << x;
    // float -> half agrees with the compiler's conversion (correctly rounded in libgcc)
    float f = static_cast<float>(x);
    _Float16 h = static_cast<_Float16>(f);
    uint16_t hb;
    std::memcpy(&hb, &h, 2);
    ASSERT_EQ(half_from_double(f).bits, hb) << f;
  }
}

TEST(Half, DoubleRoundingIsAvoided) {  // Note [Direct rounding]
  // 1 + 2^-11 + 2^-40: just above the half midpoint between 1 and 1+2^-10. Through float it
  // becomes exactly the midpoint (ties to even -> 1.0); rounded directly it must go up.
  double x = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(half_from_double(x).bits, 0x3c01);
  EXPECT_EQ(half_from_double(static_cast<float>(x)).bits, 0x3c00);
}

TEST(Half, FromIntegersMatchesOracle) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 200000; ++i) {
    int64_t v = static_cast<int64_t>(rng()) >> (rng() % 64);
    ASSERT_EQ(cv<Half>(v).bits, oracle_half((long double)v)) << v;
    ASSERT_EQ(cv<BFloat16>(v).bits, oracle_bf16((long double)v)) << v;
    uint64_t u = rng() >> (rng() % 64);
    ASSERT_EQ(cv<BFloat16>(u).bits, oracle_bf16((long double)u)) << u;
  }
  // The double-rounding trap for int64 -> bfloat16 (see Note [Direct rounding]).
  int64_t trap = (int64_t(1) << 60) + (int64_t(1) << 52) + 1;
  EXPECT_EQ(cv<BFloat16>(trap).bits, oracle_bf16((long double)trap));
  EXPECT_NE(cv<BFloat16>(trap).bits, bfloat16_from_double(static_cast<double>(trap)).bits);
}

TEST(Cast, FloatToIntSaturatesAndNanIsZero) {  // DT-3
  EXPECT_EQ(cv<int8_t>(300.0), 127);
  EXPECT_EQ(cv<int8_t>(-300.0f), -128);
  EXPECT_EQ(cv<int8_t>(127.9), 127);
  EXPECT_EQ(cv<int8_t>(-128.9), -128);
  EXPECT_EQ(cv<int8_t>(std::nan("")), 0);
  EXPECT_EQ(cv<int32_t>(std::numeric_limits<double>::infinity()), INT32_MAX);
  EXPECT_EQ(cv<int32_t>(-std::numeric_limits<float>::infinity()), INT32_MIN);
  EXPECT_EQ(cv<uint8_t>(-0.9), 0);
  EXPECT_EQ(cv<uint8_t>(-1.5), 0);
  EXPECT_EQ(cv<uint8_t>(255.9), 255);
  EXPECT_EQ(cv<uint8_t>(256.0), 255);
  EXPECT_EQ(cv<int64_t>(9.3e18), INT64_MAX);
  EXPECT_EQ(cv<int64_t>(-9.3e18), INT64_MIN);
  EXPECT_EQ(cv<int64_t>(-9223372036854775808.0), INT64_MIN);
  EXPECT_EQ(cv<uint64_t>(1.9e19), UINT64_MAX);
  EXPECT_EQ(cv<uint64_t>(1.8e19), uint64_t(1.8e19));
  EXPECT_EQ(cv<int32_t>(-1.7), -1) << "truncates toward zero";
  EXPECT_EQ(cv<int16_t>(half_from_double(65504.0)), INT16_MAX);
  EXPECT_EQ(cv<uint16_t>(half_from_double(65504.0)), 65504);
  EXPECT_EQ(cv<int32_t>(complex128_t{3e10, 1}), INT32_MAX) << "complex: real part, saturated";
}

TEST(Cast, IntegerNarrowingWraps) {  // DT-3
  EXPECT_EQ(cv<int8_t>(int32_t(300)), 44);
  EXPECT_EQ(cv<uint8_t>(int64_t(-1)), 255);
  EXPECT_EQ(cv<uint16_t>(int64_t(70000)), 70000 - 65536);
  EXPECT_EQ(cv<int64_t>(UINT64_MAX), -1);
  EXPECT_EQ(cv<int32_t>(true), 1);
}

TEST(Cast, BoolComplexAndFloat) {  // DT-3
  EXPECT_TRUE(cv<bool>(std::nan("")));
  EXPECT_TRUE(cv<bool>(1e-323));
  EXPECT_FALSE(cv<bool>(-0.0));
  EXPECT_FALSE(cv<bool>(complex64_t{0, 0}));
  EXPECT_TRUE(cv<bool>(complex64_t{0, -1}));
  EXPECT_TRUE(cv<bool>(half_from_double(1.0)));
  EXPECT_EQ(cv<double>(complex128_t{2.5, 7}), 2.5);
  auto c = cv<complex64_t>(1.5);
  EXPECT_EQ(c.re, 1.5f);
  EXPECT_EQ(c.im, 0.0f);
  auto c2 = cv<complex64_t>(complex128_t{1e300, -1e-300});
  EXPECT_TRUE(std::isinf(c2.re));
  EXPECT_EQ(c2.im, -0.0f);
  EXPECT_EQ(cv<float>(0.1), 0.1f);
  EXPECT_EQ(cv<float>(1e300), std::numeric_limits<float>::infinity());
  EXPECT_EQ(cv<Half>(70000.0).bits, 0x7c00);
  EXPECT_EQ(cv<double>(int64_t(1) << 62), std::ldexp(1.0, 62));
}

TEST(Cast, CastOneHandlesMisalignedMemory) {  // ARR-6
  alignas(16) unsigned char buf[32] = {};
  double v = 3.25;
  std::memcpy(buf + 1, &v, 8);
  cast_one(buf + 1, DType::float64, buf + 11, DType::float32);
  float out;
  std::memcpy(&out, buf + 11, 4);
  EXPECT_EQ(out, 3.25f);
}
