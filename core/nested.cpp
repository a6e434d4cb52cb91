#include "core/nested.h"

#include <cmath>
#include <cstring>

#include "core/cast.h"

namespace astensor {

Nested Nested::typed(DType dtype, double value) {
  // Round the value into the dtype first, then read it back as that dtype's leaf.
  unsigned char buf[16] = {};
  cast_one(&value, DType::float64, buf, dtype);
  return Nested(ScalarLeaf::from_element(buf, dtype));
}

Nested Nested::big_int(double approx) {
  ScalarLeaf s;
  s.kind = ScalarLeaf::Kind::BigInt;
  s.re = approx;
  return Nested(s);
}

// Note [Compact Nested]: a Nested is a node of a tree the walkers visit once per walk (the fast
// path walks twice, the reference three times), so its size is what a walk streams through
// memory. With Block (a Tensor or an ArrayView, ~230 bytes) held by value every node was 240
// bytes, and at a million floats the fast path's two walks were bound by this machine's memory
// bandwidth: 50 ns per element against 20 at a thousand, slower than the reference (44 ns, whose
// slower walks hid the misses). Blocks are rare leaves, so they are held out of line and the
// node is as large as a ScalarLeaf plus the variant's index (56 bytes on x86-64).
static_assert(sizeof(Nested) <= 64, "Note [Compact Nested]: a node should stay one cache line");

void NestedReader::inspect(NodeRef node, NodeInfo* out) {
  const auto& v = static_cast<const Nested*>(node)->value();
  if (auto* l = std::get_if<Nested::List>(&v)) {
    out->kind = NodeKind::Sequence;
    out->length = static_cast<int64_t>(l->size());
  } else if (auto* s = std::get_if<ScalarLeaf>(&v)) {
    out->kind = NodeKind::Scalar;
    out->scalar = *s;
  } else if (auto* b = std::get_if<Nested::BlockRef>(&v)) {
    out->kind = NodeKind::Block;
    out->block = **b;
  } else {
    out->kind = NodeKind::Invalid;
  }
}

NodeRef NestedReader::child(NodeRef seq, int64_t i) {
  const auto& l = std::get<Nested::List>(static_cast<const Nested*>(seq)->value());
  return &l.at(static_cast<std::size_t>(i));
}

std::string NestedReader::describe(NodeRef node) {
  const auto& v = static_cast<const Nested*>(node)->value();
  if (auto* inv = std::get_if<Nested::Invalid>(&v)) return "object of type '" + inv->type_name + "'";
  if (std::holds_alternative<Nested::List>(v)) return "a sequence";
  if (std::holds_alternative<Nested::BlockRef>(v)) return "an array";
  const auto& s = std::get<ScalarLeaf>(v);
  switch (s.kind) {
    case ScalarLeaf::Kind::Bool: return s.b ? "True" : "False";
    case ScalarLeaf::Kind::Int: return std::to_string(s.i);
    case ScalarLeaf::Kind::UInt: return std::to_string(s.u);
    case ScalarLeaf::Kind::BigInt: return "integer ~" + std::to_string(s.re);
    case ScalarLeaf::Kind::Float: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", s.re);
      return buf;
    }
    case ScalarLeaf::Kind::Complex: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "(%.17g%+.17gj)", s.re, s.im);
      return buf;
    }
  }
  return "?";
}

}  // namespace astensor
