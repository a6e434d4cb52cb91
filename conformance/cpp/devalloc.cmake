# The caching device allocator (impl/transfer/device_allocator.h, issue 6): bins, stream-ordered
# reuse under sim's random delays, the bounded cache, fault injection (test_device_alloc.cpp), and
# the transfer pipeline through it (test_device_alloc_pipeline.cpp).
# The same sources build a CUDA binary (label "cuda"; skips with the reason without a device).
if(TARGET astensor_impl)
  astensor_test(test_device_alloc "unit;sim" test_device_alloc.cpp test_device_alloc_pipeline.cpp)
  astensor_test(test_cuda_device_alloc "unit;cuda" test_device_alloc.cpp test_device_alloc_pipeline.cpp)
  target_compile_definitions(test_cuda_device_alloc PRIVATE ASTENSOR_TEST_CUDA=1)
  astensor_cuda_test_util(test_cuda_device_alloc)  # cuda_test_util.cmake
endif()
