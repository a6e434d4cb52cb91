// The transfer pipeline (impl/transfer) on the device under test: results equal the
// reference's copy_plain bit for bit (XFER-2, XFER-3) for every path; the plan (cast
// placement, staging, direct copies) is checked through the backend's link counters;
// XFER-1 under random delays; cross-device copies; CAI-3 / DLP-2 producer streams (a
// foreign stream kept busy, cuda_test_util.h); leaks from the library's own counts. The
// small-copy path is test_transfer_small.cpp, the pinned pool test_pinned_pool.cpp; their
// shared helpers transfer_test_util.h.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstring>
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <random>

#include "conformance/cpp/cuda_test_util.h"
#include "conformance/cpp/device_test_util.h"
#include "conformance/cpp/transfer_test_util.h"
#include "core/cast.h"
#include "core/error.h"
#include "backends/sim/sim.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/pinned_pool.h"
#include "impl/transfer/transfer.h"

using namespace astensor;
using namespace astensor::testing;
using astensor::impl::CastSite;
using astensor::transfer::TransferOptions;

using namespace astensor::testing::transfer_suite;


// --- results equal the reference ------------------------------------------------------------

struct Case {
  DType from, to;
  Layout layout;
  bool swapped;
};

class DEVICE_SUITE(TransferMatchesReference) : public ::testing::TestWithParam<Case> {};

TEST_P(DEVICE_SUITE(TransferMatchesReference), HostToDeviceAndBack) {  // XFER-2, XFER-3, TEN-3
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(0, 50);
  const Case c = GetParam();
  // 97 x 61 elements; 4 KiB chunks: several chunks for every dtype.
  HostArray a = make_array(c.from, 97, 61, c.layout, c.swapped, 1234);
  const std::string what = std::string(name(c.from)) + "->" + name(c.to) + " " + layout_name(c.layout) +
                           (c.swapped ? " byteswapped" : "");
  for (CastSite site : {CastSite::Host, CastSite::Device}) {
    TransferOptions o = small_chunks();
    o.force_cast_site = site;
    Tensor want = copy_plain(a.view, c.to, test_device(0));
    Tensor got = transfer::to_device(a.view, c.to, test_device(0), o);
    expect_same_tensor(got, want, what + " h2d, cast site " + cast_site_name(site));
    // And back: device -> host from the device tensor, into the source dtype.
    ArrayView dv = view_of(got);
    Tensor back_want = copy_plain(dv, c.from, Device::cpu());
    Tensor back = transfer::to_host(dv, c.from, o);
    expect_same_tensor(back, back_want, what + " d2h, cast site " + cast_site_name(site));
  }
}

std::vector<Case> cases() {
  std::vector<Case> v;
  const std::pair<DType, DType> pairs[] = {
      {DType::float32, DType::float32},   {DType::uint8, DType::float32},   {DType::int32, DType::float64},
      {DType::float64, DType::float32},   {DType::int64, DType::int32},     {DType::float32, DType::bfloat16},
      {DType::float16, DType::float32},   {DType::bool_, DType::float32},   {DType::float64, DType::uint8},
      {DType::complex128, DType::complex64}, {DType::complex64, DType::float64}, {DType::float32, DType::int16}};
  for (auto [f, t] : pairs)
    for (Layout l : {Layout::Contiguous, Layout::Transposed, Layout::Stepped, Layout::Negative, Layout::Packed})
      v.push_back({f, t, l, false});
  for (auto [f, t] : pairs) v.push_back({f, t, Layout::Contiguous, true});  // ARR-4
  v.push_back({DType::float64, DType::float64, Layout::Stepped, true});
  return v;
}

DEVICE_INSTANTIATE(All, TransferMatchesReference, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(name(i.param.from)) + "_to_" + name(i.param.to) + "_" +
                                  layout_name(i.param.layout) + (i.param.swapped ? "_swapped" : "");
                         });

