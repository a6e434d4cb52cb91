// The CUDA backend of a build without CUDA: present, with no devices, saying why (DEV-3).

#include "backends/cuda/cuda.h"
#include "core/backend.h"
#include "core/error.h"

namespace astensor {

namespace {
class NoCudaBackend final : public Backend {
 public:
  DeviceType type() const override { return DeviceType::CUDA; }
  int device_count() override { return 0; }
  std::string unavailable_reason() override {
    return "astensor was built without CUDA (configure with a CUDA toolkit to enable it)";
  }
  int current_device() override { return 0; }
  void* allocate(int, std::size_t) override {
    throw RuntimeError("[cuda] astensor was built without CUDA");
  }
  void deallocate(int, void*) noexcept override {}
  void copy_sync(void*, Device, const void*, Device, std::size_t) override {
    throw RuntimeError("[cuda] astensor was built without CUDA");
  }
};
}  // namespace

Backend& cuda_backend() {
  static NoCudaBackend be;
  return be;
}

namespace cuda {
void enqueue_spin(int, void*, uint64_t) { throw RuntimeError("[cuda] enqueue_spin: astensor was built without CUDA"); }
}  // namespace cuda

// Note [Backend registry] in core/backend.h: kept by astensor_backends linking this library whole.
namespace {
[[maybe_unused]] const bool registered = register_backend(DeviceType::CUDA, &cuda_backend);
}  // namespace

}  // namespace astensor
