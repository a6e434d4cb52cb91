#pragma once
// Test-only helpers that make stream-ordering bugs visible on the device under test, one
// source for sim and CUDA (issue 11 section 3):
//   - keep_busy(device, stream, ms): queues work that keeps `stream` busy for about `ms`
//     milliseconds, so whatever is queued after it on that stream runs late and a reader
//     that forgot to wait reads stale data. CUDA: a one-thread spin kernel on the GPU's
//     global timer (cuda_test_util.cu, compiled only into the CUDA test binaries). Sim: a
//     cast kernel over one element read and written again and again (stride 0), its length
//     calibrated once against the host clock (sim offers no "sleep on a stream" operation).
//   - ForeignStream: a stream the library did not make and does not know, as a producer's
//     stream arrives through __cuda_array_interface__ or DLPack. CUDA: a raw non-blocking
//     cudaStream_t made with the runtime, not through the backend. Sim: a stream the test
//     makes through the backend (sim has no other kind).
//   - still_busy(event): true while the work before `event` has not run; a test takes it
//     after queueing the consumer's work, so a window that closed too early (a slow host, a
//     sanitizer) ends in an inconclusive skip instead of a pass that proves nothing.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "conformance/cpp/device_test_util.h"
#include "core/backend.h"
#include "core/error.h"
#include "backends/sim/sim.h"

namespace astensor::testing {

#if defined(ASTENSOR_TEST_CUDA) && defined(ASTENSOR_HAVE_CUDA)
// cuda_test_util.cu (CUDA types kept out of this header).
namespace cuda_test {
/// Queues a one-thread kernel on `stream` (a cudaStream_t of `device`, or the protocol
/// values cudaStreamLegacy / cudaStreamPerThread) that spins until `ns` nanoseconds passed.
void spin(int device, void* stream, uint64_t ns);
/// A cudaStream_t made with cudaStreamCreateWithFlags(cudaStreamNonBlocking) on `device`.
void* create_raw_stream(int device);
/// Waits for the stream's work, then destroys it.
void destroy_raw_stream(int device, void* stream) noexcept;
/// cudaStreamLegacy (value 1) or cudaStreamPerThread (value 2) as a handle.
void* protocol_stream(intptr_t value);
}  // namespace cuda_test
#endif

/// The default busy window: 100 ms, or ASTENSOR_TEST_BUSY_MS (e.g. larger under a sanitizer).
inline unsigned busy_ms() {
  static const unsigned ms = [] {
    const char* e = std::getenv("ASTENSOR_TEST_BUSY_MS");
    const long v = e && *e ? std::strtol(e, nullptr, 10) : 0;
    return v > 0 ? static_cast<unsigned>(v) : 100u;
  }();
  return ms;
}

namespace detail_busy {

/// Sim: one page of device memory per device for the busy kernel (read and written at
/// offset 0), allocated once and kept for the process (so leak counts taken around a test
/// are not disturbed after the first use).
inline void* sim_scratch(int device) {
  static std::mutex m;
  static std::array<void*, sim::kDeviceCount> scratch{};
  std::lock_guard<std::mutex> g(m);
  void*& p = scratch.at(static_cast<std::size_t>(device));
  if (!p) {
    Backend& be = backend(DeviceType::Sim);
    p = be.allocate(device, 64);
    const double zero = 0;
    be.copy_sync(p, Device(DeviceType::Sim, device), &zero, Device::cpu(), sizeof zero);
  }
  return p;
}

/// Sim: `count` float64 -> float32 casts of the same element into the same place.
inline CastKernel sim_busy_kernel(int device, int64_t count) {
  void* p = sim_scratch(device);
  CastKernel k;
  k.src = p;
  k.src_dtype = DType::float64;
  k.shape = {count};
  k.src_strides = {0};
  k.dst = static_cast<char*>(p) + 8;
  k.dst_dtype = DType::float32;
  k.dst_strides = {0};
  k.start = 0;
  k.count = count;
  return k;
}

/// Sim: elements of the busy kernel per millisecond, measured once (the fastest of three
/// runs, random delays off), so the busy time is at least what was asked for.
inline double sim_elements_per_ms() {
  static const double rate = [] {
    Backend& be = backend(DeviceType::Sim);
    sim::ScopedDelays no_delays(0, 0);
    Stream s(be, 0);
    const int64_t n = int64_t(1) << 21;
    double best_ms = 1e30;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      be.launch_cast(0, sim_busy_kernel(0, n), s.get());
      s.synchronize();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      best_ms = std::min(best_ms, ms);
    }
    return double(n) / std::max(best_ms, 1e-3);
  }();
  return rate;
}

}  // namespace detail_busy