TEST(DEVICE_SUITE(TransferProperty), RandomShapesChunksAndSlotsMatchTheReference) {  // XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  EXPECT_TRUE(rc::check("to_device / to_host equal copy_plain", [] {
  sim::ScopedDelays delays(0, 20);
  const DType dts[] = {DType::uint8, DType::int16, DType::int32, DType::float16, DType::float32, DType::float64, DType::int64};
  const DType from = *rc::gen::elementOf(std::vector<DType>(std::begin(dts), std::end(dts)));
  const DType to = *rc::gen::elementOf(std::vector<DType>(std::begin(dts), std::end(dts)));
  const int64_t rows = *rc::gen::inRange<int64_t>(0, 40), cols = *rc::gen::inRange<int64_t>(1, 300);
  const Layout layout = *rc::gen::element(Layout::Contiguous, Layout::Transposed, Layout::Stepped, Layout::Negative,
                                          Layout::Packed);
  const bool swapped = *rc::gen::arbitrary<bool>();
  TransferOptions o = small_chunks(*rc::gen::inRange<std::size_t>(64, 20000), *rc::gen::inRange(1, 5));
  o.ramp_bytes = *rc::gen::element<std::size_t>(0, 64, 1000, 4096);  // Note [Ramped chunks]: on when < chunk
  HostArray a = make_array(from, rows, cols, layout, swapped, *rc::gen::arbitrary<uint32_t>());
  Tensor want = copy_plain(a.view, to, test_device(0));
  Tensor got = transfer::to_device(a.view, to, test_device(0), o);
  RC_ASSERT(got.strides() == want.strides());
  RC_ASSERT(host_bytes(got) == host_bytes(want));
  Tensor back = transfer::to_host(view_of(got), from, o);
  RC_ASSERT(host_bytes(back) == host_bytes(copy_plain(view_of(got), from, Device::cpu())));
  }));
}

// The default tunables (4 MiB slots, ramped chunks), so every copy over the link is large:
// on sim the copies into device memory of 256 KiB or more take the streaming-store path
// (Note [sim copies into device memory]). A shape that is no whole number of chunks, a device
// cast, a host cast and the way back all give the reference's bytes.
TEST(DEVICE_SUITE(TransferMatchesReference), LargeTransfersWithTheDefaultChunks) {  // XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(0, 50);
  const TransferOptions o;  // the defaults, whatever the environment says
  ASSERT_GE(o.chunk_bytes, std::size_t(1) << 20);
  const std::pair<DType, DType> pairs[] = {
      {DType::float32, DType::float32}, {DType::uint8, DType::float32}, {DType::float64, DType::float32}};
  for (auto [from, to] : pairs) {
    HostArray a = make_array(from, 1031, 2053, Layout::Contiguous, false, 77);  // ~2.1 M elements
    const std::string what = std::string(name(from)) + "->" + name(to);
    auto plan = transfer::describe_transfer(a.view, to, test_device(0), o);
    ASSERT_GT(plan.transfer->chunks, 2) << plan.str();
    Tensor got = transfer::to_device(a.view, to, test_device(0), o);
    expect_same_tensor(got, copy_plain(a.view, to, test_device(0)), what + " h2d");
    Tensor back = transfer::to_host(view_of(got), from, o);
    expect_same_tensor(back, copy_plain(view_of(got), from, Device::cpu()), what + " d2h");
  }
}

TEST(DEVICE_SUITE(Transfer), ZeroSizeAndScalar) {  // TEN-3
  ASTENSOR_REQUIRE_DEVICES(1);
  float x = 3.5f;
  ArrayView empty = ArrayView::contiguous(nullptr, DType::float32, {0, 5});
  Tensor e = transfer::to_device(empty, DType::float64, test_device(0));
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.shape(), (Dims{0, 5}));
  EXPECT_EQ(e.strides(), copy_plain(empty, DType::float64, test_device(0)).strides());
  ArrayView scalar = ArrayView::contiguous(&x, DType::float32, {});
  Tensor s = transfer::to_device(scalar, DType::float16, test_device(0));
  expect_same_tensor(s, copy_plain(scalar, DType::float16, test_device(0)), "0-d");
  EXPECT_EQ(transfer::to_host(view_of(s), DType::float32).to_double_vector(), std::vector<double>{3.5});
}

// --- the plan, checked through the counters --------------------------------------------------

