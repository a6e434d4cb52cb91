// The transfer planner: where the cast runs, what crosses the link, staged or direct, the
// chunks and the small-copy path, written into the Plan (impl/plan.h) that explain() prints
// and the executors (to_device.cpp, to_host.cpp, device_to_device.cpp) follow. The rules are
// listed in README.md ("Plan rules").

#include <algorithm>
#include <string>
#include <vector>

#include "core/convert.h"
#include "core/error.h"
#include "impl/plan.h"
#include "impl/transfer/transfer.h"

namespace astensor::transfer {

using impl::CastSite;

namespace {

/// TEN-3, as the reference's copy_plain (and impl's plan_copy) computes it.
Dims result_strides_of(const ArrayView& src) {
  if (has_element_strides(src)) return copy_strides(src.shape.span(), element_strides(src).span());
  return contiguous_strides(src.shape.span());
}

bool range_is_pinned(Backend& be, const void* p, std::size_t n) {
  if (n == 0) return false;
  const PointerInfo a = be.pointer_info(p);
  const PointerInfo b = be.pointer_info(static_cast<const char*>(p) + n - 1);
  return a.kind == MemoryKind::Pinned && b.kind == MemoryKind::Pinned;
}

/// The source in the result's memory order is one dense run starting at its data pointer.
bool dense_in_order(const impl::cpu::CopyLayout& l, std::size_t itemsize) {
  return l.shape.empty() || (l.shape.size() == 1 && (l.shape[0] <= 1 || l.contiguous(itemsize)));
}

}  // namespace

// Note [Ramped chunks] (issue 12): a staged transfer is a two-stage pipeline (H2D: the host
// fills a pinned slot, then the link copies it; D2H: the link, then the host drains). With equal
// chunks the second stage waits for the whole first chunk before it starts, and the first stage
// has nothing to do during the last chunk's second stage: one chunk's time of the slower stage
// is added to the transfer, at both ends. With 4 MiB chunks that is 0.25 ms of a 16 MiB
// transfer at 16 GB/s, a sixth of it. So the chunks ramp: they start at ramp_elems, double up
// to chunk_elems, and halve back down at the end (512 KiB, 1, 2, 4, 4, ..., 2, 1 MiB, 512 KiB),
// taken from the front and the back in turn so the two ramps mirror each other and what is
// left over lands in the middle. The ends then cost a 512 KiB chunk's time, for a few more
// chunks (about 2 log2(chunk / ramp)); every chunk still fits a slot. On sim's slow link
// (4 GB/s, bench sim/link/slow, 16 MiB, 5 interleaved processes each, medians) off against
// 512 KiB: float32 0.923 -> 0.953 of the link, float64->float32 0.832 -> 0.925, D2H 0.920 ->
// 0.945; on the fast link the 2-core VM's noise (0.8-1.1 run to run) hides any difference.
// 256 KiB and 1 MiB measured alike on the slow link; 512 KiB keeps the chunk count lower.
// Blocking transfers only: a non-blocking one (XFER-4) returns once its last chunk is staged,
// leaving the last `slots` chunks queued on the link, and that queue is what covers the
// caller's next call. Ramped down, the queue was 3.5 MiB instead of 12 (and the call waited
// for more of the link): bench/overlap.py's back-to-back 16 MiB non-blocking conversions on
// sim's slow link took 5.1-5.2 ms per batch ramped, 4.6-4.8 not (model: 4.2).
std::vector<int64_t> chunk_bounds(int64_t numel, int64_t chunk_elems, int64_t ramp_elems) {
  std::vector<int64_t> bounds{0};
  if (numel <= 0) return bounds;
  if (ramp_elems <= 0 || ramp_elems >= chunk_elems) {
    for (int64_t s = chunk_elems; s < numel; s += chunk_elems) bounds.push_back(s);
    bounds.push_back(numel);
    return bounds;
  }
  std::vector<int64_t> front, back;  // chunk sizes from each end
  int64_t front_total = 0, back_total = 0, front_next = ramp_elems, back_next = ramp_elems, left = numel;
  while (left > 0) {
    const bool at_front = front_total <= back_total;
    int64_t& next = at_front ? front_next : back_next;
    const int64_t n = std::min(next, left);
    (at_front ? front : back).push_back(n);
    (at_front ? front_total : back_total) += n;
    next = std::min(chunk_elems, next * 2);
    left -= n;
  }
  for (int64_t n : front) bounds.push_back(bounds.back() + n);
  for (auto it = back.rbegin(); it != back.rend(); ++it) bounds.push_back(bounds.back() + *it);
  return bounds;
}

StagingChunks::StagingChunks(int64_t numel, const impl::TransferSteps& steps)
    : bounds_(chunk_bounds(numel, steps.chunk_elems, steps.ramp_elems)), slots_(std::max(1, steps.slots)) {
  ASTENSOR_CHECK(numel <= 0 || count() == steps.chunks, "[transfer] internal: the plan says ", steps.chunks,
                 " chunks, its bounds make ", count());
}

int64_t StagingChunks::largest() const {
  int64_t m = 0;
  for (int64_t c = 0; c < count(); ++c) m = std::max(m, size(c));
  return m;
}

void plan_transfer(impl::Plan& p, const ArrayView& src, const TransferOptions& opt) {
  using impl::CopyKind;
  const int64_t numel = validate(src);
  const DType dtype = p.dtype;
  const Device device = p.device;
  impl::TransferSteps& t = p.transfer.emplace();
  p.decision = impl::Decision::Transfer;
  p.layout = impl::cpu::collapse(src.shape.span(), src.byte_strides.span(), p.strides.span());
  t.gather = !dense_in_order(p.layout, itemsize(src.dtype));
  t.swap_bytes = src.byteswapped && itemsize(src.dtype) > 1;
  ASTENSOR_CHECK_VALUE(opt.chunk_bytes >= 64 && opt.slots >= 1,
                       "[transfer] chunk_bytes must be >= 64 and slots >= 1 (got ", opt.chunk_bytes,
                       ", ", opt.slots, ")");
  const std::size_t src_itemsize = itemsize(src.dtype), dst_itemsize = itemsize(dtype);
  const bool cast = src.dtype != dtype;
  auto staging = [&](DType link_dtype) {
    t.chunk_elems = std::max<int64_t>(1, static_cast<int64_t>(opt.chunk_bytes / itemsize(link_dtype)));
    // Note [Ramped chunks]: blocking transfers only.
    const int64_t ramp = p.non_blocking ? 0 : static_cast<int64_t>(opt.ramp_bytes / itemsize(link_dtype));
    t.ramp_elems = ramp > 0 && ramp < t.chunk_elems ? ramp : 0;
    t.staged = true;
    t.chunks = static_cast<int64_t>(chunk_bounds(numel, t.chunk_elems, t.ramp_elems).size()) - 1;
    t.slots = static_cast<int>(std::min<int64_t>(opt.slots, std::max<int64_t>(t.chunks, 1)));
    t.chunk_bytes = static_cast<uint64_t>(t.chunk_elems) * itemsize(link_dtype);
  };
  std::string why;
  if (src.device.is_cpu() && device.is_cpu()) {
    throw ValueError("[transfer] host to host is not a transfer (use the CPU copy path)");
  } else if (src.device.is_cpu()) {  // host -> device
    t.link = Link::H2D;
    if (!cast) p.cast_site = CastSite::None;
    else if (opt.force_cast_site && *opt.force_cast_site != CastSite::None) p.cast_site = *opt.force_cast_site;
    else p.cast_site = dst_itemsize > src_itemsize ? CastSite::Device : CastSite::Host;
    t.link_dtype = p.cast_site == CastSite::Device ? src.dtype : dtype;
    if (cast) {
      const char* kind = dst_itemsize > src_itemsize ? "widening" : dst_itemsize < src_itemsize ? "narrowing" : "same-size";
      const char* forced = opt.force_cast_site ? " (placement forced)" : "";
      why = p.cast_site == CastSite::Device
                ? detail::str_cat(kind, " cast ", name(src.dtype), "->", name(dtype),
                                  ": transfer the source type, cast on the device", forced)
                : detail::str_cat(kind, " cast ", name(src.dtype), "->", name(dtype),
                                  ": cast on the host while staging", forced);
    }
    Backend& be = backend(device.type);
    t.direct = !t.swap_bytes && !t.gather && p.cast_site != CastSite::Host && numel > 0 &&
               range_is_pinned(be, src.data, static_cast<std::size_t>(numel) * src_itemsize);
    if (t.direct) {
      t.chunks = 1;
      why += std::string(why.empty() ? "" : "; ") + "pinned dense source: one direct async copy";
    } else {
      staging(t.link_dtype);
      why += std::string(why.empty() ? "" : "; ") +
             (t.gather ? "strided source gathered while staging" : "pageable source staged through pinned slots");
    }
  } else if (device.is_cpu() && p.non_blocking && !t.swap_bytes) {
    // Device -> host, non-blocking (XFER-4): nothing is left for the host to do after the copy,
    // so the result is pinned host memory the copy lands in directly; a cast or a gather runs
    // on the device first, in the result's dtype.
    t.link = Link::D2H;
    p.cast_site = cast ? CastSite::Device : CastSite::None;
    t.link_dtype = dtype;
    t.direct = true;
    t.chunks = numel == 0 ? 0 : 1;
    why = detail::str_cat(cast ? detail::str_cat("cast ", name(src.dtype), "->", name(dtype), " on the device; ") : "",
                          t.gather ? "gathered on the device; " : "",
                          "non-blocking: one copy into a pinned host result, which host reads wait for");
  } else if (device.is_cpu()) {  // device -> host
    t.link = Link::D2H;
    if (!cast) p.cast_site = CastSite::None;
    else if (t.swap_bytes) p.cast_site = CastSite::Host;  // device kernels do not swap bytes
    else if (opt.force_cast_site && *opt.force_cast_site != CastSite::None) p.cast_site = *opt.force_cast_site;
    else p.cast_site = dst_itemsize < src_itemsize ? CastSite::Device : CastSite::Host;
    t.link_dtype = p.cast_site == CastSite::Device ? dtype : src.dtype;
    staging(t.link_dtype);
    if (cast)
      why = p.cast_site == CastSite::Device
                ? detail::str_cat("narrowing cast ", name(src.dtype), "->", name(dtype), ": cast on the device before the transfer")
                : detail::str_cat("cast ", name(src.dtype), "->", name(dtype), ": transfer the source type, cast on the host while unstaging");
    why += std::string(why.empty() ? "" : "; ") + (t.gather ? "gathered on the device" : "dense source") +
           ", staged through pinned slots";
  } else if (src.device.type != device.type || t.swap_bytes) {
    t.via_host = true;
    t.link = Link::D2H;
    p.cast_site = cast ? CastSite::Host : CastSite::None;
    t.link_dtype = src.dtype;
    why = src.device.type != device.type ? "different backends: through the host"
                                          : "byteswapped device source: swapped on the host";
  } else if (src.device == device) {
    t.link = Link::D2D;
    p.cast_site = cast ? CastSite::Device : CastSite::None;
    t.link_dtype = dtype;
    t.direct = !cast && !t.gather;
    why = t.direct ? "same device, dense: one device copy" : "same device: one cast/gather kernel";
  } else {
    t.link = Link::Peer;
    p.cast_site = cast ? CastSite::Device : CastSite::None;
    t.link_dtype = cast && dst_itemsize > src_itemsize ? src.dtype : dtype;  // the narrower side crosses
    t.direct = !cast && !t.gather;
    why = detail::str_cat("cross-device peer copy",
                          cast ? (dst_itemsize > src_itemsize ? "; cast on the destination" : "; cast on the source") : "",
                          t.gather ? "; gathered on the source" : "");
  }
  const int64_t link_bytes = numel * static_cast<int64_t>(itemsize(t.link_dtype));
  if (t.staged) {
    t.host_threads = staging_host_threads(src.device.is_cpu() ? device.type : src.device.type, opt);
    // The small-copy path: what fits one slot and crosses no more than the threshold, in one
    // chunk (not ramped).
    t.small = numel > 0 && numel <= t.chunk_elems && static_cast<uint64_t>(link_bytes) <= opt.small_copy_bytes;
    if (t.small) {
      t.host_threads = 1;
      t.chunks = 1;
      t.slots = 1;
      t.ramp_elems = 0;
      why += "; small copy: one pinned slot on one stream, no ring";
    } else if (t.ramp_elems > 0 && t.chunks > 1) {
      why += detail::str_cat("; chunks ramp from ", human_bytes(static_cast<uint64_t>(t.ramp_elems) *
                                                                 itemsize(t.link_dtype)),
                             " (Note [Ramped chunks])");
    }
  }
  if (p.non_blocking) {
    const char* how = nullptr;
    if (t.via_host) how = "non-blocking not available through the host: blocking";
    else if (src.device.is_cpu())
      how = t.direct ? "non-blocking: returns once the copy has read the pinned source (a device cast may still run)"
                     : "non-blocking: returns once the source is staged; the pinned slots are held until the copies end";
    else if (!device.is_cpu()) how = "non-blocking: returns once queued; the source is kept alive until it has been read";
    else if (t.swap_bytes) how = "non-blocking not available for a byteswapped device source: blocking";
    if (how) why += std::string(why.empty() ? "" : "; ") + how;
  }
  t.reason = std::move(why);
  t.options = opt;  // formatted only when the plan is printed, not on every transfer

  // What the Plan says about any copy: its kind, the host bytes, the bytes over each link.
  const int64_t src_size = static_cast<int64_t>(src_itemsize), dst_size = static_cast<int64_t>(dst_itemsize);
  if (numel == 0) p.copy = CopyKind::None;
  else if (t.swap_bytes) p.copy = CopyKind::Byteswap;
  else if (t.gather) p.copy = CopyKind::Gather;
  else p.copy = cast ? CopyKind::Cast : CopyKind::Memcpy;
  p.bytes_written = numel * dst_size;
  // Host bytes the staging reads (h2d: the source; d2h: the pinned slots).
  if (src.device.is_cpu()) p.bytes_read = t.staged ? numel * src_size : 0;
  else if (t.via_host || (device.is_cpu() && !t.direct)) p.bytes_read = link_bytes;
  if (numel == 0) return;
  if (t.via_host) {
    p.links.push_back(impl::LinkBytes{src.device, Device::cpu(), link_bytes});
    p.links.push_back(impl::LinkBytes{Device::cpu(), device, numel * dst_size});
  } else {
    p.links.push_back(impl::LinkBytes{src.device, device, link_bytes});
  }
}

impl::Plan describe_transfer(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  validate(src);  // as plan_transfer does, but before the device is resolved and the strides computed
  impl::Plan p;
  p.src_dtype = src.dtype;
  p.dtype = dtype;
  p.src_device = src.device;
  p.device = resolve_device(device);
  p.shape = src.shape;
  p.byteswap = src.byteswapped;
  p.strides = result_strides_of(src);
  plan_transfer(p, src, options);
  return p;
}

}  // namespace astensor::transfer

