#include "impl/transfer/host_threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace astensor::transfer {

struct HostThreads::Impl {
  std::mutex busy;  // one job at a time
  std::mutex m;     // guards everything below except `next`
  std::condition_variable start_cv, done_cv;
  uint64_t generation = 0;
  const std::function<void(int)>* fn = nullptr;
  int tasks = 0;
  int helpers = 0;  // workers that may still join the current job
  int joined = 0;
  int finished = 0;
  std::atomic<int> next{0};
  std::exception_ptr error;

  void work(const std::function<void(int)>* f, int n) {
    for (;;) {
      const int i = next.fetch_add(1);
      if (i >= n) return;
      try {
        (*f)(i);
      } catch (...) {
        std::lock_guard<std::mutex> g(m);
        if (!error) error = std::current_exception();
      }
    }
  }

  void worker_loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> l(m);
    for (;;) {
      start_cv.wait(l, [&] { return generation != seen && joined < helpers; });
      seen = generation;
      ++joined;
      const auto* f = fn;
      const int n = tasks;
      l.unlock();
      work(f, n);
      l.lock();
      ++finished;
      done_cv.notify_all();
    }
  }
};

HostThreads& HostThreads::instance() {
  // Leaked on purpose: the workers stay parked until the process exits.
  static HostThreads* pool = [] {
    const unsigned hw = std::thread::hardware_concurrency();
    return new HostThreads(static_cast<int>(std::clamp(hw, 1u, 4u)));
  }();
  return *pool;
}

HostThreads::HostThreads(int n) : impl_(new Impl), size_(n) {
  for (int i = 1; i < n; ++i) std::thread([this] { impl_->worker_loop(); }).detach();
}

void HostThreads::run(int tasks, const std::function<void(int)>& fn, int max_threads) {
  if (tasks <= 0) return;
  const int threads = std::min({tasks, max_threads > 0 ? max_threads : size_, size_});
  std::unique_lock<std::mutex> busy(impl_->busy, std::defer_lock);
  if (threads <= 1 || !busy.try_lock()) {
    for (int i = 0; i < tasks; ++i) fn(i);
    return;
  }
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> g(s.m);
    s.fn = &fn;
    s.tasks = tasks;
    s.helpers = threads - 1;
    s.joined = 0;
    s.finished = 0;
    s.next.store(0);
    s.error = nullptr;
    ++s.generation;
  }
  s.start_cv.notify_all();
  s.work(&fn, tasks);
  std::unique_lock<std::mutex> l(s.m);
  // Close the job (no worker joins after this), then wait for those that joined.
  s.helpers = 0;
  s.done_cv.wait(l, [&] { return s.finished == s.joined; });
  std::exception_ptr err = std::exchange(s.error, nullptr);
  s.fn = nullptr;
  l.unlock();
  if (err) std::rethrow_exception(err);
}

}  // namespace astensor::transfer
