# Unit tests of the core model.
astensor_test(test_core "unit;cpu" test_dtype.cpp test_half_cast.cpp test_device.cpp test_layout.cpp)
