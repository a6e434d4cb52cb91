#pragma once
/// The transfer pipeline's tunables (staging chunk, slots, host threads, cast placement,
/// small-copy threshold, chunk ramp): their defaults, the environment variables that override them, and
/// how explain() names them. The planner (planner.cpp) reads them; a Plan keeps the ones it was
/// made with (TransferSteps::options).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/device.h"
#include "impl/cast_site.h"

namespace astensor::transfer {

/// The transfer pipeline's tunables. The defaults below are the one place they are set;
/// as_tensor uses default_options(), i.e. these with the environment's overrides.
struct TransferOptions {
  /// Bytes per staging slot (perf-anchors §2.4: 4-8 MiB; smaller costs per-chunk overhead).
  /// Environment: ASTENSOR_STAGING_CHUNK ("4MiB", "1048576", ...).
  std::size_t chunk_bytes = std::size_t(4) << 20;
  /// Slots in the ring (2-4). Environment: ASTENSOR_STAGING_SLOTS.
  int slots = 3;
  /// At most this many host threads fill or drain a slot; 0: staging_host_threads() (the CPU
  /// copies' rule per chunk, impl/cpu threads_for, capped on sim; Note [OpenMP and fork]).
  /// Environment: ASTENSOR_STAGING_THREADS.
  int host_threads = 0;
  /// Overrides the cast placement rule (tests and benchmarks compare both placements).
  /// Environment: ASTENSOR_CAST_SITE = auto (the rule), host or device.
  std::optional<impl::CastSite> force_cast_site;
  /// Staged transfers of at most this many bytes over the link (and no more than one chunk)
  /// take the small-copy path: one pinned slot, everything on one stream, no ring events, no
  /// cast stream, one host thread; 0 turns it off. Environment: ASTENSOR_SMALL_COPY.
  std::size_t small_copy_bytes = std::size_t(1) << 20;
  /// The first and the last chunk of a staged transfer (Note [Ramped chunks] in planner.cpp):
  /// the chunks grow from this size to chunk_bytes, doubling, and shrink back the same way at
  /// the end, so the link starts after a small fill and the last stage after the last fill is
  /// short. Blocking transfers only (a non-blocking one keeps its whole ring in flight at
  /// return). 0, or not below chunk_bytes, turns it off (all chunks chunk_bytes).
  /// Environment: ASTENSOR_STAGING_RAMP.
  std::size_t ramp_bytes = std::size_t(512) << 10;
};

/// The options as_tensor runs transfers with: TransferOptions{} with the overrides of the
/// environment variables named above, read once, on first use. A variable that does not parse
/// or is out of range is a ValueError naming it and its value (raised by every transfer until
/// it is fixed: a silently ignored setting would mislead a tuning run).
const TransferOptions& default_options();
/// The tunables as one line for explain(): "chunk 4 MiB, slots 3, host threads auto, cast site
/// auto, small copy 1 MiB, ramp 512 KiB", each value read from the environment followed by
/// "(env)".
std::string options_str(const TransferOptions& options);

/// The most host threads a transfer to or from `device_type` fills or drains a staging slot
/// with: options.host_threads when set; else all the CPU copies may use (impl/cpu
/// max_threads), minus one on sim, whose copy engine is a host thread (Note [Staging threads
/// on sim] in README.md). Each chunk may use fewer (impl/cpu threads_for).
int staging_host_threads(DeviceType device_type, const TransferOptions& options = default_options());

/// Bytes for explain(): "40 B", "3.9 KiB", "4 MiB" (powers of 1024, one decimal unless whole).
std::string human_bytes(uint64_t bytes);

}  // namespace astensor::transfer
