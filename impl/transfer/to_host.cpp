// Device -> host: the executor of a device source's plan when the result is on the host. It
// mirrors to_device.cpp: narrowing casts and strided gathers run on the device (on the cast
// stream) into a scratch slot, the d2h copy lands in a pinned slot, the host unstages it
// (widening cast, byteswap) into the result; one chunk that crosses little takes the
// small-copy path (Note [Small copies] in to_device.cpp).

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "core/trace.h"
#include "impl/cpu/host_alloc.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/executors.h"
#include "impl/transfer/pinned_pool.h"
#include "impl/transfer/producer_wait.h"
#include "impl/transfer/staging_ring.h"
#include "impl/transfer/transfer.h"

namespace astensor::transfer {

using impl::CastSite;

/// Device -> host, non-blocking (XFER-4; the planner's direct d2h): the result is pinned host
/// memory from the pool and the copy lands in it; a cast or gather runs first on the device,
/// in the result's dtype and order. Returns once the work is queued: the result's Pending
/// (Note [Pending results]) holds the device scratch and the source's owner until it has run,
/// and every host read through the library waits for it.
Tensor run_to_pinned_host(const ArrayView& src, const impl::Plan& p) {
  const int64_t numel = p.layout.numel;
  const Device dev = src.device;
  Backend& be = backend(dev.type);
  const std::size_t bytes = static_cast<std::size_t>(numel) * itemsize(p.dtype);
  auto lease = std::make_shared<PinnedLease>(pinned_pool(be.type()).acquire(std::max<std::size_t>(bytes, 1)));
  void* host = lease->data();
  auto out = Storage::adopt(host, bytes, Device::cpu(), lease);
  out->set_pinned(true);
  if (numel == 0) return make_result(out, src, p);
  StreamHandle stream = work_stream(be, p, dev.index);
  wait_producer(be, src, stream);
  count_transfer(false);
  std::shared_ptr<Storage> scratch;
  SyncGuard guard(be, stream);
  const void* from = src.data;
  if (p.cast_site == CastSite::Device || p.transfer->gather) {
    scratch = allocate_device(bytes, dev, stream);
    be.launch_cast(dev.index, ordered_kernel(src, p, scratch->data(), p.dtype, 0, numel), stream);
    from = scratch->data();
  }
  ASTENSOR_RANGE("enqueue_d2h_pinned_result");
  be.copy_async(host, Device::cpu(), from, dev, bytes, stream);
  out->set_pending(make_pending(be, dev.index, stream, {scratch, src.owner}));
  guard.release();
  return make_result(out, src, p);
}

Tensor run_to_host(const ArrayView& src, const impl::Plan& p) {
  ASTENSOR_RANGE("to_host");
  const impl::TransferSteps& steps = *p.transfer;
  const int64_t numel = p.layout.numel;
  const Device dev = src.device;
  Backend& be = backend(dev.type);
  const std::size_t dst_itemsize = itemsize(p.dtype), link_itemsize = itemsize(steps.link_dtype);
  // The host output of the CPU copies (impl/cpu/host_alloc.h): large outputs on huge pages
  // from a cache, so a 64 MiB result does not pay 16384 first-touch faults (README.md).
  auto out = impl::cpu::allocate_host(static_cast<std::size_t>(numel) * dst_itemsize);
  if (numel == 0) return make_result(out, src, p);
  StreamHandle stream = work_stream(be, p, dev.index);
  wait_producer(be, src, stream);
  char* out_p = static_cast<char*>(out->data());
  const bool kernel = p.cast_site == CastSite::Device || steps.gather;
  // The host swaps bytes while unstaging only what crossed in the source dtype.
  const bool unstage_swaps = steps.swap_bytes && steps.link_dtype == p.src_dtype;
  count_transfer(steps.small);
  if (steps.small) {  // Note [Small copies]: a kernel (cast or gather), the copy, all on the stream
    const std::size_t bytes = static_cast<std::size_t>(numel) * link_itemsize;
    PinnedLease host = pinned_pool(be.type()).acquire(bytes);
    std::shared_ptr<Storage> scratch;
    SyncGuard guard(be, stream);
    const void* from = src.data;
    if (kernel) {
      scratch = allocate_device(bytes, dev, stream);
      be.launch_cast(dev.index, ordered_kernel(src, p, scratch->data(), steps.link_dtype, 0, numel), stream);
      from = scratch->data();
    }
    ASTENSOR_RANGE("enqueue_d2h_small");
    be.copy_async(host.data(), Device::cpu(), from, dev, bytes, stream);
    finish_counted(guard);
    staged_host_chunk(dense_layout(numel, steps.link_dtype), host.data(), steps.link_dtype, unstage_swaps, out_p,
                      p.dtype, 0, numel, 1, bytes);
    return make_result(out, src, p);
  }
  const int64_t chunk_elems = steps.chunk_elems;
  const StagingChunks chunks(numel, steps);  // Note [Ramped chunks]
  const int host_threads = steps.host_threads;
  StreamHandle kernel_stream = kernel ? cast_stream(be, dev.index) : nullptr;
  std::shared_ptr<Storage> scratch;  // written by the kernels on kernel_stream
  if (kernel)
    scratch = allocate_device(static_cast<std::size_t>(steps.slots * chunk_elems) * link_itemsize, dev, kernel_stream);
  std::vector<Slot> ring =
      make_ring(be, dev.index, steps.slots, static_cast<std::size_t>(chunk_elems) * link_itemsize, kernel);
  if (kernel && (src.stream || src.pending)) wait_producer(be, src, kernel_stream);
  SyncGuard guard(be, stream);
  std::optional<SyncGuard> guard_kernels;
  if (kernel) guard_kernels.emplace(be, kernel_stream);

  auto issue = [&](int64_t c) {
    ASTENSOR_RANGE("enqueue_d2h");
    Slot& slot = ring[static_cast<std::size_t>(chunks.slot(c))];
    const int64_t start = chunks.start(c), n = chunks.size(c);
    const void* from = static_cast<const char*>(src.data) + start * int64_t(link_itemsize);  // dense source
    if (kernel) {
      char* device_slot =
          static_cast<char*>(scratch->data()) + chunks.slot(c) * chunk_elems * int64_t(link_itemsize);
      if (slot.used) slot.done.block(kernel_stream);  // the copy out of this scratch slot is done
      be.launch_cast(dev.index, ordered_kernel(src, p, device_slot, steps.link_dtype, start, n), kernel_stream);
      slot.cast_done.record(kernel_stream);
      slot.cast_done.block(stream);  // the copy runs after its chunk is ready
      from = device_slot;
    }
    be.copy_async(slot.host.data(), Device::cpu(), from, dev, static_cast<std::size_t>(n) * link_itemsize, stream);
    slot.done.record(stream);
    slot.used = true;
  };
  for (int64_t c = 0; c < std::min<int64_t>(steps.slots, chunks.count()); ++c) issue(c);
  for (int64_t c = 0; c < chunks.count(); ++c) {
    Slot& slot = ring[static_cast<std::size_t>(chunks.slot(c))];
    const int64_t start = chunks.start(c), n = chunks.size(c);
    wait_slot(slot);
    {
      ASTENSOR_RANGE("unstage_chunk");  // byteswap + widening cast, fused
      staged_host_chunk(dense_layout(n, steps.link_dtype), slot.host.data(), steps.link_dtype, unstage_swaps,
                        out_p + start * int64_t(dst_itemsize), p.dtype, 0, n, host_threads,
                        static_cast<std::size_t>(n) * link_itemsize);
    }
    if (c + steps.slots < chunks.count()) issue(c + steps.slots);
  }
  if (guard_kernels) finish_counted(*guard_kernels);
  finish_counted(guard);
  return make_result(out, src, p);
}

}  // namespace astensor::transfer
