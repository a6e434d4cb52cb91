#pragma once
/// Tensor: a handle (shared_ptr) on a TensorImpl: storage, element offset, shape, signed
/// element strides, dtype; the device and the read-only flag come from the storage. Copying
/// a Tensor copies the handle, so `as_tensor(t)` can return the very same tensor (TEN-1) and
/// tests can check it with is_same().

#include <complex>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dims.h"
#include "core/dtype.h"
#include "core/storage.h"

namespace astensor {

struct Node;        // autograd.h
class TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  /// A view on `storage` (no copy). offset and strides are in elements.
  static Tensor make(std::shared_ptr<Storage> storage, int64_t offset, Dims shape, Dims strides,
                     DType dtype);

  bool defined() const { return impl_ != nullptr; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  TensorImpl* impl() const { return impl_.get(); }

  DType dtype() const;
  Device device() const;
  const Dims& shape() const;
  const Dims& strides() const;  // elements, signed
  int64_t offset() const;       // elements from storage()->data()
  int64_t ndim() const { return static_cast<int64_t>(shape().size()); }
  int64_t numel() const;
  std::size_t itemsize() const { return astensor::itemsize(dtype()); }
  const std::shared_ptr<Storage>& storage() const;
  /// Address of element [0,...,0] (may be misaligned: ARR-6; device memory off the CPU).
  const void* data_ptr() const;
  /// Same address for writing; ValueError when the tensor is read-only (ARR-7).
  void* mutable_data_ptr() const;
  bool is_read_only() const { return storage()->read_only(); }
  bool is_contiguous() const;
  /// Note [Pending results]: false while a non-blocking conversion is still writing the
  /// bytes (never blocks); synchronize() blocks until they are final. data_ptr() does not
  /// wait: C++ code that reads the bytes of a non-blocking result calls synchronize() first
  /// (or orders its own stream after the work) — the Python exports do it themselves.
  bool is_ready() const { return storage()->ready(); }
  void synchronize() const { storage()->wait_ready(); }

  // Autograd (GRAD-1..3).
  bool requires_grad() const;
  /// Leaves only, and only float/complex dtypes (as PyTorch); RuntimeError otherwise.
  void set_requires_grad(bool r) const;
  bool is_leaf() const;
  std::shared_ptr<Node> grad_fn() const;
  Tensor grad() const;
  /// Backpropagates `gradient` (default: ones, scalars only) through the ToCopyBackward
  /// chain into the leaves' .grad (GRAD-2).
  void backward(const Tensor& gradient = Tensor()) const;

  // Host-side reading, for tests and tolist(): element i in row-major order, any device.
  std::vector<double> to_double_vector() const;
  std::vector<std::complex<double>> to_complex_vector() const;
  std::string str() const;  // "Tensor(shape=(2, 3), dtype=float32, device=cpu)"

 private:
  std::shared_ptr<TensorImpl> impl_;
};

class TensorImpl {
 public:
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  Dims shape;
  Dims strides;
  DType dtype = DType::float32;
  // Autograd state.
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  Tensor grad;
};

// --- layout helpers (layout.cpp) ---------------------------------------------------------

/// numel with overflow check: ValueError naming the shape when the product overflows int64
/// or a dimension is negative.
int64_t checked_numel(std::span<const int64_t> shape);
/// C-contiguous strides in elements, PyTorch's convention for zero-size dims (a size-0 dim
/// counts as 1): (2, 0) -> (1, 1).
Dims contiguous_strides(std::span<const int64_t> shape);
/// True when the elements form a dense block with no overlap (some permutation of the dims
/// is C-contiguous); size-1 dims are ignored; negative strides make it false.
bool is_non_overlapping_and_dense(std::span<const int64_t> shape, std::span<const int64_t> strides);
/// TEN-3: the strides of a copy of a (shape, strides) source: the source's strides when it is
/// dense and non-overlapping and non-empty, C-contiguous otherwise.
Dims copy_strides(std::span<const int64_t> shape, std::span<const int64_t> strides);
/// Element span [lo, hi] (inclusive, relative to element 0) touched by a strided view;
/// numel must be > 0.
void element_extent(std::span<const int64_t> shape, std::span<const int64_t> strides, int64_t* lo,
                    int64_t* hi);

}  // namespace astensor
