#pragma once
/// The reference as_tensor: SPEC.md applied literally, on the CPU with plain loops, and on
/// devices with blocking copies and host-side casts. No threads, no SIMD, no pinned memory.
/// A reader checks it against SPEC.md line by line; the optimized implementation is checked
/// against it (XFER-3).

#include "core/source.h"
#include "core/tensor.h"

namespace astensor::reference {

/// SPEC ARG-1: converts `source` per TEN-*, ARR-*, SEQ-*, DT-*, GRAD-*, COPY-1, DEV-*.
Tensor as_tensor(const Source& source, const Options& options = {});

/// The reference's sequence reading (SEQ-2, SEQ-3, SEQ-6), exposed for tests: the shape and
/// inferred dtype of nested data, without converting it.
struct SequenceShape {
  Dims shape;
  DType dtype;
};
SequenceShape infer_sequence(SequenceReader& reader, std::optional<DType> dtype);

}  // namespace astensor::reference
