// Errors of the Rego engine, with OPA's error codes and positions.
//
// Every error the engine returns is a contrast::Error whose message reads
//   "<file>:<line>:<column>: <opa_code>: <text>"
// (the position is left out when there is none), e.g.
//   "policy.rego:3:7: rego_parse_error: unexpected '}' token"
//   "policy.rego:12:3: eval_conflict_error: complete rules must not produce multiple outputs"
// so users see OPA's codes and tools can match on them with OpaCodeOf.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace contrast::policy::rego {

// OPA's error codes.
inline constexpr std::string_view kRegoParseError = "rego_parse_error";
inline constexpr std::string_view kRegoCompileError = "rego_compile_error";
inline constexpr std::string_view kRegoTypeError = "rego_type_error";
inline constexpr std::string_view kRegoUnsafeVarError = "rego_unsafe_var_error";
inline constexpr std::string_view kRegoRecursionError = "rego_recursion_error";
inline constexpr std::string_view kEvalConflictError = "eval_conflict_error";
inline constexpr std::string_view kEvalTypeError = "eval_type_error";
inline constexpr std::string_view kEvalBuiltinError = "eval_builtin_error";
inline constexpr std::string_view kEvalCancelError = "eval_cancel_error";  // step/time budget exhausted

struct Location {
  std::string file;  // module file name; empty for queries
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
};

// The contrast::ErrorCode used for each OPA code: kParse for rego_parse_error,
// kInvalidArgument for the other compile-time codes, kTimeout for
// eval_cancel_error, kFailedPrecondition for the other evaluation errors.
ErrorCode ErrorCodeFor(std::string_view opa_code);

// Builds the error with the message format above.
Error RegoError(std::string_view opa_code, const Location& location, std::string_view text);

// The OPA code in an engine error's message ("" when there is none).
std::string_view OpaCodeOf(const Error& error);

}  // namespace contrast::policy::rego
