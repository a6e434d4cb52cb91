// DT-3 in the optimized CPU kernels: every dtype pair of DT-1, at every instruction-set level
// the CPU has, contiguous / strided / misaligned / byte-swapped, bit for bit against the
// reference converter (core convert_plain, one cast_one per element). float16/bfloat16:
// all 65,536 patterns as sources, random doubles as sources; float->int saturation on NaN,
// +-inf, exact bounds and the values just outside them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>  // MXCSR
#endif

#include "core/cast.h"
#include "core/convert.h"
#include "impl/cpu/copy.h"
#include "impl/cpu/kernels.h"

using namespace astensor;
using namespace astensor::impl::cpu;

namespace {

constexpr DType kAll[] = {DType::bool_,   DType::uint8,    DType::int8,    DType::int16,
                          DType::int32,   DType::int64,    DType::uint16,  DType::uint32,
                          DType::uint64,  DType::float16,  DType::bfloat16, DType::float32,
                          DType::float64, DType::complex64, DType::complex128};

/// Doubles that sit on every edge of DT-3: signed zeros, NaN, infinities, halves (ties),
/// the integer bounds and their neighbours, float16/float32 limits, subnormals.
std::vector<double> edge_doubles() {
  std::vector<double> v = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994,
                           std::numeric_limits<double>::quiet_NaN(),
                           -std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::denorm_min(), 5e-324, 1e-310,
                           std::numeric_limits<double>::min(), 65504.0, 65519.99, 65520.0,
                           -65520.0, 6.1e-5, 5.96e-8, 2.98e-8, 3.0e38, 3.4028235e38, 3.4028236e38,
                           1e39, -1e39, 1e300, -1e300, 0.1, 1.0 / 3.0};
  for (int bits : {7, 8, 15, 16, 31, 32, 53, 63, 64}) {
    const double p = std::ldexp(1.0, bits);
    for (double x : {p, -p}) {
      v.push_back(x);
      v.push_back(std::nextafter(x, 0.0));
      v.push_back(std::nextafter(x, x * 2));
      v.push_back(x - 1);
      v.push_back(x + 1);
      v.push_back(x - 0.5);
    }
  }
  return v;
}

/// A source buffer of `n` values of dtype d (native order): edge values cast in, plus for the
/// floating types raw bit patterns.
std::vector<unsigned char> source_values(DType d, int64_t* n) {
  std::vector<double> vals = edge_doubles();
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 2000; ++i) {  // random doubles (incl. NaN payloads, subnormals)
    uint64_t b = rng();
    double x;
    std::memcpy(&x, &b, 8);
    vals.push_back(x);
    vals.push_back(std::ldexp(double(int64_t(rng())), -int(rng() % 80)));
  }
  const std::size_t isz = itemsize(d);
  std::vector<unsigned char> out;
  if (d == DType::float16 || d == DType::bfloat16) {
    out.resize(65536 * 2);
    for (uint32_t b = 0; b < 65536; ++b) {
      uint16_t h = uint16_t(b);
      std::memcpy(&out[b * 2], &h, 2);
    }
  } else {
    out.resize(vals.size() * isz);
    for (std::size_t i = 0; i < vals.size(); ++i) {
      if (is_complex(d)) {  // the imaginary part gets another edge value
        double c[2] = {vals[i], vals[(i * 7 + 3) % vals.size()]};
        cast_one(c, DType::complex128, &out[i * isz], d);
      } else if (d == DType::bool_) {
        out[i] = vals[i] != 0.0 ? 1 : 0;  // only valid bool bytes
      } else {
        cast_one(&vals[i], DType::float64, &out[i * isz], d);
      }
    }
    if (d == DType::float32 || d == DType::float64) {  // raw patterns too
      const std::size_t extra = 4000;
      const std::size_t at = out.size();
      out.resize(at + extra * isz);
      for (std::size_t i = 0; i < extra * isz; ++i) out[at + i] = static_cast<unsigned char>(rng());
    }
  }
  *n = static_cast<int64_t>(out.size() / isz);
  return out;
}

