#include "core/fault.h"

#include "core/error.h"

namespace astensor::fault {

namespace detail {
std::atomic<bool> g_armed{false};
}  // namespace detail

namespace {
std::atomic<long long> g_target{0};
std::atomic<long long> g_seen{0};
std::atomic<unsigned> g_sites{0};
std::atomic<bool> g_fired{false};
}  // namespace

const char* site_name(Site s) {
  switch (s) {
    case Site::HostAlloc: return "host allocation";
    case Site::DeviceAlloc: return "device allocation";
    case Site::PinnedAlloc: return "pinned allocation";
    case Site::Copy: return "copy";
  }
  return "?";
}

void arm(long long n, unsigned sites) {
  detail::g_armed.store(false);
  g_seen.store(0);
  g_fired.store(false);
  g_target.store(n);
  g_sites.store(sites);
  detail::g_armed.store(n > 0);
}

void disarm() { detail::g_armed.store(false); }
long long points_seen() { return g_seen.load(); }
bool fired() { return g_fired.load(); }

void detail::hit(Site s) {
  if (!(g_sites.load() & (1u << static_cast<unsigned>(s)))) return;
  const long long n = g_seen.fetch_add(1) + 1;
  if (n == g_target.load() && g_armed.load()) {
    g_fired.store(true);
    throw RuntimeError(::astensor::detail::str_cat("[fault] injected failure of a ", site_name(s),
                                                   " (fault point ", n, ")"));
  }
}

}  // namespace astensor::fault
