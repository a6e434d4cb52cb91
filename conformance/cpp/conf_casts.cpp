// Conformance: DT-3 casts for all 15 x 15 dtype pairs through as_tensor(ArrayView, dtype=...),
// checked bit for bit against the independent oracle of conf_util.h.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "conf_util.h"
#include "impls.h"

namespace astensor::conformance {
namespace {

template <class Impl>
class CastRules : public ::testing::Test {
 protected:
  static Tensor as(const Source& s, const Options& o = {}) { return Impl::as_tensor(s, o); }
};
TYPED_TEST_SUITE(CastRules, Implementations);

OValue int_value(__int128 i) {
  OValue v;
  v.i = i;
  return v;
}
OValue real_value(long double x) {
  OValue v;
  v.kind = OValue::Kind::Real;
  v.re = x;
  return v;
}
OValue complex_value(long double re, long double im) {
  OValue v;
  v.kind = OValue::Kind::Complex;
  v.re = re;
  v.im = im;
  return v;
}

/// Values around every boundary DT-3 talks about: integer ranges (wrap and saturation),
/// rounding ties of float16/bfloat16/float32, overflow to inf, subnormals, NaN, signed zero.
std::vector<long double> real_candidates() {
  const long double nan = std::numeric_limits<long double>::quiet_NaN();
  const long double inf = std::numeric_limits<long double>::infinity();
  std::vector<long double> v = {
      0.0L, -0.0L, 0.5L, -0.5L, 1.5L, 2.5L, -2.5L, 0.1L, 1.0L / 3, -1.0L, 7.75L,
      1 + std::ldexp(1.0L, -11), 1 + std::ldexp(3.0L, -11),   // float16 ties (down, up)
      1 + std::ldexp(1.0L, -8), 1 + std::ldexp(3.0L, -8),     // bfloat16 ties
      1 + std::ldexp(1.0L, -24), 1 + std::ldexp(3.0L, -24),   // float32 ties
      2049, 2051, 16777217, 16777219, 65504, 65519, 65520, 65536, 1e5L,
      3.4e38L, 3.4028235677973366e38L, 3.5e38L, 1e300L, -1e300L, inf, -inf, nan, -nan,
      6e-8L, 3e-8L, 2.9802322387695312e-08L, 1e-40L, 5e-324L, -1e-45L,
      127.9L, 128, 128.5L, -128.9L, -129, 255.5L, 256, 32767.5L, 32768, -32769, 65535.9L,
      2147483647.5L, 2147483648.0L, -2147483649.0L, 4294967295.5L, 4294967296.0L,
      9.2e18L, -9.2e18L, std::ldexp(1.0L, 63), -std::ldexp(1.0L, 63), 1.8e19L, 1.9e19L,
      std::ldexp(1.0L, 64), 1e10L, -1e10L};
  return v;
}

std::vector<__int128> int_candidates() {
  std::vector<__int128> v = {0, 1, -1, 2, 7, -7, 100, 127, 128, -128, -129, 200, 255, 256, -256,
                             1000, 2049, 2051, 4097, 32767, 32768, -32768, -32769, 65504, 65519,
                             65520, 65535, 65536, 16777217, 16777219};
  for (int b : {31, 32, 53, 54, 62, 63, 64}) {
    const __int128 p = __int128(1) << b;
    for (__int128 x : {p - 1, p, p + 1, -p, -p - 1, -p + 1}) v.push_back(x);
  }
  v.push_back((__int128(1) << 64) - 1025);  // rounds differently in float64 and float32
  v.push_back((__int128(1) << 63) - 513);
  v.push_back(-((__int128(1) << 63) - 1537));
  return v;
}

bool fits(__int128 x, DType d) {
  if (d == DType::bool_) return x == 0 || x == 1;
  const int bits = static_cast<int>(itemsize(d)) * 8;
  if (kind(d) == DTypeKind::Signed) return x >= -(__int128(1) << (bits - 1)) && x < (__int128(1) << (bits - 1));
  return x >= 0 && x < (__int128(1) << bits);
}

/// The source values for dtype d, stored in d's bytes (floats rounded in by the oracle).
std::vector<unsigned char> source_bytes(DType d, int64_t* count) {
  std::vector<OValue> vals;
  switch (kind(d)) {
    case DTypeKind::Bool:
    case DTypeKind::Signed:
    case DTypeKind::Unsigned:
      for (__int128 x : int_candidates())
        if (fits(x, d)) vals.push_back(int_value(x));
      break;
    case DTypeKind::Float:
      for (long double x : real_candidates()) vals.push_back(real_value(x));
      break;
    case DTypeKind::Complex: {
      auto r = real_candidates();
      for (std::size_t k = 0; k < r.size(); ++k) {
        vals.push_back(complex_value(r[k], 0));
        vals.push_back(complex_value(0, r[k]));
        vals.push_back(complex_value(r[k], r[(k * 7 + 3) % r.size()]));
      }
      break;
    }
  }
  std::vector<unsigned char> out;
  for (const auto& v : vals) {
    auto b = oracle_cast(v, d);
    out.insert(out.end(), b.begin(), b.end());
  }
  *count = static_cast<int64_t>(vals.size());
  return out;
}

TYPED_TEST(CastRules, Dt3AllPairsMatchTheOracle) {
  for (DType from : all_dtypes()) {
    int64_t n = 0;
    std::vector<unsigned char> src = source_bytes(from, &n);
    ASSERT_GT(n, 1);
    const std::size_t isz = itemsize(from);
    ArrayView v = ArrayView::contiguous(src.data(), from, Dims{n});
    for (DType to : all_dtypes()) {
      SCOPED_TRACE(std::string(name(from)) + " -> " + name(to));
      Tensor t = this->as(v, {.dtype = to});
      ASSERT_EQ(t.dtype(), to);
      ASSERT_EQ(t.shape(), (Dims{n}));
      int mismatches = 0;
      for (int64_t i = 0; i < n; ++i) {
        const unsigned char* in = src.data() + i * static_cast<int64_t>(isz);
        auto want = oracle_cast(read_value(in, from), to);
        const unsigned char* got = element_addr(t, i);
        if (!same_element(got, want, to) && ++mismatches <= 10)
          ADD_FAILURE() << name(from) << " " << hex(in, isz) << " -> " << name(to) << ": got "
                        << hex(got, want.size()) << ", want " << hex(want.data(), want.size());
      }
      EXPECT_EQ(mismatches, 0);
    }
  }
}

// The same pairs from a transposed, byteswapped source: the cast does not depend on layout.
TYPED_TEST(CastRules, Dt3IsIndependentOfLayoutAndByteOrder) {
  for (DType from : all_dtypes()) {
    int64_t n = 0;
    std::vector<unsigned char> src = source_bytes(from, &n);
    n -= n % 2;
    const auto isz = static_cast<int64_t>(itemsize(from));
    std::vector<unsigned char> swapped(src.begin(), src.begin() + n * isz);
    const int64_t part = is_complex(from) ? isz / 2 : isz;
    for (int64_t i = 0; i < n * isz; i += part) std::reverse(swapped.begin() + i, swapped.begin() + i + part);
    // (2, n/2) read column-major: logical element (r, c) is stored at index c * 2 + r.
    ArrayView v = make_view(swapped.data(), from, Dims{2, n / 2}, Dims{isz, 2 * isz});
    v.byteswapped = isz > 1;
    if (isz == 1) v.data = src.data();
    for (DType to : all_dtypes()) {
      SCOPED_TRACE(std::string(name(from)) + " -> " + name(to));
      Tensor t = this->as(v, {.dtype = to});
      int mismatches = 0;
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t c = 0; c < n / 2; ++c) {
          const unsigned char* in = src.data() + (c * 2 + r) * isz;
          auto want = oracle_cast(read_value(in, from), to);
          if (!same_element(element_addr(t, r * (n / 2) + c), want, to)) ++mismatches;
        }
      EXPECT_EQ(mismatches, 0);
    }
  }
}

// The oracle itself, on values whose answers are known by hand (a wrong oracle would make
// the suites above pass or fail for the wrong reason).
TEST(CastOracle, KnownAnswers) {
  auto bits16 = [](const std::vector<unsigned char>& b) { return uint16_t(b[0] | (b[1] << 8)); };
  EXPECT_EQ(bits16(oracle_cast(real_value(1), DType::float16)), 0x3c00);
  EXPECT_EQ(bits16(oracle_cast(real_value(65504), DType::float16)), 0x7bff);
  EXPECT_EQ(bits16(oracle_cast(real_value(65519), DType::float16)), 0x7bff);
  EXPECT_EQ(bits16(oracle_cast(real_value(65520), DType::float16)), 0x7c00) << "tie rounds to inf";
  EXPECT_EQ(bits16(oracle_cast(real_value(1 + std::ldexp(1.0L, -11)), DType::float16)), 0x3c00);
  EXPECT_EQ(bits16(oracle_cast(real_value(1 + std::ldexp(3.0L, -11)), DType::float16)), 0x3c02);
  EXPECT_EQ(bits16(oracle_cast(real_value(std::ldexp(1.0L, -24)), DType::float16)), 0x0001);
  EXPECT_EQ(bits16(oracle_cast(real_value(std::ldexp(1.0L, -25)), DType::float16)), 0x0000) << "tie to 0";
  EXPECT_EQ(bits16(oracle_cast(real_value(-0.0L), DType::float16)), 0x8000);
  EXPECT_EQ(bits16(oracle_cast(real_value(1), DType::bfloat16)), 0x3f80);
  EXPECT_EQ(bits16(oracle_cast(real_value(1 + std::ldexp(1.0L, -8)), DType::bfloat16)), 0x3f80);
  EXPECT_EQ(bits16(oracle_cast(real_value(1 + std::ldexp(3.0L, -8)), DType::bfloat16)), 0x3f82);
  EXPECT_EQ(bits16(oracle_cast(real_value(-3.0L), DType::bfloat16)), 0xc040);
  EXPECT_EQ(bits16(oracle_cast(int_value(65536), DType::float16)), 0x7c00);
  auto i8 = [](const std::vector<unsigned char>& b) { return static_cast<int8_t>(b[0]); };
  EXPECT_EQ(i8(oracle_cast(int_value(200), DType::int8)), -56) << "wrap";
  EXPECT_EQ(i8(oracle_cast(int_value(-129), DType::int8)), 127) << "wrap";
  EXPECT_EQ(i8(oracle_cast(real_value(300.5), DType::int8)), 127) << "saturate";
  EXPECT_EQ(i8(oracle_cast(real_value(-1e300), DType::int8)), -128) << "saturate";
  EXPECT_EQ(i8(oracle_cast(real_value(-2.9L), DType::int8)), -2) << "truncate";
  EXPECT_EQ(i8(oracle_cast(real_value(std::nanl("")), DType::int8)), 0) << "NaN -> 0";
  EXPECT_EQ(oracle_cast(real_value(-1), DType::uint8)[0], 0) << "saturate at 0";
  EXPECT_EQ(oracle_cast(real_value(std::nanl("")), DType::bool_)[0], 1);
  EXPECT_EQ(oracle_cast(complex_value(0, 2), DType::bool_)[0], 1);
  EXPECT_EQ(oracle_cast(complex_value(0, 2), DType::uint8)[0], 0) << "real part";
  uint64_t u;
  auto big = oracle_cast(real_value(1e30L), DType::uint64);
  std::memcpy(&u, big.data(), 8);
  EXPECT_EQ(u, ~0ULL);
  float f;
  auto f32 = oracle_cast(int_value((__int128(1) << 64) - 1), DType::float32);
  std::memcpy(&f, f32.data(), 4);
  EXPECT_EQ(f, 18446744073709551616.0f);
  auto over = oracle_cast(real_value(3.5e38L), DType::float32);
  std::memcpy(&f, over.data(), 4);
  EXPECT_TRUE(std::isinf(f));
  auto under = oracle_cast(real_value(3.4028235e38L), DType::float32);
  std::memcpy(&f, under.data(), 4);
  EXPECT_EQ(f, std::numeric_limits<float>::max());
}

}  // namespace
}  // namespace astensor::conformance
