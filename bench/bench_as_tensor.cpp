// bench_as_tensor: the as_tensor paths of this machine, reference and optimized side by side.
// See bench/README.md for the families, the axes, the counters and how to read them.
//
// Own flags (removed before Google Benchmark parses the rest; --help lists them):
//   --astensor_max_bytes=SIZE   largest size of the size axis (default 256MiB; also
//                               $ASTENSOR_BENCH_MAX_BYTES), e.g. 64KiB for a smoke run.
//   --astensor_commit=TEXT      the source commit recorded in the JSON context (default
//                               $ASTENSOR_COMMIT, else `git rev-parse` in the working directory).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench/common.h"
#include "core/backend.h"

#if defined(ASTENSOR_HAVE_CUDA)
#include <cuda_runtime.h>
#endif

namespace {

constexpr const char* kOwnHelp =
    "bench_as_tensor: the as_tensor paths of this machine (bench/README.md).\n"
    "\n"
    "astensor flags:\n"
    "  --astensor_max_bytes=SIZE  largest size of the size axis: 4KiB x 16^k up to SIZE\n"
    "                             (default 256MiB or $ASTENSOR_BENCH_MAX_BYTES; capped at a quarter\n"
    "                             of memory), e.g. 64KiB, 16MiB, 1GiB\n"
    "  --astensor_commit=TEXT     the source commit written to the JSON context (default\n"
    "                             $ASTENSOR_COMMIT, else `git rev-parse` in the working directory)\n"
    "\n"
    "Case names are family/what/key:value/...; filter on the first segment to select a family\n"
    "(--benchmark_filter='^cast/'). The families (prefixes):\n"
    "  cpu/   host baselines and copies: cpu/memcpy (the roofline), cpu/share (zero-copy),\n"
    "         cpu/copy (same-dtype copies)\n"
    "  cast/  dtype conversions into a new host tensor (host, not under cpu/)\n"
    "  seq/   nested C++ sequences through NestedReader (host, not under cpu/)\n"
    "  sim/   host <-> the simulated accelerator (sim/h2d, sim/d2h, sim/stage, sim/link, cold)\n"
    "  cuda/  host <-> CUDA; skips with the reason without a device\n"
    "  overlap/  a loader's loop on sim: blocking vs non_blocking=True conversions overlapping a kernel\n"
    "Every host case: --benchmark_filter='^(cpu|cast|seq)/'.\n"
    "Environment: ASTENSOR_BENCH_MAX_BYTES, ASTENSOR_NUM_THREADS (threads of the optimized\n"
    "implementation's roofline), ASTENSOR_COMMIT.\n"
    "\n"
    "Google Benchmark flags follow.\n\n";

/// Strips trailing whitespace (the newline of a command's output).
std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// The first line a shell command prints, "" when it fails or prints nothing.
std::string command_line_output(const char* cmd) {
  FILE* p = popen(cmd, "r");
  if (!p) return "";
  char buf[256] = {};
  std::string out;
  if (std::fgets(buf, sizeof buf, p)) out = buf;
  const int rc = pclose(p);
  return rc == 0 ? trimmed(out) : "";
}

/// The commit the run measures: --astensor_commit, $ASTENSOR_COMMIT, or git in the working
/// directory ("+ uncommitted changes" when tracked files outside reports/ differ).
std::string source_commit(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* e = std::getenv("ASTENSOR_COMMIT"); e && *e) return e;
  std::string commit = command_line_output("git rev-parse --short=12 HEAD 2>/dev/null");
  if (commit.empty()) return "unknown (no git checkout here; set ASTENSOR_COMMIT)";
  const std::string dirty = command_line_output(
      "git status --porcelain --untracked-files=no -- . ':(exclude)reports' 2>/dev/null | head -n 1");
  return dirty.empty() ? commit : commit + " (+ uncommitted changes)";
}

/// The CPU's model name from /proc/cpuinfo ("" when not there).
std::string cpu_model() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "";
  char line[512];
  std::string model;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "model name", 10) == 0) {
      if (const char* colon = std::strchr(line, ':')) model = trimmed(colon + 1 + (colon[1] == ' '));
      break;
    }
  }
  std::fclose(f);
  return model;
}

