#pragma once
/// SequenceReader: "a nested sequence of scalars", read by both implementations' inference
/// and fill algorithms (DESIGN.md). The Python layer implements it over CPython objects, C++
/// over Nested values (nested.h). Node handles are opaque and stay valid until the reader is
/// destroyed.

#include <complex>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "core/array_view.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace astensor {

/// A scalar leaf: a Python bool/int/float/complex, or a NumPy scalar / 0-d array / one-element
/// block carrying its own dtype.
struct ScalarLeaf {
  enum class Kind : uint8_t {
    Bool,     // b
    Int,      // i: an integer that fits int64
    UInt,     // u: an integer in (INT64_MAX, UINT64_MAX]
    BigInt,   // beyond 64 bits; re = its value as a double (inf when even that overflows)
    Float,    // re
    Complex,  // re, im
  };
  Kind kind = Kind::Int;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double re = 0, im = 0;
  /// The leaf's own dtype for inference (SEQ-3): NumPy scalars and 0-d arrays. nullopt for
  /// Python scalars, which count as bool/int64/default float/default complex.
  std::optional<DType> dtype;

  static ScalarLeaf of_bool(bool v) { ScalarLeaf s; s.kind = Kind::Bool; s.b = v; return s; }
  static ScalarLeaf of_int(int64_t v) { ScalarLeaf s; s.kind = Kind::Int; s.i = v; return s; }
  static ScalarLeaf of_uint(uint64_t v);  // Int when it fits int64
  static ScalarLeaf of_float(double v) { ScalarLeaf s; s.kind = Kind::Float; s.re = v; return s; }
  static ScalarLeaf of_complex(double r, double i) {
    ScalarLeaf s; s.kind = Kind::Complex; s.re = r; s.im = i; return s;
  }
  /// Reads one element of `dtype` at `p` (native order) as a leaf carrying that dtype.
  static ScalarLeaf from_element(const void* p, DType dtype);
};

/// A sub-block leaf (SEQ-4): an array or a tensor nested in the sequence.
using Block = std::variant<Tensor, ArrayView>;

enum class NodeKind : uint8_t { Sequence, Scalar, Block, Invalid };

using NodeRef = const void*;

struct NodeInfo {
  NodeKind kind = NodeKind::Invalid;
  int64_t length = 0;   // Sequence
  ScalarLeaf scalar;    // Scalar
  Block block;          // Block
};

class SequenceReader {
 public:
  virtual ~SequenceReader() = default;
  virtual NodeRef root() = 0;
  /// Classifies a node. Sequence: fills length. Scalar: fills scalar. Block: fills block.
  /// Invalid: a leaf that is not data (str, None, ...): describe() names it.
  /// May throw the project's errors (a __len__ that raises, an int too large...).
  virtual void inspect(NodeRef node, NodeInfo* out) = 0;
  /// Child i of a Sequence node, 0 <= i < length.
  virtual NodeRef child(NodeRef seq, int64_t i) = 0;
  /// For messages: "'str' object 'abc'", "int 12345678901234567890123".
  virtual std::string describe(NodeRef node) = 0;
};

/// Formats an index path for messages: "[1][0]"; "the top level" when empty.
std::string index_path_str(std::span<const int64_t> path);

}  // namespace astensor
