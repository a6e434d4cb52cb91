// Limits (issue 7; SEQ-6, SEQ-2): nesting depth, numel overflow and absurd shapes give typed
// errors, never crashes or huge allocations; nothing is left allocated after them.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/error.h"
#include "reliability_util.h"

namespace astensor::reliability {
namespace {

ErrorKind kind_of(const std::function<void()>& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no error";
  return ErrorKind::Runtime;
}

Nested nest(int depth, Nested leaf) {
  Nested x = std::move(leaf);
  for (int d = 0; d < depth; ++d) {
    Nested::List l;  // not List{x}: an initializer_list would copy the whole chain
    l.push_back(std::move(x));
    x = Nested(std::move(l));
  }
  return x;
}

TEST(ReliabilityLimits, NestingDeeperThan64IsValueError_SEQ6) {
  for (const NamedImpl& im : implementations()) {
    const Usage base = usage();
    {  // 64 levels are fine
      Nested ok = nest(63, Nested(Nested::List{1, 2}));
      NestedReader r(ok);
      EXPECT_EQ(im.fn(SequenceSource{&r}, Options{}).ndim(), 64) << im.name;
    }
    // (~Nested recurses once per level: 2000 keeps the chain's destructor within any stack.)
    for (int depth : {65, 66, 200, 2000}) {
      Nested deep = nest(depth, Nested(1));
      NestedReader r(deep);
      std::string msg;
      EXPECT_EQ(kind_of([&] { im.fn(SequenceSource{&r}, Options{}); }, &msg), ErrorKind::Value)
          << im.name << " depth " << depth;
      EXPECT_NE(msg.find("deeper than 64"), std::string::npos) << msg;
    }
    EXPECT_EQ(usage(), base) << im.name;
  }
}

TEST(ReliabilityLimits, ViewsWhoseBytesOverflowAreValueErrors_ARR1) {
  static const float buf[4] = {1, 2, 3, 4};
  const int64_t big = int64_t(1) << 62;
  struct Case {
    Dims shape, strides;
  } cases[] = {
      {Dims{big, 4}, Dims{4, 4}},                          // numel * itemsize overflows
      {Dims{int64_t(1) << 31, int64_t(1) << 31, 8}, Dims{0, 0, 4}},  // numel overflows
      {Dims{3}, Dims{std::numeric_limits<int64_t>::max()}},          // stride * (n-1) overflows
      {Dims{2, 2}, Dims{big, big}},                        // the sum of spans overflows
      {Dims{2}, Dims{-(int64_t(1) << 60)}},                // reaches below address 0
      {Dims{2}, Dims{int64_t(1) << 58}},                   // beyond any user address
      {Dims{-1}, Dims{4}},                                 // negative size
      {Dims{2, 2}, Dims{4}},                               // strides of the wrong length
  };
  for (const NamedImpl& im : implementations()) {
    const Usage base = usage();
    for (const Case& c : cases) {
      ArrayView v;
      v.data = buf;
      v.dtype = DType::float32;
      v.shape = c.shape;
      v.byte_strides = c.strides;
      std::string msg;
      const ErrorKind k = kind_of([&] { im.fn(v, Options{}); }, &msg);
      EXPECT_EQ(k, ErrorKind::Value) << im.name << " shape " << c.shape.str() << ": " << msg;
      EXPECT_EQ(msg.rfind("[as_tensor]", 0), 0u) << msg;
    }
    Dims many(65, 1);
    ArrayView v = ArrayView::contiguous(buf, DType::float32, many);
    EXPECT_EQ(kind_of([&] { im.fn(v, Options{}); }), ErrorKind::Value) << "65 dims";
    EXPECT_EQ(usage(), base) << im.name;
  }
}

TEST(ReliabilityLimits, AbsurdButValidShapesOfZeroElementsAllocateNothing_ARR1) {
  // 2^62 x 0 elements: numel 0, a valid empty tensor; no allocation proportional to a size.
  for (const NamedImpl& im : implementations()) {
    ArrayView v;
    v.data = nullptr;
    v.dtype = DType::float64;
    v.shape = Dims{int64_t(1) << 62, 0};
    v.byte_strides = Dims{0, 8};
    Tensor t = im.fn(v, Options{DType::float32, std::nullopt, std::nullopt});
    EXPECT_EQ(t.numel(), 0);
    EXPECT_LE(t.storage()->nbytes(), 64u) << im.name;
  }
}

}  // namespace
}  // namespace astensor::reliability
