#pragma once
/// The size axis of the cases, and byte sizes as text (the `bytes:` segment of case names).

#include <cstddef>
#include <string>
#include <vector>

namespace astensor::bench {

/// The byte sizes of the size axis: 4 KiB * 16^k up to max_bytes() (4K, 64K, 1M, 16M, 256M,
/// 1G). max_bytes() is --astensor_max_bytes=... or $ASTENSOR_BENCH_MAX_BYTES (e.g. "64MiB"),
/// default 256 MiB, and never more than a quarter of physical memory.
std::vector<std::size_t> sizes();
std::size_t max_bytes();
void set_max_bytes(std::size_t b);
/// Parses "4096", "64KiB", "16MiB", "1GiB" (also K/M/G, KB/MB/GB as powers of 1024).
std::size_t parse_bytes(const std::string& text);
/// "4KiB", "64KiB", "1MiB", "256MiB", "1GiB" (exact powers), else the byte count.
std::string bytes_str(std::size_t b);

}  // namespace astensor::bench
