// Reference reading of nested data (SEQ-1..6): three plain walks over the reader.
//  1. shape: follow the first child down;
//  2. check: visit every node depth-first in row-major order, checking lengths, kinds and
//     depth, and folding the promotion of the leaves' dtypes (when no dtype is given);
//  3. fill: visit again, storing each leaf with the checked store (SEQ-5) and each block
//     with the cast (DT-3).
// The first error in that order is the one reported; the optimized reader reports the same.

#include <cstring>
#include <vector>

#include "core/cast.h"
#include "core/convert.h"
#include "core/defaults.h"
#include "core/error.h"
#include "core/store_scalar.h"
#include "reference/as_tensor.h"

namespace astensor::reference {

namespace {

constexpr std::size_t kMaxDepth = 64;

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

/// SEQ-3: the dtype a scalar leaf counts as.
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

std::string dims_tail(const Dims& shape, std::size_t from) {
  return Dims(std::span<const int64_t>(shape.data() + from, shape.size() - from)).str();
}

struct Walker {
  SequenceReader& r;
  Dims shape;
  bool infer;
  std::optional<DType> acc;  // promotion fold so far
  std::vector<int64_t> path;

  [[noreturn]] void fail_depth() {
    throw ValueError(detail::str_cat("[as_tensor] nesting deeper than ", kMaxDepth,
                                     " levels (or a self-referential sequence) at ",
                                     index_path_str(path)));
  }

  void discover() {
    NodeRef n = r.root();
    NodeInfo info;
    for (;;) {
      r.inspect(n, &info);
      if (info.kind == NodeKind::Sequence) {
        if (shape.size() == kMaxDepth) fail_depth();
        shape.push_back(info.length);
        if (info.length == 0) return;
        n = r.child(n, 0);
        path.push_back(0);
      } else if (info.kind == NodeKind::Block) {
        for (int64_t s : block_shape(info.block)) shape.push_back(s);
        if (shape.size() > kMaxDepth) fail_depth();
        return;
      } else {
        return;
      }
    }
  }

  void fold(DType d) {
    if (!infer) return;
    if (!acc) {
      acc = d;
      return;
    }
    auto p = promote_types(*acc, d);
    ASTENSOR_CHECK_TYPE(p, "[as_tensor] cannot infer a dtype: promoting ", name(*acc), " with ",
                        name(d), " (at ", index_path_str(path),
                        ") is not supported, as in PyTorch; pass dtype= explicitly");
    acc = p;
  }

  [[noreturn]] void fail_kind(std::size_t d, NodeRef n, const NodeInfo& info) {
    if (info.kind == NodeKind::Invalid)
      throw TypeError(detail::str_cat("[as_tensor] cannot convert ", r.describe(n), " at ",
                                      index_path_str(path),
                                      ": expected a number, a sequence or an array"));
    std::string got;
    if (info.kind == NodeKind::Sequence) got = detail::str_cat("a sequence of length ", info.length);
    else if (info.kind == NodeKind::Scalar) got = "a scalar " + r.describe(n);
    else got = "an array of shape " + block_shape(info.block).str();
    if (d < shape.size())
      throw ValueError(detail::str_cat("[as_tensor] expected sequence of length ", shape[d],
                                       " at dim ", d, " (got ", got, ") at ", index_path_str(path)));
    throw ValueError(detail::str_cat("[as_tensor] expected a scalar at dim ", d, " (got ", got,
                                     ") at ", index_path_str(path), "; the shape is ",
                                     shape.str()));
  }

