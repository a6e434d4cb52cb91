#pragma once
/// Internal to backends/sim (not the public sim.h): sim's streams and events (Note [sim streams
/// model CUDA] below). A SimStream is a worker thread running its queue in order; a SimEvent
/// is a pair of generation counters. SimStream's bodies are in streams.cpp; the backend
/// (sim_backend.cpp) keeps the table of live streams and events, the default and current
/// streams, and the protocol's streams 1 and 2.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <atomic>
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

// Note [sim's modelled clock] (issue 15): on a machine with few cores a stream's worker thread
// may share a core with the thread that queues its work, and then wakes late from a modelled
// wait (a copy's or a sleep's end) by as much as the other thread's timeslice: measured on 2
// cores, 0.7-0.85 ms per 16 MiB batch, in runs where the scheduler had put the caller and the
// copy thread on one core (bench/overlap.py's slow repeats). Had each modelled operation started
// when the worker got to it, that lag would have been added to the link's time at every chunk.
// So each stream keeps a modelled clock: an operation starts, in modelled time, when it was
// queued or when the stream's previous operation ended in modelled time, whichever is later;
// a modelled operation (a copy under the link model, a sleep) ends `seconds` after that start,
// or when its real work ends if that is later; an event record takes no time, and the event
// completes at that modelled time; a wait for an event ends when the event completed or when
// the stream reached the wait, in modelled time, whichever is later (not when the worker got
// to it: the pipeline puts such a wait before every copy into a reused slot, and each one
// used to pass the worker's lateness on to the copy after it); any other operation (a kernel)
// ends when it really ends. The worker still waits until the modelled end before it
// goes on, and nothing runs earlier than it did before: a late worker catches up (it does the
// next copy's memcpy and then waits less) but never runs ahead of the model (an operation never
// starts before it was queued, and a copy engine's copies still follow one another: each starts
// at the earliest when the engine's previous copy ended). The random-delay mode's pauses are
// real as before (they still expose a missing wait) and, like a late wake-up, are absorbed when
// shorter than the modelled time in hand. Tests: SimLinkClock in test_sim_link.cpp.
// Note [sim's spinning waits]: a wait on a sim stream or event spins (yielding the core at
// each turn) for up to kSpinFor before it blocks on its condition variable, and a stream's
// worker that has run out of work spins as long for the next item before it sleeps. The
// blocking handshakes alone put two thread wake-ups (a futex wake, and on a VM an IPI) into
// every synchronous round trip: on the 2-core VM a 4 KiB conversion through the small-copy
// path took 42-46 us against the reference's 6 us, all of it wake-ups. A GPU's front end
// picks queued work up without an OS wake-up, and CUDA's default synchronization spins while
// the process has fewer contexts than cores (cudaDeviceScheduleAuto), so spinning first is
// also the closer model. Bounded, so an idle stream costs no CPU after kSpinFor; the spins read
// atomics that mirror the locked state, and the locked wait after them stays the authority.
inline constexpr std::chrono::microseconds kSpinFor{50};

/// Spins, yielding, until done() or kSpinFor has passed; true when done() held.
template <class F>
bool spin_until(F done) {
  const auto until = std::chrono::steady_clock::now() + kSpinFor;
  for (int i = 0;; ++i) {
    if (done()) return true;
    if ((i & 15) == 15 && std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::yield();
  }
}

struct OpClock {
  std::chrono::steady_clock::time_point start;  // modelled start of the running operation
  std::chrono::steady_clock::time_point end;    // its modelled end, when `modelled`
  bool modelled = false;
};

/// The modelled clock of the operation the calling thread is running for a stream; nullptr on
/// any other thread (a copy_sync's caller, a test): there an operation starts now.
OpClock* current_op_clock();

/// Where a modelled operation starts: its stream's modelled start, or now off a stream.
inline std::chrono::steady_clock::time_point modelled_start() {
  const OpClock* c = current_op_clock();
  return c ? c->start : std::chrono::steady_clock::now();
}

/// Records the modelled end of the running operation (no-op off a stream).
inline void set_modelled_end(std::chrono::steady_clock::time_point end) {
  if (OpClock* c = current_op_clock()) {
    c->end = end;
    c->modelled = true;
  }
}

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
  /// Spins, then waits, until the queue is empty and idle; returns holding m_.
  std::unique_lock<std::mutex> lock_when_idle();
  struct Item {
    std::function<void()> op;
    std::chrono::steady_clock::time_point queued;
    bool instant;  // an event record: no modelled time (Note [sim's modelled clock])
  };

  const int device_;
  std::mutex m_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Item> q_;
  // Note [sim's spinning waits]: mirrors of the queue's state read without the lock by the
  // bounded spins in run() and synchronize().
  std::atomic<uint64_t> queued_{0};  // items queued so far
  std::atomic<bool> idle_{true};     // q_.empty() && !running_
  std::chrono::steady_clock::time_point end_{};  // modelled end of the last operation (worker only)
  bool running_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: starts after the members above exist
};

struct SimEvent {
  explicit SimEvent(int d) : device(d) {}
  const int device;
  std::mutex m;
  std::condition_variable cv;
  uint64_t recorded = 0;  // generation of the last record()
  // Highest generation whose record has run: written under m, read without it by the spin of
  // wait_for (Note [sim's spinning waits]).
  std::atomic<uint64_t> completed{0};
  // Modelled time of the latest completion (Note [sim's modelled clock]); a wait on the event
  // ends no earlier than this in modelled time.
  std::chrono::steady_clock::time_point completed_at{};

  /// Spins, then waits, until generation `target` has completed; returns holding m.
  std::unique_lock<std::mutex> wait_for(uint64_t target) {
    spin_until([&] { return completed.load(std::memory_order_acquire) >= target; });
    std::unique_lock<std::mutex> l(m);
    cv.wait(l, [&] { return completed.load(std::memory_order_relaxed) >= target; });
    return l;
  }
};

}  // namespace astensor::sim_detail
