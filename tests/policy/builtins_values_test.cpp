// The collection, number and type builtins against OPA's results and errors.
#include "policy/rego/builtins.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace contrast::policy::rego {
namespace {

Value J(std::string_view json) {
  auto v = Value::FromJson(json);
  EXPECT_TRUE(v.has_value()) << json;
  return v ? *v : Value();
}

Value SetOf(std::initializer_list<Value> items) { return Value::FromSet(Value::Set(items)); }

Result<Value> Call(std::string_view name, std::vector<Value> operands) {
  const Builtin* builtin = BuiltinRegistry::Default().Find(name);
  EXPECT_NE(builtin, nullptr) << name;
  if (builtin == nullptr) return Fail(ErrorCode::kInternal, "no builtin");
  EXPECT_EQ(static_cast<size_t>(builtin->arity), operands.size()) << name;
  return builtin->function(operands);
}

// Calls with operands given as JSON texts and returns the result as JSON ("<undefined>" / "error: ...").
std::string Eval(std::string_view name, std::initializer_list<std::string_view> json_operands) {
  std::vector<Value> operands;
  for (std::string_view text : json_operands) operands.push_back(J(text));
  auto result = Call(name, operands);
  if (result) return result->ToJson();
  if (result.error().code == ErrorCode::kNotFound) return "<undefined>";
  return "error: " + result.error().message;
}

void ExpectTypeError(std::string_view name, std::vector<Value> operands, std::string_view message) {
  auto result = Call(name, std::move(operands));
  ASSERT_FALSE(result.has_value()) << name;
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << result.error().message;
  EXPECT_EQ(result.error().message, message);
}

void ExpectBuiltinError(std::string_view name, std::vector<Value> operands, std::string_view message) {
  auto result = Call(name, std::move(operands));
  ASSERT_FALSE(result.has_value()) << name;
  EXPECT_EQ(result.error().code, ErrorCode::kFailedPrecondition) << result.error().message;
  EXPECT_EQ(result.error().message, message);
}

TEST(BuiltinRegistryTest, AddFindNames) {
  BuiltinRegistry registry;
  registry.Add(Builtin{"b", 1, [](std::span<const Value> ops) -> Result<Value> { return ops[0]; }, false});
  registry.Add(Builtin{"a", 0, [](std::span<const Value>) -> Result<Value> { return Value::Int(1); }, false});
  ASSERT_NE(registry.Find("a"), nullptr);
  EXPECT_EQ(registry.Find("a")->arity, 0);
  EXPECT_EQ(registry.Find("c"), nullptr);
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"a", "b"}));
}

TEST(BuiltinRegistryTest, DefaultHasEveryFamilyOnce) {
  const BuiltinRegistry& registry = BuiltinRegistry::Default();
  EXPECT_EQ(&registry, &BuiltinRegistry::Default());
  for (std::string_view name : {"count", "object.get", "json.patch", "walk", "and", "or", "plus", "minus", "bits.rsh",
                                "numbers.range_step", "is_null", "to_number", "gte"}) {
    EXPECT_NE(registry.Find(name), nullptr) << name;
  }
  EXPECT_TRUE(registry.Find("walk")->relation);
  EXPECT_FALSE(registry.Find("count")->relation);
  auto names = registry.Names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(BuiltinRegistryTest, OperandTypeErrorMessage) {
  Error e = OperandTypeError("count", 1, "one of {array, object, set, string}", Value::Int(1));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message, "count: operand 1 must be one of {array, object, set, string} but got number");
}

