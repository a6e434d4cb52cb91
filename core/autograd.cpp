#include "core/autograd.h"

#include <complex>
#include <vector>

#include "core/backend.h"
#include "core/cast.h"
#include "core/convert.h"
#include "core/error.h"

namespace astensor {

namespace {
thread_local bool t_grad_enabled = true;

// a + b elementwise (same shape), computed in complex128 on the host, result in a's dtype
// and device: accumulation into .grad is rare and small, so plain code is right here.
Tensor add(const Tensor& a, const Tensor& b) {
  auto va = a.to_complex_vector();
  auto vb = b.to_complex_vector();
  for (std::size_t i = 0; i < va.size(); ++i) va[i] += vb[i];
  ArrayView v = ArrayView::contiguous(va.data(), DType::complex128, a.shape());
  return copy_plain(v, a.dtype(), a.device());
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

void record_copy(const Tensor& source, const Tensor& copy) {
  if (!grad_enabled() || !source.requires_grad() || !is_differentiable(copy.dtype())) return;
  copy.impl()->requires_grad = true;
  copy.impl()->grad_fn = std::make_shared<ToCopyBackward>(source);
}

void ToCopyBackward::apply(const Tensor& grad_output) {
  // GRAD-2: back to the source's dtype and device (complex -> real keeps the real part).
  Tensor g = copy_plain(view_of(grad_output), source.dtype(), source.device());
  propagate_grad(source, g);
}

void propagate_grad(const Tensor& t, const Tensor& grad) {
  if (auto fn = t.grad_fn()) {
    fn->apply(grad);
    return;
  }
  if (!t.requires_grad()) return;
  Tensor g = grad;
  if (g.dtype() != t.dtype() || g.device() != t.device())
    g = copy_plain(view_of(g), t.dtype(), t.device());
  TensorImpl* impl = t.impl();
  impl->grad = impl->grad.defined() ? add(impl->grad, g) : g;
}

}  // namespace astensor
