// sim/...: host <-> simulated accelerator (impl/sim), registered only when the build has a
// sim device. The sim's "link" is a host memcpy, so the roofline is the memcpy limit; what
// these cases show is the overhead of the transfer pipeline (staging, events, chunking)
// on the CPU, where CI can run it.

#include "bench/common.h"
#include "reference/as_tensor.h"
#include "core/backend.h"

namespace astensor::bench {

namespace {

void bm_sim_h2d(benchmark::State& state, Impl impl, DType from, DType to, std::size_t bytes) {
  HostArray a = make_host_array(from, bytes, Layout::Contig);
  Options o;
  o.dtype = to;
  o.device = Device(DeviceType::Sim, 0);
  const Source src = a.view;
  const std::size_t out_bytes = static_cast<std::size_t>(a.numel) * itemsize(to);
  { Tensor warm = call_as_tensor(impl, src, o); }
  const auto [faults, secs] = time_as_tensor(state, impl, src, o);
  report_host_case(state, {impl, a.numel, bytes, out_bytes, out_bytes, bytes}, faults, secs);
}

void bm_sim_d2h(benchmark::State& state, Impl impl, std::size_t bytes) {
  HostArray a = make_host_array(DType::float32, bytes, Layout::Contig);
  Options to_dev;
  to_dev.device = Device(DeviceType::Sim, 0);
  const Tensor on_dev = reference::as_tensor(a.view, to_dev);
  Options to_host;
  to_host.device = Device::cpu();
  const Source src = on_dev;
  { Tensor warm = call_as_tensor(impl, src, to_host); }
  const auto [faults, secs] = time_as_tensor(state, impl, src, to_host);
  report_host_case(state, {impl, a.numel, bytes, bytes, bytes, bytes}, faults, secs);
}

}  // namespace

void register_sim() {
  Backend& be = backend(DeviceType::Sim);
  if (be.device_count() <= 0) {
    notes().push_back("sim/...: not registered: no sim device (" + be.unavailable_reason() + ")");
    return;
  }
  const std::pair<DType, DType> pairs[] = {{DType::float32, DType::float32},
                                           {DType::uint8, DType::float32},
                                           {DType::float64, DType::float32}};
  for (auto [from, to] : pairs)
    for (Impl impl : impls())
      for (std::size_t b : sizes())
        benchmark::RegisterBenchmark(
            case_name(std::string("sim/h2d/") + name(from) + "_" + name(to) + "/contig", impl, "system", b).c_str(),
            [=](benchmark::State& s) { bm_sim_h2d(s, impl, from, to, b); })
            ->UseRealTime();
  for (Impl impl : impls())
    for (std::size_t b : sizes())
      benchmark::RegisterBenchmark(case_name("sim/d2h/float32_float32/contig", impl, "system", b).c_str(),
                                   [=](benchmark::State& s) { bm_sim_d2h(s, impl, b); })
          ->UseRealTime();
}

}  // namespace astensor::bench
