#include "impl/transfer/transfer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <vector>

#include "core/convert.h"
#include "core/error.h"
#include "core/storage.h"
#include "core/trace.h"
#include "impl/cpu/copy.h"
#include "impl/cpu/host_alloc.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/pinned_pool.h"

namespace astensor::transfer {

const char* cast_site_name(CastSite s) {
  switch (s) {
    case CastSite::None: return "none";
    case CastSite::Host: return "host";
    case CastSite::Device: return "device";
  }
  return "?";
}

namespace {

std::string human_bytes(uint64_t b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v == static_cast<double>(static_cast<uint64_t>(v)) ? "%.0f %s" : "%.1f %s", v, unit[u]);
  return buf;
}

/// "4096", "64KiB", "4MiB", "1GiB", also K/M/G and KB/MB/GB (powers of 1024); nullopt
/// otherwise.
std::optional<std::size_t> parse_bytes(std::string_view t) {
  std::size_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr == t.data()) return std::nullopt;
  std::string_view unit(r.ptr, static_cast<std::size_t>(t.data() + t.size() - r.ptr));
  int shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "K" || unit == "KB" || unit == "KiB") shift = 10;
  else if (unit == "M" || unit == "MB" || unit == "MiB") shift = 20;
  else if (unit == "G" || unit == "GB" || unit == "GiB") shift = 30;
  else return std::nullopt;
  if (shift && v > (std::numeric_limits<std::size_t>::max() >> shift)) return std::nullopt;
  return v << shift;
}

/// The environment's overrides of TransferOptions{} (default_options()), with which variables
/// were set, or the error a bad one gives.
struct EnvOptions {
  TransferOptions options;
  bool chunk = false, slots = false, threads = false, cast = false, small = false;
  std::string error;
};

EnvOptions read_env_options() {
  EnvOptions e;
  auto bad = [&](const char* var, const char* value, const char* want) {
    if (e.error.empty())
      e.error = detail::str_cat("[transfer] environment variable ", var, "='", value, "' is invalid: expected ", want);
  };
  auto int_in = [&](const char* var, int lo, int hi, int* out) {
    const char* v = std::getenv(var);
    if (!v || !*v) return false;
    int x = 0;
    auto r = std::from_chars(v, v + std::strlen(v), x);
    if (r.ec != std::errc() || *r.ptr != '\0' || x < lo || x > hi) {
      bad(var, v, detail::str_cat("an integer in ", lo, "..", hi).c_str());
      return false;
    }
    *out = x;
    return true;
  };
  if (const char* v = std::getenv("ASTENSOR_STAGING_CHUNK"); v && *v) {
    auto b = parse_bytes(v);
    if (!b || *b < 64 || *b > (std::size_t(1) << 30)) bad("ASTENSOR_STAGING_CHUNK", v, "a size from 64 bytes to 1GiB, e.g. 4MiB");
    else e.options.chunk_bytes = *b, e.chunk = true;
  }
  if (const char* v = std::getenv("ASTENSOR_SMALL_COPY"); v && *v) {
    auto b = parse_bytes(v);
    if (!b || *b > (std::size_t(1) << 30)) bad("ASTENSOR_SMALL_COPY", v, "a size up to 1GiB (0: off), e.g. 256KiB");
    else e.options.small_copy_bytes = *b, e.small = true;
  }
  e.slots = int_in("ASTENSOR_STAGING_SLOTS", 1, 64, &e.options.slots);
  e.threads = int_in("ASTENSOR_STAGING_THREADS", 1, 1024, &e.options.host_threads);
  if (const char* v = std::getenv("ASTENSOR_CAST_SITE"); v && *v) {
    const std::string_view s(v);
    e.cast = true;
    if (s == "host") e.options.force_cast_site = CastSite::Host;
    else if (s == "device") e.options.force_cast_site = CastSite::Device;
    else if (s != "auto") bad("ASTENSOR_CAST_SITE", v, "auto, host or device"), e.cast = false;
  }
  return e;
}

const EnvOptions& env_options() {
  static const EnvOptions e = read_env_options();
  return e;
}

/// TEN-3, as the reference's copy_plain computes it.
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

