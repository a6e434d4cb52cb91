// Placeholder until the simulated accelerator lands (issue "Devices"): sim devices are
// reported absent, so asking for one gives the DEV-3 error.

#include "core/backend.h"
#include "core/error.h"

namespace astensor {

namespace {
class NoSimBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::Sim; }
  int device_count() override { return 0; }
  std::string unavailable_reason() override {
    return "the simulated accelerator is not part of this build yet";
  }
  int current_device() override { return 0; }
  void* allocate(int, std::size_t) override { throw RuntimeError("[sim] not available"); }
  void deallocate(int, void*) noexcept override {}
  void copy_sync(void*, Device, const void*, Device, std::size_t) override {
    throw RuntimeError("[sim] not available");
  }
};
}  // namespace

Backend& sim_backend() {
  static NoSimBackend be;
  return be;
}

}  // namespace astensor