TEST(BuiltinRegistryTest, WrongArityIsAnErrorNotACrash) {
  const Builtin* count = BuiltinRegistry::Default().Find("count");
  ASSERT_NE(count, nullptr);
  auto result = count->function({});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

TEST(BuiltinRegistryTest, EveryOperandMixIsAResultOrATypedError) {
  BuiltinRegistry registry;
  RegisterCollectionBuiltins(registry);
  RegisterNumberBuiltins(registry);
  RegisterTypeBuiltins(registry);
  const std::vector<Value> palette = {
      Value(),
      Value::Bool(true),
      Value::Int(0),
      Value::Int(-3),
      Value::Int(INT64_MIN),
      J("123456789012345678901234567890"),
      J("2.5"),
      J("1e400"),
      Value::String("a/b"),
      J(R"([1, "x", [2], {"op": "add", "path": "/a", "value": 1}])"),
      J(R"({"a": {"b": [1, 2]}, "c": null})"),
      SetOf({Value::Int(1), SetOf({Value::Int(2)}), Value::String("a")}),
  };
  size_t calls = 0;
  for (const std::string& name : registry.Names()) {
    const Builtin* builtin = registry.Find(name);
    ASSERT_LE(builtin->arity, 3) << name;
    std::vector<size_t> index(static_cast<size_t>(builtin->arity), 0);
    for (;;) {
      std::vector<Value> operands;
      for (size_t i : index) operands.push_back(palette[i]);
      auto result = builtin->function(operands);
      ++calls;
      if (!result) {
        const ErrorCode code = result.error().code;
        EXPECT_TRUE(code == ErrorCode::kInvalidArgument || code == ErrorCode::kFailedPrecondition ||
                    code == ErrorCode::kNotFound)
            << name << ": " << result.error().message;
        if (code != ErrorCode::kNotFound) {
          EXPECT_EQ(result.error().message.rfind(name + ": ", 0), 0u) << name;
        }
      }
      size_t k = 0;
      while (k < index.size() && ++index[k] == palette.size()) index[k++] = 0;
      if (k == index.size()) break;
    }
  }
  EXPECT_GT(calls, 5000u);
}

// --- collections ------------------------------------------------------------

TEST(CollectionBuiltinsTest, Count) {
  EXPECT_EQ(Eval("count", {"[1, 2, 3]"}), "3");
  EXPECT_EQ(Eval("count", {R"({"a": 1})"}), "1");
  EXPECT_EQ(Eval("count", {R"("héllo")"}), "5");
  EXPECT_EQ(Call("count", {SetOf({Value::Int(1), Value::Int(2)})})->ToJson(), "2");
  ExpectTypeError("count", {Value::Int(1)},
                  "count: operand 1 must be one of {array, object, set, string} but got number");
}

TEST(CollectionBuiltinsTest, ObjectGet) {
  EXPECT_EQ(Eval("object.get", {R"({"a": 1})", R"("a")", "0"}), "1");
  EXPECT_EQ(Eval("object.get", {R"({"a": 1})", R"("b")", "0"}), "0");
  EXPECT_EQ(Eval("object.get", {R"({"a": {"b": [10, {"c": true}]}})", R"(["a", "b", 1, "c"])", "false"}), "true");
  EXPECT_EQ(Eval("object.get", {R"({"a": {"b": 1}})", R"(["a", "x"])", R"("d")"}), R"("d")");
  EXPECT_EQ(Eval("object.get", {R"({"a": 1})", "[]", "0"}), R"({"a":1})");
  ExpectTypeError("object.get", {Value::String("x"), Value::String("a"), Value()},
                  "object.get: operand 1 must be object but got string");
}

TEST(CollectionBuiltinsTest, ObjectKeysRemoveFilter) {
  EXPECT_EQ(Eval("object.keys", {R"({"b": 1, "a": 2})"}), R"(["a","b"])");
  EXPECT_TRUE(Call("object.keys", {J("{}")})->is_set());
  EXPECT_EQ(Eval("object.remove", {R"({"a": 1, "b": 2, "c": 3})", R"(["a", "c"])"}), R"({"b":2})");
  EXPECT_EQ(Eval("object.remove", {R"({"a": 1, "b": 2})", R"({"b": 0})"}), R"({"a":1})");
  EXPECT_EQ(Eval("object.filter", {R"({"a": 1, "b": 2, "c": 3})", R"(["a", "c", "z"])"}), R"({"a":1,"c":3})");
  EXPECT_EQ(Call("object.filter", {J(R"({"a": 1, "b": 2})"), SetOf({Value::String("b")})})->ToJson(), R"({"b":2})");
  ExpectTypeError("object.remove", {J("{}"), Value::Int(1)},
                  "object.remove: operand 2 must be one of {object, set, array} but got number");
}

TEST(CollectionBuiltinsTest, ObjectUnion) {
  EXPECT_EQ(Eval("object.union", {R"({"a": 1, "b": {"c": 2, "d": 3}})", R"({"a": 9, "b": {"c": 4}, "e": 5})"}),
            R"({"a":9,"b":{"c":4,"d":3},"e":5})");
  EXPECT_EQ(Eval("object.union", {R"({"a": {"b": 1}})", R"({"a": 2})"}), R"({"a":2})");
  EXPECT_EQ(Eval("object.union_n", {R"([{"a": {"b": 2}}, {"a": 4}, {"a": {"c": 3}}])"}), R"({"a":{"c":3}})");
  EXPECT_EQ(Eval("object.union_n", {R"([{"a": {"b": 2}}, {"a": {"c": 3}}])"}), R"({"a":{"b":2,"c":3}})");
  EXPECT_EQ(Eval("object.union_n", {"[]"}), "{}");
  ExpectTypeError("object.union_n", {J(R"([{}, 1])")},
                  "object.union_n: operand 1 must be array of objects but got array containing number");
}

TEST(CollectionBuiltinsTest, ObjectSubset) {
  EXPECT_EQ(Eval("object.subset", {R"({"a": {"b": 1, "c": [1, 2, 3]}, "d": 1})", R"({"a": {"c": [2, 3]}})"}), "true");
  EXPECT_EQ(Eval("object.subset", {R"({"a": {"c": [1, 2, 3]}})", R"({"a": {"c": [1, 3]}})"}), "false");
  EXPECT_EQ(Eval("object.subset", {R"({"a": 1})", R"({"a": 1, "b": 2})"}), "false");
  EXPECT_EQ(Eval("object.subset", {"[1, 2, 3, 4]", "[2, 3]"}), "true");
  EXPECT_EQ(Eval("object.subset", {"[1, 2, 3]", "[]"}), "true");
  EXPECT_EQ(Call("object.subset", {J("[1, 2, 3]"), SetOf({Value::Int(3), Value::Int(1)})})->ToJson(), "true");
  EXPECT_EQ(Call("object.subset", {SetOf({Value::Int(1)}), SetOf({Value::Int(1), Value::Int(2)})})->ToJson(), "false");
  ExpectTypeError("object.subset", {J("{}"), J("[]")},
                  "object.subset: both arguments object.subset must be of the same type or array and set");
}

TEST(CollectionBuiltinsTest, JsonFilterAndRemove) {
  const std::string_view doc = R"({"a": {"b": 1, "c": [10, 20, 30], "d": 2}, "e/f": 3, "g": 4})";
  EXPECT_EQ(Eval("json.filter", {doc, R"(["a/b", "a/c/1", "e~1f"])"}), R"({"a":{"b":1,"c":[20]},"e/f":3})");
  EXPECT_EQ(Eval("json.filter", {doc, R"([["a", "d"], "g"])"}), R"({"a":{"d":2},"g":4})");
  EXPECT_EQ(Eval("json.filter", {doc, R"(["a", "a/b"])"}), R"({"a":{"b":1,"c":[10,20,30],"d":2}})");
  EXPECT_EQ(Eval("json.remove", {doc, R"(["a/b", "a/c/0", "g"])"}), R"({"a":{"c":[20,30],"d":2},"e/f":3})");
  EXPECT_EQ(Eval("json.remove", {doc, "[]"}), J(doc).ToJson());
  ExpectTypeError("json.filter", {J("{}"), Value::String("a")},
                  "json.filter: operand 2 must be one of {set, array} but got string");
  ExpectTypeError("json.remove", {J("{}"), J("[1]")},
                  "json.remove: operand 2 must be one of {set, array} containing string paths or array of path "
                  "segments but got number");
}

TEST(CollectionBuiltinsTest, JsonPatch) {
  EXPECT_EQ(Eval("json.patch", {R"({"a": {"b": 1}})", R"([{"op": "add", "path": "/a/c", "value": 2}])"}),
            R"({"a":{"b":1,"c":2}})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": [1, 3]})", R"([{"op": "add", "path": "/a/1", "value": 2},
                                                      {"op": "add", "path": "/a/-", "value": 4}])"}),
            R"({"a":[1,2,3,4]})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1, "b": 2})", R"([{"op": "remove", "path": "/a"}])"}), R"({"b":2})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": [1, 2, 3]})", R"([{"op": "replace", "path": "/a/1", "value": 9}])"}),
            R"({"a":[1,9,3]})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": {"x": 1}, "b": {}})", R"([{"op": "move", "from": "/a/x", "path": "/b/y"}])"}),
            R"({"a":{},"b":{"y":1}})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "copy", "from": "/a", "path": "/b"}])"}), R"({"a":1,"b":1})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "test", "path": "/a", "value": 1}])"}), R"({"a":1})");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "test", "path": "/a", "value": 2}])"}), "<undefined>");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "remove", "path": "/missing"}])"}), "<undefined>");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "frobnicate", "path": "/a"}])"}), "<undefined>");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "add", "path": "", "value": [1]}])"}), "[1]");
  EXPECT_EQ(Eval("json.patch", {R"({"a": 1})", R"([{"op": "add", "path": ["b", "c"], "value": 1}])"}), "<undefined>");
  EXPECT_EQ(Eval("json.patch", {"[1]", R"([{"op": "add", "path": "/5", "value": 1}])"}), "<undefined>");
  ExpectTypeError("json.patch", {J("{}"), J("{}")}, "json.patch: operand 2 must be array but got object");
}

