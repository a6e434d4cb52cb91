#pragma once
/// NVTX3 ranges in one domain named "astensor", so an Nsight Systems timeline shows every
/// stage of the optimized paths:
///   ASTENSOR_RANGE("stage_chunk");
/// Compiles to nothing when the NVTX headers are missing (ASTENSOR_HAVE_NVTX unset) or when
/// NVTX_DISABLE is defined. Ranges cost close to nothing when no tool is attached.

#if defined(ASTENSOR_HAVE_NVTX) && !defined(NVTX_DISABLE)
#define NVTX3_CPP_REQUIRE_EXPLICIT_VERSION
#include <nvtx3/nvtx3.hpp>

namespace astensor {
struct nvtx_domain {
  static constexpr char const* name{"astensor"};
};
}  // namespace astensor

#define ASTENSOR_RANGE_CAT2(a, b) a##b
#define ASTENSOR_RANGE_CAT(a, b) ASTENSOR_RANGE_CAT2(a, b)
/// A scoped range; `msg` is registered once per call site (a function-local static).
#define ASTENSOR_RANGE(msg)                                                                   \
  static const ::nvtx3::v1::registered_string_in<::astensor::nvtx_domain> ASTENSOR_RANGE_CAT( \
      astensor_range_str_, __LINE__){msg};                                                    \
  const ::nvtx3::v1::scoped_range_in<::astensor::nvtx_domain> ASTENSOR_RANGE_CAT(             \
      astensor_range_, __LINE__) {                                                            \
    ASTENSOR_RANGE_CAT(astensor_range_str_, __LINE__)                                         \
  }
#else
#define ASTENSOR_RANGE(msg) \
  do {                      \
  } while (0)
#endif
