// Built-in functions: a registry from OPA's names ("count", "regex.match")
// to implementations over Values.
//
// A builtin gets its evaluated operands and returns a value or an error:
//   - ErrorCode::kInvalidArgument: an operand of the wrong type or shape
//     (OPA's eval_type_error; message "count: operand 1 must be one of
//     {array, object, set, string} but got number");
//   - any other code: the builtin failed on a well-typed operand (OPA's
//     eval_builtin_error; "to_number: strconv.ParseFloat: ...");
//   - ErrorCode::kNotFound: no error, the call is simply undefined.
// The evaluator decides what an error means: fatal in strict mode, the
// expression undefined otherwise (the Kata agent runs non-strict).
//
// The evaluator itself implements what needs its state: print, the
// unification/assignment/membership operators, and calls of user functions.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego {

using BuiltinFunction = std::function<Result<Value>(std::span<const Value> operands)>;

struct Builtin {
  std::string name;
  int arity = 0;  // number of operands; the output is an extra optional argument
  BuiltinFunction function;
  // A relation yields several outputs (walk): `function` returns an array and
  // the evaluator iterates its elements as the alternatives.
  bool relation = false;
  // A pure string function worth remembering: the evaluator may reuse an
  // earlier result for the very same operand values (see eval.cpp).
  bool memoize = false;
};

class BuiltinRegistry {
 public:
  // Every builtin we ship. Built once; safe to share between threads.
  static const BuiltinRegistry& Default();

  void Add(Builtin builtin);
  const Builtin* Find(std::string_view name) const;
  // Names of all registered builtins, sorted (for docs and diagnostics).
  std::vector<std::string> Names() const;

 private:
  std::unordered_map<std::string, Builtin> builtins_;
};

// Registration, one function per family (each in its own builtins_*.cpp).
void RegisterStringBuiltins(BuiltinRegistry& registry);      // strings, sprintf, format_int, indexof, ...
void RegisterRegexBuiltins(BuiltinRegistry& registry);       // regex.* (RE2)
void RegisterEncodingBuiltins(BuiltinRegistry& registry);    // base64*, hex, json.*, urlquery, yaml?
void RegisterCollectionBuiltins(BuiltinRegistry& registry);  // count, object.*, array.*, sets, union, walk, ...
void RegisterNumberBuiltins(BuiltinRegistry& registry);      // arithmetic, aggregates, bits.*, numbers.range, ...
void RegisterTypeBuiltins(BuiltinRegistry& registry);        // is_*, type_name, to_number, comparison, ...
void RegisterTemplateBuiltins(BuiltinRegistry& registry);    // internal.template_string (template strings)

// Helpers for implementations: OPA's operand error messages.
// "NAME: operand N must be EXPECTED but got ACTUAL" (kInvalidArgument).
Error OperandTypeError(std::string_view builtin, int operand, std::string_view expected, const Value& actual);

}  // namespace contrast::policy::rego
