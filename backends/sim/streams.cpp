// sim's streams (Note [sim streams model CUDA] in detail/streams.h): each SimStream's worker
// thread, which runs the queue in order, and the queueing, marking and waiting around it.

#include <exception>
#include <functional>
#include <mutex>
#include <utility>

#include "backends/sim/detail/settings.h"
#include "backends/sim/detail/streams.h"

namespace astensor::sim_detail {

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
    q_.push_back(std::move(op));
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
    q_.push_back(std::move(mark));
  }
  cv_.notify_all();
}

void SimStream::synchronize() {
  std::unique_lock<std::mutex> l(m_);
  idle_cv_.wait(l, [&] { return q_.empty() && !running_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void SimStream::wait_idle() {
  std::unique_lock<std::mutex> l(m_);
  idle_cv_.wait(l, [&] { return q_.empty() && !running_; });
}

void SimStream::run() {
  std::unique_lock<std::mutex> l(m_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !q_.empty(); });
    if (q_.empty()) return;  // stop_ with nothing left
    auto op = std::move(q_.front());
    q_.pop_front();
    running_ = true;
    l.unlock();
    maybe_delay();
    std::exception_ptr err;
    try {
      op();
    } catch (...) {
      err = std::current_exception();
    }
    op = nullptr;
    l.lock();
    if (err && !error_) error_ = err;
    running_ = false;
    if (q_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace astensor::sim_detail
