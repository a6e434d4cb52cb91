#pragma once
/// The implementations under test: the reference always, the optimized one when it is built.

#include <vector>

#include "core/source.h"
#include "core/tensor.h"

// The optimized implementation (impl/as_tensor.h, CMake target astensor_impl) joins the
// binary as soon as both exist; bench/CMakeLists.txt defines ASTENSOR_BENCH_LINK_IMPL when
// the target does, so a header without its library cannot break the link.
#if __has_include("impl/as_tensor.h") && defined(ASTENSOR_BENCH_LINK_IMPL)
#define ASTENSOR_BENCH_HAVE_IMPL 1
#else
#define ASTENSOR_BENCH_HAVE_IMPL 0
#endif

namespace astensor::bench {

enum class Impl { Reference, Optimized };
const char* impl_name(Impl impl);  // "reference" / "optimized"
/// The implementations this binary holds: reference always, optimized when built.
std::vector<Impl> impls();
/// Calls the chosen as_tensor.
Tensor call_as_tensor(Impl impl, const Source& source, const Options& options);

}  // namespace astensor::bench
