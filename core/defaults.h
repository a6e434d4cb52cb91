#pragma once
/// Process-wide defaults (DT-4, DEV-1): the default floating dtype used to infer Python floats,
/// complexes and empty sequences, and the default device if one was set.

#include <optional>

#include "core/device.h"
#include "core/dtype.h"

namespace astensor {

/// DT-4: float16, bfloat16, float32 or float64; TypeError for any other dtype.
void set_default_dtype(DType d);
DType default_dtype();
/// The complex dtype Python complex numbers infer to: complex128 under a float64 default,
/// complex64 otherwise (SEQ-1).
DType default_complex_dtype();

/// DEV-1: once set, applies to every input whose call passes no device (tensors included).
/// nullopt restores "no default" (inputs keep their device; Python data goes to the CPU).
void set_default_device(std::optional<Device> d);
std::optional<Device> default_device();

}  // namespace astensor
