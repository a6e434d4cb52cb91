// impl::as_tensor on the simulated accelerator (issues 5 and 6): the plan carries the
// transfer pipeline's decisions (COPY-2) and execution follows it; results equal
// reference::as_tensor (XFER-2, XFER-3), with sim's random delays on so that a missing wait
// corrupts data instead of passing by luck (DEV-4).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/convert.h"
#include "core/storage.h"
#include "impl/as_tensor.h"
#include "backends/sim/sim.h"
#include "impl/transfer/pinned_pool.h"
#include "impl_compare.h"
#include "reference/as_tensor.h"

using namespace astensor;
using impl::CastSite;
using impl::Decision;

namespace {

const Device kSim0(DeviceType::Sim, 0), kSim1(DeviceType::Sim, 1);

/// n random values of dtype `dt` in a host buffer (bool: 0/1), as a 1-D contiguous view.
struct HostBuf {
  std::vector<unsigned char> bytes;
  ArrayView view(DType dt, Dims shape) {
    return ArrayView::contiguous(bytes.data(), dt, std::move(shape));
  }
};
HostBuf random_bytes(std::size_t n, uint32_t seed, DType dt) {
  HostBuf b;
  b.bytes.resize(n);
  std::mt19937 rng(seed);
  for (auto& x : b.bytes) x = static_cast<unsigned char>(rng());
  if (dt == DType::bool_)
    for (auto& x : b.bytes) x &= 1;
  return b;
}

Options to(DType dt, Device d) {
  Options o;
  o.dtype = dt;
  o.device = d;
  return o;
}

/// A tensor on `d` holding the host view's values (moved by core's plain copy).
Tensor on_device(const ArrayView& v, Device d) { return copy_plain(v, v.dtype, d); }

}  // namespace

// --- plans through impl::as_tensor ------------------------------------------------------------

TEST(ImplOnSim, WideningCastTransfersTheNarrowType) {  // COPY-2, DT-3, XFER-3
  HostBuf b = random_bytes(3000, 1, DType::uint8);
  const ArrayView v = b.view(DType::uint8, Dims{30, 100});
  const Options o = to(DType::float32, kSim0);
  impl::Plan p = impl::plan(v, o);
  ASSERT_EQ(p.decision, Decision::Transfer);
  ASSERT_TRUE(p.transfer);
  EXPECT_EQ(p.cast_site, CastSite::Device);
  EXPECT_EQ(p.transfer->link_dtype, DType::uint8);
  EXPECT_EQ(p.cast_site, CastSite::Device);
  ASSERT_EQ(p.links.size(), 1u);
  EXPECT_EQ(p.links[0].nbytes, 3000);  // one byte per element crosses, not four
  const std::string e = impl::explain(v, o);
  EXPECT_NE(e.find("cast on the device"), std::string::npos) << e;
  EXPECT_NE(e.find("(uint8) over h2d"), std::string::npos) << e;
  sim::ScopedDelays delays(0, 50);
  EXPECT_EQ(impl_check::compare_impls(v, o), "");
}

TEST(ImplOnSim, NarrowingCastRunsOnTheHostBeforeTheTransfer) {  // COPY-2, DT-3, XFER-3
  HostBuf b = random_bytes(8 * 4096, 2, DType::float64);
  ArrayView v = b.view(DType::float64, Dims{64, 64});
  std::swap(v.byte_strides[0], v.byte_strides[1]);  // .T: a gather while staging
  const Options o = to(DType::float32, kSim0);
  impl::Plan p = impl::plan(v, o);
  ASSERT_TRUE(p.transfer);
  EXPECT_EQ(p.cast_site, CastSite::Host);
  EXPECT_EQ(p.transfer->link_dtype, DType::float32);
  EXPECT_TRUE(p.transfer->staged);
  EXPECT_EQ(p.cast_site, CastSite::Host);
  EXPECT_EQ(p.links[0].nbytes, 4096 * 4);
  EXPECT_EQ(p.strides, (Dims{1, 64}));  // TEN-3: the transposed order is kept (dense)
  sim::ScopedDelays delays(0, 50);
  EXPECT_EQ(impl_check::compare_impls(v, o), "");
}

