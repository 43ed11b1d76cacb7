#include "policy/rego/value.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace contrast::policy::rego {
namespace {

Number N(std::string_view literal) {
  auto n = Number::Parse(literal);
  EXPECT_TRUE(n.has_value()) << literal;
  return n ? *n : Number();
}

Value J(std::string_view json) {
  auto v = Value::FromJson(json);
  EXPECT_TRUE(v.has_value()) << json << ": " << (v ? "" : v.error().message);
  return v ? *v : Value();
}

TEST(NumberTest, ParsesIntegersOfAnySize) {
  EXPECT_EQ(N("12").ToInt64(), 12);
  EXPECT_EQ(N("-3").ToInt64(), -3);
  EXPECT_EQ(N("123456789012345678901234567890").ToString(), "123456789012345678901234567890");
  EXPECT_EQ(N("-123456789012345678901234567890").ToString(), "-123456789012345678901234567890");
  EXPECT_FALSE(N("123456789012345678901234567890").ToInt64().has_value());
  EXPECT_TRUE(N("123456789012345678901234567890").is_integer());
  EXPECT_EQ(N("9223372036854775807").ToInt64(), INT64_MAX);
  EXPECT_EQ(N("-9223372036854775808").ToInt64(), INT64_MIN);
  EXPECT_FALSE(N("9223372036854775808").ToInt64().has_value());
}

TEST(NumberTest, FractionsAndExponents) {
  EXPECT_EQ(N("1e3").ToInt64(), 1000);
  EXPECT_TRUE(N("1e3").is_integer());
  EXPECT_EQ(N("1.5").ToString(), "1.5");
  EXPECT_FALSE(N("1.5").is_integer());
  EXPECT_EQ(Number::Float(1e100).ToString(), "1e+100");
  EXPECT_EQ(N("1e100").ToString(), "1" + std::string(100, '0'));  // integral literals stay exact
  EXPECT_EQ(N("0.0000001").ToString(), "1e-7");
  EXPECT_EQ(N("0.000001").ToString(), "0.000001");
  EXPECT_EQ(Number::Float(1e21).ToString(), "1e+21");
  EXPECT_EQ(N("1.5e1").ToInt64(), 15);
  EXPECT_EQ(N("10.00").ToInt64(), 10);
  EXPECT_EQ(N("-0.0").ToInt64(), 0);
  EXPECT_EQ(N("12.5e-1").ToString(), "1.25");
  EXPECT_EQ(N("1e30").ToString(), "1000000000000000000000000000000");
  EXPECT_EQ(N("1e20").ToString(), "100000000000000000000");
  EXPECT_EQ(N("-2.5e-3").ToString(), "-0.0025");
  EXPECT_EQ(N("123.456").ToString(), "123.456");
}

TEST(NumberTest, RejectsMalformedLiterals) {
  for (std::string_view bad : {"", "-", "1.", ".5", "1e", "abc", "1x", "--1", "1e+"}) {
    EXPECT_FALSE(Number::Parse(bad).has_value()) << bad;
  }
}

TEST(NumberTest, ComparesAcrossRepresentations) {
  EXPECT_EQ(Number::Int(1), Number::Float(1.0));
  EXPECT_EQ(N("1"), N("1.0"));
  EXPECT_LT(Number::Int(1), Number::Float(1.5));
  EXPECT_LT(Number::Float(1.5), Number::Int(2));
  EXPECT_LT(Number::Int(-2), Number::Float(-1.5));
  EXPECT_LT(N("-123456789012345678901234567890"), Number::Int(INT64_MIN));
  EXPECT_LT(Number::Int(INT64_MAX), N("123456789012345678901234567890"));
  EXPECT_LT(N("123456789012345678901234567890"), N("123456789012345678901234567891"));
  // 2^63 is exactly representable as a double.
  EXPECT_EQ(N("9223372036854775808"), Number::Float(9223372036854775808.0));
  EXPECT_LT(N("9223372036854775807"), Number::Float(9223372036854775808.0));
  EXPECT_LT(Number::Float(9223372036854775808.0), N("9223372036854775809"));
  // 1e30 as a double is 1000000000000000019884624838656.
  EXPECT_LT(N("1000000000000000000000000000001"), Number::Float(1e30));
  EXPECT_EQ(Number::Float(1e30), N("1000000000000000019884624838656"));
  EXPECT_LT(N("1e30"), N("1000000000000000000000000000001"));
  EXPECT_LT(Number::Float(0.5), N("1e30"));
  EXPECT_LT(Number::Float(-1e300), N("-123456789012345678901234567890"));
}

TEST(NumberTest, LiteralsBeyondDoublesCompareExactly) {
  // OPA orders decimal literals by the numbers they denote, even where a double cannot.
  EXPECT_LT(N("1e399"), N("1e400"));
  EXPECT_LT(Number::Float(1.7e308), N("1e400"));
  EXPECT_LT(Number(), N("1e-400"));
  EXPECT_LT(N("-1e-400"), Number());
  EXPECT_LT(N("0.1234567890123456788"), N("0.1234567890123456789"));
  EXPECT_EQ(N("0.12345678901234567890"), N("1234567890123456789e-19"));
  EXPECT_LT(N("0.1"), N("0.10000000000001"));
  EXPECT_EQ(N("0.1"), N("1e-1"));
  EXPECT_LT(N("0.1000000000000000055511151231257827021181583404541"), Number::Float(0.1));
  EXPECT_EQ(N("0.1000000000000000055511151231257827021181583404541015625"), Number::Float(0.1));
  EXPECT_LT(N("123456789.12345678901234567890"), Number::Int(123456790));
  EXPECT_LT(Number::Int(123456789), N("123456789.12345678901234567890"));
  EXPECT_EQ(N("1e-400").ToString(), "1e-400");
  EXPECT_EQ(N("-0.1234567890123456789").ToString(), "-0.1234567890123456789");
  EXPECT_EQ(N("1e400").Negate().ToString(), "-1e+400");
  EXPECT_TRUE(N("1e400").is_integer());
  EXPECT_FALSE(N("1e-400").is_integer());
  EXPECT_EQ(N("1e400").Remainder(Number::Int(7))->ToInt64(), 4);  // 10^400 mod 7 = 10^(400 mod 6) mod 7 = 10^4 mod 7
  EXPECT_EQ(N("0.1234567890123456789").Add(Number::Int(1))->ToString(), "1.1234567890123457");
  EXPECT_FALSE(Number::Parse("1e999999").has_value());
  // 16 or 17 digits that no double prints as stay exact decimals.
  EXPECT_FALSE(N("4503599627370496.5").is_integer());
  EXPECT_LT(N("4503599627370496"), N("4503599627370496.5"));
  EXPECT_EQ(N("4503599627370496.5").ToString(), "4503599627370496.5");
  EXPECT_EQ(N("0.30000000000000004"), Number::Float(0.1 + 0.2));
}

TEST(NumberTest, HashAgreesWithEquality) {
  EXPECT_EQ(Number::Int(7).Hash(), Number::Float(7.0).Hash());
  EXPECT_EQ(N("9223372036854775808").Hash(), Number::Float(9223372036854775808.0).Hash());
}

TEST(NumberTest, IntegerArithmeticPromotesOnOverflow) {
  auto sum = Number::Int(INT64_MAX).Add(Number::Int(1));
  ASSERT_TRUE(sum);
  EXPECT_EQ(sum->ToString(), "9223372036854775808");
  auto back = sum->Subtract(Number::Int(1));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ToInt64(), INT64_MAX);
  auto product = N("123456789012345678901234567890").Multiply(N("1000"));
  ASSERT_TRUE(product);
  EXPECT_EQ(product->ToString(), "123456789012345678901234567890000");
  auto big_square = Number::Int(INT64_MIN).Multiply(Number::Int(INT64_MIN));
  ASSERT_TRUE(big_square);
  EXPECT_EQ(big_square->ToString(), "85070591730234615865843651857942052864");
  EXPECT_EQ(Number::Int(INT64_MIN).Negate().ToString(), "9223372036854775808");
  // OPA's quotient of integers beyond 64 bits keeps 64 significant bits (see below).
  auto quotient = N("123456789012345678901234567890").Divide(N("10"));
  ASSERT_TRUE(quotient);
  EXPECT_EQ(quotient->ToString(), "12345678901234567890000000000");
  auto rem = N("123456789012345678901234567891").Remainder(N("10"));
  ASSERT_TRUE(rem);
  EXPECT_EQ(rem->ToInt64(), 1);
}

