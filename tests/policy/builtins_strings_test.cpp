// String builtins against OPA's documented and observed results.
#include <string>

#include <gtest/gtest.h>

#include "builtins_call.h"

namespace contrast::policy::rego {
namespace {

using testing::BuiltinErr;
using testing::Call;
using testing::J;
using testing::Ok;
using testing::S;
using testing::Str;
using testing::TypeErr;

TEST(StringBuiltins, AllRegistered) {
  for (const char* name : {"concat",
                           "contains",
                           "endswith",
                           "startswith",
                           "format_int",
                           "indexof",
                           "indexof_n",
                           "lower",
                           "upper",
                           "replace",
                           "strings.replace_n",
                           "strings.split_n",
                           "split",
                           "sprintf",
                           "substring",
                           "trim",
                           "trim_left",
                           "trim_prefix",
                           "trim_right",
                           "trim_suffix",
                           "trim_space",
                           "strings.reverse",
                           "strings.count",
                           "strings.any_prefix_match",
                           "strings.any_suffix_match",
                           "units.parse",
                           "units.parse_bytes"}) {
    EXPECT_NE(BuiltinRegistry::Default().Find(name), nullptr) << name;
  }
}

TEST(StringBuiltins, SplitN) {
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("2")}), J(R"(["a","b"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("1")}), J(R"(["a"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("10")}), J(R"(["a","b","c","d"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("0")}), J("[]"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("-2")}), J(R"(["c","d"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("-4")}), J(R"(["a","b","c","d"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b.c.d"), S("."), J("-10")}), J(R"(["a","b","c","d"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("abc"), S("."), J("-2")}), J(R"(["abc"])"));
  EXPECT_EQ(Ok("strings.split_n", {S(""), S("."), J("2")}), J(R"([""])"));
  EXPECT_EQ(Ok("strings.split_n", {S("abc"), S(""), J("2")}), J(R"(["a","b"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("ab\u00e9"), S(""), J("-1")}), J(R"(["\u00e9"])"));
  EXPECT_EQ(Ok("strings.split_n", {S("a.b"), S("."), J("-9223372036854775808")}), J(R"(["a","b"])"));
  EXPECT_EQ(TypeErr("strings.split_n", {S("a.b.c"), S("."), J("1.5")}),
            "strings.split_n: operand 3 must be integer number but got floating-point number");
  EXPECT_EQ(TypeErr("strings.split_n", {S("a"), J("1"), J("1")}),
            "strings.split_n: operand 2 must be string but got number");
}

TEST(StringBuiltins, Concat) {
  EXPECT_EQ(Str("concat", {S("/"), J(R"(["a","b","c"])")}), "a/b/c");
  EXPECT_EQ(Str("concat", {S(""), J(R"(["a","b"])")}), "ab");
  EXPECT_EQ(Str("concat", {S(","), J("[]")}), "");
  EXPECT_EQ(Str("concat", {S(","), Value::FromSet({S("b"), S("a")})}), "a,b");
  EXPECT_EQ(TypeErr("concat", {S(","), J(R"(["a",1])")}),
            "concat: operand 2 must be array of strings but got array containing number");
  EXPECT_EQ(TypeErr("concat", {S(","), S("ab")}), "concat: operand 2 must be one of {set, array} but got string");
  EXPECT_EQ(TypeErr("concat", {J("1"), J("[]")}), "concat: operand 1 must be string but got number");
}

TEST(StringBuiltins, ContainsStartsEnds) {
  EXPECT_EQ(Ok("contains", {S("abcdef"), S("cd")}), Value::Bool(true));
  EXPECT_EQ(Ok("contains", {S("abcdef"), S("")}), Value::Bool(true));
  EXPECT_EQ(Ok("contains", {S("abc"), S("x")}), Value::Bool(false));
  EXPECT_EQ(Ok("startswith", {S("/run/kata"), S("/run")}), Value::Bool(true));
  EXPECT_EQ(Ok("startswith", {S("/ru"), S("/run")}), Value::Bool(false));
  EXPECT_EQ(Ok("endswith", {S("image.tar"), S(".tar")}), Value::Bool(true));
  EXPECT_EQ(Ok("endswith", {S("image.tar"), S("tar.")}), Value::Bool(false));
  EXPECT_EQ(TypeErr("startswith", {J("1"), S("a")}), "startswith: operand 1 must be string but got number");
  EXPECT_EQ(TypeErr("endswith", {S("a"), J("null")}), "endswith: operand 2 must be string but got null");
  EXPECT_EQ(TypeErr("contains", {J("[]"), S("a")}), "contains: operand 1 must be string but got array");
}

TEST(StringBuiltins, ContainsLongNeedleIsLinear) {
  // A needle that almost matches everywhere: quadratic search would take
  // minutes; KMP finishes at once.
  const std::string haystack(1 << 20, 'a');
  const std::string needle = std::string(4096, 'a') + "b";
  EXPECT_EQ(Ok("contains", {S(haystack), S(needle)}), Value::Bool(false));
  EXPECT_EQ(Ok("contains", {S(haystack + needle), S(needle)}), Value::Bool(true));
  EXPECT_EQ(Ok("strings.count", {S(haystack), S(needle)}), Value::Int(0));
}

TEST(StringBuiltins, FormatInt) {
  EXPECT_EQ(Str("format_int", {J("255"), J("16")}), "ff");
  EXPECT_EQ(Str("format_int", {J("-255"), J("16")}), "-ff");
  EXPECT_EQ(Str("format_int", {J("8"), J("8")}), "10");
  EXPECT_EQ(Str("format_int", {J("5"), J("2")}), "101");
  EXPECT_EQ(Str("format_int", {J("10.9"), J("2")}), "1010");
  EXPECT_EQ(Str("format_int", {J("-10.9"), J("10")}), "-10");
  EXPECT_EQ(Str("format_int", {J("0"), J("16")}), "0");
  EXPECT_EQ(Str("format_int", {J("123456789012345678901234567890"), J("16")}), "18ee90ff6c373e0ee4e3f0ad2");
  EXPECT_EQ(Str("format_int", {J("123456789012345678901234567890"), J("10")}), "123456789012345678901234567890");
  EXPECT_EQ(TypeErr("format_int", {J("1"), J("3")}), "format_int: operand 2 must be one of {2, 8, 10, 16}");
  EXPECT_EQ(TypeErr("format_int", {S("1"), J("10")}), "format_int: operand 1 must be number but got string");
}

TEST(StringBuiltins, IndexOf) {
  EXPECT_EQ(Ok("indexof", {S("abcdef"), S("cd")}), Value::Int(2));
  EXPECT_EQ(Ok("indexof", {S("abc"), S("x")}), Value::Int(-1));
  // Code points, not bytes.
  EXPECT_EQ(Ok("indexof", {S("héllo"), S("l")}), Value::Int(2));
  EXPECT_EQ(Ok("indexof", {S("日本語"), S("語")}), Value::Int(2));
  EXPECT_EQ(BuiltinErr("indexof", {S("abc"), S("")}), "indexof: empty search character");
  EXPECT_EQ(Ok("indexof_n", {S("aaa"), S("aa")}), J("[0,1]"));
  EXPECT_EQ(Ok("indexof_n", {S("héhé"), S("é")}), J("[1,3]"));
  EXPECT_EQ(Ok("indexof_n", {S("abc"), S("x")}), J("[]"));
  EXPECT_EQ(BuiltinErr("indexof_n", {S("abc"), S("")}), "indexof_n: empty search character");
}

TEST(StringBuiltins, LowerUpper) {
  EXPECT_EQ(Str("lower", {S("AbC-1")}), "abc-1");
  EXPECT_EQ(Str("upper", {S("AbC-1")}), "ABC-1");
  EXPECT_EQ(Str("lower", {S("ÄÖÜ ΣΑΣ")}), "äöü σασ");
  EXPECT_EQ(Str("upper", {S("straße")}), "STRAßE");  // Go maps rune by rune: ß has no single-rune upper case
  // Invalid UTF-8 becomes U+FFFD as in Go's strings.Map.
  EXPECT_EQ(Str("lower", {S("A\xffÉ")}),
            "a\xEF\xBF\xBD"
            "é");
  EXPECT_EQ(TypeErr("lower", {J("1")}), "lower: operand 1 must be string but got number");
}

TEST(StringBuiltins, Replace) {
  EXPECT_EQ(Str("replace", {S("a.b.c"), S("."), S("/")}), "a/b/c");
  EXPECT_EQ(Str("replace", {S("aaaa"), S("aa"), S("b")}), "bb");
  EXPECT_EQ(Str("replace", {S("abc"), S("x"), S("y")}), "abc");
  EXPECT_EQ(Str("replace", {S("abc"), S(""), S("-")}), "-a-b-c-");
  EXPECT_EQ(Str("replace", {S(""), S(""), S("-")}), "-");
  EXPECT_EQ(TypeErr("replace", {S("a"), S("b"), J("1")}), "replace: operand 3 must be string but got number");
}

TEST(StringBuiltins, ReplaceN) {
  EXPECT_EQ(Str("strings.replace_n", {J(R"({"<":"&lt;",">":"&gt;"})"), S("<a>")}), "&lt;a&gt;");
  // Patterns are tried in key order at each position: "a" wins over "ab".
  EXPECT_EQ(Str("strings.replace_n", {J(R"({"a":"1","ab":"2"})"), S("abab")}), "1b1b");
  // Replacements are not rescanned.
  EXPECT_EQ(Str("strings.replace_n", {J(R"({"a":"b","b":"a"})"), S("ab")}), "ba");
  EXPECT_EQ(Str("strings.replace_n", {J("{}"), S("abc")}), "abc");
  EXPECT_EQ(TypeErr("strings.replace_n", {J(R"({"a":1})"), S("a")}),
            "strings.replace_n: operand 1 non-string value found in pattern object");
  EXPECT_EQ(TypeErr("strings.replace_n", {Value::FromObject({{J("1"), S("x")}}), S("a")}),
            "strings.replace_n: operand 1 non-string key found in pattern object");
  EXPECT_EQ(TypeErr("strings.replace_n", {J("[]"), S("a")}),
            "strings.replace_n: operand 1 must be object but got array");
}

TEST(StringBuiltins, Split) {
  EXPECT_EQ(Ok("split", {S("a,b,,c"), S(",")}), J(R"(["a","b","","c"])"));
  EXPECT_EQ(Ok("split", {S("a,b,"), S(",")}), J(R"(["a","b",""])"));
  EXPECT_EQ(Ok("split", {S("abc"), S(",")}), J(R"(["abc"])"));
  EXPECT_EQ(Ok("split", {S(""), S(",")}), J(R"([""])"));
  EXPECT_EQ(Ok("split", {S("héj"), S("")}), J(R"(["h","é","j"])"));
  EXPECT_EQ(Ok("split", {S(""), S("")}), J("[]"));
  EXPECT_EQ(Ok("split", {S("a::b::c"), S("::")}), J(R"(["a","b","c"])"));
  EXPECT_EQ(TypeErr("split", {S("a"), J("1")}), "split: operand 2 must be string but got number");
}

TEST(StringBuiltins, Substring) {
  EXPECT_EQ(Str("substring", {S("abcdef"), J("2"), J("3")}), "cde");
  EXPECT_EQ(Str("substring", {S("abcdef"), J("2"), J("-1")}), "cdef");
  EXPECT_EQ(Str("substring", {S("abcdef"), J("4"), J("100")}), "ef");
  EXPECT_EQ(Str("substring", {S("abc"), J("3"), J("1")}), "");
  EXPECT_EQ(Str("substring", {S("abc"), J("99"), J("-1")}), "");
  EXPECT_EQ(Str("substring", {S("abc"), J("0"), J("0")}), "");
  EXPECT_EQ(Str("substring", {S(""), J("0"), J("5")}), "");
  EXPECT_EQ(Str("substring", {S("héllo wörld"), J("1"), J("3")}), "éll");
  EXPECT_EQ(Str("substring", {S("héllo wörld"), J("7"), J("-1")}), "örld");
  EXPECT_EQ(Str("substring", {S("日本語"), J("1"), J("1")}), "本");
  EXPECT_EQ(Str("substring", {S("abc"), J("0"), J("9223372036854775807")}), "abc");
  EXPECT_EQ(Str("substring", {S("abc"), J("9223372036854775807"), J("9223372036854775807")}), "");
  EXPECT_EQ(BuiltinErr("substring", {S("abc"), J("-1"), J("1")}), "substring: negative offset");
  EXPECT_EQ(TypeErr("substring", {S("abc"), J("1.5"), J("1")}),
            "substring: operand 2 must be integer number but got floating-point number");
  EXPECT_EQ(TypeErr("substring", {S("abc"), J("1"), S("1")}), "substring: operand 3 must be number but got string");
}

TEST(StringBuiltins, Trim) {
  EXPECT_EQ(Str("trim", {S("  xx  "), S(" ")}), "xx");
  EXPECT_EQ(Str("trim", {S("--=a=--"), S("-=")}), "a");
  EXPECT_EQ(Str("trim", {S("abc"), S("")}), "abc");
  EXPECT_EQ(Str("trim", {S("ééaéé"), S("é")}), "a");
  EXPECT_EQ(Str("trim_left", {S("aabba"), S("a")}), "bba");
  EXPECT_EQ(Str("trim_right", {S("aabba"), S("a")}), "aabb");
  EXPECT_EQ(Str("trim_right", {S("xyéé"), S("é")}), "xy");
  EXPECT_EQ(Str("trim_prefix", {S("cap_sys_admin"), S("cap_")}), "sys_admin");
  EXPECT_EQ(Str("trim_prefix", {S("cap_sys_admin"), S("CAP_")}), "cap_sys_admin");
  EXPECT_EQ(Str("trim_suffix", {S("file.tar.gz"), S(".gz")}), "file.tar");
  EXPECT_EQ(Str("trim_suffix", {S("file"), S("file.gz")}), "file");
  EXPECT_EQ(Str("trim_space", {S(" \t\n x y \r\v\f")}), "x y");
  EXPECT_EQ(Str("trim_space", {S("\u00a0\u3000x\u2003")}), "x");
  EXPECT_EQ(Str("trim_space", {S("")}), "");
  EXPECT_EQ(TypeErr("trim_prefix", {S("a"), J("true")}), "trim_prefix: operand 2 must be string but got boolean");
}

TEST(StringBuiltins, ReverseCountAffixes) {
  EXPECT_EQ(Str("strings.reverse", {S("héllo")}), "olléh");
  EXPECT_EQ(Str("strings.reverse", {S("")}), "");
  EXPECT_EQ(Ok("strings.count", {S("cheese"), S("e")}), Value::Int(3));
  EXPECT_EQ(Ok("strings.count", {S("aaaa"), S("aa")}), Value::Int(2));
  EXPECT_EQ(Ok("strings.count", {S("five"), S("")}), Value::Int(5));
  EXPECT_EQ(Ok("strings.count", {S("héé"), S("")}), Value::Int(4));
  EXPECT_EQ(Ok("strings.any_prefix_match", {S("foo/bar"), J(R"(["bar","foo"])")}), Value::Bool(true));
  EXPECT_EQ(Ok("strings.any_prefix_match", {J(R"(["a/b","c/d"])"), S("c/")}), Value::Bool(true));
  EXPECT_EQ(Ok("strings.any_prefix_match", {J("[]"), S("c/")}), Value::Bool(false));
  EXPECT_EQ(Ok("strings.any_suffix_match", {Value::FromSet({S("x.txt")}), S(".txt")}), Value::Bool(true));
  EXPECT_EQ(Ok("strings.any_suffix_match", {S("x.txt"), J(R"([".md"])")}), Value::Bool(false));
  EXPECT_EQ(TypeErr("strings.any_prefix_match", {J("1"), S("a")}),
            "strings.any_prefix_match: operand 1 must be one of {string, set, array} but got number");
  EXPECT_EQ(TypeErr("strings.any_suffix_match", {S("a"), J("[1]")}),
            "strings.any_suffix_match: operand 2 must be array of strings but got array containing number");
}

TEST(StringBuiltins, UnitsParse) {
  EXPECT_EQ(Ok("units.parse", {S("10K")}), J("10000"));
  EXPECT_EQ(Ok("units.parse", {S("10k")}), J("10000"));
  EXPECT_EQ(Ok("units.parse", {S("1Ki")}), J("1024"));
  EXPECT_EQ(Ok("units.parse", {S("1KI")}), J("1024"));
  EXPECT_EQ(Ok("units.parse", {S("1M")}), J("1000000"));
  EXPECT_EQ(Ok("units.parse", {S("1m")}), J("0.001"));
  EXPECT_EQ(Ok("units.parse", {S("100m")}), J("0.1"));
  EXPECT_EQ(Ok("units.parse", {S("1500m")}), J("1.5"));
  EXPECT_EQ(Ok("units.parse", {S("1.5Gi")}), J("1610612736"));
  EXPECT_EQ(Ok("units.parse", {S("1e3")}), J("1000"));
  EXPECT_EQ(Ok("units.parse", {S("\"2\"")}), J("2"));
  EXPECT_EQ(Ok("units.parse", {S("1Ei")}), J("1152921504606846976"));
  EXPECT_EQ(Ok("units.parse", {S("1000Ei")}), J("1152921504606846976000"));
  EXPECT_EQ(BuiltinErr("units.parse", {S("5 Gi")}), "units.parse: spaces not allowed in resource strings");
  EXPECT_EQ(BuiltinErr("units.parse", {S("Gi")}), "units.parse: no amount provided");
  EXPECT_EQ(BuiltinErr("units.parse", {S("1Zi")}), "units.parse: unit Zi not recognized");
  EXPECT_EQ(BuiltinErr("units.parse", {S("1.2.3")}), "units.parse: could not parse amount to a number");
  EXPECT_EQ(BuiltinErr("units.parse", {S("1e1000000K")}), "units.parse: exponent too large");
}

TEST(StringBuiltins, UnitsParseBytes) {
  EXPECT_EQ(Ok("units.parse_bytes", {S("1KiB")}), J("1024"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("1kib")}), J("1024"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("1.5kb")}), J("1500"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("1.5KiB")}), J("1536"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("0.5")}), J("0"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("\"10MB\"")}), J("10000000"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("12")}), J("12"));
  EXPECT_EQ(Ok("units.parse_bytes", {S("1M")}), J("1000000"));
  EXPECT_EQ(BuiltinErr("units.parse_bytes", {S("1xb")}), "units.parse_bytes: byte unit xb not recognized");
  EXPECT_EQ(BuiltinErr("units.parse_bytes", {S("kb")}), "units.parse_bytes: no byte amount provided");
  EXPECT_EQ(BuiltinErr("units.parse_bytes", {S("1 kb")}), "units.parse_bytes: spaces not allowed in resource strings");
}

