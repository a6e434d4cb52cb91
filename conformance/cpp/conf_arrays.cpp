// Conformance: host arrays through ArrayView (ARR-1..7, ARR-11) on the CPU, for every
// implementation in impls.h.

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "conf_util.h"
#include "impls.h"

namespace astensor::conformance {
namespace {

template <class Impl>
class ArrayRules : public ::testing::Test {
 protected:
  static Tensor as(const Source& s, const Options& o = {}) { return Impl::as_tensor(s, o); }
};
TYPED_TEST_SUITE(ArrayRules, Implementations);

/// Fills n elements of `dtype` at p with distinct small values (1, 2, ...), exactly.
void fill_iota(unsigned char* p, DType dtype, int64_t n, int64_t stride_bytes = 0) {
  if (stride_bytes == 0) stride_bytes = static_cast<int64_t>(itemsize(dtype));
  for (int64_t i = 0; i < n; ++i) {
    OValue v;
    v.i = (i % 100) + 1;  // fits every dtype; bool: all true
    auto bytes = oracle_cast(v, dtype);
    std::memcpy(p + i * stride_bytes, bytes.data(), bytes.size());
  }
}

/// Reverses the bytes of each element (each component for complex): the byteswapped form.
void byteswap_elements(unsigned char* p, DType dtype, int64_t n) {
  const std::size_t isz = itemsize(dtype), part = is_complex(dtype) ? isz / 2 : isz;
  for (int64_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < isz; c += part)
      std::reverse(p + i * static_cast<int64_t>(isz) + c, p + i * static_cast<int64_t>(isz) + c + part);
}

/// Expects t to share v's memory with v's element strides, and to read v's elements.
void expect_shared(const Tensor& t, const ArrayView& v) {
  EXPECT_EQ(t.data_ptr(), v.data);
  EXPECT_EQ(t.dtype(), v.dtype);
  EXPECT_EQ(t.shape(), v.shape);
  const auto isz = static_cast<int64_t>(itemsize(v.dtype));
  const int64_t n = checked_numel(v.shape.span());
  for (std::size_t d = 0; d < v.shape.size(); ++d)
    if (n > 0 && v.shape[d] > 1) EXPECT_EQ(t.strides()[d] * isz, v.byte_strides[d]) << "dim " << d;
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(element_addr(t, i), element_addr(v, i)) << "element " << i << " is the source's";
}

// ---- ARR-1 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr1SameDtypeOnCpuIsShared) {
  for (DType d : all_dtypes()) {
    SCOPED_TRACE(name(d));
    Buffer buf(6 * itemsize(d));
    fill_iota(buf.data(), d, 6);
    ArrayView v = ArrayView::contiguous(buf.data(), d, Dims{2, 3});
    Tensor t = this->as(v);
    expect_shared(t, v);
    EXPECT_EQ(t.strides(), (Dims{3, 1}));
    expect_shared(this->as(v, {.dtype = d, .device = Device::cpu()}), v);
    expect_shared(this->as(v, {.copy = false}), v);
  }
}

TYPED_TEST(ArrayRules, Arr1OffsetBroadcastZeroDimAndEmptyViewsAreShared) {
  Buffer buf(64 * 8);
  fill_iota(buf.data(), DType::float64, 64);
  auto* base = buf.data();
  struct Case { const char* what; ArrayView v; Dims want_strides; };
  std::vector<Case> cases = {
      {"offset", make_view(base + 8 * 5, DType::float64, Dims{3, 4}, Dims{64, 8}), Dims{8, 1}},
      {"transposed", make_view(base, DType::float64, Dims{4, 3}, Dims{8, 32}), Dims{1, 4}},
      {"stride 0", make_view(base + 8, DType::float64, Dims{5, 3}, Dims{0, 8}), Dims{0, 1}},
      {"all stride 0", make_view(base + 16, DType::float64, Dims{2, 2}, Dims{0, 0}), Dims{0, 0}},
      {"gapped", make_view(base + 8, DType::float64, Dims{3, 3}, Dims{80, 16}), Dims{10, 2}},
      {"0-d", make_view(base + 24, DType::float64, Dims{}, Dims{}), Dims{}},
      {"zero-size", make_view(base, DType::float64, Dims{0, 3}, Dims{0, 0}), Dims{0, 0}},
      {"zero-size C", make_view(base, DType::float64, Dims{2, 0}, Dims{0, 8}), Dims{0, 1}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Tensor t = this->as(c.v);
    expect_shared(t, c.v);
    EXPECT_EQ(t.strides(), c.want_strides);
  }
  // Zero-size views are shared whatever their strides (no element is ever addressed).
  ArrayView odd = make_view(base, DType::float64, Dims{0, 3}, Dims{5, 7});
  expect_shared(this->as(odd), odd);
  // A zero-size view may come without any memory at all.
  Tensor e = this->as(make_view(nullptr, DType::int32, Dims{0}, Dims{4}));
  EXPECT_EQ(e.shape(), (Dims{0}));
  EXPECT_EQ(e.numel(), 0);
}

TYPED_TEST(ArrayRules, Arr1WritesThroughTheSourceAreVisible) {
  std::vector<int32_t> a = {1, 2, 3, 4, 5, 6};
  ArrayView v = make_view(a.data() + 1, DType::int32, Dims{2, 2}, Dims{12, 4});  // a[1:] rows of 3
  Tensor t = this->as(v);
  a[1] = 100;
  a[5] = 500;
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{100, 3, 5, 500}));
  // And the other way round: writes through the tensor land in the source.
  int32_t w = -7;
  std::memcpy(t.mutable_data_ptr(), &w, 4);
  EXPECT_EQ(a[1], -7);
}

