#pragma once
// What the suites of the optimized CPU kernels share (test_impl_cast.cpp,
// test_impl_cast_half.cpp, test_impl_copy_layouts.cpp): the DT-3 edge values, and a scope
// that pins the kernels' instruction-set level.
#include <cmath>
#include <limits>
#include <vector>

#include "impl/cpu/kernels.h"

namespace astensor::impl_cast_check {

/// Doubles that sit on every edge of DT-3: signed zeros, NaN, infinities, halves (ties),
/// the integer bounds and their neighbours, float16/float32 limits, subnormals.
inline std::vector<double> edge_doubles() {
  std::vector<double> v = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994,
                           std::numeric_limits<double>::quiet_NaN(),
                           -std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                           std::numeric_limits<double>::denorm_min(), 5e-324, 1e-310,
                           std::numeric_limits<double>::min(), 65504.0, 65519.99, 65520.0,
                           -65520.0, 6.1e-5, 5.96e-8, 2.98e-8, 3.0e38, 3.4028235e38, 3.4028236e38,
                           1e39, -1e39, 1e300, -1e300, 0.1, 1.0 / 3.0};
  for (int bits : {7, 8, 15, 16, 31, 32, 53, 63, 64}) {
    const double p = std::ldexp(1.0, bits);
    for (double x : {p, -p}) {
      v.push_back(x);
      v.push_back(std::nextafter(x, 0.0));
      v.push_back(std::nextafter(x, x * 2));
      v.push_back(x - 1);
      v.push_back(x + 1);
      v.push_back(x - 0.5);
    }
  }
  return v;
}

/// Runs the kernels at instruction-set level `i` for a scope (the previous level after it).
class IsaLevel {
 public:
  explicit IsaLevel(impl::cpu::Isa i) : old_(impl::cpu::set_cpu_isa(i)) {}
  ~IsaLevel() { impl::cpu::set_cpu_isa(old_); }

 private:
  impl::cpu::Isa old_;
};

}  // namespace astensor::impl_cast_check
