# The device cast kernel (Backend::launch_cast, core/backend.h CastKernel) against the CPU's
# conversion (core/cast.h cast_one), bool source bytes 2..255 in particular (issue 11 section
# 6), on every path of the kernels: contiguous (vector and scalar), strided, gathered,
# reversed, strided destination, element ranges. The same source builds a CUDA binary (label
# "cuda"; skips with the reason without a device).
if(TARGET astensor_impl)
  astensor_test(test_cast_kernels "unit;sim" test_cast_kernels.cpp)
  astensor_test(test_cuda_cast_kernels "unit;cuda" test_cast_kernels.cpp)
  target_compile_definitions(test_cuda_cast_kernels PRIVATE ASTENSOR_TEST_CUDA=1)
endif()
