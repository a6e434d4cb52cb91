// The caching pinned host pool (impl/transfer/pinned_pool.h) on the device under test: its
// acquire/release/reuse against a model, and reuse across transfers.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstring>
#include <algorithm>
#include <atomic>
#include <functional>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <random>

#include "conformance/cpp/cuda_test_util.h"
#include "conformance/cpp/device_test_util.h"
#include "conformance/cpp/transfer_test_util.h"
#include "core/cast.h"
#include "core/error.h"
#include "core/pending.h"
#include "backends/sim/sim.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/pending_reaper.h"
#include "impl/transfer/pinned_pool.h"
#include "impl/transfer/transfer.h"

using namespace astensor;
using namespace astensor::testing;
using astensor::impl::CastSite;
using astensor::transfer::TransferOptions;

using namespace astensor::testing::transfer_suite;

// --- the pinned pool against a model ------------------------------------------------------------

TEST(DEVICE_SUITE(PinnedPool), AcquireReleaseReuseMatchesAModel) {
  ASTENSOR_REQUIRE_DEVICES(1);
  EXPECT_TRUE(rc::check("pinned pool vs model", [] {
  // A private pool with a small bound, so eviction happens.
  const std::size_t bound = std::size_t(1) << 20;
  transfer::PinnedPool pool(test_backend(), bound);
  struct Held {
    transfer::PinnedLease lease;
    std::size_t asked;
    unsigned char tag;
  };
  std::vector<Held> held;
  std::deque<std::size_t> model_free;  // cached blocks' sizes, oldest release first
  std::size_t model_cached = 0;
  uint64_t model_allocs = 0, model_hits = 0;
  const int steps = *rc::gen::inRange(1, 60);
  for (int step = 0; step < steps; ++step) {
    const bool acquire = held.empty() || *rc::gen::inRange(0, 3) != 0;
    if (acquire) {
      const std::size_t n = *rc::gen::inRange<std::size_t>(0, 300000);
      const std::size_t b = transfer::PinnedPool::block_size(n);
      if (auto it = std::find(model_free.rbegin(), model_free.rend(), b); it != model_free.rend()) {
        model_free.erase(std::next(it).base());
        model_cached -= b;
        ++model_hits;
      } else {
        ++model_allocs;
      }
      Held h{pool.acquire(n), n, static_cast<unsigned char>(step)};
      RC_ASSERT(h.lease.size() == b);
      RC_ASSERT(h.lease.size() >= n);
      RC_ASSERT(test_backend().pointer_info(h.lease.data()).kind == MemoryKind::Pinned);
      std::memset(h.lease.data(), h.tag, h.lease.size());  // usable, and ours alone
      held.push_back(std::move(h));
    } else {
      const std::size_t i = *rc::gen::inRange<std::size_t>(0, held.size());
      const std::size_t b = held[i].lease.size();
      // Nobody else wrote into our block while we held it.
      auto* p = static_cast<unsigned char*>(held[i].lease.data());
      RC_ASSERT(std::all_of(p, p + b, [&](unsigned char c) { return c == held[i].tag; }));
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      if (b <= bound) {  // Note [A bounded cache that follows the work]: the oldest make room
        while (model_cached + b > bound) {
          model_cached -= model_free.front();
          model_free.pop_front();
        }
        model_free.push_back(b);
        model_cached += b;
      }
    }
    auto st = pool.stats();
    RC_ASSERT(st.cached_bytes == model_cached);
    RC_ASSERT(st.cached_bytes <= bound);
    RC_ASSERT(st.hits == model_hits);
    RC_ASSERT(st.backend_allocs == model_allocs);
    RC_ASSERT(st.in_use_blocks == held.size());
  }
  }));
}

// Note [A bounded cache that follows the work]: a cache full of one size must not make every
// conversion of another size pin a block per call.
TEST(DEVICE_SUITE(PinnedPool), AFullCacheMakesRoomForTheSizeInUseNow) {
  ASTENSOR_REQUIRE_DEVICES(1);
  const std::size_t big = std::size_t(1) << 20, small = std::size_t(256) << 10;
  transfer::PinnedPool pool(test_backend(), 2 * big);
  {
    transfer::PinnedLease a = pool.acquire(big), b = pool.acquire(big);
  }  // the cache now holds 2 MiB of 1 MiB blocks: full
  const auto before = pool.stats();
  for (int i = 0; i < 8; ++i) transfer::PinnedLease l = pool.acquire(small);
  const auto after = pool.stats();
  EXPECT_EQ(after.backend_allocs - before.backend_allocs, 1u) << "one 256 KiB block made, then reused";
  EXPECT_EQ(after.hits - before.hits, 7u);
  EXPECT_EQ(after.cached_bytes, big + small) << "one old 1 MiB block gave way";
}

