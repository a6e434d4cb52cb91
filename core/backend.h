#pragma once
/// The device backend interface (docs/architecture.md): what the library needs from a
/// device. Three implementations: the host (CPU, here in core), the simulated accelerator
/// (backends/sim) and CUDA (backends/cuda), which register themselves (Note [Backend
/// registry]). The reference uses only the synchronous part; the optimized transfer pipeline
/// (impl/transfer) is written once against the asynchronous part.
///
/// Asynchronous model (CUDA's): work is queued on streams and runs in queue order; events
/// mark a point in a stream; other streams and the host wait on events. Copies and kernels
/// read their source when they run, not when they are queued, so a host buffer handed to
/// copy_async() must stay unchanged until an event recorded after the copy has completed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "core/device.h"
#include "core/dims.h"
#include "core/dtype.h"

namespace astensor {

/// Opaque handles; their meaning belongs to the backend that made them (CUDA: cudaStream_t,
/// cudaEvent_t; sim: its own objects). Note [Null handles]: a null StreamHandle or
/// EventHandle names nothing. No backend returns one (create_stream, current_stream,
/// create_event never give null) and callers never pass one, with one exception:
/// set_current_stream(device, nullptr) restores the device's default current stream. (CUDA's
/// legacy default stream is not reachable through a null handle: the library never queues
/// work on it; a producer that names it through a protocol passes the integer 1 to
/// wait_external_stream.) destroy_stream and destroy_event ignore null.
using StreamHandle = void*;
using EventHandle = void*;

/// What a pointer is, as far as a backend knows (pointer attributes).
enum class MemoryKind : uint8_t {
  Unregistered,  ///< ordinary (pageable) host memory, or unknown to the backend
  Pinned,        ///< page-locked host memory allocated by (or registered with) the backend
  Device,        ///< memory of `device`
};
struct PointerInfo {
  MemoryKind kind = MemoryKind::Unregistered;
  Device device = Device::cpu();  ///< the owning device when kind == Device
};

/// The four links a copy can cross; counters are kept per link.
enum class Link : uint8_t { H2D = 0, D2H = 1, D2D = 2, Peer = 3 };
inline constexpr int kNumLinks = 4;
const char* link_name(Link l);  // "h2d", "d2h", "d2d", "peer"

/// Bytes moved and kernels launched since the last reset_counters(), so tests can assert
/// which path ran (issue 6: "plan assertions"). Copies whose host side is pinned count as
/// pinned; host sides that are plain pageable memory count as pageable. D2D and Peer copies
/// count as pinned (no host memory involved).
struct TransferCounters {
  std::array<uint64_t, kNumLinks> pinned_bytes{};
  std::array<uint64_t, kNumLinks> pageable_bytes{};
  std::array<uint64_t, kNumLinks> copies{};
  uint64_t kernel_launches = 0;
  uint64_t kernel_elements = 0;
  /// Device-side time (issue 12's per-stage counters), where the backend measures it
  /// (`device_times`): nanoseconds each link's copies held their copy engine (on sim under the
  /// link model: the modelled time, or the memcpy's when longer; without it: the memcpy), and
  /// nanoseconds the device's kernels ran (sim: its cast kernels and its modelled pauses,
  /// sim::enqueue_sleep). The CUDA backend does not time its device work (that would need an
  /// event pair around every copy and kernel): there Nsight shows it, and these stay 0.
  bool device_times = false;
  std::array<uint64_t, kNumLinks> copy_ns{};
  uint64_t kernel_ns = 0;

