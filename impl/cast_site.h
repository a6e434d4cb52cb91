#pragma once
/// Where a dtype change (DT-3) runs: one word of the plan's vocabulary (impl/plan.h), shared by
/// the planner, the transfer tunables (TransferOptions::force_cast_site) and the executors.

#include <cstdint>

namespace astensor::impl {

/// None: no dtype change. Host: the CPU kernels cast (a host copy, or while staging). Device:
/// a device kernel casts (before the link for narrowing device -> host copies, after it for
/// widening host -> device ones, or on either side of a peer copy).
enum class CastSite : uint8_t { None, Host, Device };
const char* cast_site_name(CastSite s);  // "none", "host", "device"

}  // namespace astensor::impl
