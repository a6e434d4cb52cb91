#include "core/convert.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/backend.h"
#include "core/pending.h"
#include "core/cast.h"
#include "core/error.h"

namespace astensor {

void convert_plain(const ArrayView& src, void* dst, DType dst_dtype,
                   std::span<const int64_t> dst_strides) {
  const std::size_t nd = src.shape.size();
  int64_t numel = checked_numel(src.shape.span());
  if (numel == 0) return;
  const std::size_t in_size = itemsize(src.dtype), out_size = itemsize(dst_dtype);
  std::vector<int64_t> idx(nd, 0);
  unsigned char tmp[16];
  for (int64_t n = 0; n < numel; ++n) {
    const char* in = static_cast<const char*>(src.data);
    char* out = static_cast<char*>(dst);
    for (std::size_t d = 0; d < nd; ++d) {
      in += idx[d] * src.byte_strides[d];
      out += idx[d] * dst_strides[d] * static_cast<int64_t>(out_size);
    }
    std::memcpy(tmp, in, in_size);
    if (src.byteswapped) {
      // Complex values swap each component on its own.
      std::size_t part = is_complex(src.dtype) ? in_size / 2 : in_size;
      for (std::size_t p = 0; p < in_size; p += part) std::reverse(tmp + p, tmp + p + part);
    }
    cast_one(tmp, src.dtype, out, dst_dtype);
    for (std::size_t d = nd; d-- > 0;) {  // row-major increment
      if (++idx[d] < src.shape[d]) break;
      idx[d] = 0;
    }
  }
}

namespace {
ArrayView view_without_wait(const Tensor& t) {
  ArrayView v;
  v.data = t.data_ptr();
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.byte_strides = t.strides();
  // Wrapping: only an empty tensor's strides (which address nothing) can overflow here.
  for (auto& s : v.byte_strides)
    s = static_cast<int64_t>(static_cast<uint64_t>(s) * static_cast<uint64_t>(t.itemsize()));
  v.device = t.device();
  v.read_only = t.is_read_only();
  v.owner = t.storage();
  return v;
}
}  // namespace

ArrayView view_of(const Tensor& t) {
  // Note [Pending results]: the view is read, by either implementation, so the bytes must be
  // final. (A storage without pending work answers from a null pointer.)
  t.synchronize();
  return view_without_wait(t);
}

ArrayView device_view_of(const Tensor& t) {
  const auto& pending = t.storage()->pending();
  if (t.device().is_cpu() || !pending || pending->ready()) return view_of(t);
  ArrayView v = view_without_wait(t);
  v.pending = pending;
  return v;
}

Tensor copy_plain(const ArrayView& src_in, DType dtype, Device device) {
  int64_t numel = validate(src_in);
  ArrayView src = src_in;
  std::shared_ptr<Storage> host_src;
  if (!src.device.is_cpu() && numel > 0) {
    // Bring the touched byte range to the host as it is (raw bytes), then read it there.
    int64_t lo = 0, hi = 0;
    element_extent(src.shape.span(), src.byte_strides.span(), &lo, &hi);
    std::size_t nbytes = static_cast<std::size_t>(hi - lo) + itemsize(src.dtype);
    host_src = Storage::allocate(nbytes, Device::cpu());
    copy_bytes_sync(host_src->data(), Device::cpu(), static_cast<const char*>(src.data) + lo,
                    src.device, nbytes);
    src.data = static_cast<char*>(host_src->data()) - lo;
    src.device = Device::cpu();
  }
  // TEN-3 layout: keep a dense source's stride order, else C-contiguous.
  Dims strides;
  if (has_element_strides(src)) strides = copy_strides(src.shape.span(), element_strides(src).span());
  else strides = contiguous_strides(src.shape.span());
  std::size_t nbytes = static_cast<std::size_t>(numel) * itemsize(dtype);
  int64_t lo = 0, hi = 0;
  if (numel > 0) element_extent(src.shape.span(), strides.span(), &lo, &hi);
  // copy_strides never yields negative strides, so lo == 0 and the block is exactly nbytes.
  // A device result is allocated first: a target that cannot hold it (a stride-0 view larger
  // than the device) fails at once, before the host fills a block of the same size.
  std::shared_ptr<Storage> dev_out;
  if (!device.is_cpu()) dev_out = Storage::allocate(nbytes, device);
  auto host_out = Storage::allocate(nbytes, Device::cpu());
  convert_plain(src, host_out->data(), dtype, strides.span());
  if (device.is_cpu()) return Tensor::make(host_out, 0, src.shape, strides, dtype);
  copy_bytes_sync(dev_out->data(), device, host_out->data(), Device::cpu(), nbytes);
  return Tensor::make(dev_out, 0, src.shape, strides, dtype);
}

}  // namespace astensor