TEST(NumberTest, DivisionAndRemainderFollowOpa) {
  EXPECT_EQ(Number::Int(10).Divide(Number::Int(4))->ToString(), "2.5");
  // No truncation for integers (rego-cpp's speculative bigint cases expect 9
  // here; see docs/rego.md): OPA's quotient is big.Float's at 64-bit
  // precision, in the shortest digits that identify it, not a double.
  EXPECT_EQ(Number::Int(-524).Divide(Number::Int(-56))->ToString(), "9.357142857142857143");
  EXPECT_EQ(Number::Int(1).Divide(Number::Int(3))->ToString(), "0.33333333333333333334");
  EXPECT_EQ(Number::Int(10).Divide(Number::Int(5))->ToString(), "2");
  EXPECT_TRUE(Number::Int(10).Divide(Number::Int(5))->is_integer());
  EXPECT_EQ(Number::Int(1).Divide(Number::Int(0)).error().message, "divide by zero");
  EXPECT_EQ(Number::Int(1).Divide(Number::Float(0.0)).error().message, "divide by zero");
  EXPECT_EQ(Number::Int(-7).Remainder(Number::Int(3))->ToInt64(), -1);
  EXPECT_EQ(Number::Int(7).Remainder(Number::Int(-3))->ToInt64(), 1);
  EXPECT_EQ(Number::Int(INT64_MIN).Remainder(Number::Int(-1))->ToInt64(), 0);
  EXPECT_EQ(Number::Float(1.5).Remainder(Number::Int(1)).error().message, "modulo on floating-point number");
  EXPECT_EQ(Number::Int(1).Remainder(Number::Int(0)).error().message, "modulo by zero");
  EXPECT_EQ(Number::Float(0.1).Add(Number::Float(0.2))->ToString(), "0.30000000000000004");
  EXPECT_EQ(Number::Float(1.5).Multiply(Number::Int(2))->ToString(), "3");
}

