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

/// Opaque handles; their meaning belongs to the backend that made them. A null StreamHandle
/// is a valid stream on CUDA (the legacy default stream); sim never returns null.
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

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;

  /// Number of devices present; 0 when none, and then unavailable_reason() says why
  /// ("no CUDA driver found", "astensor was built without CUDA").
  virtual int device_count() = 0;
  virtual std::string unavailable_reason() = 0;
  /// The device an index-less Device means ("cuda" -> the current CUDA device).
  virtual int current_device() = 0;

  /// Device memory. allocate() throws RuntimeError on failure; nbytes may be 0.
  virtual void* allocate(int device, std::size_t nbytes) = 0;
  virtual void deallocate(int device, void* ptr) noexcept = 0;

  /// Blocking copy of nbytes between host memory and this backend's device memory (or
  /// within it, across its devices). When it returns the destination holds the bytes. Like
  /// cudaMemcpy it is ordered after work already queued on the devices involved.
  virtual void copy_sync(void* dst, Device dst_device, const void* src, Device src_device,
                         std::size_t nbytes) = 0;

  // --- asynchronous part (the CPU backend throws RuntimeError for all of it) -------------

  /// Page-locked host memory usable by every device of the backend. Expensive: callers go
  /// through the caching pool (impl/transfer/pinned_pool.h), never per transfer.
  virtual void* allocate_pinned(std::size_t nbytes);
  virtual void free_pinned(void* ptr) noexcept;
  /// Page-locks an existing host buffer (cudaHostRegister) so copies from it go straight to
  /// the copy engine; pointer_info() then reports it Pinned. Costly (perf-anchors §2.3):
  /// worth it only for buffers that are transferred again and again. RuntimeError when the
  /// range overlaps memory the backend already knows.
  virtual void register_host(void* ptr, std::size_t nbytes);
  virtual void unregister_host(void* ptr) noexcept;
  /// Which memory `ptr` is (host pageable, pinned, or which device's).
  virtual PointerInfo pointer_info(const void* ptr);

  /// Streams of a device. The current stream (per thread, per device) starts as the
  /// device's default stream; set_current_stream(nullptr-equivalent) is not special.
  virtual StreamHandle create_stream(int device);
  virtual void destroy_stream(int device, StreamHandle s) noexcept;
  virtual StreamHandle current_stream(int device);
  virtual void set_current_stream(int device, StreamHandle s);
  /// Blocks until everything queued on `s` has run; rethrows a failure of queued work.
  virtual void synchronize_stream(StreamHandle s);
  /// Blocks until every stream of `device` is idle.
  virtual void synchronize_device(int device);

  /// Events: record marks the current end of a stream's queue; wait makes a stream wait
  /// for the last record; synchronize blocks the host; query says whether it completed.
  /// An event never recorded counts as completed.
  virtual EventHandle create_event(int device);
  virtual void destroy_event(EventHandle e) noexcept;
  virtual void record_event(EventHandle e, StreamHandle s);
  virtual void stream_wait_event(StreamHandle s, EventHandle e);
  virtual void synchronize_event(EventHandle e);
  virtual bool query_event(EventHandle e);

  /// Queues a copy of nbytes on `stream` (a stream of the device doing the work: the
  /// destination's for H2D and peer copies, the source's for D2H). Host pointers may be
  /// pageable or pinned; the host memory must stay valid and unchanged (source) or
  /// untouched (destination) until the copy has run.
  virtual void copy_async(void* dst, Device dst_device, const void* src, Device src_device,
                          std::size_t nbytes, StreamHandle stream);
  /// Queues a cast / gather kernel on a stream of `device` (see CastKernel).
  virtual void launch_cast(int device, const CastKernel& k, StreamHandle stream);

  /// CAI-3 / DLP-2: orders `consumer` after the work pending on a producer's stream given as
  /// the integer a protocol carries (CUDA: 1 legacy default, 2 per-thread default, else a
  /// cudaStream_t; sim: a StreamHandle cast to an integer). 0 is rejected with ValueError.
  virtual void wait_external_stream(int device, intptr_t producer, StreamHandle consumer);

  /// Transfer counters since the last reset (all devices of this backend).
  virtual TransferCounters counters();
  virtual void reset_counters();
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
