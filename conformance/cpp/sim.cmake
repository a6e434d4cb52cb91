# Device suites (issue 6): the Backend interface, the transfer pipeline and the pinned pool,
# run on sim (label "sim") and, from the same sources, on CUDA (label "cuda"; every test
# skips with the reason where no CUDA device is present, e.g. a build without CUDA).
set(_astensor_device_tests test_backend_async.cpp test_transfer.cpp test_transfer_small.cpp
    test_pinned_pool.cpp test_pending.cpp test_non_blocking.cpp)
astensor_test(test_sim_devices "conformance;sim" ${_astensor_device_tests})
astensor_test(test_cuda_devices "conformance;cuda" ${_astensor_device_tests})
target_compile_definitions(test_cuda_devices PRIVATE ASTENSOR_TEST_CUDA=1)
astensor_cuda_test_util(test_cuda_devices)  # cuda_test_util.cmake
