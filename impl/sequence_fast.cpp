// Non-template parts of the nested-data fast path. Its errors are thrown through
// core/sequence_rules.h, like the reference's (the differential suite compares them).

#include "impl/sequence_fast.h"

#include "core/backend.h"

#include <cstring>

namespace astensor::impl {

namespace seq_detail {

namespace {
/// C-contiguous in its own shape (dims of extent 1 may have any stride).
bool dense_c_order(const ArrayView& v) {
  int64_t expect = static_cast<int64_t>(itemsize(v.dtype));
  for (std::size_t k = v.shape.size(); k-- > 0;) {
    if (v.shape[k] != 1 && v.byte_strides[k] != expect) return false;
    expect *= v.shape[k];
  }
  return true;
}
}  // namespace

int64_t copy_block(const Block& b, std::size_t d, std::size_t ndim, DType dtype, char* out,
                   const std::vector<int64_t>& path) {
  // The common block (an ndarray leaf, SEQ-4) is read in place: no copy of its view.
  ArrayView own;
  const ArrayView* vp = std::get_if<ArrayView>(&b);
  if (!vp) {
    own = block_view(b);
    vp = &own;
  }
  const int64_t count = validate(*vp);
  if (d + vp->shape.size() != ndim) fail_changed(path);
  if (count == 0) return 0;
  // Same dtype, native order, dense on the host: the bytes as they are (what run_copy does
  // for such a layout, without collapsing it first; a list of many small arrays pays the
  // per-block set-up a thousand times).
  if (vp->device.is_cpu() && vp->dtype == dtype && !vp->byteswapped && dense_c_order(*vp)) {
    std::memcpy(out, vp->data, static_cast<std::size_t>(count) * itemsize(dtype));
    return count;
  }
  ArrayView v = *vp;
  Tensor host;  // device blocks are brought to the host first (as the reference does)
  if (!v.device.is_cpu()) {
    host = copy_plain(v, v.dtype, Device::cpu());
    v = view_of(host);
  }
  const Dims dst_strides = contiguous_strides(v.shape.span());
  const cpu::CopyLayout l = cpu::collapse(v.shape.span(), v.byte_strides.span(), dst_strides.span());
  const int64_t bytes = count * static_cast<int64_t>(itemsize(v.dtype) + itemsize(dtype));
  cpu::run_copy(l, v.data, v.dtype, v.byteswapped, out, dtype, cpu::threads_for(bytes));
  return count;
}

Device sequence_target(const Options& o) {
  // SEQ-1: Python data is always copied (the reference refuses before anything else).
  if (o.copy == false)
    throw ValueError("[as_tensor] copy=False, but a copy is needed: Python scalars and "
                     "sequences are always copied (SEQ-1)");
  return target_device(o, std::nullopt);  // DEV-1 / DEV-3, before any allocation
}

Plan sequence_plan(const SequenceShape& s, Device device) {
  Plan p;
  p.copy = CopyKind::SequenceFill;
  p.add_reason("SEQ-1: Python scalars and sequences are always copied");
  p.src_dtype = p.dtype = s.dtype;
  p.src_device = Device::cpu();
  p.device = device;
  p.shape = s.shape;
  p.strides = contiguous_strides(s.shape.span());
  const int64_t numel = checked_numel(s.shape.span());
  p.bytes_written = numel * static_cast<int64_t>(itemsize(s.dtype));
  p.threads = 1;  // the reader is not thread-safe (CPython objects)
  if (device.is_cpu()) {
    p.decision = Decision::CopyHost;
  } else {
    p.decision = Decision::Transfer;
    p.links.push_back(LinkBytes{Device::cpu(), device, p.bytes_written});
  }
  return p;
}

}  // namespace seq_detail

SequenceShape infer_sequence(SequenceReader& reader, std::optional<DType> dtype) {
  return infer_sequence_fast(reader, dtype);
}

void fill_sequence(SequenceReader& reader, const SequenceShape& s, void* out) {
  fill_sequence_fast(reader, s, out);
}

}  // namespace astensor::impl
