#pragma once
/// What the transfer executors share (internal to impl/transfer): their entry points, one per
/// direction, each following a Plan made by the planner (planner.cpp) without deciding
/// anything again, and the small pieces all of them use: the stream guard, the device kernel
/// descriptors and the result tensor. run_transfer (transfer.cpp) picks the executor.

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "core/array_view.h"
#include "core/backend.h"
#include "core/pending.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "impl/plan.h"
#include "impl/transfer/pending_reaper.h"

namespace astensor::transfer {

/// Host source -> device (to_device.cpp): one direct copy, the small-copy path or the ring.
Tensor run_to_device(const ArrayView& src, const impl::Plan& p);
/// Device source -> host (to_host.cpp): the small-copy path or the ring.
Tensor run_to_host(const ArrayView& src, const impl::Plan& p);
/// Device source -> pinned host memory, non-blocking (to_host.cpp; the planner's direct d2h).
Tensor run_to_pinned_host(const ArrayView& src, const impl::Plan& p);
/// Device source -> the same device or a peer of the same backend (device_to_device.cpp).
Tensor run_device_to_device(const ArrayView& src, const impl::Plan& p);

/// Synchronizes a stream on scope exit, so buffers released after it are no longer in use
/// even when an error unwinds the pipeline.
class SyncGuard {
 public:
  SyncGuard(Backend& be, StreamHandle s) : be_(be), s_(s) {}
  ~SyncGuard() {
    if (!armed_) return;
    try {
      be_.synchronize_stream(s_);
    } catch (...) {
    }
  }
  void finish() {
    armed_ = false;
    be_.synchronize_stream(s_);  // XFER-1: blocking
  }
  /// The non-blocking end (XFER-4): no wait here; a Pending recorded on the stream after
  /// the work (make_pending) tracks it and holds what it uses.
  void release() { armed_ = false; }

 private:
  Backend& be_;
  StreamHandle s_;
  bool armed_ = true;
};

/// The stream a plan's work on `device` is queued on: the caller's (Plan::stream, XFER-4),
/// else the device's current stream.
inline StreamHandle work_stream(Backend& be, const impl::Plan& p, int device) {
  return p.stream ? p.stream : be.current_stream(device);
}

/// The non-blocking end of an executor (XFER-4, Note [Pending results]): an event recorded on
/// `stream` after the work queued so far, holding `keep` (buffers the work still uses, the
/// source's owner) until it has run. Call it while the SyncGuards are armed (a failure here
/// then still waits for the queued work), then release() them.
inline std::shared_ptr<Pending> make_pending(Backend& be, int device, StreamHandle stream,
                                             std::initializer_list<std::shared_ptr<void>> keep) {
  auto pending = std::make_shared<Pending>(be, device, stream);
  for (const auto& k : keep)
    if (k) pending->hold(k);
  track_pending(pending);  // Note [Reaping finished non-blocking work]
  return pending;
}

inline CastKernel contiguous_kernel(const void* src, DType from, void* dst, DType to, int64_t n) {
  CastKernel k;
  k.src = src;
  k.src_dtype = from;
  k.shape = {n};
  k.src_strides = {static_cast<int64_t>(itemsize(from))};
  k.dst = dst;
  k.dst_dtype = to;
  k.count = n;
  return k;
}

/// The device kernel over the source in the result's order (the plan's collapsed layout).
inline CastKernel ordered_kernel(const ArrayView& src, const impl::Plan& p, void* dst, DType to, int64_t start,
                                 int64_t count) {
  CastKernel k;
  k.src = src.data;
  k.src_dtype = src.dtype;
  k.shape = p.layout.shape.empty() ? Dims{1} : p.layout.shape;
  k.src_strides = p.layout.shape.empty() ? Dims{0} : p.layout.src_strides;
  k.dst = dst;
  k.dst_dtype = to;
  k.start = start;
  k.count = count;
  return k;
}

/// The result: the source's shape with the plan's strides (TEN-3) and dtype.
inline Tensor make_result(std::shared_ptr<Storage> st, const ArrayView& src, const impl::Plan& p) {
  return Tensor::make(std::move(st), 0, src.shape, p.strides, p.dtype);
}

}  // namespace astensor::transfer
