// Output memory of the optimized implementation (Note [Huge-page outputs]): the cache of
// freed large outputs never hands out memory a live tensor uses, returns memory on request,
// keeps storage_stats() honest (SEQ-6 leak checks), and large threaded copies through it
// equal the reference (XFER-3).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/storage.h"
#include "impl/cpu/host_alloc.h"
#include "impl_compare.h"

using namespace astensor;
using namespace astensor::impl::cpu;

TEST(ImplAlloc, CachedBlocksNeverAliasLiveTensors) {
  if (host_cache_limit() == 0) GTEST_SKIP() << "caching disabled by ASTENSOR_HOST_CACHE_BYTES=0";
  release_host_cache();
  const std::size_t n = std::size_t(8) << 20;
  const auto before = storage_stats();
  auto a = allocate_host(n);
  std::memset(a->data(), 0x11, n);
  EXPECT_EQ(storage_stats().live_allocations, before.live_allocations + 1);
  auto b = allocate_host(n);
  EXPECT_NE(a->data(), b->data());
  std::memset(b->data(), 0x22, n);
  EXPECT_EQ(static_cast<unsigned char*>(a->data())[n - 1], 0x11);
  void* old = a->data();
  a.reset();  // the last owner is gone: the block may be reused
  EXPECT_EQ(storage_stats().live_allocations, before.live_allocations + 1);
  EXPECT_GE(host_cache_bytes(), n);
  auto c = allocate_host(n);
  EXPECT_EQ(c->data(), old);
  EXPECT_NE(c->data(), b->data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c->data()) % 64, 0u);
  c.reset();
  b.reset();
  EXPECT_EQ(storage_stats().live_allocations, before.live_allocations);
  EXPECT_EQ(storage_stats().live_bytes, before.live_bytes);
  release_host_cache();
  EXPECT_EQ(host_cache_bytes(), 0u);
}

TEST(ImplAlloc, SmallOutputsUseTheBackend) {
  auto s = allocate_host(1000);
  EXPECT_TRUE(s->owns_memory());
  EXPECT_EQ(s->nbytes(), 1000u);
}

TEST(ImplAlloc, LargeStridedThreadedCastEqualsTheReference) {  // XFER-3, DT-3, threads
  // (1024, 2049) float64 -> [:, ::2] -> float32: 4 MiB written, gathered on every thread.
  const int64_t R = 1024, C = 2049;
  std::vector<double> src(R * C);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = double(i) * 0.1 - 1e5;
  ArrayView v;
  v.data = src.data();
  v.dtype = DType::float64;
  v.shape = Dims{R, (C + 1) / 2};
  v.byte_strides = Dims{C * 8, 16};
  Options o;
  o.dtype = DType::float32;
  for (int rep = 0; rep < 2; ++rep)  // the second output comes from the cache
    EXPECT_EQ(impl_check::compare_impls(v, o), "");
  o.dtype = DType::int32;  // saturating, through the cache's reused (dirty) block
  EXPECT_EQ(impl_check::compare_impls(v, o), "");
}

// impl/cpu/NOTES.md "The cache limit": an eighth of physical memory, at least 512 MiB, unless
// ASTENSOR_HOST_CACHE_BYTES says otherwise (then this test has nothing to check).
TEST(ImplAlloc, CacheLimitScalesWithPhysicalMemory) {
  if (std::getenv("ASTENSOR_HOST_CACHE_BYTES")) GTEST_SKIP() << "limit set by ASTENSOR_HOST_CACHE_BYTES";
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  ASSERT_GT(pages, 0);
  const std::size_t eighth = static_cast<std::size_t>(pages) / 8 * static_cast<std::size_t>(page);
  EXPECT_EQ(host_cache_limit(), std::max(std::size_t(512) << 20, eighth));
}

// Parked blocks are lazily freed (MADV_FREE): a block handed out again holds exactly what its
// new owner writes, across several park / reuse rounds, whether or not the kernel reclaimed
// its pages in between.
TEST(ImplAlloc, ParkedBlocksHoldWhatTheNextOwnerWrites) {
  if (host_cache_limit() == 0) GTEST_SKIP() << "caching disabled by ASTENSOR_HOST_CACHE_BYTES=0";
  release_host_cache();
  const std::size_t n = std::size_t(6) << 20;
  void* first = nullptr;
  for (int round = 0; round < 4; ++round) {
    auto s = allocate_host(n);
    if (round == 0) first = s->data();
    else EXPECT_EQ(s->data(), first) << "round " << round << " did not reuse the parked block";
    auto* p = static_cast<unsigned char*>(s->data());
    for (std::size_t i = 0; i < n; i += 4096) p[i] = static_cast<unsigned char>(round * 31 + i / 4096);
    p[n - 1] = static_cast<unsigned char>(round + 7);
    for (std::size_t i = 0; i < n; i += 4096)
      ASSERT_EQ(p[i], static_cast<unsigned char>(round * 31 + i / 4096)) << "round " << round << " byte " << i;
    ASSERT_EQ(p[n - 1], static_cast<unsigned char>(round + 7));
  }
  release_host_cache();
}
