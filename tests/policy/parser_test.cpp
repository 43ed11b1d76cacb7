// Tests of the Rego lexer and parser: every construct, the error messages,
// the limits, and every module of the shared test vectors.
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "policy/rego/ast.h"
#include "policy/rego/builtins.h"
#include "policy/rego/lexer.h"
#include "support/testdata.h"

namespace contrast::policy::rego::ast {
namespace {

using ::testing::HasSubstr;

Module MustParse(std::string_view source, RegoVersion version = RegoVersion::kV1) {
  auto module = ParseModule("test.rego", source, version);
  EXPECT_TRUE(module.has_value()) << (module ? "" : module.error().message);
  if (!module) return Module{};
  return *module;
}

std::string ParseError(std::string_view source, RegoVersion version = RegoVersion::kV1) {
  auto module = ParseModule("test.rego", source, version);
  EXPECT_FALSE(module.has_value()) << "parsed unexpectedly: " << source;
  if (module) return "";
  EXPECT_EQ(module.error().code, ErrorCode::kParse);
  EXPECT_EQ(OpaCodeOf(module.error()), kRegoParseError);
  return module.error().message;
}

Body MustQuery(std::string_view query) {
  auto body = ParseQuery(query);
  EXPECT_TRUE(body.has_value()) << (body ? "" : body.error().message);
  if (!body) return Body{};
  return *body;
}

std::string QueryTermString(std::string_view query) {
  Body body = MustQuery(query);
  if (body.size() != 1 || !body[0]->term) return "<not one term>";
  return ToString(*body[0]->term);
}

const Rule& OnlyRule(const Module& module) {
  static const Rule kEmpty;
  EXPECT_EQ(module.rules.size(), 1u);
  return module.rules.empty() ? kEmpty : *module.rules[0];
}

std::vector<std::string> PathStrings(const Rule& rule) {
  std::vector<std::string> out;
  for (const auto& term : rule.path) out.push_back(ToString(*term));
  return out;
}

// ---- lexer -----------------------------------------------------------------

TEST(RegoLexer, TokenKindsAndPositions) {
  auto tokens = lexer::Tokenize("f.rego", "a := 1.5e3 # c\n  b != \"x\"", ParseLimits{});
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 7u);
  EXPECT_EQ((*tokens)[0].kind, lexer::TokenKind::kIdent);
  EXPECT_EQ((*tokens)[1].kind, lexer::TokenKind::kAssign);
  EXPECT_EQ((*tokens)[2].kind, lexer::TokenKind::kNumber);
  EXPECT_EQ((*tokens)[2].text, "1.5e3");
  EXPECT_EQ((*tokens)[3].text, "b");
  EXPECT_TRUE((*tokens)[3].newline_before);
  EXPECT_EQ((*tokens)[3].line, 2);
  EXPECT_EQ((*tokens)[3].column, 3);
  EXPECT_EQ((*tokens)[4].kind, lexer::TokenKind::kNotEqual);
  EXPECT_EQ((*tokens)[5].value, "x");
  EXPECT_EQ((*tokens)[6].kind, lexer::TokenKind::kEof);
}

TEST(RegoLexer, StringEscapes) {
  auto tokens = lexer::Tokenize("f.rego", R"("a\"b\\c\/\n\t\u00e9\ud83d\ude00\ud800x")", ParseLimits{});
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message;
  EXPECT_EQ((*tokens)[0].value, "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx");
}

TEST(RegoLexer, RawStringsKeepBackslashesAndNewlines) {
  auto tokens = lexer::Tokenize("f.rego", "`a\\.b\nc` d", ParseLimits{});
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message;
  EXPECT_EQ((*tokens)[0].value, "a\\.b\nc");
  EXPECT_FALSE((*tokens)[1].newline_before);
  EXPECT_EQ((*tokens)[1].line, 2);
}

TEST(RegoLexer, Errors) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"\"abc", "1:1: rego_parse_error: non-terminated string"},
      {"\"a\nb\"", "1:1: rego_parse_error: non-terminated string"},
      {"`abc", "non-terminated raw string"},
      {"\"\\q\"", "1:2: rego_parse_error: invalid escape"},
      {"\"\\u12\"", "invalid \\u escape"},
      {"a ! b", "1:3: rego_parse_error: illegal token '!'"},
      {"a \x01", "illegal character 0x01"},
      {"1e", "exponent"},
      {"12abc", "invalid number"},
      {"\"\xff\"", "invalid UTF-8"},
  };
  for (const auto& [source, want] : cases) {
    auto tokens = lexer::Tokenize("f.rego", source, ParseLimits{});
    ASSERT_FALSE(tokens.has_value()) << source;
    EXPECT_THAT(tokens.error().message, HasSubstr(want)) << source;
  }
}

TEST(RegoLexer, TemplateStringsSplitAroundPlaceholders) {
  using lexer::TokenKind;
  auto tokens = lexer::Tokenize("f.rego", R"($"a\{{x}b{ {1: $"{y}"} }\n\}" z)", ParseLimits{});
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message;
  std::vector<TokenKind> kinds;
  for (const auto& token : *tokens) kinds.push_back(token.kind);
  EXPECT_EQ(kinds,
            (std::vector<TokenKind>{TokenKind::kTemplateHead, TokenKind::kIdent, TokenKind::kTemplateMiddle,
                                    TokenKind::kLBrace, TokenKind::kNumber, TokenKind::kColon, TokenKind::kTemplateHead,
                                    TokenKind::kIdent, TokenKind::kTemplateTail, TokenKind::kRBrace,
                                    TokenKind::kTemplateTail, TokenKind::kIdent, TokenKind::kEof}));
  EXPECT_EQ((*tokens)[0].value, "a{");
  EXPECT_EQ((*tokens)[2].value, "b");
  EXPECT_EQ((*tokens)[6].value, "");
  EXPECT_EQ((*tokens)[10].value, "\n}");
  EXPECT_EQ((*tokens)[11].text, "z");
}

TEST(RegoLexer, RawTemplateStrings) {
  auto tokens = lexer::Tokenize("f.rego", "$`a\\.\\{\n{x}` y\n$`plain`", ParseLimits{});
  ASSERT_TRUE(tokens.has_value()) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 6u);
  EXPECT_EQ((*tokens)[0].kind, lexer::TokenKind::kTemplateHead);
  EXPECT_EQ((*tokens)[0].value, "a\\.{\n");
  EXPECT_EQ((*tokens)[2].kind, lexer::TokenKind::kTemplateTail);
  EXPECT_FALSE((*tokens)[3].newline_before);  // the newline was inside the template
  EXPECT_EQ((*tokens)[3].line, 2);
  EXPECT_EQ((*tokens)[4].kind, lexer::TokenKind::kTemplateFull);
  EXPECT_EQ((*tokens)[4].value, "plain");
  EXPECT_TRUE((*tokens)[4].newline_before);
}

