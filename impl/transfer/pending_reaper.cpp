// Note [Reaping finished non-blocking work] in pending_reaper.h.

#include "impl/transfer/pending_reaper.h"

#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace astensor::transfer {

namespace {

struct Tracked {
  std::mutex m;
  std::deque<std::weak_ptr<Pending>> list;  // oldest first
};

Tracked& tracked() {
  static Tracked* t = new Tracked();  // never destroyed: results may die during exit
  return *t;
}

/// Takes the whole list (the lock is not held while the backend is asked anything: ready()
/// takes the Pending's own lock and queries an event).
std::deque<std::weak_ptr<Pending>> take_all() {
  Tracked& t = tracked();
  std::lock_guard<std::mutex> g(t.m);
  return std::exchange(t.list, {});
}

/// Puts `kept` (oldest first) back ahead of whatever was tracked meanwhile; returns the size.
std::size_t put_back(std::deque<std::weak_ptr<Pending>>&& kept) {
  Tracked& t = tracked();
  std::lock_guard<std::mutex> g(t.m);
  for (auto& w : t.list) kept.push_back(std::move(w));
  t.list = std::move(kept);
  return t.list.size();
}

bool ready_or_failed(Pending& p) noexcept {
  try {
    return p.ready();
  } catch (...) {
    return false;  // the event query failed: leave it to the Pending's own wait to report
  }
}

}  // namespace

void track_pending(const std::shared_ptr<Pending>& p) {
  if (!p) return;
  Tracked& t = tracked();
  std::lock_guard<std::mutex> g(t.m);
  t.list.push_back(p);
}

std::size_t reap_pending() noexcept {
  std::deque<std::weak_ptr<Pending>> all = take_all();
  std::deque<std::weak_ptr<Pending>> kept;
  for (auto& w : all) {
    std::shared_ptr<Pending> p = w.lock();
    if (p && !ready_or_failed(*p)) kept.push_back(std::move(w));
    // When the result died since lock(), p is the last reference and ~Pending waits here for
    // work that was not ready (a rare race: the result's destructor would have waited instead).
  }
  return put_back(std::move(kept));
}

bool wait_oldest_pending() noexcept {
  std::shared_ptr<Pending> oldest;
  {
    Tracked& t = tracked();
    std::lock_guard<std::mutex> g(t.m);
    while (!t.list.empty() && !oldest) {  // taken off the list: it is waited for now, once
      oldest = t.list.front().lock();
      t.list.pop_front();
    }
  }
  if (!oldest) return false;
  try {
    oldest->wait();
  } catch (...) {
    // A failure of its queued work: it is no longer tracked (so no caller waits on it again),
    // and the result's own synchronize() or read reports the failure.
  }
  reap_pending();
  return true;
}

}  // namespace astensor::transfer
