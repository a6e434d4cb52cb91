// Conformance: Tensor input (TEN-1..3), autograd history (GRAD-1..3), the copy policy
// (COPY-1) and devices (DEV-1..3), on the CPU, for every implementation in impls.h.

#include <gtest/gtest.h>

#include <complex>
#include <vector>

#include "conf_util.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/convert.h"
#include "core/nested.h"
#include "impls.h"

namespace astensor::conformance {
namespace {

/// A fresh contiguous CPU tensor holding `values` converted to `dtype` (built with the core's
/// converter, not with the implementation under test).
Tensor make_tensor(const std::vector<double>& values, DType dtype, Dims shape) {
  ArrayView v = ArrayView::contiguous(values.data(), DType::float64, std::move(shape));
  return copy_plain(v, dtype, Device::cpu());
}
Tensor iota(int64_t n, DType dtype, Dims shape) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<double>(i + 1);
  return make_tensor(v, dtype, std::move(shape));
}
/// A view on t's storage (no copy), offset and strides in elements.
Tensor view(const Tensor& t, int64_t offset, Dims shape, Dims strides) {
  return Tensor::make(t.storage(), offset, std::move(shape), std::move(strides), t.dtype());
}
std::vector<double> values(const Tensor& t) { return t.to_double_vector(); }

template <class Impl>
class TensorRules : public ::testing::Test {
 protected:
  static Tensor as(const Source& s, const Options& o = {}) { return Impl::as_tensor(s, o); }
  DefaultsGuard defaults_;
};
TYPED_TEST_SUITE(TensorRules, Implementations);

// ---- TEN-1 ------------------------------------------------------------------------------

TYPED_TEST(TensorRules, Ten1SameObjectForSameDtypeAndDevice) {
  for (DType d : all_dtypes()) {
    SCOPED_TRACE(name(d));
    Tensor t = iota(6, d, Dims{2, 3});
    EXPECT_TRUE(this->as(t).is_same(t));
    EXPECT_TRUE(this->as(t, {.dtype = d}).is_same(t));
    EXPECT_TRUE(this->as(t, {.device = Device::cpu()}).is_same(t));
    EXPECT_TRUE(this->as(t, {.dtype = d, .device = Device::cpu()}).is_same(t));
    EXPECT_TRUE(this->as(t, {.copy = false}).is_same(t)) << "COPY-1: copy=False shares too";
  }
}

TYPED_TEST(TensorRules, Ten1AnyStridesOffsetOrAutogradState) {
  Tensor base = iota(24, DType::float32, Dims{24});
  std::vector<Tensor> cases = {
      view(base, 0, Dims{4, 6}, Dims{1, 4}),   // transposed
      view(base, 5, Dims{3, 2}, Dims{6, 2}),   // offset, gaps
      view(base, 3, Dims{5, 4}, Dims{0, 1}),   // broadcast (stride 0)
      view(base, 23, Dims{6}, Dims{-3}),       // negative stride
      view(base, 7, Dims{}, Dims{}),           // 0-d
      view(base, 2, Dims{0, 3}, Dims{3, 1}),   // zero-size
  };
  Tensor leaf = iota(3, DType::float32, Dims{3});
  leaf.set_requires_grad(true);
  cases.push_back(leaf);                                        // leaf requiring grad
  Tensor nonleaf = this->as(leaf, {.dtype = DType::float64});   // GRAD-1 non-leaf
  ASSERT_FALSE(nonleaf.is_leaf());
  cases.push_back(nonleaf);
  int released = 0;
  float ro_data[3] = {1, 2, 3};
  auto ro_storage = Storage::wrap(ro_data, sizeof ro_data, Device::cpu(), counting_owner(&released), true);
  cases.push_back(Tensor::make(ro_storage, 0, Dims{3}, Dims{1}, DType::float32));  // read-only
  for (std::size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(k);
    const Tensor& t = cases[k];
    auto fn = t.grad_fn();
    const bool rg = t.requires_grad();
    Tensor r = this->as(t, {.dtype = t.dtype(), .device = Device::cpu()});
    EXPECT_TRUE(r.is_same(t));
    EXPECT_EQ(r.grad_fn(), fn) << "nothing is detached";
    EXPECT_EQ(r.requires_grad(), rg);
  }
}

// DEV-2: cpu:0 is the CPU, so it is no reason to copy (PyTorch copies here).
TYPED_TEST(TensorRules, Dev2CpuZeroEqualsCpu) {
  EXPECT_EQ(Device::parse("cpu:0"), Device::cpu());
  EXPECT_EQ(Device(DeviceType::CPU, 0), Device::cpu());
  Tensor t = iota(4, DType::int16, Dims{4});
  EXPECT_TRUE(this->as(t, {.device = Device::parse("cpu:0")}).is_same(t));
  EXPECT_TRUE(this->as(t, {.device = Device(DeviceType::CPU, 0), .copy = false}).is_same(t));
  std::vector<float> a = {1, 2, 3};
  ArrayView v = ArrayView::contiguous(a.data(), DType::float32, Dims{3});
  EXPECT_EQ(this->as(v, {.device = Device::parse("cpu:0")}).data_ptr(), a.data());
}

// ---- TEN-2 ------------------------------------------------------------------------------

TYPED_TEST(TensorRules, Ten2DtypeChangeIsANewTensorThatNeverAliases) {
  for (DType from : all_dtypes()) {
    for (DType to : all_dtypes()) {
      if (from == to) continue;
      SCOPED_TRACE(std::string(name(from)) + " -> " + name(to));
      Tensor t = iota(6, from, Dims{2, 3});
      Tensor r = this->as(t, {.dtype = to});
      ASSERT_FALSE(r.is_same(t));
      EXPECT_EQ(r.dtype(), to);
      EXPECT_EQ(r.device(), Device::cpu());
      EXPECT_EQ(r.shape(), t.shape());
      EXPECT_NE(r.storage(), t.storage());
      EXPECT_FALSE(ranges_overlap(byte_range(r), byte_range(t)));
      for (int64_t i = 0; i < t.numel(); ++i) {
        auto want = oracle_cast(read_value(element_addr(t, i), from), to);
        EXPECT_TRUE(same_element(element_addr(r, i), want, to)) << "element " << i;
      }
      // Writing the source afterwards does not reach the result.
      auto before = values(r);
      std::memset(t.mutable_data_ptr(), 0, t.numel() * t.itemsize());
      EXPECT_EQ(values(r), before);
    }
  }
}

// ---- TEN-3 ------------------------------------------------------------------------------

TYPED_TEST(TensorRules, Ten3DenseSourceKeepsItsStrideOrder) {
  Tensor base = iota(24, DType::float32, Dims{24});
  struct Case { Dims shape, strides, want; };
  std::vector<Case> cases = {
      {Dims{3, 4}, Dims{1, 3}, Dims{1, 3}},           // transposed
      {Dims{2, 3, 4}, Dims{1, 2, 6}, Dims{1, 2, 6}},  // Fortran order
      {Dims{2, 3, 4}, Dims{4, 8, 1}, Dims{4, 8, 1}},  // permuted
      {Dims{4, 1, 3}, Dims{1, 77, 4}, Dims{1, 3, 4}},  // size-1 dim: any stride, still dense
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.strides.str());
    Tensor src = view(base, 0, c.shape, c.strides);
    Tensor r = this->as(src, {.dtype = DType::float64});
    EXPECT_EQ(r.shape(), c.shape);
    // Size-1 dims carry no order; compare only the dims that matter.
    for (std::size_t d = 0; d < c.shape.size(); ++d)
      if (c.shape[d] != 1) EXPECT_EQ(r.strides()[d], c.want[d]) << "dim " << d;
    EXPECT_EQ(values(r), values(src));
  }
}

