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
#include <concepts>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/cast.h"
#include "core/convert.h"
#include "core/defaults.h"
#include "core/error.h"
#include "core/sequence.h"
#include "core/sequence_rules.h"
#include "core/source.h"
#include "core/store_scalar.h"
#include "core/trace.h"
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

/// Optional reader hook for runs of plain scalars (the CPython reader has it; the virtual
/// interface does not). `r.scan_scalars(seq, begin, end, f)` calls `f(i, leaf)` for the
/// children i = begin, begin+1, ... of the sequence `seq` while the child is a scalar that the
/// reader can read without running foreign code (exact float/int/bool for CPython), where
/// `leaf` is exactly what inspect() would report for it; it stops at the first other child,
/// at `end`, at the sequence's current end, or when f returns false, and returns the index of
/// the first child it did not consume. The walkers treat every consumed child exactly as
/// their generic Scalar case would, and walk the others generically (Note [Scalar runs]).
/// `r.is_plain(node)`: true when inspecting the node, taking its children and reading it as
/// a leaf run no foreign code and cannot fail except by the walkers' own checks (CPython:
/// exact list, tuple, float, int, bool). Used by the speculative fill (Note [Speculative fill]).
template <class R>
concept HasScalarScan = requires(R& r, NodeRef n, bool (*f)(int64_t, const ScalarLeaf&)) {
  { r.scan_scalars(n, int64_t{}, int64_t{}, f) } -> std::same_as<int64_t>;
  { r.is_plain(n) } -> std::same_as<bool>;
};

// Note [Scalar runs]: the innermost sequences of nested Python data are long runs of exact
// floats/ints/bools. Walking each as a node (inspect, child, a held reference, the dtype fold
// through leaf_dtype) cost ~60-120 ns per element; a run is read straight from the list's item
// array with no reference taken, which is safe because nothing in a run executes Python code
// (the list cannot change under us), and a child that is not plain ends the run and goes
// through the generic walk, whose checks and errors are the reference's.

/// leaf_dtype() for a leaf of a scalar run, with the default float dtype read once per run.
inline DType run_leaf_dtype(const ScalarLeaf& s, DType default_float) {
  if (s.dtype) return *s.dtype;
  switch (s.kind) {
    case ScalarLeaf::Kind::Bool: return DType::bool_;
    case ScalarLeaf::Kind::Float: return default_float;
    case ScalarLeaf::Kind::Complex: return default_complex_dtype();
    default: return DType::int64;
  }
}

// The shared rules and error wording of nested data (core/sequence_rules.h): the reference
// throws through the same functions, so the messages are identical by construction.
using seq::block_dtype;
using seq::block_shape;
using seq::block_view;
using seq::fail_block_shape;
using seq::fail_changed;
using seq::fail_changed_length;
using seq::fail_depth;
using seq::fail_kind;
using seq::fail_length;
using seq::fail_promote;
using seq::kMaxDepth;
using seq::leaf_dtype;
/// Copies an array/tensor leaf into `out` (contiguous, `dtype`) with the CPU kernels.
/// Returns the elements written.
int64_t copy_block(const Block& b, std::size_t d, std::size_t ndim, DType dtype, char* out,
                   const std::vector<int64_t>& path);

/// Stores the common leaves without going through store_scalar's dtype switch; false when
/// the leaf needs the general checked store. Identical results to store_scalar by
/// construction: the same cast_value calls for the same kinds.
template <class T>
inline bool store_fast(const ScalarLeaf& s, char* out);

// Note [Speculative fill]: for plain data (every node an exact list/tuple/float/int/bool,
// R::is_plain), walk 1 also stores each leaf, with store_fast (blocks: copy_block), into an output of the dtype
// known at the first leaf (the given dtype, or the first leaf's), so walk 2 is skipped when
// at the end the inferred dtype is that one and every leaf was stored. The result is the one
// walk 2 would give: no foreign code ran (plain nodes only), so walk 2 would read the same
// leaves, and it too stores them with store_fast first. Anything else (a non-plain node, a
// leaf store_fast refuses, a dtype change) drops the speculative output and walk 2
// runs as usual, with its checks and errors. The output is allocated once the shape is known
// (at the first leaf), so its size comes from real list lengths; capped as a precaution.
inline constexpr std::size_t kMaxSpeculativeBytes = std::size_t(1) << 32;

