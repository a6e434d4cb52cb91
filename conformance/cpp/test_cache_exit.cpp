// The caches give their memory back at exit (Note [Caches at exit] in
// impl/transfer/device_allocator.h; issue 11 section 4: compute-sanitizer reported the cached
// device and pinned blocks as leaks). On the device under test:
//   - DeviceAllocator::shutdown() and PinnedPool::shutdown() free every cached block, leave
//     blocks in use alone (their bytes intact), and blocks freed afterwards go straight back
//     to the backend;
//   - the process-wide exit hook runs at exit and empties the process-wide caches: checked in
//     a child process (a gtest death test that exits normally) by an atexit handler
//     registered before the library's hook, so it runs after it; blocks still in use when
//     the hook ran go straight back to the backend when freed afterwards.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <unistd.h>

#include "conformance/cpp/device_test_util.h"
#include "core/storage.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/pinned_pool.h"

using namespace astensor;
using namespace astensor::testing;
using transfer::DeviceAllocator;
using transfer::PinnedPool;

namespace {

std::vector<unsigned char> read_back(const Storage& st, std::size_t n) {
  std::vector<unsigned char> out(n);
  copy_bytes_sync(out.data(), Device::cpu(), st.data(), st.device(), n);
  return out;
}

TEST(DEVICE_SUITE(CacheExit), AllocatorShutdownFreesTheCacheAndSparesBlocksInUse) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  DeviceAllocator alloc(be);
  Stream s(be, 0);
  auto live = alloc.allocate(0, 4096, s.get());
  const std::vector<unsigned char> bytes(4096, 0x5A);
  copy_bytes_sync(live->data(), live->device(), bytes.data(), Device::cpu(), bytes.size());
  {
    auto a = alloc.allocate(0, 1000, s.get());
    auto b = alloc.allocate(0, 1 << 20, s.get());
  }
  ASSERT_EQ(alloc.stats().cached_blocks, 2u);
  ASSERT_EQ(alloc.stats().backend_frees, 0u);

  alloc.shutdown();
  auto st = alloc.stats();
  EXPECT_TRUE(alloc.is_shut_down());
  EXPECT_EQ(st.cached_blocks, 0u);
  EXPECT_EQ(st.cached_bytes, 0u);
  EXPECT_EQ(st.backend_frees, 2u) << "the two cached blocks go back to the backend";
  EXPECT_EQ(st.in_use_blocks, 1u);
  EXPECT_EQ(read_back(*live, bytes.size()), bytes) << "a block in use is not touched";

  // After shutdown nothing is cached: a freed block goes straight back.
  live.reset();
  st = alloc.stats();
  EXPECT_EQ(st.cached_blocks, 0u);
  EXPECT_EQ(st.in_use_blocks, 0u);
  EXPECT_EQ(st.backend_frees, 3u);
  // Still usable (a late allocation during exit must not fail), and still not caching.
  { auto late = alloc.allocate(0, 1000, s.get()); }
  EXPECT_EQ(alloc.stats().cached_blocks, 0u);
  EXPECT_EQ(alloc.stats().backend_frees, 4u);
  alloc.shutdown();  // idempotent
  EXPECT_EQ(alloc.stats().backend_frees, 4u);
}

TEST(DEVICE_SUITE(CacheExit), PinnedPoolShutdownFreesTheCacheAndSparesLeases) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  PinnedPool pool(be);
  auto live = pool.acquire(1 << 16);
  std::memset(live.data(), 0x3C, live.size());
  {
    auto a = pool.acquire(1 << 16);
    auto b = pool.acquire(1 << 19);
  }
  ASSERT_EQ(pool.stats().cached_blocks, 2u);

  pool.shutdown();
  auto st = pool.stats();
  EXPECT_TRUE(pool.is_shut_down());
  EXPECT_EQ(st.cached_blocks, 0u);
  EXPECT_EQ(st.cached_bytes, 0u);
  EXPECT_EQ(st.backend_frees, 2u);
  EXPECT_EQ(st.in_use_blocks, 1u);
  const auto* p = static_cast<const unsigned char*>(live.data());
  std::size_t intact = 0;
  while (intact < live.size() && p[intact] == 0x3C) ++intact;
  EXPECT_EQ(intact, live.size()) << "a leased block is not touched";

  live.reset();
  st = pool.stats();
  EXPECT_EQ(st.cached_blocks, 0u) << "after shutdown a released block is not cached";
  EXPECT_EQ(st.in_use_blocks, 0u);
  EXPECT_EQ(st.backend_frees, 3u);
}

