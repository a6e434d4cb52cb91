#pragma once
/// SEQ-5: storing a Python value (or a NumPy scalar, read as the Python value it stands for)
/// into an element of a dtype, with range checks. One definition shared by the reference and
/// the optimized fill, so both accept and refuse exactly the same values with the same errors.

#include <functional>
#include <string>

#include "core/sequence.h"

namespace astensor {

enum class StoreStatus : uint8_t {
  Ok,
  OutOfRange,      // integer dtype cannot hold the value (incl. negative into unsigned)
  NotFinite,       // NaN or inf into an integer dtype
  ComplexToReal,   // complex value into a non-complex, non-bool dtype
  TooLargeForFloat // integer beyond double's range into a floating dtype
};

/// Writes the converted value to dst (itemsize(dtype) bytes, any alignment) and returns Ok,
/// or returns why not (dst untouched).
StoreStatus store_scalar(const ScalarLeaf& s, DType dtype, void* dst);

/// Throws the error for a failed store: OverflowError (OutOfRange, NotFinite,
/// TooLargeForFloat) or TypeError (ComplexToReal), naming the value, the dtype and the path.
[[noreturn]] void throw_store_error(StoreStatus st, const std::string& value_text, DType dtype,
                                    std::span<const int64_t> path);

}  // namespace astensor
