#pragma once
/// Autograd history for as_tensor (GRAD-1..3): a copy of a tensor that requires grad, into a
/// float or complex dtype, records a ToCopyBackward node pointing at its source; backward()
/// walks those nodes and accumulates into the leaves' .grad, converted back to each leaf's
/// dtype and device. That is all the graph as_tensor can build, so it is all we model.

#include <memory>

#include "core/tensor.h"

namespace astensor {

/// A backward function in the graph.
struct Node {
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  /// Receives the gradient of the node's output and passes it on to its inputs.
  virtual void apply(const Tensor& grad_output) = 0;
};

/// The backward of a dtype/device copy: converts the gradient back to the source's dtype and
/// device, then passes it to the source.
struct ToCopyBackward final : Node {
  explicit ToCopyBackward(Tensor src) : source(std::move(src)) {}
  const char* name() const override { return "ToCopyBackward"; }
  void apply(const Tensor& grad_output) override;
  Tensor source;
};

/// GRAD-3: whether history is recorded on this thread.
bool grad_enabled();
/// RAII scope that turns history recording off on this thread (`with no_grad():`).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// GRAD-1: attaches ToCopyBackward to `copy` when `source` requires grad, the copy's dtype is
/// differentiable and grad mode is on. Both implementations call this after every copy.
void record_copy(const Tensor& source, const Tensor& copy);

/// Sends `grad` into tensor `t`: through its grad_fn, or accumulated into .grad of a leaf that
/// requires grad.
void propagate_grad(const Tensor& t, const Tensor& grad);

}  // namespace astensor