// OPA's answers, from OPA's arithmetic (topdown/arithmetic.go) run on Go's
// math/big: operands outside the int32 window are divided as big.Float at
// 64-bit precision, so a quotient of big integers keeps 64 significant bits.
TEST(NumberTest, DivisionOfBigIntegersFollowsOpa) {
  const auto quotient = [](std::string_view a, std::string_view b) {
    auto result = N(a).Divide(N(b));
    return result ? result->ToString() : "error: " + result.error().message;
  };
  // Exact, and within 64 bits: exact in OPA too.
  EXPECT_EQ(quotient("18446744073709551616", "2"), "9223372036854775808");    // 2^64 / 2
  EXPECT_EQ(quotient("-18446744073709551616", "-4"), "4611686018427387904");  // negatives
  EXPECT_EQ(quotient("9007199254740993", "1"), "9007199254740993");           // 2^53 + 1
  EXPECT_EQ(quotient("-9223372036854775808", "-1"), "9223372036854775808");   // INT64_MIN / -1
  EXPECT_EQ(quotient("85070591730234615865843651857942052864", "9223372036854775808"),
            "9223372036854775808");  // 2^126 / 2^63
  // Exact, but the dividend needs more than 64 bits: OPA rounds it first.
  EXPECT_EQ(quotient("36893488147419103234", "2"), "18446744073709551616");     // (2^65 + 2) / 2
  EXPECT_EQ(quotient("-36893488147419103234", "2"), "-18446744073709551616");   // and negative
  EXPECT_EQ(quotient("1180591620717411303424", "2"), "590295810358705651700");  // 2^70 / 2: shortest digits
  EXPECT_EQ(quotient("123456789012345678901234567890", "10"), "12345678901234567890000000000");
  // Inexact: 64 significant bits, shortest digits.
  EXPECT_EQ(quotient("18446744073709551617", "3"), "6148914691236517205.5");
  EXPECT_EQ(quotient("-9007199254740993", "2"), "-4503599627370496.5");
  EXPECT_EQ(quotient("10", "18446744073709551616"), "5.42101086242752217e-19");
  EXPECT_EQ(quotient("1", "-7"), "-0.14285714285714285714");
  EXPECT_EQ(quotient("1.5", "18446744073709551616"), "8.131516293641283255e-20");
  // Zero: an exact zero whatever the signs; a zero divisor of any form is an error.
  EXPECT_EQ(quotient("0", "-18446744073709551616"), "0");
  EXPECT_EQ(quotient("18446744073709551616", "0"), "error: divide by zero");
  EXPECT_EQ(quotient("18446744073709551616", "0.0"), "error: divide by zero");
}

