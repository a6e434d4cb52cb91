// The small-copy path of the transfer pipeline (issue 12, Note [Small copies] in
// impl/transfer/to_device.cpp) on the device under test: every path takes it and matches the
// reference; the threshold and the chunk decide.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstring>
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <random>

#include "conformance/cpp/cuda_test_util.h"
#include "conformance/cpp/device_test_util.h"
#include "conformance/cpp/transfer_test_util.h"
#include "core/cast.h"
#include "core/error.h"
#include "backends/sim/sim.h"
#include "impl/transfer/device_allocator.h"
#include "impl/transfer/pinned_pool.h"
#include "impl/transfer/transfer.h"

using namespace astensor;
using namespace astensor::testing;
using astensor::impl::CastSite;
using astensor::transfer::TransferOptions;

using namespace astensor::testing::transfer_suite;

// --- the small-copy path (issue 12) -----------------------------------------------------------

// Note [Small copies] in impl/transfer/to_device.cpp: a staged transfer of one chunk that
// crosses at most TransferOptions::small_copy_bytes runs on one pinned slot and one stream.
// Every direction and placement of the cast, gathers and byteswaps take it; the results are
// the reference's bit for bit (XFER-3) under random delays, so a copy read before it landed
// would show; the stage counters say which path ran.
TEST(DEVICE_SUITE(TransferSmall), EveryPathTakesTheOneSlotPathAndMatchesTheReference) {  // XFER-1, XFER-3
  ASTENSOR_REQUIRE_DEVICES(1);
  sim::ScopedDelays delays(0, 300);
  struct SmallCase {
    DType from, to;
    Layout layout;
    bool swapped;
  };
  const SmallCase cases[] = {
      {DType::float32, DType::float32, Layout::Contiguous, false},  // plain copy
      {DType::uint8, DType::float32, Layout::Contiguous, false},    // widening: cast on the device
      {DType::float64, DType::float32, Layout::Contiguous, false},  // narrowing: cast on the host
      {DType::float32, DType::float32, Layout::Stepped, false},     // gather on the host
      {DType::int32, DType::float64, Layout::Negative, true},       // byteswapped, reversed, widening
  };
  for (const SmallCase& c : cases) {
    const std::string what = std::string(name(c.from)) + "->" + name(c.to) + " " + layout_name(c.layout);
    HostArray a = make_array(c.from, 60, 70, c.layout, c.swapped, 17);
    const auto up = transfer::describe_transfer(a.view, c.to, test_device(0));
    ASSERT_TRUE(up.transfer->staged && up.transfer->small) << what << ": " << up.str();
    EXPECT_NE(up.str().find("small copy: one pinned slot"), std::string::npos) << up.str();
    EXPECT_EQ(up.transfer->host_threads, 1) << up.str();
    transfer::reset_stage_counters();
    Tensor d = transfer::to_device(a.view, c.to, test_device(0));
    const auto sc = transfer::stage_counters();
    EXPECT_EQ(sc.transfers, 1u) << what;
    EXPECT_EQ(sc.small_transfers, 1u) << what;
    EXPECT_EQ(sc.chunks, 1u) << what;
    EXPECT_EQ(sc.host_stage_bytes, up.link_bytes()) << what;
    expect_same_tensor(d, copy_plain(a.view, c.to, test_device(0)), "h2d " + what);
    // And back: the same dtype, and a narrowing cast (on the device) and a gather of a view.
    for (DType back : {c.to, DType::float16}) {
      const ArrayView dv = view_of(d);
      const auto down = transfer::describe_transfer(dv, back, Device::cpu());
      ASSERT_TRUE(down.transfer->small) << down.str();
      transfer::reset_stage_counters();
      Tensor h = transfer::to_host(dv, back);
      EXPECT_EQ(transfer::stage_counters().small_transfers, 1u);
      expect_same_tensor(h, copy_plain(dv, back, Device::cpu()), "d2h " + what + " -> " + name(back));
    }
    ArrayView every_other = view_of(d);
    every_other.shape = {60, 35};
    every_other.byte_strides = {every_other.byte_strides[0], every_other.byte_strides[1] * 2};
    Tensor g = transfer::to_host(every_other, c.to);
    expect_same_tensor(g, copy_plain(every_other, c.to, Device::cpu()), "d2h gather " + what);
  }
}

TEST(DEVICE_SUITE(TransferSmall), TheThresholdAndTheChunkDecide) {  // COPY-2
  ASTENSOR_REQUIRE_DEVICES(1);
  HostArray a = make_array(DType::float32, 100, 100, Layout::Contiguous, false, 3);  // 40000 bytes
  TransferOptions o;
  o.small_copy_bytes = 40000;
  EXPECT_TRUE(transfer::describe_transfer(a.view, DType::float32, test_device(0), o).transfer->small);
  o.small_copy_bytes = 39999;  // one byte over the threshold: the ring
  auto ring = transfer::describe_transfer(a.view, DType::float32, test_device(0), o);
  EXPECT_FALSE(ring.transfer->small) << ring.str();
  EXPECT_EQ(ring.str().find("small copy: one pinned slot"), std::string::npos) << ring.str();
  o.small_copy_bytes = 0;  // off
  EXPECT_FALSE(transfer::describe_transfer(a.view, DType::float32, test_device(0), o).transfer->small);
  TransferOptions chunked = small_chunks(4096);  // ten chunks: never the small path
  EXPECT_FALSE(transfer::describe_transfer(a.view, DType::float32, test_device(0), chunked).transfer->small);
  transfer::reset_stage_counters();
  Tensor t = transfer::to_device(a.view, DType::float32, test_device(0), chunked);
  const auto sc = transfer::stage_counters();
  EXPECT_EQ(sc.small_transfers, 0u);
  EXPECT_EQ(sc.chunks, 10u);
  EXPECT_EQ(sc.host_stage_bytes, 40000u);
  expect_same_tensor(t, copy_plain(a.view, DType::float32, test_device(0)), "ring");
  // A pinned source is a direct copy, not a staged one, whatever its size.
  auto lease = transfer::pinned_pool(test_backend().type()).acquire(4000);
  ArrayView pinned = ArrayView::contiguous(lease.data(), DType::float32, {1000});
  auto direct = transfer::describe_transfer(pinned, DType::float32, test_device(0));
  EXPECT_TRUE(direct.transfer->direct && !direct.transfer->small) << direct.str();
}
