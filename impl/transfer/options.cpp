// The transfer tunables: the environment's overrides of TransferOptions{}, how explain() names
// them, and the staging thread rule (Note [Staging threads on sim] in README.md).

#include "impl/transfer/options.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "core/error.h"
#include "impl/cpu/copy.h"

namespace astensor::transfer {

using impl::CastSite;
using impl::cast_site_name;

std::string human_bytes(uint64_t b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v == static_cast<double>(static_cast<uint64_t>(v)) ? "%.0f %s" : "%.1f %s", v, unit[u]);
  return buf;
}

namespace {

/// "4096", "64KiB", "4MiB", "1GiB", also K/M/G and KB/MB/GB (powers of 1024); nullopt
/// otherwise.
std::optional<std::size_t> parse_bytes(std::string_view t) {
  std::size_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr == t.data()) return std::nullopt;
  std::string_view unit(r.ptr, static_cast<std::size_t>(t.data() + t.size() - r.ptr));
  int shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "K" || unit == "KB" || unit == "KiB") shift = 10;
  else if (unit == "M" || unit == "MB" || unit == "MiB") shift = 20;
  else if (unit == "G" || unit == "GB" || unit == "GiB") shift = 30;
  else return std::nullopt;
  if (shift && v > (std::numeric_limits<std::size_t>::max() >> shift)) return std::nullopt;
  return v << shift;
}

/// The environment's overrides of TransferOptions{} (default_options()), with which variables
/// were set, or the error a bad one gives.
struct EnvOptions {
  TransferOptions options;
  bool chunk = false, slots = false, threads = false, cast = false, small = false, ramp = false;
  std::string error;
};

EnvOptions read_env_options() {
  EnvOptions e;
  auto bad = [&](const char* var, const char* value, const char* want) {
    if (e.error.empty())
      e.error = detail::str_cat("[transfer] environment variable ", var, "='", value, "' is invalid: expected ", want);
  };
  auto int_in = [&](const char* var, int lo, int hi, int* out) {
    const char* v = std::getenv(var);
    if (!v || !*v) return false;
    int x = 0;
    auto r = std::from_chars(v, v + std::strlen(v), x);
    if (r.ec != std::errc() || *r.ptr != '\0' || x < lo || x > hi) {
      bad(var, v, detail::str_cat("an integer in ", lo, "..", hi).c_str());
      return false;
    }
    *out = x;
    return true;
  };
  if (const char* v = std::getenv("ASTENSOR_STAGING_CHUNK"); v && *v) {
    auto b = parse_bytes(v);
    if (!b || *b < 64 || *b > (std::size_t(1) << 30)) bad("ASTENSOR_STAGING_CHUNK", v, "a size from 64 bytes to 1GiB, e.g. 4MiB");
    else e.options.chunk_bytes = *b, e.chunk = true;
  }
  if (const char* v = std::getenv("ASTENSOR_SMALL_COPY"); v && *v) {
    auto b = parse_bytes(v);
    if (!b || *b > (std::size_t(1) << 30)) bad("ASTENSOR_SMALL_COPY", v, "a size up to 1GiB (0: off), e.g. 256KiB");
    else e.options.small_copy_bytes = *b, e.small = true;
  }
  if (const char* v = std::getenv("ASTENSOR_STAGING_RAMP"); v && *v) {
    auto b = parse_bytes(v);
    if (!b || (*b != 0 && *b < 64) || *b > (std::size_t(1) << 30))
      bad("ASTENSOR_STAGING_RAMP", v, "0 (off) or a size from 64 bytes to 1GiB, e.g. 512KiB");
    else e.options.ramp_bytes = *b, e.ramp = true;
  }
  e.slots = int_in("ASTENSOR_STAGING_SLOTS", 1, 64, &e.options.slots);
  e.threads = int_in("ASTENSOR_STAGING_THREADS", 1, 1024, &e.options.host_threads);
  if (const char* v = std::getenv("ASTENSOR_CAST_SITE"); v && *v) {
    const std::string_view s(v);
    e.cast = true;
    if (s == "host") e.options.force_cast_site = CastSite::Host;
    else if (s == "device") e.options.force_cast_site = CastSite::Device;
    else if (s != "auto") bad("ASTENSOR_CAST_SITE", v, "auto, host or device"), e.cast = false;
  }
  return e;
}

const EnvOptions& env_options() {
  static const EnvOptions e = read_env_options();
  return e;
}

}  // namespace

const TransferOptions& default_options() {
  const EnvOptions& e = env_options();
  ASTENSOR_CHECK_VALUE(e.error.empty(), e.error);
  return e.options;
}

std::string options_str(const TransferOptions& o) {
  const EnvOptions& e = env_options();
  // A value marked with its variable only when it is the environment's (not a caller's own).
  auto from_env = [&](bool set, bool same) { return set && same ? " (env)" : ""; };
  const TransferOptions& eo = e.options;
  return detail::str_cat(
      "chunk ", human_bytes(o.chunk_bytes), from_env(e.chunk, o.chunk_bytes == eo.chunk_bytes),
      ", slots ", o.slots, from_env(e.slots, o.slots == eo.slots),
      ", host threads ", o.host_threads > 0 ? std::to_string(o.host_threads) : std::string("auto"),
      from_env(e.threads, o.host_threads == eo.host_threads),
      ", cast site ", o.force_cast_site ? cast_site_name(*o.force_cast_site) : "auto",
      from_env(e.cast, o.force_cast_site == eo.force_cast_site),
      ", small copy ", o.small_copy_bytes ? human_bytes(o.small_copy_bytes) : std::string("off"),
      from_env(e.small, o.small_copy_bytes == eo.small_copy_bytes),
      ", ramp ", o.ramp_bytes ? human_bytes(o.ramp_bytes) : std::string("off"),
      from_env(e.ramp, o.ramp_bytes == eo.ramp_bytes));
}

int staging_host_threads(DeviceType device_type, const TransferOptions& opt) {
  if (opt.host_threads > 0) return opt.host_threads;
  const int all = impl::cpu::max_threads();
  // Note [Staging threads on sim]: sim's copy engine is a host thread (the stream worker), so
  // the staging threads leave it a core; on a 2-core machine the fill then runs on one thread,
  // which also keeps libgomp's spin-waiting team worker from starving the stream worker.
  if (device_type == DeviceType::Sim) return std::max(1, all - 1);
  return all;
}

}  // namespace astensor::transfer