std::vector<unsigned char> reference_convert(const unsigned char* src, DType from, int64_t n,
                                             int64_t stride, DType to, bool swapped) {
  ArrayView v;
  v.data = src;
  v.dtype = from;
  v.shape = Dims{n};
  v.byte_strides = Dims{stride};
  v.byteswapped = swapped;
  std::vector<unsigned char> out(static_cast<std::size_t>(n) * itemsize(to));
  convert_plain(v, out.data(), to, Dims{1}.span());
  return out;
}

void byteswap_elements(std::vector<unsigned char>& b, DType d) {
  const std::size_t isz = itemsize(d), part = is_complex(d) ? isz / 2 : isz;
  for (std::size_t i = 0; i + isz <= b.size(); i += isz)
    for (std::size_t o = 0; o < isz; o += part) std::reverse(&b[i + o], &b[i + o + part]);
}

class IsaLevel {
 public:
  explicit IsaLevel(Isa i) : old_(set_cpu_isa(i)) {}
  ~IsaLevel() { set_cpu_isa(old_); }

 private:
  Isa old_;
};

}  // namespace

TEST(ImplCast, EveryPairEveryIsaMatchesTheReferenceBitForBit) {  // DT-1, DT-3, XFER-3
  for (int level = 0; level <= static_cast<int>(detected_isa()); ++level) {
    IsaLevel guard(static_cast<Isa>(level));
    for (DType from : kAll) {
      int64_t n = 0;
      std::vector<unsigned char> src = source_values(from, &n);
      const int64_t isz = static_cast<int64_t>(itemsize(from));
      // Misaligned copy of the same values (ARR-6), and a stride-2 interleaving.
      std::vector<unsigned char> mis(src.size() + 1);
      std::memcpy(mis.data() + 1, src.data(), src.size());
      std::vector<unsigned char> strided(src.size() * 2 + 3);
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(&strided[3 + i * 2 * isz], &src[i * isz], isz);
      std::vector<unsigned char> swapped = src;
      byteswap_elements(swapped, from);
      for (DType to : kAll) {
        SCOPED_TRACE(std::string(isa_name(cpu_isa())) + " " + name(from) + " -> " + name(to));
        const auto want = reference_convert(src.data(), from, n, isz, to, false);
        std::vector<unsigned char> got(want.size());
        run_kernel(from, to, false, true)(reinterpret_cast<const char*>(src.data()), isz,
                                          reinterpret_cast<char*>(got.data()), n);
        ASSERT_EQ(got, want) << "contiguous";
        std::fill(got.begin(), got.end(), 0xAB);
        run_kernel(from, to, false, true)(reinterpret_cast<const char*>(mis.data() + 1), isz,
                                          reinterpret_cast<char*>(got.data()), n);
        ASSERT_EQ(got, want) << "misaligned";
        std::fill(got.begin(), got.end(), 0xAB);
        run_kernel(from, to, false, false)(reinterpret_cast<const char*>(strided.data() + 3),
                                           2 * isz, reinterpret_cast<char*>(got.data()), n);
        ASSERT_EQ(got, want) << "strided";
        std::fill(got.begin(), got.end(), 0xAB);
        // Reversed (negative stride) run over the strided copy.
        run_kernel(from, to, false, false)(
            reinterpret_cast<const char*>(strided.data() + 3 + (n - 1) * 2 * isz), -2 * isz,
            reinterpret_cast<char*>(got.data()), n);
        const std::size_t osz = itemsize(to);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(std::memcmp(&got[i * osz], &want[(n - 1 - i) * osz], osz), 0) << "reversed " << i;
        std::fill(got.begin(), got.end(), 0xAB);
        run_kernel(from, to, true, false)(reinterpret_cast<const char*>(swapped.data()), isz,
                                          reinterpret_cast<char*>(got.data()), n);
        ASSERT_EQ(got, want) << "byte-swapped";
      }
    }
  }
}

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

