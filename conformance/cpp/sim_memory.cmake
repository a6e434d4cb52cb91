# sim's device memory (Note [sim device memory] in backends/sim/detail/memory.h): the guard
# that makes a host access to device memory fault, and the alias sim's operations use.
astensor_test(test_sim_memory "unit;sim" test_sim_memory.cpp)
