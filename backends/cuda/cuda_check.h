#pragma once
/// The one checking macro for CUDA runtime calls (DESIGN.md "Errors"): RuntimeError with the
/// call text, the error name and CUDA's message. The NOEXCEPT form is for destructors.

#include <cuda_runtime.h>

#include <cstdio>

#include "core/error.h"

#define ASTENSOR_CUDA_CHECK(call)                                                          \
  do {                                                                                     \
    cudaError_t astensor_err_ = (call);                                                    \
    if (astensor_err_ != cudaSuccess) {                                                    \
      (void)cudaGetLastError();                                                            \
      throw ::astensor::RuntimeError(::astensor::detail::str_cat(                          \
          "[cuda] ", #call, " failed: ", cudaGetErrorName(astensor_err_), ": ",             \
          cudaGetErrorString(astensor_err_)));                                             \
    }                                                                                      \
  } while (0)

#define ASTENSOR_CUDA_CHECK_NOEXCEPT(call)                                                 \
  do {                                                                                     \
    cudaError_t astensor_err_ = (call);                                                    \
    if (astensor_err_ != cudaSuccess) {                                                    \
      (void)cudaGetLastError();                                                            \
      std::fprintf(stderr, "astensor: %s failed: %s\n", #call,                             \
                   cudaGetErrorString(astensor_err_));                                     \
    }                                                                                      \
  } while (0)
