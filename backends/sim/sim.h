#pragma once
/// Knobs of the simulated accelerator (DESIGN.md "The simulated accelerator", SPEC DEV-4)
/// beyond the Backend interface. Everything else goes through backend(DeviceType::Sim).

#include <cstddef>
#include <cstdint>
#include <string_view>

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
/// CUDA] in detail/streams.h): 1 is the device's "legacy default stream", 2 its "per-thread
/// default stream". Both are sim streams of their own, distinct from the library's default
/// and current streams, which do not wait for them implicitly (CUDA's non-blocking streams
/// don't). Tests queue a producer's work on them; they are never destroyed. ValueError for
/// any other id, RuntimeError for a device that does not exist.
StreamHandle external_stream(int device, intptr_t id);

/// Test helpers: a producer's pending work on a sim stream. enqueue_sleep queues a pause of
/// `microseconds` (a modelled kernel: exact to a few us, the last ~150 us spun); enqueue_fill
/// queues a "kernel" that writes `pattern` (pattern_bytes long, copied now) over
/// [dst, dst + nbytes) of device memory of the stream's device, repeated (nbytes must be a
/// multiple of pattern_bytes). RuntimeError for a dead stream or memory
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

namespace astensor::sim {

// --- the link model (issue 12) -----------------------------------------------------------------

/// The kinds of link a sim copy can cross. Host copies are "pinned" when the host side is
/// sim-pinned memory (allocate_pinned or register_host), else "pageable" (the driver's slow
/// path on a real GPU: it stages pageable copies itself).
enum class LinkKind : int { H2DPinned = 0, D2HPinned, H2DPageable, D2HPageable, D2D, Peer };
inline constexpr int kNumLinkKinds = 6;
/// "h2d_pinned", "d2h_pinned", "h2d_pageable", "d2h_pageable", "d2d", "peer": the names
/// ASTENSOR_SIM_LINK uses.
const char* link_kind_name(LinkKind k);

/// Modelled time of sim copies (Note [the sim link model] in detail/link_model.h). When enabled,
/// a copy of n bytes over a link of kind k holds its stream and its device's copy engine
/// until latency_us[k] + n / bandwidth[k] has passed since it started on that engine: the
/// real memcpy runs first (correctness), then the copy waits out the rest, so the modelled
/// time is a floor (a memcpy slower than the model shows its own time).
/// Copy engines per device: with 1, every copy of the device takes turns on one engine; with
/// 2, host-to-device copies use one and every other kind (D2H, D2D, peer) the other, so H2D
/// and D2H overlap as on real GPUs while copies in the same direction serialize, even from
/// different streams. copy_sync is modelled too (on the engines of the device it involves).
/// Kernels (launch_cast) are not modelled: they cost what the host cast costs.
/// Disabled by default: copies then cost what memcpy costs.
struct LinkModel {
  bool enabled = false;
  /// Bytes per second, per LinkKind. The defaults are the H200 of issue 12 (PCIe Gen5 x16):
  /// pinned 55 GB/s both ways; the driver's pageable copies at 0.16 (H2D) and 0.33 (D2H) of
  /// it; D2D (HBM3e, read + write) and peer as guesses.
  double bandwidth[kNumLinkKinds] = {55e9, 55e9, 8.8e9, 18e9, 2000e9, 50e9};
  /// Per-operation latency in microseconds, per LinkKind.
  double latency_us[kNumLinkKinds] = {5, 5, 10, 10, 5, 10};
  int engines = 2;  ///< copy engines per device: 1 or 2
  /// Bytes per second at which new pinned host memory is made (allocate_pinned): CUDA's
  /// cudaHostAlloc costs about 0.5 s per GiB, so a pinned block made per call, instead of
  /// reused, must cost on sim what it costs there.
  double pin_bytes_per_s = 2.15e9;

  double bytes_per_s(LinkKind k) const { return bandwidth[static_cast<int>(k)]; }
  /// The modelled seconds of one copy of `bytes` over `k`: latency + bytes / bandwidth.
  double seconds(LinkKind k, double bytes) const {
    return latency_us[static_cast<int>(k)] * 1e-6 + bytes / bandwidth[static_cast<int>(k)];
  }
};

/// Parses the ASTENSOR_SIM_LINK syntax into a model, starting from LinkModel{} (the
/// defaults). `text` is "off", "on", or comma-separated key=value items applied left to right
/// (any item turns the model on):
///   <kind>=<bandwidth>          kind: h2d_pinned d2h_pinned h2d_pageable d2h_pageable d2d peer
///   pinned=<bandwidth>          both pinned kinds;  pageable=<bandwidth>: both pageable kinds
///   <kind>_latency=<time>       one kind's latency; latency=<time>: every kind's
///   engines=1|2
///   pin=<bandwidth>             how fast new pinned host memory is made (default 2.15GB/s)
///   bandwidth: a positive number with B/s, KB/s, MB/s, GB/s, TB/s (powers of 1000) or KiB/s,
///              MiB/s, GiB/s (powers of 1024), e.g. 55GB/s, 4.5GiB/s
///   time:      a number >= 0 with ns, us or ms, e.g. 5us, 0us, 1.5ms
/// e.g. "h2d_pinned=4GB/s,d2h_pinned=4GB/s,latency=5us,engines=2". ValueError naming `what`
/// (the variable, for the environment), the item and the value for anything else: an unknown
/// key, a missing unit, a number that does not parse, is not finite, or is out of range, an
/// empty item, a repeated "=".
LinkModel parse_link_model(std::string_view text, std::string_view what = "ASTENSOR_SIM_LINK");

/// The model sim copies use now. At start-up it is parse_link_model($ASTENSOR_SIM_LINK) when
/// that is set (else disabled); a bad value makes this and every sim copy throw the
/// ValueError until set_link_model() replaces it. A copy takes the model in force when it is
/// queued (copy_async) or run (copy_sync).
LinkModel link_model();
/// Replaces the model. ValueError for a bandwidth (or pin rate) that is not finite and > 0, a
/// latency that is not finite and >= 0, or engines other than 1 or 2.
void set_link_model(const LinkModel& model);

/// RAII: a link model for a scope, restoring the previous one.
class ScopedLinkModel {
 public:
  explicit ScopedLinkModel(const LinkModel& model) : old_(link_model()) { set_link_model(model); }
  ~ScopedLinkModel() { set_link_model(old_); }
  ScopedLinkModel(const ScopedLinkModel&) = delete;
  ScopedLinkModel& operator=(const ScopedLinkModel&) = delete;

 private:
  LinkModel old_;
};

}  // namespace astensor::sim
