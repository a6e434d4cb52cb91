// DT-3 in the optimized CPU kernels: every dtype pair of DT-1, at every instruction-set level
// the CPU has, contiguous / strided / misaligned / byte-swapped, bit for bit against the
// reference converter (core convert_plain, one cast_one per element); float->int saturation on
// NaN, +-inf, exact bounds and the values just outside them; the kernels specialised for small
// fixed strides. float16/bfloat16 conversions: test_impl_cast_half.cpp; the kernels through
// collapsed, tiled and threaded copies: test_impl_copy_layouts.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "conformance/cpp/impl_cast_util.h"
#include "core/cast.h"
#include "core/convert.h"
#include "impl/cpu/kernels.h"

using namespace astensor;
using namespace astensor::impl::cpu;
using namespace astensor::impl_cast_check;

namespace {

constexpr DType kAll[] = {DType::bool_,   DType::uint8,    DType::int8,    DType::int16,
                          DType::int32,   DType::int64,    DType::uint16,  DType::uint32,
                          DType::uint64,  DType::float16,  DType::bfloat16, DType::float32,
                          DType::float64, DType::complex64, DType::complex128};

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
