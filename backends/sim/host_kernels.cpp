#include "backends/sim/host_kernels.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/cast.h"
#include "core/error.h"
#include "core/kernel_geometry.h"

namespace astensor::sim {

namespace {

template <std::size_t N>
inline void swap_bytes(unsigned char* p, std::size_t part) {
  for (std::size_t o = 0; o < N; o += part) std::reverse(p + o, p + o + part);
}

/// One row: n elements, src/dst advancing by their byte strides.
template <class From, class To, bool Swap>
inline void row(const char* s, int64_t ss, char* d, int64_t ds, int64_t n) {
  constexpr std::size_t part = detail::is_complex_v<From> ? sizeof(From) / 2 : sizeof(From);
  auto one = [&](const char* sp, char* dp) {
    From v;
    if constexpr (Swap) {
      unsigned char b[sizeof(From)];
      std::memcpy(b, sp, sizeof(From));
      swap_bytes<sizeof(From)>(b, part);
      v = load_element<From>(b);
    } else {
      v = load_element<From>(sp);  // any alignment (ARR-6)
    }
    const To o = cast_value<To>(v);
    std::memcpy(dp, &o, sizeof(To));
  };
  if (ss == int64_t(sizeof(From)) && ds == int64_t(sizeof(To))) {
    // bool -> bool goes through load_element too, so a bool byte 2..255 comes out as 1, as
    // from the CUDA kernels and the reference's cast_one (core/cast.h).
    if constexpr (std::is_same_v<From, To> && !Swap && !std::is_same_v<From, bool>) {
      std::memcpy(d, s, static_cast<std::size_t>(n) * sizeof(From));
    } else {
      // Constant strides let the compiler vectorize.
      for (int64_t i = 0; i < n; ++i) one(s + i * int64_t(sizeof(From)), d + i * int64_t(sizeof(To)));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) one(s + i * ss, d + i * ds);
  }
}

template <class From, class To, bool Swap>
void run_typed(const CastKernel& k) {
  const std::size_t nd = k.shape.size();
  const bool dst_strided = !k.dst_strides.empty();
  const int64_t inner = k.shape[nd - 1];
  const int64_t ss = k.src_strides[nd - 1];
  const int64_t ds = dst_strided ? k.dst_strides[nd - 1] : int64_t(sizeof(To));
  // Multi-index of `start` (row-major).
  Dims idx(nd, 0);
  int64_t rem = k.start;
  for (std::size_t d = nd; d-- > 0;) {
    idx[d] = rem % k.shape[d];
    rem /= k.shape[d];
  }
  char* dcontig = static_cast<char*>(k.dst);
  int64_t left = k.count;
  while (left > 0) {
    const char* s = static_cast<const char*>(k.src);
    char* d = dcontig;
    for (std::size_t i = 0; i < nd; ++i) s += idx[i] * k.src_strides[i];
    if (dst_strided) {
      d = static_cast<char*>(k.dst);
      for (std::size_t i = 0; i < nd; ++i) d += idx[i] * k.dst_strides[i];
    }
    const int64_t n = std::min(left, inner - idx[nd - 1]);
    row<From, To, Swap>(s + 0, ss, d, ds, n);
    left -= n;
    if (!dst_strided) dcontig += n * int64_t(sizeof(To));
    // Advance the multi-index by n (finishes the current row).
    idx[nd - 1] += n;
    for (std::size_t i = nd - 1; i > 0 && idx[i] >= k.shape[i]; --i) {
      idx[i] = 0;
      ++idx[i - 1];
    }
  }
}

}  // namespace

void copy_to_device_memory(void* dst_v, const void* src_v, std::size_t n) {
#if defined(__SSE2__)
  if (n >= kStreamingCopyBytes) {
    auto* d = static_cast<char*>(dst_v);
    const auto* s = static_cast<const char*>(src_v);
    const std::size_t head = (16 - reinterpret_cast<std::uintptr_t>(d) % 16) % 16;
    std::memcpy(d, s, head);
    std::size_t i = head;
    for (; i + 64 <= n; i += 64) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
      const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), a);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
      _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
    }
    std::memcpy(d + i, s + i, n - i);
    _mm_sfence();
    return;
  }
#endif
  std::memcpy(dst_v, src_v, n);
}

void run_cast_kernel_host(const CastKernel& k_in, bool src_byteswapped) {
  if (k_in.count <= 0) return;
  ASTENSOR_CHECK(k_in.src_strides.size() == k_in.shape.size() &&
                     (k_in.dst_strides.empty() || k_in.dst_strides.size() == k_in.shape.size()),
                 "[cast kernel] strides and shape disagree in length");
  const CastKernel k = merge_dims(k_in);
  const bool swap = src_byteswapped && itemsize(k.src_dtype) > 1;
  dispatch_dtype(k.src_dtype, [&]<DType F>() {
    dispatch_dtype(k.dst_dtype, [&]<DType T>() {
      if (swap) run_typed<storage_t<F>, storage_t<T>, true>(k);
      else run_typed<storage_t<F>, storage_t<T>, false>(k);
    });
  });
}

}  // namespace astensor::sim
