#pragma once
/// Internal to backends/sim (not the public sim.h): the link model on the copy path (Note [the
/// sim link model] below): the model in force for a copy, the copy engines a modelled copy
/// holds, and which engine a copy takes. The model's state, the ASTENSOR_SIM_LINK parser and
/// the link-model functions of sim.h are in link_model.cpp.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "backends/sim/detail/streams.h"
#include "backends/sim/sim.h"

namespace astensor::sim_detail {

// Note [the sim link model] (issue 12): sim's copies are host memcpys, as fast or as slow as
// this machine's memory, so a transfer pipeline tuned on sim alone would be tuned to the wrong
// link. With the model on (sim::LinkModel, ASTENSOR_SIM_LINK), each copy also costs modelled
// time: it takes a copy engine of its device (waiting while another copy holds it, as copies
// in one direction serialize on a real GPU even from different streams), runs the real memcpy,
// then keeps the engine (and its stream) until latency + bytes / bandwidth has passed since the
// copy's modelled start: when its stream reached it or the engine's previous copy ended, in
// modelled time (Note [sim's modelled clock] in streams.h), so a worker thread that wakes late
// catches up instead of slowing the link. The modelled time is therefore a floor, never added
// to the memcpy: a memcpy slower than the model shows its own time. The last ~150 us of the
// wait spin (with yields) instead of sleeping, so a sleep's wake-up lag (tens of us) does not
// inflate short copies. Making pinned host memory (allocate_pinned) costs bytes /
// pin_bytes_per_s too, as cudaHostAlloc does, so a pipeline that pins per call instead of
// reusing shows it on sim.

/// The model in force for a copy; nullopt when disabled (the fast path: one atomic load).
/// ValueError while ASTENSOR_SIM_LINK is bad.
std::optional<sim::LinkModel> active_link_model();

/// Returns at `end`, give or take a few microseconds: sleeps until ~150 us before it, then
/// spins with yields, since a sleep's wake-up lag (tens of us) would inflate short modelled
/// times. The modelled copies and the modelled kernels (sim::enqueue_sleep) wait with it.
inline void wait_until(std::chrono::steady_clock::time_point end) {
  constexpr auto kSpin = std::chrono::microseconds(150);
  if (std::chrono::steady_clock::now() + kSpin < end) std::this_thread::sleep_until(end - kSpin);
  while (std::chrono::steady_clock::now() < end) std::this_thread::yield();
}

/// One copy engine: at most one modelled copy holds it at a time.
class CopyEngine {
 public:
  /// Runs `copy` holding the engine, and keeps holding it until `seconds` have passed since
  /// the copy's modelled start; returns the nanoseconds the copy held the engine in modelled
  /// time (end - start: the modelled time, or the memcpy's when longer).
  template <class F>
  uint64_t run(double seconds, F&& copy) {
    {
      std::unique_lock<std::mutex> l(m_);
      cv_.wait(l, [&] { return !busy_; });
      busy_ = true;
    }
    struct Release {
      CopyEngine* e;
      ~Release() {
        {
          std::lock_guard<std::mutex> g(e->m_);
          e->busy_ = false;
        }
        e->cv_.notify_one();
      }
    } release{this};
    // Note [sim's modelled clock]: the copy starts when its stream reached it in modelled time
    // or when the engine's last copy ended, whichever is later; it ends `seconds` after that, or
    // when the memcpy ends if that is later.
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = std::max(modelled_start(), free_at_);
    Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    copy();
    end = std::max(end, Clock::now());
    wait_until(end);
    free_at_ = end;  // under busy_: no other copy holds the engine
    set_modelled_end(end);
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool busy_ = false;
  std::chrono::steady_clock::time_point free_at_{};  // modelled end of the engine's last copy
};

/// The engine of `device` a copy of kind `k` takes (see sim::LinkModel: engine 0 carries H2D,
/// engine 1 everything else; with one engine, everything).
inline int engine_index(const sim::LinkModel& m, sim::LinkKind k) {
  if (m.engines == 1) return 0;
  return (k == sim::LinkKind::H2DPinned || k == sim::LinkKind::H2DPageable) ? 0 : 1;
}

}  // namespace astensor::sim_detail