TEST(RegoLexer, TemplateStringErrors) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"$\"abc", "1:1: rego_parse_error: non-terminated template string"},
      {"x $\"a{b", "1:3: rego_parse_error: non-terminated template string"},
      {"$\"a\nb\"", "non-terminated template string"},
      {"$`a{ {1} x", "non-terminated template string"},
      {"$\"{x\\}\"", "illegal token '\\'"},
      {"$\"\\q\"", "invalid escape"},
      {"$x", "illegal token '$'"},
  };
  for (const auto& [source, want] : cases) {
    auto tokens = lexer::Tokenize("f.rego", source, ParseLimits{});
    ASSERT_FALSE(tokens.has_value()) << source;
    EXPECT_THAT(tokens.error().message, HasSubstr(want)) << source;
  }
  ParseLimits limits;
  limits.max_nesting = 3;
  auto deep = lexer::Tokenize("f.rego", "$\"{$\"{$\"{$\"{x}\"}\"}\"}\"", limits);
  ASSERT_FALSE(deep.has_value());
  EXPECT_THAT(deep.error().message, HasSubstr("nested deeper than 3"));
}

TEST(RegoLexer, TrailingNulIsIgnored) {
  const std::string source("package p\n\0", 11);
  EXPECT_TRUE(ParseModule("f.rego", source, RegoVersion::kV1).has_value());
}

TEST(RegoLexer, LineLengthLimit) {
  ParseLimits limits;
  limits.max_line_length = 10;
  auto tokens = lexer::Tokenize("f.rego", "a\nbbbbbbbbbbbbbbbbbbbbbbbb\n", limits);
  ASSERT_FALSE(tokens.has_value());
  EXPECT_THAT(tokens.error().message, HasSubstr("f.rego:2:1: rego_parse_error: line is longer than 10 bytes"));
}

