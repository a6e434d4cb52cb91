#pragma once
/// Failure injection for tests (issue 7, "Fault injection"): every allocation and copy the
/// library makes passes a fault point (host memory in the CPU backend and the huge-page
/// allocator, sim device and pinned memory, sim copies); a test arms the Nth point from now
/// to fail as the resource would (RuntimeError), then checks the caller cleans up. Disarmed
/// (the default) a point costs one relaxed atomic load.
///
///   fault::arm(n);                 // the n-th point from now throws
///   try { as_tensor(...); } catch (const RuntimeError&) {}
///   bool more = fault::fired();    // false: the conversion passed fewer than n points
///   fault::disarm();

#include <atomic>
#include <cstdint>

namespace astensor::fault {

enum class Site : uint8_t { HostAlloc, DeviceAlloc, PinnedAlloc, Copy };
const char* site_name(Site s);  // "host allocation", "device allocation", ...

/// Makes the n-th fault point passed from now (n >= 1, any thread) throw RuntimeError; only
/// points whose site is in `sites` (bit 1 << Site) count.
void arm(long long n, unsigned sites = ~0u);
/// No point fails any more; counts are kept for points_seen() / fired().
void disarm();
/// Points counted since the last arm().
long long points_seen();
/// True when the armed point was reached (and threw) since the last arm().
bool fired();

namespace detail {
extern std::atomic<bool> g_armed;
void hit(Site s);
}  // namespace detail

/// A fault point: throws RuntimeError when it is the armed one.
inline void point(Site s) {
  if (detail::g_armed.load(std::memory_order_relaxed)) [[unlikely]] detail::hit(s);
}

}  // namespace astensor::fault
