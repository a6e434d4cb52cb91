# Suites of the optimized implementation (impl/): plans, kernels, and the differential
# checks against the reference (XFER-3).
if(TARGET astensor_impl)
  astensor_test(test_impl_conformance "conformance;cpu"
    test_impl_plan.cpp test_impl_cast.cpp test_impl_sequence.cpp test_impl_alloc.cpp)
  astensor_test(test_impl_property "property;cpu" test_impl_property.cpp)
endif()
