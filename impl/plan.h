#pragma once
/// Plan: what the optimized as_tensor will do with a source, as data (DESIGN.md "Plan").
/// plan() takes every decision (share or copy, why, how the copy runs, on how many threads,
/// what crosses which link); execute() follows it without deciding anything again;
/// explain() prints it (COPY-2). Tests assert plans; benchmarks label results with them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/array_view.h"
#include "core/backend.h"
#include "core/source.h"
#include "core/tensor.h"
#include "impl/cast_site.h"
#include "impl/cpu/copy.h"
#include "impl/transfer/options.h"

namespace astensor::impl {

/// The outcome.
enum class Decision : uint8_t {
  ReturnSame,  ///< TEN-1: the input tensor itself
  Share,       ///< ARR-1: a new tensor header on the source's memory; nothing copied
  CopyHost,    ///< a new host tensor filled by the CPU kernels
  Transfer,    ///< a new tensor where the source or the target is a device (impl/transfer)
};
const char* decision_name(Decision d);

/// How the host copy runs (the collapsed layout is in Plan::layout).
enum class CopyKind : uint8_t {
  None,          ///< nothing to copy (no copy, or zero elements)
  Memcpy,        ///< same dtype, the source is one contiguous run in the output's order
  Cast,          ///< one contiguous run, dtype change (vectorized cast)
  Gather,        ///< strided / negative / broadcast source, one pass (with the cast if any)
  Byteswap,      ///< non-native byte order (ARR-4), swapped in the same pass as the gather/cast
  SequenceFill,  ///< nested data written straight into the output (SEQ-*)
};
const char* copy_kind_name(CopyKind k);

/// Bytes that cross one link (host memory counts as "cpu").
struct LinkBytes {
  Device from, to;
  int64_t nbytes = 0;
};

/// Plan::transfer: how the transfer pipeline (impl/transfer) moves the data when the source
/// or the result is on a device. The rest of the transfer's decision is in the Plan itself:
/// devices and dtypes (src_device, device, src_dtype, dtype), the result's strides (TEN-3),
/// the source in the result's memory order (layout; its numel is the element count), where
/// the cast runs (cast_site) and the bytes over each link (links).
struct TransferSteps {
  Link link = Link::H2D;              ///< the link the data crosses (via_host: d2h first)
  DType link_dtype = DType::float32;  ///< the dtype of the bytes crossing the link
  bool direct = false;      ///< one async copy from the source memory itself (pinned or device)
  bool staged = false;      ///< through the pinned staging ring
  bool gather = false;      ///< the source is not dense in the result's memory order
  /// The host swaps bytes: the source is in non-native order (Plan::byteswap) and its items are
  /// wider than one byte.
  bool swap_bytes = false;
  bool via_host = false;    ///< routed device -> host -> device (different backends)
  bool small = false;       ///< the small-copy path (staged, one chunk, one stream)
  uint64_t chunk_bytes = 0; ///< bytes per staging chunk (staged only)
  int64_t chunk_elems = 0;  ///< elements per staging chunk, the largest (staged only)
  /// Elements of the first and last chunk when the chunks ramp (Note [Ramped chunks] in
  /// impl/transfer/planner.cpp); 0: every chunk but the last is chunk_elems.
  int64_t ramp_elems = 0;
  int64_t chunks = 0;
  int slots = 0;
  int host_threads = 0;     ///< most host threads per staging chunk (staged only)
  /// Why: the cast placement rule and the path, for explain(), e.g. "narrowing cast
  /// float64->float32: cast on the host while staging; pageable source staged through pinned
  /// slots".
  std::string reason;
  /// What the plan was made with; the executors run with them, explain() names them
  /// (transfer::options_str).
  transfer::TransferOptions options;
};

struct Plan {
  Decision decision = Decision::CopyHost;
  /// The rules that decided, most important first (static strings: planning the share path
  /// allocates nothing), e.g. "ARR-1: same dtype and device: shared".
  static constexpr int kMaxReasons = 5;
  const char* reasons[kMaxReasons] = {};
  int num_reasons = 0;
  void add_reason(const char* r) {
    if (num_reasons < kMaxReasons) reasons[num_reasons++] = r;
  }
  CopyKind copy = CopyKind::None;
  CastSite cast_site = CastSite::None;  ///< where the dtype change runs (None: same dtype)

