// Unit tests of the dtype table (DT-1, DT-2) and its codes.
#include <gtest/gtest.h>

#include "core/dtype.h"

using namespace astensor;

TEST(DType, TableIsConsistent) {  // DT-1
  for (int i = 0; i < kNumDTypes; ++i) {
    auto d = static_cast<DType>(i);
    EXPECT_EQ(info(d).dtype, d);
    EXPECT_EQ(dtype_from_name(name(d)), d) << name(d);
  }
  EXPECT_EQ(itemsize(DType::bfloat16), 2u);
  EXPECT_EQ(itemsize(DType::complex128), 16u);
  EXPECT_FALSE(dtype_from_name("double").has_value());
}

TEST(DType, PromotionExamplesFromSpec) {  // DT-2
  EXPECT_EQ(promote_types(DType::uint8, DType::int8), DType::int16);
  EXPECT_EQ(promote_types(DType::bool_, DType::int64), DType::int64);
  EXPECT_EQ(promote_types(DType::int64, DType::float16), DType::float16);
  EXPECT_EQ(promote_types(DType::float16, DType::bfloat16), DType::float32);
  EXPECT_EQ(promote_types(DType::float64, DType::complex64), DType::complex128);
  EXPECT_FALSE(promote_types(DType::uint16, DType::int8).has_value());
  EXPECT_FALSE(promote_types(DType::bool_, DType::uint32).has_value());
  EXPECT_EQ(promote_types(DType::uint64, DType::float32), DType::float32);
}

TEST(DType, PromotionIsSymmetricAndIdempotent) {  // DT-2
  for (int i = 0; i < kNumDTypes; ++i) {
    for (int j = 0; j < kNumDTypes; ++j) {
      auto a = static_cast<DType>(i), b = static_cast<DType>(j);
      EXPECT_EQ(promote_types(a, b), promote_types(b, a)) << name(a) << " " << name(b);
    }
    EXPECT_EQ(promote_types(static_cast<DType>(i), static_cast<DType>(i)), static_cast<DType>(i));
  }
}

TEST(DType, TypestrRoundTrip) {
  bool swapped = true;
  EXPECT_EQ(dtype_from_typestr("<f4", &swapped), DType::float32);
  EXPECT_FALSE(swapped);
  EXPECT_EQ(dtype_from_typestr(">i8", &swapped), DType::int64);
  EXPECT_TRUE(swapped);
  EXPECT_EQ(dtype_from_typestr(">u1", &swapped), DType::uint8);
  EXPECT_FALSE(swapped) << "single bytes have no byte order";
  EXPECT_EQ(dtype_from_typestr("|b1", &swapped), DType::bool_);
  EXPECT_EQ(dtype_from_typestr("<c16", &swapped), DType::complex128);
  EXPECT_FALSE(dtype_from_typestr("<V2", &swapped).has_value()) << "V2 is ambiguous";
  EXPECT_FALSE(dtype_from_typestr("<U4", &swapped).has_value());
  EXPECT_FALSE(dtype_from_typestr("f4", &swapped).has_value());
  for (int i = 0; i < kNumDTypes; ++i) {
    auto d = static_cast<DType>(i);
    if (d == DType::bfloat16) continue;
    EXPECT_EQ(dtype_from_typestr("<" + typestr_body(d), &swapped), d);
  }
}

TEST(DType, Pep3118Formats) {
  bool swapped = true;
  EXPECT_EQ(dtype_from_pep3118("d", &swapped), DType::float64);
  EXPECT_FALSE(swapped);
  EXPECT_EQ(dtype_from_pep3118(">f", &swapped), DType::float32);
  EXPECT_TRUE(swapped);
  EXPECT_EQ(dtype_from_pep3118("@l", &swapped), DType::int64);
  EXPECT_EQ(dtype_from_pep3118("<l", &swapped), DType::int32) << "standard size of l is 4";
  EXPECT_EQ(dtype_from_pep3118("Zd", &swapped), DType::complex128);
  EXPECT_EQ(dtype_from_pep3118("?", &swapped), DType::bool_);
  EXPECT_FALSE(dtype_from_pep3118("2d", &swapped).has_value());
  EXPECT_FALSE(dtype_from_pep3118("T{d:x:}", &swapped).has_value());
  EXPECT_FALSE(dtype_from_pep3118("", &swapped).has_value());
  for (int i = 0; i < kNumDTypes; ++i) {
    auto d = static_cast<DType>(i);
    auto f = pep3118_format(d);
    if (!f) continue;
    EXPECT_EQ(dtype_from_pep3118(*f, &swapped), d) << *f;
  }
}

TEST(DType, DLPackCodes) {
  EXPECT_EQ(dtype_from_dlpack(2, 32, 1), DType::float32);
  EXPECT_EQ(dtype_from_dlpack(4, 16, 1), DType::bfloat16);
  EXPECT_EQ(dtype_from_dlpack(6, 8, 1), DType::bool_);
  EXPECT_EQ(dtype_from_dlpack(5, 64, 1), DType::complex64);
  EXPECT_FALSE(dtype_from_dlpack(2, 32, 4).has_value()) << "vector lanes";
  EXPECT_FALSE(dtype_from_dlpack(2, 128, 1).has_value());
  EXPECT_FALSE(dtype_from_dlpack(3, 64, 1).has_value()) << "opaque handle";
}