// internal.template_string, the builtin template strings are parsed into.
TEST(RegoTemplateBuiltin, RendersPiecesAndUndefined) {
  BuiltinRegistry registry;
  RegisterTemplateBuiltins(registry);
  const Builtin* builtin = registry.Find("internal.template_string");
  ASSERT_NE(builtin, nullptr);
  ASSERT_EQ(builtin->arity, 1);
  auto run = [&](Value::Array parts) {
    const Value operand = Value::FromArray(std::move(parts));
    return builtin->function(std::span<const Value>(&operand, 1));
  };
  auto set = [](Value::Set items) { return Value::FromSet(std::move(items)); };
  auto rendered =
      run({Value::String("a "), Value::Int(42), Value::String(" "), Value::Bool(false), Value::String(" "),
           Value::Null(), Value::String(" "), set({}), Value::String(" "), set({Value::String("s")}),
           Value::String(" "), set({Value::FromArray({Value::String("x"), Value::Int(1)})}), Value::String(" "),
           set({set({})}), Value::String(" "), set({Value::FromObject({{Value::String("k"), set({Value::Int(1)})}})})});
  ASSERT_TRUE(rendered.has_value()) << rendered.error().message;
  EXPECT_EQ(*rendered, Value::String("a 42 false null <undefined> s [\"x\", 1] set() {\"k\": {1}}"));
  EXPECT_EQ(*run({}), Value::String(""));

  auto several = run({set({Value::Int(1), Value::Int(2)})});
  ASSERT_FALSE(several.has_value());
  EXPECT_THAT(several.error().message, HasSubstr("template-strings must not produce multiple outputs"));
  auto array = run({Value::FromArray({})});
  ASSERT_FALSE(array.has_value());
  EXPECT_EQ(array.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(array.error().message, HasSubstr("illegal argument type: array"));
  const Value not_array = Value::String("x");
  EXPECT_FALSE(builtin->function(std::span<const Value>(&not_array, 1)).has_value());
}

// ---- module structure ------------------------------------------------------

TEST(RegoParser, PackageAndImports) {
  Module module = MustParse(
      "package a.b[\"c.d\"]\n"
      "import data.x.y as z\n"
      "import input.req\n"
      "import future.keywords\n"
      "import future.keywords.in\n"
      "import rego.v1\n");
  EXPECT_EQ(module.filename, "test.rego");
  EXPECT_EQ(module.package, (std::vector<std::string>{"a", "b", "c.d"}));
  ASSERT_EQ(module.imports.size(), 5u);
  EXPECT_EQ(module.imports[0].path, (std::vector<std::string>{"data", "x", "y"}));
  EXPECT_EQ(module.imports[0].alias, "z");
  EXPECT_EQ(module.imports[1].path, (std::vector<std::string>{"input", "req"}));
  EXPECT_EQ(module.imports[1].alias, "");
  EXPECT_EQ(module.imports[4].path, (std::vector<std::string>{"rego", "v1"}));
  EXPECT_EQ(module.imports[2].location.line, 4);
  EXPECT_EQ(module.location.line, 1);
}

TEST(RegoParser, CompleteRules) {
  Module module = MustParse(
      "package p\n"
      "a := 1\n"
      "b = \"x\"\n"
      "c if input.x > 1\n"
      "d := {\"k\": [1, 2]} if {\n  true\n}\n");
  ASSERT_EQ(module.rules.size(), 4u);
  const Rule& a = *module.rules[0];
  EXPECT_EQ(a.kind, RuleKind::kComplete);
  EXPECT_TRUE(a.assign);
  EXPECT_EQ(PathStrings(a), std::vector<std::string>{"\"a\""});
  EXPECT_EQ(ToString(*a.value), "1");
  EXPECT_TRUE(a.body.empty());
  EXPECT_EQ(a.head_text, "a := 1");
  EXPECT_EQ(a.location.line, 2);
  EXPECT_EQ(a.location.column, 1);
  EXPECT_EQ(a.location.file, "test.rego");
  const Rule& b = *module.rules[1];
  EXPECT_FALSE(b.assign);
  EXPECT_EQ(ToString(*b.value), "\"x\"");
  const Rule& c = *module.rules[2];
  EXPECT_EQ(ToString(*c.value), "true");
  ASSERT_EQ(c.body.size(), 1u);
  EXPECT_EQ(c.body[0]->text, "input.x > 1");
  EXPECT_EQ(ToString(*c.body[0]->term), "input.x > 1");
  EXPECT_EQ(c.head_text, "c");
  const Rule& d = *module.rules[3];
  EXPECT_EQ(ToString(*d.value), "{\"k\": [1, 2]}");
  EXPECT_EQ(d.body.size(), 1u);
}

TEST(RegoParser, DefaultRules) {
  Module module = MustParse("package p\ndefault allow := false\ndefault f(_) := 0\ndefault g = 1\n");
  ASSERT_EQ(module.rules.size(), 3u);
  EXPECT_TRUE(module.rules[0]->is_default);
  EXPECT_EQ(module.rules[0]->kind, RuleKind::kComplete);
  EXPECT_EQ(ToString(*module.rules[0]->value), "false");
  EXPECT_EQ(module.rules[0]->head_text, "default allow := false");
  EXPECT_EQ(module.rules[1]->kind, RuleKind::kFunction);
  ASSERT_EQ(module.rules[1]->args.size(), 1u);
  EXPECT_EQ(module.rules[1]->args[0]->type, TermType::kVar);
  EXPECT_EQ(module.rules[1]->args[0]->name, "_$1");
  EXPECT_FALSE(module.rules[2]->assign);
}

TEST(RegoParser, PartialSetAndObjectRulesV1) {
  Module module = MustParse(
      "package p\n"
      "s contains x if { some x in input.xs }\n"
      "o[k] := v if { some k, v in input.obj }\n"
      "t contains \"a\"\n"
      "u[k] if k := \"z\"\n");
  ASSERT_EQ(module.rules.size(), 4u);
  const Rule& s = *module.rules[0];
  EXPECT_EQ(s.kind, RuleKind::kPartialSet);
  EXPECT_EQ(ToString(*s.key), "x");
  EXPECT_EQ(PathStrings(s), std::vector<std::string>{"\"s\""});
  const Rule& o = *module.rules[1];
  EXPECT_EQ(o.kind, RuleKind::kPartialObject);
  EXPECT_EQ(ToString(*o.key), "k");
  EXPECT_EQ(ToString(*o.value), "v");
  EXPECT_TRUE(o.assign);
  EXPECT_EQ(module.rules[2]->kind, RuleKind::kPartialSet);
  EXPECT_TRUE(module.rules[2]->body.empty());
  EXPECT_EQ(module.rules[3]->kind, RuleKind::kPartialObject);
  EXPECT_EQ(ToString(*module.rules[3]->value), "true");
}

TEST(RegoParser, RefHeads) {
  Module module = MustParse(
      "package p\n"
      "a.b.c := 1\n"
      "a.b[x] := y if { x := \"k\"; y := 2 }\n"
      "a[\"q\"].r := 3\n"
      "a.s contains 4\n");
  ASSERT_EQ(module.rules.size(), 4u);
  EXPECT_EQ(module.rules[0]->kind, RuleKind::kComplete);
  EXPECT_EQ(PathStrings(*module.rules[0]), (std::vector<std::string>{"\"a\"", "\"b\"", "\"c\""}));
  EXPECT_EQ(module.rules[1]->kind, RuleKind::kPartialObject);
  EXPECT_EQ(PathStrings(*module.rules[1]), (std::vector<std::string>{"\"a\"", "\"b\""}));
  EXPECT_EQ(ToString(*module.rules[1]->key), "x");
  EXPECT_EQ(module.rules[1]->body.size(), 2u);
  EXPECT_EQ(PathStrings(*module.rules[2]), (std::vector<std::string>{"\"a\"", "\"q\"", "\"r\""}));
  EXPECT_EQ(module.rules[3]->kind, RuleKind::kPartialSet);
  EXPECT_EQ(PathStrings(*module.rules[3]), (std::vector<std::string>{"\"a\"", "\"s\""}));
}

TEST(RegoParser, Functions) {
  Module module = MustParse(
      "package p\n"
      "f(x, [a, b]) := x + a if { b }\n"
      "g(x) if x > 1\n"
      "h(x) := x\n");
  ASSERT_EQ(module.rules.size(), 3u);
  const Rule& f = *module.rules[0];
  EXPECT_EQ(f.kind, RuleKind::kFunction);
  ASSERT_EQ(f.args.size(), 2u);
  EXPECT_EQ(ToString(*f.args[1]), "[a, b]");
  EXPECT_EQ(ToString(*f.value), "x + a");
  EXPECT_EQ(f.head_text, "f(x, [a, b]) := x + a");
  EXPECT_EQ(ToString(*module.rules[1]->value), "true");
  EXPECT_TRUE(module.rules[2]->body.empty());
}

TEST(RegoParser, ElseChains) {
  Module module = MustParse(
      "package p\n"
      "f(x) := 1 if {\n  x == 1\n} else := 2 if {\n  x == 2\n}\nelse := 3\n"
      "q if { false } else = \"no\" if { true }\n");
  ASSERT_EQ(module.rules.size(), 2u);
  const Rule& f = *module.rules[0];
  ASSERT_NE(f.else_rule, nullptr);
  EXPECT_EQ(f.else_rule->kind, RuleKind::kFunction);
  EXPECT_EQ(f.else_rule->args.size(), 1u);
  EXPECT_EQ(ToString(*f.else_rule->value), "2");
  EXPECT_EQ(f.else_rule->head_text, "else := 2");
  EXPECT_EQ(f.else_rule->location.line, 4);
  ASSERT_NE(f.else_rule->else_rule, nullptr);
  EXPECT_EQ(ToString(*f.else_rule->else_rule->value), "3");
  EXPECT_TRUE(f.else_rule->else_rule->body.empty());
  EXPECT_EQ(f.else_rule->else_rule->else_rule, nullptr);
  EXPECT_FALSE(module.rules[1]->else_rule->assign);
}

TEST(RegoParser, V0Rules) {
  Module module = MustParse(
      "package p\n"
      "allow { input.x == 1 }\n"
      "s[x] { x := input.xs[_] }\n"
      "o[k] = v { some k; v := input.o[k] }\n"
      "f(x) = y { y := x }\n"
      "g(x) { x }\n"
      "c = 5\n"
      "h(x) = 1 { x } else = 2 { true } else { true }\n",
      RegoVersion::kV0);
  ASSERT_EQ(module.rules.size(), 7u);
  EXPECT_EQ(module.version, RegoVersion::kV0);
  EXPECT_EQ(module.rules[0]->kind, RuleKind::kComplete);
  EXPECT_EQ(ToString(*module.rules[0]->value), "true");
  EXPECT_EQ(module.rules[1]->kind, RuleKind::kPartialSet);
  EXPECT_EQ(ToString(*module.rules[1]->key), "x");
  EXPECT_EQ(module.rules[2]->kind, RuleKind::kPartialObject);
  EXPECT_EQ(module.rules[3]->kind, RuleKind::kFunction);
  EXPECT_EQ(module.rules[4]->kind, RuleKind::kFunction);
  EXPECT_EQ(ToString(*module.rules[4]->value), "true");
  EXPECT_EQ(module.rules[5]->kind, RuleKind::kComplete);
  EXPECT_EQ(ToString(*module.rules[6]->else_rule->else_rule->value), "true");
}

TEST(RegoParser, V0KeywordsNeedImports) {
  // Without imports, `in`, `if`, `contains` and `every` are ordinary names.
  Module plain = MustParse("package p\nq { in := 1; every := 2; if := in + every }\n", RegoVersion::kV0);
  EXPECT_EQ(plain.rules[0]->body.size(), 3u);
  ParseError("package p\nq { x in [1] }\n", RegoVersion::kV0);
  ParseError("package p\nq if { true }\n", RegoVersion::kV0);

  Module with_in = MustParse("package p\nimport future.keywords.in\nq { 1 in [1] }\n", RegoVersion::kV0);
  EXPECT_EQ(with_in.rules[0]->body[0]->term->name, "internal.member_2");
  Module all =
      MustParse("package p\nimport future.keywords\ns contains 1 if { every x in [1] { x > 0 } }\nt[x] { x := 1 }\n",
                RegoVersion::kV0);
  EXPECT_EQ(all.rules[0]->kind, RuleKind::kPartialSet);
  EXPECT_EQ(all.rules[0]->body[0]->type, ExprType::kEvery);
  EXPECT_EQ(all.rules[1]->kind, RuleKind::kPartialSet);
  // `import rego.v1` switches a v0 module to v1 rules.
  EXPECT_THAT(ParseError("package p\nimport rego.v1\nq { true }\n", RegoVersion::kV0),
              HasSubstr("`if` keyword is required"));
  // `contains` stays callable as a builtin.
  Module call = MustParse("package p\nq if contains(\"abc\", \"b\")\n");
  EXPECT_EQ(call.rules[0]->body[0]->term->name, "contains");
}

// ---- expressions -----------------------------------------------------------

TEST(RegoParser, OperatorPrecedence) {
  EXPECT_EQ(QueryTermString("x := 1 + 2 * 3"), "x := 1 + 2 * 3");
  Body body = MustQuery("x := 1 + 2 * 3 - 4 % 2");
  const Term& assign = *body[0]->term;
  EXPECT_EQ(assign.name, "assign");
  const Term& minus = *assign.operands[1];
  EXPECT_EQ(minus.name, "minus");
  EXPECT_EQ(minus.operands[0]->name, "plus");
  EXPECT_EQ(minus.operands[0]->operands[1]->name, "mul");
  EXPECT_EQ(minus.operands[1]->name, "rem");

  body = MustQuery("a | b & c == d");
  EXPECT_EQ(body[0]->term->name, "equal");
  EXPECT_EQ(body[0]->term->operands[0]->name, "or");
  EXPECT_EQ(body[0]->term->operands[0]->operands[1]->name, "and");

  body = MustQuery("x = y < z");
  EXPECT_EQ(body[0]->term->name, "eq");
  EXPECT_EQ(body[0]->term->operands[1]->name, "lt");

  body = MustQuery("a != b; c <= d; e >= f; g > h; i / j");
  EXPECT_EQ(body[0]->term->name, "neq");
  EXPECT_EQ(body[1]->term->name, "lte");
  EXPECT_EQ(body[2]->term->name, "gte");
  EXPECT_EQ(body[3]->term->name, "gt");
  EXPECT_EQ(body[4]->term->name, "div");
}

TEST(RegoParser, Membership) {
  Body body = MustQuery("x in xs; k, v in {\"a\": 1}; not 3 in [1, 2]; y := 1 + 1 in s");
  ASSERT_EQ(body.size(), 4u);
  EXPECT_EQ(body[0]->term->name, "internal.member_2");
  EXPECT_EQ(body[1]->term->name, "internal.member_3");
  EXPECT_EQ(body[1]->term->operands.size(), 3u);
  EXPECT_TRUE(body[2]->negated);
  EXPECT_EQ(body[2]->term->name, "internal.member_2");
  EXPECT_EQ(body[3]->term->operands[1]->name, "internal.member_2");
  EXPECT_EQ(ToString(*body[3]->term), "y := 1 + 1 in s");
  EXPECT_EQ(ToString(*body[1]->term), "k, v in {\"a\": 1}");
}

TEST(RegoParser, NegativeNumbersAndUnaryMinus) {
  Body body = MustQuery("x := -1; y := [1, -2.5]; z := -a; w := a-1");
  EXPECT_EQ(body[0]->term->operands[1]->type, TermType::kValue);
  EXPECT_EQ(ToString(*body[0]->term->operands[1]), "-1");
  EXPECT_EQ(ToString(*body[1]->term->operands[1]), "[1, -2.5]");
  const Term& neg = *body[2]->term->operands[1];
  EXPECT_EQ(neg.name, "minus");
  EXPECT_EQ(ToString(*neg.operands[0]), "0");
  EXPECT_EQ(body[3]->term->operands[1]->name, "minus");
}

TEST(RegoParser, ReferencesAndCalls) {
  Body body = MustQuery("input.a.b[x][\"c d\"][0]; regex.match(`^a`, s); f(x)[0].y; data.lib.f(1); count([])");
  const Term& ref = *body[0]->term;
  EXPECT_EQ(ref.type, TermType::kRef);
  ASSERT_EQ(ref.operands.size(), 6u);
  EXPECT_EQ(ref.operands[0]->type, TermType::kVar);
  EXPECT_EQ(ref.operands[0]->name, "input");
  EXPECT_EQ(ref.operands[1]->value, Value::String("a"));
  EXPECT_EQ(ref.operands[3]->type, TermType::kVar);
  EXPECT_EQ(ToString(ref), "input.a.b[x][\"c d\"][0]");
  EXPECT_EQ(body[1]->term->type, TermType::kCall);
  EXPECT_EQ(body[1]->term->name, "regex.match");
  EXPECT_EQ(body[1]->term->operands[0]->value, Value::String("^a"));
  const Term& call_ref = *body[2]->term;
  EXPECT_EQ(call_ref.type, TermType::kRef);
  EXPECT_EQ(call_ref.operands[0]->type, TermType::kCall);
  EXPECT_EQ(call_ref.operands[0]->name, "f");
  EXPECT_EQ(ToString(call_ref), "f(x)[0].y");
  EXPECT_EQ(body[3]->term->name, "data.lib.f");
  EXPECT_EQ(ToString(*body[4]->term), "count([])");
}

TEST(RegoParser, Collections) {
  Body body =
      MustQuery("a := [1, \"x\", null, true, false,]; b := {\"k\": 1, 2: [3]}; c := {1, 2}; d := set(); e := {}");
  EXPECT_EQ(body[0]->term->operands[1]->type, TermType::kArray);
  EXPECT_EQ(body[0]->term->operands[1]->operands.size(), 5u);
  EXPECT_EQ(body[1]->term->operands[1]->type, TermType::kObject);
  EXPECT_EQ(body[1]->term->operands[1]->operands.size(), 4u);
  EXPECT_EQ(body[2]->term->operands[1]->type, TermType::kSet);
  EXPECT_EQ(body[3]->term->operands[1]->type, TermType::kSet);
  EXPECT_TRUE(body[3]->term->operands[1]->operands.empty());
  EXPECT_EQ(ToString(*body[3]->term->operands[1]), "set()");
  EXPECT_EQ(body[4]->term->operands[1]->type, TermType::kObject);
  EXPECT_EQ(ToString(*body[1]->term->operands[1]), "{\"k\": 1, 2: [3]}");
}

TEST(RegoParser, Comprehensions) {
  Body body = MustQuery(
      "a := [x | x := xs[_]; x > 1]\n"
      "b := {x | some x in xs}\n"
      "c := {k: v | some k, v in o\n  v != null}\n"
      "d := [x | x := {1} | {2}]");
  ASSERT_EQ(body.size(), 4u);
  const Term& a = *body[0]->term->operands[1];
  EXPECT_EQ(a.type, TermType::kArrayComprehension);
  EXPECT_EQ(a.body.size(), 2u);
  EXPECT_EQ(ToString(a), "[x | x := xs[_]; x > 1]");
  EXPECT_EQ(body[1]->term->operands[1]->type, TermType::kSetComprehension);
  const Term& c = *body[2]->term->operands[1];
  EXPECT_EQ(c.type, TermType::kObjectComprehension);
  EXPECT_EQ(c.operands.size(), 2u);
  EXPECT_EQ(c.body.size(), 2u);
  EXPECT_EQ(c.body[1]->text, "v != null");
  EXPECT_EQ(body[3]->term->operands[1]->body[0]->term->operands[1]->name, "or");
}

TEST(RegoParser, SomeEveryNotWith) {
  Body body = MustQuery(
      "some x, y\n"
      "some v in xs\n"
      "some k, [a, b] in xs\n"
      "every x in xs { x > 0 }\n"
      "every k, v in o { k != v; v }\n"
      "not p with input as {\"a\": 1} with data.x.y as 2\n"
      "q with count as my_count\n"
      "  with input.z as 1");
  ASSERT_EQ(body.size(), 7u);
  EXPECT_EQ(body[0]->type, ExprType::kSome);
  EXPECT_EQ(body[0]->vars, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(body[1]->type, ExprType::kSomeIn);
  EXPECT_EQ(body[1]->key, nullptr);
  EXPECT_EQ(ToString(*body[1]->value), "v");
  EXPECT_EQ(ToString(*body[1]->domain), "xs");
  EXPECT_EQ(body[2]->type, ExprType::kSomeIn);
  EXPECT_EQ(ToString(*body[2]->key), "k");
  EXPECT_EQ(ToString(*body[2]->value), "[a, b]");
  EXPECT_EQ(body[3]->type, ExprType::kEvery);
  EXPECT_EQ(body[3]->key, nullptr);
  EXPECT_EQ(body[3]->body.size(), 1u);
  EXPECT_EQ(body[4]->type, ExprType::kEvery);
  EXPECT_EQ(ToString(*body[4]->key), "k");
  EXPECT_EQ(body[4]->body.size(), 2u);
  EXPECT_TRUE(body[5]->negated);
  ASSERT_EQ(body[5]->with.size(), 2u);
  EXPECT_EQ(ToString(*body[5]->with[0].target), "input");
  EXPECT_EQ(ToString(*body[5]->with[1].target), "data.x.y");
  EXPECT_EQ(ToString(*body[5]->with[1].value), "2");
  EXPECT_EQ(body[6]->with.size(), 2u);
  EXPECT_EQ(body[6]->with[0].target->type, TermType::kVar);
  EXPECT_EQ(body[6]->text, "q with count as my_count\n  with input.z as 1");
}

TEST(RegoParser, TemplateStrings) {
  Body body = MustQuery(R"(x := $"Hello, {input.name}! {1}{"s"} {[a | a := 1]}"; y := $"plain"; z := $``)");
  ASSERT_EQ(body.size(), 3u);
  const Term& call = *body[0]->term->operands[1];
  ASSERT_EQ(call.type, TermType::kCall);
  EXPECT_EQ(call.name, "internal.template_string");
  ASSERT_EQ(call.operands.size(), 1u);
  const Term& parts = *call.operands[0];
  ASSERT_EQ(parts.type, TermType::kArray);
  ASSERT_EQ(parts.operands.size(), 7u);
  EXPECT_EQ(parts.operands[0]->value, Value::String("Hello, "));
  // An expression that may be undefined is collected into a set.
  const Term& name = *parts.operands[1];
  EXPECT_EQ(name.type, TermType::kSetComprehension);
  EXPECT_EQ(ToString(name), "{_$1 | _$1 = input.name}");
  EXPECT_EQ(parts.operands[2]->value, Value::String("! "));
  EXPECT_EQ(parts.operands[3]->value, Value::Int(1));  // scalars stay as they are
  EXPECT_EQ(parts.operands[4]->value, Value::String("s"));
  EXPECT_EQ(parts.operands[5]->value, Value::String(" "));
  EXPECT_EQ(ToString(*parts.operands[6]), "{_$2 | _$2 = [a | a := 1]}");
  EXPECT_EQ(body[1]->term->operands[1]->value, Value::String("plain"));
  EXPECT_EQ(body[2]->term->operands[1]->value, Value::String(""));
}

TEST(RegoParser, TemplateStringPlaceholdersTakeWithAndSpanLines) {
  Module module = MustParse(
      "package p\n"
      "msg := $\"Hello {input.name with input as {\"name\": \"w\"}}!\"\n"
      "multi := $\"{[x |\n  some x in xs\n  x > 1\n]} and {$\"{y}\"}\" if {\n  y := 1\n}\n");
  ASSERT_EQ(module.rules.size(), 2u);
  const Term& msg = *module.rules[0]->value;
  ASSERT_EQ(msg.name, "internal.template_string");
  const Term& placeholder = *msg.operands[0]->operands[1];
  ASSERT_EQ(placeholder.type, TermType::kSetComprehension);
  ASSERT_EQ(placeholder.body.size(), 1u);
  ASSERT_EQ(placeholder.body[0]->with.size(), 1u);
  EXPECT_EQ(ToString(*placeholder.body[0]->with[0].target), "input");
  EXPECT_EQ(placeholder.body[0]->text, "_$1 = input.name with input as {\"name\": \"w\"}");
  const Term& multi = *module.rules[1]->value;
  ASSERT_EQ(multi.operands[0]->operands.size(), 3u);
  EXPECT_EQ(multi.operands[0]->operands[0]->body[0]->term->operands[1]->body.size(), 2u);
  const Term& nested = *multi.operands[0]->operands[2]->body[0]->term->operands[1];
  EXPECT_EQ(nested.name, "internal.template_string");
  EXPECT_EQ(module.rules[1]->body.size(), 1u);
}

TEST(RegoParser, NotBodyWithRegoV2) {
  Module module = MustParse(
      "package p\nimport rego.v2\np if {\n  not { input.a; input.b }\n  not {\n    x := 1\n    x > 2\n  } with input "
      "as 1\n}\n");
  const Rule& p = OnlyRule(module);
  ASSERT_EQ(p.body.size(), 2u);
  // `not { body }` is "the body has no solution": [true | body] == [].
  EXPECT_FALSE(p.body[0]->negated);
  EXPECT_EQ(ToString(*p.body[0]->term), "[true | input.a; input.b] == []");
  EXPECT_EQ(p.body[0]->text, "not { input.a; input.b }");
  EXPECT_EQ(p.body[1]->term->operands[0]->body.size(), 2u);
  EXPECT_EQ(p.body[1]->with.size(), 1u);
  // rego.v2 implies v1 keywords and rules, also in a v0 module.
  Module v0 = MustParse("package p\nimport rego.v2\nq contains x if { x := 1; not { x > 2 } }\n", RegoVersion::kV0);
  EXPECT_EQ(OnlyRule(v0).kind, RuleKind::kPartialSet);
  // Without rego.v2, `not {` negates a set or object term, as before.
  Module v1 = MustParse("package p\nq if { not {1} }\n");
  EXPECT_TRUE(OnlyRule(v1).body[0]->negated);
  EXPECT_EQ(OnlyRule(v1).body[0]->term->type, TermType::kSet);
  EXPECT_THAT(ParseError("package p\nimport rego.v2\nq if { not { } }\n"), HasSubstr("found empty body"));
}

TEST(RegoParser, CallsThroughBracketedStrings) {
  Body body = MustQuery("data.p.fruit[\"color.name\"](a, \"green\"); a.b[\"c\"](1); f(x)");
  ASSERT_EQ(body.size(), 3u);
  const Term& bracketed = *body[0]->term;
  ASSERT_EQ(bracketed.type, TermType::kCall);
  EXPECT_EQ(bracketed.name, "data.p.fruit[\"color.name\"]");
  EXPECT_EQ(bracketed.name_segments, (std::vector<std::string>{"data", "p", "fruit", "color.name"}));
  EXPECT_EQ(bracketed.operands.size(), 2u);
  EXPECT_EQ(ToString(bracketed), "data.p.fruit[\"color.name\"](a, \"green\")");
  EXPECT_EQ(body[1]->term->name, "a.b.c");
  EXPECT_EQ(body[1]->term->name_segments, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(body[2]->term->name, "f");
  EXPECT_EQ(body[2]->term->name_segments, (std::vector<std::string>{"f"}));
  // Operators are calls without segments.
  EXPECT_TRUE(MustQuery("1 + 2 == 3")[0]->term->name_segments.empty());
  EXPECT_FALSE(ParseQuery("x[y](1) = z").has_value());
}

TEST(RegoParser, NumbersBeyondFloat64) {
  Body body = MustQuery("x := [1e400, 1e399, -1e400, 1e-400, 1234567890123456789012]");
  const Term& array = *body[0]->term->operands[1];
  ASSERT_EQ(array.operands.size(), 5u);
  for (const auto& element : array.operands) EXPECT_TRUE(element->value.is_number()) << ToString(*element);
  EXPECT_GT(Compare(array.operands[0]->value, array.operands[1]->value), 0);
  EXPECT_LT(Compare(array.operands[2]->value, array.operands[3]->value), 0);
  EXPECT_GT(Compare(array.operands[3]->value, Value::Int(0)), 0);
  EXPECT_EQ(ToString(*array.operands[4]), "1234567890123456789012");
}

TEST(RegoParser, WildcardsAreUnique) {
  Body body = MustQuery("x := a[_][_]; _ = 1");
  const Term& ref = *body[0]->term->operands[1];
  EXPECT_EQ(ref.operands[1]->name, "_$1");
  EXPECT_EQ(ref.operands[2]->name, "_$2");
  EXPECT_EQ(body[1]->term->operands[0]->name, "_$3");
}

TEST(RegoParser, NewlinesSeparateExpressionsButNotInsideBrackets) {
  Body body = MustQuery("x := [1,\n 2]\ny := f(\n 1,\n 2)\nz := {\"a\":\n 1}\nw := (1 +\n 2)");
  ASSERT_EQ(body.size(), 4u);
  body = MustQuery("a\n[1] = b");
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0]->term->type, TermType::kVar);
}

TEST(RegoParser, ExprLocationsAndText) {
  Module module = MustParse("package p\n\nq if {\n  x := 1\n    y := x + 1\n}\n");
  const Rule& q = OnlyRule(module);
  ASSERT_EQ(q.body.size(), 2u);
  EXPECT_EQ(q.body[1]->location.line, 5);
  EXPECT_EQ(q.body[1]->location.column, 5);
  EXPECT_EQ(q.body[1]->text, "y := x + 1");
  EXPECT_EQ(q.body[1]->term->operands[1]->location.column, 10);
}

TEST(RegoParser, InfixOperatorsContinueOnTheNextLine) {
  Body body = MustQuery("y = {1}\n  | {2}\nz := 1 +\n  2");
  ASSERT_EQ(body.size(), 2u);
  EXPECT_EQ(body[0]->term->operands[1]->name, "or");
  EXPECT_EQ(body[1]->term->operands[1]->name, "plus");
}

TEST(RegoParser, PipeInCollectionsFallsBackToUnion) {
  Body body = MustQuery("g := [a | b]; h := [a | b, 4]; i := {a: b | c}; j := {a: b, c: d | e}; k := {a | b, c}");
  EXPECT_EQ(body[0]->term->operands[1]->type, TermType::kArrayComprehension);
  const Term& h = *body[1]->term->operands[1];
  EXPECT_EQ(h.type, TermType::kArray);
  EXPECT_EQ(ToString(h), "[a | b, 4]");
  EXPECT_EQ(h.operands[0]->name, "or");
  EXPECT_EQ(body[2]->term->operands[1]->type, TermType::kObjectComprehension);
  const Term& j = *body[3]->term->operands[1];
  EXPECT_EQ(j.type, TermType::kObject);
  EXPECT_EQ(j.operands[3]->name, "or");
  EXPECT_EQ(body[4]->term->operands[1]->type, TermType::kSet);
  EXPECT_EQ(body[4]->term->operands[1]->operands.size(), 2u);
}

TEST(RegoParser, IfBraceFallsBackToATerm) {
  Module module = MustParse("package p\nq if {x: 1 | x := \"a\"}\nr if {1, 2}\n");
  ASSERT_EQ(module.rules.size(), 2u);
  ASSERT_EQ(module.rules[0]->body.size(), 1u);
  EXPECT_EQ(module.rules[0]->body[0]->term->type, TermType::kObjectComprehension);
  EXPECT_EQ(module.rules[1]->body[0]->term->type, TermType::kSet);
}

TEST(RegoParser, ParenthesesAllowKeyValueMembership) {
  Body body = MustQuery("(0, 2 in [2]) in [true]; f((1, 1 in [2]))");
  EXPECT_EQ(body[0]->term->name, "internal.member_2");
  EXPECT_EQ(body[0]->term->operands[0]->name, "internal.member_3");
  EXPECT_EQ(body[1]->term->operands[0]->name, "internal.member_3");
}

TEST(RegoParser, MultipleBodiesMakeSeveralRules) {
  Module module = MustParse("package p\nd := v if {\n  v := 1\n} {\n  v := 2\n}\n");
  ASSERT_EQ(module.rules.size(), 2u);
  EXPECT_EQ(module.rules[0]->head_text, module.rules[1]->head_text);
  EXPECT_EQ(module.rules[1]->location.line, 4);
  EXPECT_EQ(module.rules[1]->body[0]->text, "v := 2");
}

TEST(RegoParser, BracketedStringsInRuleNames) {
  Module module = MustParse("package p\nfoo[\"bar\"](x) := x + 1\nfruit[\"a.b\"].c := 2\n");
  ASSERT_EQ(module.rules.size(), 2u);
  EXPECT_EQ(module.rules[0]->kind, RuleKind::kFunction);
  EXPECT_EQ(PathStrings(*module.rules[0]), (std::vector<std::string>{"\"foo\"", "\"bar\""}));
  EXPECT_EQ(PathStrings(*module.rules[1]), (std::vector<std::string>{"\"fruit\"", "\"a.b\"", "\"c\""}));
}

TEST(RegoParserErrors, BacktrackingIsBounded) {
  // Each unclosed `[a |` has two readings; without a budget this would take
  // exponential time.
  std::string source = "x := ";
  for (int i = 0; i < 200; ++i) source += "[a | ";
  auto body = ParseQuery(source);
  ASSERT_FALSE(body.has_value());
  EXPECT_THAT(body.error().message, HasSubstr("rego_parse_error"));
}

// ---- errors ----------------------------------------------------------------

TEST(RegoParserErrors, MessagesCarryPositions) {
  EXPECT_THAT(ParseError("package p\nq if {\n  x := 1\n  }}\n"),
              HasSubstr("test.rego:4:4: rego_parse_error: unexpected '}' token"));
  EXPECT_THAT(ParseError("package p\nq if { x := }\n"), HasSubstr("test.rego:2:13: rego_parse_error: unexpected '}'"));
  EXPECT_THAT(ParseError("package p\n:= 1\n"),
              HasSubstr("2:1: rego_parse_error: unexpected ':=' token: expected ident"));
  EXPECT_THAT(ParseError("package p\nq if { x := [1, 2 }\n"), HasSubstr("2:19"));
  EXPECT_THAT(ParseError("package p\nq if {\n"), HasSubstr("3:1: rego_parse_error: unexpected eof token"));
}

TEST(RegoParserErrors, ModuleStructure) {
  EXPECT_THAT(ParseError(""), HasSubstr("empty module"));
  EXPECT_THAT(ParseError("q := 1\n"), HasSubstr("package expected"));
  EXPECT_THAT(ParseError("package p\npackage q\n"), HasSubstr("unexpected package keyword"));
  EXPECT_THAT(ParseError("package p\nimport foo.bar\n"), HasSubstr("invalid import path"));
  EXPECT_THAT(ParseError("package p\nimport future.keywords.nope\n"), HasSubstr("unknown future keyword"));
  EXPECT_THAT(ParseError("package p\nimport rego.v9\n"), HasSubstr("rego.v1"));
  EXPECT_THAT(ParseError("package p\nimport future.keywords as k\n"), HasSubstr("cannot be aliased"));
}

TEST(RegoParserErrors, RuleForms) {
  EXPECT_THAT(ParseError("package p\nq { true }\n"), HasSubstr("2:3: rego_parse_error: `if` keyword is required"));
  EXPECT_THAT(ParseError("package p\ns[x] { x := 1 }\n"), HasSubstr("`if` keyword is required"));
  EXPECT_THAT(ParseError("package p\nq\n"), HasSubstr("rule must have a value assignment or a body"));
  EXPECT_THAT(ParseError("package p\ndefault q\n"), HasSubstr("default rule must have a value"));
  EXPECT_THAT(ParseError("package p\ndefault q := 1 if { true }\n"), HasSubstr("default rules have no body"));
  EXPECT_THAT(ParseError("package p\nq if {}\n"), HasSubstr("found empty body"));
  EXPECT_THAT(ParseError("package p\nq := 1 else := 2\n"), HasSubstr("without a body"));
  EXPECT_THAT(ParseError("package p\nq := 1 if { true } else := 2 { true }\n"), HasSubstr("`if` keyword is required"));
  EXPECT_THAT(ParseError("package p\nq contains 1 if { true }\n", RegoVersion::kV0), HasSubstr("ident 'contains'"));
  EXPECT_THAT(ParseError("package p\nf(x\n"), HasSubstr("3:1: rego_parse_error: unexpected eof token: expected ')'"));
  EXPECT_THAT(ParseError("package p\ns contains 1 if { true } else := 2\n"), HasSubstr("multi-value"));
  EXPECT_THAT(ParseError("package p\na[x].f(y) := 1\n"), HasSubstr("function names cannot contain variables"));
  EXPECT_THAT(ParseError("package p\ntrue := 1\n"), HasSubstr("expected ident"));
  EXPECT_THAT(ParseError("package p\nq := 1 if { not }\n"), HasSubstr("unexpected '}' token"));
  EXPECT_THAT(ParseError("package p\nq if { some 1 }\n"), HasSubstr("expected variables"));
  EXPECT_THAT(ParseError("package p\nq if { every x { true } }\n"), HasSubstr("expected 'in'"));
  EXPECT_THAT(ParseError("package p\nq if { x with y }\n"), HasSubstr("expected 'as'"));
  EXPECT_THAT(ParseError("package p\nq if { x := [y | ] }\n"), HasSubstr("found empty body"));
  EXPECT_THAT(ParseError("package p\nq if { x := {1: } }\n"), HasSubstr("unexpected '}' token"));
}

TEST(RegoParserErrors, Queries) {
  auto empty = ParseQuery("  # nothing\n");
  ASSERT_FALSE(empty.has_value());
  EXPECT_THAT(empty.error().message, HasSubstr("empty query"));
  auto bad = ParseQuery("x := 1 2");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "query:1:8: rego_parse_error: unexpected number token");
}

