#pragma once
/// The plain converter: element-at-a-time DT-3 conversion between strided buffers and
/// blocking moves between devices. Obviously correct and slow on purpose: the reference and
/// autograd use it; the optimized implementation (impl/) has its own kernels and is checked
/// against it (XFER-3).

#include <span>

#include "core/array_view.h"
#include "core/tensor.h"

namespace astensor {

/// Converts every element of the host view `src` (any byte strides, byte order) into the
/// host buffer `dst` laid out with element strides `dst_strides` (same shape), dtype
/// `dst_dtype`. Row-major visiting order; one cast_one per element.
void convert_plain(const ArrayView& src, void* dst, DType dst_dtype,
                   std::span<const int64_t> dst_strides);

/// A tensor's elements as an ArrayView (byte strides), on its own device, sharing memory, for
/// reading: waits first for work still writing them (Note [Pending results]).
ArrayView view_of(const Tensor& t);

/// view_of for reads that run on a device's streams (the optimized transfer pipeline): a
/// device tensor still being written is not waited for; its view carries the work's Pending
/// (ArrayView::pending), and the pipeline orders its own streams after it, as for any producer
/// (wait_producer, CAI-3/DLP-2). So non-blocking conversions chain without a host
/// wait (XFER-4). A host tensor's bytes are read by the host: waited for, as view_of.
ArrayView device_view_of(const Tensor& t);

/// Copies `src` (host or device) into a new tensor of `dtype` on resolved device `device`,
/// with the TEN-3 layout: device sources are first moved to the host raw, the cast runs on
/// the host, the result is moved to the device with one blocking copy.
Tensor copy_plain(const ArrayView& src, DType dtype, Device device);

}  // namespace astensor
