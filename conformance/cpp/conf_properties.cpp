// Properties (rapidcheck) over random shapes, strides (negative, zero, gapped, transposed),
// dtypes, byte orders and nestings, for every implementation in impls.h:
//   - shared results alias the source and see its writes (ARR-1, ARR-3, ARR-6, TEN-1);
//   - copies never alias, keep their values after the source changes, and have the TEN-3
//     layout (TEN-2, ARR-4, ARR-5, ARR-11, COPY-1);
//   - cast values equal the independent oracle (DT-3);
//   - inferred dtypes equal the promotion fold over the leaves, values follow (SEQ-3, SEQ-4);
//   - ragged nests always raise ValueError naming the right dim and path (SEQ-2);
//   - every other implementation gives exactly the reference's result or error (XFER-3).
// A failure prints the minimal case and the seed; replay with
//   RC_PARAMS="seed=<seed>" ./property_cpu --gtest_filter=<test>
// The generators of those inputs are in property_gen.h.

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "conf_util.h"
#include "core/autograd.h"
#include "core/nested.h"
#include "impl_compare.h"
#include "impls.h"
#include "property_gen.h"

namespace astensor::conformance {
namespace {

template <class Impl>
class Properties : public ::testing::Test {
 protected:
  DefaultsGuard defaults_;
};
TYPED_TEST_SUITE(Properties, Implementations);

/// Runs a rapidcheck property as the body of the current (typed) GoogleTest.
template <class F>
void check_property(F&& f) {
  rc::detail::checkGTest(std::forward<F>(f));
}

// ---- sharing ----------------------------------------------------------------------------

TYPED_TEST(Properties, SharedResultsAliasTheSourceAndSeeItsWrites) {  // ARR-1, ARR-3, ARR-6
  using Impl = TypeParam;
  check_property([] {
    const DType dtype = gen_dtype();
    RandomArray a = gen_array(dtype, false);
    const ArrayView& v = a.view;
    Options o;
    if (*rc::gen::arbitrary<bool>()) o.dtype = dtype;
    if (*rc::gen::arbitrary<bool>()) o.copy = false;
    Tensor t = Impl::as_tensor(v, o);
    RC_ASSERT((t.data_ptr() == v.data));
    RC_ASSERT(t.dtype() == dtype);
    RC_ASSERT(t.shape() == v.shape);
    const int64_t n = t.numel();
    const auto isz = static_cast<int64_t>(itemsize(dtype));
    for (std::size_t d = 0; d < v.shape.size(); ++d)
      if (n > 0 && v.shape[d] > 1) RC_ASSERT(t.strides()[d] * isz == v.byte_strides[d]);
    for (int64_t i = 0; i < n; ++i) RC_ASSERT((element_addr(t, i) == element_addr(v, i)));
    if (n > 0) {
      // A write through the source shows in the tensor.
      const int64_t i = *rc::gen::inRange<int64_t>(0, n);
      auto* p = const_cast<unsigned char*>(element_addr(v, i));
      std::vector<unsigned char> fresh(static_cast<std::size_t>(isz));
      for (auto& b : fresh) b = static_cast<unsigned char>(*rc::gen::arbitrary<uint8_t>() & (dtype == DType::bool_ ? 1 : 0xff));
      std::memcpy(p, fresh.data(), fresh.size());
      RC_ASSERT(element_bytes(t, i) == fresh);
    }
  });
}

TYPED_TEST(Properties, SameDtypeAndDeviceTensorIsReturnedItself) {  // TEN-1, DEV-2
  using Impl = TypeParam;
  check_property([] {
    const DType dtype = gen_dtype();
    RandomArray a = gen_array(dtype, false);
    Tensor view = reference::as_tensor(a.view);  // any strides, offset
    if (is_differentiable(dtype) && *rc::gen::arbitrary<bool>()) view.set_requires_grad(true);
    Options o;
    if (*rc::gen::arbitrary<bool>()) o.dtype = dtype;
    o.device = *rc::gen::element(std::optional<Device>{}, std::optional<Device>{Device::cpu()},
                                 std::optional<Device>{Device(DeviceType::CPU, 0)});
    RC_ASSERT(Impl::as_tensor(view, o).is_same(view));
  });
}

// ---- copies -----------------------------------------------------------------------------

TYPED_TEST(Properties, CopiesNeverAliasAndKeepTheirValues) {  // TEN-2, TEN-3, ARR-4/5/11, COPY-1
  using Impl = TypeParam;
  check_property([] {
    const DType from = gen_dtype();
    RandomArray a = gen_array(from, true);
    ArrayView& v = a.view;
    v.byteswapped = itemsize(from) > 1 && *rc::gen::inRange(0, 3) == 0;
    Options o;
    const int why = *rc::gen::inRange(0, 3);
    if (why == 0) o.dtype = gen_dtype();
    if (why == 1) o.copy = true;
    const DType to = o.dtype.value_or(from);
    const bool must_copy = to != from || o.copy == true || v.byteswapped || !has_element_strides(v);
    RC_PRE(must_copy);
    const bool from_tensor = *rc::gen::arbitrary<bool>() && !v.byteswapped && has_element_strides(v);
    Tensor src_tensor;
    if (from_tensor) src_tensor = reference::as_tensor(v);  // a tensor view on the same buffer
    Tensor t = from_tensor ? Impl::as_tensor(src_tensor, o) : Impl::as_tensor(v, o);
    RC_ASSERT(t.dtype() == to);
    RC_ASSERT(t.shape() == v.shape);
    RC_ASSERT(!ranges_overlap(byte_range(t), buffer_range(a)));
    if (from_tensor) RC_ASSERT(!t.is_same(src_tensor));
    // TEN-3: a copy is dense, never strided or negative.
    RC_ASSERT(t.numel() == 0 || is_non_overlapping_and_dense(t.shape().span(), t.strides().span()));
    const int64_t n = t.numel();
    std::vector<std::vector<unsigned char>> got;
    for (int64_t i = 0; i < n; ++i) {
      auto want = oracle_cast(read_value(native_element(v, i).data(), from), to);
      RC_ASSERT(same_element(element_addr(t, i), want, to));
      got.push_back(element_bytes(t, i));
    }
    // Overwriting the whole source changes nothing in the copy.
    std::memset(a.buffer->data(), 0x5a & (from == DType::bool_ ? 1 : 0xff), a.buffer->size());
    for (int64_t i = 0; i < n; ++i) RC_ASSERT(element_bytes(t, i) == got[static_cast<std::size_t>(i)]);
  });
}

// ---- casts ------------------------------------------------------------------------------

TYPED_TEST(Properties, CastValuesEqualTheOracle) {  // DT-3, on random bit patterns
  using Impl = TypeParam;
  check_property([] {
    const DType from = gen_dtype(), to = gen_dtype();
    RandomArray a = gen_array(from, true);
    a.view.byteswapped = itemsize(from) > 1 && *rc::gen::arbitrary<bool>();
    Tensor t = Impl::as_tensor(a.view, {.dtype = to});
    RC_ASSERT(t.dtype() == to);
    for (int64_t i = 0; i < t.numel(); ++i) {
      const auto in = native_element(a.view, i);
      const auto want = oracle_cast(read_value(in.data(), from), to);
      if (!same_element(element_addr(t, i), want, to)) {
        RC_FAIL(std::string(name(from)) + " " + hex(in.data(), in.size()) + " -> " + name(to) +
                ": got " + hex(element_addr(t, i), want.size()) + ", want " +
                hex(want.data(), want.size()));
      }
    }
  });
}

// ---- inference --------------------------------------------------------------------------

TYPED_TEST(Properties, InferredDtypeEqualsThePromotionFold) {  // SEQ-3, SEQ-4, DT-4
  using Impl = TypeParam;
  check_property([] {
    set_default_dtype(*rc::gen::element(DType::float16, DType::bfloat16, DType::float32, DType::float64));
    const Dims shape = gen_shape(0, 3, 3);
    LeafGen g;
    Nested n = g.build(shape, 0);
    std::optional<DType> want = g.leaf_dtypes.at(0);
    for (std::size_t k = 1; k < g.leaf_dtypes.size() && want; ++k)
      want = promote_types(*want, g.leaf_dtypes[k]);
    NestedReader reader(n);
    if (!want) {
      // A pair PyTorch refuses to promote (uint16/32/64 with other integers): TypeError.
      bool threw = false;
      try {
        Impl::as_tensor(SequenceSource{&reader});
      } catch (const TypeError&) {
        threw = true;
      }
      RC_ASSERT(threw);
      return;
    }
    Tensor t = Impl::as_tensor(SequenceSource{&reader});
    RC_ASSERT(t.dtype() == *want);
    RC_ASSERT(t.shape() == shape);
    RC_ASSERT(static_cast<std::size_t>(t.numel()) == g.values.size());
    for (int64_t i = 0; i < t.numel(); ++i)
      RC_ASSERT(same_element(element_addr(t, i), oracle_cast(g.values[static_cast<std::size_t>(i)], *want), *want));
  });
}

// ---- ragged -----------------------------------------------------------------------------

/// A regular nest of `shape` whose node at `target` (depth target.size()) has `delta` more or
/// fewer children.
Nested ragged(const Dims& shape, std::vector<int64_t>& path, const std::vector<int64_t>& target,
              int delta) {
  const std::size_t depth = path.size();
  if (depth == shape.size()) return Nested(7);
  int64_t len = shape[depth] + (path == target ? delta : 0);
  Nested::List l;
  for (int64_t i = 0; i < len; ++i) {
    path.push_back(std::min(i, shape[depth] - 1));  // an extra child is shaped like the rest
    l.push_back(ragged(shape, path, target, delta));
    path.pop_back();
  }
  return Nested(std::move(l));
}

std::string path_text(const std::vector<int64_t>& p) {
  std::string s = "index ";
  for (auto i : p) s += "[" + std::to_string(i) + "]";
  return s;
}

TYPED_TEST(Properties, RaggedNestsRaiseNamingTheDim) {  // SEQ-2, SEQ-6
  using Impl = TypeParam;
  check_property([] {
    Dims shape = gen_shape(2, 4, 3);
    shape[0] += 1;  // at least two nodes below the root, so that one of them can disagree
    std::vector<std::size_t> depths;
    int64_t nodes = 1;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (d > 0 && nodes >= 2) depths.push_back(d);
      nodes *= shape[d];
    }
    RC_PRE(!depths.empty());
    const std::size_t d = *rc::gen::elementOf(depths);
    int64_t count = 1;
    for (std::size_t k = 0; k < d; ++k) count *= shape[k];
    const int64_t which = *rc::gen::inRange<int64_t>(0, count);
    const int delta = *rc::gen::element(-1, 1, 2);
    RC_PRE(shape[d] + delta >= 0);
    const Dims prefix(std::span<const int64_t>(shape.data(), d));
    std::vector<int64_t> target = unravel(prefix, which);
    std::vector<int64_t> path;
    Nested n = ragged(shape, path, target, delta);
    // The first node at depth d sets the expected length; the first one that differs (in
    // row-major order) is reported.
    const int64_t len = shape[d], changed = len + delta;
    const std::string want =
        which == 0 ? "expected sequence of length " + std::to_string(changed) + " at dim " +
                         std::to_string(d) + " (got " + std::to_string(len) + ")"
                   : "expected sequence of length " + std::to_string(len) + " at dim " +
                         std::to_string(d) + " (got " + std::to_string(changed) + ")";
    const std::vector<int64_t> at = unravel(prefix, which == 0 ? 1 : which);
    const long long live = live_allocations();
    NestedReader reader(n);
    std::string msg;
    try {
      Options o;
      if (*rc::gen::arbitrary<bool>()) o.dtype = gen_dtype();
      Impl::as_tensor(SequenceSource{&reader}, o);
    } catch (const ValueError& e) {
      msg = e.what();
    }
    RC_ASSERT(msg.find(want) != std::string::npos);
    RC_ASSERT(msg.find(path_text(at)) != std::string::npos);
    RC_ASSERT(live_allocations() == live);
  });
}

// ---- XFER-3 -----------------------------------------------------------------------------

/// XFER-3: the comparison of conformance/cpp/impl_compare.h (values bit for bit, dtype,
/// shape, strides, device, sharing, read-only, autograd; errors of the same kind with the
/// same message), plus: the two results overlap the source's memory alike.
using impl_check::Outcome;
template <class F>
Outcome outcome(F&& f) {
  return impl_check::run_outcome(std::forward<F>(f));
}
void assert_identical(const Outcome& got, const Outcome& want, const Source& src,
                      std::pair<uintptr_t, uintptr_t> src_memory) {
  const std::string diff = impl_check::diff_outcomes(want, got, src);
  RC_LOG() << diff << "\n";
  RC_ASSERT(diff.empty());
  if (want.error) return;
  RC_ASSERT(ranges_overlap(byte_range(got.tensor), src_memory) ==
            ranges_overlap(byte_range(want.tensor), src_memory));
}

Options gen_options(DType own) {
  Options o;
  if (*rc::gen::inRange(0, 3) == 0) o.dtype = *rc::gen::arbitrary<bool>() ? own : gen_dtype();
  const int c = *rc::gen::inRange(0, 4);
  if (c == 1) o.copy = true;
  if (c == 2) o.copy = false;
  return o;
}

TYPED_TEST(Properties, ResultsAreIdenticalToTheReference) {  // XFER-3
  using Impl = TypeParam;
  if constexpr (std::is_same_v<Impl, ReferenceImpl>) {
    GTEST_SKIP() << "the reference is the baseline XFER-3 compares with; this property runs "
                    "for every other implementation in impls.h";
  } else {
    check_property([] {
      const int kind = *rc::gen::inRange(0, 3);
      if (kind == 0) {  // an array, any layout and byte order
        const DType dtype = gen_dtype();
        RandomArray a = gen_array(dtype, true);
        a.view.byteswapped = itemsize(dtype) > 1 && *rc::gen::inRange(0, 4) == 0;
        a.view.read_only = *rc::gen::arbitrary<bool>();
        const Options o = gen_options(dtype);
        Source src = a.view;
        assert_identical(outcome([&] { return Impl::as_tensor(src, o); }),
                         outcome([&] { return ReferenceImpl::as_tensor(src, o); }), src,
                         buffer_range(a));
      } else if (kind == 1) {  // a tensor, any layout and autograd state
        const DType dtype = gen_dtype();
        RandomArray a = gen_array(dtype, false);
        Tensor t = ReferenceImpl::as_tensor(a.view);
        if (is_differentiable(dtype) && *rc::gen::arbitrary<bool>()) t.set_requires_grad(true);
        const Options o = gen_options(dtype);
        Source src = t;
        assert_identical(outcome([&] { return Impl::as_tensor(src, o); }),
                         outcome([&] { return ReferenceImpl::as_tensor(src, o); }), src,
                         buffer_range(a));
      } else {  // nested data, including blocks and values that overflow the dtype asked for
        set_default_dtype(*rc::gen::element(DType::float16, DType::bfloat16, DType::float32, DType::float64));
        LeafGen g;
        Nested n = g.build(gen_shape(0, 3, 3), 0);
        const Options o = gen_options(DType::float32);
        NestedReader r1(n), r2(n);
        Source s1 = SequenceSource{&r1}, s2 = SequenceSource{&r2};
        assert_identical(outcome([&] { return Impl::as_tensor(s1, o); }),
                         outcome([&] { return ReferenceImpl::as_tensor(s2, o); }), s2, {0, 0});
      }
    });
  }
}

}  // namespace
}  // namespace astensor::conformance