TEST(CollectionBuiltinsTest, Arrays) {
  EXPECT_EQ(Eval("array.concat", {"[1, 2]", "[3]"}), "[1,2,3]");
  EXPECT_EQ(Eval("array.slice", {"[1, 2, 3, 4]", "1", "3"}), "[2,3]");
  EXPECT_EQ(Eval("array.slice", {"[1, 2, 3, 4]", "-5", "100"}), "[1,2,3,4]");
  EXPECT_EQ(Eval("array.slice", {"[1, 2, 3, 4]", "3", "1"}), "[]");
  EXPECT_EQ(Eval("array.reverse", {"[1, 2, 3]"}), "[3,2,1]");
  ExpectTypeError("array.concat", {J("[]"), Value::String("x")},
                  "array.concat: operand 2 must be array but got string");
  ExpectTypeError("array.slice", {J("[]"), J("1.5"), J("2")},
                  "array.slice: operand 2 must be integer number but got floating-point number");
}

TEST(CollectionBuiltinsTest, SetsAndSort) {
  Value a = SetOf({Value::Int(1), Value::Int(2), Value::Int(3)});
  Value b = SetOf({Value::Int(2), Value::Int(3), Value::Int(4)});
  EXPECT_EQ(Call("and", {a, b})->ToRegoString(), "{2, 3}");
  EXPECT_EQ(Call("or", {a, b})->ToRegoString(), "{1, 2, 3, 4}");
  EXPECT_EQ(Call("intersection", {SetOf({a, b})})->ToRegoString(), "{2, 3}");
  EXPECT_EQ(Call("union", {SetOf({a, b})})->ToRegoString(), "{1, 2, 3, 4}");
  EXPECT_EQ(Call("union", {SetOf({})})->ToRegoString(), "set()");
  EXPECT_EQ(Call("intersection", {SetOf({})})->ToRegoString(), "set()");
  ExpectTypeError("and", {a, J("[1]")}, "and: operand 2 must be set but got array");
  ExpectTypeError("union", {SetOf({Value::Int(1)})}, "union: operand 1 must be set but got number");
  EXPECT_EQ(Eval("sort", {R"([3, "a", 1, null, [1], {"a": 1}, false])"}), R"([null,false,1,3,"a",[1],{"a":1}])");
  EXPECT_EQ(Call("sort", {b})->ToJson(), "[2,3,4]");
  ExpectTypeError("sort", {J("{}")}, "sort: operand 1 must be one of {set, array} but got object");
}

