// Duration, semantic-version and URI builtins.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "builtins_call.h"

namespace contrast::policy::rego {
namespace {

using testing::BuiltinErr;
using testing::J;
using testing::Ok;
using testing::S;
using testing::TypeErr;

Value Duration(const std::string& s) { return Ok("time.parse_duration_ns", {S(s)}); }

TEST(TimeBuiltins, ParseDurationFollowsGo) {
  EXPECT_EQ(Duration("0"), J("0"));
  EXPECT_EQ(Duration("-0"), J("0"));
  EXPECT_EQ(Duration("0s"), J("0"));
  EXPECT_EQ(Duration("1h30m"), J("5400000000000"));
  EXPECT_EQ(Duration("-5s"), J("-5000000000"));
  EXPECT_EQ(Duration("+5s"), J("5000000000"));
  EXPECT_EQ(Duration(".5s"), J("500000000"));
  EXPECT_EQ(Duration("5.s"), J("5000000000"));
  EXPECT_EQ(Duration("007s"), J("7000000000"));
  EXPECT_EQ(Duration("1.5h"), J("5400000000000"));
  EXPECT_EQ(Duration("300ms"), J("300000000"));
  EXPECT_EQ(Duration("2h45m3.000000001s"), J("9903000000001"));
  EXPECT_EQ(Duration("1us"), J("1000"));
  EXPECT_EQ(Duration("1\u00b5s"), J("1000"));
  EXPECT_EQ(Duration("1\u03bcs"), J("1000"));
  EXPECT_EQ(Duration("1ns"), J("1"));
  // Fraction digits beyond int64 precision are dropped, not an error.
  EXPECT_EQ(Duration("0.1000000000000000000000000001s"), J("100000000"));
  EXPECT_EQ(Duration("9223372036854775807ns"), J("9223372036854775807"));
  EXPECT_EQ(Duration("-9223372036854775808ns"), J("-9223372036854775808"));
}

TEST(TimeBuiltins, ParseDurationLongUnits) {
  EXPECT_EQ(Duration("1d"), J("86400000000000"));
  EXPECT_EQ(Duration("2w"), J("1209600000000000"));
  EXPECT_EQ(Duration("1y"), J("31536000000000000"));
  EXPECT_EQ(Duration("1d2h30m"), J("95400000000000"));
}

TEST(TimeBuiltins, ParseDurationErrorsAreGos) {
  const auto error = [](const std::string& s) { return BuiltinErr("time.parse_duration_ns", {S(s)}); };
  EXPECT_EQ(error(""), R"(time.parse_duration_ns: time: invalid duration "")");
  EXPECT_EQ(error("-"), R"(time.parse_duration_ns: time: invalid duration "-")");
  EXPECT_EQ(error("xx1s"), R"(time.parse_duration_ns: time: invalid duration "xx1s")");
  EXPECT_EQ(error("."), R"(time.parse_duration_ns: time: invalid duration ".")");
  EXPECT_EQ(error(".s"), R"(time.parse_duration_ns: time: invalid duration ".s")");
  EXPECT_EQ(error("1"), R"(time.parse_duration_ns: time: missing unit in duration "1")");
  EXPECT_EQ(error("1d2x"), R"(time.parse_duration_ns: time: unknown unit "x" in duration "1d2x")");
  EXPECT_EQ(error("1e3ms"), R"(time.parse_duration_ns: time: unknown unit "e" in duration "1e3ms")");
  EXPECT_EQ(error("3\xffs"), R"(time.parse_duration_ns: time: unknown unit "\xffs" in duration "3\xffs")");
  EXPECT_EQ(error("10000000000000000000h"),
            R"(time.parse_duration_ns: time: invalid duration "10000000000000000000h")");
  EXPECT_EQ(error("9223372036854775808ns"),
            R"(time.parse_duration_ns: time: invalid duration "9223372036854775808ns")");
  EXPECT_EQ(error("300000y"), R"(time.parse_duration_ns: time: invalid duration "300000y")");
  EXPECT_EQ(TypeErr("time.parse_duration_ns", {J("1")}),
            "time.parse_duration_ns: operand 1 must be string but got number");
}

TEST(TimeBuiltins, NowReadsTheClock) {
  const auto before =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const Value now = Ok("time.now_ns", {});
  ASSERT_TRUE(now.is_number());
  const auto ns = now.as_number().ToInt64();
  ASSERT_TRUE(ns.has_value());
  EXPECT_GE(*ns, before);
}

int Compare(const char* a, const char* b) {
  const Value v = Ok("semver.compare", {S(a), S(b)});
  return v.is_number() ? static_cast<int>(v.as_number().ToInt64().value_or(99)) : 99;
}

TEST(SemVerBuiltins, Compare) {
  EXPECT_EQ(Compare("1.0.0", "1.0.0"), 0);
  EXPECT_EQ(Compare("0.2.0", "0.10.0"), -1);
  EXPECT_EQ(Compare("2.0.0", "1.99.99"), 1);
  EXPECT_EQ(Compare("1.0.0-alpha", "1.0.0"), -1);
  EXPECT_EQ(Compare("1.0.0", "1.0.0-rc.1"), 1);
  // SemVer 2.0.0's precedence example, in order.
  const char* chain[] = {"1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                         "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0"};
  for (size_t i = 0; i + 1 < std::size(chain); ++i) {
    EXPECT_EQ(Compare(chain[i], chain[i + 1]), -1) << chain[i];
    EXPECT_EQ(Compare(chain[i + 1], chain[i]), 1) << chain[i];
  }
  EXPECT_EQ(Compare("1.0.0+build.1", "1.0.0+build.2"), 0);  // metadata does not count
  EXPECT_EQ(BuiltinErr("semver.compare", {S("1.0"), S("1.0.0")}),
            R"(semver.compare: operand 1: string "1.0" is not a valid SemVer)");
  EXPECT_EQ(BuiltinErr("semver.compare", {S("1.0.0"), S("x")}),
            R"(semver.compare: operand 2: string "x" is not a valid SemVer)");
  EXPECT_EQ(TypeErr("semver.compare", {J("1"), S("1.0.0")}), "semver.compare: operand 1 must be string but got number");
}

TEST(SemVerBuiltins, IsValid) {
  for (const char* ok : {"1.0.0", "0.0.0", "1.2.3-alpha.1", "1.2.3+meta-data.7", "1.2.3-rc-1+b", "10.20.30"}) {
    EXPECT_EQ(Ok("semver.is_valid", {S(ok)}), Value::Bool(true)) << ok;
  }
  for (const char* bad : {"", "1", "1.0", "1.0.0.0", "v1.0.0", "1.0.0-a..b", "1.0.x", "a.b.c", "1.0.0-al_pha",
                          "99999999999999999999.0.0"}) {
    EXPECT_EQ(Ok("semver.is_valid", {S(bad)}), Value::Bool(false)) << bad;
  }
  // OPA's parser takes an empty pre-release or build part as absent.
  EXPECT_EQ(Ok("semver.is_valid", {S("1.0.0-")}), Value::Bool(true));
  EXPECT_EQ(Ok("semver.is_valid", {S("1.0.0+")}), Value::Bool(true));
  EXPECT_EQ(Ok("semver.is_valid", {J("1")}), Value::Bool(false));
  EXPECT_EQ(Ok("semver.is_valid", {J("null")}), Value::Bool(false));
}

TEST(UriBuiltins, Parse) {
  EXPECT_EQ(Ok("uri.parse", {S("http://[fe80::1%25eth0]:8080/")}),
            J(R"({"scheme":"http","hostname":"fe80::1%eth0","port":"8080","path":"/","raw_path":"/"})"));
  EXPECT_EQ(Ok("uri.parse", {S("mailto:user@example.com")}), J(R"({"scheme":"mailto"})"));
  EXPECT_EQ(Ok("uri.parse", {S("HTTPS://bob:pw@example.com/a%20b?x=1&y=2#frag%21")}),
            J(R"({"scheme":"https","username":"bob","password":"pw","hostname":"example.com",
                  "path":"/a b","raw_path":"/a%20b","query":"x=1&y=2","fragment":"frag!"})"));
  EXPECT_EQ(Ok("uri.parse", {S("/relative/path")}), J(R"({"path":"/relative/path","raw_path":"/relative/path"})"));
  EXPECT_EQ(BuiltinErr("uri.parse", {S("http://a\tb.com")}), R"(uri.parse: invalid URI "http://a\tb.com")");
  EXPECT_EQ(TypeErr("uri.parse", {J("1")}), "uri.parse: operand 1 must be string but got number");
}

TEST(UriBuiltins, IsValid) {
  for (const char* ok : {"http://example.com/path", "https://example.com:443", "urn:isbn:0451450523", "a/b", ""}) {
    EXPECT_EQ(Ok("uri.is_valid", {S(ok)}), Value::Bool(true)) << ok;
  }
  for (const char* bad :
       {"http://a\tb.com", "http://example.com:port/", "http://[::1/", "%zz", ":no-scheme", "http://host/%4", "1a:b"}) {
    EXPECT_EQ(Ok("uri.is_valid", {S(bad)}), Value::Bool(false)) << bad;
  }
  EXPECT_EQ(Ok("uri.is_valid", {J("1")}), Value::Bool(false));
}

}  // namespace
}  // namespace contrast::policy::rego
