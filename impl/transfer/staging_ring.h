#pragma once
/// The staging ring (internal to impl/transfer): pinned slots from the caching pool, the events
/// that guard each slot's reuse, the cast stream the device casts overlap on, the host side of
/// a chunk (fill or drain) and the stage counters that time it. The ring loops themselves are
/// the executors' (to_device.cpp fills slots and queues copies; to_host.cpp queues copies and
/// drains slots); the small-copy path uses one slot and no ring (Note [Small copies] in
/// to_device.cpp).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "impl/cpu/copy.h"
#include "impl/transfer/executors.h"
#include "impl/transfer/pinned_pool.h"

namespace astensor::transfer {

/// One slot of the staging ring: a pinned block and the event that says when the work
/// queued on it has finished.
struct Slot {
  PinnedLease host;
  Event done;       // on the copy stream, after the copy that reads or writes `host`
  Event cast_done;  // on the cast stream, after the kernel that used the device scratch slot
  bool used = false;
  bool cast_used = false;
};

std::vector<Slot> make_ring(Backend& be, int device, int slots, std::size_t slot_bytes, bool with_casts);

/// The stream the pipeline's device casts run on, so a chunk's kernel overlaps the next
/// chunk's copy (copy engine and SMs work at once). One per device, made once, never freed.
StreamHandle cast_stream(Backend& be, int device);

/// Waits until the slot's previous use has finished (the event guarding reuse), counted.
void wait_slot(Slot& s);

/// Host side of a staging chunk (fill or drain): the elements [first, last) of `layout`
/// (destination order) into `dst`, gather + byteswap + cast fused in one pass by the CPU
/// copy kernels (impl/cpu: runtime ISA dispatch, memcpy when nothing changes, OpenMP).
void host_chunk(const impl::cpu::CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
                DType to, int64_t first, int64_t last, int max_threads);

/// host_chunk, counted: one staging chunk's host side.
void staged_host_chunk(const impl::cpu::CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
                       DType to, int64_t first, int64_t last, int max_threads, std::size_t slot_bytes);

/// n dense elements (a pinned slot drained into the result).
impl::cpu::CopyLayout dense_layout(int64_t n, DType from);

/// Counts one staged transfer (StageCounters::transfers, small_transfers).
void count_transfer(bool small);

/// The final wait of a pipeline, counted.
void finish_counted(SyncGuard& g);

}  // namespace astensor::transfer