TEST(CollectionBuiltinsTest, WalkListsEveryNodeWithItsPath) {
  EXPECT_EQ(
      Eval("walk", {R"({"a": [1, {"b": true}]})"}),
      R"([[[],{"a":[1,{"b":true}]}],[["a"],[1,{"b":true}]],[["a",0],1],[["a",1],{"b":true}],[["a",1,"b"],true]])");
  EXPECT_EQ(Call("walk", {SetOf({Value::String("x")})})->ToJson(), R"([[[],["x"]],[["x"],"x"]])");
}

// --- numbers ----------------------------------------------------------------

TEST(NumberBuiltinsTest, Arithmetic) {
  EXPECT_EQ(Eval("plus", {"1", "2"}), "3");
  EXPECT_EQ(Eval("plus", {"9223372036854775807", "1"}), "9223372036854775808");
  EXPECT_EQ(Eval("plus", {"0.1", "0.2"}), "0.30000000000000004");
  EXPECT_EQ(Eval("minus", {"5", "7"}), "-2");
  EXPECT_EQ(Eval("mul", {"123456789012345678901234567890", "10"}), "1234567890123456789012345678900");
  EXPECT_EQ(Eval("div", {"10", "4"}), "2.5");
  EXPECT_EQ(Eval("div", {"10", "5"}), "2");
  EXPECT_EQ(Eval("rem", {"10", "3"}), "1");
  EXPECT_EQ(Eval("rem", {"-10", "3"}), "-1");
  ExpectBuiltinError("div", {Value::Int(1), Value::Int(0)}, "div: divide by zero");
  ExpectBuiltinError("rem", {Value::Int(1), Value::Int(0)}, "rem: modulo by zero");
  ExpectBuiltinError("rem", {J("1.5"), Value::Int(1)}, "rem: modulo on floating-point number");
  ExpectTypeError("plus", {Value::Int(1), Value::String("a")}, "plus: operand 2 must be number but got string");
}

