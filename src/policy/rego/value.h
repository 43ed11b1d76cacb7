// Rego values: null, booleans, numbers, strings, arrays, sets and objects,
// with OPA's total order and equality.
//
// A Value is an immutable handle to shared data: copying one is cheap (one
// reference count), so the policy's data document, the input and the values
// an evaluation produces can share structure freely. Values are safe to read
// from many threads at once.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace contrast::policy::rego {

// A Rego number: an exact integer of any size, or a binary floating-point
// number. Integers stay exact through +, -, * and % (OPA uses arbitrary
// precision); a division that is not exact, or any operation with a float,
// gives a float. Numbers compare by mathematical value: 1 == 1.0.
class Number {
 public:
  Number();  // 0
  static Number Int(int64_t value);
  static Number Float(double value);
  // A JSON/Rego number literal ("12", "-3", "1.5", "1e3", "123456789012345678901234567890").
  // Integer literals of any size are exact; a literal with a fraction or an
  // exponent is an integer when its value is integral and small enough to be
  // exact (as OPA does for "1e3" == 1000), else a float.
  static Result<Number> Parse(std::string_view literal);

  bool is_integer() const;
  // The value as int64 when it is an integer that fits.
  std::optional<int64_t> ToInt64() const;
  double ToDouble() const;
  // JSON text: integers in full ("123456789012345678901234567890"), floats
  // in the shortest form that reads back to the same double ("0.1", "1e+100").
  std::string ToString() const;

  // Arithmetic as OPA does it. Errors (division by zero, modulo of floats)
  // come back as kInvalidArgument with OPA's message ("divide by zero").
  Result<Number> Add(const Number& other) const;
  Result<Number> Subtract(const Number& other) const;
  Result<Number> Multiply(const Number& other) const;
  Result<Number> Divide(const Number& other) const;
  Result<Number> Remainder(const Number& other) const;
  Number Negate() const;

  friend int Compare(const Number& a, const Number& b);  // <0, 0, >0
  friend bool operator==(const Number& a, const Number& b) { return Compare(a, b) == 0; }
  friend bool operator<(const Number& a, const Number& b) { return Compare(a, b) < 0; }
  size_t Hash() const;

  struct Rep;  // private representation (small int, big int, double)

 private:
  std::shared_ptr<const Rep> rep_;
};

enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject, kSet };

// OPA's type name: "null", "boolean", "number", "string", "array", "object", "set".
std::string_view KindName(Kind kind);

class Value;

// Compare's order, for object keys. A string_view finds a string key without
// building a Value, and compares only strings on the way.
struct ValueLess {
  using is_transparent = void;
  bool operator()(const Value& a, const Value& b) const;
  bool operator()(const Value& a, std::string_view b) const;
  bool operator()(std::string_view a, const Value& b) const;
};

class Value {
 public:
  using Array = std::vector<Value>;
  using Set = std::set<Value>;                       // ordered by Compare
  using Object = std::map<Value, Value, ValueLess>;  // keys ordered by Compare; any value can be a key

  Value();  // null
  static Value Null();
  static Value Bool(bool b);
  static Value Num(Number n);
  static Value Int(int64_t i);
  static Value String(std::string s);
  static Value FromArray(Array items);
  static Value FromSet(Set items);
  static Value FromObject(Object items);

  Kind kind() const;
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_number() const { return kind() == Kind::kNumber; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_object() const { return kind() == Kind::kObject; }
  bool is_set() const { return kind() == Kind::kSet; }

  // Accessors; calling the wrong one is a programming error (asserts in
  // debug builds, returns an empty/zero value otherwise).
  bool as_bool() const;
  const Number& as_number() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Set& as_set() const;
  const Object& as_object() const;

  // The shared data this handle points at: two values with the same
  // identity are equal (the converse does not hold). Null for null.
  const void* identity() const { return rep_.get(); }

  // Member lookup for references: array index (integral number), object key,
  // set membership (returns the element). nullptr when absent or when this
  // value cannot be indexed.
  const Value* Find(const Value& key) const;
  // Object member by string key (shortcut for Find(Value::String(key))).
  const Value* Get(std::string_view key) const;

  // OPA's order: null < booleans (false < true) < numbers < strings < arrays
  // (element-wise, then length) < objects (by sorted key/value pairs) < sets
  // (by sorted elements).
  friend int Compare(const Value& a, const Value& b);
  // Compare(a, b) == 0, without ordering what differs (strings of other
  // lengths, collections of other sizes are unequal at once).
  friend bool Equal(const Value& a, const Value& b);
  friend bool operator==(const Value& a, const Value& b) { return Equal(a, b); }
  friend bool operator!=(const Value& a, const Value& b) { return !Equal(a, b); }
  friend bool operator<(const Value& a, const Value& b) { return Compare(a, b) < 0; }
  size_t Hash() const;

  // JSON text to value. Integers of any size stay exact. Duplicate object
  // keys, invalid UTF-8 and nesting deeper than `max_depth` are errors
  // (kParse, with the byte offset).
  static Result<Value> FromJson(std::string_view json, size_t max_depth = 512);
  // As FromJson, but a repeated object key replaces the earlier member, as
  // Go's encoding/json does (json.unmarshal); for policy inputs only.
  static Result<Value> FromJsonLastKeyWins(std::string_view json, size_t max_depth = 512);
  // Value to JSON text: sets become sorted arrays; object keys that are not
  // strings are rendered as their JSON text (as OPA does). Compact, keys sorted.
  std::string ToJson() const;
  // Indented JSON (2 spaces), for CLI output.
  std::string ToPrettyJson() const;
  // Rego term syntax, as `print` and `sprintf("%v")` show values: strings
  // unquoted at the top level only when `bare_strings`, sets as {1, 2},
  // the empty set as set().
  std::string ToRegoString(bool bare_strings = false) const;
  // As ToRegoString, appending to `out`.
  void AppendRego(std::string& out, bool bare_strings = false) const;

  struct Rep;  // private

 private:
  explicit Value(std::shared_ptr<const Rep> rep);
  static const std::shared_ptr<const Rep>& BoolRep(bool b);
  static const Number& EmptyNumber();
  static const std::string& EmptyString();
  static const Array& EmptyArray();
  static const Set& EmptySet();
  static const Object& EmptyObject();
  std::shared_ptr<const Rep> rep_;
};

// Defined here so that the accessors the evaluator calls on every step
// inline. The variant's alternatives are in the order of Kind, so index()
// is the kind; a Value without a Rep is null.
struct Value::Rep {
  template <typename T>
  explicit Rep(T&& value) : data(std::forward<T>(value)) {}