TYPED_TEST(ArrayRules, Arr1ImpossibleViewsAreValueErrors) {  // issue 2: bad ARR-* inputs
  double x[4] = {};
  const long long live = live_allocations();
  EXPECT_THROW(this->as(make_view(x, DType::float64, Dims{2, 2}, Dims{8})), ValueError)
      << "strides and shape differ in length";
  EXPECT_THROW(this->as(make_view(nullptr, DType::float64, Dims{2}, Dims{8})), ValueError)
      << "null data with elements";
  EXPECT_THROW(this->as(make_view(x, DType::float64, Dims{-1}, Dims{8})), ValueError)
      << "negative size";
  EXPECT_THROW(this->as(make_view(x, DType::float64, Dims{int64_t(1) << 62}, Dims{8})), ValueError)
      << "size overflows";
  const Dims ones(std::size_t{65}, 1);
  EXPECT_THROW(this->as(make_view(x, DType::float64, ones, ones)), ValueError) << "more than 64 dims";
  EXPECT_EQ(live_allocations(), live);
}

// ---- ARR-2 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr2OwnerLivesWithTheLastTensorAndIsReleasedOnce) {
  int released = 0;
  std::vector<float> a = {1, 2, 3, 4};
  {
    ArrayView v = ArrayView::contiguous(a.data(), DType::float32, Dims{4}, counting_owner(&released));
    Tensor t1 = this->as(v);
    Tensor t2 = this->as(v, {.copy = false});
    v.owner.reset();  // the producer's own reference is gone
    EXPECT_EQ(released, 0);
    Tensor view = Tensor::make(t1.storage(), 1, Dims{2}, Dims{1}, t1.dtype());  // a view of t1
    t1 = Tensor();
    EXPECT_EQ(released, 0) << "t2 and the view still use the memory";
    t2 = Tensor();
    EXPECT_EQ(released, 0) << "the view still uses the memory";
    EXPECT_EQ(view.to_double_vector(), (std::vector<double>{2, 3}));
  }
  EXPECT_EQ(released, 1) << "released exactly once, after the last tensor";
}

TYPED_TEST(ArrayRules, Arr2OwnerIsReleasedOnceOnCopiesAndErrors) {
  int released = 0;
  std::vector<float> a = {1, 2, 3, 4};
  {
    ArrayView v = ArrayView::contiguous(a.data(), DType::float32, Dims{4}, counting_owner(&released));
    Tensor c = this->as(v, {.dtype = DType::float64});
    EXPECT_THROW(this->as(v, {.dtype = DType::int8, .copy = false}), ValueError);
    v.owner.reset();
    EXPECT_EQ(c.to_double_vector(), (std::vector<double>{1, 2, 3, 4}));
  }
  EXPECT_EQ(released, 1);
}

// ---- ARR-3 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr3NegativeStridesAreShared) {
  std::vector<int64_t> a(12);
  for (int i = 0; i < 12; ++i) a[static_cast<std::size_t>(i)] = i;
  // a[::-1]
  ArrayView rev = make_view(a.data() + 11, DType::int64, Dims{12}, Dims{-8});
  Tensor r = this->as(rev);
  expect_shared(r, rev);
  EXPECT_EQ(r.strides(), (Dims{-1}));
  EXPECT_EQ(r.to_double_vector()[0], 11);
  // a.reshape(3, 4)[::-1, ::2] and a.reshape(3, 4)[:, ::-1]
  ArrayView flip_rows = make_view(a.data() + 8, DType::int64, Dims{3, 2}, Dims{-32, 16});
  Tensor f = this->as(flip_rows);
  expect_shared(f, flip_rows);
  EXPECT_EQ(f.to_double_vector(), (std::vector<double>{8, 10, 4, 6, 0, 2}));
  ArrayView flip_cols = make_view(a.data() + 3, DType::int64, Dims{3, 4}, Dims{32, -8});
  Tensor g = this->as(flip_cols);
  expect_shared(g, flip_cols);
  a[3] = 42;
  EXPECT_EQ(g.to_double_vector()[0], 42) << "writes through the source are visible";
  // A negative stride on a size-1 dim (numpy/numpy#23349) is shared as well.
  ArrayView one = make_view(a.data(), DType::int64, Dims{1, 12}, Dims{-96, 8});
  expect_shared(this->as(one), one);
}

