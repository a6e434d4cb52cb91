// Uses astensor as an installed package (find_package(astensor), astensor::astensor and
// astensor::reference): converts host data with the optimized and the reference as_tensor,
// checks the values, that the zero-copy path shares the caller's memory and the cast copies,
// a transfer to the simulated device, and prints explain(). Exits 1 on any mismatch.
#include <astensor/impl/as_tensor.h>    // the <astensor/...> include style
#include "reference/as_tensor.h"        // the tree's own style (include/astensor on the path)
#include "core/error.h"

#include <cstdio>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

bool values_are(const astensor::Tensor& t, const std::vector<double>& want) {
  return t.to_double_vector() == want;
}

}  // namespace

int main() {
  using namespace astensor;
  try {
    std::vector<float> data{1.5f, -2.0f, 3.25f, 4.0f, 5.0f, -6.5f};
    const std::vector<double> want{1.5, -2.0, 3.25, 4.0, 5.0, -6.5};
    const ArrayView view = ArrayView::contiguous(data.data(), DType::float32, Dims{2, 3});

    // Same dtype, same device: shared, no copy.
    const Tensor shared = impl::as_tensor(view);
    check(shared.data_ptr() == data.data(), "impl::as_tensor shares the caller's memory");
    check(shared.dtype() == DType::float32 && shared.shape() == Dims{2, 3} &&
              values_are(shared, want), "impl::as_tensor values, dtype, shape: " + shared.str());
    data[0] = 7.0f;  // a write through the caller's buffer is seen by the shared tensor
    check(shared.to_double_vector()[0] == 7.0, "the shared tensor sees the caller's write");
    data[0] = 1.5f;

    const Tensor ref_shared = reference::as_tensor(view);
    check(ref_shared.data_ptr() == data.data() && values_are(ref_shared, want),
          "reference::as_tensor shares and reads the same values");

    // A cast copies, in both implementations, to the same values.
    Options to_f64;
    to_f64.dtype = DType::float64;
    const Tensor cast = impl::as_tensor(view, to_f64);
    const Tensor ref_cast = reference::as_tensor(view, to_f64);
    check(cast.dtype() == DType::float64 && cast.data_ptr() != data.data() &&
              values_are(cast, want), "impl cast to float64 copies: " + cast.str());
    check(ref_cast.dtype() == DType::float64 && values_are(ref_cast, want),
          "reference cast to float64 gives the same values");

    // To a device: the simulated accelerator is part of the library.
    Options to_sim;
    to_sim.device = Device::parse("sim:0");
    to_sim.dtype = DType::float64;
    const Tensor on_sim = impl::as_tensor(view, to_sim);
    check(on_sim.device() == Device::parse("sim:0") && values_are(on_sim, want),
          "impl::as_tensor to sim:0 with a cast: " + on_sim.str());

    const std::string plan = impl::explain(view, to_sim);
    std::printf("explain(view, dtype=float64, device=sim:0):\n%s\n", plan.c_str());
    check(plan.find("sim:0") != std::string::npos, "explain() names the target device");

    // Typed errors reach the user's code.
    bool threw = false;
    try {
      Device::parse("gpu:0");
    } catch (const ValueError&) {
      threw = true;
    }
    check(threw, "Device::parse(\"gpu:0\") throws astensor::ValueError");
  } catch (const std::exception& e) {
    std::printf("FAIL: unexpected exception: %s\n", e.what());
    return 1;
  }
  std::printf("%s (%d failure%s)\n", failures ? "package_user FAILED" : "package_user passed",
              failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
