# The conformance suites (conformance/RULES.md maps each SPEC rule to its tests). Typed over
# the implementations of impls.h, so the optimized implementation is checked by the same
# tests as soon as it exists.
astensor_test(conformance_cpu "conformance;cpu"
  conf_tensors.cpp conf_arrays.cpp conf_sequences.cpp conf_casts.cpp)
astensor_test(property_cpu "property;cpu" conf_properties.cpp)
# Rules that need an accelerator: run on every sim:N and cuda:N present, skip (saying why)
# where there is none. Labelled "cuda" too, so the GPU check (ctest -L cuda) runs it with cuda:N.
astensor_test(conformance_devices "conformance;sim;cuda" conf_devices.cpp)
# impls.h finds the optimized implementation with __has_include, which a depfile cannot
# track; a flag that changes when the target appears makes existing builds recompile.
if(TARGET astensor_impl)
  foreach(t conformance_cpu property_cpu conformance_devices)
    target_compile_definitions(${t} PRIVATE ASTENSOR_CONFORMANCE_IMPL_TARGET=1)
  endforeach()
endif()