TYPED_TEST(TensorRules, Ten3BroadcastOrGappedSourceGivesCContiguous) {
  Tensor base = iota(24, DType::int32, Dims{24});
  struct Case { Dims shape, strides; int64_t offset; };
  std::vector<Case> cases = {
      {Dims{3, 4}, Dims{0, 1}, 0},    // broadcast rows
      {Dims{4}, Dims{2}, 1},          // [1::2]
      {Dims{2, 3}, Dims{12, 2}, 0},   // gaps in both dims
      {Dims{3, 4}, Dims{1, 0}, 2},    // broadcast columns
      {Dims{6}, Dims{-1}, 10},        // reversed: a copy must not carry negative strides
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.strides.str());
    Tensor src = view(base, c.offset, c.shape, c.strides);
    Tensor r = this->as(src, {.dtype = DType::float32});
    EXPECT_EQ(r.strides(), contiguous_strides(c.shape.span()));
    EXPECT_EQ(values(r), values(src));
  }
}

// TEN-3 applies to copies of arrays too ("all inputs").
TYPED_TEST(TensorRules, Ten3ArrayCopiesFollowTheSameLayoutRule) {
  std::vector<int16_t> a(24);
  for (int i = 0; i < 24; ++i) a[static_cast<std::size_t>(i)] = static_cast<int16_t>(i);
  ArrayView fortran = make_view(a.data(), DType::int16, Dims{2, 3, 4}, Dims{2, 4, 12});
  Tensor r = this->as(fortran, {.dtype = DType::float32});
  EXPECT_EQ(r.strides(), (Dims{1, 2, 6}));
  ArrayView gapped = make_view(a.data() + 1, DType::int16, Dims{3, 2}, Dims{16, 4});
  Tensor g = this->as(gapped, {.dtype = DType::int64});
  EXPECT_EQ(g.strides(), (Dims{2, 1}));
  EXPECT_EQ(values(g), (std::vector<double>{1, 3, 9, 11, 17, 19}));
}

