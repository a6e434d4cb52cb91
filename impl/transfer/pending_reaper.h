#pragma once
/// Note [Reaping finished non-blocking work] (issue 15, XFER-4)
/// A non-blocking conversion's Pending holds what its queued work still uses: the pinned
/// staging slots, the device scratch of a device cast, a pinned source's owner. Pending drops
/// them when someone asks (is_ready(), synchronize(), a read) or when the result dies. A data
/// loader does neither: it keeps batch i alive while the GPU computes on it and never asks.
/// Without more, every batch leased fresh pinned slots while the earlier batches' slots,
/// long copied, stayed leased: the pool's leased bytes grew by a ring per batch (384 MiB over
/// 32 batches of 16 MiB), and on CUDA each miss is a cudaHostAlloc of milliseconds.
///
/// So every Pending an executor makes is tracked here (weakly: tracking keeps nothing alive),
/// and the pinned pool reaps before it allocates: a miss first asks each tracked Pending
/// ready() (one event query each, never a wait), which drops the resources of those whose work
/// has completed, their slots back into the pool's free lists. The pool also bounds what it
/// leases (PinnedPool::acquire): over its bound, it waits for the oldest tracked Pending still
/// holding resources before it pins more, so pinned memory stays bounded however far a
/// caller runs ahead of the device, and only the part that does not fit waits (XFER-4).
/// This is torch's CachingHostAllocator's idea (blocks come back when their events have
/// completed, polled on allocation), on the Pendings the executors already make.

#include <cstddef>
#include <memory>

#include "core/pending.h"

namespace astensor::transfer {

/// Tracks `p` until it is ready or gone (a weak reference).
void track_pending(const std::shared_ptr<Pending>& p);

/// Asks every tracked Pending ready(): those whose work completed drop what they hold, and
/// leave the list with the ones that are gone. Never blocks on the device; never throws (a
/// failure of queued work stays for the Pending's own wait to report). Returns how many are
/// still tracked.
std::size_t reap_pending() noexcept;

/// Waits for the oldest tracked Pending (call reap_pending() first, so that it is one still in
/// flight; one already ready returns at once), then reaps. False when nothing is tracked. Never
/// throws: a Pending whose work failed stops being tracked, keeps what it holds, and reports
/// the failure through its own result.
bool wait_oldest_pending() noexcept;

}  // namespace astensor::transfer
