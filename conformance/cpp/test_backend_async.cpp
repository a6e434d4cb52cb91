// The Backend interface on the device under test (sim, or CUDA where present): memory,
// pointer attributes, streams, events, async copies, cast kernels, counters (DEV-4,
// XFER-2, CAI-3). Ordering is checked on both with keep_busy (cuda_test_util.h): a stream
// kept busy makes a missing wait read stale data. The sim-only parts say why.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>

#include "conformance/cpp/cuda_test_util.h"
#include "conformance/cpp/device_test_util.h"
#include "core/cast.h"
#include "core/error.h"
#include "backends/sim/sim.h"
#include "reference/as_tensor.h"

using namespace astensor;
using namespace astensor::testing;

namespace {

/// Device memory released at scope end.
struct DevBuf {
  Backend& be;
  int dev;
  void* p;
  DevBuf(Backend& b, int d, std::size_t n) : be(b), dev(d), p(b.allocate(d, n)) {}
  ~DevBuf() { be.deallocate(dev, p); }
};

std::vector<int32_t> iota_vec(std::size_t n, int32_t start) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

/// A device buffer's int32 contents (a blocking copy: ordered after all queued work).
std::vector<int32_t> read_ints(Backend& be, const DevBuf& d, std::size_t n) {
  std::vector<int32_t> out(n);
  be.copy_sync(out.data(), Device::cpu(), d.p, test_device(d.dev), n * 4);
  return out;
}

/// Pinned host memory as int32s. The copies that must stay queued behind a busy stream use
/// pinned host memory: CUDA may stage a copy from pageable memory by waiting for the stream on
/// the host first, which would hide the very ordering under test.
int32_t* ints(const PinnedBlock& b) { return static_cast<int32_t*>(b.data()); }

}  // namespace

TEST(DEVICE_SUITE(Memory), HostAccessToDeviceMemoryFaults) {  // DEV-4
  if (!testing_sim()) GTEST_SKIP() << "only sim device memory is host-inaccessible by design";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Backend& be = test_backend();
  void* p = be.allocate(0, 4096);
  // A legal copy works ...
  int32_t v = 7, back = 0;
  be.copy_sync(p, test_device(0), &v, Device::cpu(), sizeof v);
  be.copy_sync(&back, Device::cpu(), p, test_device(0), sizeof back);
  EXPECT_EQ(back, 7);
  // ... and a direct host read faults (the pages are PROT_NONE outside legal operations).
  EXPECT_DEATH({ std::printf("%d\n", *static_cast<volatile int32_t*>(p)); }, "");
  EXPECT_DEATH({ *static_cast<volatile int32_t*>(p) = 1; }, "");
  be.deallocate(0, p);
}

TEST(DEVICE_SUITE(Memory), RoundTripAndZeroSize) {  // XFER-2
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  auto src = iota_vec(1000, -500);
  std::vector<int32_t> back(1000, 0);
  DevBuf d(be, 0, src.size() * 4);
  be.copy_sync(d.p, test_device(0), src.data(), Device::cpu(), src.size() * 4);
  be.copy_sync(back.data(), Device::cpu(), d.p, test_device(0), back.size() * 4);
  EXPECT_EQ(back, src);
  DevBuf z(be, 0, 0);  // zero bytes is a valid request
  be.copy_sync(z.p, test_device(0), src.data(), Device::cpu(), 0);
}

TEST(DEVICE_SUITE(Memory), PointerAttributesNameTheOwner) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  DevBuf d(be, 0, 256);
  auto info = be.pointer_info(static_cast<char*>(d.p) + 100);
  EXPECT_EQ(info.kind, MemoryKind::Device);
  EXPECT_EQ(info.device, test_device(0));
  PinnedBlock pin(be, 1024);
  EXPECT_EQ(be.pointer_info(pin.data()).kind, MemoryKind::Pinned);
  std::vector<char> pageable(64);
  EXPECT_EQ(be.pointer_info(pageable.data()).kind, MemoryKind::Unregistered);
  if (be.device_count() > 1) {
    DevBuf d1(be, 1, 16);
    EXPECT_EQ(be.pointer_info(d1.p).device, test_device(1));
  }
}