struct Speculation {
  bool possible = true;   // every node so far was plain
  bool active = false;    // storing into `storage`
  DType dtype = DType::float32;
  std::size_t isz = 4;  // itemsize(dtype), kept here: itemsize() is an out-of-line call
  std::shared_ptr<Storage> storage;
  char* out = nullptr;
  char* end = nullptr;

  void drop() {
    possible = active = false;
    storage.reset();
  }
  bool store(const ScalarLeaf& s) {
    if (out == end) return false;
    bool ok;
    switch (dtype) {
      case DType::float32: ok = store_fast<float>(s, out); break;
      case DType::float64: ok = store_fast<double>(s, out); break;
      case DType::int64: ok = store_fast<int64_t>(s, out); break;
      case DType::bool_: ok = store_fast<bool>(s, out); break;
      default: ok = false;
    }
    if (ok) out += isz;
    return ok;
  }
  void start(const Dims& shape, DType d) {
    std::size_t bytes = itemsize(d);
    for (int64_t n : shape)
      if (n < 0 || __builtin_mul_overflow(bytes, static_cast<std::size_t>(n), &bytes) ||
          bytes > kMaxSpeculativeBytes) {
        drop();
        return;
      }
    storage = cpu::allocate_host(bytes);
    dtype = d;
    isz = itemsize(d);
    out = static_cast<char*>(storage->data());
    end = out + bytes;
    active = true;
  }
  /// A block leaf (SEQ-4) copied in bulk, as walk 2 would (copy_block with the same dtype).
  /// Anything unexpected drops the speculation: walk 2 then meets it in the reference's order.
  void copy(const Block& b, std::size_t d, std::size_t ndim, const std::vector<int64_t>& path) {
    int64_t numel = 1;
    for (int64_t n : block_shape(b))
      if (n < 0 || __builtin_mul_overflow(numel, n, &numel)) return drop();
    const std::size_t bytes = static_cast<std::size_t>(numel) * itemsize(dtype);
    if (static_cast<std::size_t>(end - out) < bytes) return drop();
    try {
      out += copy_block(b, d, ndim, dtype, out, path) * static_cast<int64_t>(itemsize(dtype));
    } catch (...) {
      drop();
    }
  }
  /// The complete output of `dtype`, or null.
  std::shared_ptr<Storage> take(DType final_dtype) {
    if (!active || out != end || final_dtype != dtype) return nullptr;
    active = false;
    return std::move(storage);
  }
};