TransferPlan make_plan(const ArrayView& src, DType dtype, Device device_in, const TransferOptions& opt) {
  TransferPlan p;
  p.numel = validate(src);
  const Device device = resolve_device(device_in);
  p.src_device = src.device;
  p.dst_device = device;
  p.src_dtype = src.dtype;
  p.dst_dtype = dtype;
  p.result_strides = result_strides_of(src);
  p.layout = impl::cpu::collapse(src.shape.span(), src.byte_strides.span(), p.result_strides.span());
  p.gather = !dense_in_order(p.layout, itemsize(src.dtype));
  p.byteswap = src.byteswapped && itemsize(src.dtype) > 1;
  ASTENSOR_CHECK_VALUE(opt.chunk_bytes >= 64 && opt.slots >= 1,
                       "[transfer] chunk_bytes must be >= 64 and slots >= 1 (got ", opt.chunk_bytes,
                       ", ", opt.slots, ")");
  const std::size_t sz = itemsize(src.dtype), dz = itemsize(dtype);
  const bool cast = src.dtype != dtype;
  auto staging = [&](DType link) {
    p.chunk_elems = std::max<int64_t>(1, static_cast<int64_t>(opt.chunk_bytes / itemsize(link)));
    p.staged = true;
    p.chunks = p.numel == 0 ? 0 : (p.numel + p.chunk_elems - 1) / p.chunk_elems;
    p.slots = static_cast<int>(std::min<int64_t>(opt.slots, std::max<int64_t>(p.chunks, 1)));
    p.chunk_bytes = static_cast<uint64_t>(p.chunk_elems) * itemsize(link);
  };
  std::string why;
  if (src.device.is_cpu() && device.is_cpu()) {
    throw ValueError("[transfer] host to host is not a transfer (use the CPU copy path)");
  } else if (src.device.is_cpu()) {  // host -> device
    p.link = Link::H2D;
    if (!cast) p.cast_site = CastSite::None;
    else if (opt.force_cast_site && *opt.force_cast_site != CastSite::None) p.cast_site = *opt.force_cast_site;
    else p.cast_site = dz > sz ? CastSite::Device : CastSite::Host;
    p.link_dtype = p.cast_site == CastSite::Device ? src.dtype : dtype;
    if (cast) {
      const char* kind = dz > sz ? "widening" : dz < sz ? "narrowing" : "same-size";
      const char* forced = opt.force_cast_site ? " (placement forced)" : "";
      why = p.cast_site == CastSite::Device
                ? detail::str_cat(kind, " cast ", name(src.dtype), "->", name(dtype),
                                  ": transfer the source type, cast on the device", forced)
                : detail::str_cat(kind, " cast ", name(src.dtype), "->", name(dtype),
                                  ": cast on the host while staging", forced);
    }
    Backend& be = backend(device.type);
    p.direct = !p.byteswap && !p.gather && p.cast_site != CastSite::Host && p.numel > 0 &&
               range_is_pinned(be, src.data, static_cast<std::size_t>(p.numel) * sz);
    if (p.direct) {
      p.chunks = 1;
      why += std::string(why.empty() ? "" : "; ") + "pinned dense source: one direct async copy";
    } else {
      staging(p.link_dtype);
      why += std::string(why.empty() ? "" : "; ") +
             (p.gather ? "strided source gathered while staging" : "pageable source staged through pinned slots");
    }
  } else if (device.is_cpu()) {  // device -> host
    p.link = Link::D2H;
    if (!cast) p.cast_site = CastSite::None;
    else if (p.byteswap) p.cast_site = CastSite::Host;  // device kernels do not swap bytes
    else if (opt.force_cast_site && *opt.force_cast_site != CastSite::None) p.cast_site = *opt.force_cast_site;
    else p.cast_site = dz < sz ? CastSite::Device : CastSite::Host;
    p.link_dtype = p.cast_site == CastSite::Device ? dtype : src.dtype;
    staging(p.link_dtype);
    if (cast)
      why = p.cast_site == CastSite::Device
                ? detail::str_cat("narrowing cast ", name(src.dtype), "->", name(dtype), ": cast on the device before the transfer")
                : detail::str_cat("cast ", name(src.dtype), "->", name(dtype), ": transfer the source type, cast on the host while unstaging");
    why += std::string(why.empty() ? "" : "; ") + (p.gather ? "gathered on the device" : "dense source") +
           ", staged through pinned slots";
  } else if (src.device.type != device.type || p.byteswap) {
    p.via_host = true;
    p.link = Link::D2H;
    p.cast_site = cast ? CastSite::Host : CastSite::None;
    p.link_dtype = src.dtype;
    why = src.device.type != device.type ? "different backends: through the host"
                                          : "byteswapped device source: swapped on the host";
  } else if (src.device == device) {
    p.link = Link::D2D;
    p.cast_site = cast ? CastSite::Device : CastSite::None;
    p.link_dtype = dtype;
    p.direct = !cast && !p.gather;
    why = p.direct ? "same device, dense: one device copy" : "same device: one cast/gather kernel";
  } else {
    p.link = Link::Peer;
    p.cast_site = cast ? CastSite::Device : CastSite::None;
    p.link_dtype = cast && dz > sz ? src.dtype : dtype;  // the narrower side crosses
    p.direct = !cast && !p.gather;
    why = detail::str_cat("cross-device peer copy", cast ? (dz > sz ? "; cast on the destination" : "; cast on the source") : "",
                          p.gather ? "; gathered on the source" : "");
  }
  p.link_bytes = static_cast<uint64_t>(p.numel) * itemsize(p.link_dtype);
  if (p.staged) {
    p.host_threads = staging_host_threads(p.src_device.is_cpu() ? p.dst_device.type : p.src_device.type, opt);
    // The small-copy path: one chunk that crosses no more than the threshold.
    p.small = p.chunks == 1 && p.link_bytes <= opt.small_copy_bytes;
    if (p.small) {
      p.host_threads = 1;
      why += "; small copy: one pinned slot on one stream, no ring";
    }
  }
  p.reason = why;
  p.options = opt;  // formatted only when the plan is printed, not on every transfer
  return p;
}

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

 private:
  Backend& be_;
  StreamHandle s_;
  bool armed_ = true;
};

