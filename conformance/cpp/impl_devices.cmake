# impl::as_tensor on the simulated accelerator (issues 5/6): plans through the transfer
# pipeline and the differential check against the reference on sim (XFER-3).
if(TARGET astensor_impl)
  astensor_test(test_impl_devices "conformance;sim" test_impl_devices.cpp)
  # Again with threads on every copy of 64 bytes or more: the staging chunks are then split
  # across the OpenMP team (cpu/copy.cpp run_copy_range).
  add_test(NAME impl_devices_threaded COMMAND test_impl_devices)
  set_tests_properties(impl_devices_threaded PROPERTIES LABELS "property;sim"
    ENVIRONMENT "ASTENSOR_PARALLEL_MIN_BYTES=64;OMP_NUM_THREADS=3")
endif()
