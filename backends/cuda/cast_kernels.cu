#include <type_traits>

#include "core/cast.h"
#include "core/error.h"
#include "core/trace.h"
#include "backends/cuda/cast_kernels.cuh"
#include "backends/cuda/cuda_check.h"
#include "core/kernel_geometry.h"

namespace astensor::cuda {

namespace {

constexpr int kThreads = 256;

int grid_for(int64_t work) {
  const int64_t want = (work + kThreads - 1) / kThreads;
  return static_cast<int>(want < 65535 * 8 ? (want > 0 ? want : 1) : 65535 * 8);
}

// Note [Loading bool]: a bool source byte may be anything from 0 to 255 (NumPy views of raw
// bytes, DLPack producers); 2..255 read as true, as on the CPU. Loading such a byte as a C++
// bool is undefined behaviour, and in practice a bool -> integer cast then yields the byte
// itself, so every kernel loads a bool as its byte and tests != 0: the scalar kernels
// through core/cast.h's load_element (the CPU's element loader), the vector kernel through
// Loaded/from_loaded below.

/// The type the vector kernel loads an element of storage type T as.
template <class T>
struct Loaded {
  using type = T;
};
template <>
struct Loaded<bool> {
  using type = unsigned char;
};
template <class T>
using loaded_t = typename Loaded<T>::type;

template <class T>
__device__ inline T from_loaded(loaded_t<T> v) {
  if constexpr (std::is_same_v<T, bool>) return v != 0;
  else return v;
}

/// Any alignment: element by element through memcpy (sources may be misaligned, ARR-6).
template <class From, class To>
__global__ void cast_contiguous_kernel(const char* __restrict__ src, char* __restrict__ dst,
                                       int64_t n) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const From v = load_element<From>(src + i * sizeof(From));  // Note [Loading bool]
    To out = cast_value<To>(v);
    memcpy(dst + i * sizeof(To), &out, sizeof(To));
  }
}

/// V elements per thread with one aligned vector load and store (at most 16 bytes each);
/// both pointers are aligned to the pack sizes. The tail (< V elements) runs scalar.
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <class From, class To, int V>
__global__ void cast_vector_kernel(const Pack<loaded_t<From>, V>* __restrict__ src,
                                   Pack<To, V>* __restrict__ dst, int64_t packs,
                                   const loaded_t<From>* __restrict__ tail_src,
                                   To* __restrict__ tail_dst, int tail) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < packs; i += stride) {
    const Pack<loaded_t<From>, V> in = src[i];
    Pack<To, V> out;
#pragma unroll
    for (int j = 0; j < V; ++j) out.v[j] = cast_value<To>(from_loaded<From>(in.v[j]));  // Note [Loading bool]
    dst[i] = out;
  }
  if (first < tail) tail_dst[first] = cast_value<To>(from_loaded<From>(tail_src[first]));
}

struct KernelDims {
  int nd;
  int64_t shape[kMaxKernelDims];
  int64_t src_strides[kMaxKernelDims];  // bytes
  int64_t dst_strides[kMaxKernelDims];  // bytes; unused when dst is contiguous
};

template <class From, class To>
__global__ void cast_strided_kernel(const char* __restrict__ src, char* __restrict__ dst,
                                    KernelDims d, int64_t start, int64_t count, bool dst_strided) {
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    int64_t rem = start + i, so = 0, dof = 0;
    for (int k = d.nd - 1; k >= 0; --k) {
      const int64_t q = rem / d.shape[k];
      const int64_t idx = rem - q * d.shape[k];
      rem = q;
      so += idx * d.src_strides[k];
      dof += idx * d.dst_strides[k];
    }
    if (!dst_strided) dof = i * int64_t(sizeof(To));
    const From v = load_element<From>(src + so);  // Note [Loading bool]
    To out = cast_value<To>(v);
    memcpy(dst + dof, &out, sizeof(To));
  }
}