TEST(NumberBuiltinsTest, MinusIsAlsoSetDifference) {
  Value a = SetOf({Value::Int(1), Value::Int(2), Value::Int(3)});
  Value b = SetOf({Value::Int(2)});
  EXPECT_EQ(Call("minus", {a, b})->ToRegoString(), "{1, 3}");
  ExpectTypeError("minus", {Value::String("a"), b}, "minus: operand 1 must be one of {number, set} but got string");
  ExpectTypeError("minus", {a, Value::Int(1)}, "minus: operand 2 must be set but got number");
  ExpectTypeError("minus", {Value::Int(1), a}, "minus: operand 2 must be number but got set");
}

TEST(NumberBuiltinsTest, RoundingAndAbs) {
  EXPECT_EQ(Eval("abs", {"-3"}), "3");
  EXPECT_EQ(Eval("abs", {"-3.5"}), "3.5");
  EXPECT_EQ(Eval("abs", {"-9223372036854775808"}), "9223372036854775808");
  EXPECT_EQ(Eval("round", {"2.5"}), "3");
  EXPECT_EQ(Eval("round", {"-2.5"}), "-3");
  EXPECT_EQ(Eval("round", {"2.4"}), "2");
  EXPECT_EQ(Eval("ceil", {"1.2"}), "2");
  EXPECT_EQ(Eval("ceil", {"-1.2"}), "-1");
  EXPECT_EQ(Eval("floor", {"-1.2"}), "-2");
  EXPECT_EQ(Eval("floor", {"7"}), "7");
  ExpectTypeError("round", {Value::String("1")}, "round: operand 1 must be number but got string");
}

