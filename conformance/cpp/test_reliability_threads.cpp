// Concurrency (issue 7): several threads converting at once through the reference and the
// optimized implementation, on the CPU and through sim (sharing the pinned pool, the host
// threads and the sim streams), give the serial results (XFER-3); the CI sanitize stage runs
// this binary under ThreadSanitizer. Then nothing is left allocated.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/error.h"
#include "reliability_util.h"

namespace astensor::reliability {
namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 12;

TEST(ReliabilityThreads, ConcurrentConversionsMatchSerial_XFER3) {
  const auto impls = implementations();
  const auto scs = scenarios(/*with_sim=*/true, /*large=*/false);
  // Serial results first.
  std::vector<std::vector<std::vector<double>>> expected(impls.size());
  for (std::size_t i = 0; i < impls.size(); ++i)
    for (const auto& sc : scs) expected[i].push_back(sc.run(impls[i].fn));
  const Usage base = usage();

  std::atomic<long long> conversions{0}, mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        // Each thread walks the (impl, scenario) grid from a different start, so different
        // paths overlap in time.
        for (std::size_t k = 0; k < impls.size() * scs.size(); ++k) {
          const std::size_t j = (k + static_cast<std::size_t>(t * 3 + r)) % (impls.size() * scs.size());
          const std::size_t i = j / scs.size(), s = j % scs.size();
          try {
            if (scs[s].run(impls[i].fn) != expected[i][s]) ++mismatches;
          } catch (const std::exception&) {
            ++errors;
          }
          ++conversions;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(conversions.load(), kThreads * kRounds * static_cast<long long>(impls.size() * scs.size()));
  EXPECT_EQ(usage(), base) << usage().str() << " vs " << base.str();
  std::printf("reliability: %d threads x %lld conversions each\n", kThreads,
              conversions.load() / kThreads);
}

TEST(ReliabilityThreads, SharedSourceAndTensorReadConcurrently_ARR2) {
  // One zero-copy tensor shared by every thread, each converting it again (sharing, ARR-1)
  // and to a copy; the owner is released once, after the last of them (ARR-2).
  std::vector<float> buf(1000);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = float(i);
  std::atomic<int> releases{0};
  std::shared_ptr<void> owner(static_cast<void*>(buf.data()), [&](void*) { ++releases; });
  ArrayView v = ArrayView::contiguous(buf.data(), DType::float32, Dims{10, 100}, owner);
  owner.reset();
  for (const NamedImpl& im : implementations()) {
    Tensor shared = im.fn(v, Options{});
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&] {
        for (int r = 0; r < 50; ++r) {
          Tensor a = im.fn(shared, Options{});
          Tensor b = im.fn(shared, Options{DType::float64, std::nullopt, std::nullopt});
          if (a.data_ptr() != shared.data_ptr() || b.to_double_vector() != shared.to_double_vector()) ++bad;
        }
      });
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0) << im.name;
  }
  EXPECT_EQ(releases.load(), 0);  // the view still holds the owner
  v.owner.reset();
  EXPECT_EQ(releases.load(), 1);
}

}  // namespace
}  // namespace astensor::reliability
