#include "bench/size_axis.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace astensor::bench {

namespace {
std::size_t g_max_bytes = 0;  // 0: not set yet

std::size_t memory_cap() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return std::size_t(1) << 30;
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) / 4;
}
}  // namespace

std::size_t parse_bytes(const std::string& text) {
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (const std::exception&) {
    throw std::invalid_argument("[bench] not a byte size: '" + text + "'");
  }
  std::string unit = text.substr(pos);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mul = std::size_t(1) << 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") mul = std::size_t(1) << 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") mul = std::size_t(1) << 30;
  else throw std::invalid_argument("[bench] unknown byte unit in '" + text + "'");
  return static_cast<std::size_t>(v) * mul;
}

std::string bytes_str(std::size_t b) {
  if (b >= (std::size_t(1) << 30) && b % (std::size_t(1) << 30) == 0) return std::to_string(b >> 30) + "GiB";
  if (b >= (std::size_t(1) << 20) && b % (std::size_t(1) << 20) == 0) return std::to_string(b >> 20) + "MiB";
  if (b >= (std::size_t(1) << 10) && b % (std::size_t(1) << 10) == 0) return std::to_string(b >> 10) + "KiB";
  return std::to_string(b);
}

void set_max_bytes(std::size_t b) { g_max_bytes = b; }

std::size_t max_bytes() {
  if (g_max_bytes == 0) {
    g_max_bytes = std::size_t(256) << 20;
    if (const char* e = std::getenv("ASTENSOR_BENCH_MAX_BYTES"); e && *e) g_max_bytes = parse_bytes(e);
  }
  return std::min(g_max_bytes, memory_cap());
}

std::vector<std::size_t> sizes() {
  std::vector<std::size_t> out;
  for (std::size_t b = 4096; b <= max_bytes() && b <= (std::size_t(1) << 30); b *= 16) out.push_back(b);
  return out;
}

}  // namespace astensor::bench