TEST(DEVICE_SUITE(Memory), CopiesCheckWhichDeviceOwnsEachPointer) {
  if (!testing_sim()) GTEST_SKIP() << "CUDA's unified addressing does not check directions";
  Backend& be = test_backend();
  DevBuf d0(be, 0, 64), d1(be, 1, 64);
  std::vector<char> host(64);
  // The destination named sim:0 is sim:1 memory; a host buffer named as device memory.
  EXPECT_THROW(be.copy_sync(d1.p, test_device(0), host.data(), Device::cpu(), 64), RuntimeError);
  EXPECT_THROW(be.copy_sync(host.data(), Device::cpu(), host.data() + 1, test_device(0), 8),
               RuntimeError);
  // Past the end of the allocation.
  EXPECT_THROW(be.copy_sync(d0.p, test_device(0), host.data(), Device::cpu(), 65), RuntimeError);
  // Device memory passed as a host pointer.
  EXPECT_THROW(be.copy_sync(d0.p, test_device(0), d1.p, Device::cpu(), 8), RuntimeError);
}

TEST(DEVICE_SUITE(Streams), OneStreamRunsItsQueueInOrderUnderRandomDelays) {  // XFER-2
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(0, 300);
  Backend& be = test_backend();
  Stream s(be, 0);
  const std::size_t n = 4096;
  DevBuf a(be, 0, n * 4), b(be, 0, n * 4);
  std::vector<std::vector<int32_t>> srcs;
  for (int k = 0; k < 8; ++k) srcs.push_back(iota_vec(n, k * 100000));
  // Eight overwrites of a, each followed by a -> b; the last one must win everywhere.
  for (auto& v : srcs) {
    be.copy_async(a.p, test_device(0), v.data(), Device::cpu(), n * 4, s.get());
    be.copy_async(b.p, test_device(0), a.p, test_device(0), n * 4, s.get());
  }
  std::vector<int32_t> out(n);
  be.copy_async(out.data(), Device::cpu(), b.p, test_device(0), n * 4, s.get());
  s.synchronize();
  EXPECT_EQ(out, srcs.back());
}

TEST(DEVICE_SUITE(Streams), EventsOrderWorkAcrossStreams) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s1(be, 0), s2(be, 0);
  const std::size_t n = 2048;
  bool was_busy = false;
  {
    // s1 busy, then it writes x; s2 copies x only after the event: without the wait it would
    // read x's old contents (zeros).
    auto src = iota_vec(n, 5);
    DevBuf fresh(be, 0, n * 4), x(be, 0, n * 4), y(be, 0, n * 4);
    be.copy_sync(fresh.p, test_device(0), src.data(), Device::cpu(), n * 4);
    const std::vector<int32_t> zeros(n, 0);
    be.copy_sync(x.p, test_device(0), zeros.data(), Device::cpu(), n * 4);
    Event busy_end(be, 0), e(be, 0);
    keep_busy(0, s1.get(), busy_ms());
    busy_end.record(s1.get());
    be.copy_async(x.p, test_device(0), fresh.p, test_device(0), n * 4, s1.get());
    e.record(s1.get());
    e.block(s2.get());
    be.copy_async(y.p, test_device(0), x.p, test_device(0), n * 4, s2.get());
    was_busy = still_busy(busy_end);
    s2.synchronize();
    EXPECT_EQ(read_ints(be, y, n), src) << "s2 read x before s1 wrote it";
  }
  sim::ScopedDelays delays(0, 500);
  for (int round = 0; round < 5; ++round) {
    auto src = iota_vec(n, round * 7);
    DevBuf x(be, 0, n * 4), y(be, 0, n * 4);
    Event e(be, 0);
    be.copy_async(x.p, test_device(0), src.data(), Device::cpu(), n * 4, s1.get());
    e.record(s1.get());
    e.block(s2.get());  // s2 reads x only after s1's copy
    be.copy_async(y.p, test_device(0), x.p, test_device(0), n * 4, s2.get());
    std::vector<int32_t> out(n, -1);
    be.copy_async(out.data(), Device::cpu(), y.p, test_device(0), n * 4, s2.get());
    s2.synchronize();
    EXPECT_EQ(out, src) << "round " << round;
  }
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the first stream");
}

