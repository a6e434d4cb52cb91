#pragma once
/// The cases' host data: page-aligned buffers, a deterministic fill valid for every dtype, and
/// the layout axis (contiguous, gathers, transposes) as views over such a buffer.

#include <cstddef>
#include <cstdint>

#include "core/source.h"

namespace astensor::bench {

/// A page-aligned anonymous mapping, pre-faulted (every page written) unless told not to.
/// Moves, never copies; unmapped in the destructor.
class HostBuffer {
 public:
  HostBuffer() = default;
  /// `huge`: 2 MiB-aligned with MADV_HUGEPAGE, as the optimized implementation maps its
  /// large outputs (impl/cpu/host_alloc.h), so that a fresh-output baseline pays the same
  /// faults as it (one per 2 MiB).
  explicit HostBuffer(std::size_t nbytes, bool prefault = true, bool huge = false);
  HostBuffer(HostBuffer&& o) noexcept;
  HostBuffer& operator=(HostBuffer&& o) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  template <class T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Fills a buffer with a deterministic pattern that is valid for `dtype` (finite floats,
/// small integers), so casts do not take NaN/overflow slow paths by accident.
void fill_pattern(void* data, DType dtype, int64_t numel);

/// The layout axis of copies and casts.
enum class Layout {
  Contig,      ///< 1-D, C-contiguous
  EveryOther,  ///< a[:, ::2] of a (rows, 2*cols) array: not dense, the copy gathers
  Transpose,   ///< a.T of a (rows, cols) array: dense, so TEN-3 keeps its strides
  /// a[:, ::2].T of a (rows, 2*cols) array: not dense, so the copy is C-contiguous and
  /// gathers down the source's columns (the tiled path of impl/cpu/copy.cpp)
  TransposeGather,
};
const char* layout_name(Layout l);  // "contig", "every_other", "transpose", "transpose_gather"
/// Bytes the backing buffer needs for `numel` elements of `dtype` in `layout`.
std::size_t layout_buffer_bytes(DType dtype, int64_t numel, Layout layout);
/// The view of `numel` elements of `dtype` in `layout` over `base` (which holds
/// layout_buffer_bytes()).
ArrayView layout_view(const void* base, DType dtype, int64_t numel, Layout layout);

/// A host array for a case: its own pre-faulted buffer, filled with fill_pattern().
struct HostArray {
  HostBuffer buffer;
  ArrayView view;
  int64_t numel = 0;
};
HostArray make_host_array(DType dtype, std::size_t bytes, Layout layout);

}  // namespace astensor::bench
