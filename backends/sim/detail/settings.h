#pragma once
/// Internal to backends/sim (not the public sim.h): what the other sim files use of sim's
/// settings. The settings themselves, the random-delay mode (ASTENSOR_SIM_DELAY_US) and each
/// device's memory capacity (ASTENSOR_SIM_DEVICE_MEMORY), and their sim:: functions are in
/// settings.cpp.

namespace astensor::sim_detail {

/// Turns the random-delay mode on from ASTENSOR_SIM_DELAY_US ("max" or "min,max"
/// microseconds); does nothing when it is unset or empty. The backend calls it when it is made.
void delays_from_env();
/// Sleeps a uniform random time in the random-delay range (sim::set_random_delays); returns at
/// once while the mode is off. A stream's worker calls it before each queued operation.
void maybe_delay();

}  // namespace astensor::sim_detail
