#include "core/pending.h"

#include <utility>

namespace astensor {

Pending::Pending(Backend& be, int device, StreamHandle stream)
    : be_(be), device_(device), stream_(stream) {
  event_ = be_.create_event(device_);
  try {
    be_.record_event(event_, stream_);
  } catch (...) {
    be_.destroy_event(event_);
    throw;
  }
}

Pending::~Pending() {
  if (!done_.load(std::memory_order_acquire)) {
    try {
      be_.synchronize_event(event_);
    } catch (...) {
      // A failure of the queued work, and no caller left to tell: the resources are dropped
      // all the same, since the work that used them has ended (in failure).
    }
  }
  held_.clear();
  be_.destroy_event(event_);
}

std::vector<std::shared_ptr<void>> Pending::complete_locked() {
  done_.store(true, std::memory_order_release);
  return std::exchange(held_, {});
}

void Pending::hold(std::shared_ptr<void> resource) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!done_.load(std::memory_order_relaxed)) held_.push_back(std::move(resource));
}

bool Pending::ready() {
  if (done_.load(std::memory_order_acquire)) return true;
  if (!be_.query_event(event_)) return false;
  std::vector<std::shared_ptr<void>> dropped;  // released after the lock (see complete_locked)
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped = complete_locked();
  }
  return true;
}

void Pending::wait() {
  if (done_.load(std::memory_order_acquire)) return;
  be_.synchronize_event(event_);  // rethrows a failure of the queued work
  std::vector<std::shared_ptr<void>> dropped;  // released after the lock (see complete_locked)
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped = complete_locked();
  }
}

void Pending::order_before(StreamHandle consumer) {
  if (!done_.load(std::memory_order_acquire)) be_.stream_wait_event(consumer, event_);
}

}  // namespace astensor
