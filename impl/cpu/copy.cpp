// Host copy execution: collapse, partition across OpenMP threads, convert run by run.

#include "impl/cpu/copy.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/trace.h"
#include "impl/cpu/kernels.h"

namespace astensor::impl::cpu {

CopyLayout collapse(std::span<const int64_t> shape, std::span<const int64_t> src_byte_strides,
                    std::span<const int64_t> dst_strides) {
  CopyLayout l;
  // A zero anywhere first: the other sizes of an empty view may multiply past int64 (UB; issue
  // 7, fuzz_array_view). Non-empty shapes were validated to fit.
  l.numel = std::find(shape.begin(), shape.end(), int64_t(0)) != shape.end() ? 0 : 1;
  if (l.numel != 0)
    for (int64_t s : shape) l.numel *= s;
  if (l.numel == 0) {
    l.shape = Dims{0};
    l.src_strides = Dims{0};
    return l;
  }
  // Dims that matter, in the destination's memory order (largest stride first). The
  // destination is dense, so its strides among size>1 dims are distinct.
  // (No heap allocation for up to 16 dims: this runs for every block of nested data.)
  std::size_t order_inline[16];
  std::vector<std::size_t> order_heap;
  std::size_t* order = order_inline;
  if (shape.size() > 16) {
    order_heap.resize(shape.size());
    order = order_heap.data();
  }
  std::size_t n_order = 0;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (shape[d] != 1) order[n_order++] = d;
  // Stable insertion sort, largest destination stride first (std::stable_sort may allocate).
  for (std::size_t i = 1; i < n_order; ++i) {
    const std::size_t d = order[i];
    std::size_t j = i;
    for (; j > 0 && dst_strides[order[j - 1]] < dst_strides[d]; --j) order[j] = order[j - 1];
    order[j] = d;
  }
  for (std::size_t k = 0; k < n_order; ++k) {
    const std::size_t d = order[k];
    const int64_t n = shape[d], st = src_byte_strides[d];
    if (!l.shape.empty()) {
      const std::size_t last = l.shape.size() - 1;
      // The previous (outer) dim chains onto this one: merge them.
      if (l.src_strides[last] == st * n) {
        l.shape[last] *= n;
        l.src_strides[last] = st;
        continue;
      }
    }
    l.shape.push_back(n);
    l.src_strides.push_back(st);
  }
  const std::size_t nd = l.shape.size();
  if (nd >= 2) {
    const int64_t inner = std::abs(l.src_strides[nd - 1]), outer = std::abs(l.src_strides[nd - 2]);
    l.tiled = inner >= 64 && outer < inner && l.shape[nd - 1] >= 16 && l.shape[nd - 2] >= 16;
  }
  return l;
}

namespace {

int64_t initial_min_bytes() {
  if (const char* e = std::getenv("ASTENSOR_PARALLEL_MIN_BYTES")) {
    char* end = nullptr;
    long long v = std::strtoll(e, &end, 10);
    if (end != e && v > 0) return v;
  }
  // See impl/cpu/NOTES.md "Threads": below ~1 MiB per thread the fork/join of the OpenMP
  // team costs more than the second core saves.
  return int64_t(1) << 20;
}

/// Converts the elements [begin, end) (destination order) of a copy; `dst` is where
/// element `origin` goes (0 for a whole output, the chunk's first element for a chunk).
void copy_range(const CopyLayout& l, const char* src, char* dst, int64_t begin, int64_t end,
                RunKernel kernel, int64_t out_size, int64_t origin) {
  const std::size_t nd = l.shape.size();
  if (nd == 0) {  // a single element
    if (begin < end) kernel(src, 0, dst, 1);
    return;
  }
  int64_t idx_inline[16];
  std::vector<int64_t> idx_heap;  // a tensor made in C++ may have any rank
  int64_t* idx = idx_inline;
  if (nd > 16) {
    idx_heap.resize(nd);
    idx = idx_heap.data();
  }
  const int64_t* shape = l.shape.data();
  const int64_t* st = l.src_strides.data();
  int64_t rem = begin;
  const char* s = src;
  for (std::size_t d = nd; d-- > 0;) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
    s += idx[d] * st[d];
  }
  char* o = dst + (begin - origin) * out_size;
  const std::size_t inner = nd - 1;
  int64_t left = end - begin;
  while (left > 0) {
    const int64_t cnt = std::min(left, shape[inner] - idx[inner]);
    kernel(s, st[inner], o, cnt);
    o += cnt * out_size;
    left -= cnt;
    if (left == 0) break;
    s -= idx[inner] * st[inner];
    idx[inner] = 0;
    for (std::size_t d = inner; d-- > 0;) {  // carry into the outer dims
      s += st[d];
      if (++idx[d] < shape[d]) break;
      s -= idx[d] * st[d];
      idx[d] = 0;
    }
  }
}

/// Tiled copy (CopyLayout::tiled): the units [begin, end) of (outer index, a-tile, b-tile),
/// where a and b are the two innermost dims.
/// A full-width tile goes through `tile` when there is one (Note [Transposed tiles] in
/// kernels.cpp).
/// TB: the tile's width (kTileKernelCols with a tile kernel, else CopyLayout::kTileInner).
void copy_tiles(const CopyLayout& l, const char* src, char* dst, int64_t begin, int64_t end,
                RunKernel kernel, TileKernel tile, int64_t TB, int64_t out_size) {
  const std::size_t nd = l.shape.size();
  const int64_t TA = CopyLayout::kTileOuter;
  const int64_t na = l.shape[nd - 2], nb = l.shape[nd - 1];
  const int64_t sa = l.src_strides[nd - 2], sb = l.src_strides[nd - 1];
  const int64_t nta = (na + TA - 1) / TA, ntb = (nb + TB - 1) / TB;
  for (int64_t u = begin; u < end; ++u) {
    const int64_t outer = u / (nta * ntb), r = u % (nta * ntb);
    const int64_t a0 = (r / ntb) * TA, b0 = (r % ntb) * TB;
    const int64_t a1 = std::min(na, a0 + TA), cnt = std::min(nb, b0 + TB) - b0;
    int64_t off = 0, rem = outer;
    for (std::size_t d = nd - 2; d-- > 0;) {
      off += (rem % l.shape[d]) * l.src_strides[d];
      rem /= l.shape[d];
    }
    if (tile && cnt == TB) {
      // 8 rows per call: measured faster (10 ms against 14 ms for a (4096, 4096) tile copy)
      // than the same blocks looped inside the kernel (impl/cpu/NOTES.md).
      for (int64_t a = a0; a < a1; a += 8)
        tile(src + off + a * sa + b0 * sb, sa, sb, dst + ((outer * na + a) * nb + b0) * out_size,
             nb * out_size, std::min<int64_t>(8, a1 - a));
      continue;
    }
    for (int64_t a = a0; a < a1; ++a)
      kernel(src + off + a * sa + b0 * sb, sb, dst + ((outer * na + a) * nb + b0) * out_size, cnt);
  }
}

// Note [OpenMP and fork]: GCC's libgomp does not survive fork(): a child whose parent has
// run a parallel region hangs in its first own region (its team's threads do not exist in
// the child). Python forks (multiprocessing, DataLoader workers), so a forked child runs
// every copy on its calling thread instead.
std::atomic<bool> g_forked{false};
[[maybe_unused]] const bool g_atfork_registered = [] {
  pthread_atfork(nullptr, nullptr, [] { g_forked.store(true, std::memory_order_relaxed); });
  return true;
}();

}  // namespace