TEST(DEVICE_SUITE(Streams), AMissingWaitCorruptsDataUnderDelays) {
  // The point of keep_busy (and of sim's delay mode): overwriting a host source before the
  // queued copy has run must show up, so a forgotten event wait cannot pass by luck.
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  PinnedBlock src(be, 1024), out(be, 1024);
  std::fill(ints(src), ints(src) + 256, 1);
  std::fill(ints(out), ints(out) + 256, 0);
  DevBuf d(be, 0, 1024);
  keep_busy(0, s.get(), busy_ms());
  Event busy_end(be, 0);
  busy_end.record(s.get());
  be.copy_async(d.p, test_device(0), src.data(), Device::cpu(), 1024, s.get());
  std::fill(ints(src), ints(src) + 256, 2);  // the bug: no wait before reuse
  const bool was_busy = still_busy(busy_end);
  be.copy_async(out.data(), Device::cpu(), d.p, test_device(0), 1024, s.get());
  s.synchronize();
  // Only meaningful if the copy had not started when the source was overwritten.
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the busy stream");
  EXPECT_EQ(std::vector<int32_t>(ints(out), ints(out) + 256), std::vector<int32_t>(256, 2))
      << "the copy ran before the overwrite";
}

TEST(DEVICE_SUITE(Events), QueryAndSynchronize) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Event never(be, 0);
  EXPECT_TRUE(never.query()) << "an event never recorded counts as completed";
  never.synchronize();
  Stream s(be, 0);
  Event e(be, 0);
  keep_busy(0, s.get(), busy_ms());
  e.record(s.get());
  EXPECT_FALSE(e.query()) << "recorded behind " << busy_ms() << " ms of busy work";
  e.synchronize();
  EXPECT_TRUE(e.query());
}

TEST(DEVICE_SUITE(Kernels), CastKernelMatchesTheHostCastBitForBit) {  // DT-3, XFER-2
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  // A (3, 4) int32 view with strides (8, 1) elements, read transposed, cast to float16.
  std::vector<int32_t> host(3 * 8);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = int32_t(i * 977) - 9000;
  DevBuf src(be, 0, host.size() * 4), dst(be, 0, 12 * 2);
  be.copy_sync(src.p, test_device(0), host.data(), Device::cpu(), host.size() * 4);
  CastKernel k;
  k.src = src.p;
  k.src_dtype = DType::int32;
  k.shape = {4, 3};
  k.src_strides = {4, 32};  // bytes: the transpose
  k.dst = dst.p;
  k.dst_dtype = DType::float16;
  k.start = 0;
  k.count = 12;
  Stream s(be, 0);
  be.reset_counters();
  be.launch_cast(0, k, s.get());
  s.synchronize();
  EXPECT_EQ(be.counters().kernel_launches, 1u);
  std::vector<uint16_t> got(12);
  be.copy_sync(got.data(), Device::cpu(), dst.p, test_device(0), 24);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) {
      Half want = cast_value<Half>(host[j * 8 + i]);
      EXPECT_EQ(got[i * 3 + j], want.bits) << i << "," << j;
    }
  // A middle range with a strided destination: elements 5..9 of the same view.
  std::vector<uint16_t> zeros(12, 0);
  be.copy_sync(dst.p, test_device(0), zeros.data(), Device::cpu(), 24);
  k.start = 5;
  k.count = 5;
  k.dst_strides = {6, 2};
  be.launch_cast(0, k, s.get());
  s.synchronize();
  be.copy_sync(got.data(), Device::cpu(), dst.p, test_device(0), 24);
  for (int lin = 0; lin < 12; ++lin) {
    int i = lin / 3, j = lin % 3;
    uint16_t want = (lin >= 5 && lin < 10) ? cast_value<Half>(host[j * 8 + i]).bits : 0;
    EXPECT_EQ(got[lin], want) << lin;
  }
}

