// Note [Pending results] (core/pending.h, issue 15): the completion record a non-blocking
// conversion leaves on its result's storage. Built for sim and for CUDA (DEVICE_SUITE); the
// stream under test is kept busy (keep_busy) so that an answer taken too early shows.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "conformance/cpp/cuda_test_util.h"
#include "conformance/cpp/device_test_util.h"
#include "core/backend.h"
#include "core/pending.h"
#include "core/storage.h"
#include "core/tensor.h"

namespace astensor::testing {
namespace {

TEST(DEVICE_SUITE(Pending), ReadyOnlyAfterTheWorkAndWaitBlocksUntilThen) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  BusyWindow busy(be, s.get());  // its event comes before the Pending's own
  Pending p(be, 0, s.get());
  const bool was_busy = busy.still();
  if (was_busy) EXPECT_FALSE(p.ready()) << "ready while the stream still runs the work before it";
  p.wait();
  EXPECT_TRUE(busy.after.query()) << "wait() returned before the work had run";
  EXPECT_TRUE(p.ready());
  p.wait();  // again: nothing to do
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the busy stream");
}

TEST(DEVICE_SUITE(Pending), HeldResourcesLiveUntilTheWorkHasRun) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  BusyWindow busy(be, s.get());
  auto p = std::make_shared<Pending>(be, 0, s.get());
  auto resource = std::make_shared<int>(7);
  std::weak_ptr<int> watch = resource;
  p->hold(std::move(resource));
  const bool was_busy = busy.still();
  if (was_busy) {
    EXPECT_FALSE(p->ready());
    EXPECT_FALSE(watch.expired()) << "a resource was dropped while the work could still use it";
  }
  while (!p->ready()) {
  }
  EXPECT_TRUE(watch.expired()) << "ready() saw the work complete but kept the resource";
  // Holding after completion drops at once.
  auto late = std::make_shared<int>(8);
  std::weak_ptr<int> late_watch = late;
  p->hold(std::move(late));
  EXPECT_TRUE(late_watch.expired());
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the busy stream");
}

TEST(DEVICE_SUITE(Pending), TheDestructorWaitsForTheWork) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  BusyWindow busy(be, s.get());
  std::weak_ptr<int> watch;
  bool was_busy = false;
  {
    Pending p(be, 0, s.get());
    auto resource = std::make_shared<int>(1);
    watch = resource;
    p.hold(std::move(resource));
    was_busy = busy.still();
  }
  EXPECT_TRUE(busy.after.query()) << "~Pending returned before the work had run";
  EXPECT_TRUE(watch.expired());
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the busy stream");
}

TEST(DEVICE_SUITE(Pending), AnotherStreamOrderedAfterItReadsTheFinalBytes) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  const Device dev = test_device(0);
  constexpr std::size_t n = 1 << 16;
  std::vector<unsigned char> pattern(n, 0xA5), zeros(n, 0), out(n, 0);
  void* buf = be.allocate(0, n);
  be.copy_sync(buf, dev, zeros.data(), Device::cpu(), n);
  Stream producer(be, 0), consumer(be, 0);
  keep_busy(0, producer.get(), busy_ms());
  be.copy_async(buf, dev, pattern.data(), Device::cpu(), n, producer.get());
  Pending p(be, 0, producer.get());
  p.order_before(consumer.get());
  be.copy_async(out.data(), Device::cpu(), buf, dev, n, consumer.get());
  Event after(be, 0);
  after.record(producer.get());
  const bool was_busy = still_busy(after);
  be.synchronize_stream(consumer.get());
  EXPECT_EQ(std::memcmp(out.data(), pattern.data(), n), 0)
      << "the consumer stream read the bytes before the pending work had written them";
  p.wait();
  be.deallocate(0, buf);
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the busy stream");
}

// A held resource may take a lock when it is dropped (a Python owner takes the GIL). Thread A
// completes the Pending and drops the resource, which waits for a lock thread B holds while B
// asks the same Pending: B must get its answer (before, A dropped it under the Pending's own
// mutex, which B then waited for: a deadlock, GIL against mutex).
TEST(DEVICE_SUITE(Pending), ResourcesAreDroppedOutsideItsLock) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  auto p = std::make_shared<Pending>(be, 0, s.get());
  be.synchronize_stream(s.get());
  std::mutex gil;  // stands for the GIL
  std::promise<void> dropping;
  std::unique_lock<std::mutex> b_holds(gil);
  p->hold(std::shared_ptr<void>(nullptr, [&](void*) {
    dropping.set_value();
    std::lock_guard<std::mutex> wait_for_b(gil);
  }));
  auto a = std::async(std::launch::async, [&] { return p->ready(); });  // drops the resource
  dropping.get_future().wait();  // A is inside the drop, waiting for the "GIL"
  auto b = std::async(std::launch::async, [&] { return p->ready(); });  // B, "holding the GIL", asks
  const bool b_answered = b.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  b_holds.unlock();  // let A finish either way, so the test ends
  EXPECT_TRUE(b_answered) << "ready() waited for a resource being dropped under the Pending's lock";
  EXPECT_TRUE(a.get());
  if (b_answered) EXPECT_TRUE(b.get());
}

TEST(DEVICE_SUITE(Pending), StorageAndTensorAnswerThroughTheirPending) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  auto storage = Storage::allocate(64, test_device(0));
  Tensor t = Tensor::make(storage, 0, Dims{16}, Dims{1}, DType::float32);
  EXPECT_TRUE(t.is_ready()) << "a storage without a Pending is ready";
  Stream s(be, 0);
  BusyWindow busy(be, s.get());
  storage->set_pending(std::make_shared<Pending>(be, 0, s.get()));
  const bool was_busy = busy.still();
  if (was_busy) EXPECT_FALSE(t.is_ready());
  t.synchronize();
  EXPECT_TRUE(busy.after.query());
  EXPECT_TRUE(t.is_ready());
  ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, "the busy stream");
}

}  // namespace
}  // namespace astensor::testing
