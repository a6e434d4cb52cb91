#pragma once
/// The project's typed errors (DESIGN.md "Errors"). Each maps to the Python exception of
/// the same name. Messages start with the operation in brackets ("[as_tensor] ...") and
/// name the offending value, the dtype and, for nested data, the index path.

#include <charconv>
#include <cstdint>
#include <concepts>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace astensor {

enum class ErrorKind { Type, Value, Overflow, Runtime };

/// Base of every user-facing error the library throws.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string msg) : std::runtime_error(std::move(msg)), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};
class TypeError : public Error {
 public:
  explicit TypeError(std::string m) : Error(ErrorKind::Type, std::move(m)) {}
};
class ValueError : public Error {
 public:
  explicit ValueError(std::string m) : Error(ErrorKind::Value, std::move(m)) {}
};
class OverflowError : public Error {
 public:
  explicit OverflowError(std::string m) : Error(ErrorKind::Overflow, std::move(m)) {}
};
class RuntimeError : public Error {
 public:
  explicit RuntimeError(std::string m) : Error(ErrorKind::Runtime, std::move(m)) {}
};

const char* error_kind_name(ErrorKind k);

namespace detail {
// Note [No iostreams]: messages are built with std::to_chars and plain appends, never with
// iostreams, string streams or locales. A module whose libstdc++ is linked statically (the
// GPU image's compiler does this for shared objects) shares the process with numpy's
// dynamic libstdc++; streaming an integer then crashed inside std::ostream::_M_insert on
// that machine. ci/stages/05-lint fails on <sstream>/<iostream>/ostringstream in the library.
inline void append_one(std::string& s, std::string_view v) { s.append(v); }
inline void append_one(std::string& s, const char* v) { s.append(v ? v : "(null)"); }
inline void append_one(std::string& s, char c) { s.push_back(c); }
inline void append_one(std::string& s, bool b) { s.append(b ? "1" : "0"); }
template <class T>
  requires(std::is_arithmetic_v<T> && !std::same_as<T, bool> && !std::same_as<T, char>)
void append_one(std::string& s, T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}
template <class T>
  requires std::is_enum_v<T>
void append_one(std::string& s, T v) {
  append_one(s, static_cast<std::underlying_type_t<T>>(v));
}
inline void append_one(std::string& s, const void* p) {
  char buf[2 + 2 * sizeof(void*) + 1] = "0x";
  auto r = std::to_chars(buf + 2, buf + sizeof buf, reinterpret_cast<std::uintptr_t>(p), 16);
  s.append(buf, r.ptr);
}
inline void append_one(std::string& s, void* p) { append_one(s, static_cast<const void*>(p)); }

/// Concatenates strings, characters, numbers (std::to_chars: shortest round-trip form for
/// floating point) and pointers (hexadecimal) into one message.
template <class... Args>
std::string str_cat(const Args&... args) {
  std::string s;
  (append_one(s, args), ...);
  return s;
}
}  // namespace detail

}  // namespace astensor

/// User-error checks: throw the typed error with the streamed message when cond is false.
#define ASTENSOR_CHECK_KIND(Kind, cond, ...) \
  do {                                       \
    if (!(cond)) [[unlikely]]                \
      throw ::astensor::Kind(::astensor::detail::str_cat(__VA_ARGS__)); \
  } while (0)
#define ASTENSOR_CHECK_TYPE(cond, ...) ASTENSOR_CHECK_KIND(TypeError, cond, __VA_ARGS__)
#define ASTENSOR_CHECK_VALUE(cond, ...) ASTENSOR_CHECK_KIND(ValueError, cond, __VA_ARGS__)
#define ASTENSOR_CHECK_OVERFLOW(cond, ...) ASTENSOR_CHECK_KIND(OverflowError, cond, __VA_ARGS__)
#define ASTENSOR_CHECK(cond, ...) ASTENSOR_CHECK_KIND(RuntimeError, cond, __VA_ARGS__)