// --- the process-wide exit hook, in a child process ----------------------------------------

// Set in the child before exit: what the checker expects to find still in use.
std::shared_ptr<Storage>* g_live_block = nullptr;
transfer::PinnedLease* g_live_lease = nullptr;

/// Registered with atexit BEFORE the library's hooks (they register on the first backend
/// allocation), so it runs AFTER them. Exits with a nonzero code naming what is wrong.
void check_caches_after_the_hook() {
  const DeviceType t = test_device_type();
  const auto d = transfer::device_allocator(t).stats();
  const auto p = transfer::pinned_pool(t).stats();
  int rc = 0;
  if (!transfer::device_allocator(t).is_shut_down() || !transfer::pinned_pool(t).is_shut_down()) {
    std::fprintf(stderr, "exit hook did not run before the checker\n");
    rc = 2;
  } else if (d.cached_blocks != 0 || d.cached_bytes != 0 || p.cached_blocks != 0 || p.cached_bytes != 0) {
    std::fprintf(stderr, "caches not empty after the exit hook: device %zu blocks, pinned %zu blocks\n",
                 d.cached_blocks, p.cached_blocks);
    rc = 3;
  } else if (d.in_use_blocks != 1 || p.in_use_blocks != 1) {
    std::fprintf(stderr, "blocks in use changed: device %zu, pinned %zu (want 1, 1)\n", d.in_use_blocks,
                 p.in_use_blocks);
    rc = 4;
  } else {
    // Blocks freed after the hook go straight back to the backend (and nothing is left for
    // a leak checker such as compute-sanitizer to report).
    g_live_block->reset();
    delete g_live_lease;
    const auto d2 = transfer::device_allocator(t).stats();
    const auto p2 = transfer::pinned_pool(t).stats();
    if (d2.in_use_blocks != 0 || d2.cached_blocks != 0 || p2.in_use_blocks != 0 || p2.cached_blocks != 0) {
      std::fprintf(stderr, "a block freed after the hook was cached: device %zu, pinned %zu\n",
                   d2.cached_blocks, p2.cached_blocks);
      rc = 5;
    } else {
      std::fprintf(stderr, "caches empty after the exit hook\n");
    }
  }
  std::fflush(stderr);
  if (rc) _exit(rc);
}

/// The child: fills both process-wide caches, keeps one block of each in use, and exits.
[[noreturn]] void fill_the_caches_and_exit() {
  std::atexit(check_caches_after_the_hook);
  const DeviceType t = test_device_type();
  Backend& be = backend(t);
  // The library's hooks must register after the checker: nothing may have allocated yet.
  if (transfer::device_allocator(t).stats().backend_allocs != 0 || transfer::pinned_pool(t).stats().backend_allocs != 0) {
    std::fprintf(stderr, "the caches were used before the checker was registered\n");
    _exit(6);
  }
  const Device dev(t, 0);
  StreamHandle s = be.current_stream(0);
  g_live_block = new std::shared_ptr<Storage>(transfer::allocate_device(4096, dev, s));
  { auto a = transfer::allocate_device(1000, dev, s), b = transfer::allocate_device(3 << 20, dev, s); }
  g_live_lease = new transfer::PinnedLease(transfer::pinned_pool(t).acquire(1 << 16));
  { auto a = transfer::pinned_pool(t).acquire(1 << 16), b = transfer::pinned_pool(t).acquire(1 << 22); }
  if (transfer::device_allocator(t).stats().cached_blocks != 2 || transfer::pinned_pool(t).stats().cached_blocks != 2) {
    std::fprintf(stderr, "the caches did not fill\n");
    _exit(7);
  }
  std::exit(0);  // runs the hooks, then the checker
}

TEST(DEVICE_SUITE(CacheExit), TheExitHookEmptiesTheProcessWideCaches) {
  ASTENSOR_REQUIRE_DEVICES(1);
  // "threadsafe": the child re-runs this binary with only this test (sim and CUDA have
  // threads of their own), so nothing has allocated in it before the checker registers.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fill_the_caches_and_exit(), ::testing::ExitedWithCode(0), "caches empty after the exit hook");
}

}  // namespace