TEST(NumberBuiltinsTest, Ranges) {
  EXPECT_EQ(Eval("numbers.range", {"1", "4"}), "[1,2,3,4]");
  EXPECT_EQ(Eval("numbers.range", {"2", "-1"}), "[2,1,0,-1]");
  EXPECT_EQ(Eval("numbers.range", {"3", "3"}), "[3]");
  EXPECT_EQ(Eval("numbers.range_step", {"0", "10", "3"}), "[0,3,6,9]");
  EXPECT_EQ(Eval("numbers.range_step", {"10", "0", "4"}), "[10,6,2]");
  ExpectBuiltinError("numbers.range_step", {Value::Int(0), Value::Int(1), Value::Int(0)},
                     "numbers.range_step: step must be a positive integer");
  ExpectTypeError("numbers.range", {J("1.5"), Value::Int(2)},
                  "numbers.range: operand 1 must be integer number but got floating-point number");
  ExpectTypeError("numbers.range", {Value::Int(1), Value::String("2")},
                  "numbers.range: operand 2 must be integer but got string");
  auto huge = Call("numbers.range", {Value::Int(INT64_MIN), Value::Int(INT64_MAX)});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, ErrorCode::kFailedPrecondition);
}

TEST(NumberBuiltinsTest, Aggregates) {
  EXPECT_EQ(Eval("sum", {"[1, 2, 3]"}), "6");
  EXPECT_EQ(Eval("sum", {"[1, 2.5]"}), "3.5");
  EXPECT_EQ(Eval("sum", {"[]"}), "0");
  EXPECT_EQ(Eval("sum", {"[9223372036854775807, 1]"}), "9223372036854775808");
  EXPECT_EQ(Eval("product", {"[2, 3, 4]"}), "24");
  EXPECT_EQ(Eval("product", {"[]"}), "1");
  EXPECT_EQ(Call("sum", {SetOf({Value::Int(1), Value::Int(5)})})->ToJson(), "6");
  EXPECT_EQ(Eval("max", {R"([1, 3, 2])"}), "3");
  EXPECT_EQ(Eval("max", {R"([1, "a", null])"}), R"("a")");
  EXPECT_EQ(Eval("min", {R"([4, 2, 7])"}), "2");
  EXPECT_EQ(Eval("max", {"[]"}), "<undefined>");
  EXPECT_EQ(Call("min", {SetOf({Value::Int(4), Value::Int(3)})})->ToJson(), "3");
  ExpectTypeError("sum", {J(R"([1, "a"])")}, "sum: operand 1 must be array of numbers but got array containing string");
  ExpectTypeError("product", {J("{}")}, "product: operand 1 must be one of {set, array} but got object");
}

TEST(NumberBuiltinsTest, Bits) {
  EXPECT_EQ(Eval("bits.and", {"12", "10"}), "8");
  EXPECT_EQ(Eval("bits.or", {"12", "10"}), "14");
  EXPECT_EQ(Eval("bits.xor", {"12", "10"}), "6");
  EXPECT_EQ(Eval("bits.negate", {"12"}), "-13");
  EXPECT_EQ(Eval("bits.and", {"-1", "255"}), "255");
  EXPECT_EQ(Eval("bits.lsh", {"1", "3"}), "8");
  EXPECT_EQ(Eval("bits.lsh", {"1", "64"}), "18446744073709551616");
  EXPECT_EQ(Eval("bits.lsh", {"-3", "70"}), "-3541774862152233910272");
  EXPECT_EQ(Eval("bits.rsh", {"256", "4"}), "16");
  EXPECT_EQ(Eval("bits.rsh", {"-5", "1"}), "-3");
  EXPECT_EQ(Eval("bits.rsh", {"-5", "100"}), "-1");
  EXPECT_EQ(Eval("bits.rsh", {"5", "100"}), "0");
  ExpectTypeError("bits.and", {J("1.5"), Value::Int(1)},
                  "bits.and: operand 1 must be integer number but got floating-point number");
  ExpectTypeError("bits.or", {Value::Int(1), Value::String("x")}, "bits.or: operand 2 must be integer but got string");
  ExpectTypeError("bits.lsh", {Value::Int(1), Value::Int(-1)},
                  "bits.lsh: operand 2 must be an unsigned integer number but got a negative integer");
}

// --- types and comparison -----------------------------------------------------

