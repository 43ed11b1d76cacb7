// Arithmetic, aggregates, numbers.range and bits.* builtins.
#include <cmath>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_values_support.h"

namespace contrast::policy::rego {
namespace {

using support::AddBuiltin;
using support::BuiltinError;
using support::OperandError;
using support::TypeError;

// numbers.range materialises its whole result; beyond this it is refused
// rather than exhausting memory on a hostile operand.
constexpr int64_t kMaxRangeElements = int64_t{1} << 20;
// bits.lsh results grow with the shift; refuse shifts that would build huge integers.
constexpr int64_t kMaxShift = 4096;

Result<Number> NumberOperand(std::string_view name, std::span<const Value> ops, size_t index) {
  const Value& v = ops[index];
  if (!v.is_number()) return TypeError(name, static_cast<int>(index) + 1, "number", v);
  return v.as_number();
}

// OPA's BigIntOperand: any integer, but we only compute with those that fit int64.
Result<int64_t> IntegerOperand(std::string_view name, std::span<const Value> ops, size_t index) {
  const Value& v = ops[index];
  const int operand = static_cast<int>(index) + 1;
  if (!v.is_number()) return TypeError(name, operand, "integer", v);
  const Number& n = v.as_number();
  if (!n.is_integer()) return OperandError(name, operand, "must be integer number but got floating-point number");
  auto i = n.ToInt64();
  if (!i) return BuiltinError(name, "integer operand " + std::to_string(operand) + " is too large");
  return *i;
}

using NumberOp = Result<Number> (Number::*)(const Number&) const;

void AddArithmetic(BuiltinRegistry& registry, std::string name, NumberOp op) {
  AddBuiltin(registry, name, 2, [name, op](std::span<const Value> ops) -> Result<Value> {
    auto a = NumberOperand(name, ops, 0);
    if (!a) return tl::unexpected(a.error());
    auto b = NumberOperand(name, ops, 1);
    if (!b) return tl::unexpected(b.error());
    auto result = ((*a).*op)(*b);
    if (!result) return BuiltinError(name, result.error().message);
    return Value::Num(std::move(*result));
  });
}

Result<Value> Minus(std::span<const Value> ops) {
  const Value& a = ops[0];
  const Value& b = ops[1];
  if (a.is_number() && b.is_number()) {
    auto result = a.as_number().Subtract(b.as_number());
    if (!result) return BuiltinError("minus", result.error().message);
    return Value::Num(std::move(*result));
  }
  if (a.is_set() && b.is_set()) {
    Value::Set difference;
    const Value::Set& right = b.as_set();
    for (const Value& item : a.as_set()) {
      if (right.count(item) == 0) difference.insert(difference.end(), item);
    }
    return Value::FromSet(std::move(difference));
  }
  if (!a.is_number() && !a.is_set()) return TypeError("minus", 1, "one of {number, set}", a);
  if (b.is_number()) return TypeError("minus", 2, "set", b);
  return TypeError("minus", 2, "number", b);
}

void AddRounding(BuiltinRegistry& registry, std::string name, double (*round)(double)) {
  AddBuiltin(registry, name, 1, [name, round](std::span<const Value> ops) -> Result<Value> {
    auto n = NumberOperand(name, ops, 0);
    if (!n) return tl::unexpected(n.error());
    if (n->is_integer()) return ops[0];
    return Value::Num(Number::Float(round(n->ToDouble())));
  });
}

Result<Value> Abs(std::span<const Value> ops) {
  auto n = NumberOperand("abs", ops, 0);
  if (!n) return tl::unexpected(n.error());
  return Compare(*n, Number()) < 0 ? Value::Num(n->Negate()) : ops[0];
}

Result<Value> Range(std::string_view name, int64_t from, int64_t to, int64_t step) {
  const bool ascending = from <= to;
  // The distance may not fit int64 (from = INT64_MIN, to = INT64_MAX), so count in unsigned.
  const uint64_t distance = ascending ? static_cast<uint64_t>(to) - static_cast<uint64_t>(from)
                                      : static_cast<uint64_t>(from) - static_cast<uint64_t>(to);
  const uint64_t steps = distance / static_cast<uint64_t>(step);
  if (steps >= static_cast<uint64_t>(kMaxRangeElements)) {
    return BuiltinError(name, "range exceeds the limit of " + std::to_string(kMaxRangeElements) + " numbers");
  }
  const uint64_t count = steps + 1;
  Value::Array items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t offset = i * static_cast<uint64_t>(step);
    const uint64_t raw = ascending ? static_cast<uint64_t>(from) + offset : static_cast<uint64_t>(from) - offset;
    items.push_back(Value::Int(static_cast<int64_t>(raw)));
  }
  return Value::FromArray(std::move(items));
}

Result<Value> NumbersRange(std::span<const Value> ops) {
  auto from = IntegerOperand("numbers.range", ops, 0);
  if (!from) return tl::unexpected(from.error());
  auto to = IntegerOperand("numbers.range", ops, 1);
  if (!to) return tl::unexpected(to.error());
  return Range("numbers.range", *from, *to, 1);
}

Result<Value> NumbersRangeStep(std::span<const Value> ops) {
  constexpr std::string_view kName = "numbers.range_step";
  auto from = IntegerOperand(kName, ops, 0);
  if (!from) return tl::unexpected(from.error());
  auto to = IntegerOperand(kName, ops, 1);
  if (!to) return tl::unexpected(to.error());
  auto step = IntegerOperand(kName, ops, 2);
  if (!step) return tl::unexpected(step.error());
  if (*step <= 0) return BuiltinError(kName, "step must be a positive integer");
  return Range(kName, *from, *to, *step);
}

// The elements of an array or set operand of an aggregate.
template <typename Fn>
Result<Value> Aggregate(std::string_view name, const Value& collection, Fn&& fn) {
  if (collection.is_array()) return fn(collection.as_array());
  if (collection.is_set()) return fn(collection.as_set());
  return TypeError(name, 1, "one of {set, array}", collection);
}

void AddFold(BuiltinRegistry& registry, std::string name, int64_t initial, NumberOp op) {
  AddBuiltin(registry, name, 1, [name, initial, op](std::span<const Value> ops) -> Result<Value> {
    return Aggregate(name, ops[0], [&](const auto& items) -> Result<Value> {
      Number total = Number::Int(initial);
      for (const Value& item : items) {
        if (!item.is_number()) return support::ElementError(name, 1, ops[0], "number", item);
        auto next = (total.*op)(item.as_number());
        if (!next) return BuiltinError(name, next.error().message);
        total = std::move(*next);
      }
      return Value::Num(std::move(total));
    });
  });
}

void AddExtreme(BuiltinRegistry& registry, std::string name, bool want_max) {
  AddBuiltin(registry, name, 1, [name, want_max](std::span<const Value> ops) -> Result<Value> {
    return Aggregate(name, ops[0], [&](const auto& items) -> Result<Value> {
      if (items.empty()) return support::Undefined();
      const Value* best = nullptr;
      for (const Value& item : items) {
        if (best == nullptr || (want_max ? Compare(*best, item) < 0 : Compare(item, *best) < 0)) best = &item;
      }
      return *best;
    });
  });
}

void AddBitwise(BuiltinRegistry& registry, std::string name, int64_t (*op)(int64_t, int64_t)) {
  AddBuiltin(registry, name, 2, [name, op](std::span<const Value> ops) -> Result<Value> {
    auto a = IntegerOperand(name, ops, 0);
    if (!a) return tl::unexpected(a.error());
    auto b = IntegerOperand(name, ops, 1);
    if (!b) return tl::unexpected(b.error());
    return Value::Int(op(*a, *b));
  });
}

Result<Value> BitsNegate(std::span<const Value> ops) {
  auto a = IntegerOperand("bits.negate", ops, 0);
  if (!a) return tl::unexpected(a.error());
  return Value::Int(~*a);
}

Result<int64_t> ShiftOperand(std::string_view name, std::span<const Value> ops) {
  auto shift = IntegerOperand(name, ops, 1);
  if (!shift) return shift;
  if (*shift < 0) return OperandError(name, 2, "must be an unsigned integer number but got a negative integer");
  return shift;
}

Result<Value> BitsShiftLeft(std::span<const Value> ops) {
  constexpr std::string_view kName = "bits.lsh";
  auto a = IntegerOperand(kName, ops, 0);
  if (!a) return tl::unexpected(a.error());
  auto shift = ShiftOperand(kName, ops);
  if (!shift) return tl::unexpected(shift.error());
  if (*a == 0) return Value::Int(0);
  if (*shift > kMaxShift) return BuiltinError(kName, "shift of " + std::to_string(*shift) + " bits is too large");
  // Shifting is multiplying by a power of two; Number promotes to big integers exactly.
  Number result = Number::Int(*a);
  for (int64_t left = *shift; left > 0; left -= 62) {
    auto next = result.Multiply(Number::Int(int64_t{1} << std::min<int64_t>(left, 62)));
    if (!next) return BuiltinError(kName, next.error().message);
    result = std::move(*next);
  }
  return Value::Num(std::move(result));
}

Result<Value> BitsShiftRight(std::span<const Value> ops) {
  constexpr std::string_view kName = "bits.rsh";
  auto a = IntegerOperand(kName, ops, 0);
  if (!a) return tl::unexpected(a.error());
  auto shift = ShiftOperand(kName, ops);
  if (!shift) return tl::unexpected(shift.error());
  // Arithmetic shift: negative numbers round towards minus infinity, as Go's big.Int.Rsh.
  if (*shift >= 63) return Value::Int(*a < 0 ? -1 : 0);
  return Value::Int(*a >> *shift);
}

}  // namespace