// ---- GRAD-1 -----------------------------------------------------------------------------

TYPED_TEST(TensorRules, Grad1FloatOrComplexCopyRecordsToCopyBackward) {
  for (DType to : {DType::float16, DType::bfloat16, DType::float64, DType::complex64,
                   DType::complex128}) {
    SCOPED_TRACE(name(to));
    Tensor leaf = iota(3, DType::float32, Dims{3});
    leaf.set_requires_grad(true);
    Tensor r = this->as(leaf, {.dtype = to});
    EXPECT_TRUE(r.requires_grad());
    EXPECT_FALSE(r.is_leaf());
    ASSERT_NE(r.grad_fn(), nullptr);
    EXPECT_STREQ(r.grad_fn()->name(), "ToCopyBackward");
    auto* node = dynamic_cast<ToCopyBackward*>(r.grad_fn().get());
    ASSERT_NE(node, nullptr);
    EXPECT_TRUE(node->source.is_same(leaf)) << "grad_fn links to the source";
    EXPECT_TRUE(leaf.is_leaf());
  }
}

TYPED_TEST(TensorRules, Grad1IntegerOrBoolTargetsDropHistory) {
  for (DType to : all_dtypes()) {
    if (is_differentiable(to)) continue;
    SCOPED_TRACE(name(to));
    Tensor leaf = iota(3, DType::float64, Dims{3});
    leaf.set_requires_grad(true);
    Tensor r = this->as(leaf, {.dtype = to});
    EXPECT_FALSE(r.requires_grad());
    EXPECT_TRUE(r.is_leaf());
    EXPECT_EQ(r.grad_fn(), nullptr);
  }
}

TYPED_TEST(TensorRules, Grad1SourceWithoutGradGivesPlainLeaf) {
  Tensor t = iota(3, DType::float32, Dims{3});
  Tensor r = this->as(t, {.dtype = DType::float64});
  EXPECT_FALSE(r.requires_grad());
  EXPECT_TRUE(r.is_leaf());
  EXPECT_EQ(r.grad_fn(), nullptr);
}

