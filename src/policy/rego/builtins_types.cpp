// Type checks, type_name, to_number and the comparison operators.
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_values_support.h"

namespace contrast::policy::rego {
namespace {

using support::AddBuiltin;

void AddKindCheck(BuiltinRegistry& registry, std::string name, Kind kind) {
  AddBuiltin(registry, std::move(name), 1,
             [kind](std::span<const Value> ops) -> Result<Value> { return Value::Bool(ops[0].kind() == kind); });
}

void AddComparison(BuiltinRegistry& registry, std::string name, bool (*holds)(int)) {
  AddBuiltin(registry, std::move(name), 2, [holds](std::span<const Value> ops) -> Result<Value> {
    return Value::Bool(holds(Compare(ops[0], ops[1])));
  });
}

// Go's strconv.Quote for the ASCII subset that appears in error messages.
std::string GoQuote(std::string_view s) { return Value::String(std::string(s)).ToRegoString(); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The decimal syntax strconv.ParseFloat accepts: [+-] digits [. digits] [e [+-] digits],
// where either side of the point may be empty but not both.
bool IsDecimalFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exponent_start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == exponent_start) return false;
  }
  return i == s.size();
}

Result<Value> StringToNumber(const std::string& text) {
  constexpr std::string_view kName = "to_number";
  std::string lowered;
  for (char c : text) {
    if (lowered.empty() && (c == '+' || c == '-')) continue;
    lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (lowered == "inf" || lowered == "infinity" || lowered == "nan") {
    return support::TypeError(kName, 1, "valid number string", Value::String(text));
  }
  if (!IsDecimalFloat(text)) {
    return support::BuiltinError(kName, "strconv.ParseFloat: parsing " + GoQuote(text) + ": invalid syntax");
  }
  std::string_view literal = text;
  if (literal.front() == '+') literal.remove_prefix(1);
  // ParseFloat refuses what overflows a double (underflow just rounds to zero).
  const std::string copy(literal);
  if (std::isinf(std::strtod(copy.c_str(), nullptr))) {
    return support::BuiltinError(kName, "strconv.ParseFloat: parsing " + GoQuote(text) + ": value out of range");
  }
  // Number::Parse keeps integers and long decimals exact; it only refuses
  // ParseFloat's looser forms (".5", "1."), which a double holds well enough.
  if (auto number = Number::Parse(literal)) return Value::Num(*number);
  return Value::Num(Number::Float(std::strtod(copy.c_str(), nullptr)));
}

Result<Value> ToNumber(std::span<const Value> ops) {
  const Value& v = ops[0];
  switch (v.kind()) {
    case Kind::kNull: return Value::Int(0);
    case Kind::kBool: return Value::Int(v.as_bool() ? 1 : 0);
    case Kind::kNumber: return v;
    case Kind::kString: return StringToNumber(v.as_string());
    default: return support::TypeError("to_number", 1, "one of {null, boolean, number, string}", v);
  }
}

}  // namespace

void RegisterTypeBuiltins(BuiltinRegistry& registry) {
  AddKindCheck(registry, "is_number", Kind::kNumber);
  AddKindCheck(registry, "is_string", Kind::kString);
  AddKindCheck(registry, "is_boolean", Kind::kBool);
  AddKindCheck(registry, "is_array", Kind::kArray);
  AddKindCheck(registry, "is_set", Kind::kSet);
  AddKindCheck(registry, "is_object", Kind::kObject);
  AddKindCheck(registry, "is_null", Kind::kNull);
  AddBuiltin(registry, "type_name", 1, [](std::span<const Value> ops) -> Result<Value> {
    return Value::String(std::string(KindName(ops[0].kind())));
  });
  AddBuiltin(registry, "to_number", 1, ToNumber);
  AddComparison(registry, "equal", [](int c) { return c == 0; });
  AddComparison(registry, "neq", [](int c) { return c != 0; });
  AddComparison(registry, "lt", [](int c) { return c < 0; });
  AddComparison(registry, "lte", [](int c) { return c <= 0; });
  AddComparison(registry, "gt", [](int c) { return c > 0; });
  AddComparison(registry, "gte", [](int c) { return c >= 0; });
}

}  // namespace contrast::policy::rego