TEST(DEVICE_SUITE(PinnedPool), TheSharedPoolIsReusedAcrossTransfers) {  // perf-anchors §2.2
  ASTENSOR_REQUIRE_DEVICES(1);
  auto& pool = transfer::pinned_pool(test_device_type());
  std::vector<float> src(50000, 1.0f);
  ArrayView v = ArrayView::contiguous(src.data(), DType::float32, {50000});
  transfer::to_device(v, DType::float32, test_device(0), small_chunks(65536));
  const auto before = pool.stats();
  for (int i = 0; i < 5; ++i) transfer::to_device(v, DType::float32, test_device(0), small_chunks(65536));
  const auto after = pool.stats();
  EXPECT_EQ(after.backend_allocs, before.backend_allocs) << "no pinned allocation per call";
  EXPECT_GT(after.hits, before.hits);
  EXPECT_EQ(after.in_use_blocks, 0u);
}


// --- Note [Reaping finished non-blocking work] (XFER-4) ------------------------------------------

/// A block of `pool` held by a Pending on `s` (a non-blocking result's staging slot), tracked
/// as the executors track theirs; the caller keeps the Pending, as a result would.
std::shared_ptr<Pending> held_by_pending(transfer::PinnedPool& pool, std::size_t bytes, StreamHandle s) {
  auto lease = std::make_shared<transfer::PinnedLease>(pool.acquire(bytes));
  auto pending = std::make_shared<Pending>(test_backend(), 0, s);
  pending->hold(std::move(lease));
  transfer::track_pending(pending);
  return pending;
}

// A data loader keeps batch i alive and never asks whether it is ready: the block its copy
// read from must still come back once the copy is done, at the next miss.
TEST(DEVICE_SUITE(PinnedPool), AMissReapsTheBlocksOfFinishedWorkNobodyAskedAbout) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  transfer::PinnedPool pool(be, std::size_t(64) << 20);
  Stream s(be, 0);
  keep_busy(0, s.get(), 1);  // some work for the Pending to wait for
  auto pending = held_by_pending(pool, std::size_t(1) << 20, s.get());
  be.synchronize_stream(s.get());  // the work is done; `pending` is not asked
  const auto before = pool.stats();
  transfer::PinnedLease again = pool.acquire(std::size_t(1) << 20);
  const auto after = pool.stats();
  EXPECT_EQ(after.backend_allocs, before.backend_allocs) << "the finished work's block is reused";
  EXPECT_EQ(after.hits, before.hits + 1);
  EXPECT_EQ(after.bound_waits, before.bound_waits) << "under the bound nothing waits";
}

// Over its bound, a miss waits for the oldest work in flight to give a block back rather than
// pin more: pinned memory stays bounded however far a caller runs ahead of the device.
TEST(DEVICE_SUITE(PinnedPool), OverItsBoundAMissWaitsForWorkInFlightInsteadOfPinningMore) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  const std::size_t block = std::size_t(1) << 20;
  transfer::PinnedPool pool(be, block);  // room for one leased block
  Stream s(be, 0);
  BusyWindow busy(be, s.get());
  auto pending = held_by_pending(pool, block, s.get());
  const auto before = pool.stats();
  const bool was_busy = busy.still();
  transfer::PinnedLease again = pool.acquire(block);
  const auto after = pool.stats();
  EXPECT_EQ(after.backend_allocs, before.backend_allocs) << "no block pinned past the bound";
  EXPECT_EQ(after.in_use_bytes, block);
  EXPECT_TRUE(pending->ready()) << "the block came back because its work completed";
  if (was_busy) EXPECT_EQ(after.bound_waits, before.bound_waits + 1);
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the work holding the block");
}

// Nothing tracked in flight: over the bound, the pool pins (a blocking caller's ring must not
// wait forever for nothing).
TEST(DEVICE_SUITE(PinnedPool), OverItsBoundWithNothingInFlightItStillPins) {
  ASTENSOR_REQUIRE_DEVICES(1);
  const std::size_t block = std::size_t(1) << 20;
  transfer::PinnedPool pool(test_backend(), block);
  transfer::PinnedLease first = pool.acquire(block);
  transfer::PinnedLease second = pool.acquire(block);
  EXPECT_TRUE(second);
  EXPECT_EQ(pool.stats().in_use_bytes, 2 * block);
}