template <class R>
struct Infer {
  R& r;
  bool infer;                // no dtype given: fold the promotion
  Dims shape;
  bool open = true;          // still discovering the shape along the first children
  std::optional<DType> acc;
  std::vector<int64_t> path;
  NodeInfo info;             // scratch, reused for every node
  std::optional<DType> given;  // the dtype= option (speculation only)
  bool speculate = false;      // Note [Speculative fill]
  Speculation spec;

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
    if constexpr (HasScalarScan<R>) {
      if (spec.possible && !r.is_plain(n)) spec.drop();
    }
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
        // One path slot for all children (the path is only read when an error is raised).
        path.push_back(0);
        for (int64_t i = 0; i < len; ++i) {
          if constexpr (HasScalarScan<R>) {
            // Children must be scalars here: consume the plain ones as a run (the generic
            // Scalar case with the shape check already known to pass).
            if (!open && d + 1 == shape.size()) {
              const DType fdt = default_dtype();
              i = r.scan_scalars(n, i, len, [&](int64_t j, const ScalarLeaf& s) {
                if (infer) {
                  const DType dt = run_leaf_dtype(s, fdt);
                  if (!(acc && dt == *acc)) {
                    path.back() = j;
                    fold(dt);
                  }
                }
                if (spec.active && !spec.store(s)) spec.drop();
                return true;
              });
              if (i >= len) break;
            }
          }
          path.back() = i;
          walk(r.child(n, i), d + 1);
        }
        path.pop_back();
        return;
      }
      case NodeKind::Scalar: {
        const bool first = open;
        if (open) open = false;
        else if (d != shape.size()) fail_kind(d, info, r.describe(n), shape, path);
        fold(info.scalar.dtype ? *info.scalar.dtype : leaf_dtype(info.scalar));
        if constexpr (HasScalarScan<R>) {
          if (first && speculate && spec.possible) spec.start(shape, given ? *given : *acc);
          if (spec.active && !spec.store(info.scalar)) spec.drop();
        }
        return;
      }
      case NodeKind::Block: {
        const bool first = open;
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
        if constexpr (HasScalarScan<R>) {
          if (first && speculate && spec.possible) spec.start(shape, given ? *given : *acc);
          if (spec.active) spec.copy(info.block, d, shape.size(), path);
        }
        return;
      }
      case NodeKind::Invalid:
        open = false;
        fail_kind(d, info, r.describe(n), shape, path);
    }
  }
};

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
        path.push_back(0);
        for (int64_t i = 0; i < len; ++i) {
          if constexpr (HasScalarScan<R>) {
            if (d + 1 == shape.size()) {  // a run of leaves: store_fast, as the Scalar case
              char* o = out;
              i = r.scan_scalars(n, i, len, [&o](int64_t, const ScalarLeaf& s) {
                if (!store_fast<T>(s, o)) return false;
                o += sizeof(T);
                return true;
              });
              out = o;
              if (i >= len) break;
            }
          }
          path.back() = i;
          walk(r.child(n, i), d + 1, out);
        }
        path.pop_back();
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
  ASTENSOR_RANGE("sequence_infer");
  seq_detail::Infer<R> w{reader, !dtype.has_value(), {}, true, std::nullopt, {}, {}, std::nullopt, false, {}};
  w.walk(reader.root(), 0);
  return {std::move(w.shape), dtype ? *dtype : w.acc.value_or(default_dtype())};
}

/// Walk 2: writes the values, row-major, into `out` (numel * itemsize(s.dtype) bytes).
template <class R>
void fill_sequence_fast(R& reader, const SequenceShape& s, void* out) {
  ASTENSOR_RANGE("sequence_fill");
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
  Plan p = seq_detail::sequence_plan(infer_sequence_fast(reader, options.dtype), device);
  p.non_blocking = options.non_blocking;  // XFER-4: for the host result's transfer
  p.stream = options.stream;
  return p;
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
/// SequenceSource, with R's calls inlined; with R's scalar-run hooks, walk 1 also fills the
/// output when it can (Note [Speculative fill]): the same plan, one walk instead of two.
template <class R>
Tensor as_tensor_sequence(R& reader, const Options& options = {}) {
  if constexpr (seq_detail::HasScalarScan<R>) {
    const Device device = seq_detail::sequence_target(options);
    seq_detail::Infer<R> w{reader, !options.dtype.has_value(), {}, true, std::nullopt, {}, {},
                           options.dtype, true, {}};
    {
      ASTENSOR_RANGE("sequence_infer_and_fill");
      w.walk(reader.root(), 0);
    }
    Plan p = seq_detail::sequence_plan(
        SequenceShape{std::move(w.shape),
                      options.dtype ? *options.dtype : w.acc.value_or(default_dtype())},
        device);
    p.non_blocking = options.non_blocking;  // XFER-4: for the host result's transfer
    p.stream = options.stream;
    if (auto storage = w.spec.take(p.dtype)) {
      Tensor host = Tensor::make(std::move(storage), 0, p.shape, p.strides, p.dtype);
      if (p.decision == Decision::Transfer) return seq_detail::sequence_to_device(host, p);
      return host;
    }
    w.spec.drop();  // free it before walk 2 allocates
    return execute_sequence(reader, p);
  } else {
    return execute_sequence(reader, plan_sequence(reader, options));
  }
}

/// The same walks through the virtual interface (any reader).
SequenceShape infer_sequence(SequenceReader& reader, std::optional<DType> dtype);
void fill_sequence(SequenceReader& reader, const SequenceShape& s, void* out);

}  // namespace astensor::impl
