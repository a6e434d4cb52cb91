// The reference as_tensor. Each branch cites the rules it applies.

#include "reference/as_tensor.h"

#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/convert.h"
#include "core/error.h"

namespace astensor::reference {

Tensor fill_sequence(SequenceReader& reader, std::optional<DType> dtype);  // sequence.cpp

namespace {

/// COPY-1: copy=False and the rules need a copy.
[[noreturn]] void refuse_copy(const std::vector<std::string>& reasons) {
  std::string why;
  for (const auto& r : reasons) why += (why.empty() ? "" : "; ") + r;
  throw ValueError("[as_tensor] copy=False, but a copy is needed: " + why);
}

std::vector<std::string> change_reasons(DType from, DType to, Device from_dev, Device to_dev) {
  std::vector<std::string> r;
  if (from != to) r.push_back(detail::str_cat("dtype change (", name(from), " -> ", name(to), ")"));
  if (from_dev != to_dev)
    r.push_back(detail::str_cat("device change (", from_dev.str(), " -> ", to_dev.str(), ")"));
  return r;
}

Tensor from_tensor(const Tensor& t, const Options& o) {
  const DType dtype = o.dtype.value_or(t.dtype());
  const Device device = target_device(o, t.device());
  auto reasons = change_reasons(t.dtype(), dtype, t.device(), device);
  if (reasons.empty() && o.copy != true) return t;  // TEN-1: the same tensor
  if (o.copy == false) refuse_copy(reasons);
  Tensor out = copy_plain(view_of(t), dtype, device);  // TEN-2, TEN-3, DT-3
  record_copy(t, out);                                 // GRAD-1
  return out;
}

Tensor from_array(const ArrayView& v, const Options& o) {
  const int64_t numel = validate(v);
  const DType dtype = o.dtype.value_or(v.dtype);
  const Device device = target_device(o, v.device);
  auto reasons = change_reasons(v.dtype, dtype, v.device, device);
  if (v.byteswapped) reasons.push_back("non-native byte order (ARR-4)");
  if (!has_element_strides(v))
    reasons.push_back(detail::str_cat("byte strides ", v.byte_strides.str(),
                                      " are not multiples of the item size ", itemsize(v.dtype),
                                      " (ARR-5)"));
  if (reasons.empty() && o.copy != true) {
    // ARR-1 (zero-copy, any strides incl. negative: ARR-3, misaligned: ARR-6), ARR-2 (owner),
    // ARR-7 (read-only).
    Dims strides = element_strides(v);
    const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
    int64_t lo = 0, hi = -1;
    if (numel > 0) element_extent(v.shape.span(), strides.span(), &lo, &hi);
    auto* base = const_cast<char*>(static_cast<const char*>(v.data)) + lo * isz;
    auto storage = Storage::wrap(base, static_cast<std::size_t>((hi - lo + 1) * isz), v.device,
                                 v.owner, v.read_only);
    return Tensor::make(std::move(storage), -lo, v.shape, std::move(strides), v.dtype);
  }
  if (o.copy == false) refuse_copy(reasons);
  return copy_plain(v, dtype, device);  // ARR-4, ARR-5, ARR-11, TEN-3
}

Tensor from_sequence(const SequenceSource& s, const Options& o) {
  // SEQ-1: Python data is always copied.
  if (o.copy == false) refuse_copy({"Python scalars and sequences are always copied (SEQ-1)"});
  const Device device = target_device(o, std::nullopt);  // DEV-3 before any allocation
  Tensor host = fill_sequence(*s.reader, o.dtype);
  if (device.is_cpu()) return host;
  return copy_plain(view_of(host), host.dtype(), device);
}

}  // namespace

Tensor as_tensor(const Source& source, const Options& options) {
  if (auto* t = std::get_if<Tensor>(&source)) {
    ASTENSOR_CHECK_VALUE(t->defined(), "[as_tensor] undefined tensor");
    return from_tensor(*t, options);
  }
  if (auto* a = std::get_if<ArrayView>(&source)) return from_array(*a, options);
  return from_sequence(std::get<SequenceSource>(source), options);
}

}  // namespace astensor::reference