TEST(ImplOnSim, PinnedSourcesSkipStaging) {  // COPY-2, XFER-3
  auto lease = transfer::pinned_pool(DeviceType::Sim).acquire(1 << 16);
  std::mt19937 rng(3);
  auto* f = static_cast<float*>(lease.data());
  for (int i = 0; i < 16384; ++i) f[i] = static_cast<float>(rng()) / 7.0f;
  const ArrayView v = ArrayView::contiguous(lease.data(), DType::float32, Dims{128, 128});
  const Options same = to(DType::float32, kSim0);
  impl::Plan p = impl::plan(v, same);
  ASSERT_TRUE(p.transfer);
  EXPECT_TRUE(p.transfer->direct);
  EXPECT_FALSE(p.transfer->staged);
  EXPECT_EQ(p.bytes_read, 0);  // no host staging pass
  EXPECT_NE(impl::explain(v, same).find("h2d direct"), std::string::npos);
  sim::ScopedDelays delays(0, 50);
  EXPECT_EQ(impl_check::compare_impls(v, same), "");
  // A widening cast from pinned memory: direct too, the cast on the device.
  const Options wide = to(DType::float64, kSim0);
  EXPECT_TRUE(impl::plan(v, wide).transfer->direct);
  EXPECT_EQ(impl_check::compare_impls(v, wide), "");
}

TEST(ImplOnSim, DeviceToHostMirrorsIt) {  // COPY-2, DEV-1, XFER-3
  HostBuf b = random_bytes(8 * 2000, 4, DType::float64);
  const Tensor d = on_device(b.view(DType::float64, Dims{40, 50}), kSim0);
  const Options narrow = to(DType::float32, Device::cpu());
  impl::Plan p = impl::plan(d, narrow);
  ASSERT_TRUE(p.transfer);
  EXPECT_EQ(p.transfer->link, astensor::Link::D2H);
  EXPECT_EQ(p.cast_site, CastSite::Device);  // before the transfer
  EXPECT_EQ(p.transfer->link_dtype, DType::float32);
  EXPECT_EQ(p.links[0].from, kSim0);
  EXPECT_EQ(p.links[0].to, Device::cpu());
  EXPECT_EQ(p.links[0].nbytes, 2000 * 4);
  const Tensor d32 = impl::as_tensor(d, to(DType::float32, kSim0));
  const Options wide = to(DType::float64, Device::cpu());
  EXPECT_EQ(impl::plan(d32, wide).cast_site, CastSite::Host);  // after it
  sim::ScopedDelays delays(0, 50);
  EXPECT_EQ(impl_check::compare_impls(d, narrow), "");
  EXPECT_EQ(impl_check::compare_impls(d32, wide), "");
  EXPECT_EQ(impl_check::compare_impls(d, Options{.device = Device::cpu()}), "");
}

TEST(ImplOnSim, Sim0ToSim1IsAPeerCopyOfTheNarrowerType) {  // COPY-2, DEV-4, XFER-3
  HostBuf b = random_bytes(2 * 3000, 5, DType::int16);
  const Tensor d = on_device(b.view(DType::int16, Dims{3000}), kSim0);
  const Options wide = to(DType::float64, kSim1);
  impl::Plan p = impl::plan(d, wide);
  ASSERT_TRUE(p.transfer);
  EXPECT_EQ(p.transfer->link, astensor::Link::Peer);
  EXPECT_EQ(p.transfer->link_dtype, DType::int16);  // widened on sim:1
  EXPECT_EQ(p.links[0].from, kSim0);
  EXPECT_EQ(p.links[0].to, kSim1);
  EXPECT_EQ(p.links[0].nbytes, 3000 * 2);
  sim::ScopedDelays delays(0, 50);
  EXPECT_EQ(impl_check::compare_impls(d, wide), "");
  EXPECT_EQ(impl_check::compare_impls(d, to(DType::int8, kSim1)), "");
  EXPECT_EQ(impl_check::compare_impls(d, Options{.device = kSim1}), "");
}

