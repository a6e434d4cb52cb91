// Device parsing and resolution (DEV-2, DEV-3).
#include <gtest/gtest.h>

#include "core/backend.h"
#include "core/device.h"
#include "core/error.h"
#include "core/storage.h"

using namespace astensor;

TEST(Device, ParseAndPrint) {  // DEV-2
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cpu:0"), Device::cpu()) << "cpu:0 equals cpu";
  EXPECT_EQ(Device::parse("cuda:1"), Device(DeviceType::CUDA, 1));
  EXPECT_EQ(Device::parse("cuda").index, -1);
  EXPECT_EQ(Device::parse("sim:1").str(), "sim:1");
  EXPECT_EQ(Device::parse("cpu:0").str(), "cpu");
  EXPECT_EQ(Device(DeviceType::CUDA).str(), "cuda");
}

TEST(Device, MalformedStringsRaiseValueErrorQuotingThem) {  // ARG-3
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cpu:1", "cuda:-1", "", ":0", "cuda:0:1"}) {
    try {
      Device::parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Device, MissingDeviceRaisesRuntimeErrorAndAllocatesNothing) {  // DEV-3
  if (backend(DeviceType::CUDA).device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  auto before = storage_stats();
  try {
    resolve_device(Device::parse("cuda"));
    ADD_FAILURE() << "resolved cuda without a device";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
  EXPECT_EQ(storage_stats().live_allocations, before.live_allocations);
}

TEST(Device, CpuResolvesToItself) {
  EXPECT_EQ(resolve_device(Device::parse("cpu:0")), Device::cpu());
}
