# astensor_cuda_architectures(<mode> <out_var>): the CUDA architectures to compile for, when
# CMAKE_CUDA_ARCHITECTURES is not given (ASTENSOR_CUDA_ARCHS in the top-level CMakeLists.txt).
# Needs CMAKE_CUDA_COMPILER (check_language(CUDA)); runs before enable_language(CUDA).
#   default   90-real;90-virtual: H100/H200 machine code plus PTX that newer GPUs JIT-compile.
#             One architecture: the fastest build (CI, the presets).
#   local     the compute capabilities nvidia-smi reports for this machine's GPUs (machine
#             code + PTX for each); without a GPU (or nvidia-smi), or when nvcc cannot compile
#             for one of them, `portable`. pip install . uses this mode.
#   portable  machine code for Volta (70, only when nvcc still supports it: CUDA 13 dropped
#             it), Turing (75), Ampere (80, 86), Ada (89), Hopper (90), plus PTX for Hopper that
#             Blackwell and newer JIT-compile at first use. Costs one device compilation of
#             the .cu files per architecture (about 6x the `default` build's CUDA time).
function(astensor_cuda_architectures mode out_var)
  if(mode STREQUAL "default")
    set(${out_var} "90-real;90-virtual" PARENT_SCOPE)
    return()
  endif()
  # The virtual architectures this nvcc compiles for ("compute_75 compute_80 ..."); empty when
  # nvcc is too old to list them (then nothing is filtered out).
  execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --list-gpu-arch
                  OUTPUT_VARIABLE _listed ERROR_QUIET RESULT_VARIABLE _rc)
  set(_supported "")
  if(_rc EQUAL 0)
    string(REGEX MATCHALL "compute_[0-9]+" _listed "${_listed}")
    foreach(a ${_listed})
      string(REPLACE "compute_" "" a "${a}")
      list(APPEND _supported ${a})
    endforeach()
  endif()

  if(mode STREQUAL "local")
    set(_local "")
    find_program(_nvidia_smi nvidia-smi)
    if(_nvidia_smi)
      execute_process(COMMAND ${_nvidia_smi} --query-gpu=compute_cap --format=csv,noheader
                      OUTPUT_VARIABLE _caps ERROR_QUIET RESULT_VARIABLE _rc TIMEOUT 30)
      if(_rc EQUAL 0)
        string(REGEX MATCHALL "[0-9]+\\.[0-9]+" _caps "${_caps}")
        foreach(c ${_caps})
          string(REPLACE "." "" c "${c}")
          list(APPEND _local ${c})
        endforeach()
        list(REMOVE_DUPLICATES _local)
      endif()
    endif()
    set(_ok TRUE)
    foreach(c ${_local})
      if(_supported AND NOT c IN_LIST _supported)
        message(WARNING "astensor: this nvcc cannot compile for the local GPU's sm_${c}; using the portable list")
        set(_ok FALSE)
      endif()
    endforeach()
    if(_local AND _ok)
      message(STATUS "astensor: CUDA architectures of this machine's GPUs: ${_local}")
      set(${out_var} "${_local}" PARENT_SCOPE)  # "90" = sm_90 machine code + compute_90 PTX
      return()
    endif()
    if(NOT _local)
      message(STATUS "astensor: no GPU found (nvidia-smi); compiling CUDA code for the portable list")
    endif()
    set(mode portable)
  endif()

  if(mode STREQUAL "portable")
    set(_archs "")
    foreach(a 70 75 80 86 89 90)
      if(NOT _supported OR a IN_LIST _supported)
        list(APPEND _archs ${a}-real)
      endif()
    endforeach()
    list(APPEND _archs 90-virtual)
    set(${out_var} "${_archs}" PARENT_SCOPE)
    return()
  endif()
  message(FATAL_ERROR "astensor: ASTENSOR_CUDA_ARCHS='${mode}': expected default, local or portable")
endfunction()
