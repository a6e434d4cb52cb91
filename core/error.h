#pragma once
/// The project's typed errors (DESIGN.md "Errors"). Each maps to the Python exception of
/// the same name. Messages start with the operation in brackets ("[as_tensor] ...") and
/// name the offending value, the dtype and, for nested data, the index path.

#include <sstream>
#include <stdexcept>
#include <string>
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
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
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