// ---- GRAD-2 -----------------------------------------------------------------------------

TYPED_TEST(TensorRules, Grad2BackwardThroughAChainReachesTheLeafInItsDtype) {
  Tensor leaf = make_tensor({1, 2, 3}, DType::float32, Dims{3});
  leaf.set_requires_grad(true);
  Tensor a = this->as(leaf, {.dtype = DType::float64});
  Tensor b = this->as(a, {.dtype = DType::complex64});
  Tensor c = this->as(b, {.dtype = DType::float16});
  ASSERT_FALSE(c.is_leaf());
  c.backward(make_tensor({0.5, 2, -4}, DType::float16, Dims{3}));
  Tensor g = leaf.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.dtype(), DType::float32);
  EXPECT_EQ(g.device(), Device::cpu());
  EXPECT_EQ(g.shape(), (Dims{3}));
  EXPECT_EQ(values(g), (std::vector<double>{0.5, 2, -4}));
  EXPECT_FALSE(a.grad().defined()) << "non-leaves keep no .grad";
  // A second path into the same leaf accumulates.
  Tensor d = this->as(leaf, {.dtype = DType::bfloat16});
  d.backward(make_tensor({1, 1, 1}, DType::bfloat16, Dims{3}));
  EXPECT_EQ(leaf.grad().dtype(), DType::float32);
  EXPECT_EQ(values(leaf.grad()), (std::vector<double>{1.5, 3, -3}));
}

TYPED_TEST(TensorRules, Grad2GradientIsConvertedBackPerDT3) {
  Tensor leaf = make_tensor({1}, DType::float64, Dims{});
  leaf.set_requires_grad(true);
  Tensor h = this->as(leaf, {.dtype = DType::float16});
  h.backward(make_tensor({1.0 / 3.0}, DType::float16, Dims{}));
  // The gradient arrives as the float16 value, widened exactly to float64.
  EXPECT_EQ(values(leaf.grad()), values(make_tensor({1.0 / 3.0}, DType::float16, Dims{})));
  EXPECT_NE(values(leaf.grad())[0], 1.0 / 3.0);
  // Scalar backward with the implicit gradient of one.
  Tensor leaf2 = make_tensor({4}, DType::bfloat16, Dims{});
  leaf2.set_requires_grad(true);
  this->as(leaf2, {.dtype = DType::complex128}).backward();
  EXPECT_EQ(leaf2.grad().dtype(), DType::bfloat16);
  EXPECT_EQ(values(leaf2.grad()), (std::vector<double>{1}));
}

// ---- GRAD-3 -----------------------------------------------------------------------------

TYPED_TEST(TensorRules, Grad3NoGradRecordsNothing) {
  Tensor leaf = iota(3, DType::float32, Dims{3});
  leaf.set_requires_grad(true);
  {
    NoGradGuard guard;
    Tensor r = this->as(leaf, {.dtype = DType::float64});
    EXPECT_FALSE(r.requires_grad());
    EXPECT_TRUE(r.is_leaf());
    EXPECT_EQ(r.grad_fn(), nullptr);
  }
  EXPECT_FALSE(this->as(leaf, {.dtype = DType::float64}).is_leaf()) << "the guard is scoped";
}

TYPED_TEST(TensorRules, Grad3ArraysAndSequencesGiveLeavesWithoutGrad) {
  std::vector<float> a = {1, 2, 3};
  Tensor r = this->as(ArrayView::contiguous(a.data(), DType::float32, Dims{3}));
  EXPECT_FALSE(r.requires_grad());
  EXPECT_TRUE(r.is_leaf());
  // Even when the nested blocks are tensors that require grad.
  Tensor leaf = iota(3, DType::float32, Dims{3});
  leaf.set_requires_grad(true);
  Nested n = {leaf, leaf};
  NestedReader reader(n);
  Tensor s = this->as(SequenceSource{&reader});
  EXPECT_EQ(s.shape(), (Dims{2, 3}));
  EXPECT_FALSE(s.requires_grad());
  EXPECT_TRUE(s.is_leaf());
  EXPECT_EQ(s.grad_fn(), nullptr);
}

