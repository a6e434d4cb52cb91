// The planner: every decision of the optimized as_tensor, taken once, as data.

#include "impl/plan.h"

#include "core/trace.h"

#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/convert.h"
#include "core/error.h"
#include "impl/as_tensor.h"
#include "impl/cpu/copy.h"
#include "impl/sequence_fast.h"
#include "impl/transfer/transfer.h"

namespace astensor::impl {

const char* decision_name(Decision d) {
  switch (d) {
    case Decision::ReturnSame: return "return the same tensor";
    case Decision::Share: return "share (zero-copy)";
    case Decision::CopyHost: return "copy on the host";
    case Decision::Transfer: return "transfer";
  }
  return "?";
}

const char* cast_site_name(CastSite s) {
  switch (s) {
    case CastSite::None: return "none";
    case CastSite::Host: return "host";
    case CastSite::Device: return "device";
  }
  return "?";
}

const char* copy_kind_name(CopyKind k) {
  switch (k) {
    case CopyKind::None: return "none";
    case CopyKind::Memcpy: return "contiguous memcpy";
    case CopyKind::Cast: return "contiguous cast";
    case CopyKind::Gather: return "gather";
    case CopyKind::Byteswap: return "byteswap";
    case CopyKind::SequenceFill: return "sequence fill";
  }
  return "?";
}

namespace {

/// COPY-1: the reference's message, word for word (built only when refusing).
[[noreturn]] void refuse_copy(const ArrayView& v, bool is_array, DType dtype, Device device) {
  std::vector<std::string> r;
  if (v.dtype != dtype) r.push_back(detail::str_cat("dtype change (", name(v.dtype), " -> ", name(dtype), ")"));
  if (v.device != device)
    r.push_back(detail::str_cat("device change (", v.device.str(), " -> ", device.str(), ")"));
  if (is_array) {
    if (v.byteswapped) r.push_back("non-native byte order (ARR-4)");
    if (!has_element_strides(v))
      r.push_back(detail::str_cat("byte strides ", v.byte_strides.str(),
                                  " are not multiples of the item size ", itemsize(v.dtype),
                                  " (ARR-5)"));
  }
  std::string why;
  for (const auto& s : r) why += (why.empty() ? "" : "; ") + s;
  throw ValueError("[as_tensor] copy=False, but a copy is needed: " + why);
}

/// The copy of an array view (host or device) into `dtype` on `device` (TEN-3 layout).
void plan_copy(Plan& p, const ArrayView& v, int64_t numel) {
  p.strides = has_element_strides(v) ? copy_strides(v.shape.span(), element_strides(v).span())
                                     : contiguous_strides(v.shape.span());
  const int64_t in_size = static_cast<int64_t>(itemsize(v.dtype));
  const int64_t out_size = static_cast<int64_t>(itemsize(p.dtype));
  if (p.dtype != v.dtype) p.cast_site = CastSite::Host;
  if (v.device.is_cpu() && p.device.is_cpu()) {
    p.decision = Decision::CopyHost;
    p.layout = cpu::collapse(v.shape.span(), v.byte_strides.span(), p.strides.span());
    p.bytes_read = numel * in_size;
    p.bytes_written = numel * out_size;
    if (numel == 0) p.copy = CopyKind::None;
    else if (v.byteswapped) p.copy = CopyKind::Byteswap;
    else if (!p.layout.contiguous(static_cast<std::size_t>(in_size))) p.copy = CopyKind::Gather;
    else p.copy = p.dtype == v.dtype ? CopyKind::Memcpy : CopyKind::Cast;
    p.threads = cpu::threads_for(p.bytes_read + p.bytes_written);
    return;
  }
  // A device on either side: the transfer planner (impl/transfer/planner.cpp) fills in the
  // rest of the plan: the transfer section, where the cast runs, the copy kind, the host bytes
  // and the bytes over each link; execute() follows it.
  transfer::plan_transfer(p, v, transfer::default_options());
}

}  // namespace

TensorDecision decide_tensor(const Tensor& t, const Options& o) {
  ASTENSOR_CHECK_VALUE(t.defined(), "[as_tensor] undefined tensor");
  TensorDecision d;
  d.dtype = o.dtype.value_or(t.dtype());
  d.device = target_device(o, t.device());
  d.same = d.dtype == t.dtype() && d.device == t.device() && o.copy != true;
  return d;
}

Plan plan_tensor(const Tensor& t, const Options& o, const TensorDecision& d) {
  Plan p;
  p.src_dtype = t.dtype();
  p.dtype = d.dtype;
  p.src_device = t.device();
  p.device = d.device;
  p.shape = t.shape();
  const bool change = p.dtype != p.src_dtype || p.device != p.src_device;
  if (d.same) {
    p.decision = Decision::ReturnSame;
    p.add_reason("TEN-1: dtype and device unchanged: the same tensor");
    p.strides = t.strides();
    return p;
  }
  const ArrayView v = device_view_of(t);  // XFER-4: a pending device source is not waited for
  if (o.copy == false) refuse_copy(v, false, p.dtype, p.device);
  if (p.dtype != p.src_dtype) p.add_reason("TEN-2: dtype change");
  if (p.device != p.src_device) p.add_reason("TEN-2: device change");
  if (!change) p.add_reason("COPY-1: copy=True asks for new memory");
  p.records_grad = grad_enabled() && t.requires_grad() && is_differentiable(p.dtype);
  if (p.records_grad) p.add_reason("GRAD-1: the copy records ToCopyBackward");
  p.non_blocking = o.non_blocking;
  p.stream = o.stream;
  plan_copy(p, v, t.numel());
  return p;
}

namespace {
ShareGeometry share_geometry(const ArrayView& v, int64_t numel) {
  ShareGeometry g{element_strides(v)};
  const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
  int64_t lo = 0, hi = -1;
  if (numel > 0) element_extent(v.shape.span(), g.strides.span(), &lo, &hi);
  g.lo = lo;
  g.nbytes = (hi - lo + 1) * isz;
  return g;
}
}  // namespace

ArrayDecision decide_array(const ArrayView& v, const Options& o) {
  const int64_t numel = validate(v);
  const DType dtype = o.dtype.value_or(v.dtype);
  const Device device = target_device(o, v.device);
  const bool element_strided = has_element_strides(v);
  const bool need = dtype != v.dtype || device != v.device || v.byteswapped || !element_strided;
  // ARR-1 (any strides incl. negative: ARR-3, misaligned: ARR-6), ARR-2, ARR-7.
  if (!need && o.copy != true)
    return ArrayDecision{numel, dtype, device, element_strided, true, share_geometry(v, numel)};
  if (o.copy == false) refuse_copy(v, true, dtype, device);
  return ArrayDecision{numel, dtype, device, element_strided, false, {}};
}

Plan plan_array(const ArrayView& v, const Options& o, ArrayDecision&& d) {
  Plan p;
  p.src_dtype = v.dtype;
  p.dtype = d.dtype;
  p.src_device = v.device;
  p.device = d.device;
  p.shape = v.shape;
  p.byteswap = v.byteswapped;
  if (d.share) {
    p.decision = Decision::Share;
    p.add_reason("ARR-1: same dtype and device: shared without copying");
    p.strides = std::move(d.geometry.strides);
    p.share_lo = d.geometry.lo;
    p.share_nbytes = d.geometry.nbytes;
    return p;
  }
  const bool need = p.dtype != p.src_dtype || p.device != p.src_device || v.byteswapped ||
                    !d.element_strided;
  if (p.dtype != p.src_dtype) p.add_reason("ARR-11: dtype change");
  if (p.device != p.src_device) p.add_reason("ARR-11: device change");
  if (v.byteswapped) p.add_reason("ARR-4: non-native byte order");
  if (!d.element_strided) p.add_reason("ARR-5: byte strides are not multiples of the item size");
  if (!need) p.add_reason("COPY-1: copy=True asks for new memory");
  p.non_blocking = o.non_blocking;
  p.stream = o.stream;
  plan_copy(p, v, d.numel);
  return p;
}

namespace {

std::string bytes_str(int64_t b) {
  char buf[64];
  if (b >= (int64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%lld bytes (%.1f MiB)", (long long)b, b / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%lld bytes", (long long)b);
  return buf;
}

}  // namespace

Plan plan(const Source& source, const Options& options) {
  ASTENSOR_RANGE("plan");
  if (auto* t = std::get_if<Tensor>(&source)) return plan_tensor(*t, options, decide_tensor(*t, options));
  if (auto* a = std::get_if<ArrayView>(&source)) return plan_array(*a, options, decide_array(*a, options));
  return plan_sequence(*std::get<SequenceSource>(source).reader, options);
}

std::string explain(const Source& source, const Options& options) {
  // COPY-2: explain() describes, it does not raise: a call that as_tensor would refuse is
  // described by the error it would raise (kind and message, as as_tensor raises them).
  try {
    return plan(source, options).str();
  } catch (const Error& e) {
    return detail::str_cat("as_tensor plan: raises ", error_kind_name(e.kind()), ": ", e.what(), "\n");
  }
}

std::string Plan::str() const {
  std::string s = detail::str_cat("as_tensor plan: ", decision_name(decision), "\n");
  for (int i = 0; i < num_reasons; ++i) s += detail::str_cat("  because: ", reasons[i], "\n");
  if (copy == CopyKind::SequenceFill)
    s += "  source: nested data (inferred shape and dtype below)\n";
  else
    s += detail::str_cat("  source: ", name(src_dtype), " on ", src_device.str(),
                         byteswap ? ", non-native byte order" : "", "\n");
  s += detail::str_cat("  result: ", name(dtype), " on ", device.str(), ", shape ", shape.str(),
                       ", strides ", strides.str(), "\n");
  if (decision == Decision::ReturnSame || decision == Decision::Share) {
    s += "  bytes moved: 0\n";
    return s;
  }
  s += detail::str_cat("  copy: ", copy_kind_name(copy));
  if (copy != CopyKind::SequenceFill && copy != CopyKind::None && decision == Decision::CopyHost)
    s += detail::str_cat(", collapsed shape ", layout.shape.str(), ", source byte strides ",
                         layout.src_strides.str(),
                         layout.tiled ? detail::str_cat(", in ", cpu::CopyLayout::kTileOuter, "x",
                                                        cpu::tile_columns(layout, src_dtype, dtype, byteswap), " tiles")
                                      : std::string());
  s += "\n";
  if (cast_site != CastSite::None)
    s += detail::str_cat("  cast ", name(src_dtype), " -> ", name(dtype), " on the ", cast_site_name(cast_site), "\n");
  if (decision == Decision::CopyHost || copy == CopyKind::SequenceFill)
    s += detail::str_cat("  threads: ", threads, "\n");
  if (bytes_read) s += "  host bytes read: " + bytes_str(bytes_read) + "\n";
  if (bytes_written) s += "  bytes written: " + bytes_str(bytes_written) + "\n";
  for (const LinkBytes& l : links)
    s += detail::str_cat("  link ", l.from.str(), " -> ", l.to.str(), ": ", bytes_str(l.nbytes), "\n");
  if (transfer) s += "  transfer: " + transfer_str() + "\n";
  else if (decision == Decision::Transfer)
    s += detail::str_cat("  transfer: h2d staged after the host fill: cpu ", name(dtype), " -> ", device.str(), "\n");
  if (records_grad) s += "  autograd: records ToCopyBackward\n";
  return s;
}

}  // namespace astensor::impl