  std::variant<std::monostate, bool, Number, std::string, Array, Object, Set> data;
  // Hash of a collection, computed on first use (0: not yet). Collections
  // such as the policy's data document are immutable and hashed repeatedly.
  mutable std::atomic<size_t> hash{0};
};

inline Value::Value() = default;
inline Value Value::Null() { return Value(); }
inline Value Value::Bool(bool b) { return Value(BoolRep(b)); }
inline Kind Value::kind() const { return rep_ ? static_cast<Kind>(rep_->data.index()) : Kind::kNull; }

inline bool Value::as_bool() const {
  assert(is_bool());
  const bool* b = rep_ ? std::get_if<bool>(&rep_->data) : nullptr;
  return b != nullptr && *b;
}

// The accessors of a wrong kind return an empty value (release builds); the
// empty values live out of line so that the hot path has no static guard.
inline const Number& Value::as_number() const {
  assert(is_number());
  const Number* n = rep_ ? std::get_if<Number>(&rep_->data) : nullptr;
  return n != nullptr ? *n : EmptyNumber();
}

inline const std::string& Value::as_string() const {
  assert(is_string());
  const std::string* s = rep_ ? std::get_if<std::string>(&rep_->data) : nullptr;
  return s != nullptr ? *s : EmptyString();
}

inline const Value::Array& Value::as_array() const {
  assert(is_array());
  const Array* a = rep_ ? std::get_if<Array>(&rep_->data) : nullptr;
  return a != nullptr ? *a : EmptyArray();
}

inline const Value::Set& Value::as_set() const {
  assert(is_set());
  const Set* s = rep_ ? std::get_if<Set>(&rep_->data) : nullptr;
  return s != nullptr ? *s : EmptySet();
}

inline const Value::Object& Value::as_object() const {
  assert(is_object());
  const Object* o = rep_ ? std::get_if<Object>(&rep_->data) : nullptr;
  return o != nullptr ? *o : EmptyObject();
}

namespace detail {
// a < b bytewise. Object keys mostly differ in their first byte: decide
// those without a call to memcmp.
inline bool StringLess(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0]) {
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  }
  return a < b;
}
}  // namespace detail

// Writes an array, set or object in Rego syntax ([1, 2], {1, 2}, set(),
// {"k": 1}), each element, key and member through `element(out, v)`.
// Value::AppendRego writes elements recursively; print rendering reuses the
// text of large elements it has written before.
template <typename Element>
void AppendRegoCollection(std::string& out, const Value& value, Element&& element) {
  const char* separator = "";
  switch (value.kind()) {
    case Kind::kArray:
      out += '[';
      for (const Value& item : value.as_array()) {
        out += separator;
        separator = ", ";
        element(out, item);
      }
      out += ']';
      return;
    case Kind::kSet:
      if (value.as_set().empty()) {
        out += "set()";
        return;
      }
      out += '{';
      for (const Value& item : value.as_set()) {
        out += separator;
        separator = ", ";
        element(out, item);
      }
      out += '}';
      return;
    case Kind::kObject:
      out += '{';
      for (const auto& [key, member] : value.as_object()) {
        out += separator;
        separator = ", ";
        element(out, key);
        out += ": ";
        element(out, member);
      }
      out += '}';
      return;
    default: return;
  }
}

// Strings order after null, booleans and numbers and before the collections.
inline bool ValueLess::operator()(const Value& a, const Value& b) const { return Compare(a, b) < 0; }
inline bool ValueLess::operator()(const Value& a, std::string_view b) const {
  return a.kind() == Kind::kString ? detail::StringLess(a.as_string(), b) : a.kind() < Kind::kString;
}
inline bool ValueLess::operator()(std::string_view a, const Value& b) const {
  return b.kind() == Kind::kString ? detail::StringLess(a, b.as_string()) : b.kind() > Kind::kString;
}

}  // namespace contrast::policy::rego
