// The run kernels (see Note [CPU vectorization] in kernels.h).

#include "impl/cpu/kernels.h"

#include <atomic>
#if defined(__x86_64__)
#include <cpuid.h>  // F16C (detect())
#endif
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/cast.h"
#include "impl/cpu/half_fast.h"

#if defined(__x86_64__) && !defined(ASTENSOR_NO_ISA_VARIANTS)
#include <immintrin.h>
#endif

namespace astensor::impl::cpu {

namespace {

/// One element of `T` read from possibly misaligned memory in the non-native byte order.
/// Complex values swap each component on its own (as core/convert.cpp does).
template <class T>
inline T load_swapped(const char* p) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  constexpr std::size_t part = detail::is_complex_v<T> ? sizeof(T) / 2 : sizeof(T);
  for (std::size_t o = 0; o < sizeof(T); o += part)
    for (std::size_t i = 0; i < part / 2; ++i) {
      unsigned char t = b[o + i];
      b[o + i] = b[o + part - 1 - i];
      b[o + part - 1 - i] = t;
    }
  return load_element<T>(b);
}

/// cast_value, with the float16/bfloat16 conversions to and from float32 spelled
/// branch-free so they vectorize (half_fast.h: the same results, checked exhaustively).
template <class To, class From>
[[gnu::always_inline]] inline To convert(From v) {
  if constexpr (std::is_same_v<From, float> && std::is_same_v<To, Half>) return Half{half_bits_from_float(v)};
  else if constexpr (std::is_same_v<From, float> && std::is_same_v<To, BFloat16>)
    return BFloat16{bfloat16_bits_from_float(v)};
  else if constexpr (std::is_same_v<From, Half> && std::is_same_v<To, float>) return half_bits_to_float(v.bits);
  else if constexpr (std::is_same_v<From, Half> && std::is_same_v<To, double>)
    return static_cast<double>(half_bits_to_float(v.bits));
  else return cast_value<To>(v);
}

// The loop, written once. memcpy loads and stores compile to plain (unaligned) moves and
// keep misaligned sources legal (ARR-6).
template <class To, class From, bool Swap, bool Contig>
[[gnu::always_inline]] inline void run_body(const char* __restrict src, int64_t stride,
                                            char* __restrict dst, int64_t n) {
  if constexpr (Contig) stride = static_cast<int64_t>(sizeof(From));
  for (int64_t i = 0; i < n; ++i) {
    From v;
    if constexpr (Swap) v = load_swapped<From>(src + i * stride);
    else v = load_element<From>(src + i * stride);
    const To o = convert<To>(v);
    std::memcpy(dst + i * static_cast<int64_t>(sizeof(To)), &o, sizeof(To));
  }
}

template <class To, class From, bool Swap, bool Contig>
void run_baseline(const char* src, int64_t stride, char* dst, int64_t n) {
  run_body<To, From, Swap, Contig>(src, stride, dst, n);
}

// Note [Fixed small strides]: a narrow source read at a small stride known at compile time
// (uint8 every other column, one channel of RGB/RGBA, a reversed byte run) vectorizes:
// GCC turns the constant-stride loads into wide loads plus shuffles (a deinterleave),
// fused with the widening conversion, while the same loop with a run-time stride stays
// scalar (0.6 Gelem/s for uint8 -> float32 [:, ::2]; impl/cpu/NOTES.md). The body is
// run_body's with the stride fixed, so the values are cast_value's (bit-identical).
template <class To, class From, int K>
[[gnu::always_inline]] inline void run_fixed_body(const char* __restrict src, char* __restrict dst,
                                                  int64_t n) {
  constexpr int64_t stride = K * static_cast<int64_t>(sizeof(From));
  for (int64_t i = 0; i < n; ++i) {
    const From v = load_element<From>(src + i * stride);
    const To o = convert<To>(v);
    std::memcpy(dst + i * static_cast<int64_t>(sizeof(To)), &o, sizeof(To));
  }
}

template <class To, class From, int K>
void run_fixed_baseline(const char* src, int64_t, char* dst, int64_t n) {
  run_fixed_body<To, From, K>(src, dst, n);
}

#if defined(__x86_64__) && !defined(ASTENSOR_NO_ISA_VARIANTS)
#define ASTENSOR_HAVE_ISA_VARIANTS 1
template <class To, class From, bool Swap, bool Contig>
[[gnu::target("avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")]] void run_avx2(const char* src,
                                                                     int64_t stride, char* dst,
                                                                     int64_t n) {
  run_body<To, From, Swap, Contig>(src, stride, dst, n);
}
template <class To, class From, int K>
[[gnu::target("avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")]] void run_fixed_avx2(const char* src,
                                                                           int64_t, char* dst,
                                                                           int64_t n) {
  run_fixed_body<To, From, K>(src, dst, n);
}

// Note [F16C conversions]
// float32 <-> float16 with the F16C instructions (AVX2 level, contiguous runs), bit-identical
// to core/half.h (checked on every float16 pattern and on every float32 in
// test_impl_cast.cpp, also with MXCSR set to FTZ|DAZ and round-toward-zero):
// - rounding: the immediate (_MM_FROUND_TO_NEAREST_INT) overrides MXCSR.RC: ties to even,
//   overflow to inf, float16 subnormals produced exactly (MXCSR.FTZ does not apply to
//   VCVTPS2PH's result).
// - MXCSR.DAZ: whether VCVTPS2PH honours it or not, a float32 denormal (< 2^-126) rounds to
//   a zero of its sign either way (half the smallest float16 subnormal is 2^-25), so the
//   result cannot change; VCVTPH2PS's float16 subnormal inputs measured unaffected by DAZ
//   (and on Intel DAZ is documented as ignored for it); the test runs under FTZ|DAZ to catch
//   a CPU where it is not.
// - NaN: F16C keeps the top payload bits and quiets a signalling NaN; core/half.h makes
//   every float32 NaN the payload-free quiet NaN `sign|0x7e00`, and keeps a float16 NaN's
//   bits (an sNaN stays signalling) when widening. So NaN lanes are fixed with a blend: a
//   float32 NaN input becomes `sign|0x7fc00000` (which F16C maps to `sign|0x7e00`), and a
//   float16 NaN's result is rebuilt from its bits.
#define ASTENSOR_AVX2_TARGET "avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c"
/// 8 float32 (bits) -> 8 float16 bits, = core/half.h's half_from_double.
[[gnu::target(ASTENSOR_AVX2_TARGET), gnu::always_inline]] inline __m128i f16x8_from_f32(__m256i u) {
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  // NaN -> sign | 0x7fc00000: sign, exponent and the quiet bit, no payload.
  const __m256i canon = _mm256_or_si256(
      _mm256_and_si256(u, _mm256_set1_epi32(static_cast<int>(0xff800000u))),
      _mm256_set1_epi32(0x00400000));
  u = _mm256_blendv_epi8(u, canon, nan);
  return _mm256_cvtps_ph(_mm256_castsi256_ps(u), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/// 8 float16 bits -> 8 float32 bits, = core/half.h's half_to_float.
[[gnu::target(ASTENSOR_AVX2_TARGET), gnu::always_inline]] inline __m256i f32x8_from_f16(__m128i h) {
  const __m256i f = _mm256_castps_si256(_mm256_cvtph_ps(h));
  const __m256i w = _mm256_cvtepu16_epi32(h);
  const __m256i nan =
      _mm256_cmpgt_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x7fff)), _mm256_set1_epi32(0x7c00));
  // core/half.h's NaN: sign | 0x7f800000 | mantissa << 13, the bits kept as they are.
  const __m256i exact = _mm256_or_si256(
      _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(w, 16),
                                       _mm256_set1_epi32(static_cast<int>(0x80000000u))),
                      _mm256_set1_epi32(0x7f800000)),
      _mm256_and_si256(_mm256_slli_epi32(w, 13), _mm256_set1_epi32(0x007fe000)));
  return _mm256_blendv_epi8(f, exact, nan);
}

