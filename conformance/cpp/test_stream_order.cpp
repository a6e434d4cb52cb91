// Stream order on sim (issue 11 sections 1, 2, 5): sim models CUDA's protocol streams (Note
// [sim streams model CUDA] in backends/sim/detail/streams.h), so a read that is not ordered after
// a producer's pending work returns stale data here as it does on a GPU; DLPack-style and
// CAI-style imports are ordered on every transfer path (CAI-3, DLP-2); sim's device memory
// has a capacity and running out of it is a typed RuntimeError (issue 11 section 2).
//
// A producer's pending work is a pause (sim::enqueue_sleep, 150 ms) followed by a fill of
// the buffer with 7s (sim::enqueue_fill) on the producer's stream; the buffer held 0s
// before. A read that does not wait sees the 0s: the pause is far longer than the time the
// library takes to queue and run its reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/convert.h"
#include "core/error.h"
#include "core/tensor.h"
#include "backends/sim/sim.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/transfer.h"

using namespace astensor;

namespace {

constexpr unsigned kPauseUs = 150000;
constexpr int64_t kN = 1 << 16;  // elements; 256 KiB of float32

Backend& sim_be() { return backend(DeviceType::Sim); }
Device sim_dev(int i) { return Device(DeviceType::Sim, i); }

/// kN float32 zeros in device memory of sim:`device`, freed at scope exit.
struct DeviceZeros {
  explicit DeviceZeros(int device, int64_t n = kN) : device(device), n(n) {
    p = sim_be().allocate(device, static_cast<std::size_t>(n) * 4);
    std::vector<float> zeros(static_cast<std::size_t>(n), 0.0f);
    copy_bytes_sync(p, sim_dev(device), zeros.data(), Device::cpu(), zeros.size() * 4);
  }
  ~DeviceZeros() { sim_be().deallocate(device, p); }
  DeviceZeros(const DeviceZeros&) = delete;
  DeviceZeros& operator=(const DeviceZeros&) = delete;
  int device;
  int64_t n;
  void* p = nullptr;
};

/// Queues the producer's pending work on `stream`: a pause, then 7s over the buffer.
void queue_pending_fill(StreamHandle stream, const DeviceZeros& buf, float value = 7.0f) {
  sim::enqueue_sleep(stream, kPauseUs);
  sim::enqueue_fill(stream, buf.p, static_cast<std::size_t>(buf.n) * 4, &value, sizeof value);
}

/// The values a device buffer's float32s read as through a copy queued on `stream` (no wait).
std::vector<float> read_on(StreamHandle stream, const DeviceZeros& buf) {
  std::vector<float> out(static_cast<std::size_t>(buf.n), -1.0f);
  sim_be().copy_async(out.data(), Device::cpu(), buf.p, sim_dev(buf.device), out.size() * 4, stream);
  sim_be().synchronize_stream(stream);
  return out;
}

/// How many of a tensor's elements (any dtype, read as double) differ from `want`.
int64_t count_not(const Tensor& t, double want) {
  Tensor h = t.device().is_cpu() ? t : transfer::to_host(view_of(t), t.dtype());
  int64_t bad = 0;
  for (double v : h.to_double_vector()) bad += v != want;
  return bad;
}

}  // namespace

// --- sim models CUDA's protocol streams ----------------------------------------------------------

class SimProtocolStreams : public ::testing::TestWithParam<int> {};

TEST_P(SimProtocolStreams, WorkOnAProtocolStreamIsSeenOnlyAfterAWait) {  // DEV-4, CAI-3, DLP-2
  sim::ScopedDelays delays(0, 200);
  const intptr_t id = GetParam();
  Backend& be = sim_be();
  StreamHandle library = be.current_stream(0);
  StreamHandle external = sim::external_stream(0, id);
  EXPECT_NE(external, library) << "stream " << id << " must not be the library's stream";
  ASSERT_NE(external, sim::external_stream(1, id)) << "one per device";
  ASSERT_NE(sim::external_stream(0, 1), sim::external_stream(0, 2));
  DeviceZeros buf(0);

  // Without a wait the library's stream does not see the pending work (CUDA non-blocking
  // streams do not synchronize with the legacy or per-thread default stream).
  queue_pending_fill(external, buf);
  const auto early = read_on(library, buf);
  EXPECT_EQ(early.front(), 0.0f) << "stream " << id << " was waited on implicitly";
  EXPECT_EQ(early.back(), 0.0f) << "stream " << id << " was waited on implicitly";
  be.synchronize_stream(external);

  // With wait_external_stream(id) it does.
  queue_pending_fill(external, buf, 9.0f);
  be.wait_external_stream(0, id, library);
  const auto late = read_on(library, buf);
  EXPECT_EQ(std::count(late.begin(), late.end(), 9.0f), kN) << "wait_external_stream(" << id << ")";
}

INSTANTIATE_TEST_SUITE_P(Ids, SimProtocolStreams, ::testing::Values(1, 2),
                         [](const auto& info) { return info.param == 1 ? "Legacy" : "PerThread"; });

