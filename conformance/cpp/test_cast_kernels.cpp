// The device cast kernel (Backend::launch_cast with a CastKernel, core/backend.h) on the device
// under test, compared byte for byte with the CPU's conversion of each element (core/cast.h
// cast_one, the reference's inner loop). Issue 11 section 6: a bool source byte 2..255 must
// read as true on the device as on the CPU (Note [Loading bool] in backends/cuda/cast_kernels.cu);
// the bytes 0, 1, 2, 127, 128, 255 as bool go to every dtype through each path of the kernels:
// contiguous (CUDA's vector kernel and its tail), misaligned contiguous (scalar kernel),
// strided, gathered (transposed 2-D), reversed, strided destination, and an element range.
// Bytes of the destination outside the written elements must stay untouched.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/cpp/device_test_util.h"
#include "core/cast.h"
#include "core/dtype.h"

using namespace astensor;
using namespace astensor::testing;

namespace {

constexpr unsigned char kBoolBytes[] = {0, 1, 2, 127, 128, 255};
constexpr unsigned char kFill = 0xCD;  // destination bytes before the kernel
constexpr unsigned char kJunk = 0xEE;  // source bytes the view does not cover

/// Device memory of the device under test, freed on scope exit.
struct DevBuf {
  Backend& be;
  void* p;
  DevBuf(Backend& b, std::size_t n) : be(b), p(b.allocate(0, n)) {}
  ~DevBuf() { be.deallocate(0, p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
};

/// A view of bool bytes to cast: `shape` and byte strides, its first element `base` bytes
/// into a source buffer of `src_bytes`; the output range [start, start + count) of the
/// row-major order, contiguous or at `dst_strides` (bytes, in units of the destination
/// itemsize: multiplied by it for each dtype).
struct Layout {
  std::string name;
  Dims shape;
  Dims src_strides;
  int64_t base = 0;
  int64_t src_bytes = 0;
  Dims dst_stride_items;  // empty: contiguous destination
  int64_t start = 0;
  int64_t count = -1;  // -1: every element from start
};

int64_t numel(const Dims& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<Layout> layouts() {
  std::vector<Layout> v;
  // 70 elements: CUDA's vector kernel (16-byte packs) plus a scalar tail for every dtype.
  v.push_back({"contiguous", {70}, {1}, 0, 70, {}, 0, -1});
  // One byte in: CUDA's pointer is no longer aligned for packs, the scalar contiguous kernel.
  v.push_back({"misaligned", {70}, {1}, 1, 71, {}, 0, -1});
  v.push_back({"strided", {40}, {3}, 0, 120, {}, 0, -1});
  // A 5 x 7 view of a 7 x 5 row-major block, transposed: the gathering kernel.
  v.push_back({"transposed", {5, 7}, {1, 5}, 0, 35, {}, 0, -1});
  // Reversed: the first element is the last byte of the buffer.
  v.push_back({"reversed", {30}, {-1}, 29, 30, {}, 0, -1});
  // A strided destination and an element range inside the view.
  v.push_back({"strided-dst-range", {6, 6}, {6, 1}, 0, 36, {6 * 2, 2}, 5, 25});
  // A contiguous destination written from element 7 on (the pointer offset by start).
  v.push_back({"contiguous-range", {64}, {1}, 0, 64, {1}, 7, 50});
  return v;
}

/// The bytes of the source buffer: the bool test bytes at the view's elements (cycling
/// through kBoolBytes in row-major order), kJunk elsewhere.
std::vector<unsigned char> source_bytes(const Layout& l) {
  std::vector<unsigned char> src(static_cast<std::size_t>(l.src_bytes), kJunk);
  const int64_t n = numel(l.shape);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = l.base;
    for (std::size_t d = l.shape.size(); d-- > 0;) {
      off += (rem % l.shape[d]) * l.src_strides[d];
      rem /= l.shape[d];
    }
    src[static_cast<std::size_t>(off)] = kBoolBytes[i % 6];
  }
  return src;
}

/// What the destination must hold: kFill, with each written element cast_one of its source
/// byte read as bool.
std::vector<unsigned char> expected_bytes(const Layout& l, const std::vector<unsigned char>& src,
                                          DType to, std::size_t dst_bytes, int64_t count) {
  const int64_t tz = static_cast<int64_t>(itemsize(to));
  std::vector<unsigned char> want(dst_bytes, kFill);
  for (int64_t i = l.start; i < l.start + count; ++i) {
    int64_t rem = i, so = l.base, dof = 0;
    for (std::size_t d = l.shape.size(); d-- > 0;) {
      const int64_t idx = rem % l.shape[d];
      rem /= l.shape[d];
      so += idx * l.src_strides[d];
      if (!l.dst_stride_items.empty()) dof += idx * l.dst_stride_items[d] * tz;
    }
    if (l.dst_stride_items.empty()) dof = (i - l.start) * tz;
    cast_one(&src[static_cast<std::size_t>(so)], DType::bool_, &want[static_cast<std::size_t>(dof)], to);
  }
  return want;
}

std::string show(const std::vector<unsigned char>& v, std::size_t at, std::size_t n) {
  std::string s;
  for (std::size_t i = at; i < at + n && i < v.size(); ++i) s += std::to_string(v[i]) + " ";
  return s;
}

TEST(DEVICE_SUITE(CastKernel), BoolBytesReadAsTrueIntoEveryDtypeOnEveryPath) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  for (const Layout& l : layouts()) {
    const std::vector<unsigned char> src = source_bytes(l);
    DevBuf dsrc(be, src.size());
    be.copy_sync(dsrc.p, test_device(0), src.data(), Device::cpu(), src.size());
    const int64_t count = l.count < 0 ? numel(l.shape) - l.start : l.count;
    for (int t = 0; t < kNumDTypes; ++t) {
      const DType to = static_cast<DType>(t);
      const int64_t tz = static_cast<int64_t>(itemsize(to));
      CastKernel k;
      k.src = static_cast<const char*>(dsrc.p) + l.base;
      k.src_dtype = DType::bool_;
      k.shape = l.shape;
      k.src_strides = l.src_strides;
      k.dst_dtype = to;
      for (int64_t d : l.dst_stride_items) k.dst_strides.push_back(d * tz);
      k.start = l.start;
      k.count = count;
      // Room for every element the view has (strided destinations index from the view's
      // origin, contiguous ones from `start`), plus a guard element.
      const std::size_t dst_bytes = static_cast<std::size_t>((numel(l.shape) * 2 + 1) * tz);
      DevBuf ddst(be, dst_bytes);
      std::vector<unsigned char> got(dst_bytes, kFill);
      be.copy_sync(ddst.p, test_device(0), got.data(), Device::cpu(), dst_bytes);
      k.dst = ddst.p;
      be.launch_cast(0, k, s.get());
      s.synchronize();
      be.copy_sync(got.data(), Device::cpu(), ddst.p, test_device(0), dst_bytes);
      const std::vector<unsigned char> want = expected_bytes(l, src, to, dst_bytes, count);
      std::size_t bad = 0;
      while (bad < got.size() && got[bad] == want[bad]) ++bad;
      EXPECT_EQ(bad, got.size()) << l.name << ", bool -> " << name(to) << ": first differing byte " << bad
                                 << " (element " << bad / static_cast<std::size_t>(tz) << "): got "
                                 << show(got, bad / tz * tz, static_cast<std::size_t>(tz)) << "want "
                                 << show(want, bad / tz * tz, static_cast<std::size_t>(tz));
    }
  }
}

/// The same bytes read as uint8 keep their values (the path is not simply clamping every
/// source byte): the control for the bool test, on the contiguous and strided kernels.
TEST(DEVICE_SUITE(CastKernel), Uint8BytesKeepTheirValues) {
  ASTENSOR_REQUIRE_DEVICES(1);
  Backend& be = test_backend();
  Stream s(be, 0);
  std::vector<unsigned char> src(64);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = kBoolBytes[i % 6];
  DevBuf dsrc(be, src.size());
  be.copy_sync(dsrc.p, test_device(0), src.data(), Device::cpu(), src.size());
  for (int64_t step : {1, 2}) {
    CastKernel k;
    k.src = dsrc.p;
    k.src_dtype = DType::uint8;
    k.shape = {64 / step};
    k.src_strides = {step};
    k.dst_dtype = DType::int32;
    k.count = 64 / step;
    DevBuf ddst(be, 64 * 4);
    k.dst = ddst.p;
    be.launch_cast(0, k, s.get());
    s.synchronize();
    std::vector<int32_t> got(static_cast<std::size_t>(k.count));
    be.copy_sync(got.data(), Device::cpu(), ddst.p, test_device(0), got.size() * 4);
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], int32_t(src[i * static_cast<std::size_t>(step)])) << "step " << step << ", element " << i;
  }
}

}  // namespace