  uint64_t bytes(Link l) const {
    return pinned_bytes[static_cast<int>(l)] + pageable_bytes[static_cast<int>(l)];
  }
};

/// The one device kernel the transfer path needs: element-wise DT-3 cast (core/cast.h) with a
/// strided gather and an optional strided scatter. The elements visited are the linear
/// indices [start, start + count) of `shape` in row-major order; element i is read at
/// src + dot(index(i), src_strides) and written at dst + dot(index(i), dst_strides), or at
/// dst + (i - start) * itemsize(dst_dtype) when dst_strides is empty (contiguous output).
/// Strides are in BYTES and may be negative or unaligned (ARR-5, ARR-6). Both pointers must
/// be memory of the device the kernel runs on. count == 0 launches nothing.
struct CastKernel {
  const void* src = nullptr;
  DType src_dtype = DType::float32;
  Dims shape;
  Dims src_strides;
  void* dst = nullptr;
  DType dst_dtype = DType::float32;
  Dims dst_strides;  ///< empty: contiguous
  int64_t start = 0;
  int64_t count = 0;
};
/// Device kernels index at most this many dimensions (after merging mergeable ones).
inline constexpr int kMaxKernelDims = 25;

// --- the Backend interface, in four roles -------------------------------------------------
//
// Note [Backend roles]
// A backend is one class (Backend) made of four small interfaces, so that code which needs
// one role can say so and each role is documented in one place: DeviceMemory, StreamsAndEvents,
// Copies, Kernels. Conventions for all of them:
//  - `int device` is an index of the backend's own device type (0..device_count()-1); a
//    `Device` appears only where a pointer may be host memory too (copies, pointer_info).
//  - Sizes are bytes (std::size_t); CastKernel strides are bytes; counts are elements.
//  - Failures throw astensor errors (core/error.h): RuntimeError for device and runtime
//    failures (out of memory names the size and device, DEV-4), ValueError for bad arguments.
//    Functions marked noexcept never throw; they report through the backend's own means.
//  - Null handles: Note [Null handles] above.
// The CPU backend (core/backend.cpp) implements memory and synchronous copies only; the rest
// throws "not supported" (Backend's defaults below). Sim and CUDA implement everything.

/// Role 1: memory. Device memory, page-locked host memory, and what a pointer is.
class DeviceMemory {
 public:
  /// `nbytes` of memory of `device`; nbytes may be 0. Throws RuntimeError when out of
  /// memory. The caller owns it and frees it with deallocate().
  virtual void* allocate(int device, std::size_t nbytes) = 0;
  /// Frees what allocate(device, ...) returned, after the device's queued work (sim waits for
  /// its streams; cudaFree synchronizes). Stream-ordered reuse without that wait is the
  /// caching allocator's job (impl/transfer/device_allocator.h).
  virtual void deallocate(int device, void* ptr) noexcept = 0;
  /// Page-locked host memory usable by every device of the backend. Expensive:
  /// callers go through the caching pool (impl/transfer/pinned_pool.h), never per transfer.
  virtual void* allocate_pinned(std::size_t nbytes) = 0;
  virtual void free_pinned(void* ptr) noexcept = 0;
  /// Page-locks an existing host buffer (cudaHostRegister) so copies from it go straight to
  /// the copy engine; pointer_info() then reports it Pinned. Costly: worth it only for
  /// buffers that are transferred again and again. RuntimeError when the range overlaps
  /// memory the backend already knows. The buffer must outlive the registration
  /// (HostRegistration below owns one).
  virtual void register_host(void* ptr, std::size_t nbytes) = 0;
  virtual void unregister_host(void* ptr) noexcept = 0;
  /// Which memory `ptr` is: pageable host (or unknown), pinned host, or which device's.
  virtual PointerInfo pointer_info(const void* ptr) = 0;

 protected:
  ~DeviceMemory() = default;
};

/// Role 2: streams and events (CUDA's model). Work queued on one stream runs in queue order;
/// events mark a point in a stream; other streams and the host wait on events.
class StreamsAndEvents {
 public:
  /// A new stream of `device` that does not synchronize with any other stream (CUDA:
  /// cudaStreamNonBlocking). Work queued before destroy_stream still runs.
  virtual StreamHandle create_stream(int device) = 0;
  virtual void destroy_stream(int device, StreamHandle s) noexcept = 0;
  /// The current stream (per thread, per device) starts as the device's default stream, a
  /// stream of the library's own; never null. set_current_stream(device, nullptr) restores
  /// that default (Note [Null handles]).
  virtual StreamHandle current_stream(int device) = 0;
  virtual void set_current_stream(int device, StreamHandle s) = 0;
  /// Blocks until everything queued on `s` has run; rethrows a failure of queued work.
  virtual void synchronize_stream(StreamHandle s) = 0;
  /// Blocks until every stream of `device` is idle.
  virtual void synchronize_device(int device) = 0;

  /// record marks the current end of a stream's queue; stream_wait_event makes a stream
  /// wait for the last record; synchronize_event blocks the host; query_event says whether
  /// it completed. An event never recorded counts as completed.
  virtual EventHandle create_event(int device) = 0;
  virtual void destroy_event(EventHandle e) noexcept = 0;
  virtual void record_event(EventHandle e, StreamHandle s) = 0;
  virtual void stream_wait_event(StreamHandle s, EventHandle e) = 0;
  virtual void synchronize_event(EventHandle e) = 0;
  virtual bool query_event(EventHandle e) = 0;

  /// CAI-3 / DLP-2: orders `consumer` after the work pending on a producer's stream given as
  /// the integer a protocol carries (CUDA: 1 legacy default, 2 per-thread default, else a
  /// cudaStream_t; sim: 1 and 2 likewise, else a StreamHandle cast to an integer). 0 is
  /// rejected with ValueError (the protocols forbid it).
  virtual void wait_external_stream(int device, intptr_t producer, StreamHandle consumer) = 0;

