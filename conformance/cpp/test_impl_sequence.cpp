// SEQ-1..6 in the optimized nested-data path (impl/sequence_fast.h): values, dtypes and
// every error identical to the reference (kind, message, which error comes first), through
// the template path with NestedReader (final) and through the virtual SequenceReader entry.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <vector>

#include "core/defaults.h"
#include "core/nested.h"
#include "core/store_scalar.h"
#include "impl/sequence_fast.h"
#include "impl_compare.h"

using namespace astensor;

namespace {

Options dt(std::optional<DType> d) {
  Options o;
  o.dtype = d;
  return o;
}

/// Both implementations, and impl's template entry, on the same nested value.
void check_same(const Nested& x, const Options& o = {}) {
  NestedReader r(x);
  EXPECT_EQ(impl_check::compare_impls(SequenceSource{&r}, o), "");
  impl_check::Outcome ref = impl_check::run_outcome([&] { return reference::as_tensor(SequenceSource{&r}, o); });
  impl_check::Outcome tpl = impl_check::run_outcome([&] { return impl::as_tensor_sequence(r, o); });
  EXPECT_EQ(impl_check::diff_outcomes(ref, tpl, SequenceSource{&r}), "") << "template entry";
}

}  // namespace

TEST(ImplSequence, ValuesAndInferredDtypes) {  // SEQ-1, SEQ-2, SEQ-3
  check_same(Nested{{1, 2, 3}, {4, 5, 6}});
  check_same(Nested{{1.5, 2}, {true, 4}});
  check_same(Nested{true, false});
  check_same(Nested{std::complex<double>(1, 2), 3});
  check_same(Nested{Nested::typed(DType::float16, 1.0), 1.0});  // not weak: float32
  check_same(Nested{Nested::typed(DType::uint8, 3), Nested::typed(DType::int8, -1)});
  check_same(Nested(2.5));                      // 0-d
  check_same(Nested(Nested::List{}));           // empty: default float
  check_same(Nested{Nested::List{}, Nested::List{}});
  check_same(Nested{1, 2}, dt(DType::bfloat16));
  check_same(Nested{1.0e10, -3.75}, dt(DType::float16));
  check_same(Nested{0.5, -1.5, 2.9}, dt(DType::int16));
  check_same(Nested{0, 1.5, std::nan("")}, dt(DType::bool_));
  check_same(Nested{std::complex<double>(1, 2)}, dt(DType::complex64));
  check_same(Nested{true, 3}, dt(DType::complex128));
  check_same(Nested{(unsigned long long)18446744073709551615ull}, dt(DType::uint64));
  check_same(Nested{(unsigned long long)18446744073709551615ull});  // UInt -> int64 inference
}

TEST(ImplSequence, DefaultDtypeChangesFloatInference) {  // DT-4
  set_default_dtype(DType::float64);
  check_same(Nested{1.0, std::complex<double>(0, 1)});
  set_default_dtype(DType::float32);
  check_same(Nested{1.0, std::complex<double>(0, 1)});
}

TEST(ImplSequence, BlocksAreCopiedInBulk) {  // SEQ-4
  std::vector<double> a = {1, 2, 3, 4, 5, 6};
  ArrayView row = ArrayView::contiguous(a.data(), DType::float64, Dims{3});
  ArrayView rev;
  rev.data = a.data() + 5;
  rev.dtype = DType::float64;
  rev.shape = Dims{3};
  rev.byte_strides = Dims{-16};
  ArrayView swapped = row;
  swapped.byteswapped = true;
  check_same(Nested{row, rev});
  check_same(Nested{row, rev}, dt(DType::float16));
  check_same(Nested{row, swapped}, dt(DType::float32));
  check_same(Nested{Nested{1, 2, 3}, row});
  Tensor t = reference::as_tensor(row, dt(DType::int32));
  check_same(Nested{t, row});  // int32 with float64: float64
  ArrayView m = ArrayView::contiguous(a.data(), DType::float64, Dims{2, 3});
  check_same(Nested{m, m});
  check_same(Nested{m, row});  // wrong block shape
  check_same(Nested{row, 1});  // scalar where a block's dims are
  check_same(Nested{1, row});
  ArrayView empty = ArrayView::contiguous(a.data(), DType::float64, Dims{0});
  check_same(Nested{empty, empty});
}