TEST(TypeBuiltinsTest, KindChecksAndTypeName) {
  EXPECT_EQ(Eval("is_number", {"1.5"}), "true");
  EXPECT_EQ(Eval("is_number", {R"("1")"}), "false");
  EXPECT_EQ(Eval("is_string", {R"("1")"}), "true");
  EXPECT_EQ(Eval("is_boolean", {"false"}), "true");
  EXPECT_EQ(Eval("is_array", {"[]"}), "true");
  EXPECT_EQ(Eval("is_object", {"{}"}), "true");
  EXPECT_EQ(Eval("is_object", {"[]"}), "false");
  EXPECT_EQ(Eval("is_null", {"null"}), "true");
  EXPECT_EQ(Eval("is_null", {"0"}), "false");
  EXPECT_EQ(Call("is_set", {SetOf({})})->ToJson(), "true");
  EXPECT_EQ(Eval("is_set", {"[]"}), "false");
  EXPECT_EQ(Eval("type_name", {"null"}), R"("null")");
  EXPECT_EQ(Eval("type_name", {"true"}), R"("boolean")");
  EXPECT_EQ(Eval("type_name", {"1"}), R"("number")");
  EXPECT_EQ(Eval("type_name", {"{}"}), R"("object")");
  EXPECT_EQ(Call("type_name", {SetOf({})})->ToJson(), R"("set")");
}

TEST(TypeBuiltinsTest, ToNumber) {
  EXPECT_EQ(Eval("to_number", {"null"}), "0");
  EXPECT_EQ(Eval("to_number", {"true"}), "1");
  EXPECT_EQ(Eval("to_number", {"false"}), "0");
  EXPECT_EQ(Eval("to_number", {"-2.5"}), "-2.5");
  EXPECT_EQ(Eval("to_number", {R"("42")"}), "42");
  EXPECT_EQ(Eval("to_number", {R"("-3.25")"}), "-3.25");
  EXPECT_EQ(Eval("to_number", {R"("+7")"}), "7");
  EXPECT_EQ(Eval("to_number", {R"("1e3")"}), "1000");
  EXPECT_EQ(Eval("to_number", {R"(".5")"}), "0.5");
  EXPECT_EQ(Eval("to_number", {R"("0012")"}), "12");
  EXPECT_EQ(Eval("to_number", {R"("123456789012345678901234567890")"}), "123456789012345678901234567890");
  ExpectBuiltinError("to_number", {Value::String("abc")},
                     R"(to_number: strconv.ParseFloat: parsing "abc": invalid syntax)");
  ExpectBuiltinError("to_number", {Value::String(" 1")},
                     R"(to_number: strconv.ParseFloat: parsing " 1": invalid syntax)");
  ExpectBuiltinError("to_number", {Value::String("1e400")},
                     R"(to_number: strconv.ParseFloat: parsing "1e400": value out of range)");
  ExpectTypeError("to_number", {Value::String("-Inf")},
                  "to_number: operand 1 must be valid number string but got string");
  ExpectTypeError("to_number", {J("[]")},
                  "to_number: operand 1 must be one of {null, boolean, number, string} but got array");
}

TEST(TypeBuiltinsTest, ComparisonsFollowOpaOrder) {
  EXPECT_EQ(Eval("equal", {"1", "1.0"}), "true");
  EXPECT_EQ(Eval("equal", {R"({"a": [1]})", R"({"a": [1.0]})"}), "true");
  EXPECT_EQ(Eval("neq", {"1", R"("1")"}), "true");
  EXPECT_EQ(Eval("lt", {"null", "false"}), "true");
  EXPECT_EQ(Eval("lt", {"false", "0"}), "true");
  EXPECT_EQ(Eval("lt", {"100", R"("")"}), "true");
  EXPECT_EQ(Eval("lt", {R"("z")", "[]"}), "true");
  EXPECT_EQ(Eval("lt", {"[]", "{}"}), "true");
  EXPECT_EQ(Call("lt", {J("{}"), SetOf({})})->ToJson(), "true");
  EXPECT_EQ(Eval("lte", {"2", "2"}), "true");
  EXPECT_EQ(Eval("gt", {"2.5", "2"}), "true");
  EXPECT_EQ(Eval("gte", {"1", "2"}), "false");
  EXPECT_EQ(Eval("gt", {"123456789012345678901234567890", "1e29"}), "true");
}

}  // namespace
}  // namespace contrast::policy::rego