TEST(SimProtocolStreamsMisc, BadIdsAndForeignDevicesAreRefused) {
  Backend& be = sim_be();
  EXPECT_THROW(sim::external_stream(0, 3), ValueError);
  EXPECT_THROW(sim::external_stream(5, 1), RuntimeError);
  EXPECT_THROW(be.wait_external_stream(0, 0, be.current_stream(0)), ValueError);
  Stream other(be, 1);
  EXPECT_THROW(be.wait_external_stream(0, reinterpret_cast<intptr_t>(other.get()), be.current_stream(0)), ValueError)
      << "a stream of sim:1 named for sim:0";
  // The protocol streams are never destroyed (a destroy is ignored, as for default streams).
  be.destroy_stream(0, sim::external_stream(0, 1));
  DeviceZeros buf(0, 16);
  EXPECT_NO_THROW(read_on(sim::external_stream(0, 1), buf));
}

// --- imports are ordered on every transfer path (CAI-3, DLP-2) --------------------------------

/// How an import hands its stream to the library:
///  - Dlpack: the consumer names its current stream S of the device; the producer orders its
///    work before S (an event); the view carries S (python/src/dlpack_import.cpp, Note
///    [Consumer streams]). Reads on S are ordered by the producer; other streams by
///    wait_producer.
///  - Cai: the view carries the producer's own stream (CAI v3); every read waits for it.
///  - DlpackLegacy: a DLPack import that names stream 1 and also carries it, so the
///    library waits for sim's legacy stream.
enum class Style { Dlpack, Cai, DlpackLegacy };

enum class Path { ToHost, ToHostCast, ToHostNarrow, ToHostGather, SameDeviceCast, SameDeviceCopy, PeerCast, Peer };

struct Case {
  Style style;
  Path path;
};
const char* const kStyleNames[] = {"Dlpack", "Cai", "DlpackLegacy"};
const char* const kPathNames[] = {"ToHost",         "ToHostCast",     "ToHostNarrow", "ToHostGather",
                                  "SameDeviceCast", "SameDeviceCopy", "PeerCast",     "Peer"};
void PrintTo(const Case& c, std::ostream* os) {
  *os << kStyleNames[int(c.style)] << "/" << kPathNames[int(c.path)];
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return std::string(kStyleNames[int(info.param.style)]) + "_" + kPathNames[int(info.param.path)];
}

class SimImportOrder : public ::testing::TestWithParam<Case> {};

TEST_P(SimImportOrder, EveryReadIsOrderedAfterTheProducersPendingWork) {
  const Case c = GetParam();
  sim::ScopedDelays delays(0, 200);
  Backend& be = sim_be();
  DeviceZeros buf(0);
  Stream own(be, 0);  // a producer's own stream (Dlpack, Cai)
  StreamHandle producer = c.style == Style::DlpackLegacy ? sim::external_stream(0, 1) : own.get();
  queue_pending_fill(producer, buf);

  ArrayView v = ArrayView::contiguous(buf.p, DType::float32, {kN}, nullptr, false, sim_dev(0));
  switch (c.style) {
    case Style::Dlpack: {  // what a producer's __dlpack__(stream=S) does, S our current stream
      StreamHandle s = be.current_stream(0);
      Event e(be, 0);
      e.record(producer);
      e.block(s);
      v.stream = reinterpret_cast<intptr_t>(s);
      break;
    }
    case Style::Cai: v.stream = reinterpret_cast<intptr_t>(producer); break;
    case Style::DlpackLegacy: v.stream = 1; break;
  }

  Tensor got;
  const double want = 7.0;
  switch (c.path) {
    case Path::ToHost: got = transfer::to_host(v, DType::float32); break;
    case Path::ToHostCast: got = transfer::to_host(v, DType::float64); break;  // widening: cast on the host
    case Path::ToHostNarrow: got = transfer::to_host(v, DType::float16); break;  // narrowing: a kernel on the cast stream
    case Path::ToHostGather: {  // every other element: a gather kernel on the cast stream
      v.shape = Dims{kN / 2};
      v.byte_strides = Dims{8};
      got = transfer::to_host(v, DType::float32);
      break;
    }
    case Path::SameDeviceCast: got = transfer::device_to_device(v, DType::float64, sim_dev(0)); break;
    case Path::SameDeviceCopy: got = transfer::device_to_device(v, DType::float32, sim_dev(0)); break;
    case Path::PeerCast: got = transfer::device_to_device(v, DType::int64, sim_dev(1)); break;
    case Path::Peer: got = transfer::device_to_device(v, DType::float32, sim_dev(1)); break;
  }
  EXPECT_EQ(count_not(got, want), 0) << "elements read before the producer's work finished";
  be.synchronize_stream(producer);
}

