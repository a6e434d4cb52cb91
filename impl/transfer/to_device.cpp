// Host -> device: the executor of a host source's plan. A pinned dense source goes in one
// direct async copy; a staged one through the small-copy path (Note [Small copies]) or the
// staging ring (staging_ring.h), host threads filling the pinned slots (gather + byteswap +
// narrowing cast fused) while the stream drains the previous slot; a widening cast runs on the
// device, from a device scratch slot, on the cast stream.

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/trace.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/executors.h"
#include "impl/transfer/pinned_pool.h"
#include "impl/transfer/staging_ring.h"
#include "impl/transfer/transfer.h"

namespace astensor::transfer {

using impl::CastSite;

Tensor run_to_device(const ArrayView& src, const impl::Plan& p) {
  ASTENSOR_RANGE("to_device");
  const impl::TransferSteps& steps = *p.transfer;
  const int64_t numel = p.layout.numel;
  const Device dev = p.device;
  Backend& be = backend(dev.type);
  const std::size_t dst_itemsize = itemsize(p.dtype), link_itemsize = itemsize(steps.link_dtype);
  StreamHandle stream = work_stream(be, p, dev.index);
  // Device memory from the caching allocator (device_allocator.h), ready for work on the stream.
  auto out = allocate_device(static_cast<std::size_t>(numel) * dst_itemsize, dev, stream);
  if (numel == 0) return make_result(out, src, p);
  char* out_p = static_cast<char*>(out->data());

  if (steps.direct) {
    std::shared_ptr<Storage> scratch;
    SyncGuard guard(be, stream);
    Event source_read;  // non-blocking: the copy has read the (pinned) source
    if (p.non_blocking) source_read = Event(be, dev.index);
    if (p.cast_site == CastSite::Device) {
      scratch = allocate_device(static_cast<std::size_t>(numel) * link_itemsize, dev, stream);
      be.copy_async(scratch->data(), dev, src.data, Device::cpu(), static_cast<std::size_t>(numel) * link_itemsize,
                    stream);
      if (p.non_blocking) source_read.record(stream);
      be.launch_cast(dev.index, contiguous_kernel(scratch->data(), steps.link_dtype, out_p, p.dtype, numel), stream);
    } else {
      be.copy_async(out_p, dev, src.data, Device::cpu(), static_cast<std::size_t>(numel) * dst_itemsize, stream);
      if (p.non_blocking) source_read.record(stream);
    }
    if (!p.non_blocking) {
      guard.finish();
      return make_result(out, src, p);
    }
    // XFER-4: the pinned source is read in place, so the call waits for the copy (the source
    // may be written or freed at return), not for a device cast after it.
    out->set_pending(make_pending(be, dev.index, stream, {scratch}));
    guard.release();
    source_read.synchronize();
    return make_result(out, src, p);
  }

  count_transfer(steps.small);
  const bool device_cast = p.cast_site == CastSite::Device;
  if (steps.small) {
    // Note [Small copies]: one chunk needs no ring. One pinned slot from the pool, the copy
    // (and a device cast) queued on the stream alone, so no events and no cast stream; one host
    // thread fills it (a wake-up of the team costs more than the fill). The final synchronize
    // is the only wait.
    const std::size_t bytes = static_cast<std::size_t>(numel) * link_itemsize;
    PinnedLease host = pinned_pool(be.type()).acquire(bytes);
    std::shared_ptr<Storage> scratch;
    SyncGuard guard(be, stream);  // destroyed first: the queued work is done before host/scratch go
    staged_host_chunk(p.layout, src.data, src.dtype, steps.swap_bytes, host.data(), steps.link_dtype, 0, numel, 1,
                      bytes);
    ASTENSOR_RANGE("enqueue_h2d_small");
    if (device_cast) {
      scratch = allocate_device(bytes, dev, stream);
      be.copy_async(scratch->data(), dev, host.data(), Device::cpu(), bytes, stream);
      be.launch_cast(dev.index, contiguous_kernel(scratch->data(), steps.link_dtype, out_p, p.dtype, numel), stream);
    } else {
      be.copy_async(out_p, dev, host.data(), Device::cpu(), bytes, stream);
    }
    if (p.non_blocking) {  // XFER-4: the source is in the pinned slot; the slot is held until the copy ends
      auto pending = make_pending(be, dev.index, stream, {scratch});
      pending->hold(std::make_shared<PinnedLease>(std::move(host)));  // moved only once the event exists
      out->set_pending(std::move(pending));
      guard.release();
      return make_result(out, src, p);
    }
    finish_counted(guard);
    return make_result(out, src, p);
  }

  const int64_t chunk_elems = steps.chunk_elems;
  const StagingChunks chunks(numel, steps);  // Note [Ramped chunks]
  const int host_threads = steps.host_threads;
  std::shared_ptr<Storage> scratch;  // device-side slots for the device cast
  if (device_cast)
    scratch = allocate_device(static_cast<std::size_t>(steps.slots * chunk_elems) * link_itemsize, dev, stream);
  std::vector<Slot> ring =
      make_ring(be, dev.index, steps.slots, static_cast<std::size_t>(chunk_elems) * link_itemsize, device_cast);
  StreamHandle kernel_stream = device_cast ? cast_stream(be, dev.index) : nullptr;
  // Destroyed before the ring and scratch: they outlive the queued work.
  SyncGuard guard(be, stream);
  std::optional<SyncGuard> guard_kernels;
  if (device_cast) guard_kernels.emplace(be, kernel_stream);
  for (int64_t c = 0; c < chunks.count(); ++c) {
    Slot& slot = ring[static_cast<std::size_t>(chunks.slot(c))];
    const int64_t start = chunks.start(c), n = chunks.size(c);
    wait_slot(slot);  // the previous copy out of this pinned slot has finished
    {
      ASTENSOR_RANGE("stage_chunk");  // gather + byteswap + narrowing cast, fused
      staged_host_chunk(p.layout, src.data, src.dtype, steps.swap_bytes, slot.host.data(), steps.link_dtype, start,
                        start + n, host_threads, static_cast<std::size_t>(n) * link_itemsize);
    }
    ASTENSOR_RANGE("enqueue_h2d");
    if (device_cast) {
      char* device_slot =
          static_cast<char*>(scratch->data()) + chunks.slot(c) * chunk_elems * int64_t(link_itemsize);
      if (slot.cast_used) slot.cast_done.block(stream);  // the kernel reading this scratch slot is done
      be.copy_async(device_slot, dev, slot.host.data(), Device::cpu(), static_cast<std::size_t>(n) * link_itemsize,
                    stream);
      slot.done.record(stream);
      slot.done.block(kernel_stream);  // the kernel runs after its chunk has landed
      be.launch_cast(dev.index,
                     contiguous_kernel(device_slot, steps.link_dtype, out_p + start * int64_t(dst_itemsize), p.dtype, n),
                     kernel_stream);
      slot.cast_done.record(kernel_stream);
      slot.cast_used = true;
    } else {
      be.copy_async(out_p + start * int64_t(dst_itemsize), dev, slot.host.data(), Device::cpu(),
                    static_cast<std::size_t>(n) * link_itemsize, stream);
      slot.done.record(stream);
    }
    slot.used = true;
  }
  if (p.non_blocking) {
    // XFER-4: every chunk of the source is in a pinned slot. The result is ready when the last
    // copy and the last cast have run: the stream waits for the cast stream, and the Pending
    // on the stream holds the ring (its pinned slots and events) and the device slots.
    if (device_cast) {
      Event casts_done(be, dev.index);
      casts_done.record(kernel_stream);
      casts_done.block(stream);
    }
    auto pending = make_pending(be, dev.index, stream, {scratch});
    pending->hold(std::make_shared<std::vector<Slot>>(std::move(ring)));  // moved only once the event exists
    out->set_pending(std::move(pending));
    if (guard_kernels) guard_kernels->release();
    guard.release();
    return make_result(out, src, p);
  }
  if (guard_kernels) finish_counted(*guard_kernels);
  finish_counted(guard);
  return make_result(out, src, p);
}

void stage_host_side(const ArrayView& src, const impl::Plan& p) {
  ASTENSOR_CHECK_VALUE(p.transfer && p.transfer->staged && p.src_device.is_cpu() && !p.device.is_cpu(),
                       "[transfer] stage_host_side needs a staged host -> device plan, got: ", p.str());
  ASTENSOR_RANGE("stage_host_side");
  const impl::TransferSteps& steps = *p.transfer;
  const int64_t numel = p.layout.numel;
  Backend& be = backend(p.device.type);
  const StagingChunks chunks(numel, steps);  // Note [Ramped chunks]
  const int host_threads = staging_host_threads(p.device.type, steps.options);
  std::vector<Slot> ring = make_ring(be, p.device.index, steps.slots,
                                     static_cast<std::size_t>(steps.chunk_elems) * itemsize(steps.link_dtype), false);
  for (int64_t c = 0; c < chunks.count(); ++c) {  // run_to_device's loop, without the copies
    Slot& slot = ring[static_cast<std::size_t>(chunks.slot(c))];
    const int64_t start = chunks.start(c), n = chunks.size(c);
    host_chunk(p.layout, src.data, src.dtype, steps.swap_bytes, slot.host.data(), steps.link_dtype, start, start + n,
               host_threads);
  }
}

}  // namespace astensor::transfer