/// One slot of the staging ring: a pinned block and the event that says when the work
/// queued on it has finished.
struct Slot {
  PinnedLease host;
  Event done;       // on the copy stream, after the copy that reads or writes `host`
  Event cast_done;  // on the cast stream, after the kernel that used the device scratch slot
  bool used = false;
  bool cast_used = false;
};

std::vector<Slot> make_ring(Backend& be, int device, int slots, std::size_t slot_bytes, bool with_casts) {
  ASTENSOR_RANGE("staging_ring_acquire");
  std::vector<Slot> ring(static_cast<std::size_t>(slots));
  PinnedPool& pool = pinned_pool(be.type());
  for (Slot& s : ring) {
    s.host = pool.acquire(slot_bytes);
    s.done = Event(be, device);
    if (with_casts) s.cast_done = Event(be, device);
  }
  return ring;
}

/// The stream the pipeline's device casts run on, so a chunk's kernel overlaps the next
/// chunk's copy (copy engine and SMs work at once). One per device, made once, never freed.
StreamHandle cast_stream(Backend& be, int device) {
  static std::mutex m;
  static std::map<std::pair<int, int>, StreamHandle> streams;
  std::lock_guard<std::mutex> g(m);
  auto key = std::make_pair(static_cast<int>(be.type()), device);
  auto it = streams.find(key);
  if (it == streams.end()) it = streams.emplace(key, be.create_stream(device)).first;
  return it->second;
}

/// Waits until the slot's previous use has finished (the event guarding reuse).
void wait_slot(Slot& s);

/// Host side of a staging chunk (fill or drain): the elements [first, last) of `layout`
/// (destination order) into `dst`, gather + byteswap + cast fused in one pass by the CPU
/// copy kernels (impl/cpu: runtime ISA dispatch, memcpy when nothing changes, OpenMP).
void host_chunk(const impl::cpu::CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
                DType to, int64_t first, int64_t last, int max_threads) {
  int threads = impl::cpu::threads_for((last - first) * int64_t(itemsize(from) + itemsize(to)));
  if (max_threads > 0) threads = std::min(threads, max_threads);
  impl::cpu::run_copy_range(layout, src, from, byteswap, dst, to, first, last, threads);
}

}  // namespace

const TransferOptions& default_options() {
  const EnvOptions& e = env_options();
  ASTENSOR_CHECK_VALUE(e.error.empty(), e.error);
  return e.options;
}