bool in_forked_child() { return g_forked.load(std::memory_order_relaxed); }

int64_t parallel_min_bytes() {
  static const int64_t v = initial_min_bytes();
  return v;
}

int max_threads() {
#if defined(_OPENMP)
  if (in_forked_child()) return 1;
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

int threads_for(int64_t bytes) {
  const int64_t per = parallel_min_bytes();
  if (bytes < 2 * per) return 1;
  return static_cast<int>(std::min<int64_t>(max_threads(), bytes / per));
}

int64_t tile_columns(const CopyLayout& l, DType from, DType to, bool byteswap) {
  const std::size_t nd = l.shape.size();
  if (!l.tiled || nd < 2) return CopyLayout::kTileInner;
  return tile_kernel(from, to, byteswap, l.src_strides[nd - 2]) ? kTileKernelCols
                                                                : CopyLayout::kTileInner;
}

void run_copy(const CopyLayout& l, const void* src, DType from, bool byteswap, void* dst, DType to,
              int threads) {
  run_copy_range(l, src, from, byteswap, dst, to, 0, l.numel, threads);
}

void run_copy_range(const CopyLayout& l, const void* src_v, DType from, bool byteswap, void* dst_v,
                    DType to, int64_t first, int64_t last, int threads) {
  if (l.numel == 0 || first >= last) return;
  ASTENSOR_RANGE("cpu_copy");
  const char* src = static_cast<const char*>(src_v);
  char* dst = static_cast<char*>(dst_v);
  const int64_t in_size = static_cast<int64_t>(itemsize(from));
  const int64_t out_size = static_cast<int64_t>(itemsize(to));
  const bool contiguous = l.contiguous(static_cast<std::size_t>(in_size));
  const bool plain_memcpy = contiguous && from == to && !byteswap;
  // Every run of the copy reads at the innermost stride (tiles too), so a kernel fixed to
  // it can be chosen once (Note [Fixed small strides] in kernels.cpp).
  const int64_t run_stride = l.shape.empty() ? 0 : l.src_strides[l.shape.size() - 1];
  const RunKernel kernel =
      plain_memcpy ? nullptr : run_kernel(from, to, byteswap, contiguous, run_stride);
  // Tiles cover whole (a, b) planes: a part of the copy (a staging chunk) goes run by run.
  if (l.tiled && first == 0 && last == l.numel) {
    const std::size_t nd = l.shape.size();
    const TileKernel tile = tile_kernel(from, to, byteswap, l.src_strides[nd - 2]);
    const int64_t TA = CopyLayout::kTileOuter, TB = tile_columns(l, from, to, byteswap);
    const int64_t units = l.numel / (l.shape[nd - 1] * l.shape[nd - 2]) *
                          ((l.shape[nd - 2] + TA - 1) / TA) * ((l.shape[nd - 1] + TB - 1) / TB);
    if (threads <= 1 || in_forked_child()) {
      copy_tiles(l, src, dst, 0, units, kernel, tile, TB, out_size);
      return;
    }
    const int64_t per = (units + threads - 1) / threads;
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
    for (int t = 0; t < threads; ++t) {
      const int64_t b = std::min(units, int64_t(t) * per);
      copy_tiles(l, src, dst, b, std::min(units, b + per), kernel, tile, TB, out_size);
    }
    return;
  }
  auto part = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    if (plain_memcpy) std::memcpy(dst + (begin - first) * out_size, src + begin * in_size,
                                  static_cast<std::size_t>((end - begin) * out_size));
    else copy_range(l, src, dst, begin, end, kernel, out_size, first);
  };
  const int64_t n = last - first;
  if (threads <= 1 || in_forked_child()) {  // Note [OpenMP and fork]
    part(first, last);
    return;
  }
  // Equal shares, rounded to whole cache lines of the destination so that threads never
  // write the same line.
  const int64_t align = std::max<int64_t>(1, 64 / out_size);
  int64_t chunk = (n + threads - 1) / threads;
  chunk = (chunk + align - 1) / align * align;
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
  for (int t = 0; t < threads; ++t) {
    const int64_t b = std::min(last, first + int64_t(t) * chunk);
    part(b, std::min(last, b + chunk));
  }
}

}  // namespace astensor::impl::cpu