template <class From, class To>
void contiguous_typed(const void* src, void* dst, int64_t n, cudaStream_t stream) {
  constexpr int big = sizeof(From) > sizeof(To) ? int(sizeof(From)) : int(sizeof(To));
  constexpr int V = big >= 16 ? 1 : 16 / big;
  const auto s = reinterpret_cast<uintptr_t>(src), d = reinterpret_cast<uintptr_t>(dst);
  using L = loaded_t<From>;
  static_assert(sizeof(L) == sizeof(From));
  if (V > 1 && n >= V && s % (sizeof(From) * V) == 0 && d % (sizeof(To) * V) == 0) {
    const int64_t packs = n / V;
    const int tail = static_cast<int>(n - packs * V);
    const int64_t done = packs * V;
    cast_vector_kernel<From, To, V><<<grid_for(packs > tail ? packs : tail), kThreads, 0, stream>>>(
        static_cast<const Pack<L, V>*>(src), static_cast<Pack<To, V>*>(dst), packs,
        static_cast<const L*>(src) + done, static_cast<To*>(dst) + done, tail);
  } else {
    cast_contiguous_kernel<From, To><<<grid_for(n), kThreads, 0, stream>>>(
        static_cast<const char*>(src), static_cast<char*>(dst), n);
  }
}

}  // namespace

void launch_cast_contiguous(const void* src, DType from, void* dst, DType to, int64_t n,
                            cudaStream_t stream) {
  if (n <= 0) return;
  dispatch_dtype(from, [&]<DType F>() {
    dispatch_dtype(to, [&]<DType T>() { contiguous_typed<storage_t<F>, storage_t<T>>(src, dst, n, stream); });
  });
  ASTENSOR_CUDA_CHECK(cudaGetLastError());
}

void launch_cast_kernel(const CastKernel& k_in, cudaStream_t stream) {
  ASTENSOR_RANGE("cast_kernel_launch");
  if (k_in.count <= 0) return;
  const CastKernel k = merge_dims(k_in);
  const bool dst_strided = !k.dst_strides.empty();
  const int64_t fz = static_cast<int64_t>(itemsize(k.src_dtype)), tz = static_cast<int64_t>(itemsize(k.dst_dtype));
  // One dense dimension on both sides: the contiguous (vectorized) kernel.
  if (k.shape.size() == 1 && (k.shape[0] == 1 || k.src_strides[0] == fz) &&
      (!dst_strided || k.shape[0] == 1 || k.dst_strides[0] == tz)) {
    const char* s = static_cast<const char*>(k.src) + k.start * fz;
    char* d = static_cast<char*>(k.dst) + (dst_strided ? k.start * tz : 0);
    launch_cast_contiguous(s, k.src_dtype, d, k.dst_dtype, k.count, stream);
    return;
  }
  ASTENSOR_CHECK_VALUE(k.shape.size() <= std::size_t(kMaxKernelDims), "[cuda] cast kernel: ", k.shape.size(),
                       " dimensions after merging; at most ", kMaxKernelDims, " are supported");
  KernelDims d{};
  d.nd = static_cast<int>(k.shape.size());
  for (int i = 0; i < d.nd; ++i) {
    d.shape[i] = k.shape[i];
    d.src_strides[i] = k.src_strides[i];
    d.dst_strides[i] = dst_strided ? k.dst_strides[i] : 0;
  }
  dispatch_dtype(k.src_dtype, [&]<DType F>() {
    dispatch_dtype(k.dst_dtype, [&]<DType T>() {
      cast_strided_kernel<storage_t<F>, storage_t<T>><<<grid_for(k.count), kThreads, 0, stream>>>(
          static_cast<const char*>(k.src), static_cast<char*>(k.dst), d, k.start, k.count, dst_strided);
    });
  });
  ASTENSOR_CUDA_CHECK(cudaGetLastError());
}

}  // namespace astensor::cuda
