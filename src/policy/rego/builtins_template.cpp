// internal.template_string: the builtin that template strings (`$"a{x}b"`)
// are parsed into. Its operand is an array of the template's pieces: strings
// and other scalars are rendered as they are, and each embedded expression
// arrives as a set of its values, so an undefined expression (empty set)
// renders as "<undefined>" instead of making the whole string undefined.
#include <string>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_values_support.h"

namespace contrast::policy::rego {
namespace {

constexpr std::string_view kName = "internal.template_string";

// Strings bare, everything else in Rego syntax (`["a", "b"]`, `set()`).
void Render(std::string& out, const Value& value) {
  if (value.is_string()) {
    out += value.as_string();
  } else {
    out += value.ToRegoString();
  }
}

Result<Value> TemplateString(std::span<const Value> operands) {
  const Value& parts = operands[0];
  if (!parts.is_array()) return support::TypeError(kName, 1, "array", parts);
  std::string out;
  for (const Value& part : parts.as_array()) {
    switch (part.kind()) {
      case Kind::kSet: {
        const Value::Set& values = part.as_set();
        if (values.empty()) {
          out += "<undefined>";
        } else if (values.size() == 1) {
          Render(out, *values.begin());
        } else {
          return support::BuiltinError(kName, "template-strings must not produce multiple outputs");
        }
        break;
      }
      case Kind::kArray:
      case Kind::kObject:
        // The parser only passes scalars and sets; anything else is a caller
        // using the internal builtin by hand.
        return support::OperandError(kName, 1, "illegal argument type: " + std::string(KindName(part.kind())));
      default: Render(out, part); break;
    }
  }
  return Value::String(std::move(out));
}

}  // namespace

void RegisterTemplateBuiltins(BuiltinRegistry& registry) {
  support::AddBuiltin(registry, std::string(kName), 1, TemplateString);
}

}  // namespace contrast::policy::rego
