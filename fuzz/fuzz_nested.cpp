// libFuzzer target (issue 7): the nested-sequence readers (SEQ-1..6) over C++ Nested data
// decoded from fuzz bytes: lists of any length and depth (past the 64-level limit), ragged
// lists, every leaf kind (bool, int, uint, big int, float incl. NaN/inf, complex, typed
// NumPy-like scalars, invalid str/None leaves, array and tensor blocks of fuzzed shape), with
// and without a dtype. The reference and impl must agree: the same tensor or the same error
// kind and message (XFER-3).

#include <cstdint>
#include <vector>

#include "core/nested.h"
#include "fuzz/fuzz_util.h"
#include "impl/as_tensor.h"
#include "reference/as_tensor.h"

using namespace astensor;

namespace {

constexpr int kMaxNodes = 4000;

// Block data: 64 elements of the largest item size.
alignas(16) unsigned char g_block_bytes[64 * 16];

struct Decoder {
  fuzz::Input& in;
  int nodes = 0;
  int64_t weight = 1;  // product of list lengths along the current path (bounds the tensor)

  Nested leaf(uint8_t op) {
    switch (op % 10) {
      case 0: return Nested(static_cast<bool>(in.u8() & 1));
      case 1: return Nested(static_cast<long long>(static_cast<int8_t>(in.u8())));
      case 2: return Nested(in.raw<long long>());
      case 3: return Nested(in.raw<unsigned long long>());
      case 4: return Nested::big_int(in.raw<double>());
      case 5: return Nested(in.raw<double>());
      case 6: return Nested(std::complex<double>(in.raw<float>(), in.raw<float>()));
      case 7: return Nested::typed(static_cast<DType>(in.u8() % kNumDTypes), in.raw<float>());
      case 8: return Nested(Nested::Invalid{(in.u8() & 1) ? "str" : "NoneType"});
      default: return block();
    }
  }

  Nested block() {
    const DType dt = static_cast<DType>(in.u8() % kNumDTypes);
    Dims shape;
    const int nd = in.u8() % 3;
    for (int d = 0; d < nd; ++d) shape.push_back(in.u8() % 4);
    ArrayView v = ArrayView::contiguous(g_block_bytes, dt, shape);
    if (in.u8() & 1) return Nested(v);
    // A tensor block (a reference copy of the view).
    return Nested(reference::as_tensor(v, Options{std::nullopt, std::nullopt, true}));
  }

  Nested node(int depth) {
    ++nodes;
    const uint8_t op = in.u8();
    if (nodes > kMaxNodes || in.empty()) return leaf(op);
    if (op < 96) {
      // A list; long ones repeat one decoded child to stay cheap.
      std::size_t len = in.u8();
      len = len < 240 ? len % 5 : (len - 239) * 97;
      if (weight * static_cast<int64_t>(len) > (int64_t(1) << 14)) len %= 5;
      const int64_t saved = weight;
      weight *= std::max<int64_t>(1, static_cast<int64_t>(len));
      Nested::List l;
      if (len > 8) {
        Nested c = node(depth + 1);
        l.assign(len, c);
      } else {
        for (std::size_t k = 0; k < len; ++k) l.push_back(node(depth + 1));
      }
      weight = saved;
      return Nested(std::move(l));
    }
    if (op < 104) {
      // A chain of single-element lists, sometimes past the depth limit (SEQ-6).
      const int chain = in.u8() % 80;
      Nested x = node(depth + chain);
      for (int k = 0; k < chain; ++k) {
        Nested::List l;
        l.push_back(std::move(x));
        x = Nested(std::move(l));
      }
      return x;
    }
    return leaf(op);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const Options opt = fuzz::options_from(in);
  for (std::size_t k = 0; k < sizeof g_block_bytes; ++k) g_block_bytes[k] = static_cast<unsigned char>(k * 13 % 7);
  Decoder dec{in};
  Nested root = dec.node(0);
  NestedReader r1(root), r2(root);
  auto r = fuzz::run([&] { return reference::as_tensor(SequenceSource{&r1}, opt); });
  auto i = fuzz::run([&] { return impl::as_tensor(SequenceSource{&r2}, opt); });
  fuzz::expect_same(r, i);
  return 0;
}
