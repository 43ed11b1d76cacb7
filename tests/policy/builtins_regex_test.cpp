// Regex and glob builtins: Go regexp semantics on RE2.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "builtins_call.h"

namespace contrast::policy::rego {
namespace {

using testing::BuiltinErr;
using testing::J;
using testing::Ok;
using testing::S;
using testing::Str;
using testing::TypeErr;

TEST(RegexBuiltins, Match) {
  EXPECT_EQ(Ok("regex.match", {S("^a.c$"), S("abc")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.match", {S("b"), S("abc")}), Value::Bool(true));  // unanchored
  EXPECT_EQ(Ok("regex.match", {S("^b"), S("abc")}), Value::Bool(false));
  EXPECT_EQ(Ok("regex.match", {S("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), S("my-pod-1")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.match", {S("^(?:/[^/]+)+$"), S("/run/kata-containers/shared")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.match", {S(R"(^\d{2,3}$)"), S("1234")}), Value::Bool(false));
  EXPECT_EQ(Ok("regex.match", {S("^.$"), S("é")}), Value::Bool(true));  // UTF-8 aware
  EXPECT_EQ(Ok("regex.match", {S("(?i)^ABC$"), S("abc")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.match", {S("^a$"), S("a\n")}), Value::Bool(false));  // $ is end of text
  EXPECT_EQ(Ok("re_match", {S("^x+$"), S("xxx")}), Value::Bool(true));
  EXPECT_EQ(TypeErr("regex.match", {J("1"), S("a")}), "regex.match: operand 1 must be string but got number");
  EXPECT_EQ(TypeErr("regex.match", {S("a"), J("[]")}), "regex.match: operand 2 must be string but got array");
}

// Compiled patterns are kept per thread in a small table in front of the
// shared cache: many patterns that share a table slot, used in turn, must
// each still give their own answer.
TEST(RegexBuiltins, ManyPatternsInTurn) {
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 300; ++i) {
      const std::string n = std::to_string(i);
      EXPECT_EQ(Ok("regex.match", {S("^x" + n + "$"), S("x" + n)}), Value::Bool(true)) << n;
      EXPECT_EQ(Ok("regex.match", {S("^x" + n + "$"), S("x" + n + "0")}), Value::Bool(false)) << n;
    }
  }
}

TEST(RegexBuiltins, InvalidPatternsUseGoMessages) {
  EXPECT_EQ(BuiltinErr("regex.match", {S("(abc"), S("a")}),
            "regex.match: error parsing regexp: missing closing ): `(abc`");
  EXPECT_EQ(BuiltinErr("regex.match", {S("[a"), S("a")}), "regex.match: error parsing regexp: missing closing ]: `[a`");
  EXPECT_EQ(BuiltinErr("regex.match", {S("a)"), S("a")}), "regex.match: error parsing regexp: unexpected ): `a)`");
  EXPECT_EQ(BuiltinErr("regex.match", {S("*"), S("a")}),
            "regex.match: error parsing regexp: missing argument to repetition operator: `*`");
  EXPECT_EQ(BuiltinErr("regex.match", {S("(?<=a)b"), S("a")}).rfind("regex.match: error parsing regexp: ", 0), 0u);
  EXPECT_EQ(BuiltinErr("re_match", {S("("), S("a")}).rfind("re_match: error parsing regexp", 0), 0u);
  EXPECT_EQ(BuiltinErr("regex.find_n", {S("("), S("a"), J("1")}).rfind("regex.find_n: error parsing regexp", 0), 0u);
}

TEST(RegexBuiltins, IsValid) {
  EXPECT_EQ(Ok("regex.is_valid", {S("a+b*")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.is_valid", {S("[a")}), Value::Bool(false));
  EXPECT_EQ(Ok("regex.is_valid", {S("(?P<name>x)")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.is_valid", {S("(?<name>x)")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.is_valid", {J("5")}), Value::Bool(false));
}

TEST(RegexBuiltins, Split) {
  EXPECT_EQ(Ok("regex.split", {S("a"), S("banana")}), J(R"(["b","n","n",""])"));
  EXPECT_EQ(Ok("regex.split", {S(",\\s*"), S("a, b,c")}), J(R"(["a","b","c"])"));
  EXPECT_EQ(Ok("regex.split", {S("x"), S("")}), J(R"([""])"));
  EXPECT_EQ(Ok("regex.split", {S("x"), S("abc")}), J(R"(["abc"])"));
  EXPECT_EQ(Ok("regex.split", {S(""), S("abc")}), J(R"(["a","b","c"])"));
}

TEST(RegexBuiltins, FindN) {
  EXPECT_EQ(Ok("regex.find_n", {S("a."), S("banana"), J("-1")}), J(R"(["an","an"])"));
  EXPECT_EQ(Ok("regex.find_n", {S("a."), S("banana"), J("1")}), J(R"(["an"])"));
  EXPECT_EQ(Ok("regex.find_n", {S("a."), S("banana"), J("0")}), J("[]"));
  EXPECT_EQ(Ok("regex.find_n", {S("a."), S("banana"), J("1000000000000")}), J(R"(["an","an"])"));
  // Empty matches as Go reports them: none right after a previous match.
  EXPECT_EQ(Ok("regex.find_n", {S("x*"), S("abc"), J("-1")}), J(R"(["","","",""])"));
  EXPECT_EQ(Ok("regex.find_n", {S("a*"), S("baaac"), J("-1")}), J(R"(["","aaa",""])"));
  EXPECT_EQ(TypeErr("regex.find_n", {S("a"), S("a"), J("1.5")}),
            "regex.find_n: operand 3 must be integer number but got floating-point number");
}

TEST(RegexBuiltins, FindAllStringSubmatch) {
  EXPECT_EQ(Ok("regex.find_all_string_submatch_n", {S("([a-z]+)=([0-9]+)"), S("a=1 b=2 c=3"), J("-1")}),
            J(R"([["a=1","a","1"],["b=2","b","2"],["c=3","c","3"]])"));
  EXPECT_EQ(Ok("regex.find_all_string_submatch_n", {S("([a-z]+)=([0-9]+)"), S("a=1 b=2 c=3"), J("2")}),
            J(R"([["a=1","a","1"],["b=2","b","2"]])"));
  // Groups that do not take part are empty strings.
  EXPECT_EQ(Ok("regex.find_all_string_submatch_n", {S("(a)|(b)"), S("b"), J("-1")}), J(R"([["b","","b"]])"));
  // The Kata policy's use: split an image reference.
  EXPECT_EQ(Ok("regex.find_all_string_submatch_n", {S("^([^:]+):([^:]+)$"), S("registry.k8s.io/pause:3.9"), J("-1")}),
            J(R"([["registry.k8s.io/pause:3.9","registry.k8s.io/pause","3.9"]])"));
  EXPECT_EQ(Ok("regex.find_all_string_submatch_n", {S("z"), S("abc"), J("-1")}), J("[]"));
}

TEST(RegexBuiltins, Replace) {
  EXPECT_EQ(Str("regex.replace", {S("abc-def"), S("([a-z]+)"), S("<$1>")}), "<abc>-<def>");
  EXPECT_EQ(Str("regex.replace", {S("abc"), S("x*"), S("-")}), "-a-b-c-");
  EXPECT_EQ(Str("regex.replace", {S("a1b2"), S("[0-9]"), S("$$")}), "a$b$");
  EXPECT_EQ(Str("regex.replace", {S("key=val"), S("(?P<k>\\w+)=(?P<v>\\w+)"), S("${v}=${k}")}), "val=key");
  EXPECT_EQ(Str("regex.replace", {S("ab"), S("(a)"), S("$1x")}), "b");  // $1x names group "1x"
  EXPECT_EQ(Str("regex.replace", {S("ab"), S("(a)"), S("${1}x")}), "axb");
  EXPECT_EQ(Str("regex.replace", {S("ab"), S("a"), S("$")}), "$b");
  EXPECT_EQ(Str("regex.replace", {S("héllo"), S(""), S("-")}), "-h-é-l-l-o-");
}

TEST(RegexBuiltins, TemplateMatch) {
  EXPECT_EQ(Ok("regex.template_match", {S("urn:foo:{.*}"), S("urn:foo:bar:baz"), S("{"), S("}")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.template_match", {S("urn:foo.bar.com:{.*}"), S("urn:foo.bar.com:bar:baz"), S("{"), S("}")}),
            Value::Bool(true));
  EXPECT_EQ(Ok("regex.template_match", {S("urn:foo.bar.com:{.*}"), S("urn:fooXbar.com:bar"), S("{"), S("}")}),
            Value::Bool(false));
  EXPECT_EQ(Ok("regex.template_match", {S("urn:<[a-z]+>:x"), S("urn:abc:x"), S("<"), S(">")}), Value::Bool(true));
  EXPECT_EQ(Ok("regex.template_match", {S("urn:<[a-z]+>:x"), S("urn:abc:xy"), S("<"), S(">")}), Value::Bool(false));
  EXPECT_EQ(BuiltinErr("regex.template_match", {S("urn:{.*"), S("x"), S("{"), S("}")}),
            "regex.template_match: unbalanced braces in \"urn:{.*\"");
  EXPECT_EQ(BuiltinErr("regex.template_match", {S("a"), S("a"), S("{{"), S("}")}),
            "regex.template_match: start delimiter has to be exactly one character long but is 2 long");
}

TEST(GlobBuiltins, Match) {
  EXPECT_EQ(Ok("glob.match", {S("*.github.com"), J("[]"), S("api.github.com")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("*.github.com"), J("[]"), S("api.cdn.github.com")}), Value::Bool(false));
  EXPECT_EQ(Ok("glob.match", {S("**.github.com"), J("[]"), S("api.cdn.github.com")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("*hub.com"), J("null"), S("api.cdn.github.com")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("*:github:com"), J(R"([":"])"), S("api:github:com")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("?at"), J("[]"), S("cat")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("?at"), J("[]"), S(".at")}), Value::Bool(false));
  EXPECT_EQ(Ok("glob.match", {S("[a-c]at"), J("[]"), S("bat")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("[!a-c]at"), J("[]"), S("bat")}), Value::Bool(false));
  EXPECT_EQ(Ok("glob.match", {S("[!a-c]at"), J("[]"), S("dat")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("{cat,bat}"), J("[]"), S("bat")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("{cat,bat}"), J("[]"), S("rat")}), Value::Bool(false));
  EXPECT_EQ(Ok("glob.match", {S("a\\*b"), J("[]"), S("a*b")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S("a\\*b"), J("[]"), S("axb")}), Value::Bool(false));
  EXPECT_EQ(Ok("glob.match", {S("a.(b)+"), J("[]"), S("a.(b)+")}), Value::Bool(true));  // no regex leaks
  EXPECT_EQ(TypeErr("glob.match", {S("*"), S("."), S("a")}),
            "glob.match: operand 2 must be one of {array, null} but got string");
  EXPECT_EQ(BuiltinErr("glob.match", {S("[abc"), J("[]"), S("a")}), "glob.match: syntax error in pattern");
  EXPECT_EQ(BuiltinErr("glob.match", {S("[z-a]"), J("[]"), S("m")}), "glob.match: syntax error in pattern");
  // An escaped '-' in a class is a member, not a range.
  for (const char* in : {"-", "a", "z"}) {
    EXPECT_EQ(Ok("glob.match", {S(R"([a\-z])"), J("[]"), S(in)}), Value::Bool(true)) << in;
  }
  for (const char* out : {"m", "^", "\\"}) {
    EXPECT_EQ(Ok("glob.match", {S(R"([a\-z])"), J("[]"), S(out)}), Value::Bool(false)) << out;
  }
  EXPECT_EQ(Ok("glob.match", {S("[a-z]"), J("[]"), S("m")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S(R"([\]])"), J("[]"), S("]")}), Value::Bool(true));
}

TEST(GlobBuiltins, QuoteMeta) {
  EXPECT_EQ(Str("glob.quote_meta", {S("hello*world?[test]")}), R"(hello\*world\?\[test\])");
  EXPECT_EQ(Str("glob.quote_meta", {S("{a,b}\\")}), R"(\{a,b\}\\)");
  EXPECT_EQ(Str("glob.quote_meta", {S("hello\nworld.-!")}), "hello\nworld.-!");
  // Quoted text matches itself literally.
  const std::string quoted = Str("glob.quote_meta", {S("*.[ab]?")});
  EXPECT_EQ(Ok("glob.match", {S(quoted), J("[]"), S("*.[ab]?")}), Value::Bool(true));
  EXPECT_EQ(Ok("glob.match", {S(quoted), J("[]"), S("x.a!")}), Value::Bool(false));
  EXPECT_EQ(TypeErr("glob.quote_meta", {J("1")}), "glob.quote_meta: operand 1 must be string but got number");
}

TEST(GlobBuiltins, GlobsMatch) {
  const auto intersects = [](const char* a, const char* b) {
    return Ok("regex.globs_match", {S(a), S(b)}) == Value::Bool(true);
  };
  EXPECT_TRUE(intersects("a", "a"));
  EXPECT_TRUE(intersects("a*b", "a*b"));
  EXPECT_FALSE(intersects("a", "b"));
  EXPECT_TRUE(intersects(".*", "a.b"));
  EXPECT_TRUE(intersects("[a-c]+", "[b-d]+"));
  EXPECT_FALSE(intersects("[a-c]", "[d-f]"));
  EXPECT_TRUE(intersects("a+", "a*"));
  EXPECT_TRUE(intersects("a.*", ".*b"));
  EXPECT_FALSE(intersects("a+", "b*"));  // the only common string would be empty
  EXPECT_FALSE(intersects("a*", "b*"));
  EXPECT_TRUE(intersects("x*y*z", "z"));
  EXPECT_FALSE(intersects("ab", "abc"));
  EXPECT_TRUE(intersects(R"(a\.b)", "a.b"));
  EXPECT_FALSE(intersects(R"(a\.b)", "axb"));
  EXPECT_TRUE(intersects("[a-z]+@example\\.com", "alice@.*"));
  EXPECT_EQ(BuiltinErr("regex.globs_match", {S("[abc"), S("a")}),
            "regex.globs_match: input:[abc, pos:4, found [ without matching ]: the input provided is invalid");
  EXPECT_EQ(
      BuiltinErr("regex.globs_match", {S("a\\"), S("a")}),
      R"(regex.globs_match: input:a\, pos:1, input ends with a \\ (escape) character: the input provided is invalid)");
  EXPECT_EQ(BuiltinErr("regex.globs_match", {S("[z-a]"), S("a")}),
            "regex.globs_match: input:[z-a], pos:4, range is out of order: 'a' comes before 'z' in Unicode: the input "
            "provided is invalid");
  EXPECT_EQ(BuiltinErr("regex.globs_match", {S("a"), S("]")}),
            "regex.globs_match: input:], pos:1, set-close ']' with no preceding '[': the input provided is invalid");
  EXPECT_EQ(TypeErr("regex.globs_match", {S("a"), J("1")}),
            "regex.globs_match: operand 2 must be string but got number");
}

TEST(RegexBuiltins, EmptyMatchesAdvanceByRune) {
  // Go's FindAll: after an empty match the search moves one whole rune, and
  // the end of the subject is a match position too ("café" has 4 runes).
  EXPECT_EQ(Ok("regex.find_all_string_submatch_n", {S("(?:)"), S("caf\u00e9"), J("-1")}),
            J(R"([[""],[""],[""],[""],[""]])"));
  EXPECT_EQ(Ok("regex.find_n", {S("[a-c]*"), S("\u65e5"), J("-1")}), J(R"(["",""])"));
}

TEST(RegexBuiltins, HostileInputsStayLinear) {
  // Exponential for a backtracking engine; RE2 is linear.
  const std::string subject = std::string(100000, 'a') + "!";
  EXPECT_EQ(Ok("regex.match", {S("^(a+)+$"), S(subject)}), Value::Bool(false));
  EXPECT_EQ(Ok("regex.match", {S("(a|aa)*c"), S(subject)}), Value::Bool(false));
  // Patterns that would compile to huge programs are refused, not built.
  EXPECT_EQ(
      BuiltinErr("regex.match", {S("((a{100}){100}){100}"), S("a")}).rfind("regex.match: error parsing regexp", 0), 0u);
  // Invalid UTF-8 in the subject does not break matching.
  EXPECT_EQ(Ok("regex.match", {S("^a.*b$"), S("a\xff\xfe"
                                              "b")}),
            Value::Bool(false));
  EXPECT_EQ(Ok("regex.find_n", {S("b"),
                                S("a\xff"
                                  "b"),
                                J("-1")}),
            J(R"(["b"])"));
}

TEST(RegexBuiltins, CacheIsThreadSafe) {
  // More distinct patterns than the cache holds, from several threads, so
  // lookups, inserts and evictions race.
  constexpr int kThreads = 8;
  constexpr int kPatterns = 600;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < kPatterns; ++i) {
        const int n = (i * 7 + t * 13) % kPatterns;
        const std::string pattern = "^p" + std::to_string(n) + "-[0-9]+$";
        const auto match = testing::Call("regex.match", {S(pattern), S("p" + std::to_string(n) + "-42")});
        const auto miss = testing::Call("regex.match", {S(pattern), S("p" + std::to_string(n + 1) + "-42")});
        if (!match || *match != Value::Bool(true) || !miss || *miss != Value::Bool(false)) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace contrast::policy::rego
