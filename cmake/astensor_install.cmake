# The C++ package: `cmake --install <build> --prefix <p>` installs
#   <p>/include/astensor/{core,backends,impl,reference}/...   the tree's headers, as in the tree
#   <p>/lib/libastensor_{core,backend_sim,backend_cuda,reference,impl}.a
#   <p>/lib/cmake/astensor/                          astensorConfig.cmake and the targets
# and another CMake project does
#   find_package(astensor 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE astensor::astensor)   # the optimized as_tensor (impl/)
#   target_link_libraries(app PRIVATE astensor::reference)  # the reference as_tensor
# (both bring astensor::core, Tensor, dtypes, devices, and astensor::backends, the sim and CUDA
# backends, linked whole so that they register themselves). Headers are
# included as in the tree, "core/tensor.h", or as <astensor/core/tensor.h>.
# conformance/package is such a project; ci/stages/27-package builds and runs it.
include(CMakePackageConfigHelpers)

set(ASTENSOR_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/astensor)

set_target_properties(astensor_core PROPERTIES EXPORT_NAME core)
set_target_properties(astensor_reference PROPERTIES EXPORT_NAME reference)
set_target_properties(astensor_backend_sim PROPERTIES EXPORT_NAME backend_sim)
set_target_properties(astensor_backend_cuda PROPERTIES EXPORT_NAME backend_cuda)
set_target_properties(astensor_backends PROPERTIES EXPORT_NAME backends)
set(_astensor_targets astensor_core astensor_backend_sim astensor_backend_cuda astensor_backends
    astensor_reference)
if(TARGET astensor_impl)
  set_target_properties(astensor_impl PROPERTIES EXPORT_NAME astensor)
  list(APPEND _astensor_targets astensor_impl)
endif()
install(TARGETS ${_astensor_targets} EXPORT astensorTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT astensorTargets NAMESPACE astensor:: DESTINATION ${ASTENSOR_INSTALL_CMAKEDIR})

# Every header of the library's folders (tests, benchmarks and the Python module are not part
# of the package), at the same relative path.
foreach(dir core backends impl reference)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/astensor/${dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp" PATTERN "*.cuh")
endforeach()

# What the exported targets link, for astensorConfig.cmake to find again (find_dependency).
# (impl/ finds OpenMP in its own directory scope: read what astensor_impl links instead.)
set(ASTENSOR_PACKAGE_CUDA ${ASTENSOR_HAVE_CUDA})
# core links CUDA::nvtx3 (headers only) whenever NVTX was found, CPU-only builds included.
set(ASTENSOR_PACKAGE_CUDATOOLKIT OFF)
if(ASTENSOR_HAVE_CUDA OR ASTENSOR_HAVE_NVTX)
  set(ASTENSOR_PACKAGE_CUDATOOLKIT ON)
endif()
set(ASTENSOR_PACKAGE_OPENMP OFF)
if(TARGET astensor_impl)
  get_target_property(_impl_links astensor_impl INTERFACE_LINK_LIBRARIES)
  if("OpenMP::OpenMP_CXX" IN_LIST _impl_links)
    set(ASTENSOR_PACKAGE_OPENMP ON)
  endif()
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/astensorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/astensorConfig.cmake INSTALL_DESTINATION ${ASTENSOR_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API, so 0.1 accepts 0.1.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/astensorConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/astensorConfig.cmake ${PROJECT_BINARY_DIR}/astensorConfigVersion.cmake
        DESTINATION ${ASTENSOR_INSTALL_CMAKEDIR})