TEST(DEVICE_SUITE(Counters), PinnedAndPageableBytesPerLink) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  DevBuf d(be, 0, 4096);
  std::vector<char> pageable(4096, 1);
  PinnedBlock pinned(be, 4096);
  be.reset_counters();
  be.copy_async(d.p, test_device(0), pageable.data(), Device::cpu(), 1000, s.get());
  be.copy_async(d.p, test_device(0), pinned.data(), Device::cpu(), 300, s.get());
  be.copy_async(pinned.data(), Device::cpu(), d.p, test_device(0), 200, s.get());
  be.copy_async(static_cast<char*>(d.p) + 2048, test_device(0), d.p, test_device(0), 50, s.get());
  s.synchronize();
  auto c = be.counters();
  EXPECT_EQ(c.pageable_bytes[int(Link::H2D)], 1000u);
  EXPECT_EQ(c.pinned_bytes[int(Link::H2D)], 300u);
  EXPECT_EQ(c.pinned_bytes[int(Link::D2H)], 200u);
  EXPECT_EQ(c.pageable_bytes[int(Link::D2H)], 0u);
  EXPECT_EQ(c.bytes(Link::D2D), 50u);
  EXPECT_EQ(c.copies[int(Link::H2D)], 2u);
  be.reset_counters();
  EXPECT_EQ(be.counters().bytes(Link::H2D), 0u);
}

TEST(DEVICE_SUITE(Streams), CrossDeviceCopy) {  // XFER-2
  ASTENSOR_REQUIRE_DEVICES(2);
  sim::ScopedDelays delays(0, 200);
  Backend& be = test_backend();
  Stream s0(be, 0), s1(be, 1);
  auto src = iota_vec(10000, 3);
  DevBuf a(be, 0, 40000), b(be, 1, 40000);
  Event e(be, 0);
  be.copy_async(a.p, test_device(0), src.data(), Device::cpu(), 40000, s0.get());
  e.record(s0.get());
  e.block(s1.get());
  be.reset_counters();
  be.copy_async(b.p, test_device(1), a.p, test_device(0), 40000, s1.get());
  std::vector<int32_t> out(10000);
  be.copy_async(out.data(), Device::cpu(), b.p, test_device(1), 40000, s1.get());
  s1.synchronize();
  EXPECT_EQ(out, src);
  EXPECT_EQ(be.counters().bytes(Link::Peer), 40000u);
}

/// CAI-3 / DLP-2 with one producer stream: work queued on `producer` (named by the protocol
/// integer `value`) writes a buffer behind keep_busy; the consumer stream, ordered with
/// wait_external_stream, copies it. Without the wait the consumer reads the old zeros.
/// Returns whether the producer was still busy once the consumer's work was queued.
bool check_external_producer(intptr_t value, StreamHandle producer, const std::string& what) {
  Backend& be = test_backend();
  Stream consumer(be, 0);
  const std::size_t n = 512;
  auto src = iota_vec(n, 11);
  const std::vector<int32_t> zeros(n, 0);
  DevBuf fresh(be, 0, n * 4), target(be, 0, n * 4), out(be, 0, n * 4);
  be.copy_sync(fresh.p, test_device(0), src.data(), Device::cpu(), n * 4);
  be.copy_sync(target.p, test_device(0), zeros.data(), Device::cpu(), n * 4);
  keep_busy(0, producer, busy_ms());
  Event busy_end(be, 0);
  busy_end.record(producer);
  be.copy_async(target.p, test_device(0), fresh.p, test_device(0), n * 4, producer);
  be.wait_external_stream(0, value, consumer.get());
  be.copy_async(out.p, test_device(0), target.p, test_device(0), n * 4, consumer.get());
  const bool was_busy = still_busy(busy_end);
  consumer.synchronize();
  EXPECT_EQ(read_ints(be, out, n), src) << what << ": the consumer did not wait for the producer";
  be.synchronize_stream(producer);
  return was_busy;
}

