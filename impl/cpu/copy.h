#pragma once
/// Host copies of the optimized implementation: a strided source (any byte strides, byte
/// order, alignment) converted into a dense destination in one pass, the cast fused into the
/// gather, split across threads when it is large enough to pay for them.

#include <cstdint>
#include <span>

#include "core/dims.h"
#include "core/dtype.h"

namespace astensor::impl::cpu {

/// A copy reduced to its simplest form (computed by the planner, executed by run_copy):
/// the dimensions in the DESTINATION's memory order, outermost first, with size-1 dimensions
/// dropped and neighbours merged when the source strides chain (outer == inner * size). The
/// destination is dense in that order (each element right after the previous one), so only
/// the source needs strides. The innermost dimension is the run a kernel converts at once.
struct CopyLayout {
  Dims shape;        ///< collapsed sizes, outermost first; empty = a single element
  Dims src_strides;  ///< source byte strides of those dims (any sign; 0 = broadcast)
  int64_t numel = 0;
  /// The two innermost dims are copied in tiles of kTileOuter x kTileInner elements: the
  /// innermost one has a large source stride (a transpose-like gather) and the one outside
  /// it a smaller one, so row-by-row runs would touch a new cache line per element. A tile
  /// keeps its source lines in cache while its runs use them. The inner side is only 8
  /// because power-of-two strides put a tile's columns in the same cache set (8 <= the
  /// associativity); measured best of 64x64, 64x16, 256x8, 512x8 (impl/cpu/NOTES.md).
  bool tiled = false;
  static constexpr int64_t kTileOuter = 256, kTileInner = 8;

  /// One run whose source elements follow each other (a memcpy or a contiguous cast).
  bool contiguous(std::size_t src_itemsize) const {
    return shape.empty() ||
           (shape.size() == 1 && src_strides[0] == static_cast<int64_t>(src_itemsize));
  }
};

/// The width of a tiled copy's tiles (l.tiled): kTileInner, or kTileKernelCols where an
/// in-register tile kernel exists for the pair and the outer stride (kernels.h). One
/// function, so that run_copy and the plan's explain() say the same.
int64_t tile_columns(const CopyLayout& l, DType from, DType to, bool byteswap);

/// Collapses a copy of `shape` from byte strides `src_byte_strides` into element strides
/// `dst_strides` (dense, non-negative: core copy_strides' layouts).
CopyLayout collapse(std::span<const int64_t> shape, std::span<const int64_t> src_byte_strides,
                    std::span<const int64_t> dst_strides);

/// Threads worth using for a copy that reads plus writes `bytes` (1 below
/// parallel_min_bytes(); never more than the OpenMP thread limit).
int threads_for(int64_t bytes);
/// The bytes (read + written) a copy must move per thread before another thread is used:
/// measured (impl/cpu/NOTES.md "Threads"); ASTENSOR_PARALLEL_MIN_BYTES overrides it.
int64_t parallel_min_bytes();
/// The most threads a copy uses (OpenMP's limit: OMP_NUM_THREADS or the core count; 1 in
/// a process forked from one that loaded the library, Note [OpenMP and fork] in copy.cpp).
int max_threads();
/// True in a child process created by fork() after the library was loaded.
bool in_forked_child();

/// Executes a copy: `src` points at the source's element [0,...,0], `dst` at the start of the
/// dense destination. `threads` as chosen by the planner (>= 1).
void run_copy(const CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
              DType to, int threads);

/// A part of a copy: the elements [first, last) of `layout` in destination order, written
/// to `dst`, which holds element `first` (a staging chunk of the transfer pipeline,
/// impl/transfer). Same kernels and threading as run_copy (run_copy is the whole range).
void run_copy_range(const CopyLayout& layout, const void* src, DType from, bool byteswap,
                    void* dst, DType to, int64_t first, int64_t last, int threads);

}  // namespace astensor::impl::cpu
