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
      if (isa == Isa::Avx2)
        return contiguous ? &run_avx2<Out, In, false, true> : &run_avx2<Out, In, false, false>;
#else
      (void)isa;
#endif
      return contiguous ? &run_baseline<Out, In, false, true> : &run_baseline<Out, In, false, false>;
    });
  });
}

}  // namespace astensor::impl::cpu
