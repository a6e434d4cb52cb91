# keep_busy's spin kernel and raw foreign streams (cuda_test_util.h): test-only CUDA code,
# compiled into the CUDA test binaries alone; a build without CUDA keeps their skips. (This
# fragment sorts before the ones that call it: devalloc.cmake, sim.cmake.)
function(astensor_cuda_test_util target)
  if(ASTENSOR_HAVE_CUDA)
    target_sources(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/cuda_test_util.cu)
  endif()
endfunction()
