// sim's settings other than the link model (sim.h): the random-delay mode (a missing wait
// then corrupts data instead of passing by luck; ASTENSOR_SIM_DELAY_US) and each device's
// memory capacity (sim::device_memory(), CUDA's out-of-memory; ASTENSOR_SIM_DEVICE_MEMORY),
// both read from the environment at start-up, with their sim:: functions.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "core/error.h"
#include "backends/sim/sim.h"
#include "backends/sim/detail/settings.h"

namespace astensor {

namespace {

/// Larger capacities are clamped, so page rounding below them cannot overflow.
constexpr std::size_t kMaxDeviceMemory = std::size_t(1) << 50;

// --- random delays ---------------------------------------------------------------------------

std::atomic<uint64_t> g_delays{0};  // (min << 32) | max, microseconds

}  // namespace

namespace sim_detail {

void delays_from_env() {
  const char* e = std::getenv("ASTENSOR_SIM_DELAY_US");
  if (!e || !*e) return;
  char* end = nullptr;
  unsigned long a = std::strtoul(e, &end, 10), b = a, lo = 0;
  if (end && *end == ',') {
    b = std::strtoul(end + 1, nullptr, 10);
    lo = a;
  }
  sim::set_random_delays(static_cast<unsigned>(lo), static_cast<unsigned>(b));
}

void maybe_delay() {
  const uint64_t d = g_delays.load(std::memory_order_relaxed);
  const unsigned lo = static_cast<unsigned>(d >> 32), hi = static_cast<unsigned>(d);
  if (hi == 0) return;
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<unsigned> dist(lo, std::max(lo, hi));
  std::this_thread::sleep_for(std::chrono::microseconds(dist(rng)));
}

}  // namespace sim_detail

namespace {

// --- device memory capacity ----------------------------------------------------------------------

std::size_t capacity_from_env() {
  const char* e = std::getenv("ASTENSOR_SIM_DEVICE_MEMORY");
  if (!e || !*e) return sim::kDefaultDeviceMemory;
  char* end = nullptr;
  unsigned long long v = std::strtoull(e, &end, 10);
  int shift = 0;
  switch (end ? *end : '\0') {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
  }
  if (end == e || v == 0 || v > (kMaxDeviceMemory >> shift)) {
    std::fprintf(stderr, "astensor: [sim] ASTENSOR_SIM_DEVICE_MEMORY='%s' is not a size in bytes "
                         "(e.g. 4294967296 or 4G); using the default\n", e);
    return sim::kDefaultDeviceMemory;
  }
  return static_cast<std::size_t>(v) << shift;
}

std::atomic<std::size_t>& capacity() {
  static std::atomic<std::size_t> c{capacity_from_env()};
  return c;
}

}  // namespace

namespace sim {

void set_random_delays(unsigned min_us, unsigned max_us) {
  g_delays.store((uint64_t(min_us) << 32) | max_us, std::memory_order_relaxed);
}
void get_random_delays(unsigned* min_us, unsigned* max_us) {
  const uint64_t d = g_delays.load(std::memory_order_relaxed);
  *min_us = static_cast<unsigned>(d >> 32);
  *max_us = static_cast<unsigned>(d);
}

std::size_t device_memory() { return capacity().load(std::memory_order_relaxed); }
void set_device_memory(std::size_t bytes) {
  ASTENSOR_CHECK_VALUE(bytes > 0, "[sim] set_device_memory: the capacity must be > 0 bytes");
  capacity().store(std::min(bytes, kMaxDeviceMemory), std::memory_order_relaxed);
}

}  // namespace sim

}  // namespace astensor