TEST(ImplOnSim, AutogradAndCopyFalseAreTheReferences) {  // GRAD-1, COPY-1, COPY-2
  HostBuf b = random_bytes(4 * 64, 6, DType::float32);
  Tensor t = on_device(b.view(DType::float32, Dims{64}), kSim0);
  t.set_requires_grad(true);
  const Options o = to(DType::float64, kSim1);
  EXPECT_TRUE(impl::plan(t, o).records_grad);
  EXPECT_EQ(impl_check::compare_impls(t, o), "");  // grad_fn ToCopyBackward on both
  Options refuse = o;
  refuse.copy = false;
  EXPECT_EQ(impl_check::compare_impls(t, refuse), "");
  // COPY-2: explain describes the refusal instead of raising it.
  std::string e;
  EXPECT_NO_THROW(e = impl::explain(t, refuse));
  EXPECT_NE(e.find("raises ValueError: [as_tensor] copy=False, but a copy is needed"), std::string::npos) << e;
  Options missing;
  missing.device = Device(DeviceType::Sim, 5);  // DEV-3
  EXPECT_EQ(impl_check::compare_impls(t, missing), "");
  EXPECT_NO_THROW(e = impl::explain(t, missing));
  EXPECT_NE(e.find("raises RuntimeError"), std::string::npos) << e;
}

// --- differential: impl vs reference on sim over generated inputs ------------------------------

namespace {

constexpr int kNumDt = static_cast<int>(DType::complex128) + 1;

rc::Gen<DType> gen_dtype() {
  return rc::gen::map(rc::gen::inRange(0, kNumDt), [](int i) { return static_cast<DType>(i); });
}

/// A random strided view (any order, steps, negative and broadcast strides, misaligned,
/// sometimes byteswapped) over random bytes; `bytes` owns them.
ArrayView gen_view(std::vector<unsigned char>& bytes) {
  const DType dt = *gen_dtype();
  const int64_t isz = static_cast<int64_t>(itemsize(dt));
  const int nd = *rc::gen::inRange(0, 4);
  Dims shape(static_cast<std::size_t>(nd), 0);
  for (auto& s : shape) s = *rc::gen::weightedElement<int64_t>({{1, 0}, {2, 1}, {6, 3}, {6, 17}, {2, 300}});
  // At most ~20k elements (test time): shrink the largest dims.
  for (;;) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    if (n <= 20000) break;
    *std::max_element(shape.begin(), shape.end()) = 3;
  }
  // Element steps per dim in a random order (permutation of a C layout), some negative/0.
  std::vector<int> order(static_cast<std::size_t>(nd));
  for (int d = 0; d < nd; ++d) order[static_cast<std::size_t>(d)] = d;
  for (int d = nd - 1; d > 0; --d) std::swap(order[static_cast<std::size_t>(d)], order[static_cast<std::size_t>(*rc::gen::inRange(0, d + 1))]);
  const int64_t pitch = *rc::gen::weightedElement<int64_t>({{8, isz}, {1, isz + 1}});  // ARR-5
  Dims strides(static_cast<std::size_t>(nd), 0);
  int64_t span = pitch;
  for (int k = nd - 1; k >= 0; --k) {
    const std::size_t d = static_cast<std::size_t>(order[static_cast<std::size_t>(k)]);
    const int64_t step = *rc::gen::weightedElement<int64_t>({{6, 1}, {2, 2}, {2, -1}, {1, 0}});
    strides[d] = step * span;
    span *= std::max<int64_t>(shape[d], 1) * std::max<int64_t>(std::abs(step), 1);
  }
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < nd; ++d) {
    const int64_t e = (std::max<int64_t>(shape[static_cast<std::size_t>(d)], 1) - 1) * strides[static_cast<std::size_t>(d)];
    (e < 0 ? lo : hi) += e;
  }
  const int64_t misalign = *rc::gen::weightedElement<int64_t>({{4, 0}, {1, 1}});
  bytes.resize(static_cast<std::size_t>(hi - lo + isz + misalign + 8));
  std::mt19937 rng(*rc::gen::arbitrary<uint32_t>());
  for (auto& x : bytes) x = static_cast<unsigned char>(rng());
  if (dt == DType::bool_)
    for (auto& x : bytes) x &= 1;
  ArrayView v;
  v.dtype = dt;
  v.shape = shape;
  v.byte_strides = strides;
  v.data = bytes.data() + misalign - lo;
  v.byteswapped = isz > 1 && *rc::gen::inRange(0, 5) == 0;
  return v;
}

