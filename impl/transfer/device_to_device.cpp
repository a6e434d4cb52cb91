// Device -> device of one backend: the executor of a d2d or peer plan. Same device: one copy
// (dense, same dtype) or one cast/gather kernel. Another device: a kernel on the source when
// narrowing or gathering, the peer copy of the narrower dtype, a kernel on the destination when
// widening. (Different backends and byteswapped device sources go through the host:
// run_transfer in transfer.cpp.)

#include <memory>

#include "core/trace.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/executors.h"
#include "impl/transfer/producer_wait.h"

namespace astensor::transfer {

Tensor run_device_to_device(const ArrayView& src, const impl::Plan& p) {
  ASTENSOR_RANGE("device_to_device");
  const impl::TransferSteps& steps = *p.transfer;
  const int64_t numel = p.layout.numel;
  const Device src_dev = src.device, dst_dev = p.device;
  Backend& be = backend(dst_dev.type);
  const std::size_t dst_itemsize = itemsize(p.dtype), link_itemsize = itemsize(steps.link_dtype);
  // Plan::stream names a stream of the destination (XFER-4); on one device it is the source's too.
  StreamHandle dst_stream = work_stream(be, p, dst_dev.index);
  auto out = allocate_device(static_cast<std::size_t>(numel) * dst_itemsize, dst_dev, dst_stream);
  if (numel == 0) return make_result(out, src, p);
  StreamHandle src_stream = src_dev == dst_dev ? dst_stream : be.current_stream(src_dev.index);
  wait_producer(be, src, src_stream);

  if (steps.link == Link::D2D) {
    SyncGuard guard(be, src_stream);
    if (steps.direct)
      be.copy_async(out->data(), dst_dev, src.data, src_dev, static_cast<std::size_t>(numel) * dst_itemsize,
                    src_stream);
    else be.launch_cast(src_dev.index, ordered_kernel(src, p, out->data(), p.dtype, 0, numel), src_stream);
    if (p.non_blocking) {  // XFER-4: the source's owner is held until the work has read it
      out->set_pending(make_pending(be, dst_dev.index, src_stream, {src.owner}));
      guard.release();
      return make_result(out, src, p);
    }
    guard.finish();
    return make_result(out, src, p);
  }

  // Peer: [kernel on the source device] -> peer copy -> [kernel on the destination device];
  // the narrower dtype crosses.
  const bool cast_on_src = p.src_dtype != p.dtype && steps.link_dtype == p.dtype;
  const bool cast_on_dst = p.src_dtype != p.dtype && !cast_on_src;
  std::shared_ptr<Storage> tmp_src, tmp_dst;
  const void* crossing = src.data;
  SyncGuard guard_src(be, src_stream);
  if (cast_on_src || steps.gather) {
    tmp_src = allocate_device(static_cast<std::size_t>(numel) * link_itemsize, src_dev, src_stream);
    be.launch_cast(src_dev.index, ordered_kernel(src, p, tmp_src->data(), steps.link_dtype, 0, numel), src_stream);
    crossing = tmp_src->data();
  }
  Event ready(be, src_dev.index);
  ready.record(src_stream);
  ready.block(dst_stream);
  SyncGuard guard_dst(be, dst_stream);
  if (cast_on_dst) {
    tmp_dst = allocate_device(static_cast<std::size_t>(numel) * link_itemsize, dst_dev, dst_stream);
    be.copy_async(tmp_dst->data(), dst_dev, crossing, src_dev, static_cast<std::size_t>(numel) * link_itemsize,
                  dst_stream);
    be.launch_cast(dst_dev.index, contiguous_kernel(tmp_dst->data(), steps.link_dtype, out->data(), p.dtype, numel),
                   dst_stream);
  } else {
    be.copy_async(out->data(), dst_dev, crossing, src_dev, static_cast<std::size_t>(numel) * link_itemsize,
                  dst_stream);  // link_itemsize == dst_itemsize here
  }
  if (p.non_blocking) {
    // The destination stream waited for the source stream's kernel, so its Pending covers
    // all the work; it holds the source's owner and both temporaries until then.
    out->set_pending(make_pending(be, dst_dev.index, dst_stream, {src.owner, tmp_src, tmp_dst}));
    guard_dst.release();
    guard_src.release();
    return make_result(out, src, p);
  }
  guard_dst.finish();
  guard_src.finish();
  return make_result(out, src, p);
}

}  // namespace astensor::transfer
