// Execution of plans (plan.cpp decides; this file only carries out).

#include "impl/as_tensor.h"

#include "core/autograd.h"
#include "core/convert.h"
#include "core/error.h"
#include "core/trace.h"
#include "impl/cpu/copy.h"
#include "impl/cpu/host_alloc.h"
#include "impl/sequence_fast.h"
#include "impl/transfer/transfer.h"

namespace astensor::impl {

namespace {

/// The one place where a device is involved (Decision::Transfer): the transfer pipeline
/// runs the plan (its transfer section, Plan::transfer; impl/transfer, XFER-1..3).
Tensor transfer(const ArrayView& src, const Plan& p) {
  ASTENSOR_RANGE("transfer");
  if (p.transfer) return transfer::run_transfer(src, p);
  // Nested data: the host result was allocated after planning (Plan::transfer), so its
  // transfer is planned now, with the conversion's non_blocking and stream (XFER-4; the host
  // result is a temporary, read once the call returns like any other host source).
  Plan steps = transfer::describe_transfer(src, p.dtype, p.device);
  steps.non_blocking = p.non_blocking;
  steps.stream = p.stream;
  return transfer::run_transfer(src, steps);
}

/// ARR-1/ARR-2/ARR-7: only the storage and tensor headers are allocated, at the share
/// geometry of the decision (a Plan's, or an ArrayDecision's, whose strides move in).
[[gnu::always_inline]] inline Tensor share(const ArrayView& v, int64_t lo, int64_t nbytes,
                                           const Dims& shape, Dims&& strides) {
  const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
  auto* base = const_cast<char*>(static_cast<const char*>(v.data)) + lo * isz;
  auto storage = Storage::wrap(base, static_cast<std::size_t>(nbytes), v.device, v.owner,
                               v.read_only);
  return Tensor::make(std::move(storage), -lo, shape, std::move(strides), v.dtype);
}

Tensor copy_host(const ArrayView& v, const Plan& p) {
  auto storage = cpu::allocate_host(static_cast<std::size_t>(p.bytes_written));
  cpu::run_copy(p.layout, v.data, v.dtype, v.byteswapped, storage->data(), p.dtype, p.threads);
  return Tensor::make(std::move(storage), 0, p.shape, p.strides, p.dtype);
}

Tensor copy_view(const ArrayView& v, const Plan& p) {
  if (p.decision == Decision::Transfer) return transfer(v, p);
  return copy_host(v, p);
}

}  // namespace

namespace seq_detail {
Tensor sequence_to_device(const Tensor& host, const Plan& p) {
  return transfer(view_of(host), p);
}
}  // namespace seq_detail

Tensor execute(const Source& source, const Plan& p) {
  if (auto* t = std::get_if<Tensor>(&source)) {
    if (p.decision == Decision::ReturnSame) return *t;  // TEN-1
    Tensor out = copy_view(device_view_of(*t), p);    // TEN-2, TEN-3, DT-3 (XFER-4: no host wait)
    if (p.records_grad) record_copy(*t, out);           // GRAD-1
    return out;
  }
  if (auto* a = std::get_if<ArrayView>(&source)) {
    if (p.decision == Decision::Share) return share(*a, p.share_lo, p.share_nbytes, p.shape, Dims(p.strides));
    return copy_view(*a, p);  // ARR-4, ARR-5, ARR-11, TEN-3
  }
  return execute_sequence(*std::get<SequenceSource>(source).reader, p);
}

Tensor as_tensor(const Source& source, const Options& options) {
  if (auto* a = std::get_if<ArrayView>(&source)) {
    // The zero-copy path builds no Plan: the decision plan() would record is used as it is
    // (ArrayDecision); a copy gets its Plan from that same decision.
    ArrayDecision d = decide_array(*a, options);
    if (d.share)
      return share(*a, d.geometry.lo, d.geometry.nbytes, a->shape, std::move(d.geometry.strides));
    ASTENSOR_RANGE("plan");
    return copy_view(*a, plan_array(*a, options, std::move(d)));
  }
  if (auto* t = std::get_if<Tensor>(&source)) {
    const TensorDecision d = decide_tensor(*t, options);
    if (d.same) return *t;  // TEN-1, without a Plan (as for shared arrays)
    ASTENSOR_RANGE("plan");
    return execute(source, plan_tensor(*t, options, d));
  }
  return execute(source, plan(source, options));
}

}  // namespace astensor::impl
