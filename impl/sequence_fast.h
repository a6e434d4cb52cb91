#pragma once
/// The fast path for nested data (SEQ-1..6): the reference's algorithm with the same rules,
/// the same errors (kind, message and which one comes first: depth-first, row-major) and
/// two walks instead of three, written as templates over the reader type R so that a
/// `final` reader (the CPython one in python/, core's NestedReader) has its calls inlined:
///  1. infer: one walk that discovers the shape along the first children, checks every node
///     against it and folds the dtype promotion (SEQ-2, SEQ-3, SEQ-6);
///  2. fill: one walk that stores each leaf straight into the output with a per-dtype fast
///     path (the checked store of core/store_scalar.h for everything else, SEQ-5) and copies
///     each array/tensor leaf in bulk through the CPU gather/cast kernels (SEQ-4).
/// R must implement SequenceReader's four calls (root, inspect, child, describe); deriving
/// from SequenceReader is not required.

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/cast.h"
#include "core/convert.h"
#include "core/defaults.h"
#include "core/error.h"
#include "core/sequence.h"
#include "core/source.h"
#include "core/store_scalar.h"
#include "impl/cpu/copy.h"
#include "impl/cpu/host_alloc.h"
#include "impl/plan.h"

namespace astensor::impl {

/// The shape and dtype of nested data (walk 1).
struct SequenceShape {
  Dims shape;
  DType dtype = DType::float32;
};

namespace seq_detail {

inline constexpr std::size_t kMaxDepth = 64;

// Non-template pieces (sequence_fast.cpp): messages identical to reference/sequence.cpp.
DType leaf_dtype(const ScalarLeaf& s);
const Dims& block_shape(const Block& b);
DType block_dtype(const Block& b);
[[noreturn]] void fail_depth(const std::vector<int64_t>& path);
[[noreturn]] void fail_promote(DType acc, DType d, const std::vector<int64_t>& path);
[[noreturn]] void fail_kind(std::size_t d, const NodeInfo& info, const std::string& described,
                            const Dims& shape, const std::vector<int64_t>& path);
[[noreturn]] void fail_length(const Dims& shape, std::size_t d, int64_t got,
                              const std::vector<int64_t>& path);
[[noreturn]] void fail_block_shape(const Dims& shape, std::size_t d, const Dims& got,
                                   const std::vector<int64_t>& path);
[[noreturn]] void fail_changed(const std::vector<int64_t>& path);
[[noreturn]] void fail_changed_length(const std::vector<int64_t>& path);
/// Copies an array/tensor leaf into `out` (contiguous, `dtype`) with the CPU kernels.
/// Returns the elements written.
int64_t copy_block(const Block& b, std::size_t d, std::size_t ndim, DType dtype, char* out,
                   const std::vector<int64_t>& path);

template <class R>
struct Infer {
  R& r;
  bool infer;                // no dtype given: fold the promotion
  Dims shape;
  bool open = true;          // still discovering the shape along the first children
  std::optional<DType> acc;
  std::vector<int64_t> path;
  NodeInfo info;             // scratch, reused for every node

  void fold(DType d) {
    if (!infer) return;
    if (!acc) {
      acc = d;
      return;
    }
    if (d == *acc) return;
    auto p = promote_types(*acc, d);
    if (!p) fail_promote(*acc, d, path);
    acc = p;
  }

  void walk(NodeRef n, std::size_t d) {
    if (d > kMaxDepth) fail_depth(path);
    r.inspect(n, &info);
    switch (info.kind) {
      case NodeKind::Sequence: {
        const int64_t len = info.length;
        if (open) {  // on the first-children chain: this sequence defines dim d
          if (shape.size() == kMaxDepth) fail_depth(path);
          shape.push_back(len);
          if (len == 0) open = false;
        } else {
          if (d >= shape.size()) fail_kind(d, info, r.describe(n), shape, path);
          if (len != shape[d]) fail_length(shape, d, len, path);
        }
        for (int64_t i = 0; i < len; ++i) {
          path.push_back(i);
          walk(r.child(n, i), d + 1);
          path.pop_back();
        }
        return;
      }
      case NodeKind::Scalar:
        if (open) open = false;
        else if (d != shape.size()) fail_kind(d, info, r.describe(n), shape, path);
        fold(info.scalar.dtype ? *info.scalar.dtype : leaf_dtype(info.scalar));
        return;
      case NodeKind::Block: {
        const Dims& bs = block_shape(info.block);
        if (open) {
          open = false;
          for (int64_t s : bs) shape.push_back(s);
          if (shape.size() > kMaxDepth) fail_depth(path);
        } else if (bs.size() + d != shape.size() ||
                   !std::equal(bs.begin(), bs.end(), shape.begin() + static_cast<std::ptrdiff_t>(d))) {
          if (d < shape.size() || !bs.empty()) fail_block_shape(shape, d, bs, path);
        }
        fold(block_dtype(info.block));
        return;
      }
      case NodeKind::Invalid:
        open = false;
        fail_kind(d, info, r.describe(n), shape, path);
    }
  }
};

/// Stores the common leaves without going through store_scalar's dtype switch; false when
/// the leaf needs the general checked store. Identical results to store_scalar by
/// construction: the same cast_value calls for the same kinds.
template <class T>
inline bool store_fast(const ScalarLeaf& s, char* out) {
  using Kind = ScalarLeaf::Kind;
  if constexpr (std::is_floating_point_v<T> || detail::is_small_float_v<T> ||
                detail::is_complex_v<T>) {
    T v;
    switch (s.kind) {
      case Kind::Float: v = cast_value<T>(s.re); break;
      case Kind::Int: v = cast_value<T>(s.i); break;
      case Kind::Bool: v = cast_value<T>(s.b); break;
      default: return false;
    }
    std::memcpy(out, &v, sizeof(T));
    return true;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (s.kind == Kind::Int) std::memcpy(out, &s.i, sizeof(T));
    else if (s.kind == Kind::Bool) {
      const int64_t v = s.b ? 1 : 0;
      std::memcpy(out, &v, sizeof(T));
    } else return false;
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (s.kind != Kind::Bool) return false;
    std::memcpy(out, &s.b, 1);
    return true;
  } else {
    return false;
  }
}

template <class R, class T>
struct Fill {
  R& r;
  const Dims& shape;
  DType dtype;
  std::vector<int64_t> path;
  NodeInfo info;