TEST(Sprintf, Integers) {
  EXPECT_EQ(Str("sprintf", {S("%d"), J("[42]")}), "42");
  EXPECT_EQ(Str("sprintf", {S("%d items"), J("[-7]")}), "-7 items");
  EXPECT_EQ(Str("sprintf", {S("%5d|%-5d|%05d"), J("[1,2,3]")}), "    1|2    |00003");
  EXPECT_EQ(Str("sprintf", {S("%+d % d"), J("[5,5]")}), "+5  5");
  EXPECT_EQ(Str("sprintf", {S("%x %X %o %b"), J("[255,255,8,5]")}), "ff FF 10 101");
  EXPECT_EQ(Str("sprintf", {S("%#x %#o"), J("[255,8]")}), "0xff 010");
  EXPECT_EQ(Str("sprintf", {S("%.3d"), J("[7]")}), "007");
  EXPECT_EQ(Str("sprintf", {S("%d"), J("[12345678901234567890123]")}), "12345678901234567890123");
  EXPECT_EQ(Str("sprintf", {S("%x"), J("[-255]")}), "-ff");
  EXPECT_EQ(Str("sprintf", {S("%c"), J("[65]")}), "A");
  EXPECT_EQ(Str("sprintf", {S("%v"), J("[3]")}), "3");
  EXPECT_EQ(Str("sprintf", {S("%s"), J("[3]")}), "%!s(int=3)");
  EXPECT_EQ(Str("sprintf", {S("%f"), J("[5]")}), "%!f(int=5)");
}

