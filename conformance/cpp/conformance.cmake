# The conformance suites (conformance/RULES.md maps each SPEC rule to its tests). Typed over
# the implementations of impls.h, so the optimized implementation is checked by the same
# tests as soon as it exists.
astensor_test(conformance_cpu "conformance;cpu"
  conf_tensors.cpp conf_arrays.cpp conf_sequences.cpp conf_casts.cpp)
astensor_test(property_cpu "property;cpu" conf_properties.cpp)
