// libFuzzer target (issue 7): ArrayView validation and as_tensor on the view. The view lies
// over a real heap buffer of exactly the decoded size (ASan redzones on both sides) with a
// fuzzed offset, shape, byte strides, dtype and byte order, including sizes whose
// numel * itemsize or byte extent overflow int64 or the address space. validate() must
// reject anything that cannot exist; a view it accepts that lies inside the buffer is
// converted by the reference and by impl, which must agree (XFER-3); a view it rejects must
// be rejected by both as_tensor with the same ValueError, without reading it.

#include <cstdint>
#include <vector>

#include "core/array_view.h"
#include "fuzz/fuzz_util.h"
#include "impl/as_tensor.h"
#include "reference/as_tensor.h"

using namespace astensor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::size_t buf_size = in.raw<uint16_t>() % 4097;
  const int64_t offset = static_cast<int64_t>(in.raw<int16_t>() % 4200);
  ArrayView v;
  v.dtype = static_cast<DType>(in.u8() % kNumDTypes);
  const uint8_t flags = in.u8();
  v.byteswapped = flags & 1;
  v.read_only = flags & 2;
  const bool null_data = (flags & 0x1c) == 0x1c;
  std::size_t ndim = in.u8();
  ndim = ndim < 250 ? ndim % 7 : ndim - 250 + 62;  // rarely 62..67 dims
  const int64_t isz = static_cast<int64_t>(itemsize(v.dtype));
  for (std::size_t d = 0; d < ndim; ++d) {
    v.shape.push_back(in.dim());
    v.byte_strides.push_back(in.stride(isz));
  }
  if (flags & 0x20) v.byte_strides.push_back(isz);  // a length mismatch, sometimes
  const Options opt = fuzz::options_from(in);

  // The buffer's bytes come from the rest of the input (then a pattern).
  std::vector<unsigned char> buf(buf_size);
  for (std::size_t k = 0; k < buf_size; ++k) buf[k] = in.empty() ? static_cast<unsigned char>(k * 37) : in.u8();
  const unsigned char* base = buf.data();
  // Out-of-range pointers are only formed as integers, never dereferenced unless validated.
  v.data = null_data ? nullptr
                     : reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(base) + static_cast<uintptr_t>(offset));

  int64_t numel = -1;
  try {
    numel = validate(v);
  } catch (const ValueError&) {
  }
  if (numel < 0) {
    // Rejected: both implementations must say so without reading a byte.
    auto r = fuzz::run([&] { return reference::as_tensor(v, opt); });
    auto i = fuzz::run([&] { return impl::as_tensor(v, opt); });
    if (r.ok || r.kind != ErrorKind::Value) fuzz::fail("validate() rejected the view", r, i);
    fuzz::expect_same(r, i);
    return 0;
  }
  if (numel > 0) {
    // Accepted: convert only views inside the buffer (others describe memory we do not own).
    int64_t lo = 0, hi = 0;
    for (std::size_t d = 0; d < v.shape.size(); ++d) {
      const int64_t span = v.byte_strides[d] * (v.shape[d] - 1);  // validate() checked these
      (span < 0 ? lo : hi) += span;
    }
    const auto p = reinterpret_cast<intptr_t>(v.data), b = reinterpret_cast<intptr_t>(base);
    if (p + lo < b || p + hi + isz > b + static_cast<intptr_t>(buf_size)) return 0;
    if (numel > (int64_t(1) << 16)) return 0;  // keep each run fast (overlapping 0-strides)
  }
  (void)has_element_strides(v);
  if (has_element_strides(v)) (void)element_strides(v);
  auto r = fuzz::run([&] { return reference::as_tensor(v, opt); });
  auto i = fuzz::run([&] { return impl::as_tensor(v, opt); });
  fuzz::expect_same(r, i);
  return 0;
}