TEST(NumberTest, RemainderOfBigIntegersFollowsOpa) {
  const auto remainder = [](std::string_view a, std::string_view b) {
    auto result = N(a).Remainder(N(b));
    return result ? result->ToString() : "error: " + result.error().message;
  };
  // Truncated division, as Go's big.Int.Rem: the remainder takes the dividend's sign.
  EXPECT_EQ(remainder("18446744073709551617", "10"), "7");
  EXPECT_EQ(remainder("-18446744073709551617", "10"), "-7");
  EXPECT_EQ(remainder("18446744073709551617", "-10"), "7");
  EXPECT_EQ(remainder("340282366920938463463374607431768211457", "18446744073709551616"), "1");  // (2^128 + 1) % 2^64
  EXPECT_EQ(remainder("-340282366920938463463374607431768211457", "-18446744073709551615"), "-2");
  EXPECT_EQ(remainder("10", "18446744073709551616"), "10");  // a divisor that is a multiple of 2^64
  EXPECT_EQ(remainder("9007199254740993", "2"), "1");        // 2^53 + 1: exact, not rounded to a double
  EXPECT_EQ(remainder("18446744073709551616", "0"), "error: modulo by zero");
  EXPECT_EQ(remainder("18446744073709551616.5", "2"), "error: modulo on floating-point number");
}

TEST(ValueTest, SingletonsAndKinds) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_EQ(Value::Bool(true), Value::Bool(true));
  EXPECT_EQ(Value::Int(3).kind(), Kind::kNumber);
  EXPECT_EQ(KindName(Kind::kBool), "boolean");
  EXPECT_EQ(KindName(Value::FromSet({}).kind()), "set");
}

TEST(ValueTest, TotalOrderAcrossKinds) {
  std::vector<Value> ordered = {
      Value::Null(),
      Value::Bool(false),
      Value::Bool(true),
      Value::Int(-1),
      Value::Num(Number::Float(0.5)),
      Value::Int(1),
      Value::String(""),
      Value::String("a"),
      Value::String("b"),
      Value::FromArray({}),
      Value::FromArray({Value::Int(1)}),
      Value::FromArray({Value::Int(1), Value::Int(2)}),
      Value::FromArray({Value::Int(2)}),
      Value::FromObject({}),
      Value::FromObject({{Value::String("a"), Value::Int(1)}}),
      Value::FromObject({{Value::String("a"), Value::Int(2)}}),
      Value::FromObject({{Value::String("b"), Value::Int(0)}}),
      Value::FromSet({}),
      Value::FromSet({Value::Int(1)}),
      Value::FromSet({Value::Int(1), Value::Int(2)}),
      Value::FromSet({Value::Int(2)}),
  };
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      const int c = Compare(ordered[i], ordered[j]);
      EXPECT_EQ(c < 0, i < j) << ordered[i].ToJson() << " vs " << ordered[j].ToJson();
      EXPECT_EQ(c == 0, i == j) << ordered[i].ToJson() << " vs " << ordered[j].ToJson();
    }
  }
}

