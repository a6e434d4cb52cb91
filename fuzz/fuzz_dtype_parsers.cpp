// libFuzzer target (issue 7): the NumPy typestr parser, the PEP 3118 format parser, dtype
// names and DLPack (code, bits, lanes) (core/dtype.h), on arbitrary bytes. Whatever they
// accept must be a dtype whose own spelling parses back to it (DT-1).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "core/dtype.h"

using namespace astensor;

namespace {
[[noreturn]] void fail(const char* what, std::string_view s) {
  std::fprintf(stderr, "fuzz_dtype_parsers: %s for input '%.*s'\n", what, int(s.size()), s.data());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  bool swapped = true;
  if (auto d = dtype_from_typestr(s, &swapped)) {
    bool sw2 = true;
    const std::string native = std::string(kHostLittleEndian ? "<" : ">") + typestr_body(*d);
    if (dtype_from_typestr(native, &sw2) != d || sw2) fail("typestr does not round-trip", s);
  }
  swapped = true;
  if (auto d = dtype_from_pep3118(s, &swapped)) {
    auto f = pep3118_format(*d);
    bool sw2 = true;
    if (f && (dtype_from_pep3118(*f, &sw2) != d || sw2)) fail("PEP 3118 format does not round-trip", s);
  }
  if (auto d = dtype_from_name(s))
    if (std::string_view(name(*d)) != s) fail("name does not round-trip", s);
  if (size >= 4) {
    uint16_t lanes;
    std::memcpy(&lanes, data + 2, 2);
    if (auto d = dtype_from_dlpack(data[0], data[1], lanes)) {
      if (lanes != 1 || data[1] != 8 * itemsize(*d) || static_cast<uint8_t>(info(*d).dl_code) != data[0])
        fail("DLPack dtype accepted with the wrong bits, lanes or code", s);
    }
  }
  return 0;
}
