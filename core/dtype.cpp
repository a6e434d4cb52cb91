#include "core/dtype.h"

#include <array>
#include <bit>
#include <cassert>

namespace astensor {

static_assert(std::endian::native == std::endian::little, "astensor assumes a little-endian host");

namespace {

using K = DTypeKind;
constexpr std::array<DTypeInfo, kNumDTypes> kTable = {{
    {DType::bool_, "bool", 1, K::Bool, 'b', DLCode::Bool},
    {DType::uint8, "uint8", 1, K::Unsigned, 'u', DLCode::UInt},
    {DType::int8, "int8", 1, K::Signed, 'i', DLCode::Int},
    {DType::int16, "int16", 2, K::Signed, 'i', DLCode::Int},
    {DType::int32, "int32", 4, K::Signed, 'i', DLCode::Int},
    {DType::int64, "int64", 8, K::Signed, 'i', DLCode::Int},
    {DType::uint16, "uint16", 2, K::Unsigned, 'u', DLCode::UInt},
    {DType::uint32, "uint32", 4, K::Unsigned, 'u', DLCode::UInt},
    {DType::uint64, "uint64", 8, K::Unsigned, 'u', DLCode::UInt},
    {DType::float16, "float16", 2, K::Float, 'f', DLCode::Float},
    {DType::bfloat16, "bfloat16", 2, K::Float, 'V', DLCode::Bfloat},
    {DType::float32, "float32", 4, K::Float, 'f', DLCode::Float},
    {DType::float64, "float64", 8, K::Float, 'f', DLCode::Float},
    {DType::complex64, "complex64", 8, K::Complex, 'c', DLCode::Complex},
    {DType::complex128, "complex128", 16, K::Complex, 'c', DLCode::Complex},
}};

// Note [Promotion table]
// Read off torch.promote_types (torch 2.15) for every pair, in enum order:
// b1 u1 i1 i2 i4 i8 u2 u4 u8 f2 bf f4 f8 c4 c8. "--" is a pair PyTorch refuses
// ("Promotion for uint16, uint32, uint64 types is not supported"). The Python harness
// re-checks the whole table against the installed torch.
constexpr int b1 = 0, u1 = 1, i1 = 2, i2 = 3, i4 = 4, i8 = 5, u2 = 6, u4 = 7, u8 = 8, f2 = 9,
              bf = 10, f4 = 11, f8 = 12, c4 = 13, c8 = 14, __ = -1;
constexpr int kPromote[kNumDTypes][kNumDTypes] = {
    //        b1  u1  i1  i2  i4  i8  u2  u4  u8  f2  bf  f4  f8  c4  c8
    /* b1 */ {b1, u1, i1, i2, i4, i8, __, __, __, f2, bf, f4, f8, c4, c8},
    /* u1 */ {u1, u1, i2, i2, i4, i8, __, __, __, f2, bf, f4, f8, c4, c8},
    /* i1 */ {i1, i2, i1, i2, i4, i8, __, __, __, f2, bf, f4, f8, c4, c8},
    /* i2 */ {i2, i2, i2, i2, i4, i8, __, __, __, f2, bf, f4, f8, c4, c8},
    /* i4 */ {i4, i4, i4, i4, i4, i8, __, __, __, f2, bf, f4, f8, c4, c8},
    /* i8 */ {i8, i8, i8, i8, i8, i8, __, __, __, f2, bf, f4, f8, c4, c8},
    /* u2 */ {__, __, __, __, __, __, u2, __, __, f2, bf, f4, f8, __, __},
    /* u4 */ {__, __, __, __, __, __, __, u4, __, f2, bf, f4, f8, __, __},
    /* u8 */ {__, __, __, __, __, __, __, __, u8, f2, bf, f4, f8, __, __},
    /* f2 */ {f2, f2, f2, f2, f2, f2, f2, f2, f2, f2, f4, f4, f8, c4, c8},
    /* bf */ {bf, bf, bf, bf, bf, bf, bf, bf, bf, f4, bf, f4, f8, c4, c8},
    /* f4 */ {f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f8, c4, c8},
    /* f8 */ {f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, c8, c8},
    /* c4 */ {c4, c4, c4, c4, c4, c4, __, __, __, c4, c4, c4, c8, c4, c8},
    /* c8 */ {c8, c8, c8, c8, c8, c8, __, __, __, c8, c8, c8, c8, c8, c8},
};

}  // namespace

const DTypeInfo& info(DType d) {
  auto i = static_cast<std::size_t>(d);
  assert(i < kTable.size());
  return kTable[i];
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& e : kTable)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

std::optional<DType> promote_types(DType a, DType b) {
  int r = kPromote[static_cast<int>(a)][static_cast<int>(b)];
  if (r < 0) return std::nullopt;
  return static_cast<DType>(r);
}

DType complex_for(DType floating) {
  return floating == DType::float64 ? DType::complex128 : DType::complex64;
}

std::string typestr_body(DType d) {
  const auto& e = info(d);
  return std::string(1, e.typestr_kind) + std::to_string(e.itemsize);
}

std::optional<DType> dtype_from_typestr(std::string_view ts, bool* byteswapped) {
  if (ts.size() < 3) return std::nullopt;
  char order = ts[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return std::nullopt;
  char k = ts[1];
  std::string_view digits = ts.substr(2);
  int size = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || size > 1000) return std::nullopt;
    size = size * 10 + (c - '0');
  }
  std::optional<DType> found;
  for (const auto& e : kTable) {
    if (e.typestr_kind == k && e.itemsize == size && k != 'V') found = e.dtype;
  }
  if (!found) return std::nullopt;
  if (byteswapped) *byteswapped = (order == '>') && size > 1;
  return found;
}

