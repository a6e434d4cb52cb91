# Reliability suites (issue 7): fault injection, threads, limits, fuzz regressions. The
# scenarios include host -> sim -> host transfers, hence the "sim" label next to "cpu".
astensor_test(test_reliability "unit;cpu;sim"
  test_reliability_fault.cpp test_reliability_threads.cpp test_reliability_limits.cpp
  test_reliability_regress.cpp)
