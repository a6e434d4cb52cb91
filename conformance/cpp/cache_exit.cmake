# The caches give their memory back at exit (Note [Caches at exit] in
# impl/transfer/device_allocator.h, issue 11 section 4): shutdown of a caching device allocator
# and of a pinned pool, and the process-wide exit hook checked in a child process after it ran.
# The same source builds a CUDA binary (label "cuda"; skips with the reason without a device).
if(TARGET astensor_impl)
  astensor_test(test_cache_exit "unit;sim" test_cache_exit.cpp)
  astensor_test(test_cuda_cache_exit "unit;cuda" test_cache_exit.cpp)
  target_compile_definitions(test_cuda_cache_exit PRIVATE ASTENSOR_TEST_CUDA=1)
endif()
