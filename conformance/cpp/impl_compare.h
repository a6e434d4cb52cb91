#pragma once
// XFER-3 for the optimized implementation: impl::as_tensor and reference::as_tensor give
// identical results: values bit for bit, dtype, shape, strides, device, sharing, read-only,
// autograd, and for errors the same kind and message.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/convert.h"
#include "core/error.h"
#include "core/source.h"
#include "core/tensor.h"
#include "impl/as_tensor.h"
#include "reference/as_tensor.h"

namespace astensor::impl_check {

/// The element bytes of a host tensor in row-major order.
inline std::vector<unsigned char> element_bytes(const Tensor& t) {
  std::vector<unsigned char> out;
  const int64_t n = t.numel();
  if (n == 0) return out;
  const std::size_t isz = t.itemsize();
  out.resize(static_cast<std::size_t>(n) * isz);
  const std::size_t nd = static_cast<std::size_t>(t.ndim());
  std::vector<int64_t> idx(nd, 0);
  const char* base = static_cast<const char*>(t.data_ptr());
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (std::size_t d = 0; d < nd; ++d) off += idx[d] * t.strides()[d];
    std::memcpy(&out[static_cast<std::size_t>(k) * isz], base + off * static_cast<int64_t>(isz), isz);
    for (std::size_t d = nd; d-- > 0;) {
      if (++idx[d] < t.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

struct Outcome {
  Tensor tensor;
  std::optional<ErrorKind> error;
  std::string message;
};

template <class F>
Outcome run_outcome(F&& f) {
  Outcome o;
  try {
    o.tensor = f();
  } catch (const Error& e) {
    o.error = e.kind();
    o.message = e.what();
  }
  return o;
}

/// Compares the two outcomes; returns "" when identical, else what differs.
inline std::string diff_outcomes(const Outcome& r, const Outcome& i, const Source& src) {
  if (r.error || i.error) {
    if (r.error != i.error || r.message != i.message)
      return "errors differ: reference " + (r.error ? r.message : std::string("no error")) +
             " | impl " + (i.error ? i.message : std::string("no error"));
    return "";
  }
  const Tensor& a = r.tensor;
  const Tensor& b = i.tensor;
  if (a.dtype() != b.dtype()) return std::string("dtype ") + name(a.dtype()) + " vs " + name(b.dtype());
  if (a.device() != b.device()) return "device " + a.device().str() + " vs " + b.device().str();
  if (a.shape() != b.shape()) return "shape " + a.shape().str() + " vs " + b.shape().str();
  if (a.strides() != b.strides()) return "strides " + a.strides().str() + " vs " + b.strides().str();
  if (a.is_read_only() != b.is_read_only()) return "read-only differs";
  if (a.storage()->owns_memory() != b.storage()->owns_memory()) return "sharing differs (owns_memory)";
  if (!a.storage()->owns_memory() && a.data_ptr() != b.data_ptr()) return "shared data pointers differ";
  if (auto* t = std::get_if<Tensor>(&src)) {
    if (a.is_same(*t) != b.is_same(*t)) return "same-object (TEN-1) differs";
  } else if (a.storage()->owns_memory() && a.data_ptr() == b.data_ptr() && a.numel() > 0) {
    return "two copies alias";
  }
  if (a.requires_grad() != b.requires_grad()) return "requires_grad differs";
  if (a.is_leaf() != b.is_leaf()) return "is_leaf differs";
  auto fa = a.grad_fn(), fb = b.grad_fn();
  if ((fa == nullptr) != (fb == nullptr)) return "grad_fn presence differs";
  if (fa && std::string(fa->name()) != fb->name()) return "grad_fn name differs";
  if (a.device().is_cpu()) {
    if (element_bytes(a) != element_bytes(b)) return "values differ";
  } else if (a.numel() > 0) {
    // XFER-2: device results compared on the host, brought back by core's plain copy.
    const Tensor ha = copy_plain(view_of(a), a.dtype(), Device::cpu());
    const Tensor hb = copy_plain(view_of(b), b.dtype(), Device::cpu());
    if (element_bytes(ha) != element_bytes(hb)) return "device values differ";
  }
  return "";
}

/// Runs both implementations on the same source and options.
inline std::string compare_impls(const Source& src, const Options& o) {
  Outcome r = run_outcome([&] { return reference::as_tensor(src, o); });
  Outcome i = run_outcome([&] { return impl::as_tensor(src, o); });
  return diff_outcomes(r, i, src);
}

}  // namespace astensor::impl_check