// ---- COPY-1 -----------------------------------------------------------------------------

TYPED_TEST(TensorRules, Copy1TrueAlwaysGivesNewMemory) {
  Tensor t = iota(6, DType::int32, Dims{2, 3});
  Tensor r = this->as(t, {.copy = true});
  EXPECT_FALSE(r.is_same(t)) << "a tensor input gives a new object";
  EXPECT_EQ(r.dtype(), t.dtype());
  EXPECT_FALSE(ranges_overlap(byte_range(r), byte_range(t)));
  EXPECT_EQ(values(r), values(t));
  std::vector<double> a = {1, 2, 3, 4};
  ArrayView v = ArrayView::contiguous(a.data(), DType::float64, Dims{2, 2});
  v.read_only = true;
  Tensor c = this->as(v, {.copy = true});
  EXPECT_NE(c.data_ptr(), static_cast<const void*>(a.data()));
  EXPECT_FALSE(ranges_overlap(byte_range(c), {reinterpret_cast<uintptr_t>(a.data()),
                                              reinterpret_cast<uintptr_t>(a.data() + 4)}));
  EXPECT_FALSE(c.is_read_only()) << "a copy is new, writable memory";
  a[0] = 100;
  EXPECT_EQ(values(c), (std::vector<double>{1, 2, 3, 4}));
}

TYPED_TEST(TensorRules, Copy1FalseRaisesSayingWhy) {
  Tensor t = iota(3, DType::float32, Dims{3});
  const long long live_t = live_allocations();
  EXPECT_TRUE(contains(error_message<ValueError>([&] {
                         this->as(t, {.dtype = DType::float64, .copy = false});
                       }),
                       "dtype"));
  std::vector<uint32_t> a = {1, 2, 3};
  ArrayView v = ArrayView::contiguous(a.data(), DType::uint32, Dims{3});
  EXPECT_TRUE(contains(error_message<ValueError>([&] {
                         this->as(v, {.dtype = DType::int64, .copy = false});
                       }),
                       "dtype"));
  ArrayView swapped = v;
  swapped.byteswapped = true;
  EXPECT_TRUE(contains(error_message<ValueError>([&] { this->as(swapped, {.copy = false}); }),
                       "byte order"));
  unsigned char packed[15] = {};
  ArrayView odd = make_view(packed, DType::uint32, Dims{3}, Dims{5});
  EXPECT_TRUE(contains(error_message<ValueError>([&] { this->as(odd, {.copy = false}); }),
                       "stride"));
  Nested n = {1, 2};
  NestedReader reader(n);
  EXPECT_TRUE(contains(
      error_message<ValueError>([&] { this->as(SequenceSource{&reader}, {.copy = false}); }),
      "sequences"));
  EXPECT_EQ(live_allocations(), live_t) << "a refused copy allocates nothing";
  // And where no copy is needed, copy=False shares.
  EXPECT_EQ(this->as(v, {.copy = false}).data_ptr(), a.data());
}

// ---- DEV-1 ------------------------------------------------------------------------------

TYPED_TEST(TensorRules, Dev1WithoutDeviceTensorsKeepTheirsOthersGoToCpu) {
  Tensor t = iota(3, DType::float32, Dims{3});
  EXPECT_TRUE(this->as(t).is_same(t));
  Nested n = {1.5, 2.5};
  NestedReader reader(n);
  EXPECT_EQ(this->as(SequenceSource{&reader}).device(), Device::cpu());
  std::vector<int8_t> a = {1, 2};
  EXPECT_EQ(this->as(ArrayView::contiguous(a.data(), DType::int8, Dims{2})).device(), Device::cpu());
  // An explicit CPU default changes nothing for CPU inputs.
  set_default_device(Device::cpu());
  EXPECT_TRUE(this->as(t).is_same(t));
  EXPECT_EQ(this->as(SequenceSource{&reader}).device(), Device::cpu());
}

