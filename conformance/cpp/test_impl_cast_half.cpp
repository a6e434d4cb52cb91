// DT-3 for float16 and bfloat16 in the optimized CPU kernels, bit for bit against core/half.h:
// all 65,536 patterns as sources, random doubles as sources (Note [Direct rounding]), the fast
// float32 spellings of half_fast.h on every rounding case, and the F16C conversions of the
// AVX2 level under any MXCSR (Note [F16C conversions]).
#include <gtest/gtest.h>

#if defined(__x86_64__)
#include <xmmintrin.h>  // MXCSR
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "conformance/cpp/impl_cast_util.h"
#include "core/cast.h"
#include "impl/cpu/kernels.h"

using namespace astensor;
using namespace astensor::impl::cpu;
using namespace astensor::impl_cast_check;

TEST(ImplCast, HalfAndBFloat16AllPatternsMatchCoreHalf) {  // DT-3, Note [Direct rounding]
  std::vector<uint16_t> pats(65536);
  for (uint32_t b = 0; b < 65536; ++b) pats[b] = uint16_t(b);
  std::vector<float> f(65536);
  run_kernel(DType::float16, DType::float32, false, true)(reinterpret_cast<const char*>(pats.data()),
                                                          2, reinterpret_cast<char*>(f.data()), 65536);
  for (uint32_t b = 0; b < 65536; ++b) {
    const float want = half_to_float(Half{uint16_t(b)});
    ASSERT_EQ(std::memcmp(&f[b], &want, 4), 0) << b;
  }
  run_kernel(DType::bfloat16, DType::float32, false, true)(reinterpret_cast<const char*>(pats.data()),
                                                           2, reinterpret_cast<char*>(f.data()), 65536);
  for (uint32_t b = 0; b < 65536; ++b) {
    const float want = bfloat16_to_float(BFloat16{uint16_t(b)});
    ASSERT_EQ(std::memcmp(&f[b], &want, 4), 0) << b;
  }
  // Random doubles -> float16 / bfloat16: round to nearest even, directly.
  std::mt19937_64 rng(7);
  std::vector<double> d(200000);
  for (auto& x : d) {
    uint64_t b = rng();
    std::memcpy(&x, &b, 8);
    if (rng() % 2) x = std::ldexp(double(int64_t(rng() >> 11)), -int(rng() % 90));
  }
  std::vector<uint16_t> h(d.size()), bf(d.size());
  run_kernel(DType::float64, DType::float16, false, true)(reinterpret_cast<const char*>(d.data()), 8,
                                                          reinterpret_cast<char*>(h.data()), d.size());
  run_kernel(DType::float64, DType::bfloat16, false, true)(reinterpret_cast<const char*>(d.data()), 8,
                                                           reinterpret_cast<char*>(bf.data()), d.size());
  for (std::size_t i = 0; i < d.size(); ++i) {
    ASSERT_EQ(h[i], half_from_double(d[i]).bits) << d[i];
    ASSERT_EQ(bf[i], bfloat16_from_double(d[i]).bits) << d[i];
  }
}
TEST(ImplCast, FastHalfSpellingsMatchCoreOnEveryRoundingCase) {  // DT-3, half_fast.h
  // float32 -> float16 / bfloat16 round on the dropped low bits: every pattern of the low 13
  // bits (and the 16 bfloat16 drops within them at the kept-lsb positions), at every
  // exponent, both signs, with several upper mantissas. (An exhaustive run over all 2^32
  // floats found no difference; it takes too long for CI.)
  std::vector<float> in;
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t e = 0; e < 256; ++e)
      for (uint32_t hi : {0u, 0x2000u, 0x3fe000u, 0x554000u, 0x7fe000u, 0x10000u, 0x7f0000u})
        for (uint32_t lo = 0; lo < 0x2000; ++lo) {
          const uint32_t u = (sign << 31) | (e << 23) | hi | lo;
          float f;
          std::memcpy(&f, &u, 4);
          in.push_back(f);
        }
  for (int level = 0; level <= static_cast<int>(detected_isa()); ++level) {
    IsaLevel guard(static_cast<Isa>(level));
    std::vector<uint16_t> h(in.size()), bf(in.size());
    run_kernel(DType::float32, DType::float16, false, true)(reinterpret_cast<const char*>(in.data()), 4,
                                                            reinterpret_cast<char*>(h.data()), in.size());
    run_kernel(DType::float32, DType::bfloat16, false, true)(reinterpret_cast<const char*>(in.data()), 4,
                                                             reinterpret_cast<char*>(bf.data()), in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      ASSERT_EQ(h[i], half_from_double(in[i]).bits) << isa_name(cpu_isa()) << " " << in[i];
      ASSERT_EQ(bf[i], bfloat16_from_double(in[i]).bits) << isa_name(cpu_isa()) << " " << in[i];
    }
    // float16 -> float64 (through the branch-free half -> float) on every pattern.
    std::vector<uint16_t> pats(65536);
    for (uint32_t b = 0; b < 65536; ++b) pats[b] = uint16_t(b);
    std::vector<double> d(65536);
    run_kernel(DType::float16, DType::float64, false, true)(reinterpret_cast<const char*>(pats.data()), 2,
                                                            reinterpret_cast<char*>(d.data()), 65536);
    for (uint32_t b = 0; b < 65536; ++b) {
      const double want = cast_value<double>(Half{uint16_t(b)});
      ASSERT_EQ(std::memcmp(&d[b], &want, 8), 0) << b;
    }
  }
}