/// Queues work on `stream` (of `device` of the device under test) that keeps it busy for
/// about `ms` milliseconds (at least that long on CUDA; on sim as long as the calibration
/// says, which a faster moment of the host can shorten).
inline void keep_busy(int device, StreamHandle stream, unsigned ms) {
  if (testing_sim()) {
    const double n = detail_busy::sim_elements_per_ms() * ms;
    test_backend().launch_cast(device, detail_busy::sim_busy_kernel(device, static_cast<int64_t>(n) + 1), stream);
    return;
  }
#if defined(ASTENSOR_TEST_CUDA) && defined(ASTENSOR_HAVE_CUDA)
  cuda_test::spin(device, stream, uint64_t(ms) * 1000000u);
#else
  (void)device;
  (void)stream;
  (void)ms;
  throw RuntimeError("keep_busy: this test binary was built without CUDA");
#endif
}

/// A stream the library did not make (see the file comment); synchronized and destroyed
/// with its owner.
class ForeignStream {
 public:
  explicit ForeignStream(int device) : device_(device) {
    if (testing_sim()) {
      h_ = test_backend().create_stream(device);
      return;
    }
#if defined(ASTENSOR_TEST_CUDA) && defined(ASTENSOR_HAVE_CUDA)
    h_ = cuda_test::create_raw_stream(device);
#else
    throw RuntimeError("ForeignStream: this test binary was built without CUDA");
#endif
  }
  ~ForeignStream() {
    if (testing_sim()) {
      test_backend().destroy_stream(device_, h_);  // sim waits for the queue first
      return;
    }
#if defined(ASTENSOR_TEST_CUDA) && defined(ASTENSOR_HAVE_CUDA)
    cuda_test::destroy_raw_stream(device_, h_);
#endif
  }
  ForeignStream(const ForeignStream&) = delete;
  ForeignStream& operator=(const ForeignStream&) = delete;

  StreamHandle get() const { return h_; }
  /// The integer a protocol carries for this stream (CAI-3 "stream", DLP-2 stream=).
  intptr_t protocol_value() const { return reinterpret_cast<intptr_t>(h_); }

 private:
  int device_;
  StreamHandle h_ = nullptr;
};

/// The stream a protocol's special values name (1: the legacy default stream, 2: the
/// per-thread default stream) as a handle the test can queue work on. Sim models them as
/// streams of their own, distinct from the library's streams (sim::external_stream, Note [sim
/// streams model CUDA] in backends/sim/detail/streams.h), as CUDA's are.
inline StreamHandle protocol_stream(int device, intptr_t value) {
  if (testing_sim()) return sim::external_stream(device, value);
#if defined(ASTENSOR_TEST_CUDA) && defined(ASTENSOR_HAVE_CUDA)
  (void)device;
  return cuda_test::protocol_stream(value);
#else
  (void)device;
  (void)value;
  throw RuntimeError("protocol_stream: this test binary was built without CUDA");
#endif
}

/// True while the work recorded before `e` has not run yet.
inline bool still_busy(const Event& e) { return !e.query(); }

/// keep_busy(device, stream, busy_ms()) and an event recorded right after it: still() is
/// still_busy() of that event, what ASTENSOR_SKIP_UNLESS_WAS_BUSY takes.
struct BusyWindow {
  Event after;
  BusyWindow(Backend& be, StreamHandle stream, int device = 0) : after(be, device) {
    keep_busy(device, stream, busy_ms());
    after.record(stream);
  }
  bool still() const { return still_busy(after); }
};

/// Ends the test as an inconclusive skip when `was_busy` (still_busy() of an event recorded
/// after the producer's work, taken once the consumer's work was queued) is false: the
/// producer had finished, so a missing wait could not have shown. Call it after the data
/// checks, which count either way.
#define ASTENSOR_SKIP_UNLESS_WAS_BUSY(was_busy, what)                                           \
  do {                                                                                          \
    if (!(was_busy))                                                                            \
      GTEST_SKIP() << "inconclusive: " << (what) << " finished before the consumer's work was " \
                   << "queued (busy window " << ::astensor::testing::busy_ms()                  \
                   << " ms; raise ASTENSOR_TEST_BUSY_MS)";                                      \
  } while (0)

}  // namespace astensor::testing
