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
  /// [ext] XFER-4 (issue 15): when the conversion queues device work, return once the
  /// source has been read (it may be modified or freed at once), without waiting for the
  /// rest of that work; the result's storage carries the completion (Note [Pending
  /// results], core/pending.h). Conversions without device work ignore it.
  bool non_blocking = false;
  /// [ext] XFER-4 (issue 15): a stream of the target device (a backend StreamHandle:
  /// cudaStream_t on CUDA) the conversion's device work is ordered on: work queued later on
  /// it sees the result. nullptr: the library's current stream of that device.
  void* stream = nullptr;
};

/// DEV-1/DEV-2/DEV-3: the device a conversion's result lives on: `o.device`, else the default
/// device (DEV-1), else `own` (the source's device for tensors, arrays, DLPack and CAI, which
/// keep it; nullopt for Python data: the CPU). Resolved: RuntimeError for an absent device.
Device target_device(const Options& o, std::optional<Device> own);

}  // namespace astensor
