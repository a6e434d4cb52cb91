// A program that links astensor_core alone (layering.cmake): proof that core names no backend
// and no device runtime, and what the backend registry (Note [Backend registry] in
// core/backend.h) does when no backend library is linked: the CPU works, other device types
// have no devices and say why, and the registry refuses what would be a build mistake.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/backend.h"
#include "core/error.h"

namespace astensor {
namespace {

TEST(CoreAlone, TheHostBackendIsCoresOwn) {
  Backend& cpu = backend(DeviceType::CPU);
  EXPECT_EQ(cpu.type(), DeviceType::CPU);
  EXPECT_EQ(cpu.device_count(), 1);
  void* p = cpu.allocate(-1, 100);
  ASSERT_NE(p, nullptr);
  std::memset(p, 7, 100);
  cpu.deallocate(-1, p);
}

TEST(CoreAlone, AnUnlinkedDeviceTypeHasNoDevicesAndSaysWhy) {  // DEV-3
  for (DeviceType t : {DeviceType::Sim, DeviceType::CUDA}) {
    Backend& be = backend(t);
    EXPECT_EQ(be.type(), t);
    EXPECT_EQ(be.device_count(), 0);
    const std::string why = be.unavailable_reason();
    EXPECT_NE(why.find(std::string("no ") + device_type_name(t) + " backend is linked"),
              std::string::npos)
        << why;
    EXPECT_THROW(be.allocate(0, 16), RuntimeError);
    try {
      resolve_device(Device(t, 0));
      ADD_FAILURE() << "resolve_device accepted " << device_type_name(t) << ":0";
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find("is not available: no "), std::string::npos)
          << e.what();
    }
  }
}

Backend& cpu_getter() { return backend(DeviceType::CPU); }
Backend& first_getter() { return backend(DeviceType::CPU); }
Backend& second_getter() { return backend(DeviceType::CUDA); }

TEST(CoreAlone, TheRegistryRefusesBuildMistakes) {
  EXPECT_THROW(register_backend(DeviceType::CPU, &cpu_getter), RuntimeError);
  EXPECT_THROW(register_backend(DeviceType::Sim, nullptr), RuntimeError);
  // A getter stands in for a backend library here (this program links none): the first
  // registration wins, the same one again is harmless, a second library for the type is not.
  EXPECT_TRUE(register_backend(DeviceType::Sim, &first_getter));
  EXPECT_TRUE(register_backend(DeviceType::Sim, &first_getter));
  EXPECT_THROW(register_backend(DeviceType::Sim, &second_getter), RuntimeError);
  EXPECT_EQ(&backend(DeviceType::Sim), &backend(DeviceType::CPU));
}

}  // namespace
}  // namespace astensor