// The tails go through the same 8-lane conversion (a zero-padded copy), so the whole kernel
// is independent of MXCSR (half_fast.h's float additions follow MXCSR.RC).
[[gnu::target(ASTENSOR_AVX2_TARGET)]] void f32_to_f16_avx2(const char* src, int64_t, char* dst,
                                                          int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i),
                     f16x8_from_f32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 4 * i))));
  if (i < n) {
    alignas(32) uint32_t in[8] = {};
    alignas(16) uint16_t out[8];
    std::memcpy(in, src + 4 * i, static_cast<std::size_t>(n - i) * 4);
    _mm_store_si128(reinterpret_cast<__m128i*>(out),
                    f16x8_from_f32(_mm256_load_si256(reinterpret_cast<const __m256i*>(in))));
    std::memcpy(dst + 2 * i, out, static_cast<std::size_t>(n - i) * 2);
  }
}

[[gnu::target(ASTENSOR_AVX2_TARGET)]] void f16_to_f32_avx2(const char* src, int64_t, char* dst,
                                                          int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 4 * i),
                        f32x8_from_f16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i))));
  if (i < n) {
    alignas(16) uint16_t in[8] = {};
    alignas(32) uint32_t out[8];
    std::memcpy(in, src + 2 * i, static_cast<std::size_t>(n - i) * 2);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out),
                       f32x8_from_f16(_mm_load_si128(reinterpret_cast<const __m128i*>(in))));
    std::memcpy(dst + 4 * i, out, static_cast<std::size_t>(n - i) * 4);
  }
}

