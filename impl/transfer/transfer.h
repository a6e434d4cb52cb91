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
/// (ArrayView::stream, CAI-3 / DLP-2) is waited on before the source is read. The plan is
/// impl::Plan (its transfer section, TransferSteps); the files are listed in README.md.

#include <cstdint>
#include <vector>

#include "core/array_view.h"
#include "core/backend.h"
#include "core/tensor.h"
#include "impl/plan.h"
#include "impl/transfer/options.h"

namespace astensor::transfer {

/// Plans a transfer into `p` (impl::Plan: decision Transfer, p.transfer, cast_site, layout,
/// copy kind, host bytes, links; README.md "Plan rules"). `p` already holds the source and
/// result fields: src_dtype, dtype, src_device, device (resolved), shape, strides (TEN-3),
/// byteswap. impl's plan_copy calls it with default_options(). Raises ValueError for a host
/// to host copy (not a transfer) and for options out of range.
void plan_transfer(impl::Plan& p, const ArrayView& src, const TransferOptions& options);

/// The chunks of a staged transfer of `numel` elements (Note [Ramped chunks] in planner.cpp):
/// chunk c is [bounds[c], bounds[c + 1]); none is larger than chunk_elems. ramp_elems = 0: all
/// chunk_elems but the last; else the chunks double from ramp_elems up to chunk_elems and halve
/// back down to it at the end.
std::vector<int64_t> chunk_bounds(int64_t numel, int64_t chunk_elems, int64_t ramp_elems);

/// The chunks a staged plan's executor walks, in order: chunk_bounds of its TransferSteps (on
/// the small-copy path one chunk in one slot). Chunk c is the elements
/// [start(c), start(c) + size(c)) and goes through ring slot slot(c). The executors, the
/// benchmarks' staging bound and the tests take the chunks from here.
class StagingChunks {
 public:
  StagingChunks(int64_t numel, const impl::TransferSteps& steps);
  int64_t count() const { return static_cast<int64_t>(bounds_.size()) - 1; }
  int64_t start(int64_t c) const { return bounds_[static_cast<std::size_t>(c)]; }
  int64_t size(int64_t c) const { return bounds_[static_cast<std::size_t>(c) + 1] - start(c); }
  int slots() const { return slots_; }
  int slot(int64_t c) const { return static_cast<int>(c % slots_); }
  int64_t largest() const;  ///< elements of the largest chunk (0 with none)

 private:
  std::vector<int64_t> bounds_;
  int slots_ = 1;
};

/// The plan of transfer(src, dtype, device) without running it (tests and benchmarks assert
/// it; str() prints it, transfer_str() its "transfer:" line). `device` is resolved
/// (DEV-2/DEV-3); src is validated.
impl::Plan describe_transfer(const ArrayView& src, DType dtype, Device device,
                             const TransferOptions& options = default_options());

/// Executes a plan with a transfer section (plan_transfer / describe_transfer for the same
/// source), following it (impl::execute: no decision is taken again), with the options it was
/// made with. Different backends (via_host) run as to_host then to_device.
Tensor run_transfer(const ArrayView& src, const impl::Plan& plan);

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

/// Runs only the host side of a staged host -> device plan (describe_transfer of a pageable
/// host source): fills the ring's pinned slots chunk by chunk with the same code, threads and
/// slot sizes as run_transfer (gather + byteswap + host cast fused), but queues no copy and
/// allocates no device memory, so benchmarks can hold the fill against host memcpy.
/// ValueError when the plan is not staged host -> device.
void stage_host_side(const ArrayView& src, const impl::Plan& plan);

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
