#pragma once
// The device under test of the device suites: the same sources build test_sim_* (sim) and
// test_cuda_* (ASTENSOR_TEST_CUDA defined). The CUDA binaries skip, saying why, where no CUDA
// device is present.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/backend.h"
#include "core/convert.h"
#include "core/tensor.h"

/// Suite names carry the device kind, so the sim and CUDA binaries register distinct tests.
#ifdef ASTENSOR_TEST_CUDA
#define DEVICE_SUITE(name) Cuda##name
#else
#define DEVICE_SUITE(name) Sim##name
#endif
// Macros that paste their suite argument need it expanded first.
#define ASTENSOR_EXPAND_CALL(macro, ...) macro(__VA_ARGS__)
#define DEVICE_INSTANTIATE(prefix, suite, ...) \
  ASTENSOR_EXPAND_CALL(INSTANTIATE_TEST_SUITE_P, prefix, DEVICE_SUITE(suite), __VA_ARGS__)

namespace astensor::testing {

inline DeviceType test_device_type() {
#ifdef ASTENSOR_TEST_CUDA
  return DeviceType::CUDA;
#else
  return DeviceType::Sim;
#endif
}
inline bool testing_sim() { return test_device_type() == DeviceType::Sim; }
inline Backend& test_backend() { return backend(test_device_type()); }
inline Device test_device(int i = 0) { return Device(test_device_type(), i); }

/// Skips the test (with the reason) unless `n` devices of the tested kind exist.
#define ASTENSOR_REQUIRE_DEVICES(n)                                                           \
  do {                                                                                        \
    auto& be_ = ::astensor::testing::test_backend();                                          \
    if (be_.device_count() < (n))                                                             \
      GTEST_SKIP() << "needs " << (n) << " " << device_type_name(be_.type())                  \
                   << " device(s), found " << be_.device_count() << ": "                      \
                   << (be_.device_count() == 0 ? be_.unavailable_reason() : "too few");       \
  } while (0)

/// The bytes of a tensor's storage block (from its data pointer, numel * itemsize), on the
/// host, whatever its device.
inline std::vector<unsigned char> host_bytes(const Tensor& t) {
  std::vector<unsigned char> out(static_cast<std::size_t>(t.numel()) * t.itemsize());
  if (!out.empty()) copy_bytes_sync(out.data(), Device::cpu(), t.data_ptr(), t.device(), out.size());
  return out;
}

/// XFER-3: same dtype, shape, strides, device and bits.
inline void expect_same_tensor(const Tensor& got, const Tensor& want, const std::string& what) {
  EXPECT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(got.strides(), want.strides()) << what;
  EXPECT_EQ(got.device(), want.device()) << what;
  EXPECT_EQ(got.offset(), want.offset()) << what;
  auto a = host_bytes(got), b = host_bytes(want);
  ASSERT_EQ(a.size(), b.size()) << what;
  std::size_t bad = 0;
  while (bad < a.size() && a[bad] == b[bad]) ++bad;
  EXPECT_EQ(bad, a.size()) << what << ": first differing byte at " << bad << " of " << a.size();
}

}  // namespace astensor::testing
