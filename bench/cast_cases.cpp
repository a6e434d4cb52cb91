// cast/<src>_<dst>/...: dtype conversions of host arrays into new host tensors (C2), over
// the size and layout axes. Widening, narrowing, integer and half-precision pairs.

#include <utility>

#include "bench/common.h"

namespace astensor::bench {

void register_cast() {
  struct Pair {
    DType from, to;
    bool strided;  // also run the every_other, transpose and transpose_gather layouts
  };
  const Pair pairs[] = {
      {DType::float64, DType::float32, true},   // narrowing (T7, C2)
      {DType::uint8, DType::float32, true},     // widening (T6, C2)
      {DType::float32, DType::float64, false},  // widening float
      {DType::int64, DType::int32, false},      // narrowing integer (T8)
      {DType::float32, DType::bfloat16, false}, // half precision (T8)
      {DType::float32, DType::float16, false},  // half precision (issue 6's staging cast)
  };
  for (const Pair& p : pairs)
    for (Layout layout : {Layout::Contig, Layout::EveryOther, Layout::Transpose, Layout::TransposeGather}) {
      if (layout != Layout::Contig && !p.strided) continue;
      const std::string head = std::string("cast/") + name(p.from) + "_" + name(p.to) + "/" + layout_name(layout);
      for (Impl impl : impls())
        for (std::size_t b : sizes())
          benchmark::RegisterBenchmark(case_name(head, impl, "system", b).c_str(),
                                       [=, from = p.from, to = p.to](benchmark::State& s) {
                                         bm_host_convert(s, impl, from, to, layout, b);
                                       })
              ->UseRealTime();
    }
}

}  // namespace astensor::bench
