#include "core/tensor.h"

#include <cassert>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/cast.h"
#include "core/convert.h"
#include "core/error.h"

namespace astensor {

Tensor Tensor::make(std::shared_ptr<Storage> storage, int64_t offset, Dims shape, Dims strides,
                    DType dtype) {
  assert(shape.size() == strides.size());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->storage->device(); }
const Dims& Tensor::shape() const { return impl_->shape; }
const Dims& Tensor::strides() const { return impl_->strides; }
int64_t Tensor::offset() const { return impl_->offset; }
int64_t Tensor::numel() const { return checked_numel(impl_->shape.span()); }
const std::shared_ptr<Storage>& Tensor::storage() const { return impl_->storage; }

const void* Tensor::data_ptr() const {
  return static_cast<const char*>(impl_->storage->data()) +
         impl_->offset * static_cast<int64_t>(itemsize());
}

void* Tensor::mutable_data_ptr() const {
  ASTENSOR_CHECK_VALUE(!is_read_only(),
                       "[tensor] cannot write to a read-only tensor (it shares memory with a "
                       "read-only source; ARR-7); copy it first with as_tensor(t, copy=True)");
  return const_cast<void*>(data_ptr());
}

bool Tensor::is_contiguous() const {
  return numel() == 0 || impl_->strides == contiguous_strides(impl_->shape.span()) ||
         // size-1 dims may carry any stride
         [&] {
           auto cs = contiguous_strides(impl_->shape.span());
           for (std::size_t d = 0; d < cs.size(); ++d)
             if (impl_->shape[d] != 1 && impl_->strides[d] != cs[d]) return false;
           return true;
         }();
}

bool Tensor::requires_grad() const { return impl_->requires_grad; }
bool Tensor::is_leaf() const { return impl_->grad_fn == nullptr; }
std::shared_ptr<Node> Tensor::grad_fn() const { return impl_->grad_fn; }
Tensor Tensor::grad() const { return impl_->grad; }

void Tensor::set_requires_grad(bool r) const {
  ASTENSOR_CHECK(is_leaf(), "[tensor] requires_grad can only be changed on leaf tensors");
  ASTENSOR_CHECK(!r || is_differentiable(dtype()),
                 "[tensor] only tensors of floating point and complex dtype can require "
                 "gradients (got ", name(dtype()), ")");
  impl_->requires_grad = r;
}

void Tensor::backward(const Tensor& gradient) const {
  ASTENSOR_CHECK(requires_grad(),
                 "[backward] the tensor does not require grad and has no grad_fn");
  Tensor g = gradient;
  if (!g.defined()) {
    ASTENSOR_CHECK(numel() == 1,
                   "[backward] grad can be implicitly created only for one-element tensors (got "
                   "shape ", shape().str(), ")");
    // ones(1) of our dtype on our device
    auto host = Storage::allocate(itemsize(), Device::cpu());
    double one = 1.0;
    cast_one(&one, DType::float64, host->data(), dtype());
    g = Tensor::make(host, 0, shape(), contiguous_strides(shape().span()), dtype());
    if (!device().is_cpu()) g = copy_plain(view_of(g), dtype(), device());
  }
  ASTENSOR_CHECK(g.shape() == shape(), "[backward] gradient shape ", g.shape().str(),
                 " does not match the tensor's shape ", shape().str());
  propagate_grad(*this, g);
}

std::vector<std::complex<double>> Tensor::to_complex_vector() const {
  Tensor host = copy_plain(view_of(*this), DType::complex128, Device::cpu());
  // copy_plain keeps a dense source's stride order; read in row-major order through a view.
  std::vector<std::complex<double>> out(static_cast<std::size_t>(numel()));
  ArrayView v = view_of(host);
  convert_plain(v, out.data(), DType::complex128, contiguous_strides(shape().span()).span());
  return out;
}

std::vector<double> Tensor::to_double_vector() const {
  Tensor host = device().is_cpu() ? *this : copy_plain(view_of(*this), dtype(), Device::cpu());
  std::vector<double> out(static_cast<std::size_t>(numel()));
  convert_plain(view_of(host), out.data(), DType::float64, contiguous_strides(shape().span()).span());
  return out;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  return "Tensor(shape=" + shape().str() + ", dtype=" + name(dtype()) + ", device=" +
         device().str() + ")";
}

}  // namespace astensor
