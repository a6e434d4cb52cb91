#pragma once
/// What the sim/link/ cases (sim_cases.cpp) and the overlap/ cases (overlap_cases.cpp) share:
/// the settings of sim's link model they run under, and the median they report.

#include <algorithm>
#include <vector>

#include "backends/sim/sim.h"

namespace astensor::bench {

/// "slow": a link slower than this machine's host copies (pinned 4 GB/s each way); "fast": one
/// faster than host staging (pinned 100 GB/s). Both: 5 us per copy, 2 copy engines.
struct LinkSetting {
  const char* name;
  double pinned_bps;
};
inline constexpr LinkSetting kLinkSettings[] = {{"slow", 4e9}, {"fast", 100e9}};

inline sim::LinkModel link_setting_model(const LinkSetting& s) {
  sim::LinkModel m;
  m.enabled = true;
  m.bandwidth[int(sim::LinkKind::H2DPinned)] = m.bandwidth[int(sim::LinkKind::D2HPinned)] = s.pinned_bps;
  for (double& us : m.latency_us) us = 5;
  m.engines = 2;
  return m;
}

/// The median (the upper one of an even count); 0 for no values.
inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace astensor::bench
