#pragma once
/// A persistent pool of host threads for the staging side of transfers (perf-anchors §2.4:
/// one core copies 5-20 GB/s, so feeding a link takes several; spawning threads per chunk
/// costs more than a chunk). Created once; the calling thread works too.

#include <cstdint>
#include <functional>

namespace astensor::transfer {

class HostThreads {
 public:
  /// The process-wide pool: min(hardware threads, 4) threads including the caller.
  static HostThreads& instance();

  /// Runs fn(0) .. fn(tasks - 1), on up to `max_threads` threads (0: all), and returns when
  /// all have finished; rethrows the first exception. When another caller is using the pool
  /// the tasks run on the calling thread alone (no waiting behind another transfer).
  void run(int tasks, const std::function<void(int)>& fn, int max_threads = 0);
  int size() const { return size_; }

 private:
  explicit HostThreads(int n);
  struct Impl;
  Impl* impl_;
  int size_;
};

}  // namespace astensor::transfer
