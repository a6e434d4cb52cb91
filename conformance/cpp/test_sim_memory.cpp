// DEV-4: host access to sim memory faults. sim's device memory (Note [sim device memory]): a memfd
// mapped twice, the handed-out address PROT_NONE for good and a read-write alias that only
// sim's own operations reach through an OpenScope. These tests hold the registry to that: the
// guard holds even while an operation has the memory open, the alias is the same memory, and
// memory freed while an operation runs stays mapped until the operation closes it.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "backends/sim/detail/memory.h"
#include "backends/sim/host_kernels.h"
#include "core/error.h"

using astensor::RuntimeError;
using astensor::sim_detail::OpenScope;
using astensor::sim_detail::Range;
using astensor::sim_detail::Registry;

namespace {

Range whole(void* p, std::size_t n) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return {a, a, a + n};
}

}  // namespace

TEST(SimDeviceMemory, TheAliasIsTheSameMemoryAndTheAddressStaysClosed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry reg;
  const std::size_t n = 3 * 4096 + 100;  // not a whole number of pages
  void* p = reg.map(n, 0);
  {
    OpenScope open(reg, {whole(p, n)});
    int32_t* alias = open.at(static_cast<int32_t*>(p));
    ASSERT_NE(static_cast<void*>(alias), p);
    alias[0] = 41;
    alias[n / 4 - 1] = 42;
    // Reopened, the same bytes are there (one memory, not a copy).
    OpenScope again(reg, {whole(p, n)});
    EXPECT_EQ(again.at(static_cast<int32_t*>(p))[0], 41);
    EXPECT_EQ(again.at(static_cast<int32_t*>(p) + n / 4 - 1)[0], 42);
    // A host pointer is reached as itself.
    int host = 5;
    EXPECT_EQ(open.at(&host), &host);
    // The address handed out faults even while operations have it open (before, the pages an
    // operation touched were readable by anyone for as long as it ran).
    EXPECT_DEATH({ std::printf("%d\n", *static_cast<volatile int32_t*>(p)); }, "");
    EXPECT_DEATH({ static_cast<volatile int32_t*>(p)[n / 4 - 1] = 1; }, "");
  }
  EXPECT_TRUE(reg.unmap(p, 0));
  EXPECT_EQ(reg.live(), 0u);
}

TEST(SimDeviceMemory, FreedWhileOpenStaysMappedUntilTheLastCloseThenGoes) {
  Registry reg;
  const std::size_t n = 1 << 20;
  void* p = reg.map(n, 0);
  const std::size_t used = reg.used(0);
  ASSERT_GE(used, n);
  {
    OpenScope open(reg, {whole(p, n)});
    unsigned char* alias = open.at(static_cast<unsigned char*>(p));
    EXPECT_TRUE(reg.unmap(p, 0));   // freed while the operation runs ...
    EXPECT_FALSE(reg.unmap(p, 0));  // ... once: a second free is refused
    EXPECT_EQ(reg.find(p, 1).base, 0u) << "freed memory is no allocation any more";
    EXPECT_THROW(OpenScope(reg, {whole(p, n)}), RuntimeError) << "an operation queued on freed memory fails";
    std::memset(alias, 7, n);  // ... and the running operation still reaches its pages
    EXPECT_EQ(alias[n - 1], 7);
    EXPECT_EQ(reg.live(), 1u) << "still mapped while open";
  }
  EXPECT_EQ(reg.live(), 0u) << "the last close released it";
  // Released into the cache: the next allocation of the size reuses the mapping.
  void* q = reg.map(n, 0);
  EXPECT_EQ(q, p);
  EXPECT_TRUE(reg.unmap(q, 0));
}

// Note [sim copies into device memory]: copies of kStreamingCopyBytes or more use streaming
// stores (an aligned 64-byte body between memcpy'd head and tail). Every destination
// alignment, a tail of every length 0-63, and sizes on both sides of the threshold give
// memcpy's bytes, and nothing outside the destination is written.
TEST(SimDeviceMemory, CopiesIntoDeviceMemoryGiveMemcpysBytes) {
  const std::size_t k = astensor::sim::kStreamingCopyBytes;
  const std::size_t max_n = k + 4096;
  std::vector<unsigned char> src(max_n + 64), dst(max_n + 128), want(max_n + 128);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 131 + 7);
  for (std::size_t n : {k - 1, k, k + 1, k + 13, k + 63, k + 64, k + 4095}) {
    for (std::size_t doff : {0u, 1u, 5u, 8u, 15u, 16u, 33u}) {
      for (std::size_t soff : {0u, 3u}) {
        std::memset(dst.data(), 0xee, dst.size());
        std::memset(want.data(), 0xee, want.size());
        std::memcpy(want.data() + 16 + doff, src.data() + soff, n);
        astensor::sim::copy_to_device_memory(dst.data() + 16 + doff, src.data() + soff, n);
        ASSERT_EQ(std::memcmp(dst.data(), want.data(), dst.size()), 0)
            << n << " bytes, destination offset " << doff << ", source offset " << soff;
      }
    }
  }
}
