#pragma once
/// Helpers of the libFuzzer targets (issue 7): a reader that decodes fuzz bytes into values
/// (running out of bytes yields zeros, so every input decodes), and the differential check
/// that the reference and the optimized implementation agree (XFER-3): the same tensor, or
/// the same error kind and message.

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/source.h"
#include "core/tensor.h"

namespace astensor::fuzz {

class Input {
 public:
  Input(const uint8_t* data, std::size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  template <class T>
  T raw() {
    T v{};
    const std::size_t k = std::min(sizeof(T), n_);
    std::memcpy(&v, p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  /// A signed size: mostly small, sometimes a raw 64-bit value (huge, negative).
  int64_t dim() {
    const uint8_t b = u8();
    if (b < 200) return b % 9;
    if (b < 230) return b - 200 + 9;
    if (b < 250) return int64_t(1) << (b - 230 + 20);
    return raw<int64_t>();
  }
  /// A byte stride for an item size: mostly a small multiple, sometimes odd or raw.
  int64_t stride(int64_t isz) {
    const uint8_t b = u8();
    if (b < 160) return (static_cast<int64_t>(b % 17) - 8) * isz;
    if (b < 220) return static_cast<int64_t>(b % 33) - 16;
    if (b < 250) return (int64_t(1) << (b - 220 + 10)) * ((b & 1) ? -1 : 1);
    return raw<int64_t>();
  }
  std::string str(std::size_t max) {
    const std::size_t k = std::min<std::size_t>(u8() % (max + 1), n_);
    std::string s(reinterpret_cast<const char*>(p_), k);
    p_ += k;
    n_ -= k;
    return s;
  }

 private:
  const uint8_t* p_;
  std::size_t n_;
};

/// Options from one byte: dtype (none or one of DT-1) and copy (None/True/False).
inline Options options_from(Input& in) {
  Options o;
  const uint8_t b = in.u8();
  if (b % 2) o.dtype = static_cast<DType>((b >> 1) % kNumDTypes);
  const uint8_t c = (b >> 5) % 3;
  if (c == 1) o.copy = true;
  if (c == 2) o.copy = false;
  return o;
}

struct Outcome {
  bool ok = false;
  ErrorKind kind = ErrorKind::Runtime;
  std::string message;
  DType dtype = DType::float32;
  Dims shape;
  std::vector<std::complex<double>> values;
};

inline Outcome run(const std::function<Tensor()>& f) {
  Outcome o;
  try {
    Tensor t = f();
    o.ok = true;
    o.dtype = t.dtype();
    o.shape = t.shape();
    o.values = t.to_complex_vector();
  } catch (const Error& e) {
    o.kind = e.kind();
    o.message = e.what();
  }
  // Anything else (std::bad_alloc, std::out_of_range...) escapes: libFuzzer reports it as
  // a crash, since the library promises typed errors only.
  return o;
}

inline bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

[[noreturn]] inline void fail(const char* what, const Outcome& r, const Outcome& i) {
  std::fprintf(stderr, "fuzz: reference and impl disagree (%s)\n  reference: %s %s %s\n  impl:      %s %s %s\n",
               what, r.ok ? "ok" : error_kind_name(r.kind), r.ok ? r.shape.str().c_str() : "",
               r.ok ? name(r.dtype) : r.message.c_str(), i.ok ? "ok" : error_kind_name(i.kind),
               i.ok ? i.shape.str().c_str() : "", i.ok ? name(i.dtype) : i.message.c_str());
  std::abort();
}

/// XFER-3: the two outcomes are the same tensor or the same error.
inline void expect_same(const Outcome& r, const Outcome& i) {
  if (r.ok != i.ok) fail("one succeeded", r, i);
  if (!r.ok) {
    if (r.kind != i.kind) fail("error kind", r, i);
    if (r.message != i.message) fail("error message", r, i);
    return;
  }
  if (r.dtype != i.dtype || r.shape != i.shape || r.values.size() != i.values.size())
    fail("dtype or shape", r, i);
  for (std::size_t k = 0; k < r.values.size(); ++k)
    if (!same_value(r.values[k].real(), i.values[k].real()) ||
        !same_value(r.values[k].imag(), i.values[k].imag()))
      fail("values", r, i);
}

}  // namespace astensor::fuzz
