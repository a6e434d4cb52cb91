#include "core/defaults.h"

#include <atomic>
#include <mutex>

#include "core/backend.h"
#include "core/error.h"
#include "core/source.h"

namespace astensor {

namespace {
std::atomic<DType> g_default_dtype{DType::float32};
std::mutex g_device_mutex;
std::optional<Device> g_default_device;
}  // namespace

void set_default_dtype(DType d) {
  ASTENSOR_CHECK_TYPE(is_floating(d),
                      "[set_default_dtype] only floating-point dtypes can be the default (got ",
                      name(d), ")");
  g_default_dtype.store(d);
}

DType default_dtype() { return g_default_dtype.load(); }

DType default_complex_dtype() { return complex_for(default_dtype()); }

void set_default_device(std::optional<Device> d) {
  std::lock_guard<std::mutex> lock(g_device_mutex);
  g_default_device = d;
}

std::optional<Device> default_device() {
  std::lock_guard<std::mutex> lock(g_device_mutex);
  return g_default_device;
}

Device target_device(const Options& o, std::optional<Device> own) {
  if (o.device) return resolve_device(*o.device);
  if (auto d = default_device()) return resolve_device(*d);
  return own.value_or(Device::cpu());
}

}  // namespace astensor
