// Conformance: scalars and nested sequences through core/nested.h (SEQ-1..6) and the
// default dtype (DT-4), on the CPU, for every implementation in impls.h.

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <vector>

#include "conf_util.h"
#include "core/convert.h"
#include "core/nested.h"
#include "impls.h"

namespace astensor::conformance {
namespace {

using cd = std::complex<double>;

template <class Impl>
class SequenceRules : public ::testing::Test {
 protected:
  static Tensor as(const Nested& n, const Options& o = {}) {
    NestedReader reader(n);
    return Impl::as_tensor(SequenceSource{&reader}, o);
  }
  static Tensor as(const Source& s, const Options& o = {}) { return Impl::as_tensor(s, o); }
  DefaultsGuard defaults_;  // DT-4: every test leaves the default dtype as it found it
};
TYPED_TEST_SUITE(SequenceRules, Implementations);

std::vector<double> values(const Tensor& t) { return t.to_double_vector(); }

Nested::List repeat(const Nested& n, int k) { return Nested::List(static_cast<std::size_t>(k), n); }

// ---- SEQ-1 ------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Seq1ScalarsGiveZeroDimTensors) {
  struct Case { Nested n; DType want; double value; };
  std::vector<Case> cases = {
      {Nested(true), DType::bool_, 1},
      {Nested(7), DType::int64, 7},
      {Nested(-5LL), DType::int64, -5},
      {Nested(2.5), DType::float32, 2.5},
      {Nested(cd(1.5, -2)), DType::complex64, 1.5},
      {Nested::typed(DType::float16, 3), DType::float16, 3},  // NumPy scalars keep their dtype
      {Nested::typed(DType::uint8, 200), DType::uint8, 200},
      {Nested::typed(DType::float64, 0.1), DType::float64, 0.1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(name(c.want));
    Tensor t = this->as(c.n);
    EXPECT_EQ(t.dtype(), c.want);
    EXPECT_EQ(t.shape(), Dims{});
    EXPECT_EQ(t.numel(), 1);
    EXPECT_EQ(values(t)[0], c.value);
    EXPECT_FALSE(t.requires_grad());
  }
  EXPECT_EQ(this->as(Nested(cd(1.5, -2))).to_complex_vector()[0], cd(1.5, -2));
  set_default_dtype(DType::float64);
  EXPECT_EQ(this->as(Nested(2.5)).dtype(), DType::float64);
  EXPECT_EQ(this->as(Nested(cd(0, 1))).dtype(), DType::complex128);
  EXPECT_EQ(this->as(Nested(7)).dtype(), DType::int64);
  EXPECT_EQ(this->as(Nested(false)).dtype(), DType::bool_);
}

TYPED_TEST(SequenceRules, Seq1ScalarsAndSequencesAreAlwaysCopied) {
  std::vector<float> a = {1, 2, 3};
  ArrayView v = ArrayView::contiguous(a.data(), DType::float32, Dims{3});
  Tensor shared = this->as(Source(v));
  Nested n = {v};  // the same array inside a list
  Tensor t = this->as(n);
  EXPECT_EQ(t.shape(), (Dims{1, 3}));
  EXPECT_FALSE(ranges_overlap(byte_range(t), byte_range(shared)));
  a[0] = 10;
  EXPECT_EQ(values(t), (std::vector<double>{1, 2, 3}));
  Tensor s1 = this->as(Nested(1.0)), s2 = this->as(Nested(1.0));
  EXPECT_NE(s1.data_ptr(), s2.data_ptr());
}

// ---- SEQ-2 ------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Seq2ShapeIsTheNesting) {
  Tensor t = this->as(Nested{{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(t.shape(), (Dims{2, 3}));
  EXPECT_EQ(t.strides(), (Dims{3, 1}));
  EXPECT_EQ(values(t), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(this->as(Nested{Nested{Nested{}}}).shape(), (Dims{1, 1, 0}));
  EXPECT_EQ(this->as(Nested{Nested{}, Nested{}}).shape(), (Dims{2, 0}));
  EXPECT_EQ(this->as(Nested{{{1}, {2}}}).shape(), (Dims{1, 2, 1}));
}

TYPED_TEST(SequenceRules, Seq2RaggedRaisesWithLengthDimAndPath) {
  struct Case { Nested n; std::string text, path; };
  std::vector<Case> cases = {
      {Nested{{1, 2}, {3}}, "expected sequence of length 2 at dim 1 (got 1)", "[1]"},
      {Nested{{1}, {2, 3}}, "expected sequence of length 1 at dim 1 (got 2)", "[1]"},
      {Nested{{{1, 2}, {3, 4}}, {{5, 6}, {7}}}, "expected sequence of length 2 at dim 2 (got 1)",
       "[1][1]"},
      {Nested{{1, 2}, {3, 4}, {5, 6, 7}}, "expected sequence of length 2 at dim 1 (got 3)", "[2]"},
      // [[], [1]] is ragged (PyTorch silently returns shape (2, 0)).
      {Nested{Nested{}, Nested{1}}, "expected sequence of length 0 at dim 1 (got 1)", "[1]"},
      {Nested{Nested{1}, Nested{}}, "expected sequence of length 1 at dim 1 (got 0)", "[1]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const long long live = live_allocations();
    std::string msg = error_message<ValueError>([&] { this->as(c.n); });
    EXPECT_TRUE(contains(msg, c.text));
    EXPECT_TRUE(contains(msg, c.path));
    EXPECT_EQ(live_allocations(), live) << "SEQ-6: nothing left allocated";
    // The structure is checked whatever dtype is asked for.
    EXPECT_THROW(this->as(c.n, {.dtype = DType::float64}), ValueError);
  }
}

TYPED_TEST(SequenceRules, Seq2ScalarWhereASequenceIsExpectedAndViceVersa) {
  std::string m1 = error_message<ValueError>([&] { this->as(Nested{{1, 2}, 3}); });
  EXPECT_TRUE(contains(m1, "dim 1"));
  EXPECT_TRUE(contains(m1, "[1]"));
  std::string m2 = error_message<ValueError>([&] { this->as(Nested{1, {2, 3}}); });
  EXPECT_TRUE(contains(m2, "dim 1"));
  EXPECT_TRUE(contains(m2, "[1]"));
}

// ---- SEQ-3 ------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Seq3InferenceIsThePromotionFold) {
  struct Case { const char* what; Nested n; DType want; };
  std::vector<Case> cases = {
      {"[f16 scalar, 1.0]", Nested{Nested::typed(DType::float16, 1), 1.0}, DType::float32},
      {"[1, 2]", Nested{1, 2}, DType::int64},
      {"[True, 1]", Nested{true, 1}, DType::int64},
      {"[True, False]", Nested{true, false}, DType::bool_},
      {"[1, 2.0]", Nested{1, 2.0}, DType::float32},
      {"[1, 2j]", Nested{1, cd(0, 2)}, DType::complex64},
      {"[u8, i8]", Nested{Nested::typed(DType::uint8, 1), Nested::typed(DType::int8, 1)}, DType::int16},
      {"[i64, f16]", Nested{Nested::typed(DType::int64, 1), Nested::typed(DType::float16, 1)},
       DType::float16},
      {"[u8, 300]", Nested{Nested::typed(DType::uint8, 1), 300}, DType::int64},
      {"[bf16, f16]", Nested{Nested::typed(DType::bfloat16, 1), Nested::typed(DType::float16, 1)},
       DType::float32},
      {"[f64 scalar, 1.5]", Nested{Nested::typed(DType::float64, 1), 1.5}, DType::float64},
      {"[c64, f64]", Nested{Nested::typed(DType::complex64, 1), Nested::typed(DType::float64, 1)},
       DType::complex128},
      {"[[1], [2.5]]", Nested{{1}, {2.5}}, DType::float32},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(this->as(c.n).dtype(), c.want) << "got " << name(this->as(c.n).dtype());
  }
  EXPECT_EQ(values(this->as(Nested{Nested::typed(DType::uint8, 1), 300})),
            (std::vector<double>{1, 300}));
}

TYPED_TEST(SequenceRules, Seq3EmptySequenceGivesTheDefaultFloat) {
  EXPECT_EQ(this->as(Nested{}).dtype(), DType::float32);
  EXPECT_EQ(this->as(Nested{}).shape(), (Dims{0}));
  EXPECT_EQ(this->as(Nested{Nested{}, Nested{}}).dtype(), DType::float32);
  set_default_dtype(DType::float64);
  EXPECT_EQ(this->as(Nested{}).dtype(), DType::float64);
  // With dtype given, that dtype.
  EXPECT_EQ(this->as(Nested{}, {.dtype = DType::int8}).dtype(), DType::int8);
}

// ---- SEQ-4 ------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Seq4TensorAndArrayLeavesAreSubBlocks) {
  Tensor t1 = copy_plain(ArrayView::contiguous(std::vector<double>{1, 2, 3}.data(), DType::float64, Dims{3}),
                         DType::float32, Device::cpu());
  std::vector<float> a = {4, 5, 6};
  ArrayView v = ArrayView::contiguous(a.data(), DType::float32, Dims{3});
  Tensor r = this->as(Nested{t1, v});
  EXPECT_EQ(r.shape(), (Dims{2, 3}));
  EXPECT_EQ(r.dtype(), DType::float32);
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_FALSE(ranges_overlap(byte_range(r), byte_range(t1)));
  // Blocks mix with lists of the same shape; their dtype joins the fold.
  std::vector<uint8_t> u = {7, 8, 9};
  ArrayView vu = ArrayView::contiguous(u.data(), DType::uint8, Dims{3});
  Tensor m = this->as(Nested{{1, 2, 3}, vu});
  EXPECT_EQ(m.dtype(), DType::int64);
  EXPECT_EQ(values(m), (std::vector<double>{1, 2, 3, 7, 8, 9}));
  Tensor m8 = this->as(Nested{vu, vu});
  EXPECT_EQ(m8.dtype(), DType::uint8);
  // 0-d blocks are scalars with their dtype.
  double x = 2.5;
  ArrayView zero_d = ArrayView::contiguous(&x, DType::float64, Dims{});
  Tensor z = this->as(Nested{zero_d, 1});
  EXPECT_EQ(z.shape(), (Dims{2}));
  EXPECT_EQ(z.dtype(), DType::float64);
  EXPECT_EQ(values(z), (std::vector<double>{2.5, 1}));
  // Strided, reversed and byteswapped blocks give their logical values.
  std::vector<int32_t> b = {0, 1, 2, 3, 4, 5};
  ArrayView rev = make_view(b.data() + 5, DType::int32, Dims{3}, Dims{-8});
  ArrayView sw = ArrayView::contiguous(b.data(), DType::int32, Dims{3});
  std::vector<int32_t> be(3);
  for (int i = 0; i < 3; ++i) be[static_cast<std::size_t>(i)] = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(10 + i)));
  sw.data = be.data();
  sw.byteswapped = true;
  Tensor s = this->as(Nested{rev, sw});
  EXPECT_EQ(values(s), (std::vector<double>{5, 3, 1, 10, 11, 12}));
  // A block whose shape does not match is a ValueError naming the dim.
  std::vector<float> four = {1, 2, 3, 4};
  ArrayView v4 = ArrayView::contiguous(four.data(), DType::float32, Dims{4});
  std::string msg = error_message<ValueError>([&] { this->as(Nested{v, v4}); });
  EXPECT_TRUE(contains(msg, "[1]"));
  // With a dtype, blocks are cast (DT-3).
  Tensor c = this->as(Nested{t1, v}, {.dtype = DType::int8});
  EXPECT_EQ(c.dtype(), DType::int8);
  EXPECT_EQ(values(c), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

// ---- SEQ-5 ------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Seq5OutOfRangeIsAnOverflowErrorNamingValueDtypeAndPath) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case { Nested n; DType dtype; std::string value, path; };
  std::vector<Case> cases = {
      {Nested{1, 256}, DType::uint8, "256", "[1]"},
      {Nested{{1, 2}, {-1, 3}}, DType::uint8, "-1", "[1][0]"},
      {Nested{-1}, DType::uint64, "-1", "[0]"},
      {Nested{128}, DType::int8, "128", "[0]"},
      {Nested{-129}, DType::int8, "-129", "[0]"},
      {Nested{65536}, DType::uint16, "65536", "[0]"},
      {Nested{1, nan}, DType::int32, "nan", "[1]"},
      {Nested{inf}, DType::int64, "inf", "[0]"},
      {Nested{-inf}, DType::uint8, "inf", "[0]"},
      {Nested{1e20}, DType::int64, "1e+20", "[0]"},
      {Nested{Nested{1ULL << 63}}, DType::int64, "9223372036854775808", "[0][0]"},
      {Nested{Nested::big_int(std::ldexp(1.0, 70))}, DType::int64, "", "[0]"},
      {Nested{Nested::big_int(std::ldexp(1.0, 70))}, DType::uint64, "", "[0]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value + " -> " + name(c.dtype));
    const long long live = live_allocations();
    std::string msg = error_message<OverflowError>([&] { this->as(c.n, {.dtype = c.dtype}); });
    EXPECT_TRUE(contains(msg, c.value));
    EXPECT_TRUE(contains(msg, name(c.dtype)));
    EXPECT_TRUE(contains(msg, c.path));
    EXPECT_EQ(live_allocations(), live) << "SEQ-6: nothing left allocated";
  }
  // Inferred int64 and an integer beyond it (a Python int 2**63).
  EXPECT_THROW(this->as(Nested{1, 1ULL << 63}), OverflowError);
  EXPECT_THROW(this->as(Nested{Nested::big_int(1e30)}), OverflowError);
  // The bounds themselves fit.
  EXPECT_EQ(values(this->as(Nested{255, 0}, {.dtype = DType::uint8})), (std::vector<double>{255, 0}));
  EXPECT_EQ(values(this->as(Nested{-128, 127}, {.dtype = DType::int8})), (std::vector<double>{-128, 127}));
  Tensor u64 = this->as(Nested{~0ULL}, {.dtype = DType::uint64});
  uint64_t got;
  std::memcpy(&got, u64.data_ptr(), 8);
  EXPECT_EQ(got, ~0ULL);
}

TYPED_TEST(SequenceRules, Seq5FloatsIntoIntegersTruncateTowardZero) {
  Tensor t = this->as(Nested{2.7, -2.7, 0.5, -0.5, 255.9}, {.dtype = DType::int32});
  EXPECT_EQ(values(t), (std::vector<double>{2, -2, 0, 0, 255}));
  Tensor u = this->as(Nested{255.9, -0.9}, {.dtype = DType::uint8});  // -0.9 truncates to 0
  EXPECT_EQ(values(u), (std::vector<double>{255, 0}));
}

TYPED_TEST(SequenceRules, Seq5FloatingTargetsRoundAndOverflowToInf) {
  Tensor h = this->as(Nested{1e6, -1e6, 65504.0, 1.0 / 3}, {.dtype = DType::float16});
  auto v = values(h);
  EXPECT_EQ(v[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(v[1], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(v[2], 65504.0);
  OValue third;
  third.kind = OValue::Kind::Real;
  third.re = 1.0L / 3;  // rounding the double 1/3 and the long double 1/3 agree in float16
  EXPECT_TRUE(same_element(element_addr(h, 3), oracle_cast(third, DType::float16), DType::float16));
  Tensor f = this->as(Nested{1e300, Nested::big_int(std::ldexp(1.0, 70))}, {.dtype = DType::float32});
  EXPECT_EQ(values(f)[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(values(f)[1], std::ldexp(1.0, 70));
  Tensor b = this->as(Nested{0.0, -0.0, 0.5, std::nan(""), 3, 0}, {.dtype = DType::bool_});
  EXPECT_EQ(values(b), (std::vector<double>{0, 0, 1, 1, 1, 0})) << "nonzero is True, NaN too";
  Tensor bc = this->as(Nested{cd(0, 0), cd(0, 1)}, {.dtype = DType::bool_});
  EXPECT_EQ(values(bc), (std::vector<double>{0, 1}));
}

TYPED_TEST(SequenceRules, Seq5ComplexIntoARealDtypeIsATypeError) {
  for (DType d : {DType::float32, DType::float64, DType::int64, DType::uint8, DType::float16}) {
    SCOPED_TRACE(name(d));
    const long long live = live_allocations();
    std::string msg = error_message<TypeError>([&] { this->as(Nested{1, cd(1, 1)}, {.dtype = d}); });
    EXPECT_TRUE(contains(msg, name(d)));
    EXPECT_TRUE(contains(msg, "[1]"));
    EXPECT_EQ(live_allocations(), live);
  }
  EXPECT_EQ(this->as(Nested{1, cd(1, 1)}, {.dtype = DType::complex128}).to_complex_vector()[1], cd(1, 1));
}

// ---- SEQ-6 ------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Seq6InvalidLeavesAreTypeErrors) {
  struct Case { Nested n; std::string type, path; };
  std::vector<Case> cases = {
      {Nested{1, Nested::Invalid{"str"}}, "str", "[1]"},
      {Nested{{1, 2}, {3, Nested::Invalid{"NoneType"}}}, "NoneType", "[1][1]"},
      {Nested{Nested::Invalid{"dict"}}, "dict", "[0]"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    const long long live = live_allocations();
    std::string msg = error_message<TypeError>([&] { this->as(c.n); });
    EXPECT_TRUE(contains(msg, c.type));
    EXPECT_TRUE(contains(msg, c.path));
    EXPECT_THROW(this->as(c.n, {.dtype = DType::float32}), TypeError);
    EXPECT_EQ(live_allocations(), live);
  }
  EXPECT_THROW(this->as(Nested(Nested::Invalid{"str"})), TypeError) << "a bare invalid object";
}

Nested nest(int depth) {
  Nested n = 1;
  for (int i = 0; i < depth; ++i) n = Nested::List{n};
  return n;
}

TYPED_TEST(SequenceRules, Seq6NestingDeeperThan64IsAValueError) {
  Tensor ok = this->as(nest(64));
  EXPECT_EQ(ok.ndim(), 64);
  EXPECT_EQ(values(ok), (std::vector<double>{1}));
  const long long live = live_allocations();
  for (int depth : {65, 66, 200}) {
    SCOPED_TRACE(depth);
    std::string msg = error_message<ValueError>([&] { this->as(nest(depth)); });
    EXPECT_TRUE(contains(msg, "64"));
  }
  // A block that pushes the total rank past 64.
  std::vector<double> one = {1};
  ArrayView v = ArrayView::contiguous(one.data(), DType::float64, Dims(std::size_t{2}, 1));
  Nested deep = v;
  for (int i = 0; i < 63; ++i) deep = Nested::List{deep};
  EXPECT_THROW(this->as(deep), ValueError);
  EXPECT_EQ(live_allocations(), live);
}

/// A reader over a self-referential list (Python: a = []; a.append(a)), which no Nested value
/// can express: child(root, 0) is the root again.
class SelfReferentialReader final : public SequenceReader {
 public:
  NodeRef root() override { return this; }
  void inspect(NodeRef, NodeInfo* out) override {
    out->kind = NodeKind::Sequence;
    out->length = 1;
  }
  NodeRef child(NodeRef seq, int64_t) override { return seq; }
  std::string describe(NodeRef) override { return "list"; }
};

TYPED_TEST(SequenceRules, Seq6SelfReferentialSequenceIsAValueErrorNotACrash) {
  SelfReferentialReader r;
  const long long live = live_allocations();
  EXPECT_THROW(this->as(SequenceSource{&r}), ValueError);
  EXPECT_THROW(this->as(SequenceSource{&r}, {.dtype = DType::int8}), ValueError);
  EXPECT_EQ(live_allocations(), live);
}

/// A reader whose inspect() throws at one element, like a Python __float__ that raises.
class ThrowingReader final : public SequenceReader {
 public:
  explicit ThrowingReader(intptr_t fail_at) : fail_at_(fail_at) {}
  NodeRef root() override { return nullptr; }
  void inspect(NodeRef node, NodeInfo* out) override {
    if (node == nullptr) {
      out->kind = NodeKind::Sequence;
      out->length = 1000;
      return;
    }
    const auto i = reinterpret_cast<intptr_t>(node);
    if (i == fail_at_) throw TypeError("[test] __float__ raised at element " + std::to_string(i));
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_float(static_cast<double>(i));
  }
  NodeRef child(NodeRef, int64_t i) override { return reinterpret_cast<NodeRef>(intptr_t(i + 1)); }
  std::string describe(NodeRef) override { return "float"; }

 private:
  intptr_t fail_at_;
};

TYPED_TEST(SequenceRules, Seq6ReaderErrorsPropagateAndLeakNothing) {
  for (intptr_t fail_at : {1, 500, 1000}) {
    SCOPED_TRACE(fail_at);
    ThrowingReader r(fail_at);
    const long long live = live_allocations();
    EXPECT_THROW(this->as(SequenceSource{&r}), TypeError);
    EXPECT_THROW(this->as(SequenceSource{&r}, {.dtype = DType::int32}), TypeError);
    EXPECT_EQ(live_allocations(), live);
  }
  ThrowingReader ok(-1);
  EXPECT_EQ(this->as(SequenceSource{&ok}).shape(), (Dims{1000}));
}

// ---- DT-4 -------------------------------------------------------------------------------

TYPED_TEST(SequenceRules, Dt4DefaultDtypeChangesOnlyFloatsComplexesAndEmpties) {
  for (DType def : {DType::float16, DType::bfloat16, DType::float32, DType::float64}) {
    SCOPED_TRACE(name(def));
    set_default_dtype(def);
    EXPECT_EQ(default_dtype(), def);
    EXPECT_EQ(this->as(Nested{1.5}).dtype(), def);
    EXPECT_EQ(this->as(Nested{}).dtype(), def);
    EXPECT_EQ(this->as(Nested{cd(1, 1)}).dtype(), def == DType::float64 ? DType::complex128 : DType::complex64);
    EXPECT_EQ(this->as(Nested{1, 2}).dtype(), DType::int64) << "ints stay int64";
    EXPECT_EQ(this->as(Nested{true}).dtype(), DType::bool_);
    EXPECT_EQ(this->as(Nested{Nested::typed(DType::float32, 1)}).dtype(), DType::float32)
        << "NumPy scalars keep their dtype";
    std::vector<float> a = {1, 2};
    EXPECT_EQ(this->as(Source(ArrayView::contiguous(a.data(), DType::float32, Dims{2}))).dtype(), DType::float32)
        << "arrays keep their dtype";
    EXPECT_EQ(this->as(Nested{Nested::typed(DType::float32, 1), 1.5}).dtype(),
              promote_types(DType::float32, def).value());
  }
}

TYPED_TEST(SequenceRules, Dt4OnlyFloatingDtypesCanBeTheDefault) {
  const DType before = default_dtype();
  for (DType d : all_dtypes()) {
    if (is_floating(d)) continue;
    SCOPED_TRACE(name(d));
    std::string msg = error_message<TypeError>([&] { set_default_dtype(d); });
    EXPECT_TRUE(contains(msg, name(d)));
    EXPECT_EQ(default_dtype(), before) << "unchanged after the error";
  }
}

}  // namespace
}  // namespace astensor::conformance
