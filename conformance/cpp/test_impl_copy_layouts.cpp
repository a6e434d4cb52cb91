// The optimized CPU kernels through the copies the planner makes (impl/cpu/copy.h): collapsed
// and tiled layouts on 1-4 threads, the transposed tile kernels (Note [Transposed tiles]),
// small-stride gathers, and a threaded copy in a forked child (Note [OpenMP and fork]), bit
// for bit against the reference converter. (The suite is ImplCast, as for the kernels alone.)
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "conformance/cpp/impl_cast_util.h"
#include "core/convert.h"
#include "impl/cpu/copy.h"
#include "impl/cpu/kernels.h"

using namespace astensor;
using namespace astensor::impl::cpu;
using namespace astensor::impl_cast_check;

TEST(ImplCast, CollapsedThreadedCopiesMatchTheReference) {  // threads change nothing (XFER-3)
  // A (64, 3, 50) float64 source viewed through [::-1, :, ::2] into float32, on 1..4 threads.
  const int64_t A = 64, B = 3, C = 100;
  std::vector<double> src(A * B * C);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = double(i) * 1.25 - 7;
  ArrayView v;
  v.data = src.data() + (A - 1) * B * C;
  v.dtype = DType::float64;
  v.shape = Dims{A, B, C / 2};
  v.byte_strides = Dims{-B * C * 8, C * 8, 16};
  const int64_t n = A * B * (C / 2);
  std::vector<unsigned char> want(n * 4);
  convert_plain(v, want.data(), DType::float32, contiguous_strides(v.shape.span()).span());
  const Dims dst = contiguous_strides(v.shape.span());
  CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
  for (int threads = 1; threads <= 4; ++threads) {
    std::vector<unsigned char> got(n * 4, 0xCD);
    run_copy(l, v.data, DType::float64, false, got.data(), DType::float32, threads);
    ASSERT_EQ(got, want) << threads << " threads";
  }
}

TEST(ImplCast, TiledThreadedCopiesMatchTheReference) {  // CopyLayout::tiled, threads
  // (3, 90, 70) float64 viewed as [:, ::-1, :].transpose(0, 2, 1): (3, 70, 90), strides
  // (90*70*8, 8, -70*8): not dense, so the copy is C-contiguous and tiled.
  const int64_t A = 3, B = 90, C = 70;
  std::vector<double> src(A * B * C);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = double(i) * 0.75 - 1000;
  ArrayView v;
  v.data = src.data() + (B - 1) * C;
  v.dtype = DType::float64;
  v.shape = Dims{A, C, B};
  v.byte_strides = Dims{B * C * 8, 8, -C * 8};
  const Dims dst = contiguous_strides(v.shape.span());
  CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
  ASSERT_TRUE(l.tiled);
  std::vector<unsigned char> want(A * B * C * 2);
  convert_plain(v, want.data(), DType::bfloat16, dst.span());
  for (int threads = 1; threads <= 3; ++threads) {
    std::vector<unsigned char> got(want.size(), 0xEE);
    run_copy(l, v.data, DType::float64, false, got.data(), DType::bfloat16, threads);
    ASSERT_EQ(got, want) << threads << " threads";
  }
}