// Note [Transposed tiles]
// A transposed gather (CopyLayout::tiled: a non-dense transposed source such as
// `a[:, ::2].T`) is copied in tiles of 256 x 8 output elements (copy.cpp copy_tiles). Run by
// run, each output row piece of a tile is 8 elements read one byte at a time from 8 source
// rows. For uint8 -> float32 the tile kernel instead reads 8 elements along each of the 8
// source rows (one 8-byte load, or a stride-2 deinterleave that never reads past the last
// element), transposes the 8x8 bytes in registers (unpack 8/16/32), widens them exactly
// (u8 -> i32 -> f32: the value cast_value gives) and stores the output row pieces; two such
// blocks side by side make a tile 16 columns wide (kTileKernelCols), so every output row gets
// 64 contiguous bytes at once. copy_tiles calls it once per 8 rows (see there). Rows that do
// not fill a block of 8 go element by element through cast_value; tiles narrower than 16
// columns go run by run. Measurements: impl/cpu/NOTES.md "The tiled transposed gather".
template <int SA>
[[gnu::target(ASTENSOR_AVX2_TARGET), gnu::always_inline]] inline __m128i load8_u8(const char* p) {
  if constexpr (SA == 1) {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  } else {
    // bytes 0, 2, ..., 14: two 8-byte loads (0..7 and 7..14) never read past the last element
    const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m128i hi = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 7));
    const __m128i both = _mm_unpacklo_epi64(lo, hi);  // bytes 0..7, 7..14
    const __m128i pick = _mm_setr_epi8(0, 2, 4, 6, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    return _mm_shuffle_epi8(both, pick);
  }
}