  DType src_dtype = DType::float32, dtype = DType::float32;  ///< source and result dtypes
  Device src_device = Device::cpu(), device = Device::cpu(); ///< resolved
  Dims shape;                  ///< result shape
  Dims strides;                ///< result strides in elements (TEN-3 for copies)
  bool byteswap = false;       ///< the source is in non-native byte order
  bool records_grad = false;   ///< GRAD-1: the copy gets a ToCopyBackward node
  /// XFER-4 (Options::non_blocking, Options::stream): a transfer returns once the source has
  /// been read and leaves a Pending on its result (Note [Pending results]); its device work
  /// is queued on `stream` (a stream of the device doing the work: the target's, the
  /// source's for device -> host), or on the current stream when null. Host copies ignore
  /// both.
  bool non_blocking = false;
  StreamHandle stream = nullptr;

  int64_t share_lo = 0;        ///< Share: lowest element touched, relative to element 0
  int64_t share_nbytes = 0;    ///< Share: bytes of the shared storage (the touched extent)

  /// CopyHost and Transfer: the collapsed copy, the source in the result's memory order
  /// (layout.numel: the element count).
  cpu::CopyLayout layout;
  int threads = 1;             ///< CopyHost / SequenceFill: threads for the copy
  int64_t bytes_read = 0;      ///< host bytes the CPU kernels read (Transfer: the staging's)
  int64_t bytes_written = 0;   ///< output bytes written
  std::vector<LinkBytes> links;  ///< Transfer: bytes across each link, in order

  /// Transfer: how the pipeline moves the data (transfer::plan_transfer: link dtype, staged
  /// or direct, chunks); execute() runs exactly this plan (transfer::run_transfer).
  /// Nested data to a device: planned when the host result exists (its memory decides
  /// staged or direct), so empty here; the host fill is then one staged h2d, no cast.
  std::optional<TransferSteps> transfer;

  /// Bytes over the first link (a transfer's own link; d2h for one via the host); 0 when
  /// nothing crosses.
  uint64_t link_bytes() const { return links.empty() ? 0 : static_cast<uint64_t>(links.front().nbytes); }

  /// Multi-line, human-readable (COPY-2).
  std::string str() const;
  /// The "transfer:" line of str() (transfer set), one line, e.g. "h2d staged (3 slots x
  /// 4 MiB, 2 chunks, up to 1 host thread): cpu float64 -> sim:0 float32, cast on the host;
  /// 8 MiB (float32) over h2d; ...; tunables: ...". Made in impl/transfer/planner.cpp, next to
  /// the rules it reports.
  std::string transfer_str() const;
};

/// The decision about an array source (ARR-1..7, ARR-11, COPY-1), taken once by
/// decide_array(): whether it is shared, and where (the share geometry). plan() keeps it in
/// the Plan (Decision::Share, strides, share_lo, share_nbytes); as_tensor's array path uses
/// it directly, so the zero-copy call builds no Plan (a Plan is a few hundred bytes of
/// layout, links and transfer fields, constructed and destroyed for nothing when sharing)
/// and a copy gets its Plan from this same decision (plan_array), not from a second one.
/// Where a shared array's tensor lies (ARR-1, ARR-3, ARR-6).
struct ShareGeometry {
  Dims strides;          ///< element strides (any sign: ARR-3)
  int64_t lo = 0;        ///< lowest element touched, relative to element 0
  int64_t nbytes = 0;    ///< bytes of the touched extent
};
struct ArrayDecision {
  int64_t numel = 0;
  DType dtype = DType::float32;  ///< resolved result dtype
  Device device = Device::cpu(); ///< resolved result device
  bool element_strided = true;   ///< byte strides are multiples of the item size (ARR-5)
  bool share = false;            ///< ARR-1: a new header on the source's memory
  /// share: the tensor's place. Built in place (aggregate initialisation from a prvalue):
  /// a temporary Dims moved in here and out again cost a store-forwarding stall per call.
  ShareGeometry geometry;
};
/// The decision about a tensor source (TEN-1/TEN-2): `same` = TEN-1 applies (return the
/// tensor itself; no Plan needed); otherwise plan_tensor() builds the copy's Plan from it.
struct TensorDecision {
  DType dtype = DType::float32;   ///< resolved result dtype
  Device device = Device::cpu();  ///< resolved result device
  bool same = false;
};
TensorDecision decide_tensor(const Tensor& t, const Options& options);
Plan plan_tensor(const Tensor& t, const Options& options, const TensorDecision& d);

/// Validates the view and decides; raises COPY-1's error when copy=False and a copy is needed.
ArrayDecision decide_array(const ArrayView& v, const Options& options);
/// The plan of an array source from its decision (decide_array(v, options)).
Plan plan_array(const ArrayView& v, const Options& options, ArrayDecision&& d);

}  // namespace astensor::impl