TEST(ImplCast, FloatToIntSaturatesWithoutUB) {  // DT-3
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> in = {nan, inf, -inf, 2147483647.0, 2147483647.9, 2147483648.0,
                                  -2147483648.0, -2147483648.9, -2147483649.0, 1e300, -0.9, 0.9};
  const std::vector<int32_t> want32 = {0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MAX, INT32_MAX,
                                       INT32_MIN, INT32_MIN, INT32_MIN, INT32_MAX, 0, 0};
  for (int level = 0; level <= static_cast<int>(detected_isa()); ++level) {
    IsaLevel guard(static_cast<Isa>(level));
    std::vector<int32_t> got(in.size());
    run_kernel(DType::float64, DType::int32, false, true)(reinterpret_cast<const char*>(in.data()), 8,
                                                          reinterpret_cast<char*>(got.data()), in.size());
    EXPECT_EQ(got, want32) << isa_name(cpu_isa());
    std::vector<uint8_t> got8(in.size());
    run_kernel(DType::float64, DType::uint8, false, true)(reinterpret_cast<const char*>(in.data()), 8,
                                                          reinterpret_cast<char*>(got8.data()), in.size());
    const std::vector<uint8_t> want8 = {0, 255, 0, 255, 255, 255, 0, 0, 0, 255, 0, 0};
    EXPECT_EQ(got8, want8) << isa_name(cpu_isa());
    const std::vector<float> fin = {float(nan), float(inf), 9.3e18f, -9.3e18f,
                                    std::ldexp(1.0f, 63) - std::ldexp(1.0f, 39),
                                    -std::ldexp(1.0f, 63)};
    std::vector<int64_t> got64(fin.size());
    run_kernel(DType::float32, DType::int64, false, true)(reinterpret_cast<const char*>(fin.data()), 4,
                                                          reinterpret_cast<char*>(got64.data()), fin.size());
    const std::vector<int64_t> want64 = {0, INT64_MAX, INT64_MAX, INT64_MIN,
                                         int64_t(9223371487098961920ull), INT64_MIN};
    EXPECT_EQ(got64, want64) << isa_name(cpu_isa());
    const std::vector<double> uin = {18446744073709551616.0, 18446744073709549568.0, -1.0, nan};
    std::vector<uint64_t> gotu(uin.size());
    run_kernel(DType::float64, DType::uint64, false, true)(reinterpret_cast<const char*>(uin.data()), 8,
                                                           reinterpret_cast<char*>(gotu.data()), uin.size());
    const std::vector<uint64_t> wantu = {UINT64_MAX, 18446744073709549568ull, 0, 0};
    EXPECT_EQ(gotu, wantu) << isa_name(cpu_isa());
  }
}

TEST(ImplCast, CollapsedThreadedCopiesMatchTheReference) {  // threads change nothing (XFER-3)
  // A (64, 3, 50) float64 source viewed through [::-1, :, ::2] into float32, on 1..4 threads.
  const int64_t A = 64, B = 3, C = 100;
  std::vector<double> src(A * B * C);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = double(i) * 1.25 - 7;
  ArrayView v;
  v.data = src.data() + (A - 1) * B * C;
  v.dtype = DType::float64;
  v.shape = Dims{A, B, C / 2};
  v.byte_strides = Dims{-B * C * 8, C * 8, 16};
  const int64_t n = A * B * (C / 2);
  std::vector<unsigned char> want(n * 4);
  convert_plain(v, want.data(), DType::float32, contiguous_strides(v.shape.span()).span());
  const Dims dst = contiguous_strides(v.shape.span());
  CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
  for (int threads = 1; threads <= 4; ++threads) {
    std::vector<unsigned char> got(n * 4, 0xCD);
    run_copy(l, v.data, DType::float64, false, got.data(), DType::float32, threads);
    ASSERT_EQ(got, want) << threads << " threads";
  }
}

TEST(ImplCast, TiledThreadedCopiesMatchTheReference) {  // CopyLayout::tiled, threads
  // (3, 90, 70) float64 viewed as [:, ::-1, :].transpose(0, 2, 1): (3, 70, 90), strides
  // (90*70*8, 8, -70*8): not dense, so the copy is C-contiguous and tiled.
  const int64_t A = 3, B = 90, C = 70;
  std::vector<double> src(A * B * C);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = double(i) * 0.75 - 1000;
  ArrayView v;
  v.data = src.data() + (B - 1) * C;
  v.dtype = DType::float64;
  v.shape = Dims{A, C, B};
  v.byte_strides = Dims{B * C * 8, 8, -C * 8};
  const Dims dst = contiguous_strides(v.shape.span());
  CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
  ASSERT_TRUE(l.tiled);
  std::vector<unsigned char> want(A * B * C * 2);
  convert_plain(v, want.data(), DType::bfloat16, dst.span());
  for (int threads = 1; threads <= 3; ++threads) {
    std::vector<unsigned char> got(want.size(), 0xEE);
    run_copy(l, v.data, DType::float64, false, got.data(), DType::bfloat16, threads);
    ASSERT_EQ(got, want) << threads << " threads";
  }
}

