#pragma once
/// astensor._sim_testing: TEST-ONLY hooks into the simulated accelerator (sim_testing.cpp).

#include "python/src/common.h"

namespace astensor::python {

/// Adds the submodule `_sim_testing` to the extension module.
void init_sim_testing(py::module_& m);

}  // namespace astensor::python
