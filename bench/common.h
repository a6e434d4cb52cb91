#pragma once
/// Shared pieces of bench_as_tensor: the size axis, the implementations under test
/// (reference and, when it is built, the optimized one), host buffers, the machine limits
/// measured in the same process (the roofline), and the labels every case carries.
///
/// Case names are "family/what/key:value/...": the family (cpu, cast, seq, sim, cuda) comes
/// first so that --benchmark_filter selects it, and every axis is a key:value segment that
/// reports/generate.py parses back.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/source.h"
#include "core/tensor.h"

// The optimized implementation (impl/as_tensor.h, CMake target astensor_impl) joins the
// binary as soon as both exist; bench/CMakeLists.txt defines ASTENSOR_BENCH_LINK_IMPL when
// the target does, so a header without its library cannot break the link.
#if __has_include("impl/as_tensor.h") && defined(ASTENSOR_BENCH_LINK_IMPL)
#define ASTENSOR_BENCH_HAVE_IMPL 1
#else
#define ASTENSOR_BENCH_HAVE_IMPL 0
#endif

namespace astensor::bench {

// --- implementations ----------------------------------------------------------------------

enum class Impl { Reference, Optimized };
const char* impl_name(Impl impl);  // "reference" / "optimized"
/// The implementations this binary holds: reference always, optimized when built.
std::vector<Impl> impls();
/// Calls the chosen as_tensor.
Tensor call_as_tensor(Impl impl, const Source& source, const Options& options);

/// The timed loop of the host cases: as_tensor(src, o) once per iteration, its result dropped
/// at once, with the minor page faults and the wall seconds of the whole loop.
struct LoopCost {
  long long faults;
  double seconds;
};
LoopCost time_as_tensor(benchmark::State& state, Impl impl, const Source& src, const Options& o);

/// The transfer pipeline's stage counters (impl/transfer: transfer::stage_counters) over a timed
/// loop, per call (issue 12): begin_stage_counters() resets them; report_stage_counters() adds
/// stage_us (host staging: gather, cast, byteswap into or out of pinned slots), wait_us (blocked
/// on a slot's reuse or the final synchronize), chunks (staging chunks per call) and small (the
/// share of transfers on the small-copy path) to the case, when any transfer ran. Both do
/// nothing without the optimized implementation. time_as_tensor() calls them.
void begin_stage_counters();
void report_stage_counters(benchmark::State& state);

// --- the size axis --------------------------------------------------------------------------

/// The byte sizes of the size axis: 4 KiB * 16^k up to max_bytes() (4K, 64K, 1M, 16M, 256M,
/// 1G). max_bytes() is --astensor_max_bytes=... or $ASTENSOR_BENCH_MAX_BYTES (e.g. "64MiB"),
/// default 256 MiB, and never more than a quarter of physical memory.
std::vector<std::size_t> sizes();
std::size_t max_bytes();
void set_max_bytes(std::size_t b);
/// Parses "4096", "64KiB", "16MiB", "1GiB" (also K/M/G, KB/MB/GB as powers of 1024).
std::size_t parse_bytes(const std::string& text);
/// "4KiB", "64KiB", "1MiB", "256MiB", "1GiB" (exact powers), else the byte count.
std::string bytes_str(std::size_t b);

// --- host memory ----------------------------------------------------------------------------

/// A page-aligned anonymous mapping, pre-faulted (every page written) unless told not to.
/// Moves, never copies; unmapped in the destructor.
class HostBuffer {
 public:
  HostBuffer() = default;
  /// `huge`: 2 MiB-aligned with MADV_HUGEPAGE, as the optimized implementation maps its
  /// large outputs (impl/cpu/host_alloc.h), so that a fresh-output baseline pays the same
  /// faults as it (one per 2 MiB).
  explicit HostBuffer(std::size_t nbytes, bool prefault = true, bool huge = false);
  HostBuffer(HostBuffer&& o) noexcept;
  HostBuffer& operator=(HostBuffer&& o) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  ~HostBuffer();

  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  template <class T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Fills a buffer with a deterministic pattern that is valid for `dtype` (finite floats,
/// small integers), so casts do not take NaN/overflow slow paths by accident.
void fill_pattern(void* data, DType dtype, int64_t numel);

/// The layout axis of copies and casts.
enum class Layout {
  Contig,      ///< 1-D, C-contiguous
  EveryOther,  ///< a[:, ::2] of a (rows, 2*cols) array: not dense, the copy gathers
  Transpose,   ///< a.T of a (rows, cols) array: dense, so TEN-3 keeps its strides
  /// a[:, ::2].T of a (rows, 2*cols) array: not dense, so the copy is C-contiguous and
  /// gathers down the source's columns (the tiled path of impl/cpu/copy.cpp)
  TransposeGather,
};
const char* layout_name(Layout l);  // "contig", "every_other", "transpose", "transpose_gather"
/// Bytes the backing buffer needs for `numel` elements of `dtype` in `layout`.
std::size_t layout_buffer_bytes(DType dtype, int64_t numel, Layout layout);
/// The view of `numel` elements of `dtype` in `layout` over `base` (which holds
/// layout_buffer_bytes()).
ArrayView layout_view(const void* base, DType dtype, int64_t numel, Layout layout);

/// A host array for a case: its own pre-faulted buffer, filled with fill_pattern().
struct HostArray {
  HostBuffer buffer;
  ArrayView view;
  int64_t numel = 0;
};
HostArray make_host_array(DType dtype, std::size_t bytes, Layout layout);

/// Minor page faults of this process so far (getrusage), to tell fresh output memory (one
/// fault per 4 KiB page on first touch) from reused memory.
long long minor_faults();

// --- machine limits (the roofline) ----------------------------------------------------------

/// Threads the optimized implementation may use: $ASTENSOR_NUM_THREADS, else all cores.
int impl_threads();
int threads_for(Impl impl);  // reference: 1; optimized: impl_threads()

/// The state of a memcpy baseline's output memory: pre-faulted (`reused`), a fresh mapping
/// of 4 KiB pages per call (`fresh`: glibc's large allocations, the reference's outputs), or
/// a fresh 2 MiB-aligned MADV_HUGEPAGE mapping per call (`fresh_huge`: the optimized
/// implementation's fresh outputs of kHugePageMinBytes and more).
enum class OutMemory { Reused, Fresh, FreshHuge };
const char* out_memory_name(OutMemory m);  // "reused", "fresh", "fresh_huge"

/// Host memcpy bandwidth (bytes/s) with `threads` threads at `bytes`, into output memory in
/// state `out`: the value the cpu/memcpy case stored when it ran at that (threads, bytes,
/// out) in this process, else a short calibration run now (stored too). Never 0.
double memcpy_limit(int threads, std::size_t bytes, OutMemory out = OutMemory::Reused);
void store_memcpy_limit(int threads, std::size_t bytes, double bytes_per_s,
                        OutMemory out = OutMemory::Reused);

/// Parallel memcpy on a persistent pool of `threads` workers (threads == 1: plain memcpy).
void parallel_memcpy(void* dst, const void* src, std::size_t n, int threads);

/// Pinned copy-engine bandwidth (bytes/s) per direction measured by the cuda/*/memcpy_pinned
/// case in this process; 0 when not measured (yet).
double pinned_limit(bool h2d);
void store_pinned_limit(bool h2d, double bytes_per_s);

// --- per-case reporting ---------------------------------------------------------------------

/// What one case moved, and how to judge it.
struct CaseInfo {
  Impl impl = Impl::Reference;
  int64_t numel = 0;          ///< elements converted per iteration
  std::size_t src_bytes = 0;  ///< bytes read per iteration (SetBytesProcessed)
  std::size_t dst_bytes = 0;  ///< bytes written per iteration
  std::size_t out_bytes = 0;  ///< size of the output allocated per iteration (0: none)
  std::size_t limit_bytes = 0;  ///< size at which to take the memcpy limit (default src_bytes)
};

/// Sets bytes processed, elements/s, the roofline counters and the label. Call after the
/// loop with the faults counted around it. The roofline: a case that reads S and writes D
/// bytes is at the limit when it runs as fast as memcpy of (S + D) / 2 bytes with the same
/// thread count, into output memory in the SAME state as the case's: when the case's output
/// was fresh, the limit adds what memcpy pays to fault in D fresh bytes of the same page
/// size (the fresh minus the reused memcpy time per byte, measured at the same size), so a
/// fresh case is never judged against a pre-faulted baseline. `roofline` = that limit time /
/// the case's time (CPU time = wall time here: every case is single-process, and memcpy is
/// measured the same way).
/// The label: "<impl> out:<fresh|reused|none> limit:<reused|fresh|fresh_huge>", out:fresh
/// when the loop took at least half a page fault per output page per iteration.
void report_host_case(benchmark::State& state, const CaseInfo& info, long long faults,
                      double seconds);

/// Output freshness from measured faults ("fresh", "reused", "none").
const char* out_state(std::size_t out_bytes, long long faults, int64_t iterations,
                      std::size_t page_bytes = 4096);

/// Wall seconds since an arbitrary epoch (steady clock).
double now_s();

// --- registration ---------------------------------------------------------------------------

/// Each family registers its cases; main() calls them in this order (memcpy first, so the
/// roofline limits are in place before the cases that use them).
void register_cpu();
void register_cast();
void register_seq();
void register_sim();
void register_cuda();
void register_retained();  // the alloc:retain variants, last (see cpu_cases.cpp)

/// The host conversion loop shared by cpu/copy and cast/...: as_tensor of a host array of
/// `bytes` (source bytes) in `layout` to dtype `to` on the CPU (copy=True when from == to).
void bm_host_convert(benchmark::State& state, Impl impl, DType from, DType to, Layout layout,
                     std::size_t bytes);
/// "<head>/impl:<impl>/alloc:<alloc>/bytes:<size>".
std::string case_name(const std::string& head, Impl impl, const char* alloc, std::size_t bytes);

/// Lines main() prints before the run (what is built, what is skipped and why).
std::vector<std::string>& notes();

}  // namespace astensor::bench
