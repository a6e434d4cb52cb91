// The caching pinned host pool (impl/transfer/pinned_pool.h) on the device under test: its
// acquire/release/reuse against a model, and reuse across transfers.
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
  std::map<std::size_t, std::size_t> model_free;  // size -> cached blocks
  std::size_t model_cached = 0;
  uint64_t model_allocs = 0, model_hits = 0;
  const int steps = *rc::gen::inRange(1, 60);
  for (int step = 0; step < steps; ++step) {
    const bool acquire = held.empty() || *rc::gen::inRange(0, 3) != 0;
    if (acquire) {
      const std::size_t n = *rc::gen::inRange<std::size_t>(0, 300000);
      const std::size_t b = transfer::PinnedPool::block_size(n);
      if (model_free[b] > 0) {
        --model_free[b];
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
      if (model_cached + b <= bound) {
        ++model_free[b];
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

