#include "bench/impls.h"

#include "reference/as_tensor.h"
#if ASTENSOR_BENCH_HAVE_IMPL
#include "impl/as_tensor.h"
#endif

namespace astensor::bench {

const char* impl_name(Impl impl) { return impl == Impl::Reference ? "reference" : "optimized"; }

std::vector<Impl> impls() {
#if ASTENSOR_BENCH_HAVE_IMPL
  return {Impl::Reference, Impl::Optimized};
#else
  return {Impl::Reference};
#endif
}

Tensor call_as_tensor(Impl impl, const Source& source, const Options& options) {
#if ASTENSOR_BENCH_HAVE_IMPL
  if (impl == Impl::Optimized) return astensor::impl::as_tensor(source, options);
#endif
  (void)impl;
  return astensor::reference::as_tensor(source, options);
}

}  // namespace astensor::bench
