#include "core/sequence_rules.h"

#include <algorithm>

#include "core/convert.h"
#include "core/defaults.h"
#include "core/error.h"

namespace astensor::seq {

namespace {
std::string dims_tail(const Dims& shape, std::size_t from) {
  return Dims(std::span<const int64_t>(shape.data() + from, shape.size() - from)).str();
}
}  // namespace

DType leaf_dtype(const ScalarLeaf& s) {
  if (s.dtype) return *s.dtype;
  switch (s.kind) {
    case ScalarLeaf::Kind::Bool: return DType::bool_;
    case ScalarLeaf::Kind::Int:
    case ScalarLeaf::Kind::UInt:
    case ScalarLeaf::Kind::BigInt: return DType::int64;
    case ScalarLeaf::Kind::Float: return default_dtype();
    case ScalarLeaf::Kind::Complex: return default_complex_dtype();
  }
  return DType::float32;
}

const Dims& block_shape(const Block& b) {
  if (auto* t = std::get_if<Tensor>(&b)) return t->shape();
  return std::get<ArrayView>(b).shape;
}

DType block_dtype(const Block& b) {
  if (auto* t = std::get_if<Tensor>(&b)) return t->dtype();
  return std::get<ArrayView>(b).dtype;
}

ArrayView block_view(const Block& b) {
  if (auto* t = std::get_if<Tensor>(&b)) return view_of(*t);
  return std::get<ArrayView>(b);
}

void fail_depth(std::span<const int64_t> path) {
  throw ValueError(detail::str_cat("[as_tensor] nesting deeper than ", kMaxDepth,
                                   " levels (or a self-referential sequence) at ",
                                   index_path_str(path)));
}

void fail_promote(DType acc, DType d, std::span<const int64_t> path) {
  throw TypeError(detail::str_cat("[as_tensor] cannot infer a dtype: promoting ", name(acc),
                                  " with ", name(d), " (at ", index_path_str(path),
                                  ") is not supported, as in PyTorch; pass dtype= explicitly"));
}

void fail_kind(std::size_t d, const NodeInfo& info, const std::string& described,
               const Dims& shape, std::span<const int64_t> path) {
  if (info.kind == NodeKind::Invalid)
    throw TypeError(detail::str_cat("[as_tensor] cannot convert ", described, " at ",
                                    index_path_str(path),
                                    ": expected a number, a sequence or an array"));
  std::string got;
  if (info.kind == NodeKind::Sequence) got = detail::str_cat("a sequence of length ", info.length);
  else if (info.kind == NodeKind::Scalar) got = "a scalar " + described;
  else got = "an array of shape " + block_shape(info.block).str();
  if (d < shape.size())
    throw ValueError(detail::str_cat("[as_tensor] expected sequence of length ", shape[d],
                                     " at dim ", d, " (got ", got, ") at ", index_path_str(path)));
  throw ValueError(detail::str_cat("[as_tensor] expected a scalar at dim ", d, " (got ", got,
                                   ") at ", index_path_str(path), "; the shape is ", shape.str()));
}

void fail_length(const Dims& shape, std::size_t d, int64_t got, std::span<const int64_t> path) {
  throw ValueError(detail::str_cat("[as_tensor] expected sequence of length ", shape[d],
                                   " at dim ", d, " (got ", got, ") at ", index_path_str(path)));
}

void fail_block_shape(const Dims& shape, std::size_t d, const Dims& got,
                      std::span<const int64_t> path) {
  throw ValueError(detail::str_cat("[as_tensor] expected an array of shape ",
                                   dims_tail(shape, std::min(d, shape.size())), " at dim ", d,
                                   " (got shape ", got.str(), ") at ", index_path_str(path)));
}

void fail_changed(std::span<const int64_t> path) {
  throw ValueError(detail::str_cat("[as_tensor] the data at ", index_path_str(path),
                                   " changed during conversion"));
}

void fail_changed_length(std::span<const int64_t> path) {
  throw ValueError(detail::str_cat("[as_tensor] the sequence at ", index_path_str(path),
                                   " changed its length during conversion"));
}

}  // namespace astensor::seq
