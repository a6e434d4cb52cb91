#pragma once
/// ArrayView: a strided array somebody else owns (NumPy, a buffer, __array_interface__,
/// DLPack, __cuda_array_interface__, or a plain C++ buffer). Strides are in BYTES and may be
/// negative or not a multiple of the item size (packed fields, ARR-5); `data` points at
/// element [0,...,0] and may be misaligned (ARR-6). `owner` keeps the producer alive for as
/// long as any tensor shares the memory (ARR-2).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "core/device.h"
#include "core/dims.h"
#include "core/dtype.h"

namespace astensor {

class Pending;  // core/pending.h

struct ArrayView {
  const void* data = nullptr;  ///< element [0,...,0]; may be null when numel == 0
  DType dtype = DType::float32;
  Dims shape;                  ///< elements per dimension
  Dims byte_strides;           ///< bytes, signed; same length as shape
  Device device = Device::cpu();
  bool byteswapped = false;    ///< non-native byte order (ARR-4)
  bool read_only = false;      ///< ARR-7
  std::shared_ptr<void> owner; ///< released when the last sharing tensor goes away
  /// CUDA producers (CAI-3, DLP-2): the stream the producer's pending work is on; the
  /// consumer orders its reads after it. nullopt: nothing to wait for.
  std::optional<intptr_t> stream;
  /// One of our own results still being written (a non-blocking conversion's, Note [Pending
  /// results]): the consumer orders its device reads after it (its event, which lives as long
  /// as this pointer, so the stream the work ran on may already be gone). Null: nothing.
  std::shared_ptr<Pending> pending;

  /// A C-contiguous view of `shape` over `data`.
  static ArrayView contiguous(const void* data, DType dtype, Dims shape,
                              std::shared_ptr<void> owner = nullptr, bool read_only = false,
                              Device device = Device::cpu());
};

/// Checks that a view describes memory that can exist (issue 7: hostile producers): shape
/// entries >= 0; numel * itemsize and every stride * (size - 1) fit in int64 and the touched
/// byte range does not wrap the address space; data is non-null when numel > 0.
/// ValueError naming the field and the value otherwise. Returns numel.
int64_t validate(const ArrayView& v);

/// True when every dimension that matters (size > 1, numel > 0) has a byte stride that is a
/// multiple of the item size, so the view can be shared with element strides (ARR-1, ARR-5).
bool has_element_strides(const ArrayView& v);
/// The element strides of a view that has_element_strides(): byte stride / itemsize; a
/// dimension that does not matter gets its C-contiguous stride when its byte stride is not a
/// multiple (numpy/numpy#23349: the stride of a size-1 dim must not force a copy).
Dims element_strides(const ArrayView& v);

}  // namespace astensor
