// Private helpers shared by the collection, number and type builtins:
// registration with an arity guard, and OPA's operand and builtin errors.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "policy/rego/builtins.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego {

// Durations, semantic versions and URIs (builtins_formats.cpp); registered
// by BuiltinRegistry::Default() beside the families declared in builtins.h.
void RegisterFormatBuiltins(BuiltinRegistry& registry);

}  // namespace contrast::policy::rego

namespace contrast::policy::rego::support {

// Registers `function`, refusing calls with the wrong number of operands
// (the evaluator checks arity too; this keeps a builtin from ever reading
// past its operands).
inline void AddBuiltin(BuiltinRegistry& registry, std::string name, int arity, BuiltinFunction function,
                       bool relation = false) {
  BuiltinFunction guarded = [name, arity, function = std::move(function)](std::span<const Value> operands) {
    if (operands.size() != static_cast<size_t>(arity)) {
      return Result<Value>(
          Fail(ErrorCode::kInvalidArgument,
               name + ": expected " + std::to_string(arity) + " operands but got " + std::to_string(operands.size())));
    }
    return function(operands);
  };
  registry.Add(Builtin{std::move(name), arity, std::move(guarded), relation});
}

// OPA's eval_builtin_error: the operands had the right types but the call failed.
inline tl::unexpected<Error> BuiltinError(std::string_view builtin, std::string_view message) {
  return Fail(ErrorCode::kFailedPrecondition, std::string(builtin) + ": " + std::string(message));
}

// A type error with a free-form tail: "NAME: operand N <text>".
inline tl::unexpected<Error> OperandError(std::string_view builtin, int operand, std::string_view text) {
  return Fail(ErrorCode::kInvalidArgument,
              std::string(builtin) + ": operand " + std::to_string(operand) + " " + std::string(text));
}

inline tl::unexpected<Error> TypeError(std::string_view builtin, int operand, std::string_view expected,
                                       const Value& actual) {
  return Fail(OperandTypeError(builtin, operand, expected, actual));
}

// "operand 1 must be array of numbers but got array containing string".
inline tl::unexpected<Error> ElementError(std::string_view builtin, int operand, const Value& composite,
                                          std::string_view expected, const Value& element) {
  const std::string kind(KindName(composite.kind()));
  return OperandError(builtin, operand,
                      "must be " + kind + " of " + std::string(expected) + "s but got " + kind + " containing " +
                          std::string(KindName(element.kind())));
}

// No error, no value: the call is undefined.
inline tl::unexpected<Error> Undefined() { return Fail(ErrorCode::kNotFound, "undefined"); }

}  // namespace contrast::policy::rego::support