TEST(RegoParserErrors, NestingLimit) {
  std::string deep(100000, '[');
  auto body = ParseQuery("x := " + deep);
  ASSERT_FALSE(body.has_value());
  EXPECT_THAT(body.error().message, HasSubstr("nesting is deeper than 512"));

  ParseLimits limits;
  limits.max_nesting = 10;
  EXPECT_TRUE(ParseQuery("x := [[[1]]]", limits).has_value());
  EXPECT_FALSE(ParseQuery("x := [[[[[[[[[[[[1]]]]]]]]]]]]", limits).has_value());
  std::string minus(100000, '-');
  EXPECT_FALSE(ParseQuery("x := " + minus + "y").has_value());
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "[x | ";
  EXPECT_FALSE(ParseQuery(nots).has_value());
}

TEST(RegoParserErrors, SizeLimit) {
  ParseLimits limits;
  limits.max_bytes = 16;
  auto module = ParseModule("big.rego", "package p\nq := \"0123456789\"\n", RegoVersion::kV1, limits);
  ASSERT_FALSE(module.has_value());
  EXPECT_THAT(module.error().message, HasSubstr("larger than 16 bytes"));
}

// ---- ToString --------------------------------------------------------------

TEST(RegoToString, OpaLikeRendering) {
  EXPECT_EQ(QueryTermString("data.a[\"b-c\"].d[x]"), "data.a[\"b-c\"].d[x]");
  EXPECT_EQ(QueryTermString("{x | x := 1}"), "{x | x := 1}");
  EXPECT_EQ(QueryTermString("{k: v | k := 1; v := 2}"), "{k: v | k := 1; v := 2}");
  EXPECT_EQ(QueryTermString("[1, {2}, {\"a\": null}]"), "[1, {2}, {\"a\": null}]");
  EXPECT_EQ(QueryTermString("x = \"a\\nb\""), "x = \"a\\nb\"");
  EXPECT_EQ(QueryTermString("a - b / c"), "a - b / c");
}