 protected:
  ~StreamsAndEvents() = default;
};

/// Role 3: copies between host memory and device memory, and between devices.
class Copies {
 public:
  /// Blocking copy of nbytes between host memory and this backend's device memory (or
  /// within it, across its devices). When it returns the destination holds the bytes. Like
  /// cudaMemcpy it is ordered after work already queued on the devices involved.
  virtual void copy_sync(void* dst, Device dst_device, const void* src, Device src_device,
                         std::size_t nbytes) = 0;
  /// Queues a copy of nbytes on `stream` (a stream of the device doing the work: the
  /// destination's for H2D and peer copies, the source's for D2H). Host pointers may be
  /// pageable or pinned; the copy reads its source when it runs, not when it is queued, so
  /// host memory must stay valid and unchanged (source) or untouched (destination) until an
  /// event recorded after the copy has completed.
  virtual void copy_async(void* dst, Device dst_device, const void* src, Device src_device,
                          std::size_t nbytes, StreamHandle stream) = 0;

 protected:
  ~Copies() = default;
};

/// Role 4: the one device kernel the pipeline needs (CastKernel above).
class Kernels {
 public:
  /// Queues `k` on `stream`, a stream of `device`; both of k's pointers are memory of
  /// `device`. Must give DT-3's bits (core/cast.h), as the reference does (XFER-3).
  virtual void launch_cast(int device, const CastKernel& k, StreamHandle stream) = 0;

 protected:
  ~Kernels() = default;
};

/// A device backend: its identity and queries, the four roles, and transfer counters.
class Backend : public DeviceMemory, public StreamsAndEvents, public Copies, public Kernels {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;

  /// Number of devices present; 0 when none, and then unavailable_reason() says why
  /// ("no CUDA driver found", "astensor was built without CUDA").
  virtual int device_count() = 0;
  virtual std::string unavailable_reason() = 0;
  /// The device an index-less Device means ("cuda" -> the current CUDA device).
  virtual int current_device() = 0;

  /// Transfer counters since the last reset (all devices of this backend). Kept by sim and
  /// by CUDA: the device suites assert which path ran (pinned or pageable, how many bytes
  /// over which link, how many kernels) on real hardware too, not only on sim. The cost is
  /// one relaxed atomic add per copy or launch, never per element.
  virtual TransferCounters counters();
  virtual void reset_counters();

  // Defaults for a backend without streams (the CPU): each throws RuntimeError
  // "<what> is not supported by this backend", the noexcept ones do nothing, pointer_info
  // says "unregistered", synchronize_device returns.
  void* allocate_pinned(std::size_t nbytes) override;
  void free_pinned(void* ptr) noexcept override;
  void register_host(void* ptr, std::size_t nbytes) override;
  void unregister_host(void* ptr) noexcept override;
  PointerInfo pointer_info(const void* ptr) override;
  StreamHandle create_stream(int device) override;
  void destroy_stream(int device, StreamHandle s) noexcept override;
  StreamHandle current_stream(int device) override;
  void set_current_stream(int device, StreamHandle s) override;
  void synchronize_stream(StreamHandle s) override;
  void synchronize_device(int device) override;
  EventHandle create_event(int device) override;
  void destroy_event(EventHandle e) noexcept override;
  void record_event(EventHandle e, StreamHandle s) override;
  void stream_wait_event(StreamHandle s, EventHandle e) override;
  void synchronize_event(EventHandle e) override;
  bool query_event(EventHandle e) override;
  void wait_external_stream(int device, intptr_t producer, StreamHandle consumer) override;
  void copy_async(void* dst, Device dst_device, const void* src, Device src_device,
                  std::size_t nbytes, StreamHandle stream) override;
  void launch_cast(int device, const CastKernel& k, StreamHandle stream) override;
};

/// Note [Backend registry]
/// Core knows one backend by name, the host's (CPU). Each device backend lives in its own
/// library under backends/ (astensor_backend_sim, astensor_backend_cuda) and registers itself
/// while the program starts, from a namespace-scope initializer in its own source:
///
///   const bool registered = register_backend(DeviceType::Sim, &sim_backend);
///
/// Nothing names that initializer, so a static library's linker would drop it: the backend
/// libraries are linked whole, through the INTERFACE target astensor_backends
/// (astensor::backends in the package), which astensor_reference and astensor_impl link. A
/// program that links core alone still works on the CPU; asking it for another device type
/// gets a backend with no devices whose unavailable_reason() says that no backend for the
/// type is linked (DEV-3), never a crash. backend() called from another static initializer
/// may run before the registrars; the library does not do that.

/// Returns a device type's backend; never null. `type` has no backend linked in: a stand-in
/// with device_count() == 0 and the reason. CUDA in a build without CUDA: the CUDA stub
/// (backends/cuda/no_cuda_backend.cpp), which says so.
Backend& backend(DeviceType type);

/// What a backend library registers: a function returning its process-wide backend.
using BackendGetter = Backend& (*)();

/// Registers `get` as the backend of `type` (Note [Backend registry]); returns true. Throws
/// RuntimeError for DeviceType::CPU (core's own) and for a type already registered with a
/// different getter (two libraries claiming one device type is a build mistake).
bool register_backend(DeviceType type, BackendGetter get);

/// Resolves an index-less accelerator to the current device and checks that the device is
/// present (DEV-3): RuntimeError saying what was found otherwise. Allocates nothing.
Device resolve_device(Device d);

/// Blocking copy between any two devices (host staging when neither side is the CPU and
/// the backends differ).
void copy_bytes_sync(void* dst, Device dst_device, const void* src, Device src_device,
                     std::size_t nbytes);

// --- RAII owners ----------------------------------------------------------------------------

/// An owned stream (destroyed, after its work finishes, when the owner goes).
class Stream {
 public:
  Stream() = default;
  Stream(Backend& be, int device) : be_(&be), device_(device), h_(be.create_stream(device)) {}
  Stream(Stream&& o) noexcept { *this = std::move(o); }
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = std::exchange(o.be_, nullptr);
      device_ = o.device_;
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { reset(); }

