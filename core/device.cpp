#include "core/device.h"

#include "core/error.h"

namespace astensor {

const char* device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return "cuda";
    case DeviceType::Sim: return "sim";
  }
  return "?";
}

Device Device::parse(std::string_view text) {
  auto bad = [&](const char* why) {
    return ValueError(detail::str_cat("[device] invalid device string '", text, "': ", why,
                                      " (expected cpu, cuda, cuda:N, sim or sim:N)"));
  };
  std::string_view name = text, idx;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    name = text.substr(0, colon);
    idx = text.substr(colon + 1);
    if (idx.empty()) throw bad("empty index");
  }
  DeviceType type;
  if (name == "cpu") type = DeviceType::CPU;
  else if (name == "cuda") type = DeviceType::CUDA;
  else if (name == "sim") type = DeviceType::Sim;
  else throw bad("unknown device type");
  int index = -1;
  if (!idx.empty()) {
    index = 0;
    for (char c : idx) {
      if (c < '0' || c > '9') throw bad("the index is not a non-negative integer");
      index = index * 10 + (c - '0');
      if (index > 1 << 20) throw bad("the index is too large");
    }
    if (type == DeviceType::CPU && index != 0) throw bad("the CPU has only index 0");
  }
  return Device(type, index);
}

std::string Device::str() const {
  std::string s = device_type_name(type);
  if (type != DeviceType::CPU && index >= 0) s += ":" + std::to_string(index);
  return s;
}

}  // namespace astensor
