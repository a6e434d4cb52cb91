#pragma once
/// Nested: nested C++ data for as_tensor (scalars, sequences, array/tensor blocks, and
/// "invalid" leaves standing in for str/None), and NestedReader, its SequenceReader. This is
/// how C++ callers and the C++ conformance suites feed nested data, with the same rules as
/// Python lists.
///
///   Nested x = {{1, 2.5}, {true, 4}};
///   NestedReader r(x);
///   Tensor t = reference::as_tensor(SequenceSource{&r});

#include <complex>
#include <initializer_list>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/sequence.h"

namespace astensor {

class Nested {
 public:
  struct Invalid {
    std::string type_name;  // e.g. "str", "NoneType"
  };
  using List = std::vector<Nested>;
  /// An array/tensor leaf, held out of line and shared by copies: a Block is ~230 bytes, and
  /// held by value it made every Nested that size, so a list of a million floats took 240 MB
  /// and walking it was bound by memory bandwidth (Note [Compact Nested] in nested.cpp).
  using BlockRef = std::shared_ptr<const Block>;

  Nested() : v_(List{}) {}
  Nested(bool b) : v_(ScalarLeaf::of_bool(b)) {}                 // NOLINT
  Nested(int v) : v_(ScalarLeaf::of_int(v)) {}                   // NOLINT
  Nested(long v) : v_(ScalarLeaf::of_int(v)) {}                  // NOLINT
  Nested(long long v) : v_(ScalarLeaf::of_int(v)) {}             // NOLINT
  Nested(unsigned long long v) : v_(ScalarLeaf::of_uint(v)) {}   // NOLINT
  Nested(unsigned long v) : v_(ScalarLeaf::of_uint(v)) {}        // NOLINT
  Nested(double v) : v_(ScalarLeaf::of_float(v)) {}              // NOLINT
  Nested(std::complex<double> v) : v_(ScalarLeaf::of_complex(v.real(), v.imag())) {}  // NOLINT
  Nested(ScalarLeaf s) : v_(s) {}                                // NOLINT
  Nested(std::initializer_list<Nested> l) : v_(List(l)) {}       // NOLINT
  Nested(List l) : v_(std::move(l)) {}                           // NOLINT
  Nested(Tensor t) : v_(std::make_shared<const Block>(std::move(t))) {}     // NOLINT
  Nested(ArrayView a) : v_(std::make_shared<const Block>(std::move(a))) {}  // NOLINT
  Nested(Invalid i) : v_(std::move(i)) {}                        // NOLINT

  /// A scalar with its own dtype, like a NumPy scalar: Nested::typed(DType::float16, 1.0).
  static Nested typed(DType dtype, double value);
  /// An integer beyond 64 bits, given by its double value (like a Python int 2**70).
  static Nested big_int(double approx);

  const std::variant<List, ScalarLeaf, BlockRef, Invalid>& value() const { return v_; }

 private:
  std::variant<List, ScalarLeaf, BlockRef, Invalid> v_;
};

class NestedReader final : public SequenceReader {
 public:
  explicit NestedReader(const Nested& root) : root_(&root) {}
  NodeRef root() override { return root_; }
  void inspect(NodeRef node, NodeInfo* out) override;
  NodeRef child(NodeRef seq, int64_t i) override;
  std::string describe(NodeRef node) override;

 private:
  const Nested* root_;
};

}  // namespace astensor
