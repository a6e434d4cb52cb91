#pragma once
/// The optimized transfer path of DESIGN.md, written once against the Backend interface
/// (it runs unchanged on sim and CUDA):
///   - host -> device: already-pinned dense sources go in one async copy; pageable ones go
///     through a ring of pinned staging slots (a few MiB each, from the caching pool) that
///     host threads fill, gathering strided sources and fusing byteswaps and narrowing casts
///     in, while the stream drains the previous slot; events guard each slot's reuse;
///   - cast placement by bytes over the link: widening casts (uint8 -> float32) cross in the
///     narrow type and run on the device; narrowing casts run on the host while staging;
///   - device -> host mirrors it; device -> device and cross-device copies use kernels and
///     peer copies.
/// Every function is blocking (XFER-1) and gives the TEN-3 layout and the DT-3 values of
/// the reference's copy_plain bit for bit (XFER-2, XFER-3). A source's producer stream
/// (ArrayView::stream, CAI-3 / DLP-2) is waited on before the source is read.

#include <cstdint>
#include <optional>
#include <string>

#include "core/array_view.h"
#include "core/backend.h"
#include "core/tensor.h"
#include "impl/cpu/copy.h"

namespace astensor::transfer {

/// Where the DT-3 cast runs.
enum class CastSite : uint8_t { None, Host, Device };
const char* cast_site_name(CastSite s);  // "none", "host", "device"

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
  std::optional<CastSite> force_cast_site;
  /// Staged transfers of at most this many bytes over the link (and no more than one chunk)
  /// take the small-copy path: one pinned slot, everything on one stream, no ring events, no
  /// cast stream, one host thread; 0 turns it off. Environment: ASTENSOR_SMALL_COPY.
  std::size_t small_copy_bytes = std::size_t(1) << 20;
};

/// The options as_tensor runs transfers with: TransferOptions{} with the overrides of the
/// environment variables named above, read once, on first use. A variable that does not parse
/// or is out of range is a ValueError naming it and its value (raised by every transfer until
/// it is fixed: a silently ignored setting would mislead a tuning run).
const TransferOptions& default_options();
/// The tunables as one line for explain(): "chunk 4 MiB, slots 3, host threads auto, cast site
/// auto, small copy 1 MiB", each value read from the environment followed by "(env)".
std::string options_str(const TransferOptions& options);

/// What a transfer will do (COPY-2's explain() prints it; tests assert it).
struct TransferPlan {
  Device src_device;
  Device dst_device;
  DType src_dtype = DType::float32;
  DType link_dtype = DType::float32;  ///< the dtype of the bytes crossing the link
  DType dst_dtype = DType::float32;
  Link link = Link::H2D;
  CastSite cast_site = CastSite::None;
  bool direct = false;    ///< one async copy from the source memory itself (pinned or device)
  bool staged = false;    ///< through the pinned staging ring
  bool gather = false;    ///< the source is not dense in the result's memory order
  bool byteswap = false;  ///< non-native byte order, swapped on the host
  bool via_host = false;  ///< routed device -> host -> device (different backends)
  int64_t numel = 0;
  uint64_t link_bytes = 0;   ///< bytes over the link
  uint64_t chunk_bytes = 0;  ///< bytes per staging chunk (staged only)
  int64_t chunks = 0;
  int slots = 0;
  Dims result_strides;       ///< TEN-3, in elements
  /// The source in the result's memory order (impl/cpu collapse): the host staging fill
  /// runs it chunk by chunk (impl/cpu run_copy_range), device kernels index it.
  impl::cpu::CopyLayout layout;
  int64_t chunk_elems = 0;   ///< elements per staging chunk (staged only)
  int host_threads = 0;      ///< most host threads per staging chunk (staged only)
  bool small = false;        ///< the small-copy path (staged, one chunk, one stream)
  std::string reason;
  TransferOptions options;   ///< what the plan was made with; str() names them (options_str)

  /// One line, e.g. "h2d staged (3 slots x 4 MiB, 2 chunks): float64 -> float32 cast on the
  /// host; 8 MiB over h2d; narrowing cast: cast on the host while staging".
  std::string str() const;
};

/// The plan of transfer(src, dtype, device) without running it. `device` is resolved
/// (DEV-2/DEV-3); src is validated.
TransferPlan describe_transfer(const ArrayView& src, DType dtype, Device device,
                               const TransferOptions& options = default_options());

/// Executes a plan made by describe_transfer(src, ...) for the same source, following it
/// (impl::execute: no decision is taken again). Different backends (via_host) run as
/// to_host then to_device.
Tensor run_transfer(const ArrayView& src, const TransferPlan& plan, const TransferOptions& options = default_options());

/// What the staging pipeline did since the last reset (all threads): how many transfers and
/// which path, and where the host's time went. Tests assert the path taken; the bench reports
/// the time split per case. Times are host wall time in nanoseconds.
struct StageCounters {
  uint64_t transfers = 0;         ///< staged transfers (either direction)
  uint64_t small_transfers = 0;   ///< of which on the small-copy path
  uint64_t chunks = 0;            ///< staging chunks filled or drained
  uint64_t host_stage_ns = 0;     ///< filling / draining pinned slots (gather, cast, byteswap)
  uint64_t host_stage_bytes = 0;  ///< bytes written into / read out of pinned slots
  uint64_t wait_ns = 0;           ///< blocked on a slot's reuse or the final synchronize
};
StageCounters stage_counters();
void reset_stage_counters();

/// The most host threads a transfer to or from `device_type` fills or drains a staging slot
/// with: options.host_threads when set; else all the CPU copies may use (impl/cpu
/// max_threads), minus one on sim, whose copy engine is a host thread (Note [Staging threads
/// on sim] in README.md). Each chunk may use fewer (impl/cpu threads_for).
int staging_host_threads(DeviceType device_type, const TransferOptions& options = default_options());

/// Runs only the host side of a staged host -> device plan (describe_transfer of a pageable
/// host source): fills the ring's pinned slots chunk by chunk with the same code, threads and
/// slot sizes as run_transfer (gather + byteswap + host cast fused), but queues no copy and
/// allocates no device memory, so benchmarks can hold the fill against host memcpy.
/// ValueError when the plan is not staged host -> device.
void stage_host_side(const ArrayView& src, const TransferPlan& plan, const TransferOptions& options = default_options());

/// Host source -> a new tensor of `dtype` on accelerator `device`.
Tensor to_device(const ArrayView& host_src, DType dtype, Device device,
                 const TransferOptions& options = default_options());
/// Device source -> a new host tensor of `dtype`.
Tensor to_host(const ArrayView& device_src, DType dtype, const TransferOptions& options = default_options());
/// Device source -> a new tensor of `dtype` on `device` (same device: a kernel or one copy;
/// another device of the same backend: peer copy; another backend: through the host).
Tensor device_to_device(const ArrayView& device_src, DType dtype, Device device,
                        const TransferOptions& options = default_options());
/// Any of the three, chosen by the devices (host -> host is refused: not a transfer).
Tensor transfer(const ArrayView& src, DType dtype, Device device,
                const TransferOptions& options = default_options());

}  // namespace astensor::transfer
