#pragma once
/// Internal to backends/sim (not the public sim.h): sim's streams and events (Note [sim streams
/// model CUDA] below). A SimStream is a worker thread running its queue in order; a SimEvent
/// is a pair of generation counters. SimStream's bodies are in streams.cpp; the backend
/// (sim_backend.cpp) keeps the table of live streams and events, the default and current
/// streams, and the protocol's streams 1 and 2.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace astensor::sim_detail {

// Note [sim streams model CUDA]
// Each sim stream is a worker thread running its queue in order; two streams are ordered
// only by events (record_event / stream_wait_event), never implicitly, like CUDA streams
// made with cudaStreamNonBlocking, which is what the CUDA backend makes. The protocols
// (CAI-3, DLP-2) name a producer's stream by an integer: 1 is CUDA's legacy default stream,
// 2 its per-thread default stream, anything else a stream handle. On sim, 1 and 2 are
// streams of their own, one each per device (sim::external_stream), distinct from the
// library's default and current streams: work a producer queues on "stream 1" is seen by
// a library stream only after wait_external_stream(device, 1, that stream) (or a device
// synchronization). Mapping them onto the library's default stream, as sim once did, hid
// issue 11's DLP-2 bug: a DLPack import that named stream 1 and then read on the library's
// own streams passed on sim and returned stale data on a real GPU. Simplifications: the
// per-thread default stream is one stream per device, not one per host thread; the legacy
// stream does not synchronize with other streams (no blocking streams exist here).
// copy_sync and deallocate wait for every stream of the device, protocol streams included,
// as the CUDA backend's do (its copy_sync synchronizes the device; cudaFree waits too).

class SimStream {
 public:
  explicit SimStream(int device);
  ~SimStream();
  int device() const { return device_; }

  void enqueue(std::function<void()> op);
  /// Marks a point in the stream: runs `mark` at once when nothing is queued or running (an
  /// event recorded on an idle stream is complete, as on CUDA; no worker wake-up, which on a
  /// busy host costs more than the rest of a small transfer), else queues it. `mark` must not
  /// throw or block.
  void mark(std::function<void()> mark);
  /// Waits until the queue is empty and idle; rethrows the first failure of queued work.
  void synchronize();
  /// Waits until idle, leaving a failure for the next synchronize().
  void wait_idle();

 private:
  void run();

  const int device_;
  std::mutex m_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> q_;
  bool running_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: starts after the members above exist
};

struct SimEvent {
  explicit SimEvent(int d) : device(d) {}
  const int device;
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0;   // generation of the last record()
  uint64_t completed = 0;  // highest generation whose record has run
};

}  // namespace astensor::sim_detail