TEST(Sprintf, FloatsStringsAndComposites) {
  EXPECT_EQ(Str("sprintf", {S("%.2f"), J("[3.14159]")}), "3.14");
  EXPECT_EQ(Str("sprintf", {S("%f"), J("[1.5]")}), "1.500000");
  EXPECT_EQ(Str("sprintf", {S("%8.3f|"), J("[-1.5]")}), "  -1.500|");
  EXPECT_EQ(Str("sprintf", {S("%e"), J("[1234.5678]")}), "1.234568e+03");
  EXPECT_EQ(Str("sprintf", {S("%v"), J("[1.5]")}), "1.5");
  EXPECT_EQ(Str("sprintf", {S("%v"), J("[0.1]")}), "0.1");
  EXPECT_EQ(Str("sprintf", {S("%g"), J("[0.000012345]")}), "1.2345e-05");
  EXPECT_EQ(Str("sprintf", {S("%v"), J("[1234567.5]")}), "1.2345675e+06");
  EXPECT_EQ(Str("sprintf", {S("%d"), J("[1.5]")}), "%!d(float64=1.5)");
  EXPECT_EQ(Str("sprintf", {S("%s and %v"), J(R"(["x","y"])")}), "x and y");
  EXPECT_EQ(Str("sprintf", {S("[%5s][%-5s][%.2s]"), J(R"(["ab","ab","héllo"])")}), "[   ab][ab   ][hé]");
  EXPECT_EQ(Str("sprintf", {S("%q"), J(R"(["a\"b\n"])")}), R"("a\"b\n")");
  EXPECT_EQ(Str("sprintf", {S("%x"), J(R"(["hi"])")}), "6869");
  EXPECT_EQ(Str("sprintf", {S("%d"), J(R"(["x"])")}), "%!d(string=x)");
  // Booleans and null arrive as their Rego text (a string), as in OPA.
  EXPECT_EQ(Str("sprintf", {S("%v %s"), J("[true, null]")}), "true null");
  EXPECT_EQ(Str("sprintf", {S("%t"), J("[true]")}), "%!t(string=true)");
  EXPECT_EQ(Str("sprintf", {S("%v"), J(R"([[1,"a"]])")}), Value::FromArray({J("1"), S("a")}).ToRegoString());
  EXPECT_EQ(Str("sprintf", {S("%v"), J(R"([{"a":1}])")}), J(R"({"a":1})").ToRegoString());
  EXPECT_EQ(Str("sprintf", {S("%v"), Value::FromArray({Value::FromSet({})})}), Value::FromSet({}).ToRegoString());
}

TEST(Sprintf, MalformedFormats) {
  EXPECT_EQ(Str("sprintf", {S("100%%"), J("[]")}), "100%");
  EXPECT_EQ(Str("sprintf", {S("%d %d"), J("[1]")}), "1 %!d(MISSING)");
  EXPECT_EQ(Str("sprintf", {S("%d"), J(R"([1,"a"])")}), "1%!(EXTRA string=a)");
  EXPECT_EQ(Str("sprintf", {S("%"), J("[]")}), "%!(NOVERB)");
  EXPECT_EQ(Str("sprintf", {S("%z"), J("[1]")}), "%!z(int=1)");
  EXPECT_EQ(Str("sprintf", {S("no verbs"), J("[]")}), "no verbs");
  EXPECT_EQ(Str("sprintf", {S("%*d"), J("[4, 1]")}), "   1");
  // Absurd widths must not allocate gigabytes.
  EXPECT_LT(Str("sprintf", {S("%999999999999d"), J("[1]")}).size(), 100u);
  EXPECT_LT(Str("sprintf", {S("%.999999999999f"), J("[1.5]")}).size(), 100u);
  EXPECT_EQ(TypeErr("sprintf", {S("%d"), J("1")}), "sprintf: operand 2 must be array but got number");
}

}  // namespace
}  // namespace contrast::policy::rego