std::string options_str(const TransferOptions& o) {
  const EnvOptions& e = env_options();
  // A value marked with its variable only when it is the environment's (not a caller's own).
  auto from_env = [&](bool set, bool same) { return set && same ? " (env)" : ""; };
  const TransferOptions& eo = e.options;
  return detail::str_cat(
      "chunk ", human_bytes(o.chunk_bytes), from_env(e.chunk, o.chunk_bytes == eo.chunk_bytes),
      ", slots ", o.slots, from_env(e.slots, o.slots == eo.slots),
      ", host threads ", o.host_threads > 0 ? std::to_string(o.host_threads) : std::string("auto"),
      from_env(e.threads, o.host_threads == eo.host_threads),
      ", cast site ", o.force_cast_site ? cast_site_name(*o.force_cast_site) : "auto",
      from_env(e.cast, o.force_cast_site == eo.force_cast_site),
      ", small copy ", o.small_copy_bytes ? human_bytes(o.small_copy_bytes) : std::string("off"),
      from_env(e.small, o.small_copy_bytes == eo.small_copy_bytes));
}

int staging_host_threads(DeviceType device_type, const TransferOptions& opt) {
  if (opt.host_threads > 0) return opt.host_threads;
  const int all = impl::cpu::max_threads();
  // Note [Staging threads on sim]: sim's copy engine is a host thread (the stream worker), so
  // the staging threads leave it a core; on a 2-core machine the fill then runs on one thread,
  // which also keeps libgomp's spin-waiting team worker from starving the stream worker.
  if (device_type == DeviceType::Sim) return std::max(1, all - 1);
  return all;
}

namespace {

// StageCounters, kept with relaxed atomics (a counter is read after the transfers it counts).
struct AtomicStageCounters {
  std::atomic<uint64_t> transfers{0}, small_transfers{0}, chunks{0}, host_stage_ns{0}, host_stage_bytes{0},
      wait_ns{0};
} g_stage;

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

/// Adds the time from construction to destruction to a counter.
class ScopedTime {
 public:
  explicit ScopedTime(std::atomic<uint64_t>& into) : into_(into), t0_(now_ns()) {}
  ~ScopedTime() { into_.fetch_add(now_ns() - t0_, std::memory_order_relaxed); }
  ScopedTime(const ScopedTime&) = delete;
  ScopedTime& operator=(const ScopedTime&) = delete;

