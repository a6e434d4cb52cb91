// sim's streams (Note [sim streams model CUDA] in detail/streams.h): each SimStream's worker
// thread, which runs the queue in order, and the queueing, marking and waiting around it.

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "backends/sim/detail/settings.h"
#include "backends/sim/detail/streams.h"

namespace astensor::sim_detail {

namespace {
thread_local OpClock* t_clock = nullptr;  // set by SimStream::run around each operation
}  // namespace

OpClock* current_op_clock() { return t_clock; }

SimStream::SimStream(int device) : device_(device), worker_([this] { run(); }) {}

SimStream::~SimStream() {
  {
    std::lock_guard<std::mutex> g(m_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void SimStream::enqueue(std::function<void()> op) {
  {
    std::lock_guard<std::mutex> g(m_);
    q_.push_back(Item{std::move(op), std::chrono::steady_clock::now(), false});
    idle_.store(false, std::memory_order_relaxed);
    queued_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

void SimStream::mark(std::function<void()> mark) {
  {
    std::lock_guard<std::mutex> g(m_);
    if (q_.empty() && !running_) {
      mark();
      return;
    }
    q_.push_back(Item{std::move(mark), std::chrono::steady_clock::now(), true});
    idle_.store(false, std::memory_order_relaxed);
    queued_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

std::unique_lock<std::mutex> SimStream::lock_when_idle() {
  spin_until([&] { return idle_.load(std::memory_order_acquire); });  // Note [sim's spinning waits]
  std::unique_lock<std::mutex> l(m_);
  idle_cv_.wait(l, [&] { return q_.empty() && !running_; });
  return l;
}

void SimStream::synchronize() {
  std::unique_lock<std::mutex> l = lock_when_idle();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void SimStream::wait_idle() { lock_when_idle(); }

void SimStream::run() {
  std::unique_lock<std::mutex> l(m_);
  for (;;) {
    if (q_.empty() && !stop_) {
      const uint64_t seen = queued_.load(std::memory_order_relaxed);
      l.unlock();
      spin_until([&] { return queued_.load(std::memory_order_acquire) != seen; });
      l.lock();
    }
    cv_.wait(l, [&] { return stop_ || !q_.empty(); });
    if (q_.empty()) return;  // stop_ with nothing left
    Item item = std::move(q_.front());
    q_.pop_front();
    running_ = true;
    l.unlock();
    maybe_delay();
    // Note [sim's modelled clock]: the operation starts when it was queued or when the previous
    // one ended, in modelled time; end_ is the worker's alone.
    OpClock clock{std::max(item.queued, end_), {}, false};
    t_clock = &clock;
    std::exception_ptr err;
    try {
      item.op();
    } catch (...) {
      err = std::current_exception();
    }
    t_clock = nullptr;
    if (clock.modelled)
      end_ = clock.end;
    else if (!item.instant)
      end_ = std::chrono::steady_clock::now();
    item.op = nullptr;
    l.lock();
    if (err && !error_) error_ = err;
    running_ = false;
    if (q_.empty()) {
      idle_.store(true, std::memory_order_release);
      idle_cv_.notify_all();
    }
  }
}

}  // namespace astensor::sim_detail
