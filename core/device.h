#pragma once
/// Device{type, index}, printed and parsed as "cpu", "cuda:1", "sim:0" (c10's vocabulary).
/// The CPU has no index: "cpu:0" parses to the same Device as "cpu" (DEV-2). An accelerator
/// without an index means "the current one" until resolve() (backend.h) fixes it.

#include <cstdint>
#include <string>
#include <string_view>

namespace astensor {

/// Numbered explicitly, never renumbered.
enum class DeviceType : uint8_t { CPU = 0, CUDA = 1, Sim = 2 };
inline constexpr int kNumDeviceTypes = 3;

const char* device_type_name(DeviceType t);  // "cpu", "cuda", "sim"

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = -1;  // -1: CPU, or "current device" before resolution

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = -1) : type(t), index(t == DeviceType::CPU ? -1 : i) {}

  static constexpr Device cpu() { return Device(DeviceType::CPU); }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool has_index() const { return index >= 0; }

  /// Parses "cpu", "cpu:0", "cuda", "cuda:N", "sim", "sim:N"; ValueError quoting the text.
  static Device parse(std::string_view text);
  std::string str() const;

  friend bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && a.index == b.index;
  }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

}  // namespace astensor
