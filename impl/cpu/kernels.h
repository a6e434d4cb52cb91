#pragma once
/// The CPU element kernels of the optimized implementation: one "run" converts n elements of
/// dtype `from` read at a byte stride (any alignment, ARR-6; optionally in the non-native
/// byte order, ARR-4) into n contiguous elements of dtype `to`. Every pair of DT-1 is an
/// instantiation of core/cast.h's cast_value, so there is exactly one cast semantics.
///
/// Note [CPU vectorization]
/// The kernels are plain C++ loops that GCC auto-vectorizes (at -O3), compiled twice in one
/// translation unit with __attribute__((target(...))): baseline x86-64 (SSE2) and AVX2 (+FMA,
/// F16C, BMI2); the best level the CPU and OS support is picked once at startup (cpu_isa()).
/// We chose this over Google Highway after measuring (impl/cpu/NOTES.md "Vectorization"):
/// the auto-vectorized contiguous f64->f32 and u8->f32 loops already run at the memory bound
/// with one thread even at baseline, so hand-written SIMD cannot make them faster; AVX2 buys
/// 1.5x on strided copies and float->int; an AVX-512 variant measured no faster than AVX2 and
/// was dropped. Highway would be a new dependency and a second way of writing each cast (the
/// conversions must stay bit-identical to cast_value, including float16 rounding and the
/// saturating float->int). The target attributes are per function (not per file) so the
/// inline helpers of core/cast.h are never compiled with a wider ISA than the baseline
/// (per-file flags would break the one-definition rule: the linker could keep an AVX2 copy
/// of an inline helper and run it on a CPU without AVX2).

#include <cstdint>

#include "core/dtype.h"

namespace astensor::impl::cpu {

/// Instruction-set levels of the kernels (x86-64; other CPUs use Baseline).
enum class Isa : uint8_t { Baseline = 0, Avx2 = 1 };
const char* isa_name(Isa isa);
/// The best level this CPU and OS support (detected once).
Isa detected_isa();
/// The level the kernels use now: detected_isa(), or ASTENSOR_CPU_ISA=baseline|avx2
/// from the environment at startup (capped at detected_isa()).
Isa cpu_isa();
/// Tests: run the kernels at another level (capped at detected_isa()); returns the old one.
Isa set_cpu_isa(Isa isa);

/// n elements of `from` at src, src + src_stride, ... (bytes, any sign, any alignment) ->
/// n contiguous elements of `to` at dst (any alignment).
using RunKernel = void (*)(const char* src, int64_t src_stride, char* dst, int64_t n);

/// The kernel for a pair at the current ISA level. `contiguous`: src_stride is known to be
/// itemsize(from) (the vectorizable case); `byteswap`: the source is in non-native order.
RunKernel run_kernel(DType from, DType to, bool byteswap, bool contiguous);
/// The same, for runs that all use the byte stride `stride` (0: unknown / varies): a
/// kernel specialised for that stride when there is one (Note [Fixed small strides] in
/// kernels.cpp: narrow sources at small element strides), which then ignores its
/// src_stride argument; otherwise run_kernel(from, to, byteswap, contiguous).
RunKernel run_kernel(DType from, DType to, bool byteswap, bool contiguous, int64_t stride);

/// Output columns of a tile kernel's tile.
inline constexpr int64_t kTileKernelCols = 16;
/// One tile of a transposed gather (Note [Transposed tiles] in kernels.cpp): na output rows
/// of kTileKernelCols elements; output element (a, b), stored at dst + a * pitch +
/// b * itemsize(to) (pitch in bytes), is the element of `from` at src + a * sa + b * sb,
/// converted.
using TileKernel = void (*)(const char* src, int64_t sa, int64_t sb, char* dst, int64_t pitch,
                            int64_t na);
/// The tile kernel for a pair whose tile rows read the source at the byte stride `sa`, at the
/// current ISA level, or null when there is none (then the tile goes run by run).
TileKernel tile_kernel(DType from, DType to, bool byteswap, int64_t sa);

}  // namespace astensor::impl::cpu