void RegisterNumberBuiltins(BuiltinRegistry& registry) {
  AddArithmetic(registry, "plus", &Number::Add);
  AddBuiltin(registry, "minus", 2, Minus);
  AddArithmetic(registry, "mul", &Number::Multiply);
  AddArithmetic(registry, "div", &Number::Divide);
  AddArithmetic(registry, "rem", &Number::Remainder);
  AddBuiltin(registry, "abs", 1, Abs);
  AddRounding(registry, "round", [](double d) { return std::round(d); });
  AddRounding(registry, "ceil", [](double d) { return std::ceil(d); });
  AddRounding(registry, "floor", [](double d) { return std::floor(d); });
  AddBuiltin(registry, "numbers.range", 2, NumbersRange);
  AddBuiltin(registry, "numbers.range_step", 3, NumbersRangeStep);
  AddFold(registry, "sum", 0, &Number::Add);
  AddFold(registry, "product", 1, &Number::Multiply);
  AddExtreme(registry, "max", true);
  AddExtreme(registry, "min", false);
  AddBitwise(registry, "bits.and", [](int64_t a, int64_t b) { return a & b; });
  AddBitwise(registry, "bits.or", [](int64_t a, int64_t b) { return a | b; });
  AddBitwise(registry, "bits.xor", [](int64_t a, int64_t b) { return a ^ b; });
  AddBuiltin(registry, "bits.negate", 1, BitsNegate);
  AddBuiltin(registry, "bits.lsh", 2, BitsShiftLeft);
  AddBuiltin(registry, "bits.rsh", 2, BitsShiftRight);
}

}  // namespace contrast::policy::rego
