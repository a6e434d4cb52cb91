#include "bench/common.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "core/cast.h"
#include "reference/as_tensor.h"
#if ASTENSOR_BENCH_HAVE_IMPL
#include "impl/cpu/host_alloc.h"
#include "impl/as_tensor.h"
#include "impl/transfer/transfer.h"
#endif

namespace astensor::bench {

// --- implementations ----------------------------------------------------------------------

const char* impl_name(Impl impl) { return impl == Impl::Reference ? "reference" : "optimized"; }

std::vector<Impl> impls() {
#if ASTENSOR_BENCH_HAVE_IMPL
  return {Impl::Reference, Impl::Optimized};
#else
  return {Impl::Reference};
#endif
}

Tensor call_as_tensor(Impl impl, const Source& source, const Options& options) {
#if ASTENSOR_BENCH_HAVE_IMPL
  if (impl == Impl::Optimized) return astensor::impl::as_tensor(source, options);
#endif
  (void)impl;
  return astensor::reference::as_tensor(source, options);
}

LoopCost time_as_tensor(benchmark::State& state, Impl impl, const Source& src, const Options& o) {
  begin_stage_counters();
  const long long f0 = minor_faults();
  const double t0 = now_s();
  for (auto _ : state) {
    Tensor t = call_as_tensor(impl, src, o);
    benchmark::DoNotOptimize(t.data_ptr());
  }
  const LoopCost cost{minor_faults() - f0, now_s() - t0};
  report_stage_counters(state);
  return cost;
}

void begin_stage_counters() {
#if ASTENSOR_BENCH_HAVE_IMPL
  transfer::reset_stage_counters();
#endif
}

void report_stage_counters(benchmark::State& state) {
#if ASTENSOR_BENCH_HAVE_IMPL
  const auto c = transfer::stage_counters();
  if (c.transfers == 0) return;
  const double calls = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["stage_us"] = static_cast<double>(c.host_stage_ns) / 1e3 / calls;
  state.counters["wait_us"] = static_cast<double>(c.wait_ns) / 1e3 / calls;
  state.counters["chunks"] = static_cast<double>(c.chunks) / calls;
  state.counters["small"] = static_cast<double>(c.small_transfers) / static_cast<double>(c.transfers);
#else
  (void)state;
#endif
}

// --- sizes ----------------------------------------------------------------------------------

namespace {
std::size_t g_max_bytes = 0;  // 0: not set yet

std::size_t memory_cap() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::size_t(1) << 30;
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4;
}
}  // namespace

std::size_t parse_bytes(const std::string& text) {
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (const std::exception&) {
    throw std::invalid_argument("[bench] not a byte size: '" + text + "'");
  }
  std::string unit = text.substr(pos);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mul = std::size_t(1) << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") mul = std::size_t(1) << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") mul = std::size_t(1) << 30;
  else throw std::invalid_argument("[bench] unknown byte unit in '" + text + "'");
  return static_cast<std::size_t>(v) * mul;
}

std::string bytes_str(std::size_t b) {
  if (b >= (std::size_t(1) << 30) && b % (std::size_t(1) << 30) == 0) return std::to_string(b >> 30) + "GiB";
  if (b >= (std::size_t(1) << 20) && b % (std::size_t(1) << 20) == 0) return std::to_string(b >> 20) + "MiB";
  if (b >= (std::size_t(1) << 10) && b % (std::size_t(1) << 10) == 0) return std::to_string(b >> 10) + "KiB";
  return std::to_string(b);
}

void set_max_bytes(std::size_t b) { g_max_bytes = b; }

std::size_t max_bytes() {
  if (g_max_bytes == 0) {
    g_max_bytes = std::size_t(256) << 20;
    if (const char* e = std::getenv("ASTENSOR_BENCH_MAX_BYTES"); e && *e) g_max_bytes = parse_bytes(e);
  }
  return std::min(g_max_bytes, memory_cap());
}

std::vector<std::size_t> sizes() {
  std::vector<std::size_t> out;
  for (std::size_t b = 4096; b <= max_bytes() && b <= (std::size_t(1) << 30); b *= 16) out.push_back(b);
  return out;
}