// Note [Transposed tiles] (kernels.cpp): the in-register 8x8 transpose of the tiled path
// (uint8 -> float32 at the AVX2 level) and the runs (float64, int16, and every pair at the
// baseline level) against the reference converter, bit for bit, at every ISA level: transposed views that are not dense (`a[:, ::2].T`,
// `a.T[:, ::2]`, `a[:, :-1].T`), reversed rows (negative inner stride), reversed columns
// (a negative tile-row stride: no tile kernel, the runs), offsets, shapes whose tiles do
// not fill blocks of 8 (row tails) or 8 columns (column tails), a 3-D stack, 1-3 threads;
// float64 sources hold NaN, infinities, float32 overflow and ties, denormals.
TEST(ImplCast, TransposedTileKernelsMatchTheReference) {  // TEN-3, DT-3, XFER-3
  std::mt19937_64 rng(11);
  const std::vector<double> edges = edge_doubles();
  for (int level = 0; level <= static_cast<int>(detected_isa()); ++level) {
    IsaLevel guard(static_cast<Isa>(level));
    for (DType from : {DType::uint8, DType::float64, DType::int16}) {
      const int64_t isz = static_cast<int64_t>(itemsize(from));
      for (auto [P, R, C] : {std::array<int64_t, 3>{1, 37, 130}, {1, 203, 77}, {1, 530, 90},
                             {3, 41, 160}}) {
        std::vector<unsigned char> buf(static_cast<std::size_t>(P * R * C * isz));
        for (int64_t i = 0; i < P * R * C; ++i) {
          if (from == DType::uint8) buf[i] = static_cast<unsigned char>((i * 37 + i / 7) & 0xff);
          else if (from == DType::int16) {
            const int16_t v = static_cast<int16_t>(rng());
            std::memcpy(&buf[i * 2], &v, 2);
          } else {
            double v = edges[rng() % edges.size()];
            if (rng() % 2) {  // random bits, and float32 ties (an exact half ulp of float32)
              const uint64_t b = rng();
              std::memcpy(&v, &b, 8);
              if (rng() % 2) v = std::ldexp(double((rng() >> 40) | 1) * 2 + 1, -int(rng() % 200) + 60) /
                                 double(uint64_t(1) << 30);
            }
            std::memcpy(&buf[i * 8], &v, 8);
          }
        }
        const unsigned char* base = buf.data();
        const int64_t sp = R * C * isz, sr = C * isz, sc = isz;
        struct V {
          const char* what;
          const unsigned char* data;
          Dims shape, strides;
        };
        const V views[] = {
            {"a[:, ::2].T", base, Dims{P, C / 2, R}, Dims{sp, 2 * sc, sr}},
            {"a.T[:, ::2]", base, Dims{P, C, (R + 1) / 2}, Dims{sp, sc, 2 * sr}},
            {"a[:, :-1].T", base, Dims{P, C - 1, R}, Dims{sp, sc, sr}},
            {"a[::-1, :-1].T", base + (R - 1) * sr, Dims{P, C - 1, R}, Dims{sp, sc, -sr}},
            {"a[2:, 3::2].T", base + 2 * sr + 3 * sc, Dims{P, (C - 3 + 1) / 2, R - 2}, Dims{sp, 2 * sc, sr}},
            {"a[:, ::-1].T", base + (C - 1) * sc, Dims{P, C, R}, Dims{sp, -sc, sr}},
        };
        for (const V& vw : views) {
          ArrayView v;
          v.data = vw.data;
          v.dtype = from;
          v.shape = vw.shape;
          v.byte_strides = vw.strides;
          const Dims dst = contiguous_strides(v.shape.span());
          const CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
          ASSERT_TRUE(l.tiled) << vw.what;
          const int64_t sa = l.src_strides[l.shape.size() - 2];
          // The kernel exists for uint8 at tile-row strides of 1 and 2 elements: make sure it
          // is the one tested.
          if (level == 1 && from == DType::uint8 && (sa == 1 || sa == 2)) {
            ASSERT_NE(tile_kernel(from, DType::float32, false, sa), nullptr) << vw.what;
          }
          for (DType to : {DType::float32, DType::float64}) {
            const int64_t n = P * v.shape[1] * v.shape[2];
            std::vector<unsigned char> want(static_cast<std::size_t>(n) * itemsize(to));
            convert_plain(v, want.data(), to, dst.span());
            for (int threads = 1; threads <= 3; ++threads) {
              std::vector<unsigned char> got(want.size(), 0xEE);
              run_copy(l, v.data, from, false, got.data(), to, threads);
              ASSERT_EQ(got, want) << vw.what << " " << name(from) << "->" << name(to) << " shape ("
                                   << P << ", " << R << ", " << C << ") " << isa_name(cpu_isa())
                                   << " " << threads << " threads";
            }
          }
        }
      }
    }
  }
}