/// The 8x8 byte transpose of 8 source-row pieces: t[k] holds output rows 2k and 2k+1.
template <int SA>
[[gnu::target(ASTENSOR_AVX2_TARGET), gnu::always_inline]] inline void transpose8x8_u8(
    const char* s, int64_t sb, __m128i t[4]) {
  const __m128i r0 = load8_u8<SA>(s), r1 = load8_u8<SA>(s + sb), r2 = load8_u8<SA>(s + 2 * sb),
                r3 = load8_u8<SA>(s + 3 * sb), r4 = load8_u8<SA>(s + 4 * sb),
                r5 = load8_u8<SA>(s + 5 * sb), r6 = load8_u8<SA>(s + 6 * sb),
                r7 = load8_u8<SA>(s + 7 * sb);
  const __m128i p01 = _mm_unpacklo_epi8(r0, r1), p23 = _mm_unpacklo_epi8(r2, r3),
                p45 = _mm_unpacklo_epi8(r4, r5), p67 = _mm_unpacklo_epi8(r6, r7);
  const __m128i q0 = _mm_unpacklo_epi16(p01, p23), q1 = _mm_unpackhi_epi16(p01, p23),
                q2 = _mm_unpacklo_epi16(p45, p67), q3 = _mm_unpackhi_epi16(p45, p67);
  t[0] = _mm_unpacklo_epi32(q0, q2);
  t[1] = _mm_unpackhi_epi32(q0, q2);
  t[2] = _mm_unpacklo_epi32(q1, q3);
  t[3] = _mm_unpackhi_epi32(q1, q3);
}

// 16 columns: two 8x8 blocks side by side, so each output row gets 64 contiguous bytes (a
// whole line when the output is aligned) in one call (impl/cpu/NOTES.md: 8 columns per call
// left each line half-written between tiles).
template <int SA>
[[gnu::target(ASTENSOR_AVX2_TARGET)]] void tile_u8_f32_avx2(const char* src, int64_t sa, int64_t sb,
                                                           char* dst, int64_t pitch, int64_t na) {
  static_assert(kTileKernelCols == 16);
  int64_t a = 0;
  for (; a + 8 <= na; a += 8) {
    __m128i t0[4], t1[4];
    transpose8x8_u8<SA>(src + a * SA, sb, t0);
    transpose8x8_u8<SA>(src + a * SA + 8 * sb, sb, t1);
    char* d = dst + a * pitch;
    for (int k = 0; k < 4; ++k)
      for (int h = 0; h < 2; ++h) {
        const __m128i x0 = h ? _mm_unpackhi_epi64(t0[k], t0[k]) : t0[k];
        const __m128i x1 = h ? _mm_unpackhi_epi64(t1[k], t1[k]) : t1[k];
        float* row = reinterpret_cast<float*>(d + (2 * k + h) * pitch);
        _mm256_storeu_ps(row, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x0)));
        _mm256_storeu_ps(row + 8, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(x1)));
      }
  }
  for (; a < na; ++a)
    for (int b = 0; b < 16; ++b) {
      const float v = cast_value<float>(load_element<uint8_t>(src + a * sa + b * sb));
      std::memcpy(dst + a * pitch + 4 * b, &v, 4);
    }
}
#endif

/// The fixed-stride kernel for `stride` (bytes), or null (Note [Fixed small strides]):
/// 1-byte sources at element strides 2, 3 (AVX2), 4 and -1, 2-byte sources at 2.
template <class To, class From>
RunKernel fixed_kernel(int64_t stride, Isa isa) {
  constexpr int64_t isz = static_cast<int64_t>(sizeof(From));
  if constexpr (isz > 2 || detail::is_complex_v<From>) {
    (void)stride, (void)isa;
    return nullptr;
  } else {
#if defined(ASTENSOR_HAVE_ISA_VARIANTS)
    const bool avx2 = isa == Isa::Avx2;
#define ASTENSOR_FIXED(K) (avx2 ? &run_fixed_avx2<To, From, K> : &run_fixed_baseline<To, From, K>)
#else
    (void)isa;
#define ASTENSOR_FIXED(K) (&run_fixed_baseline<To, From, K>)
#endif
    if (stride == 2 * isz) return ASTENSOR_FIXED(2);
    if constexpr (isz == 1) {
      // Stride 3 at the baseline level measured slower than the scalar loop (SSE2 has no
      // byte shuffle): AVX2 only.
      if (stride == 3 && isa == Isa::Avx2) return ASTENSOR_FIXED(3);
      if (stride == 4) return ASTENSOR_FIXED(4);
      if (stride == -1) return ASTENSOR_FIXED(-1);
    }
#undef ASTENSOR_FIXED
    return nullptr;
  }
}

