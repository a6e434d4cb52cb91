# ctest layering_core_links_no_backend (layering.cmake): fails when astensor_core links a
# backend target or a CUDA runtime, or when its archive needs a CUDA runtime symbol or a
# backend getter. -DLINKS=<core_links.txt> -DARCHIVE=<libastensor_core.a> -DNM=<nm>
file(READ "${LINKS}" links)
string(REGEX MATCHALL "(astensor_backend[a-z_]*|CUDA::cuda[a-z_]*|cudart[a-z_]*|CUDA::cuda_driver)" bad "${links}")
if(bad)
  message(FATAL_ERROR "astensor_core links ${bad}; core must know no backend and no device runtime:\n${links}")
endif()
execute_process(COMMAND "${NM}" -C -u "${ARCHIVE}" OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${ARCHIVE} failed (${rc})")
endif()
string(REGEX MATCHALL "U (cuda[A-Z]|cu[A-Z][a-z]|astensor::sim_backend|astensor::cuda_backend)[^\n]*" bad "${undefined}")
if(bad)
  message(FATAL_ERROR "${ARCHIVE} needs symbols of a backend or the CUDA runtime:\n${bad}")
endif()
string(LENGTH "${undefined}" n)
message(STATUS "astensor_core: links [${links}], ${n} bytes of undefined-symbol listing, none from a backend or CUDA")
