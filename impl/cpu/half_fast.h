#pragma once
/// Branch-free float32 <-> float16 and float32 -> bfloat16 conversions that the compiler
/// can vectorize, for the CPU kernels. They compute exactly core/half.h's functions (round
/// to nearest even, overflow to inf, NaN -> the quiet NaN core/half.h makes, sNaN bits kept
/// by half -> float): they are a faster spelling of the same cast, not a second definition,
/// and test_impl_cast checks them against core/half.h on every float16 pattern and on every
/// float32 whose dropped bits decide the rounding (all 2^13 low patterns at every exponent).
/// The methods are F. Giesen's "half <-> float" (public domain), rounding through float
/// arithmetic in the default round-to-nearest mode.

#include <cstdint>
#include <cstring>

namespace astensor::impl::cpu {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// = half_from_double(double(f)) for every float f.
inline uint16_t half_bits_from_float(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  // >= 65520 (incl. inf): inf; NaN: the quiet NaN.
  const uint32_t big = a > 0x7f800000u ? 0x7e00u : 0x7c00u;
  // Below the smallest normal half (2^-14): let float addition round at the subnormal ulp.
  const float denorm_magic = f32_from(((127 - 15) + (23 - 10) + 1) << 23);
  const uint32_t sub = f32_bits(f32_from(a) + denorm_magic) - f32_bits(denorm_magic);
  // Normal: rebias, round to nearest even by adding 0xfff plus the kept lsb.
  const uint32_t norm = (a + ((uint32_t)(15 - 127) << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13;
  uint32_t o = a >= 0x47800000u ? big : (a < (113u << 23) ? sub : norm);
  return static_cast<uint16_t>(o | sign);
}

/// = half_to_float(h) for every pattern (subnormals normalised exactly, NaN bits kept).
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t em = uint32_t(h & 0x7fffu) << 13;  // exponent and mantissa, in place
  const uint32_t exp = em & (0x7c00u << 13);
  const uint32_t rebased = em + ((127 - 15) << 23);
  const float magic = f32_from(113u << 23);
  const uint32_t sub = f32_bits(f32_from(rebased + (1u << 23)) - magic);
  const uint32_t infnan = rebased + ((128 - 16) << 23);
  const uint32_t o = exp == (0x7c00u << 13) ? infnan : (exp == 0 ? sub : rebased);
  return f32_from(o | sign);
}

/// = bfloat16_from_double(double(f)) for every float f.
inline uint16_t bfloat16_bits_from_float(float f) {
  const uint32_t u = f32_bits(f);
  const uint32_t nan = ((u >> 16) & 0x8000u) | 0x7fc0u;
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

}  // namespace astensor::impl::cpu
