// sim's link model (Note [the sim link model] in detail/link_model.h): the model in force
// (LinkState: from ASTENSOR_SIM_LINK at start-up, replaced by sim::set_link_model), the
// ASTENSOR_SIM_LINK parser (sim::parse_link_model) and the other link-model functions of sim.h.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/error.h"
#include "backends/sim/sim.h"
#include "backends/sim/detail/link_model.h"

namespace astensor {

namespace {

constexpr const char* kLinkKindNames[sim::kNumLinkKinds] = {"h2d_pinned", "d2h_pinned", "h2d_pageable",
                                                             "d2h_pageable", "d2d", "peer"};

/// The model's validity (set_link_model and the parser): "" when valid, else the problem.
std::string link_model_problem(const sim::LinkModel& m) {
  for (int k = 0; k < sim::kNumLinkKinds; ++k) {
    if (!(std::isfinite(m.bandwidth[k]) && m.bandwidth[k] > 0))
      return detail::str_cat("the ", kLinkKindNames[k], " bandwidth must be finite and > 0 bytes/s (got ",
                             m.bandwidth[k], ")");
    if (!(std::isfinite(m.latency_us[k]) && m.latency_us[k] >= 0 && m.latency_us[k] <= 1e9))
      return detail::str_cat("the ", kLinkKindNames[k], " latency must be finite, >= 0 and <= 1e9 us (got ",
                             m.latency_us[k], ")");
  }
  if (!(std::isfinite(m.pin_bytes_per_s) && m.pin_bytes_per_s > 0))
    return detail::str_cat("the pin rate must be finite and > 0 bytes/s (got ", m.pin_bytes_per_s, ")");
  if (m.engines != 1 && m.engines != 2)
    return detail::str_cat("engines must be 1 or 2 (got ", m.engines, ")");
  return "";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

/// A number followed by one of `units` (name, scale); nullopt when either is missing or wrong.
std::optional<double> number_with_unit(std::string_view v, std::initializer_list<std::pair<const char*, double>> units) {
  double x = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr == v.data()) return std::nullopt;
  const std::string_view unit(r.ptr, static_cast<std::size_t>(v.data() + v.size() - r.ptr));
  for (const auto& [name, scale] : units)
    if (unit == name) return x * scale;
  return std::nullopt;
}

struct LinkState {
  std::mutex m;
  sim::LinkModel model;
  std::string env_error;  // a bad ASTENSOR_SIM_LINK, until set_link_model() replaces it
  std::atomic<bool> enabled{false};  // model.enabled && env_error.empty(), read without the lock
};

LinkState& link_state() {
  static LinkState* s = [] {
    auto* st = new LinkState();  // never destroyed: stream workers may copy during exit
    const char* e = std::getenv("ASTENSOR_SIM_LINK");
    if (e && *e) {
      try {
        st->model = sim::parse_link_model(e);
      } catch (const ValueError& err) {
        st->env_error = err.what();
      }
    }
    st->enabled = st->model.enabled || !st->env_error.empty();
    return st;
  }();
  return *s;
}

}  // namespace

namespace sim_detail {

std::optional<sim::LinkModel> active_link_model() {
  LinkState& st = link_state();
  if (!st.enabled.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard<std::mutex> g(st.m);
  if (!st.env_error.empty()) throw ValueError(st.env_error);
  if (!st.model.enabled) return std::nullopt;
  return st.model;
}

}  // namespace sim_detail

namespace sim {

const char* link_kind_name(LinkKind k) {
  const int i = static_cast<int>(k);
  return i >= 0 && i < kNumLinkKinds ? kLinkKindNames[i] : "?";
}

LinkModel parse_link_model(std::string_view text, std::string_view what) {
  auto fail = [&](std::string_view item, const char* problem) {
    throw ValueError(detail::str_cat("[sim] ", what, "='", text, "' is invalid: ", item.empty() ? "" : "'",
                                     item, item.empty() ? "" : "': ", problem,
                                     " (expected \"off\", \"on\" or items like \"h2d_pinned=55GB/s,latency=5us,engines=2\";"
                                     " keys: h2d_pinned d2h_pinned h2d_pageable d2h_pageable d2d peer pinned pageable,"
                                     " latency, <kind>_latency, engines, pin)"));
  };
  LinkModel m;
  const std::string_view whole = trim(text);
  if (whole == "off") return m;
  m.enabled = true;
  if (whole == "on") return m;
  if (whole.empty()) fail("", "empty");
  std::string_view rest = whole;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) fail(item, "an empty item");
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || item.find('=', eq + 1) != std::string_view::npos)
      fail(item, "not key=value");
    const std::string_view key = trim(item.substr(0, eq)), value = trim(item.substr(eq + 1));
    if (key == "engines") {
      int n = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), n);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || (n != 1 && n != 2))
        fail(item, "engines must be 1 or 2");
      m.engines = n;
    } else if (key == "latency" || (key.size() > 8 && key.substr(key.size() - 8) == "_latency")) {
      const auto us = number_with_unit(value, {{"ns", 1e-3}, {"us", 1.0}, {"ms", 1e3}});
      if (!us || !std::isfinite(*us) || *us < 0 || *us > 1e9)
        fail(item, "a latency is a number >= 0 with a unit ns, us or ms, e.g. 5us");
      int kind = -1;
      if (key != "latency") {
        const std::string_view name = key.substr(0, key.size() - 8);
        for (int k = 0; k < kNumLinkKinds; ++k)
          if (name == kLinkKindNames[k]) kind = k;
        if (kind < 0) fail(item, "an unknown link kind");
      }
      for (int k = 0; k < kNumLinkKinds; ++k)
        if (kind < 0 || k == kind) m.latency_us[k] = *us;
    } else {
      const auto bw = number_with_unit(value, {{"B/s", 1.0}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9},
                                               {"TB/s", 1e12}, {"KiB/s", 1024.0}, {"MiB/s", 1048576.0},
                                               {"GiB/s", 1073741824.0}});
      bool kinds[kNumLinkKinds] = {};  // the kinds the key sets
      const bool pin = key == "pin";
      if (pin) {
      } else if (key == "pinned") kinds[int(LinkKind::H2DPinned)] = kinds[int(LinkKind::D2HPinned)] = true;
      else if (key == "pageable") kinds[int(LinkKind::H2DPageable)] = kinds[int(LinkKind::D2HPageable)] = true;
      else
        for (int k = 0; k < kNumLinkKinds; ++k) kinds[k] = key == kLinkKindNames[k];
      if (!pin && std::none_of(kinds, kinds + kNumLinkKinds, [](bool b) { return b; })) fail(item, "an unknown key");
      if (!bw || !std::isfinite(*bw) || *bw <= 0)
        fail(item, "a bandwidth is a number > 0 with a unit B/s, KB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s or GiB/s, "
                   "e.g. 55GB/s");
      if (pin) m.pin_bytes_per_s = *bw;
      for (int k = 0; k < kNumLinkKinds; ++k)
        if (kinds[k]) m.bandwidth[k] = *bw;
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return m;
}

LinkModel link_model() {
  LinkState& st = link_state();
  std::lock_guard<std::mutex> g(st.m);
  if (!st.env_error.empty()) throw ValueError(st.env_error);
  return st.model;
}

void set_link_model(const LinkModel& model) {
  const std::string problem = link_model_problem(model);
  ASTENSOR_CHECK_VALUE(problem.empty(), "[sim] set_link_model: ", problem);
  LinkState& st = link_state();
  std::lock_guard<std::mutex> g(st.m);
  st.model = model;
  st.env_error.clear();
  st.enabled.store(model.enabled, std::memory_order_release);
}

}  // namespace sim

}  // namespace astensor