// Note [Transposed tiles] (kernels.cpp): the in-register 8x8 transpose of the tiled path
// (uint8 -> float32 at the AVX2 level) and the runs (float64, int16, and every pair at the
// baseline level) against the reference converter, bit for bit, at every ISA level: transposed views that are not dense (`a[:, ::2].T`,
// `a.T[:, ::2]`, `a[:, :-1].T`), reversed rows (negative inner stride), reversed columns
// (a negative tile-row stride: no tile kernel, the runs), offsets, shapes whose tiles do
// not fill blocks of 8 (row tails) or 8 columns (column tails), a 3-D stack, 1-3 threads;
// float64 sources hold NaN, infinities, float32 overflow and ties, denormals.
TEST(ImplCast, TransposedTileKernelsMatchTheReference) {  // TEN-3, DT-3, XFER-3
  std::mt19937_64 rng(11);
  const std::vector<double> edges = edge_doubles();
  for (int level = 0; level <= static_cast<int>(detected_isa()); ++level) {
    IsaLevel guard(static_cast<Isa>(level));
    for (DType from : {DType::uint8, DType::float64, DType::int16}) {
      const int64_t isz = static_cast<int64_t>(itemsize(from));
      for (auto [P, R, C] : {std::array<int64_t, 3>{1, 37, 130}, {1, 203, 77}, {1, 530, 90},
                             {3, 41, 160}}) {
        std::vector<unsigned char> buf(static_cast<std::size_t>(P * R * C * isz));
        for (int64_t i = 0; i < P * R * C; ++i) {
          if (from == DType::uint8) buf[i] = static_cast<unsigned char>((i * 37 + i / 7) & 0xff);
          else if (from == DType::int16) {
            const int16_t v = static_cast<int16_t>(rng());
            std::memcpy(&buf[i * 2], &v, 2);
          } else {
            double v = edges[rng() % edges.size()];
            if (rng() % 2) {  // random bits, and float32 ties (an exact half ulp of float32)
              const uint64_t b = rng();
              std::memcpy(&v, &b, 8);
              if (rng() % 2) v = std::ldexp(double((rng() >> 40) | 1) * 2 + 1, -int(rng() % 200) + 60) /
                                 double(uint64_t(1) << 30);
            }
            std::memcpy(&buf[i * 8], &v, 8);
          }
        }
        const unsigned char* base = buf.data();
        const int64_t sp = R * C * isz, sr = C * isz, sc = isz;
        struct V {
          const char* what;
          const unsigned char* data;
          Dims shape, strides;
        };
        const V views[] = {
            {"a[:, ::2].T", base, Dims{P, C / 2, R}, Dims{sp, 2 * sc, sr}},
            {"a.T[:, ::2]", base, Dims{P, C, (R + 1) / 2}, Dims{sp, sc, 2 * sr}},
            {"a[:, :-1].T", base, Dims{P, C - 1, R}, Dims{sp, sc, sr}},
            {"a[::-1, :-1].T", base + (R - 1) * sr, Dims{P, C - 1, R}, Dims{sp, sc, -sr}},
            {"a[2:, 3::2].T", base + 2 * sr + 3 * sc, Dims{P, (C - 3 + 1) / 2, R - 2}, Dims{sp, 2 * sc, sr}},
            {"a[:, ::-1].T", base + (C - 1) * sc, Dims{P, C, R}, Dims{sp, -sc, sr}},
        };
        for (const V& vw : views) {
          ArrayView v;
          v.data = vw.data;
          v.dtype = from;
          v.shape = vw.shape;
          v.byte_strides = vw.strides;
          const Dims dst = contiguous_strides(v.shape.span());
          const CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
          ASSERT_TRUE(l.tiled) << vw.what;
          const int64_t sa = l.src_strides[l.shape.size() - 2];
          // The kernel exists for uint8 at tile-row strides of 1 and 2 elements: make sure it
          // is the one tested.
          if (level == 1 && from == DType::uint8 && (sa == 1 || sa == 2)) {
            ASSERT_NE(tile_kernel(from, DType::float32, false, sa), nullptr) << vw.what;
          }
          for (DType to : {DType::float32, DType::float64}) {
            const int64_t n = P * v.shape[1] * v.shape[2];
            std::vector<unsigned char> want(static_cast<std::size_t>(n) * itemsize(to));
            convert_plain(v, want.data(), to, dst.span());
            for (int threads = 1; threads <= 3; ++threads) {
              std::vector<unsigned char> got(want.size(), 0xEE);
              run_copy(l, v.data, from, false, got.data(), to, threads);
              ASSERT_EQ(got, want) << vw.what << " " << name(from) << "->" << name(to) << " shape ("
                                   << P << ", " << R << ", " << C << ") " << isa_name(cpu_isa())
                                   << " " << threads << " threads";
            }
          }
        }
      }
    }
  }
}