 private:
  std::atomic<uint64_t>& into_;
  uint64_t t0_;
};

/// host_chunk, counted: one staging chunk's host side.
void staged_host_chunk(const impl::cpu::CopyLayout& layout, const void* src, DType from, bool byteswap, void* dst,
                       DType to, int64_t first, int64_t last, int max_threads, std::size_t slot_bytes) {
  ScopedTime t(g_stage.host_stage_ns);
  host_chunk(layout, src, from, byteswap, dst, to, first, last, max_threads);
  g_stage.chunks.fetch_add(1, std::memory_order_relaxed);
  g_stage.host_stage_bytes.fetch_add(slot_bytes, std::memory_order_relaxed);
}

void count_transfer(bool small) {
  g_stage.transfers.fetch_add(1, std::memory_order_relaxed);
  if (small) g_stage.small_transfers.fetch_add(1, std::memory_order_relaxed);
}

void wait_slot(Slot& s) {
  if (s.used) {
    ASTENSOR_RANGE("slot_wait");
    ScopedTime t(g_stage.wait_ns);
    s.done.synchronize();
  }
}

/// The final wait of a pipeline, counted.
void finish_counted(SyncGuard& g) {
  ScopedTime t(g_stage.wait_ns);
  g.finish();
}

/// n dense elements (a pinned slot drained into the result).
impl::cpu::CopyLayout dense_layout(int64_t n, DType from) {
  impl::cpu::CopyLayout l;
  l.numel = n;
  l.shape = Dims{n};
  l.src_strides = Dims{static_cast<int64_t>(itemsize(from))};
  return l;
}

CastKernel contiguous_kernel(const void* src, DType from, void* dst, DType to, int64_t n) {
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
CastKernel ordered_kernel(const ArrayView& src, const TransferPlan& p, void* dst, DType to, int64_t start,
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

Tensor make_result(std::shared_ptr<Storage> st, const ArrayView& src, const TransferPlan& p) {
  return Tensor::make(std::move(st), 0, src.shape, p.result_strides, p.dst_dtype);
}

/// CAI-3, DLP-2: `consumer` waits for the producer's stream, unless it IS that stream (a DLPack
/// import names the current stream, which the producer has already ordered after its work).
void wait_producer(Backend& be, const ArrayView& src, StreamHandle consumer) {
  if (src.stream && *src.stream != reinterpret_cast<intptr_t>(consumer))
    be.wait_external_stream(src.device.index, *src.stream, consumer);
}

Tensor run_to_device(const ArrayView& src, const TransferPlan& p, const TransferOptions& opt) {
  ASTENSOR_RANGE("to_device");
  const Device dev = p.dst_device;
  Backend& be = backend(dev.type);
  const std::size_t dz = itemsize(p.dst_dtype), lz = itemsize(p.link_dtype);
  StreamHandle s = be.current_stream(dev.index);
  // Device memory from the caching allocator (device_allocator.h), ready for work on s.
  auto out = allocate_device(static_cast<std::size_t>(p.numel) * dz, dev, s);
  if (p.numel == 0) return make_result(out, src, p);
  char* out_p = static_cast<char*>(out->data());

  if (p.direct) {
    std::shared_ptr<Storage> scratch;
    SyncGuard guard(be, s);
    if (p.cast_site == CastSite::Device) {
      scratch = allocate_device(static_cast<std::size_t>(p.numel) * lz, dev, s);
      be.copy_async(scratch->data(), dev, src.data, Device::cpu(), static_cast<std::size_t>(p.numel) * lz, s);
      be.launch_cast(dev.index, contiguous_kernel(scratch->data(), p.link_dtype, out_p, p.dst_dtype, p.numel), s);
    } else {
      be.copy_async(out_p, dev, src.data, Device::cpu(), static_cast<std::size_t>(p.numel) * dz, s);
    }
    guard.finish();
    return make_result(out, src, p);
  }

  count_transfer(p.small);
  const bool device_cast = p.cast_site == CastSite::Device;
  if (p.small) {
    // Note [Small copies]: one chunk needs no ring. One pinned slot from the pool, the copy
    // (and a device cast) queued on s alone, so no events and no cast stream; one host thread
    // fills it (a wake-up of the team costs more than the fill). The final synchronize is the
    // only wait.
    const std::size_t bytes = static_cast<std::size_t>(p.numel) * lz;
    PinnedLease host = pinned_pool(be.type()).acquire(bytes);
    std::shared_ptr<Storage> scratch;
    SyncGuard guard(be, s);  // destroyed first: the queued work is done before host/scratch go
    staged_host_chunk(p.layout, src.data, src.dtype, p.byteswap, host.data(), p.link_dtype, 0, p.numel, 1, bytes);
    ASTENSOR_RANGE("enqueue_h2d_small");
    if (device_cast) {
      scratch = allocate_device(bytes, dev, s);
      be.copy_async(scratch->data(), dev, host.data(), Device::cpu(), bytes, s);
      be.launch_cast(dev.index, contiguous_kernel(scratch->data(), p.link_dtype, out_p, p.dst_dtype, p.numel), s);
    } else {
      be.copy_async(out_p, dev, host.data(), Device::cpu(), bytes, s);
    }
    finish_counted(guard);
    return make_result(out, src, p);
  }

  const int64_t ce = p.chunk_elems;
  const int host_threads = staging_host_threads(dev.type, opt);
  std::shared_ptr<Storage> scratch;  // device-side slots for the device cast
  if (device_cast) scratch = allocate_device(static_cast<std::size_t>(p.slots * ce) * lz, dev, s);
  std::vector<Slot> ring = make_ring(be, dev.index, p.slots, static_cast<std::size_t>(ce) * lz, device_cast);
  StreamHandle k = device_cast ? cast_stream(be, dev.index) : nullptr;
  // Destroyed before the ring and scratch: they outlive the queued work.
  SyncGuard guard(be, s);
  std::optional<SyncGuard> guard_k;
  if (device_cast) guard_k.emplace(be, k);
  for (int64_t c = 0; c < p.chunks; ++c) {
    Slot& slot = ring[static_cast<std::size_t>(c % p.slots)];
    const int64_t start = c * ce, n = std::min(ce, p.numel - start);
    wait_slot(slot);  // the previous copy out of this pinned slot has finished
    {
      ASTENSOR_RANGE("stage_chunk");  // gather + byteswap + narrowing cast, fused
      staged_host_chunk(p.layout, src.data, src.dtype, p.byteswap, slot.host.data(), p.link_dtype, start, start + n,
                        host_threads, static_cast<std::size_t>(n) * lz);
    }
    ASTENSOR_RANGE("enqueue_h2d");
    if (device_cast) {
      char* dscr = static_cast<char*>(scratch->data()) + (c % p.slots) * ce * int64_t(lz);
      if (slot.cast_used) slot.cast_done.block(s);  // the kernel reading this scratch slot is done
      be.copy_async(dscr, dev, slot.host.data(), Device::cpu(), static_cast<std::size_t>(n) * lz, s);
      slot.done.record(s);
      slot.done.block(k);  // the kernel runs after its chunk has landed
      be.launch_cast(dev.index, contiguous_kernel(dscr, p.link_dtype, out_p + start * int64_t(dz), p.dst_dtype, n), k);
      slot.cast_done.record(k);
      slot.cast_used = true;
    } else {
      be.copy_async(out_p + start * int64_t(dz), dev, slot.host.data(), Device::cpu(),
                    static_cast<std::size_t>(n) * lz, s);
      slot.done.record(s);
    }
    slot.used = true;
  }
  if (guard_k) finish_counted(*guard_k);
  finish_counted(guard);
  return make_result(out, src, p);
}

Tensor run_to_host(const ArrayView& src, const TransferPlan& p, const TransferOptions& opt) {
  ASTENSOR_RANGE("to_host");
  const Device dev = src.device;
  Backend& be = backend(dev.type);
  const std::size_t dz = itemsize(p.dst_dtype), lz = itemsize(p.link_dtype);
  // The host output of the CPU copies (impl/cpu/host_alloc.h): large outputs on huge pages
  // from a cache, so a 64 MiB result does not pay 16384 first-touch faults (README.md).
  auto out = impl::cpu::allocate_host(static_cast<std::size_t>(p.numel) * dz);
  if (p.numel == 0) return make_result(out, src, p);
  StreamHandle s = be.current_stream(dev.index);
  wait_producer(be, src, s);
  char* out_p = static_cast<char*>(out->data());
  const bool kernel = p.cast_site == CastSite::Device || p.gather;
  count_transfer(p.small);
  if (p.small) {  // Note [Small copies]: a kernel (cast or gather), the copy, all on s
    const std::size_t bytes = static_cast<std::size_t>(p.numel) * lz;
    PinnedLease host = pinned_pool(be.type()).acquire(bytes);
    std::shared_ptr<Storage> scratch;
    SyncGuard guard(be, s);
    const void* from = src.data;
    if (kernel) {
      scratch = allocate_device(bytes, dev, s);
      be.launch_cast(dev.index, ordered_kernel(src, p, scratch->data(), p.link_dtype, 0, p.numel), s);
      from = scratch->data();
    }
    ASTENSOR_RANGE("enqueue_d2h_small");
    be.copy_async(host.data(), Device::cpu(), from, dev, bytes, s);
    finish_counted(guard);
    staged_host_chunk(dense_layout(p.numel, p.link_dtype), host.data(), p.link_dtype,
                      p.byteswap && p.link_dtype == p.src_dtype, out_p, p.dst_dtype, 0, p.numel, 1, bytes);
    return make_result(out, src, p);
  }
  const int64_t ce = p.chunk_elems;
  const int host_threads = staging_host_threads(dev.type, opt);
  StreamHandle k = kernel ? cast_stream(be, dev.index) : nullptr;
  std::shared_ptr<Storage> scratch;  // written by the kernels on k
  if (kernel) scratch = allocate_device(static_cast<std::size_t>(p.slots * ce) * lz, dev, k);
  std::vector<Slot> ring = make_ring(be, dev.index, p.slots, static_cast<std::size_t>(ce) * lz, kernel);
  if (kernel && src.stream) wait_producer(be, src, k);
  SyncGuard guard(be, s);
  std::optional<SyncGuard> guard_k;
  if (kernel) guard_k.emplace(be, k);

  auto issue = [&](int64_t c) {
    ASTENSOR_RANGE("enqueue_d2h");
    Slot& slot = ring[static_cast<std::size_t>(c % p.slots)];
    const int64_t start = c * ce, n = std::min(ce, p.numel - start);
    const void* from = static_cast<const char*>(src.data) + start * int64_t(lz);  // dense source
    if (kernel) {
      char* dscr = static_cast<char*>(scratch->data()) + (c % p.slots) * ce * int64_t(lz);
      if (slot.used) slot.done.block(k);  // the copy out of this scratch slot is done
      be.launch_cast(dev.index, ordered_kernel(src, p, dscr, p.link_dtype, start, n), k);
      slot.cast_done.record(k);
      slot.cast_done.block(s);  // the copy runs after its chunk is ready
      from = dscr;
    }
    be.copy_async(slot.host.data(), Device::cpu(), from, dev, static_cast<std::size_t>(n) * lz, s);
    slot.done.record(s);
    slot.used = true;
  };
  for (int64_t c = 0; c < std::min<int64_t>(p.slots, p.chunks); ++c) issue(c);
  for (int64_t c = 0; c < p.chunks; ++c) {
    Slot& slot = ring[static_cast<std::size_t>(c % p.slots)];
    const int64_t start = c * ce, n = std::min(ce, p.numel - start);
    wait_slot(slot);
    {
      ASTENSOR_RANGE("unstage_chunk");  // byteswap + widening cast, fused
      staged_host_chunk(dense_layout(n, p.link_dtype), slot.host.data(), p.link_dtype,
                        p.byteswap && p.link_dtype == p.src_dtype, out_p + start * int64_t(dz), p.dst_dtype, 0, n,
                        host_threads, static_cast<std::size_t>(n) * lz);
    }
    if (c + p.slots < p.chunks) issue(c + p.slots);
  }
  if (guard_k) finish_counted(*guard_k);
  finish_counted(guard);
  return make_result(out, src, p);
}

Tensor run_device_to_device(const ArrayView& src, const TransferPlan& p) {
  ASTENSOR_RANGE("device_to_device");
  const Device a = src.device, b = p.dst_device;
  Backend& be = backend(b.type);
  const std::size_t dz = itemsize(p.dst_dtype), lz = itemsize(p.link_dtype);
  auto out = allocate_device(static_cast<std::size_t>(p.numel) * dz, b, be.current_stream(b.index));
  if (p.numel == 0) return make_result(out, src, p);
  StreamHandle sa = be.current_stream(a.index);
  wait_producer(be, src, sa);

  if (p.link == Link::D2D) {
    SyncGuard guard(be, sa);
    if (p.direct) be.copy_async(out->data(), b, src.data, a, static_cast<std::size_t>(p.numel) * dz, sa);
    else be.launch_cast(a.index, ordered_kernel(src, p, out->data(), p.dst_dtype, 0, p.numel), sa);
    guard.finish();
    return make_result(out, src, p);
  }

  // Peer: [kernel on a] -> peer copy -> [kernel on b]; the narrower dtype crosses.
  StreamHandle sb = be.current_stream(b.index);
  const bool cast_on_src = p.src_dtype != p.dst_dtype && p.link_dtype == p.dst_dtype;
  const bool cast_on_dst = p.src_dtype != p.dst_dtype && !cast_on_src;
  std::shared_ptr<Storage> tmp_a, tmp_b;
  const void* crossing = src.data;
  SyncGuard guard_a(be, sa);
  if (cast_on_src || p.gather) {
    tmp_a = allocate_device(static_cast<std::size_t>(p.numel) * lz, a, sa);
    be.launch_cast(a.index, ordered_kernel(src, p, tmp_a->data(), p.link_dtype, 0, p.numel), sa);
    crossing = tmp_a->data();
  }
  Event ready(be, a.index);
  ready.record(sa);
  ready.block(sb);
  SyncGuard guard_b(be, sb);
  if (cast_on_dst) {
    tmp_b = allocate_device(static_cast<std::size_t>(p.numel) * lz, b, sb);
    be.copy_async(tmp_b->data(), b, crossing, a, static_cast<std::size_t>(p.numel) * lz, sb);
    be.launch_cast(b.index, contiguous_kernel(tmp_b->data(), p.link_dtype, out->data(), p.dst_dtype, p.numel), sb);
  } else {
    be.copy_async(out->data(), b, crossing, a, static_cast<std::size_t>(p.numel) * lz, sb);  // lz == dz here
  }
  guard_b.finish();
  guard_a.finish();
  return make_result(out, src, p);
}

void check_accelerator(Device d, const char* what) {
  ASTENSOR_CHECK_VALUE(!d.is_cpu(), "[transfer] ", what, " must be an accelerator, got ", d.str());
}

}  // namespace

StageCounters stage_counters() {
  StageCounters c;
  c.transfers = g_stage.transfers.load();
  c.small_transfers = g_stage.small_transfers.load();
  c.chunks = g_stage.chunks.load();
  c.host_stage_ns = g_stage.host_stage_ns.load();
  c.host_stage_bytes = g_stage.host_stage_bytes.load();
  c.wait_ns = g_stage.wait_ns.load();
  return c;
}

void reset_stage_counters() {
  for (auto* a : {&g_stage.transfers, &g_stage.small_transfers, &g_stage.chunks, &g_stage.host_stage_ns,
                  &g_stage.host_stage_bytes, &g_stage.wait_ns})
    a->store(0);
}

std::string TransferPlan::str() const {
  std::string s = detail::str_cat(link_name(link), via_host ? " via host" : "", direct ? " direct" : "",
                                  staged ? " staged" : "");
  if (staged)
    s += detail::str_cat(" (", slots, " slot", slots == 1 ? "" : "s", " x ", human_bytes(chunk_bytes), ", ", chunks,
                         " chunk", chunks == 1 ? "" : "s", ", up to ", host_threads, " host thread",
                         host_threads == 1 ? "" : "s", ")");
  s += detail::str_cat(": ", src_device.str(), " ", name(src_dtype), " -> ", dst_device.str(), " ", name(dst_dtype));
  if (cast_site != CastSite::None) s += detail::str_cat(", cast on the ", cast_site_name(cast_site));
  s += detail::str_cat("; ", human_bytes(link_bytes), " (", name(link_dtype), ") over ", link_name(link));
  if (gather) s += "; gather";
  if (byteswap) s += "; byteswap";
  if (!reason.empty()) s += "; " + reason;
  s += "; tunables: " + options_str(options);
  return s;
}

TransferPlan describe_transfer(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  return make_plan(src, dtype, device, options);
}

Tensor run_transfer(const ArrayView& src, const TransferPlan& p, const TransferOptions& options) {
  if (p.src_device.is_cpu()) return run_to_device(src, p, options);
  if (p.dst_device.is_cpu()) return run_to_host(src, p, options);
  if (p.via_host) {
    ASTENSOR_RANGE("via_host");
    const Tensor h = to_host(src, p.dst_dtype, options);
    return to_device(view_of(h), p.dst_dtype, p.dst_device, options);
  }
  return run_device_to_device(src, p);
}

void stage_host_side(const ArrayView& src, const TransferPlan& p, const TransferOptions& opt) {
  ASTENSOR_CHECK_VALUE(p.staged && p.src_device.is_cpu() && !p.dst_device.is_cpu(),
                       "[transfer] stage_host_side needs a staged host -> device plan, got: ", p.str());
  ASTENSOR_RANGE("stage_host_side");
  Backend& be = backend(p.dst_device.type);
  const int64_t ce = p.chunk_elems;
  const int host_threads = staging_host_threads(p.dst_device.type, opt);
  std::vector<Slot> ring =
      make_ring(be, p.dst_device.index, p.slots, static_cast<std::size_t>(ce) * itemsize(p.link_dtype), false);
  for (int64_t c = 0; c < p.chunks; ++c) {  // run_to_device's loop, without the copies
    Slot& slot = ring[static_cast<std::size_t>(c % p.slots)];
    const int64_t start = c * ce, n = std::min(ce, p.numel - start);
    host_chunk(p.layout, src.data, src.dtype, p.byteswap, slot.host.data(), p.link_dtype, start, start + n,
               host_threads);
  }
}

Tensor to_device(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  ASTENSOR_CHECK_VALUE(src.device.is_cpu(), "[transfer] to_device: the source is on ", src.device.str(),
                       ", not the host");
  check_accelerator(device, "to_device: the destination");
  return run_to_device(src, make_plan(src, dtype, device, options), options);
}

Tensor to_host(const ArrayView& src, DType dtype, const TransferOptions& options) {
  check_accelerator(src.device, "to_host: the source");
  return run_to_host(src, make_plan(src, dtype, Device::cpu(), options), options);
}

Tensor device_to_device(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  check_accelerator(src.device, "device_to_device: the source");
  check_accelerator(device, "device_to_device: the destination");
  return run_transfer(src, make_plan(src, dtype, device, options), options);
}

Tensor transfer(const ArrayView& src, DType dtype, Device device, const TransferOptions& options) {
  if (src.device.is_cpu()) return to_device(src, dtype, device, options);
  if (device.is_cpu()) return to_host(src, dtype, options);
  return device_to_device(src, dtype, device, options);
}

}  // namespace astensor::transfer
