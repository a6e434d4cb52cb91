// The caching device allocator (impl/transfer/device_allocator.h) through the transfer
// pipeline, which allocates device outputs, scratch and peer temporaries from the process-wide
// allocator of each device type (transfer::device_allocator): repeated transfers hit the cache
// (XFER-3); outputs freed at once are reused across threads and streams under random delays
// (XFER-1, XFER-3); a failed device allocation inside a conversion is retried after trimming;
// nothing leaks and the reference does not use the cache (SEQ-6). Built for sim and for CUDA,
// like test_device_alloc.cpp (the allocator on its own).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "conformance/cpp/device_test_util.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/storage.h"
#include "backends/sim/sim.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/transfer.h"
#include "reference/as_tensor.h"

using namespace astensor;
using namespace astensor::testing;
using transfer::DeviceAllocator;

namespace {

constexpr unsigned kDeviceAllocSite = 1u << static_cast<unsigned>(fault::Site::DeviceAlloc);

TEST(DEVICE_SUITE(DeviceAllocPipeline), RepeatedTransfersHitTheCache) {  // XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  DeviceAllocator& alloc = transfer::device_allocator(test_device_type());
  std::vector<float> src(50000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = float(i) * 0.5f - 3;
  ArrayView v = ArrayView::contiguous(src.data(), DType::float32, {250, 200});
  const Tensor want = copy_plain(v, DType::float64, Device::cpu());
  { Tensor warm = transfer::to_device(v, DType::float64, test_device(0)); }
  const auto before = alloc.stats();
  for (int i = 0; i < 5; ++i) {
    Tensor d = transfer::to_device(v, DType::float64, test_device(0));
    expect_same_tensor(transfer::to_host(view_of(d), DType::float64), want, "round " + std::to_string(i));
  }
  const auto after = alloc.stats();
  EXPECT_EQ(after.misses, before.misses) << "every output and scratch block came from the cache";
  EXPECT_GE(after.hits - before.hits, 5u);
  EXPECT_EQ(after.in_use_blocks, before.in_use_blocks);
}

TEST(DEVICE_SUITE(DeviceAllocPipeline), OutputsFreedAtOnceAndReusedAcrossThreadsAndStreams) {  // XFER-1, XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);  // the threads spread over the devices present
  sim::ScopedDelays delays(0, 300);
  Backend& be = test_backend();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      const int dev = t % be.device_count();
      const StreamHandle previous = be.current_stream(dev);
      Stream mine(be, dev);  // each thread's conversions run on its own current stream
      be.set_current_stream(dev, mine.get());
      for (int i = 0; i < 12; ++i) {
        std::vector<int32_t> src(6000 + 500 * (i % 3));
        for (std::size_t k = 0; k < src.size(); ++k) src[k] = int32_t(k * 7 + 1000 * t + i);
        ArrayView v = ArrayView::contiguous(src.data(), DType::int32, {int64_t(src.size())});
        transfer::TransferOptions o;
        o.chunk_bytes = 8192;
        o.slots = 2;
        const DType to = i % 2 ? DType::int64 : DType::int16;  // widening (device cast) / narrowing (host)
        Tensor d = transfer::to_device(v, to, test_device(dev), o);
        std::fill(src.begin(), src.end(), -1);  // XFER-1: the source may change at once
        Tensor back = transfer::to_host(view_of(d), DType::int32, o);
        d = Tensor();  // the device block returns to the cache right away
        const auto got = back.to_double_vector();
        for (std::size_t k = 0; k < got.size(); ++k) {
          const int32_t want = to == DType::int16 ? int32_t(int16_t(k * 7 + 1000 * t + i)) : int32_t(k * 7 + 1000 * t + i);
          if (got[k] != double(want)) {
            ++failures;
            break;
          }
        }
      }
      be.set_current_stream(dev, previous);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(DEVICE_SUITE(DeviceAllocPipeline), AFailedDeviceAllocationInAConversionIsRetriedAfterTrimming) {  // XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  DeviceAllocator& alloc = transfer::device_allocator(test_device_type());
  std::vector<double> src(7777);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = double(i) / 8;
  ArrayView v = ArrayView::contiguous(src.data(), DType::float64, {7777});
  const Tensor want = copy_plain(v, DType::float32, Device::cpu());
  { Tensor warm = transfer::to_device(v, DType::float64, test_device(0)); }  // something cached
  ASSERT_GT(alloc.stats().cached_blocks, 0u);
  const auto before = alloc.stats();
  const auto storages = storage_stats().live_allocations;
  fault::arm(1, kDeviceAllocSite);
  Tensor d;
  EXPECT_NO_THROW(d = transfer::to_device(v, DType::float32, test_device(0)));  // a new bin: a miss
  const bool fired = fault::fired();
  fault::disarm();
  ASSERT_TRUE(fired);
  EXPECT_EQ(alloc.stats().oom_retries, before.oom_retries + 1);
  expect_same_tensor(transfer::to_host(view_of(d), DType::float32), want, "after the retry");
  d = Tensor();
  EXPECT_EQ(storage_stats().live_allocations, storages);
}

TEST(DEVICE_SUITE(DeviceAllocPipeline), NothingLeaksAndTheReferenceDoesNotUseTheCache) {  // SEQ-6
  ASTENSOR_REQUIRE_DEVICES(1);
  DeviceAllocator& alloc = transfer::device_allocator(test_device_type());
  std::vector<uint8_t> src(3000, 7);
  ArrayView v = ArrayView::contiguous(src.data(), DType::uint8, {3000});
  const auto storages = storage_stats().live_allocations;
  const auto before = alloc.stats();
  {
    Options o;
    o.device = test_device(0);
    Tensor r = reference::as_tensor(v, o);
    EXPECT_EQ(alloc.stats().in_use_blocks, before.in_use_blocks) << "the reference allocates from the backend";
    Tensor d = transfer::to_device(v, DType::float32, test_device(0));
    EXPECT_EQ(alloc.stats().in_use_blocks, before.in_use_blocks + 1);
  }
  EXPECT_EQ(storage_stats().live_allocations, storages);
  EXPECT_EQ(alloc.stats().in_use_blocks, before.in_use_blocks);
}

}  // namespace
