# impl::as_tensor on the simulated accelerator (issues 5/6): plans through the transfer
# pipeline and the differential check against the reference on sim (XFER-3).
if(TARGET astensor_impl)
  astensor_test(test_impl_devices "conformance;sim" test_impl_devices.cpp)
endif()
