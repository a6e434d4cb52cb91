#pragma once
/// The implementations the conformance suites run against. Every typed suite is
/// instantiated once per entry of `Implementations`, so one test text holds both the
/// reference and the optimized implementation to the same rules (XFER-3).
///
/// ctest names each instance after the type: "ArrayRules.Arr1...<astensor::conformance::
/// ReferenceImpl>" (GoogleTest itself prints "ArrayRules/0.Arr1... # TypeParam = ...").
///
/// The optimized implementation joins automatically once impl/as_tensor.h exists (its CMake
/// target astensor_impl is then linked by astensor_test()); merging it needs no edit here.

#include <gtest/gtest.h>

#include "core/source.h"
#include "core/tensor.h"
#include "reference/as_tensor.h"

#if __has_include("impl/as_tensor.h")
#include "impl/as_tensor.h"
#define ASTENSOR_CONFORMANCE_HAVE_IMPL 1
#endif

namespace astensor::conformance {

/// reference/: SPEC.md applied literally.
struct ReferenceImpl {
  static constexpr const char* name = "reference";
  static Tensor as_tensor(const Source& source, const Options& options = {}) {
    return astensor::reference::as_tensor(source, options);
  }
};

#ifdef ASTENSOR_CONFORMANCE_HAVE_IMPL
/// impl/: the optimized implementation.
struct OptimizedImpl {
  static constexpr const char* name = "impl";
  static Tensor as_tensor(const Source& source, const Options& options = {}) {
    return astensor::impl::as_tensor(source, options);
  }
};
using Implementations = ::testing::Types<ReferenceImpl, OptimizedImpl>;
#else
using Implementations = ::testing::Types<ReferenceImpl>;
#endif

}  // namespace astensor::conformance
