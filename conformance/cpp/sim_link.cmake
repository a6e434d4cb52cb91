# The link model of sim (issue 12, Note [the sim link model] in backends/sim/detail/link_model.h):
# modelled copy times, copy engines, the ASTENSOR_SIM_LINK parser, bit-exact transfers under
# the model.
if(TARGET astensor_impl)
  astensor_test(test_sim_link "unit;sim" test_sim_link.cpp)
  # The model read from the environment at start-up: a good value is in force, a bad one is a
  # ValueError naming the variable on every sim copy (SimLinkEnv skips without the variable).
  add_test(NAME sim_link_env_good COMMAND test_sim_link --gtest_filter=SimLinkEnv.*)
  set_tests_properties(sim_link_env_good PROPERTIES LABELS "unit-sim"
    ENVIRONMENT "ASTENSOR_SIM_LINK=h2d_pinned=3GB/s, latency=7us,engines=1")
  add_test(NAME sim_link_env_bad COMMAND test_sim_link --gtest_filter=SimLinkEnv.*)
  set_tests_properties(sim_link_env_bad PROPERTIES LABELS "unit-sim"
    ENVIRONMENT "ASTENSOR_SIM_LINK=h2d_pinned=fast")
endif()
