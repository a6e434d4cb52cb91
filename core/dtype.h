#pragma once
/// DType: the element types of SPEC DT-1, their sizes and names, the promotion table of
/// DT-2, and the codes other libraries use for them (NumPy typestr, PEP 3118 format,
/// DLPack). One table, shared by every path (STYLE: "one way to do a thing").

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace astensor {

/// Numbered explicitly, never renumbered (the values are used as table indices).
enum class DType : uint8_t {
  bool_ = 0,
  uint8 = 1,
  int8 = 2,
  int16 = 3,
  int32 = 4,
  int64 = 5,
  uint16 = 6,
  uint32 = 7,
  uint64 = 8,
  float16 = 9,
  bfloat16 = 10,
  float32 = 11,
  float64 = 12,
  complex64 = 13,
  complex128 = 14,
};
inline constexpr int kNumDTypes = 15;

enum class DTypeKind : uint8_t { Bool, Unsigned, Signed, Float, Complex };

/// DLPack's DLDataType code numbers (dlpack.h), for the dtypes we have.
enum class DLCode : uint8_t { Int = 0, UInt = 1, Float = 2, Bfloat = 4, Complex = 5, Bool = 6 };

struct DTypeInfo {
  DType dtype;
  const char* name;     // Python name: "float32"
  uint8_t itemsize;     // bytes per element
  DTypeKind kind;
  char typestr_kind;    // NumPy typestr kind character: 'b','u','i','f','c' ('V' for bfloat16)
  DLCode dl_code;       // DLPack type code; bits = 8 * itemsize, lanes = 1
};

/// The table entry of a dtype.
const DTypeInfo& info(DType d);
inline std::size_t itemsize(DType d) { return info(d).itemsize; }
inline const char* name(DType d) { return info(d).name; }
inline DTypeKind kind(DType d) { return info(d).kind; }
inline bool is_floating(DType d) { return kind(d) == DTypeKind::Float; }
inline bool is_complex(DType d) { return kind(d) == DTypeKind::Complex; }
inline bool is_integral(DType d, bool include_bool) {
  auto k = kind(d);
  return k == DTypeKind::Signed || k == DTypeKind::Unsigned || (include_bool && k == DTypeKind::Bool);
}
/// float/complex dtypes can carry gradients (GRAD-1).
inline bool is_differentiable(DType d) { return is_floating(d) || is_complex(d); }

/// Parses a dtype name ("float32", "bool", "double" is NOT accepted). nullopt if unknown.
std::optional<DType> dtype_from_name(std::string_view name);

/// DT-2: PyTorch's promote_types, exactly (checked against torch by the Python harness).
/// nullopt where PyTorch refuses (uint16/32/64 with any other integer or bool type, and
/// with complex), so the caller can raise with context.
std::optional<DType> promote_types(DType a, DType b);

/// The complex dtype whose components have the precision of a floating dtype
/// (float16/bfloat16/float32 -> complex64, float64 -> complex128).
DType complex_for(DType floating);

/// NumPy typestr body (without byte order), e.g. "f4", "u1", "b1", "c8"; bfloat16 gives "V2".
std::string typestr_body(DType d);
/// Parses a NumPy typestr such as "<f4", "|b1", ">i8". On success returns the dtype and sets
/// *byteswapped when the stated order differs from the host's. "V2" is NOT bfloat16 (ambiguous).
std::optional<DType> dtype_from_typestr(std::string_view typestr, bool* byteswapped);
/// Parses a PEP 3118 format string of a single item ("d", "<f", "Zf", "?", "=q"), with the
/// struct module's native/standard size rules. Sets *byteswapped like dtype_from_typestr.
std::optional<DType> dtype_from_pep3118(std::string_view format, bool* byteswapped);
/// The PEP 3118 format we export for a dtype ("?", "B", "e", "f", "Zd"...); bfloat16: nullopt.
std::optional<std::string> pep3118_format(DType d);
/// DLPack (code, bits, lanes) -> dtype; nullopt when unsupported.
std::optional<DType> dtype_from_dlpack(uint8_t code, uint8_t bits, uint16_t lanes);

/// Host byte order is little-endian on every platform we build for; asserted in dtype.cpp.
inline constexpr bool kHostLittleEndian = true;

}  // namespace astensor