Device gen_device() {
  return *rc::gen::element(Device::cpu(), kSim0, kSim1);
}

}  // namespace

RC_GTEST_PROP(ImplOnSimProperty, SameAsReferenceOverDevices, ()) {  // XFER-2, XFER-3, TEN-3, DT-3
  sim::ScopedDelays delays(0, 30);
  std::vector<unsigned char> bytes;
  ArrayView v = gen_view(bytes);
  const Device src_dev = gen_device();
  std::shared_ptr<Storage> dev_copy;
  if (!src_dev.is_cpu()) {
    // The same bytes on a sim device: the view's touched range, moved raw.
    int64_t lo = 0, hi = 0;
    for (std::size_t d = 0; d < v.shape.size(); ++d) {
      const int64_t e = (std::max<int64_t>(v.shape[d], 1) - 1) * v.byte_strides[d];
      (e < 0 ? lo : hi) += e;
    }
    const char* base = static_cast<const char*>(v.data) + lo;
    const std::size_t n = static_cast<std::size_t>(hi - lo) + itemsize(v.dtype);
    dev_copy = Storage::allocate(n, src_dev);
    copy_bytes_sync(dev_copy->data(), src_dev, base, Device::cpu(), n);
    v.data = static_cast<const char*>(dev_copy->data()) - lo;
    v.device = src_dev;
    v.owner = dev_copy;
  }
  Options o;
  if (*rc::gen::inRange(0, 4) != 0) o.dtype = *gen_dtype();
  if (*rc::gen::inRange(0, 4) != 0) o.device = gen_device();
  const int c = *rc::gen::inRange(0, 4);
  if (c == 1) o.copy = true;
  if (c == 2) o.copy = false;
  RC_TAG(v.device.str(), o.device ? o.device->str() : std::string("-"));
  const std::string d = impl_check::compare_impls(v, o);
  RC_ASSERT(d == "");
}

// --- the staging fill: a copy split into chunks equals the whole copy ---------------------------

RC_GTEST_PROP(ImplCopyRange, ChunksOfACopyEqualTheWholeCopy, ()) {  // XFER-3 (staging), DT-3, ARR-4
  // The pipeline fills each pinned slot with run_copy_range over the plan's layout; any
  // split, on any number of threads, must give the bytes of the single run_copy.
  std::vector<unsigned char> bytes;
  const ArrayView v = gen_view(bytes);
  const int64_t numel = validate(v);
  RC_PRE(numel > 0);
  const DType to = *gen_dtype();
  const Dims dst_strides = has_element_strides(v) ? copy_strides(v.shape.span(), element_strides(v).span())
                                                  : contiguous_strides(v.shape.span());
  const impl::cpu::CopyLayout l = impl::cpu::collapse(v.shape.span(), v.byte_strides.span(), dst_strides.span());
  const std::size_t osz = itemsize(to);
  std::vector<unsigned char> whole(static_cast<std::size_t>(numel) * osz), parts(whole.size(), 0xAB);
  impl::cpu::run_copy(l, v.data, v.dtype, v.byteswapped, whole.data(), to, 1);
  const int64_t chunk = *rc::gen::inRange<int64_t>(1, numel + 1);
  const int threads = *rc::gen::inRange(1, 4);
  for (int64_t a = 0; a < numel; a += chunk) {
    const int64_t b = std::min(numel, a + chunk);
    impl::cpu::run_copy_range(l, v.data, v.dtype, v.byteswapped, parts.data() + a * int64_t(osz), to, a, b, threads);
  }
  RC_ASSERT(parts == whole);
}
