#include "policy/rego/errors.h"

#include <array>

namespace contrast::policy::rego {

ErrorCode ErrorCodeFor(std::string_view opa_code) {
  if (opa_code == kRegoParseError) return ErrorCode::kParse;
  if (opa_code.starts_with("rego_")) return ErrorCode::kInvalidArgument;
  if (opa_code == kEvalCancelError) return ErrorCode::kTimeout;
  return ErrorCode::kFailedPrecondition;
}

Error RegoError(std::string_view opa_code, const Location& location, std::string_view text) {
  std::string message;
  if (location.line > 0) {
    message += location.file.empty() ? std::string("query") : location.file;
    message += ":" + std::to_string(location.line);
    if (location.column > 0) message += ":" + std::to_string(location.column);
    message += ": ";
  }
  message += opa_code;
  message += ": ";
  message += text;
  return Error{ErrorCodeFor(opa_code), std::move(message)};
}

std::string_view OpaCodeOf(const Error& error) {
  static constexpr std::array kCodes = {kRegoParseError,     kRegoCompileError,   kRegoTypeError,
                                        kRegoUnsafeVarError, kRegoRecursionError, kEvalConflictError,
                                        kEvalTypeError,      kEvalBuiltinError,   kEvalCancelError};
  size_t best = std::string_view::npos;
  std::string_view found;
  for (std::string_view code : kCodes) {
    const size_t at = error.message.find(std::string(code) + ":");
    if (at < best) {
      best = at;
      found = code;
    }
  }
  return found;
}

}  // namespace contrast::policy::rego
