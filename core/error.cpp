#include "core/error.h"

namespace astensor {

const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::Type: return "TypeError";
    case ErrorKind::Value: return "ValueError";
    case ErrorKind::Overflow: return "OverflowError";
    case ErrorKind::Runtime: return "RuntimeError";
  }
  return "Error";
}

}  // namespace astensor
