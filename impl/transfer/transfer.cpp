// The transfer pipeline's entry points: run_transfer picks the executor a Plan names
// (to_device.cpp, to_host.cpp, device_to_device.cpp; via the host for different backends), and
// the convenience functions plan (planner.cpp) and run in one call. The files: README.md.

#include "impl/transfer/transfer.h"

#include "core/convert.h"
#include "core/error.h"
#include "core/trace.h"
#include "impl/transfer/executors.h"

namespace astensor::transfer {

namespace {

void check_accelerator(Device d, const char* what) {
  ASTENSOR_CHECK_VALUE(!d.is_cpu(), "[transfer] ", what, " must be an accelerator, got ", d.str());
}

}  // namespace

Tensor run_transfer(const ArrayView& src, const impl::Plan& p) {
  if (p.src_device.is_cpu()) return run_to_device(src, p);
  // Device -> host: the direct plan is the non-blocking one, into a pinned result (planner.cpp).
  if (p.device.is_cpu()) return p.transfer->direct ? run_to_pinned_host(src, p) : run_to_host(src, p);
  if (p.transfer->via_host) {
    ASTENSOR_RANGE("via_host");
    const TransferOptions& options = p.transfer->options;
    const Tensor h = to_host(src, p.dtype, options);
    return to_device(view_of(h), p.dtype, p.device, options);
  }
  return run_device_to_device(src, p);
}

Tensor to_device(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  ASTENSOR_CHECK_VALUE(src.device.is_cpu(), "[transfer] to_device: the source is on ", src.device.str(),
                       ", not the host");
  check_accelerator(device, "to_device: the destination");
  return run_to_device(src, describe_transfer(src, dtype, device, options));
}

Tensor to_host(const ArrayView& src, DType dtype, const TransferOptions& options) {
  check_accelerator(src.device, "to_host: the source");
  return run_to_host(src, describe_transfer(src, dtype, Device::cpu(), options));
}

Tensor device_to_device(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  check_accelerator(src.device, "device_to_device: the source");
  check_accelerator(device, "device_to_device: the destination");
  return run_transfer(src, describe_transfer(src, dtype, device, options));
}

Tensor transfer(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  if (src.device.is_cpu()) return to_device(src, dtype, device, options);
  if (device.is_cpu()) return to_host(src, dtype, options);
  return device_to_device(src, dtype, device, options);
}

}  // namespace astensor::transfer