namespace {

/// Sets MXCSR for a scope (x86-64): the F16C kernels must not depend on it.
class Mxcsr {
 public:
  explicit Mxcsr([[maybe_unused]] unsigned bits) {
#if defined(__x86_64__)
    old_ = _mm_getcsr();
    _mm_setcsr((old_ & ~0xe040u) | bits);
#endif
  }
  ~Mxcsr() {
#if defined(__x86_64__)
    _mm_setcsr(old_);
#endif
  }

 private:
  unsigned old_ = 0;
};
constexpr unsigned kFtzDaz = 0x8040u;        // flush to zero, denormals are zero
constexpr unsigned kFtzDazTowardZero = 0xe040u;  // the same, rounding toward zero

/// float32 -> float16 through the current kernel over `n` float32 bit patterns made by
/// `pattern(i)`, against core/half.h, in batches (so that 2^32 patterns fit in memory).
template <class F>
void check_f32_to_f16(uint64_t n, F pattern, const char* what) {
  const RunKernel k = run_kernel(DType::float32, DType::float16, false, true);
  constexpr uint64_t kBatch = uint64_t(1) << 22;
  std::vector<uint32_t> in(kBatch);
  std::vector<uint16_t> out(kBatch);
  for (uint64_t base = 0; base < n; base += kBatch) {
    const uint64_t m = std::min(kBatch, n - base);
    for (uint64_t i = 0; i < m; ++i) in[i] = pattern(base + i);
    k(reinterpret_cast<const char*>(in.data()), 4, reinterpret_cast<char*>(out.data()),
      static_cast<int64_t>(m));
    for (uint64_t i = 0; i < m; ++i) {
      float f;
      std::memcpy(&f, &in[i], 4);
      if (out[i] != half_from_double(f).bits)
        FAIL() << what << " " << isa_name(cpu_isa()) << ": float32 bits 0x" << std::hex << in[i]
               << " gave 0x" << out[i] << ", core/half.h 0x" << half_from_double(f).bits;
    }
  }
}

}  // namespace

