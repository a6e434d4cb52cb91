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

#if defined(__x86_64__) && !defined(ASTENSOR_NO_ISA_VARIANTS)
#define ASTENSOR_HAVE_ISA_VARIANTS 1
template <class To, class From, bool Swap, bool Contig>
[[gnu::target("avx2,fma,bmi,bmi2,popcnt,lzcnt,f16c")]] void run_avx2(const char* src,
                                                                     int64_t stride, char* dst,
                                                                     int64_t n) {
  run_body<To, From, Swap, Contig>(src, stride, dst, n);
}
#endif

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
  const Isa isa = cpu_isa();
  return dispatch_dtype(from, [&]<DType F>() -> RunKernel {
    return dispatch_dtype(to, [&]<DType T>() -> RunKernel {
      using In = storage_t<F>;
      using Out = storage_t<T>;
      // Non-native byte order is rare (ARR-4): one baseline kernel for any stride.
      if (byteswap) return &run_baseline<Out, In, true, false>;
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
