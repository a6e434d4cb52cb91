#pragma once
/// Knobs of the simulated accelerator (DESIGN.md "The simulated accelerator", SPEC DEV-4)
/// beyond the Backend interface. Everything else goes through backend(DeviceType::Sim).

#include <cstddef>
#include <cstdint>

#include "core/backend.h"

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

/// The sim stream that the protocol integer `id` names on `device` (Note [sim streams model
/// CUDA] in sim_backend.cpp): 1 is the device's "legacy default stream", 2 its "per-thread
/// default stream". Both are sim streams of their own, distinct from the library's default
/// and current streams, which do not wait for them implicitly (CUDA's non-blocking streams
/// don't). Tests queue a producer's work on them; they are never destroyed. ValueError for
/// any other id, RuntimeError for a device that does not exist.
StreamHandle external_stream(int device, intptr_t id);

/// Test helpers: a producer's pending work on a sim stream. enqueue_sleep queues a pause of
/// `microseconds`; enqueue_fill queues a "kernel" that writes `pattern` (pattern_bytes long,
/// copied now) over [dst, dst + nbytes) of device memory of the stream's device, repeated
/// (nbytes must be a multiple of pattern_bytes). RuntimeError for a dead stream or memory
/// that is not the stream's device's.
void enqueue_sleep(StreamHandle stream, unsigned microseconds);
void enqueue_fill(StreamHandle stream, void* dst, std::size_t nbytes, const void* pattern, std::size_t pattern_bytes);

/// Device memory of each sim device, in bytes (CUDA's out-of-memory): an allocation that
/// would take a device's live allocations past it throws RuntimeError, after sim's own
/// cache of freed mappings has been dropped. The environment variable
/// ASTENSOR_SIM_DEVICE_MEMORY (bytes, or with a K/M/G/T suffix: "4G") sets it at start-up;
/// the default is kDefaultDeviceMemory.
inline constexpr std::size_t kDefaultDeviceMemory = std::size_t(4) << 30;
std::size_t device_memory();
void set_device_memory(std::size_t bytes);
/// Bytes of device memory in use on a sim device: live allocations (whole pages) plus sim's
/// cache of freed mappings.
std::size_t device_memory_used(int device);

/// RAII: a device-memory capacity for a scope, restoring the previous one.
class ScopedDeviceMemory {
 public:
  explicit ScopedDeviceMemory(std::size_t bytes) : old_(device_memory()) { set_device_memory(bytes); }
  ~ScopedDeviceMemory() { set_device_memory(old_); }
  ScopedDeviceMemory(const ScopedDeviceMemory&) = delete;
  ScopedDeviceMemory& operator=(const ScopedDeviceMemory&) = delete;

 private:
  std::size_t old_;
};

}  // namespace astensor::sim