TEST(ValueTest, DeepEqualityAndHash) {
  Value a = J(R"({"x": [1, 2.0, {"y": null}], "z": "s"})");
  Value b = J(R"({"z": "s", "x": [1.0, 2, {"y": null}]})");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_NE(a, J(R"({"z": "s", "x": [1, 2, {"y": false}]})"));
  // Sets and objects deduplicate by value across number representations.
  Value::Set s{Value::Int(1), Value::Num(Number::Float(1.0)), Value::Int(2)};
  EXPECT_EQ(s.size(), 2u);
}

TEST(ValueTest, FindAndGet) {
  Value v = J(R"({"a": [10, 20], "b": {"c": true}})");
  ASSERT_NE(v.Get("a"), nullptr);
  EXPECT_EQ(*v.Get("a")->Find(Value::Int(1)), Value::Int(20));
  EXPECT_EQ(v.Get("a")->Find(Value::Int(2)), nullptr);
  EXPECT_EQ(v.Get("a")->Find(Value::Int(-1)), nullptr);
  EXPECT_EQ(v.Get("a")->Find(Value::Num(Number::Float(0.5))), nullptr);
  EXPECT_EQ(v.Get("a")->Find(Value::String("0")), nullptr);
  EXPECT_EQ(v.Get("missing"), nullptr);
  EXPECT_EQ(*v.Get("b")->Get("c"), Value::Bool(true));
  EXPECT_EQ(Value::String("x").Get("a"), nullptr);
  Value set = Value::FromSet({Value::String("k")});
  ASSERT_NE(set.Find(Value::String("k")), nullptr);
  EXPECT_EQ(set.Find(Value::String("j")), nullptr);
  Value keyed = Value::FromObject({{Value::Int(1), Value::String("one")}});
  EXPECT_EQ(*keyed.Find(Value::Num(Number::Float(1.0))), Value::String("one"));
}

TEST(ValueTest, JsonRoundTrip) {
  const std::string text =
      R"({"a":[1,-2,3.5,1e-7,123456789012345678901234567890],"b":{"c":null,"d":true,"e":false},"s":"q\"\\\n\t\u0001é"})";
  Value v = J(text);
  EXPECT_EQ(v.ToJson(), text);
  EXPECT_EQ(J(v.ToJson()), v);
  EXPECT_EQ(v.Get("a")->as_array()[4].as_number().ToString(), "123456789012345678901234567890");
}

TEST(ValueTest, JsonOutputSortsKeysAndSets) {
  Value v = Value::FromObject({
      {Value::String("b"), Value::FromSet({Value::Int(3), Value::Int(1)})},
      {Value::String("a"), Value::FromArray({})},
      {Value::Int(5), Value::Null()},
  });
  EXPECT_EQ(v.ToJson(), R"({"5":null,"a":[],"b":[1,3]})");
  EXPECT_EQ(J(R"({"a": [1, {"b": {}}]})").ToPrettyJson(),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": {}\n    }\n  ]\n}");
}