  void walk(NodeRef n, std::size_t d, char*& out) {
    r.inspect(n, &info);
    switch (info.kind) {
      case NodeKind::Sequence: {
        // A reader over mutable objects may change between walks; never write past the end.
        if (!(d < shape.size() && info.length == shape[d])) fail_changed_length(path);
        const int64_t len = info.length;
        for (int64_t i = 0; i < len; ++i) {
          path.push_back(i);
          walk(r.child(n, i), d + 1, out);
          path.pop_back();
        }
        return;
      }
      case NodeKind::Scalar: {
        if (d != shape.size()) fail_changed(path);
        if (!store_fast<T>(info.scalar, out)) {
          StoreStatus st = store_scalar(info.scalar, dtype, out);
          if (st != StoreStatus::Ok) throw_store_error(st, r.describe(n), dtype, path);
        }
        out += sizeof(T);
        return;
      }
      case NodeKind::Block:
        out += copy_block(info.block, d, shape.size(), dtype, out, path) *
               static_cast<int64_t>(sizeof(T));
        return;
      case NodeKind::Invalid: fail_changed(path);
    }
  }
};

/// SEQ-1 / COPY-1 / DEV-1 / DEV-3, before reading anything (the reference's order): refuses
/// copy=False, then resolves the target device.
Device sequence_target(const Options& o);
/// The plan of nested data whose shape and dtype are known.
Plan sequence_plan(const SequenceShape& s, Device device);
/// Transfer (pending the pipeline): the host result moved to the plan's device.
Tensor sequence_to_device(const Tensor& host, const Plan& p);

}  // namespace seq_detail

/// Walk 1: shape and dtype (`dtype` given: only the structure is checked).
template <class R>
SequenceShape infer_sequence_fast(R& reader, std::optional<DType> dtype) {
  seq_detail::Infer<R> w{reader, !dtype.has_value(), {}, true, std::nullopt, {}, {}};
  w.walk(reader.root(), 0);
  return {std::move(w.shape), dtype ? *dtype : w.acc.value_or(default_dtype())};
}

/// Walk 2: writes the values, row-major, into `out` (numel * itemsize(s.dtype) bytes).
template <class R>
void fill_sequence_fast(R& reader, const SequenceShape& s, void* out) {
  dispatch_dtype(s.dtype, [&]<DType D>() {
    seq_detail::Fill<R, storage_t<D>> f{reader, s.shape, s.dtype, {}, {}};
    char* p = static_cast<char*>(out);
    f.walk(reader.root(), 0, p);
  });
}

/// The plan for nested data (walk 1 included).
template <class R>
Plan plan_sequence(R& reader, const Options& options) {
  const Device device = seq_detail::sequence_target(options);
  return seq_detail::sequence_plan(infer_sequence_fast(reader, options.dtype), device);
}

/// Runs a plan_sequence() plan: a fresh host tensor filled by walk 2, moved to the device.
template <class R>
Tensor execute_sequence(R& reader, const Plan& p) {
  auto storage = cpu::allocate_host(static_cast<std::size_t>(p.bytes_written));
  fill_sequence_fast(reader, SequenceShape{p.shape, p.dtype}, storage->data());
  Tensor host = Tensor::make(std::move(storage), 0, p.shape, p.strides, p.dtype);
  if (p.decision == Decision::Transfer) return seq_detail::sequence_to_device(host, p);
  return host;
}

/// as_tensor for nested data read through R (SEQ-*): what impl::as_tensor does with a
/// SequenceSource, with R's calls inlined.
template <class R>
Tensor as_tensor_sequence(R& reader, const Options& options = {}) {
  return execute_sequence(reader, plan_sequence(reader, options));
}

/// The same walks through the virtual interface (any reader).
SequenceShape infer_sequence(SequenceReader& reader, std::optional<DType> dtype);
void fill_sequence(SequenceReader& reader, const SequenceShape& s, void* out);

}  // namespace astensor::impl