  StreamHandle get() const { return h_; }
  int device() const { return device_; }
  void synchronize() const { be_->synchronize_stream(h_); }
  void reset() noexcept {
    if (be_) be_->destroy_stream(device_, h_);
    be_ = nullptr;
    h_ = nullptr;
  }

 private:
  Backend* be_ = nullptr;
  int device_ = -1;
  StreamHandle h_ = nullptr;
};

/// An owned event.
class Event {
 public:
  Event() = default;
  Event(Backend& be, int device) : be_(&be), h_(be.create_event(device)) {}
  Event(Event&& o) noexcept { *this = std::move(o); }
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = std::exchange(o.be_, nullptr);
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { reset(); }

  EventHandle get() const { return h_; }
  void record(StreamHandle s) const { be_->record_event(h_, s); }
  void block(StreamHandle s) const { be_->stream_wait_event(s, h_); }  ///< s waits for it
  void synchronize() const { be_->synchronize_event(h_); }
  bool query() const { return be_->query_event(h_); }
  void reset() noexcept {
    if (be_) be_->destroy_event(h_);
    be_ = nullptr;
    h_ = nullptr;
  }

 private:
  Backend* be_ = nullptr;
  EventHandle h_ = nullptr;
};

/// An owned block of pinned host memory straight from the backend (not pooled).
class PinnedBlock {
 public:
  PinnedBlock() = default;
  PinnedBlock(Backend& be, std::size_t nbytes)
      : be_(&be), p_(be.allocate_pinned(nbytes)), n_(nbytes) {}
  PinnedBlock(PinnedBlock&& o) noexcept { *this = std::move(o); }
  PinnedBlock& operator=(PinnedBlock&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = std::exchange(o.be_, nullptr);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  PinnedBlock(const PinnedBlock&) = delete;
  PinnedBlock& operator=(const PinnedBlock&) = delete;
  ~PinnedBlock() { reset(); }

  void* data() const { return p_; }
  std::size_t size() const { return n_; }
  void reset() noexcept {
    if (be_) be_->free_pinned(p_);
    be_ = nullptr;
    p_ = nullptr;
    n_ = 0;
  }

 private:
  Backend* be_ = nullptr;
  void* p_ = nullptr;
  std::size_t n_ = 0;
};

/// A host buffer registered (page-locked) for the owner's lifetime; the buffer must outlive it.
class HostRegistration {
 public:
  HostRegistration() = default;
  HostRegistration(Backend& be, void* ptr, std::size_t nbytes) : be_(&be), p_(ptr) {
    be.register_host(ptr, nbytes);
  }
  HostRegistration(HostRegistration&& o) noexcept { *this = std::move(o); }
  HostRegistration& operator=(HostRegistration&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = std::exchange(o.be_, nullptr);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  HostRegistration(const HostRegistration&) = delete;
  HostRegistration& operator=(const HostRegistration&) = delete;
  ~HostRegistration() { reset(); }
  void reset() noexcept {
    if (be_) be_->unregister_host(p_);
    be_ = nullptr;
    p_ = nullptr;
  }

 private:
  Backend* be_ = nullptr;
  void* p_ = nullptr;
};

}  // namespace astensor