Isa detect() {
#if defined(ASTENSOR_HAVE_ISA_VARIANTS)
  __builtin_cpu_init();
  // The runtime's detection of "avx2" also checks that the OS saves the wide registers
  // (XCR0). F16C comes from cpuid directly: clang 14's __builtin_cpu_supports knows no "f16c".
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("bmi2") && f16c)
    return Isa::Avx2;
#endif
  return Isa::Baseline;
}

Isa initial_isa() {
  Isa isa = detected_isa();
  if (const char* env = std::getenv("ASTENSOR_CPU_ISA")) {
    std::string_view e(env);
    Isa want = e == "baseline" ? Isa::Baseline : e == "avx2" ? Isa::Avx2 : isa;
    if (want < isa) isa = want;
  }
  return isa;
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> a{initial_isa()};
  return a;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Baseline: return "baseline";
    case Isa::Avx2: return "avx2";
  }
  return "?";
}

Isa detected_isa() {
  static const Isa d = detect();
  return d;
}

Isa cpu_isa() { return active().load(std::memory_order_relaxed); }

Isa set_cpu_isa(Isa isa) {
  if (isa > detected_isa()) isa = detected_isa();
  return active().exchange(isa);
}

RunKernel run_kernel(DType from, DType to, bool byteswap, bool contiguous) {
  return run_kernel(from, to, byteswap, contiguous, 0);
}

RunKernel run_kernel(DType from, DType to, bool byteswap, bool contiguous, int64_t stride) {
  const Isa isa = cpu_isa();
  return dispatch_dtype(from, [&]<DType F>() -> RunKernel {
    return dispatch_dtype(to, [&]<DType T>() -> RunKernel {
      using In = storage_t<F>;
      using Out = storage_t<T>;
      // Non-native byte order is rare (ARR-4): one baseline kernel for any stride.
      if (byteswap) return &run_baseline<Out, In, true, false>;
      if (!contiguous && stride != 0)
        if (RunKernel k = fixed_kernel<Out, In>(stride, isa)) return k;
#if defined(ASTENSOR_HAVE_ISA_VARIANTS)
      // Note [F16C conversions].
      if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, Half>)
        if (isa == Isa::Avx2 && contiguous) return &f32_to_f16_avx2;
      if constexpr (std::is_same_v<In, Half> && std::is_same_v<Out, float>)
        if (isa == Isa::Avx2 && contiguous) return &f16_to_f32_avx2;
      if (isa == Isa::Avx2)
        return contiguous ? &run_avx2<Out, In, false, true> : &run_avx2<Out, In, false, false>;
#else
      (void)isa;
#endif
      return contiguous ? &run_baseline<Out, In, false, true> : &run_baseline<Out, In, false, false>;
    });
  });
}

TileKernel tile_kernel(DType from, DType to, bool byteswap, int64_t sa) {
#if defined(ASTENSOR_HAVE_ISA_VARIANTS)
  // float64 -> float32 had the same kernel (vcvtpd2ps per source row piece, a float
  // transpose), 8 and 16 columns wide: no faster than the runs (impl/cpu/NOTES.md), dropped.
  if (byteswap || cpu_isa() != Isa::Avx2 || to != DType::float32) return nullptr;
  if (from == DType::uint8 && sa == 1) return &tile_u8_f32_avx2<1>;
  if (from == DType::uint8 && sa == 2) return &tile_u8_f32_avx2<2>;
#else
  (void)from, (void)to, (void)byteswap, (void)sa;
#endif
  return nullptr;
}

}  // namespace astensor::impl::cpu
