#pragma once
/// What as_tensor converts (DESIGN.md "Source") and how (Options, SPEC ARG-1 / COPY-1).

#include <optional>
#include <variant>

#include "core/array_view.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/sequence.h"
#include "core/tensor.h"

namespace astensor {

/// Nested Python or C++ data is read through the reader, which must outlive the call.
struct SequenceSource {
  SequenceReader* reader;
};

using Source = std::variant<Tensor, ArrayView, SequenceSource>;

struct Options {
  std::optional<DType> dtype;    ///< nullopt: keep / infer
  std::optional<Device> device;  ///< nullopt: DEV-1
  /// COPY-1: nullopt = share when the rules allow; true = always new memory;
  /// false = never copy (ValueError saying why when a copy is needed).
  std::optional<bool> copy;
};

}  // namespace astensor