TEST(DEVICE_SUITE(TransferPlan), WideningCastsTransferTheNarrowType) {  // XFER-2, COPY-2
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  std::vector<uint8_t> src(100000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
  ArrayView v = ArrayView::contiguous(src.data(), DType::uint8, {100000});
  auto plan = transfer::describe_transfer(v, DType::float32, test_device(0), small_chunks(16384));
  EXPECT_EQ(plan.cast_site, CastSite::Device) << plan.str();
  EXPECT_EQ(plan.transfer->link_dtype, DType::uint8);
  EXPECT_EQ(plan.link_bytes(), 100000u);
  EXPECT_TRUE(plan.transfer->staged);
  EXPECT_EQ(plan.transfer->chunks, 7);
  be.reset_counters();
  Tensor t = transfer::to_device(v, DType::float32, test_device(0), small_chunks(16384));
  auto c = be.counters();
  EXPECT_EQ(c.bytes(Link::H2D), 100000u) << "uint8 crossed, not float32";
  EXPECT_EQ(c.pinned_bytes[int(Link::H2D)], 100000u) << "through the pinned staging slots";
  EXPECT_EQ(c.kernel_elements, 100000u) << "the cast ran on the device";
  EXPECT_EQ(c.copies[int(Link::H2D)], 7u) << "one copy per chunk";
  expect_same_tensor(t, copy_plain(v, DType::float32, test_device(0)), "u8->f32");
  // int32 -> float64 too.
  std::vector<int32_t> i32(5000, -7);
  ArrayView vi = ArrayView::contiguous(i32.data(), DType::int32, {5000});
  be.reset_counters();
  Tensor ti = transfer::to_device(vi, DType::float64, test_device(0));
  EXPECT_EQ(be.counters().bytes(Link::H2D), 20000u);
  EXPECT_EQ(be.counters().kernel_launches, 1u);
}

// Note [Ramped chunks]: with the ramp on, the chunks start small, grow to the slot and shrink
// back; every chunk is one copy (and one device cast), the slots and the device scratch slots
// are reused across chunks of different sizes, and the results stay the reference's bit for bit
// (XFER-3) under random delays, both ways and with the cast on either side.
TEST(DEVICE_SUITE(TransferPlan), RampedChunksAreCopiedOneByOneAndMatchTheReference) {  // XFER-2, XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  sim::ScopedDelays delays(0, 50);
  TransferOptions o = small_chunks(16384);
  o.ramp_bytes = 1024;
  const int64_t n = 100003;  // not a whole number of chunks
  std::vector<uint8_t> u8(static_cast<std::size_t>(n));
  std::vector<float> f32(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    u8[static_cast<std::size_t>(i)] = static_cast<uint8_t>(i * 13 + 1);
    f32[static_cast<std::size_t>(i)] = static_cast<float>(i) * 0.75f - 11.f;
  }
  struct Case {
    ArrayView v;
    DType to;
    int64_t link_itemsize;
  };
  const Case cases[] = {{ArrayView::contiguous(f32.data(), DType::float32, {n}), DType::float32, 4},
                        {ArrayView::contiguous(u8.data(), DType::uint8, {n}), DType::float32, 1},   // device cast
                        {ArrayView::contiguous(f32.data(), DType::float32, {n}), DType::float16, 2}};  // host cast
  for (const Case& c : cases) {
    const std::string what = std::string(name(c.v.dtype)) + "->" + name(c.to);
    const int64_t chunk_elems = 16384 / c.link_itemsize, ramp_elems = 1024 / c.link_itemsize;
    const auto bounds = transfer::chunk_bounds(n, chunk_elems, ramp_elems);
    const uint64_t chunks = bounds.size() - 1;
    ASSERT_GT(chunks, static_cast<uint64_t>((n + chunk_elems - 1) / chunk_elems)) << what << ": the ramp adds chunks";
    auto plan = transfer::describe_transfer(c.v, c.to, test_device(0), o);
    EXPECT_EQ(plan.transfer->chunks, static_cast<int64_t>(chunks)) << plan.str();
    EXPECT_EQ(plan.transfer->ramp_elems, ramp_elems) << plan.str();
    EXPECT_NE(plan.str().find("chunks ramp from 1 KiB"), std::string::npos) << plan.str();
    be.reset_counters();
    Tensor t = transfer::to_device(c.v, c.to, test_device(0), o);
    EXPECT_EQ(be.counters().copies[int(Link::H2D)], chunks) << what << ": one copy per chunk";
    if (c.link_itemsize == 1) EXPECT_EQ(be.counters().kernel_launches, chunks) << what << ": one cast per chunk";
    expect_same_tensor(t, copy_plain(c.v, c.to, test_device(0)), what.c_str());
    // And back, ramped the same way over the link (the result's dtype crosses).
    be.reset_counters();
    Tensor back = transfer::to_host(view_of(t), c.to, o);
    const int64_t back_elems = 16384 / static_cast<int64_t>(itemsize(c.to));
    EXPECT_EQ(be.counters().copies[int(Link::D2H)],
              transfer::chunk_bounds(n, back_elems, 1024 / static_cast<int64_t>(itemsize(c.to))).size() - 1)
        << what;
    expect_same_tensor(back, copy_plain(view_of(t), c.to, Device::cpu()), (what + " back").c_str());
  }
  // Off: equal chunks.
  o.ramp_bytes = 0;
  auto plain = transfer::describe_transfer(cases[0].v, DType::float32, test_device(0), o);
  EXPECT_EQ(plain.transfer->chunks, (n + 4095) / 4096);
  EXPECT_EQ(plain.str().find("chunks ramp"), std::string::npos) << plain.str();
}

TEST(DEVICE_SUITE(TransferPlan), NarrowingCastsCastBeforeTheTransfer) {  // XFER-2
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  std::vector<double> src(30000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = 1.0 / (1.0 + double(i));
  ArrayView v = ArrayView::contiguous(src.data(), DType::float64, {30000});
  auto plan = transfer::describe_transfer(v, DType::float32, test_device(0));
  EXPECT_EQ(plan.cast_site, CastSite::Host) << plan.str();
  EXPECT_EQ(plan.link_bytes(), 120000u);
  be.reset_counters();
  Tensor t = transfer::to_device(v, DType::float32, test_device(0), small_chunks(32768));
  auto c = be.counters();
  EXPECT_EQ(c.bytes(Link::H2D), 120000u) << "float32 crossed, not float64";
  EXPECT_EQ(c.kernel_launches, 0u) << "no device cast";
  expect_same_tensor(t, copy_plain(v, DType::float32, test_device(0)), "f64->f32");
  // Device -> host narrowing: the cast runs on the device, the narrow type crosses.
  be.reset_counters();
  Tensor d64 = transfer::to_device(v, DType::float64, test_device(0));
  be.reset_counters();
  Tensor h = transfer::to_host(view_of(d64), DType::float32);
  EXPECT_EQ(be.counters().bytes(Link::D2H), 120000u);
  EXPECT_GE(be.counters().kernel_launches, 1u);
  expect_same_tensor(h, copy_plain(view_of(d64), DType::float32, Device::cpu()), "d2h f64->f32");
}

TEST(DEVICE_SUITE(TransferPlan), PinnedSourcesSkipStaging) {  // XFER-2
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  auto lease = transfer::pinned_pool(be.type()).acquire(400000);
  auto* f = static_cast<float*>(lease.data());
  for (int i = 0; i < 100000; ++i) f[i] = float(i) * 0.25f;
  ArrayView v = ArrayView::contiguous(f, DType::float32, {100000});
  auto plan = transfer::describe_transfer(v, DType::float32, test_device(0), small_chunks());
  EXPECT_TRUE(plan.transfer->direct) << plan.str();
  EXPECT_FALSE(plan.transfer->staged);
  be.reset_counters();
  Tensor t = transfer::to_device(v, DType::float32, test_device(0), small_chunks());
  auto c = be.counters();
  EXPECT_EQ(c.copies[int(Link::H2D)], 1u) << "one direct copy, no chunks";
  EXPECT_EQ(c.pinned_bytes[int(Link::H2D)], 400000u);
  expect_same_tensor(t, copy_plain(v, DType::float32, test_device(0)), "pinned");
  // Pinned + widening: still direct (narrow type), then one device cast.
  auto* u8 = static_cast<uint8_t*>(lease.data());
  ArrayView vb = ArrayView::contiguous(u8, DType::uint8, {1000});
  be.reset_counters();
  Tensor tb = transfer::to_device(vb, DType::float32, test_device(0));
  EXPECT_EQ(be.counters().copies[int(Link::H2D)], 1u);
  EXPECT_EQ(be.counters().bytes(Link::H2D), 1000u);
  expect_same_tensor(tb, copy_plain(vb, DType::float32, test_device(0)), "pinned u8->f32");
  // A pageable source of the same shape is staged (pinned bytes still: the slots are pinned).
  std::vector<float> pageable(f, f + 100000);
  ArrayView vp = ArrayView::contiguous(pageable.data(), DType::float32, {100000});
  EXPECT_TRUE(transfer::describe_transfer(vp, DType::float32, test_device(0)).transfer->staged);
}

TEST(DEVICE_SUITE(TransferPlan), StrFormatsThePlan) {  // COPY-2
  ASTENSOR_REQUIRE_DEVICES(1);
  std::vector<double> src(10);
  ArrayView v = ArrayView::contiguous(src.data(), DType::float64, {10});
  const std::string s = transfer::describe_transfer(v, DType::float32, test_device(0)).str();
  EXPECT_NE(s.find("h2d staged"), std::string::npos) << s;
  EXPECT_NE(s.find("cast on the host"), std::string::npos) << s;
  EXPECT_NE(s.find("40 B (float32) over h2d"), std::string::npos) << s;
}

// --- XFER-1 -------------------------------------------------------------------------------

TEST(DEVICE_SUITE(TransferBlocking), SourceMayBeChangedOrFreedAtOnce) {  // XFER-1
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(200, 1000);
  for (int round = 0; round < 3; ++round) {
    for (DType to : {DType::int32, DType::float32, DType::int16}) {
      auto src = std::make_unique<std::vector<int32_t>>(20000);
      for (std::size_t i = 0; i < src->size(); ++i) (*src)[i] = int32_t(i * 31 + round);
      ArrayView v = ArrayView::contiguous(src->data(), DType::int32, {20000});
      Tensor want = copy_plain(v, to, Device::cpu());
      Tensor got = transfer::to_device(v, to, test_device(0), small_chunks(8192, 2));
      std::fill(src->begin(), src->end(), -1);  // mutate ...
      src.reset();                               // ... and free, right after the return
      Tensor back = transfer::to_host(view_of(got), to);
      EXPECT_EQ(host_bytes(back), host_bytes(want)) << name(to) << " round " << round;
    }
  }
}

// --- devices ------------------------------------------------------------------------------

TEST(DEVICE_SUITE(TransferDevices), SameDeviceAndCrossDeviceCopies) {  // XFER-2, XFER-3
  // Every device present is a destination: one device checks the same-device copies, a
  // second one the peer copies too.
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(0, 100);
  Backend& be = test_backend();
  HostArray a = make_array(DType::int32, 50, 70, Layout::Contiguous, false, 99);
  Tensor d0 = transfer::to_device(a.view, DType::int32, test_device(0));
  ArrayView dv = view_of(d0);
  ArrayView transposed = dv;  // a strided device view
  transposed.shape = {70, 50};
  transposed.byte_strides = {4, 280};
  for (DType to : {DType::int32, DType::float64, DType::int8, DType::float16}) {
    for (const ArrayView* s : {&dv, &transposed}) {
      for (int dst = 0; dst < std::min(2, be.device_count()); ++dst) {
        be.reset_counters();
        Tensor got = transfer::device_to_device(*s, to, test_device(dst));
        Tensor want = copy_plain(*s, to, test_device(dst));
        expect_same_tensor(got, want, "d2d " + test_device(0).str() + " -> " + test_device(dst).str() + " " + name(to));
        if (dst == 1) {
          const uint64_t narrow = uint64_t(3500) * std::min(itemsize(to), std::size_t(4));
          EXPECT_EQ(be.counters().bytes(Link::Peer), narrow) << "the narrower dtype crosses: " << name(to);
        }
      }
    }
  }
}

TEST(DEVICE_SUITE(TransferDevices), ProducerStreamIsWaitedOn) {  // CAI-3, DLP-2
  // A producer's write is queued on a stream the library does not know, behind keep_busy;
  // the import names that stream (ArrayView::stream). Every transfer path must order its
  // reads after it: without the wait each one reads the old zeros.
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  const int64_t n = 4096;
  std::vector<float> src(n);
  for (int64_t i = 0; i < n; ++i) src[i] = float(i % 1000 + 1);  // nonzero, exact in float16
  const std::vector<float> zeros(n, 0.0f);
  DeviceBlock fresh(be, 0, n * 4), target(be, 0, n * 4);
  be.copy_sync(fresh.p, test_device(0), src.data(), Device::cpu(), n * 4);
  const ArrayView dense = ArrayView::contiguous(target.p, DType::float32, {n}, nullptr, false, test_device(0));
  ArrayView every_other = dense;  // a strided source: gathered by a kernel
  every_other.shape = {n / 2};
  every_other.byte_strides = {8};
  struct Path {
    std::string what;
    const ArrayView* view;
    std::function<Tensor(const ArrayView&)> run;
  };
  std::vector<Path> paths = {
      {"to_host float32 (one copy)", &dense, [](const ArrayView& v) { return transfer::to_host(v, DType::float32); }},
      {"to_host float64 (cast on the host)", &dense,
       [](const ArrayView& v) { return transfer::to_host(v, DType::float64); }},
      {"to_host float16 (cast on the device)", &dense,
       [](const ArrayView& v) { return transfer::to_host(v, DType::float16); }},
      {"to_host of a strided view (gather kernel)", &every_other,
       [](const ArrayView& v) { return transfer::to_host(v, DType::float32); }},
      {"device_to_device float32, same device", &dense,
       [](const ArrayView& v) { return transfer::device_to_device(v, DType::float32, test_device(0)); }},
      {"device_to_device float64, same device (cast kernel)", &dense,
       [](const ArrayView& v) { return transfer::device_to_device(v, DType::float64, test_device(0)); }},
  };
  if (be.device_count() > 1) {
    paths.push_back({"device_to_device float32 to the second device", &dense,
                     [](const ArrayView& v) { return transfer::device_to_device(v, DType::float32, test_device(1)); }});
    paths.push_back({"device_to_device float16 to the second device (cast first)", &dense,
                     [](const ArrayView& v) { return transfer::device_to_device(v, DType::float16, test_device(1)); }});
  }
  ForeignStream producer(0);
  bool was_busy = true;
  for (const Path& path : paths) {
    SCOPED_TRACE(path.what);
    std::vector<double> want;
    for (int64_t i = 0; i < path.view->shape[0]; ++i) want.push_back(src[std::size_t(i * (path.view->byte_strides[0] / 4))]);
    path.run(*path.view);  // warm-up: kernels loaded, caches filled, so the timed call is quick
    be.copy_sync(target.p, test_device(0), zeros.data(), Device::cpu(), n * 4);
    keep_busy(0, producer.get(), busy_ms());
    Event busy_end(be, 0);
    busy_end.record(producer.get());
    be.copy_async(target.p, test_device(0), fresh.p, test_device(0), n * 4, producer.get());
    ArrayView v = *path.view;
    v.stream = producer.protocol_value();
    was_busy &= still_busy(busy_end);
    const Tensor got = path.run(v);
    EXPECT_EQ(got.to_double_vector(), want) << "read before the producer's write";
    be.synchronize_stream(producer.get());
  }
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the producer stream");
}

TEST(DEVICE_SUITE(TransferDevices), HostToHostIsRefusedAndBadDevicesSayWhy) {  // DEV-3
  std::vector<float> src(4);
  ArrayView v = ArrayView::contiguous(src.data(), DType::float32, {4});
  EXPECT_THROW(transfer::to_device(v, DType::float32, Device::cpu()), ValueError);
  try {
    transfer::to_device(v, DType::float32, Device(test_device_type(), 7));
    ADD_FAILURE() << "device index 7 accepted";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(":7"), std::string::npos) << e.what();
  }
}

TEST(DEVICE_SUITE(TransferDevices), NothingLeaksAcrossPaths) {  // SEQ-6 "nothing is left allocated"
  // The library's own counts: live storages (core/storage.h), the device allocator's blocks
  // in use and held (every backend allocation is either, or was given back), the pinned
  // pool's leases; on sim also its live mappings.
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  std::vector<double> src(20000, 0.5);
  ArrayView v = ArrayView::contiguous(src.data(), DType::float64, {100, 200});
  ArrayView t = v;
  t.shape = {200, 100};
  t.byte_strides = {8, 1600};
  auto all_paths = [&] {
    for (DType to : {DType::float64, DType::float32, DType::complex128}) {
      Tensor d = transfer::to_device(t, to, test_device(0), small_chunks(8192));
      transfer::to_host(view_of(d), DType::float16, small_chunks(8192));
      transfer::device_to_device(view_of(d), DType::int8, test_device(0));
      if (be.device_count() > 1) transfer::device_to_device(view_of(d), DType::float64, test_device(1));
    }
  };
  auto& alloc = transfer::device_allocator(test_device_type());
  auto& pool = transfer::pinned_pool(test_device_type());
  auto held_by_allocator = [](const transfer::DeviceAllocator::Stats& s) {
    return static_cast<long long>(s.backend_allocs) - static_cast<long long>(s.backend_frees);
  };
  all_paths();  // warms the pinned pool and the device cache
  const auto storages = storage_stats();
  const auto dev_before = alloc.stats();
  const auto pinned_before = pool.stats();
  const std::size_t mappings = testing_sim() ? sim::live_allocations() : 0;
  all_paths();
  const auto dev_after = alloc.stats();
  EXPECT_EQ(storage_stats().live_allocations, storages.live_allocations);
  EXPECT_EQ(storage_stats().live_bytes, storages.live_bytes);
  EXPECT_EQ(dev_after.in_use_blocks, dev_before.in_use_blocks) << "device blocks still handed out";
  EXPECT_EQ(held_by_allocator(dev_after), static_cast<long long>(dev_after.in_use_blocks + dev_after.cached_blocks))
      << "every device block the allocator got from the backend is in use, cached, or given back";
  EXPECT_EQ(pool.stats().in_use_blocks, pinned_before.in_use_blocks) << "pinned leases not returned";
  const auto pinned_after = pool.stats();
  EXPECT_EQ(static_cast<long long>(pinned_after.backend_allocs) - static_cast<long long>(pinned_after.backend_frees),
            static_cast<long long>(pinned_after.in_use_blocks + pinned_after.cached_blocks))
      << "every pinned block the pool got from the backend is leased, cached, or given back";
  if (testing_sim()) EXPECT_EQ(sim::live_allocations(), mappings);
}

TEST(DEVICE_SUITE(TransferDevices), ByteswappedDeviceSources) {  // ARR-4, CAI-1 typestr ">f4"
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  HostArray a = make_array(DType::float32, 30, 40, Layout::Contiguous, true, 5);
  const std::size_t n = 30 * 40 * 4;
  void* d = be.allocate(0, n);
  be.copy_sync(d, test_device(0), a.view.data, Device::cpu(), n);
  ArrayView dv = ArrayView::contiguous(d, DType::float32, {30, 40}, nullptr, false, test_device(0));
  dv.byteswapped = true;
  ArrayView dt = dv;  // transposed too
  dt.shape = {40, 30};
  dt.byte_strides = {4, 160};
  for (const ArrayView* v : {&dv, &dt}) {
    for (DType to : {DType::float32, DType::float64, DType::float16}) {
      expect_same_tensor(transfer::to_host(*v, to), copy_plain(*v, to, Device::cpu()),
                         std::string("d2h swapped ") + name(to));
      auto plan = transfer::describe_transfer(*v, to, test_device(0));
      EXPECT_TRUE(plan.transfer->via_host) << plan.str();
      expect_same_tensor(transfer::device_to_device(*v, to, test_device(0)), copy_plain(*v, to, test_device(0)),
                         std::string("d2d swapped ") + name(to));
    }
  }
  be.deallocate(0, d);
}

TEST(DEVICE_SUITE(TransferPlan), RegisteredHostBuffersAreCopiedDirectly) {  // perf-anchors §2.3
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  std::vector<int16_t> buf(50000);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<int16_t>(i * 3);
  ArrayView v = ArrayView::contiguous(buf.data(), DType::int16, {50000});
  EXPECT_TRUE(transfer::describe_transfer(v, DType::int16, test_device(0)).transfer->staged);
  {
    HostRegistration reg(be, buf.data(), buf.size() * 2);
    EXPECT_EQ(be.pointer_info(buf.data() + 100).kind, MemoryKind::Pinned);
    auto plan = transfer::describe_transfer(v, DType::int16, test_device(0));
    EXPECT_TRUE(plan.transfer->direct) << plan.str();
    be.reset_counters();
    Tensor t = transfer::to_device(v, DType::float32, test_device(0));  // widening: direct + device cast
    EXPECT_EQ(be.counters().copies[int(Link::H2D)], 1u);
    EXPECT_EQ(be.counters().pinned_bytes[int(Link::H2D)], 100000u);
    expect_same_tensor(t, copy_plain(v, DType::float32, test_device(0)), "registered i16->f32");
    if (testing_sim()) EXPECT_THROW(HostRegistration(be, buf.data() + 10, 8), RuntimeError) << "overlap";
  }
  EXPECT_EQ(be.pointer_info(buf.data()).kind, MemoryKind::Unregistered);
  EXPECT_TRUE(transfer::describe_transfer(v, DType::int16, test_device(0)).transfer->staged);
}