namespace astensor::impl {

std::string Plan::transfer_str() const {
  using transfer::human_bytes;
  if (!transfer) return "";
  const TransferSteps& t = *transfer;
  std::string s = detail::str_cat(link_name(t.link), t.via_host ? " via host" : "", t.direct ? " direct" : "",
                                  t.staged ? " staged" : "");
  if (t.staged)
    s += detail::str_cat(" (", t.slots, " slot", t.slots == 1 ? "" : "s", " x ", human_bytes(t.chunk_bytes), ", ",
                         t.chunks, " chunk", t.chunks == 1 ? "" : "s", ", up to ", t.host_threads, " host thread",
                         t.host_threads == 1 ? "" : "s", ")");
  s += detail::str_cat(": ", src_device.str(), " ", name(src_dtype), " -> ", device.str(), " ", name(dtype));
  if (cast_site != CastSite::None) s += detail::str_cat(", cast on the ", cast_site_name(cast_site));
  s += detail::str_cat("; ", human_bytes(link_bytes()), " (", name(t.link_dtype), ") over ", link_name(t.link));
  if (t.gather) s += "; gather";
  if (t.swap_bytes) s += "; byteswap";
  if (!t.reason.empty()) s += "; " + t.reason;
  s += "; tunables: " + transfer::options_str(t.options);
  return s;
}

}  // namespace astensor::impl