// ---- data: every module of the shared vectors ------------------------------

std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir, std::string_view extension) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::filesystem::path& path) {
  const Bytes bytes =
      contrast::testing::ReadTestdata(std::filesystem::relative(path, contrast::testing::TestdataDir()).string());
  return std::string(bytes.begin(), bytes.end());
}

TEST(RegoParserData, KataAgentSessionPoliciesParseAsV0) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto dir = contrast::testing::TestdataDir() / "kata" / "agent-sessions";
  auto files = FilesUnder(dir, ".rego");
  ASSERT_GE(files.size(), 13u);
  for (const auto& file : files) {
    const std::string source = ReadFile(file);
    auto module = ParseModule(file.filename().string(), source, RegoVersion::kV0);
    ASSERT_TRUE(module.has_value()) << file << ": " << module.error().message;
    EXPECT_EQ(module->package, std::vector<std::string>{"agent_policy"});
    EXPECT_GT(module->rules.size(), 50u) << file;
  }
}

TEST(RegoParserData, AciPoliciesParseAsV1) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto dir = contrast::testing::TestdataDir() / "rego" / "rego-cpp" / "aci";
  auto files = FilesUnder(dir, ".rego");
  ASSERT_EQ(files.size(), 3u);
  for (const auto& file : files) {
    auto module = ParseModule(file.filename().string(), ReadFile(file), RegoVersion::kV1);
    ASSERT_TRUE(module.has_value()) << file << ": " << module.error().message;
    EXPECT_FALSE(module->rules.empty()) << file;
  }
}

