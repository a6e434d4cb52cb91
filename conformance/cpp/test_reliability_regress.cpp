// Regressions found by the fuzz targets (issue 7), one test per finding, reproducing the
// input in C++.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "reliability_util.h"

namespace astensor::reliability {
namespace {

// fuzz_array_view / fuzz_nested: a bool view over bytes other than 0/1 (np.frombuffer(b"\x02",
// bool), a '?' buffer, a DLPack bool tensor) was loaded as a C++ bool: undefined behaviour
// (UBSan: "load of value 2, which is not a valid value for type 'bool'"). Any nonzero byte
// now reads as True (DT-3: bool is "!= 0"), in every path: cast copies, byte-swapped copies,
// nested blocks, sim transfers.
TEST(ReliabilityRegress, BoolBytesOtherThanZeroOrOneReadAsTrue_DT3) {
  static const unsigned char bytes[6] = {0, 1, 2, 255, 0, 6};
  const std::vector<double> expected = {0, 1, 1, 1, 0, 1};
  ArrayView v = ArrayView::contiguous(bytes, DType::bool_, Dims{6});
  ArrayView swapped = v;
  swapped.byteswapped = true;
  ArrayView strided = ArrayView::contiguous(bytes, DType::bool_, Dims{3});
  strided.byte_strides = Dims{2};
  for (const NamedImpl& im : implementations()) {
    SCOPED_TRACE(im.name);
    EXPECT_EQ(im.fn(v, Options{DType::int32, std::nullopt, std::nullopt}).to_double_vector(), expected);
    EXPECT_EQ(im.fn(v, Options{DType::float64, std::nullopt, std::nullopt}).to_double_vector(), expected);
    EXPECT_EQ(im.fn(swapped, Options{}).to_double_vector(), expected);
    EXPECT_EQ(im.fn(strided, Options{DType::uint8, std::nullopt, std::nullopt}).to_double_vector(),
              (std::vector<double>{0, 1, 0}));
    EXPECT_EQ(im.fn(v, Options{}).to_double_vector(), expected);  // zero-copy, then read
    Nested x = {Nested(v), Nested(v)};
    NestedReader r(x);
    EXPECT_EQ(im.fn(SequenceSource{&r}, Options{DType::int64, std::nullopt, std::nullopt}).to_double_vector(),
              (std::vector<double>{0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1}));
    Tensor d = im.fn(v, Options{DType::float32, Device(DeviceType::Sim, 0), std::nullopt});
    EXPECT_EQ(im.fn(d, Options{std::nullopt, Device::cpu(), std::nullopt}).to_double_vector(), expected);
  }
  EXPECT_TRUE(ScalarLeaf::from_element(&bytes[2], DType::bool_).b);
}


// fuzz_array_view: empty views whose other sizes multiply past int64, e.g. (2^38, 2^56 + 9,
// 0), overflowed (signed, UB) in contiguous_strides (core/layout.cpp), in view_of's byte
// strides (core/convert.cpp) and in impl's copy layout numel (impl/cpu/copy.cpp). An empty
// view is valid whatever its other sizes (ARR-1); it converts to an empty tensor.
TEST(ReliabilityRegress, EmptyViewsWithHugeSizesConvertWithoutOverflow_ARR1) {
  static const unsigned char byte = 0;
  const int64_t huge = (int64_t(1) << 56) + 9;
  for (const NamedImpl& im : implementations()) {
    SCOPED_TRACE(im.name);
    for (std::optional<bool> copy : {std::optional<bool>(), std::optional<bool>(true)}) {
      ArrayView v;
      v.data = &byte;
      v.dtype = DType::complex128;
      v.shape = Dims{int64_t(1) << 38, huge, 0, 6};
      v.byte_strides = Dims{16, 16, 16, int64_t(7005436081793400669)};
      EXPECT_EQ(validate(v), 0);
      (void)element_strides(v);
      for (std::optional<DType> dt : {std::optional<DType>(), std::optional<DType>(DType::int8)}) {
        Tensor t = im.fn(v, Options{dt, std::nullopt, copy});
        EXPECT_EQ(t.numel(), 0);
        EXPECT_EQ(t.shape(), v.shape);
        EXPECT_TRUE(t.to_complex_vector().empty());
      }
    }
  }
}

}  // namespace
}  // namespace astensor::reliability