std::optional<DType> dtype_from_pep3118(std::string_view fmt, bool* byteswapped) {
  // Byte-order / size prefix. '@' (or none) is native order with native sizes; '=', '<',
  // '>', '!' use standard sizes, which equal the native ones on LP64 Linux except for
  // 'l'/'L' (4 bytes standard, 8 native) and 'n'/'N' (native only).
  bool native_size = true;
  bool big = false;
  if (!fmt.empty() && (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == '<' || fmt[0] == '>' ||
                       fmt[0] == '!')) {
    native_size = fmt[0] == '@';
    big = fmt[0] == '>' || fmt[0] == '!';
    fmt.remove_prefix(1);
  }
  // A repeat count of 1 is allowed ("1d"); anything else is not a single item.
  if (!fmt.empty() && fmt[0] == '1') fmt.remove_prefix(1);
  std::optional<DType> d;
  if (fmt == "?") d = DType::bool_;
  else if (fmt == "b") d = DType::int8;
  else if (fmt == "B") d = DType::uint8;
  else if (fmt == "h") d = DType::int16;
  else if (fmt == "H") d = DType::uint16;
  else if (fmt == "i") d = DType::int32;
  else if (fmt == "I") d = DType::uint32;
  else if (fmt == "l") d = native_size ? DType::int64 : DType::int32;
  else if (fmt == "L") d = native_size ? DType::uint64 : DType::uint32;
  else if (fmt == "q") d = DType::int64;
  else if (fmt == "Q") d = DType::uint64;
  else if (fmt == "n" && native_size) d = DType::int64;
  else if (fmt == "N" && native_size) d = DType::uint64;
  else if (fmt == "e") d = DType::float16;
  else if (fmt == "f") d = DType::float32;
  else if (fmt == "d") d = DType::float64;
  else if (fmt == "Zf") d = DType::complex64;
  else if (fmt == "Zd") d = DType::complex128;
  if (!d) return std::nullopt;
  if (byteswapped) *byteswapped = big && itemsize(*d) > 1;
  return d;
}

std::optional<std::string> pep3118_format(DType d) {
  switch (d) {
    case DType::bool_: return "?";
    case DType::uint8: return "B";
    case DType::int8: return "b";
    case DType::int16: return "h";
    case DType::int32: return "i";
    case DType::int64: return "q";
    case DType::uint16: return "H";
    case DType::uint32: return "I";
    case DType::uint64: return "Q";
    case DType::float16: return "e";
    case DType::float32: return "f";
    case DType::float64: return "d";
    case DType::complex64: return "Zf";
    case DType::complex128: return "Zd";
    case DType::bfloat16: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_dlpack(uint8_t code, uint8_t bits, uint16_t lanes) {
  if (lanes != 1) return std::nullopt;
  for (const auto& e : kTable) {
    if (static_cast<uint8_t>(e.dl_code) == code && e.itemsize * 8 == bits) return e.dtype;
  }
  return std::nullopt;
}

}  // namespace astensor
