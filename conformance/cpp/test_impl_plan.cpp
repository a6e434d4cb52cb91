// The optimized implementation's plans (DESIGN.md "Plan is data"; COPY-1, COPY-2): the
// decision, the rule, the copy kind with its collapsed layout, the threads, the bytes.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/backend.h"
#include "core/nested.h"
#include "impl/as_tensor.h"
#include "impl/cpu/copy.h"
#include "impl/transfer/transfer.h"
#include "impl_compare.h"

using namespace astensor;
using impl::CopyKind;
using impl::Decision;

namespace {

struct Buf {
  std::vector<double> d;
  explicit Buf(std::size_t n) : d(n) {
    for (std::size_t i = 0; i < n; ++i) d[i] = double(i) * 0.5 - 3;
  }
  ArrayView view(Dims shape, Dims byte_strides, DType dtype = DType::float64) const {
    ArrayView v;
    v.data = d.data();
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.byte_strides = std::move(byte_strides);
    return v;
  }
};

Options with_dtype(DType d) {
  Options o;
  o.dtype = d;
  return o;
}

bool mentions(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST(ImplPlan, SameDtypeOnCpuSharesAndMovesNothing) {  // ARR-1
  Buf b(12);
  ArrayView v = b.view(Dims{3, 4}, Dims{32, 8});
  impl::Plan p = impl::plan(v, {});
  EXPECT_EQ(p.decision, Decision::Share);
  EXPECT_EQ(p.copy, CopyKind::None);
  EXPECT_EQ(p.bytes_read + p.bytes_written, 0);
  EXPECT_TRUE(p.links.empty());
  EXPECT_EQ(p.strides, (Dims{4, 1}));
  Tensor t = impl::as_tensor(v);
  EXPECT_EQ(t.data_ptr(), b.d.data());
  EXPECT_FALSE(t.storage()->owns_memory());
  EXPECT_TRUE(mentions(impl::explain(v, {}), "bytes moved: 0"));
}

TEST(ImplPlan, NegativeStridesAreSharedWithTheExtent) {  // ARR-3
  Buf b(6);
  ArrayView v = b.view(Dims{6}, Dims{-8});
  v.data = b.d.data() + 5;
  impl::Plan p = impl::plan(v, {});
  EXPECT_EQ(p.decision, Decision::Share);
  EXPECT_EQ(p.share_lo, -5);
  EXPECT_EQ(p.share_nbytes, 48);
  Tensor t = impl::as_tensor(v);
  EXPECT_EQ(t.strides(), (Dims{-1}));
  EXPECT_EQ(t.data_ptr(), b.d.data() + 5);
}

TEST(ImplPlan, SameTensorReturnsItself) {  // TEN-1
  Buf b(4);
  Tensor t = impl::as_tensor(b.view(Dims{4}, Dims{8}), with_dtype(DType::float32));
  impl::Plan p = impl::plan(t, {});
  EXPECT_EQ(p.decision, Decision::ReturnSame);
  EXPECT_TRUE(impl::as_tensor(t).is_same(t));
}

TEST(ImplPlan, ContiguousF64ToF32IsAContiguousCast) {  // DT-3
  Buf b(24);
  impl::Plan p = impl::plan(b.view(Dims{2, 3, 4}, Dims{96, 32, 8}), with_dtype(DType::float32));
  EXPECT_EQ(p.decision, Decision::CopyHost);
  EXPECT_EQ(p.copy, CopyKind::Cast);
  EXPECT_EQ(p.cast_site, impl::CastSite::Host);
  EXPECT_EQ(p.layout.shape, (Dims{24}));  // three dims collapsed into one run
  EXPECT_EQ(p.layout.src_strides, (Dims{8}));
  EXPECT_EQ(p.bytes_read, 24 * 8);
  EXPECT_EQ(p.bytes_written, 24 * 4);
  EXPECT_EQ(p.threads, 1);  // small inputs never pay for threads
  EXPECT_EQ(p.strides, (Dims{12, 4, 1}));
}

TEST(ImplPlan, EveryOtherColumnIsAGatherWithACast) {  // ARR-1 strides, DT-3
  Buf b(28);
  // a (4, 7) float64 array, [:, ::2]: rows do not chain (56 != 4 * 16)
  ArrayView v = b.view(Dims{4, 4}, Dims{56, 16});
  impl::Plan p = impl::plan(v, with_dtype(DType::float32));
  EXPECT_EQ(p.copy, CopyKind::Gather);
  EXPECT_EQ(p.cast_site, impl::CastSite::Host);
  EXPECT_EQ(p.layout.shape, (Dims{4, 4}));
  EXPECT_EQ(p.layout.src_strides, (Dims{56, 16}));
  EXPECT_EQ(p.strides, (Dims{4, 1}));
  std::string e = impl::explain(v, with_dtype(DType::float32));
  EXPECT_TRUE(mentions(e, "gather")) << e;
  EXPECT_TRUE(mentions(e, "cast float64 -> float32 on the host")) << e;
  // (4, 6)[:, ::2] is every other element: the two dims chain into one strided run.
  impl::Plan q = impl::plan(b.view(Dims{4, 3}, Dims{48, 16}), with_dtype(DType::float32));
  EXPECT_EQ(q.copy, CopyKind::Gather);
  EXPECT_EQ(q.layout.shape, (Dims{12}));
  EXPECT_EQ(q.layout.src_strides, (Dims{16}));
  EXPECT_EQ(impl_check::compare_impls(v, with_dtype(DType::float32)), "");
}

TEST(ImplPlan, TransposedDenseSourceKeepsItsOrderAndIsOneRun) {  // TEN-3
  Buf b(12);
  impl::Plan p = impl::plan(b.view(Dims{4, 3}, Dims{8, 32}), with_dtype(DType::float32));
  EXPECT_EQ(p.strides, (Dims{1, 4}));
  EXPECT_EQ(p.copy, CopyKind::Cast);
  EXPECT_EQ(p.layout.shape, (Dims{12}));
}

TEST(ImplPlan, TransposedStridedGatherIsTiled) {  // a transpose that is not dense
  Buf b(100 * 64);
  // (64, 100)[:, ::2].T: shape (50, 64), strides (16, 800) bytes: the output's rows read a
  // new source line per element, so the copy goes tile by tile.
  ArrayView v = b.view(Dims{50, 64}, Dims{16, 800});
  impl::Plan p = impl::plan(v, with_dtype(DType::float32));
  EXPECT_EQ(p.copy, CopyKind::Gather);
  EXPECT_TRUE(p.layout.tiled);
  // float64 -> float32 has no tile kernel: 8 columns; uint8 -> float32 with a 1- or 2-byte
  // outer stride does at the AVX2 level (16 columns); explain() names the width run_copy uses.
  EXPECT_TRUE(mentions(p.str(), "256x8 tiles")) << p.str();
  ArrayView u8 = b.view(Dims{50, 64}, Dims{2, 100}, DType::uint8);
  const std::string want = impl::cpu::tile_columns(impl::plan(u8, with_dtype(DType::float32)).layout,
                                             DType::uint8, DType::float32, false) == 16
                               ? "256x16 tiles" : "256x8 tiles";
  EXPECT_TRUE(mentions(impl::plan(u8, with_dtype(DType::float32)).str(), want));
  EXPECT_EQ(impl_check::compare_impls(v, with_dtype(DType::float32)), "");
  EXPECT_FALSE(impl::plan(b.view(Dims{4, 3}, Dims{8, 32}), with_dtype(DType::float32)).layout.tiled);
}

TEST(ImplPlan, BroadcastIsAGatherWithStrideZero) {  // ARR-1 stride 0, TEN-3
  Buf b(4);
  Options o = with_dtype(DType::float32);
  impl::Plan p = impl::plan(b.view(Dims{5, 4}, Dims{0, 8}), o);
  EXPECT_EQ(p.copy, CopyKind::Gather);
  EXPECT_EQ(p.layout.src_strides, (Dims{0, 8}));
  EXPECT_EQ(p.strides, (Dims{4, 1}));  // not dense: C-contiguous copy
  impl::Plan q = impl::plan(b.view(Dims{5, 3}, Dims{0, 0}), o);
  EXPECT_EQ(q.layout.shape, (Dims{15}));  // two broadcast dims chain into one
  EXPECT_EQ(q.layout.src_strides, (Dims{0}));
}

TEST(ImplPlan, ByteswappedSourceIsAByteswapCopy) {  // ARR-4
  Buf b(8);
  ArrayView v = b.view(Dims{8}, Dims{8});
  v.byteswapped = true;
  impl::Plan p = impl::plan(v, {});
  EXPECT_EQ(p.decision, Decision::CopyHost);
  EXPECT_EQ(p.copy, CopyKind::Byteswap);
  EXPECT_EQ(p.cast_site, impl::CastSite::None);
  EXPECT_TRUE(p.byteswap);
  EXPECT_EQ(p.bytes_written, 64);
}

TEST(ImplPlan, NonMultipleByteStridesAreGathered) {  // ARR-5
  std::vector<unsigned char> raw(64);
  ArrayView v;
  v.data = raw.data();
  v.dtype = DType::int32;
  v.shape = Dims{5};
  v.byte_strides = Dims{6};
  impl::Plan p = impl::plan(v, {});
  EXPECT_EQ(p.copy, CopyKind::Gather);
  EXPECT_EQ(p.layout.src_strides, (Dims{6}));
}

TEST(ImplPlan, CopyTrueOnASharableArrayIsAMemcpy) {  // COPY-1
  Buf b(16);
  Options o;
  o.copy = true;
  impl::Plan p = impl::plan(b.view(Dims{4, 4}, Dims{32, 8}), o);
  EXPECT_EQ(p.copy, CopyKind::Memcpy);
  EXPECT_EQ(p.bytes_written, 128);
  Tensor t = impl::as_tensor(b.view(Dims{4, 4}, Dims{32, 8}), o);
  EXPECT_NE(t.data_ptr(), b.d.data());
}

TEST(ImplPlan, CopyFalseRefusesWithTheReferenceMessage) {  // COPY-1
  Buf b(8);
  ArrayView v = b.view(Dims{4}, Dims{16});
  v.byteswapped = true;
  Options o = with_dtype(DType::float32);
  o.copy = false;
  std::string ref, got;
  try { reference::as_tensor(v, o); } catch (const ValueError& e) { ref = e.what(); }
  try { impl::plan(v, o); } catch (const ValueError& e) { got = e.what(); }
  ASSERT_FALSE(ref.empty());
  EXPECT_EQ(got, ref);
  EXPECT_TRUE(mentions(got, "dtype change (float64 -> float32)")) << got;
  EXPECT_TRUE(mentions(got, "non-native byte order (ARR-4)")) << got;
}

TEST(ImplPlan, ZeroSizeCopiesNothing) {  // TEN-3 for empty
  Buf b(1);
  impl::Plan p = impl::plan(b.view(Dims{0, 3}, Dims{24, 8}), with_dtype(DType::int8));
  EXPECT_EQ(p.copy, CopyKind::None);
  EXPECT_EQ(p.bytes_written, 0);
  Tensor t = impl::as_tensor(b.view(Dims{0, 3}, Dims{24, 8}), with_dtype(DType::int8));
  EXPECT_EQ(t.shape(), (Dims{0, 3}));
}

TEST(ImplPlan, LargeCopiesUseThreadsSmallOnesDoNot) {  // threads by bytes
  const int64_t min = impl::cpu::parallel_min_bytes();
  EXPECT_EQ(impl::cpu::threads_for(min), 1);
  EXPECT_EQ(impl::cpu::threads_for(2 * min - 1), 1);
  EXPECT_EQ(impl::cpu::threads_for(int64_t(1) << 40), impl::cpu::max_threads());
  EXPECT_GE(impl::cpu::threads_for(4 * min), std::min(2, impl::cpu::max_threads()));
}

TEST(ImplPlan, NestedDataIsASequenceFill) {  // SEQ-1, SEQ-2, SEQ-3
  Nested x = {{1, 2, 3}, {4, 5, 6}};
  NestedReader r(x);
  impl::Plan p = impl::plan(SequenceSource{&r}, {});
  EXPECT_EQ(p.decision, Decision::CopyHost);
  EXPECT_EQ(p.copy, CopyKind::SequenceFill);
  EXPECT_EQ(p.shape, (Dims{2, 3}));
  EXPECT_EQ(p.dtype, DType::int64);
  EXPECT_EQ(p.bytes_written, 48);
  Options o;
  o.copy = false;
  EXPECT_EQ(impl_check::compare_impls(SequenceSource{&r}, o), "");
}

TEST(ImplPlan, TensorDtypeChangeRecordsGrad) {  // GRAD-1
  Buf b(4);
  Tensor t = impl::as_tensor(b.view(Dims{4}, Dims{8}), with_dtype(DType::float32));
  t.set_requires_grad(true);
  impl::Plan p = impl::plan(t, with_dtype(DType::float64));
  EXPECT_TRUE(p.records_grad);
  EXPECT_EQ(p.copy, CopyKind::Cast);
  Tensor u = impl::as_tensor(t, with_dtype(DType::float64));
  ASSERT_NE(u.grad_fn(), nullptr);
  EXPECT_STREQ(u.grad_fn()->name(), "ToCopyBackward");
  EXPECT_FALSE(impl::plan(t, with_dtype(DType::int32)).records_grad);
}

TEST(ImplPlan, DeviceTargetsUseThePipeline) {  // DEV-*, XFER-1, COPY-2
  Buf b(16);
  Options o = with_dtype(DType::float32);
  o.device = Device(DeviceType::Sim, 0);
  impl::Plan p = impl::plan(b.view(Dims{16}, Dims{8}), o);
  EXPECT_EQ(p.decision, Decision::Transfer);
  ASSERT_TRUE(p.transfer.has_value());
  EXPECT_TRUE(p.transfer->staged);  // pageable source
  EXPECT_EQ(p.cast_site, impl::CastSite::Host);  // narrowing: cast while staging
  ASSERT_EQ(p.links.size(), 1u);
  EXPECT_EQ(p.links[0].from, Device::cpu());
  EXPECT_EQ(p.links[0].nbytes, 64);  // 16 float32 cross
  EXPECT_TRUE(mentions(p.str(), "transfer: h2d staged")) << p.str();
}

TEST(ImplPlan, MissingDeviceIsTheReferenceError) {  // DEV-3
  Buf b(4);
  Options o;
  o.device = Device(DeviceType::CUDA, 7);
  EXPECT_EQ(impl_check::compare_impls(b.view(Dims{4}, Dims{8}), o), "");
  Nested x = {1.0, 2.0};
  NestedReader r(x);
  EXPECT_EQ(impl_check::compare_impls(SequenceSource{&r}, o), "");
}

TEST(ImplPlan, HighRankGathersThatDoNotCollapse) {  // any rank: 20 dims, alternating broadcast
  // Shape (2,)*20; even dims broadcast (stride 0), odd dims C-contiguous over the odd dims:
  // no two neighbours chain, so the collapsed copy keeps all 20 dims.
  Buf b(1024);
  Dims shape(20, 2), strides(20, 0);
  int64_t s = 8;
  for (int d = 19; d >= 0; --d) {
    if (d % 2 == 1) {
      strides[d] = s;
      s *= 2;
    }
  }
  ArrayView v = b.view(shape, strides);
  impl::Plan p = impl::plan(v, with_dtype(DType::float32));
  EXPECT_EQ(p.layout.shape.size(), 20u);
  EXPECT_EQ(p.copy, CopyKind::Gather);
  EXPECT_EQ(impl_check::compare_impls(v, with_dtype(DType::float32)), "");
}

TEST(ImplPlan, DeviceSourcePlansListEveryLink) {  // COPY-2: bytes per link, cast placement
  // Planning only (nothing runs): a view that says it lives on sim:0 keeps its device
  // (DEV-1); its dtype change is one gather + cast kernel on sim:0.
  Buf b(64);
  ArrayView v = b.view(Dims{8, 4}, Dims{64, 8});  // [:, :4] of an (8, 8) float64
  v.device = Device(DeviceType::Sim, 0);
  impl::Plan share = impl::plan(v, {});
  EXPECT_EQ(share.decision, Decision::Share);
  impl::Plan p = impl::plan(v, with_dtype(DType::float32));
  EXPECT_EQ(p.decision, Decision::Transfer);
  ASSERT_TRUE(p.transfer.has_value());
  EXPECT_EQ(p.transfer->link, astensor::Link::D2D);
  EXPECT_EQ(p.cast_site, impl::CastSite::Device);
  EXPECT_EQ(p.copy, CopyKind::Gather);
  ASSERT_EQ(p.links.size(), 1u);
  EXPECT_EQ(p.links[0].from, Device(DeviceType::Sim, 0));
  EXPECT_EQ(p.links[0].to, Device(DeviceType::Sim, 0));
  EXPECT_EQ(p.links[0].nbytes, 32 * 4);  // the float32 result
  const std::string e = p.str();
  EXPECT_TRUE(mentions(e, "link sim:0 -> sim:0: 128 bytes")) << e;
  EXPECT_TRUE(mentions(e, "transfer: d2d")) << e;
  EXPECT_TRUE(mentions(e, "cast float64 -> float32 on the device")) << e;
}

// Note [Ramped chunks] (impl/transfer/planner.cpp): the chunks of a staged transfer cover it in
// order, none larger than a slot; with the ramp on they start at the ramp size, grow at most
// doubling from either end, and cost at most two ramps' worth of extra chunks.
TEST(ImplPlan, ChunkBoundsCoverTheTransferAndRampAtBothEnds) {
  EXPECT_TRUE(rc::check("chunk_bounds", [] {
    const int64_t numel = *rc::gen::inRange<int64_t>(0, 200000);
    const int64_t chunk = *rc::gen::inRange<int64_t>(1, 5000);
    const int64_t ramp = *rc::gen::oneOf(rc::gen::just<int64_t>(0), rc::gen::inRange<int64_t>(1, 6000));
    const std::vector<int64_t> b = transfer::chunk_bounds(numel, chunk, ramp);
    RC_ASSERT(!b.empty());
    RC_ASSERT(b.front() == 0);
    RC_ASSERT(b.back() == numel);
    const std::size_t n = b.size() - 1;
    RC_ASSERT((numel == 0) == (n == 0));
    const bool ramped = ramp > 0 && ramp < chunk;
    for (std::size_t i = 0; i < n; ++i) {
      const int64_t size = b[i + 1] - b[i];
      RC_ASSERT(size > 0);
      RC_ASSERT(size <= chunk);
      if (!ramped) {
        RC_ASSERT(i + 1 == n || size == chunk);  // equal chunks, the last one what is left
      } else {
        // Grown from the nearer end, doubling: at most ramp * 2^(distance to that end).
        const std::size_t from_end = std::min(i, n - 1 - i);
        RC_ASSERT(size <= (from_end >= 40 ? chunk : std::min(chunk, ramp << from_end)));
      }
    }
    const int64_t plain = (numel + chunk - 1) / chunk;
    if (!ramped) {
      RC_ASSERT(static_cast<int64_t>(n) == plain);
    } else if (numel > 0) {
      RC_ASSERT(b[1] == std::min(ramp, numel));  // the first chunk is the ramp's
      const int64_t doublings = static_cast<int64_t>(std::ceil(std::log2(double(chunk) / double(ramp))));
      RC_ASSERT(static_cast<int64_t>(n) <= plain + 2 * doublings + 1);
    }
  }));
  // The shape the default makes of 16 MiB of float32: 512 KiB up to 4 MiB and back down.
  const int64_t k = 1024 / 4;  // 1 KiB of float32
  const std::vector<int64_t> b = transfer::chunk_bounds(16384 * k, 4096 * k, 512 * k);
  std::vector<int64_t> sizes;
  for (std::size_t i = 0; i + 1 < b.size(); ++i) sizes.push_back((b[i + 1] - b[i]) / k);
  EXPECT_EQ(sizes, (std::vector<int64_t>{512, 1024, 2048, 4096, 1024, 4096, 2048, 1024, 512}));
}

// The chunks the executors walk (transfer::StagingChunks) are the plan's: as many as it says,
// covering the transfer in order, none larger than a slot, slot c % slots each; the small-copy
// path is one chunk in one slot. (A count that disagreed with TransferSteps::chunks would leave
// the ring or the device scratch sized for another walk.)
TEST(ImplPlan, StagingChunksAreThePlansChunks) {
  EXPECT_TRUE(rc::check("StagingChunks", [] {
    const int64_t numel = *rc::gen::inRange<int64_t>(1, 60000);
    transfer::TransferOptions o;
    o.chunk_bytes = *rc::gen::inRange<std::size_t>(64, 40000);
    o.slots = *rc::gen::inRange(1, 5);
    o.ramp_bytes = *rc::gen::element<std::size_t>(0, 64, 1000, 4096);
    o.small_copy_bytes = *rc::gen::element<std::size_t>(0, 4096, std::size_t(1) << 20);
    const Buf b(static_cast<std::size_t>(numel));
    const impl::Plan p =
        transfer::describe_transfer(b.view(Dims{numel}, Dims{8}), DType::float64, Device(DeviceType::Sim, 0), o);
    RC_ASSERT(p.transfer && p.transfer->staged);
    const impl::TransferSteps& st = *p.transfer;
    const transfer::StagingChunks c(numel, st);
    RC_ASSERT(c.count() == st.chunks);
    if (st.small) {
      RC_ASSERT(c.count() == 1);
      RC_ASSERT(c.slots() == 1);
      RC_ASSERT(c.size(0) == numel);
    } else {
      RC_ASSERT(c.slots() == st.slots);
    }
    int64_t next = 0, largest = 0;
    for (int64_t i = 0; i < c.count(); ++i) {
      RC_ASSERT(c.start(i) == next);
      RC_ASSERT(c.size(i) > 0);
      RC_ASSERT(st.small || c.size(i) <= st.chunk_elems);
      RC_ASSERT(c.slot(i) == static_cast<int>(i % c.slots()));
      next += c.size(i);
      largest = std::max(largest, c.size(i));
    }
    RC_ASSERT(next == numel);
    RC_ASSERT(c.largest() == largest);
  }));
}