// Cases whose modules use language the parser deliberately rejects, with the
// reason. Everything else in the vectors must parse.
const std::map<std::string, std::string>& KnownUnsupported() {
  static const auto* const kCases = new std::map<std::string, std::string>{
      {"regression/virtual-cache key scope", "ref heads with variables before the last element"},
  };
  return *kCases;
}

// A module entry is Rego text, or the name of a .rego file beside the YAML.
std::string ModuleSource(const std::filesystem::path& yaml_file, const std::string& entry) {
  if (entry.find('\n') == std::string::npos && entry.ends_with(".rego")) {
    return ReadFile(yaml_file.parent_path() / entry);
  }
  return entry;
}

TEST(RegoParserData, ConformanceModulesParse) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto dir = contrast::testing::TestdataDir() / "rego";
  auto files = FilesUnder(dir, ".yaml");
  ASSERT_GT(files.size(), 100u);
  size_t modules = 0;
  size_t queries = 0;
  for (const auto& file : files) {
    const bool v0 = file.filename().string().starts_with("v0_");
    const RegoVersion version = v0 ? RegoVersion::kV0 : RegoVersion::kV1;
    YAML::Node root = YAML::LoadFile(file.string());
    for (const auto& test_case : root["cases"]) {
      const std::string note = test_case["note"] ? test_case["note"].as<std::string>() : "";
      const bool wants_parse_error =
          test_case["want_error_code"] && test_case["want_error_code"].as<std::string>() == kRegoParseError;
      if (KnownUnsupported().contains(note)) continue;
      bool failed = false;
      std::string first_error;
      for (const auto& module_node : test_case["modules"]) {
        const std::string source = ModuleSource(file, module_node.as<std::string>());
        auto module = ParseModule("mod.rego", source, version);
        ++modules;
        if (!module) {
          failed = true;
          first_error = module.error().message;
        }
      }
      if (test_case["query"] && !wants_parse_error) {
        ++queries;
        auto body = ParseQuery(test_case["query"].as<std::string>());
        EXPECT_TRUE(body.has_value()) << file.filename() << " " << note << ": " << body.error().message;
      }
      if (wants_parse_error) {
        EXPECT_TRUE(failed) << file.filename() << " " << note << ": expected a parse error";
      } else {
        EXPECT_FALSE(failed) << file.filename() << " " << note << ": " << first_error;
      }
    }
  }
  EXPECT_GT(modules, 300u);
  EXPECT_GT(queries, 300u);
}

}  // namespace
}  // namespace contrast::policy::rego::ast
