#include "bench/host_arrays.h"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "bench/size_axis.h"
#include "core/cast.h"

namespace astensor::bench {

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

}  // namespace astensor::bench