TEST(DEVICE_SUITE(Streams), ExternalProducerStreamIsWaitedOn) {  // CAI-3, DLP-2
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  bool was_busy = true;
  {
    ForeignStream foreign(0);  // CUDA: a raw cudaStream_t the library never saw
    was_busy &= check_external_producer(foreign.protocol_value(), foreign.get(), "a foreign stream");
  }
  // The protocols' special values: 1 the legacy default stream, 2 the per-thread default
  // stream (sim models both as streams of their own, as CUDA has); the library's own streams are non-blocking, so
  // neither orders them by itself.
  was_busy &= check_external_producer(1, protocol_stream(0, 1), "stream 1 (legacy default)");
  was_busy &= check_external_producer(2, protocol_stream(0, 2), "stream 2 (per-thread default)");
  Stream consumer(be, 0);
  EXPECT_THROW(be.wait_external_stream(0, 0, consumer.get()), ValueError) << "stream 0 is disallowed";
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "a producer stream");
}

TEST(DEVICE_SUITE(Streams), ManyHostThreadsEachWithTheirOwnStream) {
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(0, 100);
  Backend& be = test_backend();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      Stream s(be, t % be.device_count());
      const int dev = s.device();
      for (int r = 0; r < 10; ++r) {
        auto src = iota_vec(1000, t * 1000000 + r);
        DevBuf d(be, dev, 4000);
        std::vector<int32_t> out(1000);
        be.copy_async(d.p, test_device(dev), src.data(), Device::cpu(), 4000, s.get());
        be.copy_async(out.data(), Device::cpu(), d.p, test_device(dev), 4000, s.get());
        s.synchronize();
        if (out != src) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(DEVICE_SUITE(Streams), CurrentStreamIsPerDeviceAndSettable) {  // XFER-1
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  StreamHandle def = be.current_stream(0);
  Stream s(be, 0);
  be.set_current_stream(0, s.get());
  EXPECT_EQ(be.current_stream(0), s.get());
  be.set_current_stream(0, def);
  EXPECT_EQ(be.current_stream(0), def);
}

TEST(DEVICE_SUITE(Streams), NullHandlesAreNeverGivenAndNullRestoresTheDefault) {
  // Note [Null handles] in core/backend.h, on sim and on CUDA alike.
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  StreamHandle def = be.current_stream(0);
  EXPECT_NE(def, nullptr);
  Stream s(be, 0);
  EXPECT_NE(s.get(), nullptr);
  Event e(be, 0);
  EXPECT_NE(e.get(), nullptr);
  be.set_current_stream(0, s.get());
  be.set_current_stream(0, nullptr);
  EXPECT_EQ(be.current_stream(0), def) << "set_current_stream(device, nullptr) restores the default";
  be.destroy_stream(0, nullptr);  // ignored
  be.destroy_event(nullptr);      // ignored
}

// Item 5 of issue 6: the reference device path (blocking copies, host casts) on sim.
TEST(DEVICE_SUITE(ReferenceOnDevice), AsTensorToDeviceAndBack) {  // DEV-4, XFER-2, XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  std::vector<double> host = {1.5, -2.25, 3e40, -0.0, 7.0, 1e-8};
  ArrayView v = ArrayView::contiguous(host.data(), DType::float64, {2, 3});
  for (int dev = 0; dev < test_backend().device_count(); ++dev) {
    Options o;
    o.device = test_device(dev);
    o.dtype = DType::float32;
    Tensor t = reference::as_tensor(v, o);
    EXPECT_EQ(t.device(), test_device(dev));
    EXPECT_EQ(t.dtype(), DType::float32);
    EXPECT_EQ(test_backend().pointer_info(t.data_ptr()).kind, MemoryKind::Device);
    Options back;
    back.device = Device::cpu();
    Tensor h = reference::as_tensor(t, back);
    ASSERT_TRUE(h.device().is_cpu());
    auto vals = h.to_double_vector();
    for (std::size_t i = 0; i < host.size(); ++i)
      EXPECT_EQ(vals[i], double(static_cast<float>(host[i]))) << i;
    if (dev == 0 && test_backend().device_count() > 1) {
      Options other;
      other.device = test_device(1);
      Tensor t1 = reference::as_tensor(t, other);
      EXPECT_EQ(t1.device(), test_device(1));
      EXPECT_EQ(t1.to_double_vector(), t.to_double_vector());
    }
  }
}
