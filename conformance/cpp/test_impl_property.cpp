// XFER-3 as a property: for generated inputs, impl::as_tensor and reference::as_tensor give
// identical results (values bit for bit, dtype, shape, strides, sharing, read-only, autograd,
// error kind and message). Inputs: every dtype pair, 0-d and zero-size shapes, strides that
// are permuted, negative, broadcast (0) or not multiples of the item size (ARR-5), byte
// orders (ARR-4), misaligned pointers (ARR-6), read-only sources (ARR-7), copy=None/True/False
// (COPY-1), tensors with autograd (GRAD-1, GRAD-3), nested data with errors (SEQ-*).
// rapidcheck prints the seed of a failure; replay with RC_PARAMS="seed=<n>".
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <vector>

#include "core/autograd.h"
#include "core/cast.h"
#include "core/nested.h"
#include "impl/sequence_fast.h"
#include "impl_compare.h"

using namespace astensor;

namespace {

constexpr int kNumDt = 15;

rc::Gen<DType> gen_dtype() {
  return rc::gen::map(rc::gen::inRange(0, kNumDt), [](int i) { return static_cast<DType>(i); });
}

Options gen_options(bool allow_copy_false = true) {
  Options o;
  if (*rc::gen::inRange(0, 3) != 0) o.dtype = *gen_dtype();
  const int c = *rc::gen::inRange(0, allow_copy_false ? 4 : 3);
  if (c == 1) o.copy = true;
  if (c == 2 && allow_copy_false) o.copy = false;
  return o;
}

/// A random strided view over a random buffer (kept alive by `owner`).
struct GenView {
  std::shared_ptr<std::vector<unsigned char>> buf;
  ArrayView view;
};

/// big: 2 or 3 dims of which the last two hold 16..70 elements (tiled gathers, CopyLayout::tiled).
GenView gen_view(bool big = false) {
  GenView g;
  const DType dtype = *gen_dtype();
  const int64_t isz = static_cast<int64_t>(itemsize(dtype));
  const int nd = big ? *rc::gen::inRange(2, 4) : *rc::gen::inRange(0, 5);
  Dims shape(nd);
  for (int d = 0; d < nd; ++d)
    shape[d] = big ? (d + 2 >= nd ? *rc::gen::inRange(16, 71) : *rc::gen::inRange(1, 4))
                   : *rc::gen::weightedElement<int64_t>({{1, 0}, {3, 1}, {6, 2}, {6, 3}, {4, 5}, {2, 9}});
  // A parent layout: the dims in a random order, each with a step, over elements spaced
  // `pitch` bytes apart (pitch > itemsize: packed fields, ARR-5).
  const int64_t pitch = *rc::gen::weightedElement<int64_t>({{8, isz}, {1, isz + 1}, {1, isz * 2 + 3}});
  std::vector<int> order(nd);
  for (int d = 0; d < nd; ++d) order[d] = d;
  for (int d = nd - 1; d > 0; --d) std::swap(order[d], order[*rc::gen::inRange(0, d + 1)]);
  Dims byte_strides(nd);
  int64_t span = 1;
  int64_t offset_elems = 0;
  for (int k = nd - 1; k >= 0; --k) {
    const int d = order[k];
    const int64_t step = *rc::gen::weightedElement<int64_t>({{6, 1}, {2, 2}, {2, -1}, {1, -2}, {1, 0}});
    const int64_t n = std::max<int64_t>(shape[d], 1);
    byte_strides[d] = step * span * pitch;
    if (step < 0) offset_elems += (-step) * span * (n - 1);
    span *= std::abs(step == 0 ? 1 : step) * n;
  }
  const int64_t misalign = *rc::gen::weightedElement<int64_t>({{4, 0}, {1, 1}, {1, 3}});
  const std::size_t bytes = static_cast<std::size_t>(span * pitch + misalign + 16);
  g.buf = std::make_shared<std::vector<unsigned char>>(bytes);
  auto& b = *g.buf;
  const auto raw = *rc::gen::container<std::vector<uint64_t>>(b.size() / 8 + 1, rc::gen::arbitrary<uint64_t>());
  std::memcpy(b.data(), raw.data(), b.size());
  if (dtype == DType::bool_)  // only valid bool bytes
    for (auto& c : b) c &= 1;
  if (*rc::gen::inRange(0, 3) == 0 && (is_floating(dtype) || is_complex(dtype))) {
    // Also plain numbers (raw bytes are mostly huge or NaN as floats).
    for (std::size_t i = 0; i + isz <= b.size(); i += static_cast<std::size_t>(isz)) {
      double v = double(int64_t(raw[i / 8 % raw.size()] % 2001) - 1000) / 8;
      cast_one(&v, DType::float64, &b[i], dtype);
    }
  }
  ArrayView& v = g.view;
  v.data = b.data() + misalign + offset_elems * pitch;
  v.dtype = dtype;
  v.shape = shape;
  v.byte_strides = byte_strides;
  v.byteswapped = isz > 1 && *rc::gen::inRange(0, 5) == 0;
  v.read_only = *rc::gen::inRange(0, 3) == 0;
  v.owner = g.buf;
  return g;
}

Nested gen_leaf() {
  switch (*rc::gen::inRange(0, 12)) {
    case 0: return Nested(*rc::gen::arbitrary<bool>());
    case 1: return Nested(static_cast<long long>(*rc::gen::inRange(-300, 300)));
    case 2: return Nested(static_cast<long long>(*rc::gen::arbitrary<int64_t>()));
    case 3: return Nested(static_cast<unsigned long long>(*rc::gen::arbitrary<uint64_t>()));
    case 4: return Nested(double(*rc::gen::inRange(-2000, 2000)) / 8);
    case 5: {
      const double sp[] = {std::nan(""), INFINITY, -INFINITY, 1e300, -0.0, 65520.0, 3e38, 2147483648.0};
      return Nested(sp[*rc::gen::inRange(0, 8)]);
    }
    case 6: return Nested(std::complex<double>(*rc::gen::inRange(-5, 5), *rc::gen::inRange(-5, 5)));
    case 7: return Nested::typed(*gen_dtype(), double(*rc::gen::inRange(-300, 300)) / 4);
    case 8: return Nested::big_int(*rc::gen::element(1e20, -1e25, double(INFINITY)));
    default: return Nested(double(*rc::gen::inRange(-100, 100)));
  }
}

/// Nested data of a random shape; with small probability a node is broken (ragged, a
/// scalar for a list, an invalid leaf) or replaced by an array block.
Nested gen_nested(const std::vector<int64_t>& shape, std::size_t d, bool faults,
                  std::vector<GenView>& keep) {
  if (faults) {
    const int f = *rc::gen::inRange(0, 60);
    if (f == 0) return Nested(Nested::Invalid{"str"});
    if (f == 1 && d < shape.size()) return gen_leaf();
    if (f == 2) return Nested(Nested::List{gen_leaf()});
  }
  if (d == shape.size()) return gen_leaf();
  if (d + 1 == shape.size() && *rc::gen::inRange(0, 6) == 0) {
    // An array leaf holding the last dim (SEQ-4).
    GenView g = gen_view();
    keep.push_back(g);
    ArrayView v = g.view;
    v.shape = Dims{std::min<int64_t>(shape[d], std::max<int64_t>(v.shape.size() ? v.shape[0] : 1, 0))};
    v.byte_strides = Dims{static_cast<int64_t>(itemsize(v.dtype))};
    v.data = g.buf->data();
    if (faults || v.shape[0] == shape[d]) return Nested(v);
  }
  Nested::List l;
  int64_t n = shape[d];
  if (faults && *rc::gen::inRange(0, 30) == 0) n = std::max<int64_t>(0, n + *rc::gen::element(-1, 1));
  for (int64_t i = 0; i < n; ++i) l.push_back(gen_nested(shape, d + 1, faults, keep));
  return Nested(std::move(l));
}

}  // namespace

