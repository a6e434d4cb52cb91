// Layout helpers behind TEN-3 and ARR-1.
#include <gtest/gtest.h>

#include "core/array_view.h"
#include "core/error.h"
#include "core/tensor.h"

using namespace astensor;

TEST(Layout, ContiguousStridesTreatZeroAsOne) {
  EXPECT_EQ(contiguous_strides(Dims{2, 3, 4}.span()), (Dims{12, 4, 1}));
  EXPECT_EQ(contiguous_strides(Dims{2, 0}.span()), (Dims{1, 1}));
  EXPECT_EQ(contiguous_strides(Dims{}.span()), (Dims{}));
}

TEST(Layout, DenseDetection) {  // TEN-3
  EXPECT_TRUE(is_non_overlapping_and_dense(Dims{3, 4}.span(), Dims{1, 3}.span()));   // transposed
  EXPECT_TRUE(is_non_overlapping_and_dense(Dims{1, 4}.span(), Dims{99, 1}.span()));  // size-1 dim
  EXPECT_FALSE(is_non_overlapping_and_dense(Dims{3, 4}.span(), Dims{0, 1}.span()));  // broadcast
  EXPECT_FALSE(is_non_overlapping_and_dense(Dims{4}.span(), Dims{2}.span()));        // gaps
  EXPECT_FALSE(is_non_overlapping_and_dense(Dims{4}.span(), Dims{-1}.span()));       // reversed
  EXPECT_EQ(copy_strides(Dims{3, 4}.span(), Dims{1, 3}.span()), (Dims{1, 3}));
  EXPECT_EQ(copy_strides(Dims{3, 4}.span(), Dims{0, 1}.span()), (Dims{4, 1}));
  EXPECT_EQ(copy_strides(Dims{0, 4}.span(), Dims{0, 0}.span()), (Dims{4, 1}));
}

TEST(Layout, NumelOverflowIsAValueError) {
  EXPECT_THROW(checked_numel(Dims{int64_t(1) << 40, int64_t(1) << 40}.span()), ValueError);
  EXPECT_THROW(checked_numel(Dims{-1, 2}.span()), ValueError);
  EXPECT_EQ(checked_numel(Dims{int64_t(1) << 62, 0}.span()), 0);
}

TEST(Layout, ValidateRejectsImpossibleViews) {  // issue 7's hostile producers, ARR-*
  double x = 0;
  ArrayView v = ArrayView::contiguous(&x, DType::float64, Dims{1});
  EXPECT_EQ(validate(v), 1);
  v.data = nullptr;
  EXPECT_THROW(validate(v), ValueError);
  v.data = &x;
  v.shape = Dims{int64_t(1) << 61};
  v.byte_strides = Dims{8};
  EXPECT_THROW(validate(v), ValueError) << "numel * itemsize overflows";
  v.shape = Dims{3};
  v.byte_strides = Dims{INT64_MAX / 2 + 1};
  EXPECT_THROW(validate(v), ValueError) << "stride * size overflows";
  v.byte_strides = Dims{INT64_MAX / 4};
  EXPECT_THROW(validate(v), ValueError) << "reaches beyond the address space";
  v.byte_strides = Dims{-8};
  v.shape = Dims{int64_t(1) << 58};
  EXPECT_THROW(validate(v), ValueError) << "negative strides reach below address 0";
  // Strides whose negative reach is exactly INT64_MIN (found by fuzz_dlpack_import in CI):
  // a ValueError, not a signed negation overflow.
  v.byte_strides = Dims{INT64_MIN / 2, INT64_MIN / 2};
  v.shape = Dims{2, 2};
  EXPECT_THROW(validate(v), ValueError) << "reach of INT64_MIN below the data";
  v.byte_strides = Dims{INT64_MIN};
  v.shape = Dims{2};
  EXPECT_THROW(validate(v), ValueError) << "one stride of INT64_MIN";
  v.byte_strides = Dims{8, 8};
  EXPECT_THROW(validate(v), ValueError) << "strides and shape differ in length";
  v.shape = Dims{0};
  v.byte_strides = Dims{8};
  v.data = nullptr;
  EXPECT_EQ(validate(v), 0) << "zero-size views may have no data";
}

TEST(Layout, ElementStridesIgnoreSizeOneDims) {  // ARR-1, ARR-5
  float x[4] = {};
  ArrayView v = ArrayView::contiguous(x, DType::float32, Dims{1, 4});
  v.byte_strides = Dims{7, 4};  // the stride of a size-1 dim does not matter
  EXPECT_TRUE(has_element_strides(v));
  EXPECT_EQ(element_strides(v), (Dims{4, 1}));
  v.byte_strides = Dims{16, 5};
  EXPECT_FALSE(has_element_strides(v));
}