TEST(ImplSequence, RaggedAndKindErrorsAreTheReferenceErrors) {  // SEQ-2, SEQ-6
  check_same(Nested{{1, 2}, {3}});
  check_same(Nested{{1, 2}, 3});
  check_same(Nested{1, {2, 3}});
  check_same(Nested{Nested::List{}, {1}});  // [[], [1]] is ragged [ext]
  check_same(Nested{{1, Nested::Invalid{"str"}}, {1, 2}});
  check_same(Nested{Nested::Invalid{"NoneType"}});
  check_same(Nested(Nested::Invalid{"dict"}));
  // The first error in depth-first row-major order wins: a ragged row after a bad leaf.
  check_same(Nested{{1, Nested::Invalid{"str"}}, {1}});
  check_same(Nested{{1, 2}, {3}, {Nested::Invalid{"str"}, 1}});
  check_same(Nested{{{1}, {2}}, {{3}, 4}});
}

TEST(ImplSequence, DepthLimitIsAValueError) {  // SEQ-6
  Nested deep = 1.0;
  for (int i = 0; i < 70; ++i) deep = Nested(Nested::List{deep});
  check_same(deep);
  Nested ok = 1.0;
  for (int i = 0; i < 64; ++i) ok = Nested(Nested::List{ok});
  check_same(ok);
  Nested edge = 1.0;
  for (int i = 0; i < 65; ++i) edge = Nested(Nested::List{edge});
  check_same(edge);
}

TEST(ImplSequence, OverflowErrorsAreTheReferenceErrors) {  // SEQ-5
  check_same(Nested{1, 300}, dt(DType::uint8));
  check_same(Nested{1, -1}, dt(DType::uint32));
  check_same(Nested{{1, 2}, {3, 1e20}}, dt(DType::int64));
  check_same(Nested{std::nan(""), 1.0}, dt(DType::int32));
  check_same(Nested{std::numeric_limits<double>::infinity()}, dt(DType::int8));
  check_same(Nested{std::complex<double>(1, 1)}, dt(DType::float32));
  check_same(Nested{Nested::big_int(1e30)});
  check_same(Nested{Nested::big_int(1e30)}, dt(DType::float32));
  check_same(Nested{Nested::big_int(std::numeric_limits<double>::infinity())}, dt(DType::float64));
  check_same(Nested{(unsigned long long)18446744073709551615ull}, dt(DType::int64));
  // Structure errors come before overflow errors (the reference checks first, then fills).
  check_same(Nested{{300, 1}, {1}}, dt(DType::uint8));
  check_same(Nested{Nested::typed(DType::uint16, 1), 1});  // promotion refused
}

TEST(ImplSequence, VirtualEntryMatchesTemplateEntry) {  // one algorithm, two entries
  Nested x = {{1.5, 2.0}, {3.0, 4.0}};
  NestedReader r(x);
  SequenceReader& base = r;
  impl::SequenceShape a = impl::infer_sequence(base, std::nullopt);
  impl::SequenceShape b = impl::infer_sequence_fast(r, std::nullopt);
  EXPECT_EQ(a.shape, (Dims{2, 2}));
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dtype, b.dtype);
  std::vector<float> out(4);
  impl::fill_sequence(base, a, out.data());
  EXPECT_EQ(out, (std::vector<float>{1.5f, 2.0f, 3.0f, 4.0f}));
}

TEST(ImplSequence, NothingLeaksAfterAnError) {  // SEQ-6
  const auto before = storage_stats();
  for (int i = 0; i < 3; ++i) {
    Nested x = {1, 2, 300};
    NestedReader r(x);
    EXPECT_THROW(impl::as_tensor(SequenceSource{&r}, dt(DType::uint8)), OverflowError);
  }
  EXPECT_EQ(storage_stats().live_allocations, before.live_allocations);
}
