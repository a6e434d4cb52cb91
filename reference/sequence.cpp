// Reference reading of nested data (SEQ-1..6): three plain walks over the reader.
//  1. shape: follow the first child down;
//  2. check: visit every node depth-first in row-major order, checking lengths, kinds and
//     depth, and folding the promotion of the leaves' dtypes (when no dtype is given);
//  3. fill: visit again, storing each leaf with the checked store (SEQ-5) and each block
//     with the cast (DT-3).
// The first error in that order is the one reported; the optimized reader reports the same,
// through the same functions (core/sequence_rules.h).

#include <cstring>
#include <vector>

#include "core/cast.h"
#include "core/convert.h"
#include "core/defaults.h"
#include "core/error.h"
#include "core/sequence_rules.h"
#include "core/store_scalar.h"
#include "reference/as_tensor.h"

namespace astensor::reference {

namespace {

using seq::block_dtype;
using seq::block_shape;
using seq::block_view;
using seq::kMaxDepth;
using seq::leaf_dtype;

struct Walker {
  SequenceReader& r;
  Dims shape;
  bool infer;
  std::optional<DType> acc;  // promotion fold so far
  std::vector<int64_t> path;

  void discover() {
    NodeRef n = r.root();
    NodeInfo info;
    for (;;) {
      r.inspect(n, &info);
      if (info.kind == NodeKind::Sequence) {
        if (shape.size() == kMaxDepth) seq::fail_depth(path);
        shape.push_back(info.length);
        if (info.length == 0) return;
        n = r.child(n, 0);
        path.push_back(0);
      } else if (info.kind == NodeKind::Block) {
        for (int64_t s : block_shape(info.block)) shape.push_back(s);
        if (shape.size() > kMaxDepth) seq::fail_depth(path);
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
    if (!p) seq::fail_promote(*acc, d, path);
    acc = p;
  }

  [[noreturn]] void fail_kind(std::size_t d, NodeRef n, const NodeInfo& info) {
    seq::fail_kind(d, info, r.describe(n), shape, path);
  }

  // Walk 2: structure and dtype.
  void check(NodeRef n, std::size_t d) {
    if (d > kMaxDepth) seq::fail_depth(path);
    NodeInfo info;
    r.inspect(n, &info);
    switch (info.kind) {
      case NodeKind::Sequence: {
        if (d >= shape.size()) fail_kind(d, n, info);
        if (info.length != shape[d]) seq::fail_length(shape, d, info.length, path);
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
          if (d < shape.size() || !bs.empty()) seq::fail_block_shape(shape, d, bs, path);
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
        if (!(d < shape.size() && info.length == shape[d])) seq::fail_changed_length(path);
        for (int64_t i = 0; i < info.length; ++i) {
          path.push_back(i);
          fill(r.child(n, i), d + 1, out, dtype);
          path.pop_back();
        }
        return;
      case NodeKind::Scalar: {
        if (d != shape.size()) seq::fail_changed(path);
        StoreStatus st = store_scalar(info.scalar, dtype, out);
        if (st != StoreStatus::Ok) throw_store_error(st, r.describe(n), dtype, path);
        out += isz;
        return;
      }
      case NodeKind::Block: {
        ArrayView v = block_view(info.block);
        int64_t count = validate(v);
        if (d + v.shape.size() != shape.size()) seq::fail_changed(path);
        Tensor host;  // device blocks are brought to the host first
        if (!v.device.is_cpu()) {
          host = copy_plain(v, v.dtype, Device::cpu());
          v = view_of(host);
        }
        convert_plain(v, out, dtype, contiguous_strides(v.shape.span()).span());
        out += static_cast<std::size_t>(count) * isz;
        return;
      }
      case NodeKind::Invalid: seq::fail_changed(path);
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