// ---- ARR-4 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr4ByteswappedIsCopiedWithCorrectValues) {
  for (DType d : all_dtypes()) {
    if (itemsize(d) == 1) continue;  // one-byte types have no byte order
    SCOPED_TRACE(name(d));
    const int64_t n = 6;
    Buffer native(n * itemsize(d)), swapped(n * itemsize(d));
    fill_iota(native.data(), d, n);
    std::memcpy(swapped.data(), native.data(), n * itemsize(d));
    byteswap_elements(swapped.data(), d, n);
    std::vector<unsigned char> before(swapped.data(), swapped.data() + n * itemsize(d));
    ArrayView v = ArrayView::contiguous(swapped.data(), d, Dims{2, 3});
    v.byteswapped = true;
    Tensor t = this->as(v);
    EXPECT_NE(t.data_ptr(), v.data) << "copied";
    EXPECT_EQ(t.dtype(), d);
    EXPECT_EQ(t.shape(), (Dims{2, 3}));
    for (int64_t i = 0; i < n; ++i)
      EXPECT_EQ(element_bytes(t, i),
                std::vector<unsigned char>(native.data() + i * itemsize(d),
                                           native.data() + (i + 1) * itemsize(d)))
          << "element " << i;
    EXPECT_TRUE(std::equal(before.begin(), before.end(), swapped.data())) << "source unmodified";
    // Byte order and a dtype change together; and a strided (transposed) swapped view.
    ArrayView tr = make_view(swapped.data(), d, Dims{3, 2},
                             Dims{static_cast<int64_t>(itemsize(d)), 3 * static_cast<int64_t>(itemsize(d))});
    tr.byteswapped = true;
    Tensor c = this->as(tr, {.dtype = DType::complex128});
    Tensor want = this->as(make_view(native.data(), d, tr.shape, tr.byte_strides),
                           {.dtype = DType::complex128});
    EXPECT_EQ(c.to_complex_vector(), want.to_complex_vector());
  }
}

TYPED_TEST(ArrayRules, Arr4ByteswappedSpecialValues) {
  // Big-endian float32 NaN, -0.0, inf and a subnormal keep their bits.
  const uint32_t bits[4] = {0x7fc00001u, 0x80000000u, 0x7f800000u, 0x00000001u};
  unsigned char be[16];
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 4; ++k) be[i * 4 + k] = static_cast<unsigned char>(bits[i] >> (8 * (3 - k)));
  ArrayView v = ArrayView::contiguous(be, DType::float32, Dims{4});
  v.byteswapped = true;
  Tensor t = this->as(v);
  for (int i = 0; i < 4; ++i) {
    uint32_t got;
    std::memcpy(&got, element_addr(t, i), 4);
    EXPECT_EQ(got, bits[i]) << "element " << i;
  }
}

// ---- ARR-5 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr5StridesNotMultipleOfItemsizeAreGathered) {
#pragma pack(push, 1)
  struct Rec { uint8_t tag; float value; int64_t count; };  // 13 bytes
#pragma pack(pop)
  static_assert(sizeof(Rec) == 13);
  Rec recs[6];
  for (int i = 0; i < 6; ++i) recs[i] = Rec{static_cast<uint8_t>(i), 0.5f * i, -3LL * i};
  auto* base = reinterpret_cast<unsigned char*>(recs);
  ArrayView values = make_view(base + 1, DType::float32, Dims{6}, Dims{13});
  Tensor t = this->as(values);
  EXPECT_FALSE(ranges_overlap(byte_range(t), {reinterpret_cast<uintptr_t>(base),
                                              reinterpret_cast<uintptr_t>(base + sizeof recs)}));
  EXPECT_EQ(t.strides(), (Dims{1}));
  EXPECT_EQ(t.to_double_vector(), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5}));
  // 2-D: records as (2, 3), counts field, with a dtype change.
  ArrayView counts = make_view(base + 5, DType::int64, Dims{2, 3}, Dims{39, 13});
  Tensor c = this->as(counts, {.dtype = DType::float64});
  EXPECT_EQ(c.to_double_vector(), (std::vector<double>{0, -3, -6, -9, -12, -15}));
  EXPECT_EQ(c.strides(), (Dims{3, 1}));
  // An odd stride on a dimension that does not matter (size 1) does not force a copy.
  ArrayView one = make_view(base + 1, DType::float32, Dims{1, 1}, Dims{13, 7});
  expect_shared(this->as(one), one);
}

