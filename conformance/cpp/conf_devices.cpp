// Conformance: the rules that need an accelerator (TEN-1/2 across devices, DEV-1, DEV-2,
// ARR-11, COPY-1, GRAD-1/2, XFER-1), run on every device present: sim:N once the simulated
// accelerator is built (issue 6), cuda:N where a GPU and a CUDA build exist. Where none is
// present, each test skips and says why.

#include <gtest/gtest.h>

#include <vector>

#include "conf_util.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/convert.h"
#include "core/nested.h"
#include "impls.h"

namespace astensor::conformance {
namespace {

/// Every accelerator device present, resolved (sim:0, sim:1, cuda:0 ...).
std::vector<Device> present_devices() {
  std::vector<Device> out;
  for (DeviceType type : {DeviceType::Sim, DeviceType::CUDA}) {
    const int n = backend(type).device_count();
    for (int i = 0; i < n; ++i) out.push_back(Device(type, i));
  }
  return out;
}

std::string why_no_device() {
  return "no accelerator is present (sim: " + backend(DeviceType::Sim).unavailable_reason() +
         "; cuda: " + backend(DeviceType::CUDA).unavailable_reason() + ")";
}

#define SKIP_WITHOUT_DEVICES(devs) \
  if ((devs).empty()) GTEST_SKIP() << why_no_device()

Tensor host_tensor(const std::vector<double>& values, DType dtype, Dims shape) {
  return copy_plain(ArrayView::contiguous(values.data(), DType::float64, std::move(shape)), dtype,
                    Device::cpu());
}
/// A CPU copy of any tensor, made by the core (not by the implementation under test).
Tensor to_host(const Tensor& t) { return copy_plain(view_of(t), t.dtype(), Device::cpu()); }

template <class Impl>
class DeviceRules : public ::testing::Test {
 protected:
  static Tensor as(const Source& s, const Options& o = {}) { return Impl::as_tensor(s, o); }
  DefaultsGuard defaults_;
};
TYPED_TEST_SUITE(DeviceRules, Implementations);

TYPED_TEST(DeviceRules, Ten2DeviceChangeCopiesToTheTarget) {
  auto devs = present_devices();
  SKIP_WITHOUT_DEVICES(devs);
  for (Device dev : devs) {
    SCOPED_TRACE(dev.str());
    Tensor t = host_tensor({1, 2, 3, 4, 5, 6}, DType::float32, Dims{2, 3});
    Tensor d = this->as(t, {.device = dev});
    EXPECT_FALSE(d.is_same(t));
    EXPECT_EQ(d.device(), dev);
    EXPECT_EQ(d.dtype(), DType::float32);
    EXPECT_EQ(d.shape(), t.shape());
    EXPECT_EQ(d.to_double_vector(), t.to_double_vector());
    // With a dtype change, the values are DT-3's.
    Tensor h = this->as(t, {.dtype = DType::float16, .device = dev});
    EXPECT_EQ(h.device(), dev);
    Tensor back = to_host(h);
    for (int64_t i = 0; i < t.numel(); ++i)
      EXPECT_TRUE(same_element(element_addr(back, i),
                               oracle_cast(read_value(element_addr(t, i), DType::float32), DType::float16),
                               DType::float16));
    // And back to the CPU.
    Tensor c = this->as(d, {.device = Device::cpu()});
    EXPECT_EQ(c.device(), Device::cpu());
    EXPECT_EQ(c.to_double_vector(), t.to_double_vector());
  }
}

TYPED_TEST(DeviceRules, Ten1SameDeviceIsTheSameObject) {  // TEN-1, DEV-2
  auto devs = present_devices();
  SKIP_WITHOUT_DEVICES(devs);
  for (Device dev : devs) {
    SCOPED_TRACE(dev.str());
    Tensor d = this->as(host_tensor({1, 2, 3}, DType::float64, Dims{3}), {.device = dev});
    EXPECT_TRUE(this->as(d).is_same(d));
    EXPECT_TRUE(this->as(d, {.device = dev}).is_same(d));
    EXPECT_TRUE(this->as(d, {.dtype = DType::float64, .device = dev, .copy = false}).is_same(d));
    // "cuda"/"sim" without an index is the current device; equality uses resolved devices.
    if (dev.index == backend(dev.type).current_device())
      EXPECT_TRUE(this->as(d, {.device = Device(dev.type)}).is_same(d));
  }
}

TYPED_TEST(DeviceRules, Ten2CrossDeviceCopies) {
  auto devs = present_devices();
  std::vector<std::pair<Device, Device>> pairs;
  for (Device a : devs)
    for (Device b : devs)
      if (a != b) pairs.push_back({a, b});
  if (pairs.empty()) GTEST_SKIP() << "fewer than two accelerator devices; " << why_no_device();
  for (auto [a, b] : pairs) {
    SCOPED_TRACE(a.str() + " -> " + b.str());
    Tensor src = this->as(host_tensor({1, -2, 3.5}, DType::float32, Dims{3}), {.device = a});
    Tensor dst = this->as(src, {.dtype = DType::float64, .device = b});
    EXPECT_EQ(dst.device(), b);
    EXPECT_EQ(dst.to_double_vector(), (std::vector<double>{1, -2, 3.5}));
  }
}

TYPED_TEST(DeviceRules, Dev1TensorsKeepTheirDeviceOthersFollowTheDefault) {
  auto devs = present_devices();
  SKIP_WITHOUT_DEVICES(devs);
  const Device dev = devs.front();
  Tensor d = this->as(host_tensor({1, 2}, DType::float32, Dims{2}), {.device = dev});
  EXPECT_EQ(this->as(d).device(), dev) << "a tensor keeps its device";
  Nested n = {1.5, 2.5};
  NestedReader reader(n);
  std::vector<float> a = {1, 2};
  ArrayView v = ArrayView::contiguous(a.data(), DType::float32, Dims{2});
  EXPECT_EQ(this->as(SequenceSource{&reader}).device(), Device::cpu());
  EXPECT_EQ(this->as(v).device(), Device::cpu());
  // set_default_device applies to every input, CPU tensors included.
  set_default_device(dev);
  Tensor t = host_tensor({1, 2}, DType::float32, Dims{2});
  Tensor moved = this->as(t);
  EXPECT_FALSE(moved.is_same(t));
  EXPECT_EQ(moved.device(), dev);
  EXPECT_EQ(moved.to_double_vector(), (std::vector<double>{1, 2}));
  EXPECT_EQ(this->as(SequenceSource{&reader}).device(), dev);
  EXPECT_EQ(this->as(SequenceSource{&reader}).to_double_vector(), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(this->as(v).device(), dev);
  EXPECT_TRUE(this->as(d).is_same(d)) << "already on the default device";
}

TYPED_TEST(DeviceRules, Arr11NonCpuTargetCopiesAndLeavesTheSource) {  // ARR-11, XFER-1
  auto devs = present_devices();
  SKIP_WITHOUT_DEVICES(devs);
  for (Device dev : devs) {
    SCOPED_TRACE(dev.str());
    std::vector<uint8_t> a = {0, 1, 2, 200, 255, 7};
    const std::vector<uint8_t> before = a;
    ArrayView v = make_view(a.data(), DType::uint8, Dims{3, 2}, Dims{1, 3});  // transposed
    for (DType to : {DType::uint8, DType::float32, DType::int8}) {
      SCOPED_TRACE(name(to));
      Tensor t = this->as(v, {.dtype = to, .device = dev});
      EXPECT_EQ(t.device(), dev);
      EXPECT_EQ(t.dtype(), to);
      EXPECT_EQ(a, before) << "source unmodified";
      Tensor back = to_host(t);
      for (int64_t i = 0; i < 6; ++i)
        EXPECT_TRUE(same_element(element_addr(back, i),
                                 oracle_cast(read_value(element_addr(v, i), DType::uint8), to), to));
      // XFER-1: the call is blocking; the source may change right after it returns.
      auto values = t.to_double_vector();
      std::fill(a.begin(), a.end(), 99);
      EXPECT_EQ(t.to_double_vector(), values);
      a = before;
    }
  }
}

TYPED_TEST(DeviceRules, Copy1FalseRefusesADeviceChange) {
  auto devs = present_devices();
  SKIP_WITHOUT_DEVICES(devs);
  const Device dev = devs.front();
  Tensor t = host_tensor({1, 2}, DType::float32, Dims{2});
  const long long live_t = live_allocations();
  EXPECT_TRUE(contains(error_message<ValueError>([&] {
                         this->as(t, {.device = dev, .copy = false});
                       }),
                       "device"));
  std::vector<float> a = {1, 2};
  EXPECT_TRUE(contains(error_message<ValueError>([&] {
                         this->as(ArrayView::contiguous(a.data(), DType::float32, Dims{2}),
                                  {.device = dev, .copy = false});
                       }),
                       "device"));
  EXPECT_EQ(live_allocations(), live_t) << "a refused copy allocates nothing";
}

TYPED_TEST(DeviceRules, Grad1Grad2DeviceCopiesCarryHistoryBackToTheLeaf) {
  auto devs = present_devices();
  SKIP_WITHOUT_DEVICES(devs);
  for (Device dev : devs) {
    SCOPED_TRACE(dev.str());
    Tensor leaf = host_tensor({1, 2, 3}, DType::float32, Dims{3});
    leaf.set_requires_grad(true);
    Tensor d = this->as(leaf, {.device = dev});
    EXPECT_TRUE(d.requires_grad());
    EXPECT_FALSE(d.is_leaf());
    ASSERT_NE(d.grad_fn(), nullptr);
    EXPECT_STREQ(d.grad_fn()->name(), "ToCopyBackward");
    Tensor h = this->as(d, {.dtype = DType::float64});
    Tensor g = this->as(host_tensor({0.25, -1, 8}, DType::float64, Dims{3}), {.device = dev});
    h.backward(g);
    ASSERT_TRUE(leaf.grad().defined());
    EXPECT_EQ(leaf.grad().device(), Device::cpu()) << "the leaf's device";
    EXPECT_EQ(leaf.grad().dtype(), DType::float32) << "the leaf's dtype";
    EXPECT_EQ(leaf.grad().to_double_vector(), (std::vector<double>{0.25, -1, 8}));
    // Integer targets drop the history on devices too.
    Tensor i = this->as(leaf, {.dtype = DType::int32, .device = dev});
    EXPECT_FALSE(i.requires_grad());
    EXPECT_TRUE(i.is_leaf());
  }
}

}  // namespace
}  // namespace astensor::conformance