TEST(ImplCast, ThreadedCopiesWorkInAForkedChild) {  // Note [OpenMP and fork]
  const int64_t n = 1 << 20;
  std::vector<double> src(n);
  for (int64_t i = 0; i < n; ++i) src[i] = double(i);
  std::vector<float> dst(n);
  CopyLayout l = collapse(Dims{n}.span(), Dims{8}.span(), Dims{1}.span());
  run_copy(l, src.data(), DType::float64, false, dst.data(), DType::float32, 2);  // team started
  ASSERT_EQ(dst[n - 1], float(n - 1));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(30);  // a hang becomes SIGALRM, not a stuck test
    std::vector<float> out(n);
    run_copy(l, src.data(), DType::float64, false, out.data(), DType::float32, 2);
    _exit(out[n - 1] == float(n - 1) && in_forked_child() && max_threads() == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child did not exit (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(in_forked_child());
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

// Note [Fixed small strides] (kernels.cpp): the kernels specialised for a narrow source at a
// small constant stride (deinterleaving loads fused with the cast) against the reference
// converter, bit for bit: every narrow source dtype into every DT-1 dtype, at every ISA
// level, at the strides they take and at strides that fall back to the generic kernel,
// forward and reversed, at odd lengths (vector bodies and scalar tails) and odd offsets.
TEST(ImplCast, FixedStrideKernelsMatchTheReferenceBitForBit) {  // DT-3, ARR-3, ARR-6, XFER-3
  constexpr DType kNarrow[] = {DType::bool_,   DType::uint8,   DType::int8,    DType::int16,
                               DType::uint16,  DType::float16, DType::bfloat16};
  std::mt19937_64 rng(77);
  for (Isa isa : {Isa::Baseline, Isa::Avx2}) {
    if (isa > detected_isa()) continue;
    IsaLevel level(isa);
    // The specialised kernels are really picked (else this test would check the generic one).
    EXPECT_NE(run_kernel(DType::uint8, DType::float32, false, false, 2),
              run_kernel(DType::uint8, DType::float32, false, false));
    EXPECT_NE(run_kernel(DType::uint8, DType::float32, false, false, -1),
              run_kernel(DType::uint8, DType::float32, false, false));
    EXPECT_EQ(run_kernel(DType::uint8, DType::float32, false, false, 5),
              run_kernel(DType::uint8, DType::float32, false, false));
    for (DType from : kNarrow) {
      const int64_t isz = static_cast<int64_t>(itemsize(from));
      int64_t nvals = 0;
      const std::vector<unsigned char> vals = source_values(from, &nvals);
      for (int64_t k : {2, 3, 4, -1, -2, 5}) {
        const int64_t stride = k * isz;
        for (int64_t n : {0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1031}) {
          for (int64_t offset : {0, 1, 3}) {
            // n elements `stride` bytes apart starting `offset` bytes in (first element at the
            // high end for negative strides), the gaps filled with other values.
            const int64_t span = n == 0 ? 1 : (n - 1) * std::abs(stride) + isz;
            std::vector<unsigned char> buf(static_cast<std::size_t>(span + offset + 8));
            for (auto& b : buf) b = static_cast<unsigned char>(rng());
            if (from == DType::bool_)  // only valid bool bytes anywhere
              for (auto& b : buf) b &= 1;
            const unsigned char* first = buf.data() + offset + (stride < 0 ? span - isz : 0);
            for (int64_t i = 0; i < n; ++i)
              std::memcpy(const_cast<unsigned char*>(first) + i * stride,
                          &vals[static_cast<std::size_t>(((i * 131) % nvals) * isz)], isz);
            for (DType to : kAll) {
              SCOPED_TRACE(std::string(isa_name(isa)) + " " + name(from) + " -> " + name(to) +
                           " stride " + std::to_string(stride) + " n " + std::to_string(n) +
                           " offset " + std::to_string(offset));
              const auto want = reference_convert(first, from, n, stride, to, false);
              std::vector<unsigned char> got(want.size() + 16, 0xAB);
              run_kernel(from, to, false, false, stride)(reinterpret_cast<const char*>(first),
                                                        stride,
                                                        reinterpret_cast<char*>(got.data() + 1), n);
              ASSERT_TRUE(std::equal(want.begin(), want.end(), got.begin() + 1));
              ASSERT_EQ(got[0], 0xAB) << "wrote before the output";
              ASSERT_EQ(got[want.size() + 1], 0xAB) << "wrote past the output";
            }
          }
        }
      }
    }
  }
}

// The same kernels through the planner's collapsed copies: uint8/int8/float16 views with a
// small inner stride (every other / third / fourth column, a channel of interleaved pixels,
// reversed rows and columns, offset starts, odd shapes) into float32/float64/int64, on 1..3
// threads, against the reference converter.
TEST(ImplCast, SmallStrideGathersMatchTheReference) {  // ARR-3, TEN-3, XFER-3
  struct View {
    int64_t rows, cols, step, col0;  // a[:, col0::step] of a (rows, cols) array, or reversed
    bool reversed;
  };
  const View views[] = {{33, 70, 2, 0, false}, {33, 70, 2, 1, false}, {5, 301, 3, 2, false},
                        {17, 64, 4, 3, false}, {9, 129, 2, 0, true},  {40, 51, 1, 0, true},
                        {1, 1001, 2, 1, false}, {300, 34, 2, 0, false}};
  for (DType from : {DType::uint8, DType::int8, DType::float16}) {
    const int64_t isz = static_cast<int64_t>(itemsize(from));
    for (const View& w : views) {
      std::vector<unsigned char> base(static_cast<std::size_t>(w.rows * w.cols * isz));
      std::mt19937 rng(static_cast<unsigned>(w.rows * 1000 + w.cols));
      for (auto& b : base) b = static_cast<unsigned char>(rng());
      const int64_t out_cols = (w.cols - w.col0 + w.step - 1) / w.step;
      ArrayView v;
      v.dtype = from;
      v.shape = Dims{w.rows, out_cols};
      if (!w.reversed) {
        v.data = base.data() + w.col0 * isz;
        v.byte_strides = Dims{w.cols * isz, w.step * isz};
      } else {  // a[::-1, ::-step]
        v.data = base.data() + ((w.rows - 1) * w.cols + (w.cols - 1)) * isz;
        v.byte_strides = Dims{-w.cols * isz, -w.step * isz};
        v.shape = Dims{w.rows, (w.cols + w.step - 1) / w.step};
      }
      const Dims dst = contiguous_strides(v.shape.span());
      const CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
      const int64_t n = l.numel;
      for (DType to : {DType::float32, DType::float64, DType::int64}) {
        SCOPED_TRACE(std::string(name(from)) + " -> " + name(to) + " " + v.shape.str() + " " +
                     v.byte_strides.str());
        std::vector<unsigned char> want(static_cast<std::size_t>(n) * itemsize(to));
        convert_plain(v, want.data(), to, dst.span());
        for (int threads = 1; threads <= 3; ++threads) {
          std::vector<unsigned char> got(want.size(), 0xCD);
          run_copy(l, v.data, from, false, got.data(), to, threads);
          ASSERT_EQ(got, want) << threads << " threads";
        }
      }
    }
  }
}