TEST(ImplCast, ThreadedCopiesWorkInAForkedChild) {  // Note [OpenMP and fork]
  const int64_t n = 1 << 20;
  std::vector<double> src(n);
  for (int64_t i = 0; i < n; ++i) src[i] = double(i);
  std::vector<float> dst(n);
  CopyLayout l = collapse(Dims{n}.span(), Dims{8}.span(), Dims{1}.span());
  run_copy(l, src.data(), DType::float64, false, dst.data(), DType::float32, 2);  // team started
  ASSERT_EQ(dst[n - 1], float(n - 1));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(30);  // a hang becomes SIGALRM, not a stuck test
    std::vector<float> out(n);
    run_copy(l, src.data(), DType::float64, false, out.data(), DType::float32, 2);
    _exit(out[n - 1] == float(n - 1) && in_forked_child() && max_threads() == 1 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child did not exit (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(in_forked_child());
}

// The kernels of Note [Fixed small strides] (test_impl_cast.cpp) through the planner's
// collapsed copies: uint8/int8/float16 views with a small inner stride (every other / third /
// fourth column, a channel of interleaved pixels, reversed rows and columns, offset starts,
// odd shapes) into float32/float64/int64, on 1..3 threads, against the reference converter.
TEST(ImplCast, SmallStrideGathersMatchTheReference) {  // ARR-3, TEN-3, XFER-3
  struct View {
    int64_t rows, cols, step, col0;  // a[:, col0::step] of a (rows, cols) array, or reversed
    bool reversed;
  };
  const View views[] = {{33, 70, 2, 0, false}, {33, 70, 2, 1, false}, {5, 301, 3, 2, false},
                        {17, 64, 4, 3, false}, {9, 129, 2, 0, true},  {40, 51, 1, 0, true},
                        {1, 1001, 2, 1, false}, {300, 34, 2, 0, false}};
  for (DType from : {DType::uint8, DType::int8, DType::float16}) {
    const int64_t isz = static_cast<int64_t>(itemsize(from));
    for (const View& w : views) {
      std::vector<unsigned char> base(static_cast<std::size_t>(w.rows * w.cols * isz));
      std::mt19937 rng(static_cast<unsigned>(w.rows * 1000 + w.cols));
      for (auto& b : base) b = static_cast<unsigned char>(rng());
      const int64_t out_cols = (w.cols - w.col0 + w.step - 1) / w.step;
      ArrayView v;
      v.dtype = from;
      v.shape = Dims{w.rows, out_cols};
      if (!w.reversed) {
        v.data = base.data() + w.col0 * isz;
        v.byte_strides = Dims{w.cols * isz, w.step * isz};
      } else {  // a[::-1, ::-step]
        v.data = base.data() + ((w.rows - 1) * w.cols + (w.cols - 1)) * isz;
        v.byte_strides = Dims{-w.cols * isz, -w.step * isz};
        v.shape = Dims{w.rows, (w.cols + w.step - 1) / w.step};
      }
      const Dims dst = contiguous_strides(v.shape.span());
      const CopyLayout l = collapse(v.shape.span(), v.byte_strides.span(), dst.span());
      const int64_t n = l.numel;
      for (DType to : {DType::float32, DType::float64, DType::int64}) {
        SCOPED_TRACE(std::string(name(from)) + " -> " + name(to) + " " + v.shape.str() + " " +
                     v.byte_strides.str());
        std::vector<unsigned char> want(static_cast<std::size_t>(n) * itemsize(to));
        convert_plain(v, want.data(), to, dst.span());
        for (int threads = 1; threads <= 3; ++threads) {
          std::vector<unsigned char> got(want.size(), 0xCD);
          run_copy(l, v.data, from, false, got.data(), to, threads);
          ASSERT_EQ(got, want) << threads << " threads";
        }
      }
    }
  }
}
