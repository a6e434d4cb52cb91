#pragma once
/// Note [Pending results] (issue 15: non-blocking as_tensor)
/// A non-blocking conversion returns a tensor whose bytes are still being written by work
/// queued on a device stream. The tensor's Storage then carries a Pending: an event recorded
/// on that stream after the last piece of work, plus the resources that work still uses
/// (pinned staging blocks, the source's owner when a pinned source is read in place), which
/// are released only once the event has completed. Everything that reads the bytes through
/// the library waits first (Storage::wait_ready), or orders its own stream after the event
/// (Storage::order_after_ready); nothing can read unfinished bytes through the library.
/// A storage without a Pending is ready; so is one whose event completed (the Pending then
/// drops its resources and answers from a flag, without asking the backend again).
///
/// Thread-safety: every member may be called from any thread; a mutex guards the resources,
/// and wait() does not hold it while it blocks. The event lives as long as the Pending. The
/// destructor waits for the event (a result dropped unread still must not free memory
/// its copy writes to, or hand back staging blocks the copy reads).

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "core/backend.h"

namespace astensor {

class Pending {
 public:
  /// Records a new event of `device` on `stream` now: the result is ready when the work
  /// queued on `stream` so far has run. `be` must outlive this object (backends are
  /// process-wide).
  Pending(Backend& be, int device, StreamHandle stream);
  ~Pending();
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;

  /// Keeps `resource` alive until the work has completed (then drops it).
  void hold(std::shared_ptr<void> resource);

  /// True once the work has completed; never blocks.
  bool ready();
  /// Blocks until the work has completed; rethrows a failure of the queued work.
  void wait();
  /// Makes `consumer` (a stream of the same backend) wait for the work, without blocking the
  /// host. Nothing to do once ready.
  void order_before(StreamHandle consumer);

  /// The stream the work was queued on (what __cuda_array_interface__ reports).
  StreamHandle stream() const { return stream_; }
  Backend& backend() const { return be_; }
  int device() const { return device_; }

 private:
  /// Sets done_ and hands back the resources (mutex held), for the caller to drop once it has
  /// let go of the mutex: dropping one may run anything (a Python owner takes the GIL), and
  /// must not do so under a lock another thread can be waiting for while it holds the GIL.
  std::vector<std::shared_ptr<void>> complete_locked();

  Backend& be_;
  const int device_;
  const StreamHandle stream_;
  EventHandle event_ = nullptr;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::vector<std::shared_ptr<void>> held_;
};

}  // namespace astensor
