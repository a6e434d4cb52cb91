# Suites of the optimized implementation (impl/): plans, kernels, and the differential
# checks against the reference (XFER-3).
if(TARGET astensor_impl)
  astensor_test(test_impl_conformance "conformance;cpu"
    test_impl_plan.cpp test_impl_cast.cpp test_impl_cast_half.cpp test_impl_copy_layouts.cpp
    test_impl_sequence.cpp test_impl_alloc.cpp)
  astensor_test(test_impl_property "property;cpu" test_impl_property.cpp)
  # The same properties with threads on every copy of 64 bytes or more, so that the
  # partitioning of random layouts across the OpenMP team is checked too (cpu/copy.cpp).
  add_test(NAME impl_property_threaded COMMAND test_impl_property)
  set_tests_properties(impl_property_threaded PROPERTIES LABELS "property;cpu"
    ENVIRONMENT "ASTENSOR_PARALLEL_MIN_BYTES=64;OMP_NUM_THREADS=3")
endif()