INSTANTIATE_TEST_SUITE_P(
    Paths, SimImportOrder,
    ::testing::Values(Case{Style::Dlpack, Path::ToHost}, Case{Style::Dlpack, Path::ToHostCast},
                      Case{Style::Dlpack, Path::ToHostNarrow}, Case{Style::Cai, Path::ToHostNarrow},
                      Case{Style::Dlpack, Path::ToHostGather}, Case{Style::Dlpack, Path::SameDeviceCast},
                      Case{Style::Dlpack, Path::SameDeviceCopy}, Case{Style::Dlpack, Path::PeerCast},
                      Case{Style::Dlpack, Path::Peer}, Case{Style::Cai, Path::ToHost},
                      Case{Style::Cai, Path::ToHostCast}, Case{Style::Cai, Path::ToHostGather},
                      Case{Style::Cai, Path::SameDeviceCast}, Case{Style::Cai, Path::SameDeviceCopy},
                      Case{Style::Cai, Path::PeerCast}, Case{Style::Cai, Path::Peer},
                      Case{Style::DlpackLegacy, Path::ToHost}, Case{Style::DlpackLegacy, Path::ToHostCast},
                      Case{Style::DlpackLegacy, Path::SameDeviceCast}, Case{Style::DlpackLegacy, Path::Peer}),
    case_name);

TEST(SimImportOrderControl, AnUnorderedImportReadsStaleData) {
  // The negative control: the producer ordered its work before the legacy stream (what the
  // DLPack import did before issue 11) and the view carries no stream. On sim, as on CUDA,
  // the library's reads then run before the producer's work. If this passes vacuously (all
  // 7s) sim has stopped modelling CUDA and the tests above prove nothing.
  sim::ScopedDelays delays(0, 200);
  DeviceZeros buf(0);
  StreamHandle legacy = sim::external_stream(0, 1);
  queue_pending_fill(legacy, buf);
  ArrayView v = ArrayView::contiguous(buf.p, DType::float32, {kN}, nullptr, false, sim_dev(0));
  Tensor got = transfer::to_host(v, DType::float64);
  EXPECT_EQ(count_not(got, 0.0), 0) << "the read waited for the legacy stream without being asked";
  sim_be().synchronize_stream(legacy);
}

// --- device memory capacity (CUDA's out-of-memory) -------------------------------------------

TEST(SimDeviceMemory, AnOverCapacityAllocationIsATypedErrorAndTheNextWorks) {
  sim::ScopedDeviceMemory cap(std::size_t(64) << 20);
  Backend& be = sim_be();
  transfer::device_allocator(DeviceType::Sim).trim();  // the library's cached blocks are live sim memory
  const std::size_t before = sim::live_allocations();
  void* a = be.allocate(0, std::size_t(40) << 20);
  try {
    be.allocate(0, std::size_t(40) << 20);
    ADD_FAILURE() << "80 MiB fitted in 64 MiB";
  } catch (const RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("41943040 bytes"), std::string::npos) << m;       // asked
    EXPECT_NE(m.find("sim:0"), std::string::npos) << m;                // where
    EXPECT_NE(m.find("capacity 67108864"), std::string::npos) << m;    // the capacity
    EXPECT_NE(m.find("41943040 bytes in use"), std::string::npos) << m;  // what is in use
  }
  EXPECT_EQ(sim::live_allocations(), before + 1) << "a refused allocation left something behind";
  // The other device has its own memory.
  void* b = be.allocate(1, std::size_t(40) << 20);
  be.deallocate(1, b);
  be.deallocate(0, a);
  // sim's cache of freed mappings counts against the device, and is dropped to make room.
  EXPECT_GE(sim::device_memory_used(0), std::size_t(40) << 20) << "the freed mapping is cached";
  void* c = be.allocate(0, std::size_t(48) << 20);
  EXPECT_LE(sim::device_memory_used(0), std::size_t(64) << 20);
  be.deallocate(0, c);
  EXPECT_EQ(sim::live_allocations(), before);
}

TEST(SimDeviceMemory, AHugeRequestIsRefusedBeforeAnythingIsMapped) {
  Backend& be = sim_be();
  for (std::size_t n : {sim::device_memory() + 1, std::size_t(1) << 40, SIZE_MAX}) {
    try {
      be.allocate(0, n);
      ADD_FAILURE() << n << " bytes were allocated";
    } catch (const RuntimeError& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(n) + " bytes on sim:0"), std::string::npos) << e.what();
    }
  }
  void* p = be.allocate(0, 4096);
  be.deallocate(0, p);
}

TEST(SimDeviceMemory, AConversionLargerThanTheDeviceFailsCleanlyAndTheNextWorks) {
  sim::ScopedDeviceMemory cap(std::size_t(64) << 20);
  // A stride-0 view: one float on the host, 32 Mi elements (128 MiB) on the device.
  float one = 1.5f;
  ArrayView v;
  v.data = &one;
  v.dtype = DType::float32;
  v.shape = Dims{int64_t(1) << 25};
  v.byte_strides = Dims{0};
  try {
    transfer::to_device(v, DType::float32, sim_dev(0));
    ADD_FAILURE() << "128 MiB fitted in 64 MiB";
  } catch (const RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("134217728"), std::string::npos) << m;
    EXPECT_NE(m.find("sim:0"), std::string::npos) << m;
  }
  v.shape = Dims{1 << 20};
  Tensor t = transfer::to_device(v, DType::float32, sim_dev(0));
  EXPECT_EQ(count_not(t, 1.5), 0);
}