// --- host memory ----------------------------------------------------------------------------

HostBuffer::HostBuffer(std::size_t nbytes, bool prefault, bool huge) : size_(nbytes) {
  if (nbytes == 0) return;
  const std::size_t H = std::size_t(2) << 20, extra = huge ? H : 0;
  void* p = mmap(nullptr, nbytes + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("[bench] mmap of " + bytes_str(nbytes) + " failed");
  if (huge) {  // trim to a 2 MiB-aligned start, as impl/cpu/host_alloc.cpp does
    const auto base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t start = (base + H - 1) / H * H;
    if (start > base) munmap(p, start - base);
    const uintptr_t tail = start + nbytes, raw_end = base + nbytes + H;
    if (raw_end > tail) munmap(reinterpret_cast<void*>(tail), raw_end - tail);
    p = reinterpret_cast<void*>(start);
#if defined(MADV_HUGEPAGE)
    madvise(p, nbytes, MADV_HUGEPAGE);
#endif
  }
  data_ = p;
  if (prefault) std::memset(data_, 0, nbytes);
}

HostBuffer::HostBuffer(HostBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) munmap(data_, size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

HostBuffer::~HostBuffer() {
  if (data_) munmap(data_, size_);
}

void fill_pattern(void* data, DType dtype, int64_t numel) {
  dispatch_dtype(dtype, [&]<DType D>() {
    using T = storage_t<D>;
    T* p = static_cast<T*>(data);
    for (int64_t i = 0; i < numel; ++i) p[i] = cast_value<T>(static_cast<double>(i % 251) * 0.5);
  });
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contig: return "contig";
    case Layout::EveryOther: return "every_other";
    case Layout::Transpose: return "transpose";
    case Layout::TransposeGather: return "transpose_gather";
  }
  return "?";
}

namespace {
/// Columns of the 2-D layouts: a power of two near sqrt(numel), so both dims are non-trivial.
int64_t layout_cols(int64_t numel) {
  int64_t c = 1;
  while (c * c * 4 <= numel) c *= 2;
  return c;
}
}  // namespace

std::size_t layout_buffer_bytes(DType dtype, int64_t numel, Layout layout) {
  const std::size_t n = static_cast<std::size_t>(numel) * itemsize(dtype);
  return layout == Layout::EveryOther || layout == Layout::TransposeGather ? 2 * n : n;
}

ArrayView layout_view(const void* base, DType dtype, int64_t numel, Layout layout) {
  const int64_t isz = static_cast<int64_t>(itemsize(dtype));
  if (layout == Layout::Contig) return ArrayView::contiguous(base, dtype, Dims{numel});
  const int64_t cols = layout_cols(numel), rows = numel / cols;
  ArrayView v = ArrayView::contiguous(base, dtype, Dims{rows, cols});
  if (layout == Layout::EveryOther) {
    v.byte_strides = Dims{2 * cols * isz, 2 * isz};
  } else if (layout == Layout::TransposeGather) {  // a[:, ::2].T of a (rows, 2 * cols) array
    v.shape = Dims{cols, rows};
    v.byte_strides = Dims{2 * isz, 2 * cols * isz};
  } else {  // the transpose of a C-contiguous (rows, cols) array
    v.shape = Dims{cols, rows};
    v.byte_strides = Dims{isz, cols * isz};
  }
  return v;
}

HostArray make_host_array(DType dtype, std::size_t bytes, Layout layout) {
  HostArray a;
  a.numel = static_cast<int64_t>(bytes / itemsize(dtype));
  const std::size_t buf = layout_buffer_bytes(dtype, a.numel, layout);
  a.buffer = HostBuffer(buf);
  fill_pattern(a.buffer.data(), dtype, static_cast<int64_t>(buf / itemsize(dtype)));
  a.view = layout_view(a.buffer.data(), dtype, a.numel, layout);
  return a;
}

long long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// --- a persistent pool for the multi-threaded memcpy limit ----------------------------------

namespace {
class CopyPool {
 public:
  ~CopyPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  /// Runs fn(part) for part in [0, parts) on parts threads (the caller is part 0).
  void run(int parts, const std::function<void(int)>& fn) {
    while (static_cast<int>(workers_.size()) < parts - 1) {
      const int id = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, id] { loop(id); });
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* fn = nullptr;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (id < parts_) fn = fn_;
      }
      if (!fn) continue;
      (*fn)(id);
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

CopyPool& pool() {
  static CopyPool p;
  return p;
}

std::mutex g_limits_mu;
std::map<std::tuple<int, std::size_t, OutMemory>, double> g_memcpy_limits;
double g_pinned_h2d = 0, g_pinned_d2h = 0;
}  // namespace

void parallel_memcpy(void* dst, const void* src, std::size_t n, int threads) {
  if (threads <= 1 || n < (std::size_t(64) << 10)) {
    std::memcpy(dst, src, n);
    return;
  }
  // Page-aligned parts so that no two threads write one cache line.
  const std::size_t part = ((n / threads) + 4095) & ~std::size_t(4095);
  pool().run(threads, [&](int i) {
    const std::size_t lo = std::min(n, part * i), hi = std::min(n, lo + part);
    if (hi > lo) std::memcpy(static_cast<char*>(dst) + lo, static_cast<const char*>(src) + lo, hi - lo);
  });
}

double threads_memcpy_limit(int threads, std::size_t bytes, OutMemory out);

const char* out_memory_name(OutMemory m) {
  switch (m) {
    case OutMemory::Reused: return "reused";
    case OutMemory::Fresh: return "fresh";
    case OutMemory::FreshHuge: return "fresh_huge";
  }
  return "?";
}

int impl_threads() {
  if (const char* e = std::getenv("ASTENSOR_NUM_THREADS"); e && std::atoi(e) > 0) return std::atoi(e);
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

int threads_for(Impl impl) { return impl == Impl::Reference ? 1 : impl_threads(); }

void store_memcpy_limit(int threads, std::size_t bytes, double bytes_per_s, OutMemory out) {
  std::lock_guard<std::mutex> lk(g_limits_mu);
  // The best rate seen: on a shared machine a neighbour only ever makes memcpy slower.
  auto [it, inserted] = g_memcpy_limits.try_emplace({threads, bytes, out}, bytes_per_s);
  if (!inserted) it->second = std::max(it->second, bytes_per_s);
}

double memcpy_limit(int threads, std::size_t bytes, OutMemory out) {
  bytes = std::max<std::size_t>(bytes, 64);
  // An implementation may always choose one thread, so more threads never lower the limit
  // (at small sizes waking a second thread costs more than the copy).
  if (threads > 1)
    return std::max(threads_memcpy_limit(threads, bytes, out), threads_memcpy_limit(1, bytes, out));
  return threads_memcpy_limit(1, bytes, out);
}

double threads_memcpy_limit(int threads, std::size_t bytes, OutMemory out) {
  {
    std::lock_guard<std::mutex> lk(g_limits_mu);
    if (auto it = g_memcpy_limits.find({threads, bytes, out}); it != g_memcpy_limits.end()) return it->second;
  }
  // Not measured by a cpu/memcpy case in this run (filtered out, or an odd size): calibrate
  // the same way, briefly: median of 5 timed batches of >= 20 ms each (fresh: a new mapping
  // per copy, as the cpu/memcpy out:fresh cases do).
  HostBuffer src(bytes), dst = out == OutMemory::Reused ? HostBuffer(bytes) : HostBuffer();
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    std::size_t moved = 0;
    const double t0 = now_s();
    double t1 = t0;
    while (t1 - t0 < 0.02) {
      if (out == OutMemory::Reused) {
        parallel_memcpy(dst.data(), src.data(), bytes, threads);
      } else {
        HostBuffer fresh(bytes, /*prefault=*/false, out == OutMemory::FreshHuge);
        parallel_memcpy(fresh.data(), src.data(), bytes, threads);
      }
      benchmark::ClobberMemory();
      moved += bytes;
      t1 = now_s();
    }
    rates.push_back(static_cast<double>(moved) / (t1 - t0));
  }
  std::sort(rates.begin(), rates.end());
  store_memcpy_limit(threads, bytes, rates[2], out);
  return rates[2];
}

double pinned_limit(bool h2d) {
  std::lock_guard<std::mutex> lk(g_limits_mu);
  return h2d ? g_pinned_h2d : g_pinned_d2h;
}

void store_pinned_limit(bool h2d, double bytes_per_s) {
  std::lock_guard<std::mutex> lk(g_limits_mu);
  // The peak over sizes: small copies are latency bound, the link limit is the best rate.
  double& slot = h2d ? g_pinned_h2d : g_pinned_d2h;
  slot = std::max(slot, bytes_per_s);
}

// --- per-case reporting ---------------------------------------------------------------------

const char* out_state(std::size_t out_bytes, long long faults, int64_t iterations,
                      std::size_t page_bytes) {
  if (out_bytes == 0) return "none";
  if (iterations <= 0) return "unknown";
  // One fault maps one page: 4 KiB, or 2 MiB for huge-page outputs.
  const double pages = static_cast<double>((out_bytes + page_bytes - 1) / page_bytes);
  return static_cast<double>(faults) / static_cast<double>(iterations) >= 0.5 * pages ? "fresh"
                                                                                     : "reused";
}

void report_host_case(benchmark::State& state, const CaseInfo& info, long long faults,
                      double seconds) {
  using benchmark::Counter;
  const auto iters = static_cast<int64_t>(state.iterations());
  if (iters == 0 || seconds <= 0) return;
  state.SetBytesProcessed(iters * static_cast<int64_t>(info.src_bytes));
  state.counters["elems_per_s"] = Counter(static_cast<double>(info.numel * iters), Counter::kIsRate);
  const int threads = threads_for(info.impl);
  const std::size_t at = info.limit_bytes ? info.limit_bytes : std::max<std::size_t>(info.src_bytes, 64);
  // The optimized implementation puts outputs of kHugePageMinBytes and more on 2 MiB pages
  // (impl/cpu/host_alloc.h), so a fresh output of that size costs one fault per 2 MiB.
  std::size_t page_bytes = 4096;
#if ASTENSOR_BENCH_HAVE_IMPL
  if (info.impl == Impl::Optimized && info.out_bytes >= impl::cpu::kHugePageMinBytes)
    page_bytes = std::size_t(2) << 20;
#endif
  const char* state_name = out_state(info.out_bytes, faults, iters, page_bytes);
  const bool fresh = std::strcmp(state_name, "fresh") == 0;
  const OutMemory limit_out = !fresh ? OutMemory::Reused
                              : page_bytes > 4096 ? OutMemory::FreshHuge
                                                  : OutMemory::Fresh;
  const double limit = memcpy_limit(threads, at, OutMemory::Reused);
  const double traffic = 0.5 * static_cast<double>(info.src_bytes + info.dst_bytes);
  // Seconds the baseline needs: the traffic at the pre-faulted memcpy rate, plus, for a fresh
  // output, what memcpy paid per fresh output byte of the same page size (fresh minus reused
  // time per byte at the same size) times the case's output bytes.
  double limit_s = traffic / limit;
  if (fresh) {
    // Per-byte page cost at a size of the size axis (measured by the cpu/memcpy cases)
    // near the output's size: the smallest axis size >= the output (or the largest one).
    std::size_t fs = 0;
    for (std::size_t b : sizes()) {
      fs = b;
      if (b >= info.out_bytes) break;
    }
    if (fs == 0) fs = at;
    const double per_byte = 1.0 / memcpy_limit(threads, fs, limit_out) -
                            1.0 / memcpy_limit(threads, fs, OutMemory::Reused);
    limit_s += std::max(0.0, per_byte) * static_cast<double>(info.out_bytes);
  }
  const double per_iter = seconds / static_cast<double>(iters);
  state.counters["roofline"] = limit_s / per_iter;
  state.counters["limit_GBps"] = traffic / limit_s / 1e9;
  state.counters["threads"] = threads;
  state.counters["faults_per_iter"] = static_cast<double>(faults) / static_cast<double>(iters);
  state.SetLabel(std::string(impl_name(info.impl)) + " out:" + state_name + " limit:" +
                 out_memory_name(limit_out));
}

std::vector<std::string>& notes() {
  static std::vector<std::string> n;
  return n;
}

}  // namespace astensor::bench