// Note [F16C conversions] (kernels.cpp): the AVX2 level converts float32 <-> float16 with
// F16C, fixing NaN lanes; it must equal core/half.h bit for bit (DT-3, XFER-3) whatever MXCSR
// says. Every float16 pattern widened (at every offset of the 8-lane body, so the tails are
// covered); float32 -> float16 on a dense sample: every exponent, both signs, every pattern
// of the 13 dropped bits under 16 kept-bit patterns, and at the exponents whose float16
// result is subnormal or the smallest normal (dropping 14-24 bits) every mantissa whose
// dropped bits are a tie, a tie +-1, zero or all ones under every kept pattern; NaN
// payloads (quiet and signalling), float32 denormals, the overflow edge. Also under
// FTZ|DAZ and FTZ|DAZ|round-toward-zero. ASTENSOR_EXHAUSTIVE_HALF=1 checks all 2^32 float32
// inputs instead (about a minute; not in CI).
TEST(ImplCast, F16cHalfConversionsMatchCoreHalfUnderAnyMxcsr) {  // DT-3, XFER-3
  std::vector<uint16_t> pats(65536 + 8);
  for (uint32_t b = 0; b < pats.size(); ++b) pats[b] = uint16_t(b);
  const bool exhaustive = std::getenv("ASTENSOR_EXHAUSTIVE_HALF") != nullptr;
  // The dense part of the sample, computed from its index: sign, exponent, kept bits, the
  // 13 dropped bits.
  static constexpr uint32_t kKept[16] = {0x000, 0x3ff, 0x001, 0x3fe, 0x200, 0x1ff, 0x155, 0x2aa,
                                         0x002, 0x3fd, 0x100, 0x0ff, 0x300, 0x0f1, 0x37b, 0x011};
  auto dense = [](uint64_t i) {
    const uint32_t lo = uint32_t(i & 0x1fff), k = uint32_t((i >> 13) & 15), se = uint32_t(i >> 17);
    return (se << 23) | (kKept[k] << 13) | lo;  // se: sign and exponent, 9 bits
  };
  constexpr uint64_t kDense = uint64_t(1) << 26;
  // The rest, as a list of float32 bit patterns.
  std::vector<uint32_t> sample;
  for (uint32_t sign = 0; sign < 2; ++sign)
    for (uint32_t e = 100; e <= 114; ++e) {  // float16 subnormal / smallest-normal results
      const uint32_t se = (sign << 31) | (e << 23);
      for (int drop = 14; drop <= 24; ++drop) {
        const uint32_t half = uint32_t(1) << (drop - 1), all = (uint32_t(1) << drop) - 1;
        const uint32_t kept_n = drop >= 23 ? 1 : uint32_t(1) << (23 - drop);
        for (uint32_t kept = 0; kept < kept_n; ++kept)
          for (uint32_t low : {0u, 1u, half - 1, half, half + 1, all, all - 1})
            sample.push_back(se | (((kept << drop) | (low & all)) & 0x7fffffu));
      }
    }
  for (uint32_t payload : {0x1u, 0x2u, 0x1fffu, 0x2000u, 0x3fffffu, 0x400000u, 0x400001u, 0x7fffffu,
                           0x12345u, 0x5a5a5au})
    for (uint32_t sign : {0u, 0x80000000u}) sample.push_back(sign | 0x7f800000u | payload);
  for (int level = 0; level <= static_cast<int>(detected_isa()); ++level) {
    IsaLevel guard(static_cast<Isa>(level));
    // half_fast.h (the baseline level) rounds with float additions, which follow MXCSR.RC:
    // only the AVX2 level is held to "any MXCSR".
    const std::vector<unsigned> modes =
        level == 0 ? std::vector<unsigned>{0u, kFtzDaz} : std::vector<unsigned>{0u, kFtzDaz, kFtzDazTowardZero};
    for (unsigned mode : modes) {
      Mxcsr csr(mode);
      const RunKernel widen = run_kernel(DType::float16, DType::float32, false, true);
      std::vector<uint32_t> f(65536 + 8);
      for (int off = 0; off < 8; ++off) {
        widen(reinterpret_cast<const char*>(pats.data() + off), 2, reinterpret_cast<char*>(f.data()),
              65536);
        for (uint32_t i = 0; i < 65536; ++i) {
          const float want = half_to_float(Half{pats[off + i]});
          ASSERT_EQ(std::memcmp(&f[i], &want, 4), 0)
              << isa_name(cpu_isa()) << " mode " << mode << " half bits " << pats[off + i];
        }
      }
      if (exhaustive && mode == 0) {
        check_f32_to_f16(uint64_t(1) << 32, [](uint64_t i) { return uint32_t(i); }, "all float32");
      } else {
        check_f32_to_f16(kDense, dense, "dense sample");
        check_f32_to_f16(sample.size(), [&](uint64_t i) { return sample[i]; }, "sample");
        // Every length 0..17 (the 8-lane body and the padded tail) at odd offsets.
        for (uint64_t len = 0; len < 18; ++len)
          for (uint64_t start : {uint64_t(0), uint64_t(12345), uint64_t(sample.size() - 40)})
            check_f32_to_f16(len, [&](uint64_t i) { return sample[start + i]; }, "short run");
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}