TEST(ValueTest, JsonEscapes) {
  EXPECT_EQ(J(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(J(R"("\ud83d")").as_string(), "\xEF\xBF\xBD");  // lone surrogate -> U+FFFD
  EXPECT_EQ(J(R"("\/")").as_string(), "/");
  EXPECT_EQ(Value::String(std::string("\x7f\x1f", 2)).ToJson(), "\"\x7f\\u001f\"");
}

TEST(ValueTest, HostileJsonIsRejected) {
  auto expect_error = [](std::string_view json, std::string_view fragment) {
    auto v = Value::FromJson(json);
    ASSERT_FALSE(v.has_value()) << json;
    EXPECT_EQ(v.error().code, ErrorCode::kParse);
    EXPECT_NE(v.error().message.find(fragment), std::string::npos) << v.error().message;
  };
  expect_error(R"({"a": 1, "a": 2})", "offset 9: duplicate object key \"a\"");
  expect_error("\"\xff\"", "offset 1: invalid UTF-8");
  expect_error("\"\xc0\xaf\"", "invalid UTF-8");          // overlong
  expect_error("\"\xed\xa0\x80\"", "invalid UTF-8");      // encoded surrogate
  expect_error("\"\xf4\x90\x80\x80\"", "invalid UTF-8");  // above U+10FFFF
  expect_error("\"a\nb\"", "control character");
  expect_error("[1,]", "offset 3");
  expect_error("[1 2]", "expected ',' or ']'");
  expect_error("{\"a\" 1}", "expected ':'");
  expect_error("01", "unexpected data");
  expect_error("1 2", "unexpected data");
  expect_error("", "unexpected end");
  expect_error("[", "unexpected end");
  expect_error("\"abc", "unterminated");
  expect_error("nul", "unexpected character");
  expect_error(R"("\x")", "invalid escape");
  expect_error(R"("\u12")", "invalid \\u escape");
  expect_error("{1: 2}", "expected a string object key");
  expect_error("1e999999", "out of range");

  std::string deep(100000, '[');
  expect_error(deep, "nesting deeper than 512");
  EXPECT_TRUE(Value::FromJson(std::string(512, '[') + std::string(512, ']')).has_value());
  EXPECT_FALSE(Value::FromJson(std::string(513, '[') + std::string(513, ']')).has_value());
}

TEST(ValueJson, LastKeyWinsIsOptIn) {
  EXPECT_FALSE(Value::FromJson(R"({"a": 1, "a": 2})").has_value());
  auto v = Value::FromJsonLastKeyWins(R"({"b": 0, "a": 1, "c": {"x": 1, "x": [2]}, "a": 3})");
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(v->ToJson(), R"({"a":3,"b":0,"c":{"x":[2]}})");
  EXPECT_FALSE(Value::FromJsonLastKeyWins(R"({"a": 1,})").has_value());
  EXPECT_FALSE(Value::FromJsonLastKeyWins(std::string(513, '[') + std::string(513, ']')).has_value());
  EXPECT_FALSE(Value::FromJson(std::string(3, '{'), 2).has_value());
}

TEST(ValueTest, MutatedJsonNeverCrashesAndRoundTrips) {
  const std::string seed =
      R"({"a": [1, -2.5e3, "x\u00e9", {"b": null, "c": [true, false]}], "d": {"e": "f/g", "h": 12345678901234567890123}})";
  uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text = seed;
    for (int edits = 1 + static_cast<int>(next() % 3); edits > 0; --edits) {
      const size_t pos = next() % text.size();
      switch (next() % 3) {
        case 0: text[pos] = static_cast<char>(next() & 0xFF); break;
        case 1: text.erase(pos, 1); break;
        default: text.insert(pos, 1, "{}[],:\"0e-"[next() % 11]); break;
      }
    }
    auto v = Value::FromJson(text);
    if (!v) {
      EXPECT_EQ(v.error().code, ErrorCode::kParse);
      continue;
    }
    ++parsed;
    auto again = Value::FromJson(v->ToJson());
    ASSERT_TRUE(again.has_value()) << v->ToJson();
    EXPECT_EQ(*again, *v) << text;
  }
  EXPECT_GT(parsed, 0);
}

TEST(ValueTest, RegoStringAsPrintShowsIt) {
  Value v = J(R"([1, "x", {"k": "v"}, 2.5, null, true])");
  EXPECT_EQ(v.ToRegoString(), R"([1, "x", {"k": "v"}, 2.5, null, true])");
  EXPECT_EQ(Value::FromSet({Value::Int(2), Value::Int(1)}).ToRegoString(), "{1, 2}");
  EXPECT_EQ(Value::FromSet({}).ToRegoString(), "set()");
  EXPECT_EQ(Value::FromObject({}).ToRegoString(), "{}");
  EXPECT_EQ(Value::String("a").ToRegoString(true), "a");
  EXPECT_EQ(Value::String("a\"b\n").ToRegoString(), R"("a\"b\n")");
  // As Go's strconv.Quote: printable runes kept, invalid bytes and controls escaped.
  EXPECT_EQ(Value::String("\xC3\xA9\xFF\x01\xC2\x85").ToRegoString(), "\"\xC3\xA9\\xff\\x01\\u0085\"");
  EXPECT_EQ(Value::FromArray({Value::String("a")}).ToRegoString(true), R"(["a"])");
}

}  // namespace
}  // namespace contrast::policy::rego