TYPED_TEST(TensorRules, Dev1DefaultDeviceAppliesToTensorsToo) {
  for (DeviceType type : {DeviceType::CUDA, DeviceType::Sim}) {
    if (backend(type).device_count() > 0) continue;  // device suites check the copy there
    SCOPED_TRACE(device_type_name(type));
    set_default_device(Device(type));
    Tensor t = iota(3, DType::float32, Dims{3});
    // The default names a missing device, so even a CPU tensor must be refused (DEV-3)
    // rather than returned as it is: the default applies to every input.
    EXPECT_THROW(this->as(t), RuntimeError);
    std::vector<float> a = {1, 2, 3};
    EXPECT_THROW(this->as(ArrayView::contiguous(a.data(), DType::float32, Dims{3})), RuntimeError);
    Nested n = {1, 2};
    NestedReader reader(n);
    EXPECT_THROW(this->as(SequenceSource{&reader}), RuntimeError);
    // An explicit device wins over the default.
    EXPECT_TRUE(this->as(t, {.device = Device::cpu()}).is_same(t));
    set_default_device(std::nullopt);
    return;
  }
  GTEST_SKIP() << "cuda and sim devices are both present: the default-device copy is checked "
                  "by the device suites";
}

// ---- DEV-3 ------------------------------------------------------------------------------

TYPED_TEST(TensorRules, Dev3MissingDeviceRaisesAndAllocatesNothing) {
  bool checked = false;
  for (DeviceType type : {DeviceType::CUDA, DeviceType::Sim}) {
    if (backend(type).device_count() > 0) continue;
    checked = true;
    SCOPED_TRACE(device_type_name(type));
    Tensor t = iota(1000, DType::float32, Dims{1000});
    std::vector<double> a(1000, 1.0);
    ArrayView v = ArrayView::contiguous(a.data(), DType::float64, Dims{1000});
    Nested n = {1, 2, 3};
    NestedReader reader(n);
    const long long live = live_allocations();
    for (Device dev : {Device(type), Device(type, 0), Device(type, 1)}) {
      for (const Source& s : {Source(t), Source(v), Source(SequenceSource{&reader})}) {
        for (auto dtype : {std::optional<DType>{}, std::optional<DType>{DType::float16}}) {
          std::string msg = error_message<RuntimeError>([&] {
            this->as(s, {.dtype = dtype, .device = dev});
          });
          EXPECT_TRUE(contains(msg, device_type_name(type)));
          EXPECT_TRUE(contains(msg, "not available"));
          EXPECT_EQ(live_allocations(), live) << "nothing allocated";
        }
      }
    }
  }
  if (!checked)
    GTEST_SKIP() << "cuda and sim devices are both present; Dev3IndexOutOfRange covers DEV-3";
}

TYPED_TEST(TensorRules, Dev3IndexOutOfRangeRaisesSayingWhatWasFound) {
  for (DeviceType type : {DeviceType::CUDA, DeviceType::Sim}) {
    SCOPED_TRACE(device_type_name(type));
    const int count = backend(type).device_count();
    Tensor t = iota(4, DType::float32, Dims{4});
    const long long live = live_allocations();
    std::string msg = error_message<RuntimeError>([&] {
      this->as(t, {.device = Device(type, count + 3)});
    });
    EXPECT_TRUE(contains(msg, Device(type, count + 3).str()));
    if (count > 0) EXPECT_TRUE(contains(msg, "found " + std::to_string(count)));
    EXPECT_EQ(live_allocations(), live);
  }
}

}  // namespace
}  // namespace astensor::conformance