  // Walk 2: structure and dtype.
  void check(NodeRef n, std::size_t d) {
    if (d > kMaxDepth) fail_depth();
    NodeInfo info;
    r.inspect(n, &info);
    switch (info.kind) {
      case NodeKind::Sequence: {
        if (d >= shape.size()) fail_kind(d, n, info);
        if (info.length != shape[d])
          throw ValueError(detail::str_cat("[as_tensor] expected sequence of length ", shape[d],
                                           " at dim ", d, " (got ", info.length, ") at ",
                                           index_path_str(path)));
        for (int64_t i = 0; i < info.length; ++i) {
          path.push_back(i);
          check(r.child(n, i), d + 1);
          path.pop_back();
        }
        return;
      }
      case NodeKind::Scalar:
        if (d != shape.size()) fail_kind(d, n, info);
        fold(leaf_dtype(info.scalar));
        return;
      case NodeKind::Block: {
        const Dims& bs = block_shape(info.block);
        if (bs.size() + d != shape.size() ||
            !std::equal(bs.begin(), bs.end(), shape.begin() + static_cast<std::ptrdiff_t>(d))) {
          if (d < shape.size() || !bs.empty())
            throw ValueError(detail::str_cat("[as_tensor] expected an array of shape ",
                                             dims_tail(shape, std::min(d, shape.size())),
                                             " at dim ", d, " (got shape ", bs.str(), ") at ",
                                             index_path_str(path)));
        }
        fold(block_dtype(info.block));
        return;
      }
      case NodeKind::Invalid: fail_kind(d, n, info);
    }
  }

  // Walk 3: values, row-major into a contiguous buffer.
  void fill(NodeRef n, std::size_t d, char*& out, DType dtype) {
    NodeInfo info;
    r.inspect(n, &info);
    const std::size_t isz = itemsize(dtype);
    switch (info.kind) {
      case NodeKind::Sequence:
        // A reader over mutable objects may change between walks; never write past the end.
        ASTENSOR_CHECK_VALUE(d < shape.size() && info.length == shape[d],
                             "[as_tensor] the sequence at ", index_path_str(path),
                             " changed its length during conversion");
        for (int64_t i = 0; i < info.length; ++i) {
          path.push_back(i);
          fill(r.child(n, i), d + 1, out, dtype);
          path.pop_back();
        }
        return;
      case NodeKind::Scalar: {
        ASTENSOR_CHECK_VALUE(d == shape.size(), "[as_tensor] the data at ", index_path_str(path),
                             " changed during conversion");
        StoreStatus st = store_scalar(info.scalar, dtype, out);
        if (st != StoreStatus::Ok) throw_store_error(st, r.describe(n), dtype, path);
        out += isz;
        return;
      }
      case NodeKind::Block: {
        ArrayView v = block_view(info.block);
        int64_t count = validate(v);
        ASTENSOR_CHECK_VALUE(static_cast<std::size_t>(d) + v.shape.size() == shape.size(),
                             "[as_tensor] the data at ", index_path_str(path),
                             " changed during conversion");
        Tensor host;  // device blocks are brought to the host first
        if (!v.device.is_cpu()) {
          host = copy_plain(v, v.dtype, Device::cpu());
          v = view_of(host);
        }
        convert_plain(v, out, dtype, contiguous_strides(v.shape.span()).span());
        out += static_cast<std::size_t>(count) * isz;
        return;
      }
      case NodeKind::Invalid:
        throw ValueError(detail::str_cat("[as_tensor] the data at ", index_path_str(path),
                                         " changed during conversion"));
    }
  }
};

}  // namespace

SequenceShape infer_sequence(SequenceReader& reader, std::optional<DType> dtype) {
  Walker w{reader, {}, !dtype.has_value(), std::nullopt, {}};
  w.discover();
  w.path.clear();
  w.check(reader.root(), 0);
  return {w.shape, dtype ? *dtype : w.acc.value_or(default_dtype())};
}

// Used by as_tensor.cpp: fills a new host tensor.
Tensor fill_sequence(SequenceReader& reader, std::optional<DType> dtype) {
  SequenceShape s = infer_sequence(reader, dtype);
  int64_t numel = checked_numel(s.shape.span());
  auto storage = Storage::allocate(static_cast<std::size_t>(numel) * itemsize(s.dtype), Device::cpu());
  Walker w{reader, s.shape, false, std::nullopt, {}};
  char* out = static_cast<char*>(storage->data());
  w.fill(reader.root(), 0, out, s.dtype);
  return Tensor::make(std::move(storage), 0, s.shape, contiguous_strides(s.shape.span()), s.dtype);
}

}  // namespace astensor::reference