/// Physical memory in GiB, one decimal.
std::string memory_gib() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return "";
  const long long tenths = static_cast<long long>(pages) * page * 10 / (1LL << 30);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
}

}  // namespace

namespace astensor::bench {

std::vector<std::string>& notes() {
  static std::vector<std::string> n;
  return n;
}

}  // namespace astensor::bench

int main(int argc, char** argv) {
  namespace ab = astensor::bench;
  std::vector<char*> args;
  const std::string max_flag = "--astensor_max_bytes=";
  const std::string commit_flag = "--astensor_commit=";
  std::string commit_value;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], max_flag.c_str(), max_flag.size()) == 0) {
      try {
        ab::set_max_bytes(ab::parse_bytes(argv[i] + max_flag.size()));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_as_tensor: %s\n", e.what());
        return 2;
      }
      continue;
    }
    if (i > 0 && std::strncmp(argv[i], commit_flag.c_str(), commit_flag.size()) == 0) {
      commit_value = argv[i] + commit_flag.size();
      continue;
    }
    // Our flags first; Google Benchmark then prints its own and exits.
    if (i > 0 && (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0)) {
      std::fputs(kOwnHelp, stdout);
      std::fflush(stdout);
    }
    args.push_back(argv[i]);
  }
  int n = static_cast<int>(args.size());

#if ASTENSOR_BENCH_HAVE_IMPL
  const char* impl_note = "reference and optimized (impl/as_tensor.h)";
#else
  const char* impl_note =
      "reference only: the optimized implementation (impl/as_tensor.h, target astensor_impl) is not "
      "built, so no impl:optimized cases run";
#endif
  ab::notes().push_back(std::string("implementations: ") + impl_note);
  ab::notes().push_back("size axis: 4KiB x 16^k up to " + ab::bytes_str(ab::max_bytes()));
  ab::notes().push_back("roofline: memcpy with 1 thread for the reference, " +
                        std::to_string(ab::impl_threads()) +
                        " thread(s) for the optimized implementation (ASTENSOR_NUM_THREADS)");

  ab::register_cpu();
  ab::register_cast();
  ab::register_seq();
  ab::register_sim();
  ab::register_cuda();
  ab::register_overlap();
  ab::register_retained();

  benchmark::AddCustomContext("astensor_impls", impl_note);
  benchmark::AddCustomContext("astensor_max_bytes", std::to_string(ab::max_bytes()));
  benchmark::AddCustomContext("astensor_impl_threads", std::to_string(ab::impl_threads()));
  benchmark::AddCustomContext("astensor_commit", source_commit(commit_value));
  if (const std::string m = cpu_model(); !m.empty()) benchmark::AddCustomContext("astensor_cpu_model", m);
  if (const std::string g = memory_gib(); !g.empty()) benchmark::AddCustomContext("astensor_memory_GiB", g);
#if defined(ASTENSOR_HAVE_CUDA)
  benchmark::AddCustomContext("astensor_cuda_build", "yes");
#else
  benchmark::AddCustomContext("astensor_cuda_build", "no");
#endif
  {
    auto& cuda = astensor::backend(astensor::DeviceType::CUDA);
    const int count = cuda.device_count();
    benchmark::AddCustomContext("astensor_cuda_devices",
                                std::to_string(count) + (count > 0 ? "" : " (" + cuda.unavailable_reason() + ")"));
    std::string device = "none";
#if defined(ASTENSOR_HAVE_CUDA)
    // A device query: it does not create the context, which cuda/h2d/cold measures.
    cudaDeviceProp prop{};
    if (count > 0 && cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      device = std::string(prop.name) + ", sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
               std::to_string(prop.totalGlobalMem >> 30) + " GiB";
    }
#endif
    benchmark::AddCustomContext("astensor_cuda_device", device);
  }
  std::string all_notes;
  for (const auto& line : ab::notes()) {
    std::fprintf(stderr, "bench_as_tensor: %s\n", line.c_str());
    all_notes += (all_notes.empty() ? "" : " | ") + line;
  }
  benchmark::AddCustomContext("astensor_notes", all_notes);

  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
