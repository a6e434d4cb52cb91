#pragma once
/// The rules of nested data that both implementations apply, written once: what a leaf
/// counts as for inference (SEQ-3), what a block leaf is (SEQ-4), the depth limit (SEQ-6), and
/// the wording of every nested-data error (SEQ-2, SEQ-3, SEQ-6). The reference
/// (reference/sequence.cpp) and the fast path (impl/sequence_fast.*) both throw through these
/// functions, so their errors are the same text by construction (XFER-3).

#include <cstddef>
#include <span>
#include <string>

#include "core/sequence.h"

namespace astensor::seq {

/// SEQ-6: at most this many levels of nesting; deeper (or self-referential) data is an error.
inline constexpr std::size_t kMaxDepth = 64;

/// SEQ-3: the dtype a scalar leaf counts as (its own dtype, else bool / int64 / the default
/// float / the default complex).
DType leaf_dtype(const ScalarLeaf& s);
/// SEQ-4: a block leaf's shape, dtype and strided view.
const Dims& block_shape(const Block& b);
DType block_dtype(const Block& b);
ArrayView block_view(const Block& b);

/// ValueError: nesting deeper than kMaxDepth (or a self-referential sequence).
[[noreturn]] void fail_depth(std::span<const int64_t> path);
/// TypeError: two leaf dtypes that PyTorch does not promote (DT-2).
[[noreturn]] void fail_promote(DType acc, DType d, std::span<const int64_t> path);
/// A node of the wrong kind at dim d: TypeError for a non-data leaf (`described` names it),
/// ValueError for a scalar/sequence/array where the shape wants another kind.
[[noreturn]] void fail_kind(std::size_t d, const NodeInfo& info, const std::string& described,
                            const Dims& shape, std::span<const int64_t> path);
/// ValueError (SEQ-2): "expected sequence of length N at dim D (got M)".
[[noreturn]] void fail_length(const Dims& shape, std::size_t d, int64_t got,
                              std::span<const int64_t> path);
/// ValueError: an array leaf whose shape is not the rest of the result's shape.
[[noreturn]] void fail_block_shape(const Dims& shape, std::size_t d, const Dims& got,
                                   std::span<const int64_t> path);
/// ValueError: the data changed between the inference walk and the fill walk.
[[noreturn]] void fail_changed(std::span<const int64_t> path);
[[noreturn]] void fail_changed_length(std::span<const int64_t> path);

}  // namespace astensor::seq