// ---- ARR-6 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr6MisalignedIsSharedAndConvertsCorrectly) {
  for (DType d : all_dtypes()) {
    if (itemsize(d) == 1) continue;
    SCOPED_TRACE(name(d));
    const int64_t n = 5;
    Buffer buf(n * itemsize(d) + 8);
    unsigned char* p = buf.data() + 1;  // misaligned for every multi-byte type
    fill_iota(p, d, n);
    ArrayView v = ArrayView::contiguous(p, d, Dims{n});
    Tensor t = this->as(v);
    expect_shared(t, v);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 2, 1u);
    for (DType to : all_dtypes()) {
      if (to == d) continue;
      Tensor c = this->as(v, {.dtype = to});
      for (int64_t i = 0; i < n; ++i)
        EXPECT_TRUE(same_element(element_addr(c, i), oracle_cast(read_value(p + i * itemsize(d), d), to), to))
            << name(to) << " element " << i;
    }
    // Misaligned and byteswapped.
    byteswap_elements(p, d, n);
    v.byteswapped = true;
    Tensor s = this->as(v, {.dtype = DType::float64});
    EXPECT_EQ(s.to_double_vector(), (std::vector<double>{1, 2, 3, 4, 5}));
  }
}

// ---- ARR-7 ------------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr7ReadOnlyIsSharedAndRefusesWrites) {
  std::vector<uint16_t> a = {1, 2, 3, 4};
  ArrayView v = ArrayView::contiguous(a.data(), DType::uint16, Dims{2, 2});
  v.read_only = true;
  Tensor t = this->as(v);
  expect_shared(t, v);
  EXPECT_TRUE(t.is_read_only());
  EXPECT_EQ(t.data_ptr(), a.data()) << "reading is fine";
  std::string msg = error_message<ValueError>([&] { (void)t.mutable_data_ptr(); });
  EXPECT_TRUE(contains(msg, "read-only"));
  // Views of its storage are read-only too.
  Tensor view = Tensor::make(t.storage(), 1, Dims{2}, Dims{2}, t.dtype());
  EXPECT_TRUE(view.is_read_only());
  EXPECT_THROW((void)view.mutable_data_ptr(), ValueError);
  // The producer may still write; the tensor sees it (it is shared, not frozen).
  a[0] = 9;
  EXPECT_EQ(t.to_double_vector()[0], 9);
  // A copy is new memory and writable.
  Tensor c = this->as(v, {.dtype = DType::int32});
  EXPECT_FALSE(c.is_read_only());
  EXPECT_NO_THROW((void)c.mutable_data_ptr());
  // Writable sources give writable tensors.
  v.read_only = false;
  EXPECT_FALSE(this->as(v).is_read_only());
}

// ---- ARR-11 -----------------------------------------------------------------------------

TYPED_TEST(ArrayRules, Arr11DtypeChangeCopiesAndNeverModifiesTheSource) {
  for (DType from : all_dtypes()) {
    const int64_t n = 6;
    Buffer buf(2 * n * itemsize(from));
    fill_iota(buf.data(), from, 2 * n);
    // A gapped view, so the copy also gathers.
    ArrayView v = make_view(buf.data(), from, Dims{n}, Dims{2 * static_cast<int64_t>(itemsize(from))});
    std::vector<unsigned char> before(buf.data(), buf.data() + buf.size());
    for (DType to : all_dtypes()) {
      if (to == from) continue;
      SCOPED_TRACE(std::string(name(from)) + " -> " + name(to));
      Tensor t = this->as(v, {.dtype = to});
      EXPECT_EQ(t.dtype(), to);
      EXPECT_FALSE(ranges_overlap(byte_range(t), {reinterpret_cast<uintptr_t>(buf.data()),
                                                  reinterpret_cast<uintptr_t>(buf.data() + buf.size())}));
      EXPECT_TRUE(std::equal(before.begin(), before.end(), buf.data())) << "source unmodified";
      for (int64_t i = 0; i < n; ++i)
        EXPECT_TRUE(same_element(element_addr(t, i), oracle_cast(read_value(element_addr(v, i), from), to), to))
            << "element " << i;
    }
  }
}

}  // namespace
}  // namespace astensor::conformance
