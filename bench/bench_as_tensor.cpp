// bench_as_tensor: the as_tensor paths of this machine, reference and optimized side by side.
// See bench/README.md for the families, the axes, the counters and how to read them.
//
// Own flag (removed before Google Benchmark parses the rest):
//   --astensor_max_bytes=SIZE   largest size of the size axis (default 256MiB; also
//                               $ASTENSOR_BENCH_MAX_BYTES), e.g. 64KiB for a smoke run.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/common.h"
#include "core/backend.h"

int main(int argc, char** argv) {
  namespace ab = astensor::bench;
  std::vector<char*> args;
  const std::string flag = "--astensor_max_bytes=";
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], flag.c_str(), flag.size()) == 0) {
      try {
        ab::set_max_bytes(ab::parse_bytes(argv[i] + flag.size()));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_as_tensor: %s\n", e.what());
        return 2;
      }
      continue;
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
  ab::register_retained();

  benchmark::AddCustomContext("astensor_impls", impl_note);
  benchmark::AddCustomContext("astensor_max_bytes", std::to_string(ab::max_bytes()));
  benchmark::AddCustomContext("astensor_impl_threads", std::to_string(ab::impl_threads()));
#if defined(ASTENSOR_HAVE_CUDA)
  benchmark::AddCustomContext("astensor_cuda_build", "yes");
#else
  benchmark::AddCustomContext("astensor_cuda_build", "no");
#endif
  {
    auto& cuda = astensor::backend(astensor::DeviceType::CUDA);
    benchmark::AddCustomContext("astensor_cuda_devices", std::to_string(cuda.device_count()) +
                                                             (cuda.device_count() > 0 ? "" : " (" + cuda.unavailable_reason() + ")"));
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