RC_GTEST_PROP(ImplProperty, ArraysGiveIdenticalResults, ()) {  // XFER-3, ARR-*, DT-3, COPY-1
  GenView g = gen_view();
  const Options o = gen_options();
  const std::string d = impl_check::compare_impls(g.view, o);
  RC_ASSERT(d == "");
}

RC_GTEST_PROP(ImplProperty, LargeTransposedGathersGiveIdenticalResults, ()) {  // tiles
  GenView g = gen_view(true);
  Options o = gen_options(false);
  o.copy = true;
  const std::string d = impl_check::compare_impls(g.view, o);
  RC_ASSERT(d == "");
}

RC_GTEST_PROP(ImplProperty, TensorsGiveIdenticalResults, ()) {  // TEN-*, GRAD-*
  GenView g = gen_view();
  Options mk;
  mk.copy = true;
  Tensor base = reference::as_tensor(g.view, mk);
  const bool grad = is_differentiable(base.dtype()) && *rc::gen::arbitrary<bool>();
  if (grad) base.set_requires_grad(true);
  const Options o = gen_options();
  std::optional<NoGradGuard> no_grad;
  if (*rc::gen::inRange(0, 4) == 0) no_grad.emplace();
  const std::string d = impl_check::compare_impls(base, o);
  RC_ASSERT(d == "");
}

RC_GTEST_PROP(ImplProperty, NestedDataGivesIdenticalResultsAndErrors, ()) {  // SEQ-1..6
  const int nd = *rc::gen::inRange(0, 4);
  std::vector<int64_t> shape(nd);
  for (auto& s : shape) s = *rc::gen::inRange(0, 4);
  std::vector<GenView> keep;
  const bool faults = *rc::gen::inRange(0, 3) == 0;
  Nested x = gen_nested(shape, 0, faults, keep);
  NestedReader r(x);
  Options o = gen_options(false);
  if (*rc::gen::inRange(0, 10) == 0) o.copy = false;
  const std::string d = impl_check::compare_impls(SequenceSource{&r}, o);
  RC_ASSERT(d == "");
  impl_check::Outcome a = impl_check::run_outcome([&] { return reference::as_tensor(SequenceSource{&r}, o); });
  impl_check::Outcome b = impl_check::run_outcome([&] { return impl::as_tensor_sequence(r, o); });
  RC_ASSERT(impl_check::diff_outcomes(a, b, SequenceSource{&r}) == "");
}
