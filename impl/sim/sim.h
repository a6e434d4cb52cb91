#pragma once
/// Knobs of the simulated accelerator (DESIGN.md "The simulated accelerator", SPEC DEV-4)
/// beyond the Backend interface. Everything else goes through backend(DeviceType::Sim).

#include <cstddef>

namespace astensor::sim {

inline constexpr int kDeviceCount = 2;

/// Random-delay mode: every queued operation sleeps a uniform random time in
/// [min_us, max_us] microseconds before it runs, so that a missing wait corrupts data
/// instead of passing by luck. Off (0, 0) by default; the environment variable
/// ASTENSOR_SIM_DELAY_US="max" or "min,max" turns it on at start-up.
void set_random_delays(unsigned min_us, unsigned max_us);
void get_random_delays(unsigned* min_us, unsigned* max_us);

/// RAII: random delays for a scope, restoring the previous setting.
class ScopedDelays {
 public:
  ScopedDelays(unsigned min_us, unsigned max_us) {
    get_random_delays(&min_, &max_);
    set_random_delays(min_us, max_us);
  }
  ~ScopedDelays() { set_random_delays(min_, max_); }
  ScopedDelays(const ScopedDelays&) = delete;
  ScopedDelays& operator=(const ScopedDelays&) = delete;

 private:
  unsigned min_ = 0, max_ = 0;
};

/// Live sim allocations (device and pinned), for leak checks.
std::size_t live_allocations();

}  // namespace astensor::sim
