// Semantics of the Rego compiler and evaluator, case by case: module text,
// query, expected result as JSON (or an expected error code).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "policy/rego/engine.h"
#include "policy/rego/errors.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Value Json(std::string_view text) {
  auto value = Value::FromJson(text);
  EXPECT_TRUE(value.has_value()) << text;
  return value ? *value : Value();
}

struct Case {
  Case(std::vector<std::string> modules_in = {}, std::string data_in = "{}", std::string input_in = "")
      : modules(std::move(modules_in)), data(std::move(data_in)), input(std::move(input_in)) {}
  std::vector<std::string> modules;
  std::string data;
  std::string input;  // empty: no input
  bool strict = false;
  RegoVersion version = RegoVersion::kV1;
};

Result<QueryResult> RunCase(const Case& setup, std::string_view query) {
  Engine engine;
  for (size_t i = 0; i < setup.modules.size(); ++i) {
    auto added = engine.AddModule("test-" + std::to_string(i) + ".rego", setup.modules[i], setup.version);
    if (!added) return Fail(added.error());
  }
  if (auto added = engine.AddData(Json(setup.data)); !added) return Fail(added.error());
  EvalOptions options;
  Value input;
  if (!setup.input.empty()) {
    input = Json(setup.input);
    options.input = &input;
  }
  options.strict_builtin_errors = setup.strict;
  return engine.EvalQuery(query, options);
}

// The binding of `x` in each row, as compact JSON.
std::vector<std::string> Xs(const Case& setup, std::string_view query = "x := data.test.p") {
  auto result = RunCase(setup, query);
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
  std::vector<std::string> out;
  if (!result) return {"<error>"};
  for (const auto& row : result->rows) {
    auto it = row.bindings.find("x");
    out.push_back(it == row.bindings.end() ? "<unbound>" : it->second.ToJson());
  }
  return out;
}

std::string ErrorOf(const Case& setup, std::string_view query = "x := data.test.p") {
  auto result = RunCase(setup, query);
  if (result) return "<no error>";
  return result.error().message;
}

std::string Module(std::string_view body) { return "package test\n" + std::string(body); }

// ------------------------------------------------------------------ rules

TEST(RegoEvalTest, CompleteRuleValue) {
  EXPECT_THAT(Xs({{Module("p := 7")}}), ElementsAre("7"));
  EXPECT_THAT(Xs({{Module("p if { 1 > 0 }")}}), ElementsAre("true"));
  EXPECT_THAT(Xs({{Module("p if { 1 < 0 }")}}), ElementsAre());
}

TEST(RegoEvalTest, FalseIsDefined) {
  EXPECT_THAT(Xs({{Module("p := false")}}), ElementsAre("false"));
  EXPECT_THAT(Xs({{Module("q := false\np if { q }")}}), ElementsAre());
  EXPECT_THAT(Xs({{Module("q := false\np if { not q }")}}), ElementsAre("true"));
}

TEST(RegoEvalTest, DefaultOnlyWhenNoBodySucceeds) {
  EXPECT_THAT(Xs({{Module("default p := 1\np := 2 if { input.x }")}, "{}", R"({"x": true})"}), ElementsAre("2"));
  EXPECT_THAT(Xs({{Module("default p := 1\np := 2 if { input.x }")}, "{}", R"({})"}), ElementsAre("1"));
}

TEST(RegoEvalTest, SeveralDefinitionsAreOr) {
  EXPECT_THAT(Xs({{Module("p if { false }\np if { true }")}}), ElementsAre("true"));
  EXPECT_THAT(Xs({{Module("p = 1 if { true }\np = 1 if { true }")}}), ElementsAre("1"));
}

TEST(RegoEvalTest, CompleteRuleConflict) {
  const std::string error = ErrorOf({{Module("p = 1 if { true }\np = 2 if { true }")}});
  EXPECT_THAT(error, HasSubstr("eval_conflict_error"));
  EXPECT_THAT(error, HasSubstr("complete rules must not produce multiple outputs"));
  EXPECT_THAT(ErrorOf({{Module("xs := [1, 2]\np := xs[_]")}}), HasSubstr("eval_conflict_error"));
}

TEST(RegoEvalTest, PartialSetRule) {
  EXPECT_THAT(Xs({{Module("p contains x if { some x in [3, 1, 3] }")}}), ElementsAre("[1,3]"));
  EXPECT_THAT(Xs({{Module("p contains x if { x := input.none }")}}), ElementsAre("[]"));
}

TEST(RegoEvalTest, PartialObjectRule) {
  EXPECT_THAT(Xs({{Module("p[k] := v if { some k, v in {\"a\": 1, \"b\": 2} }")}}), ElementsAre(R"({"a":1,"b":2})"));
  EXPECT_THAT(ErrorOf({{Module("p[k] := v if { k := \"a\"; v := [1, 2][_] }")}}),
              HasSubstr("object keys must be unique"));
}

TEST(RegoEvalTest, RefHeadRules) {
  EXPECT_THAT(Xs({{Module("a.b.c := 1\na.b.d := 2")}}, "x := data.test.a"), ElementsAre(R"({"b":{"c":1,"d":2}})"));
  EXPECT_THAT(Xs({{Module("a.b[k] := 1 if { some k in [\"x\", \"y\"] }")}}, "x := data.test.a.b"),
              ElementsAre(R"({"x":1,"y":1})"));
}

TEST(RegoEvalTest, Functions) {
  EXPECT_THAT(Xs({{Module("f(x) := x + 1\np := f(2)")}}), ElementsAre("3"));
  EXPECT_THAT(Xs({{Module("f(1) := \"one\"\nf(2) := \"two\"\np := [f(1), f(2)]")}}), ElementsAre(R"(["one","two"])"));
  EXPECT_THAT(Xs({{Module("f(x) if { x > 1 }\np if { f(2) }")}}), ElementsAre("true"));
  EXPECT_THAT(Xs({{Module("f(x) if { x > 1 }\np if { not f(0) }")}}), ElementsAre("true"));
  EXPECT_THAT(Xs({{Module("f([a, b]) := a + b\np := f([1, 2])")}}), ElementsAre("3"));
  EXPECT_THAT(ErrorOf({{Module("f(_) := 1\nf(_) := 2\np := f(0)")}}),
              HasSubstr("functions must not produce multiple outputs for same inputs"));
}

TEST(RegoEvalTest, ElseChains) {
  const std::string m = Module(R"(
f(x) := "neg" if { x < 0 } else := "zero" if { x == 0 } else := "pos"
p := [f(-1), f(0), f(5)])");
  EXPECT_THAT(Xs({{m}}), ElementsAre(R"(["neg","zero","pos"])"));
}

// ------------------------------------------------------------------ bodies

TEST(RegoEvalTest, UnificationBothWays) {
  EXPECT_THAT(Xs({{}}, "[x, 2] = [1, y]"), ElementsAre("1"));
  EXPECT_THAT(Xs({{}}, R"({"a": x} = {"a": [1]})"), ElementsAre("[1]"));
  EXPECT_THAT(Xs({{}}, "x = 1; x = 2"), ElementsAre());
}

TEST(RegoEvalTest, BodiesAreReordered) { EXPECT_THAT(Xs({{}}, "y > 1; x := y + 1; y := 5"), ElementsAre("6")); }

TEST(RegoEvalTest, IterationOverRefs) {
  EXPECT_THAT(Xs({{}, R"({"a": [1, 2, 3]})"}, "x := data.a[i]; i > 0"), ElementsAre("2", "3"));
  EXPECT_THAT(Xs({{}, R"({"a": {"k": "v"}})"}, "data.a[x]"), ElementsAre(R"("k")"));
  EXPECT_THAT(Xs({{}}, "x := {1, 2}[_]"), ElementsAre("1", "2"));
}

TEST(RegoEvalTest, SomeInAndEvery) {
  EXPECT_THAT(Xs({{}}, "some x in [1, 2]"), ElementsAre("1", "2"));
  EXPECT_THAT(Xs({{}}, R"(some x, "b" in {"a": "b", "c": "d"})"), ElementsAre(R"("a")"));
  EXPECT_THAT(Xs({{Module("p if { every x in [1, 2] { x > 0 } }")}}), ElementsAre("true"));
  EXPECT_THAT(Xs({{Module("p if { every x in [1, 2] { x > 1 } }")}}), ElementsAre());
  EXPECT_THAT(Xs({{Module("p if { every x in [] { x > 1 } }")}}), ElementsAre("true"));
  EXPECT_THAT(Xs({{Module("p if { every k, v in {\"a\": 1} { k == \"a\"; v == 1 } }")}}), ElementsAre("true"));
}

TEST(RegoEvalTest, Negation) {
  EXPECT_THAT(Xs({{}, R"({"a": [1, 2]})"}, "x := 3; not x in data.a"), ElementsAre("3"));
  EXPECT_THAT(Xs({{}, R"({"a": [1, 2]})"}, "x := 1; not data.a[_] == 5"), ElementsAre("1"));
}

TEST(RegoEvalTest, Comprehensions) {
  EXPECT_THAT(Xs({{}}, "x := [y * 2 | some y in [1, 2]]"), ElementsAre("[2,4]"));
  EXPECT_THAT(Xs({{}}, "x := {y | some y in [1, 1, 2]}"), ElementsAre("[1,2]"));
  EXPECT_THAT(Xs({{}}, R"(x := {k: v | some k, v in {"a": 1}})"), ElementsAre(R"({"a":1})"));
  EXPECT_THAT(Xs({{}}, "z := 2; x := [y | some y in [1, 2, 3]; y >= z]"), ElementsAre("[2,3]"));
  EXPECT_THAT(ErrorOf({{}}, R"(x := {k: v | some v in [1, 2]; k := "a"})"), HasSubstr("object keys must be unique"));
}

TEST(RegoEvalTest, RefsOnCallsAndComprehensions) {
  EXPECT_THAT(Xs({{}}, R"(x := split("a.b", ".")[1])"), ElementsAre(R"("b")"));
  EXPECT_THAT(Xs({{}}, "x := [y | some y in [5, 6]][1]"), ElementsAre("6"));
}

TEST(RegoEvalTest, OutputArgumentForm) { EXPECT_THAT(Xs({{}}, "count([1, 2], x)"), ElementsAre("2")); }

// ------------------------------------------------------------------ data

TEST(RegoEvalTest, VirtualAndBaseDocumentsMerge) {
  const Case setup{{"package a.b\np := 1\nq := input.missing"}, R"({"a": {"b": {"r": 2}, "c": 3}})"};
  EXPECT_THAT(Xs(setup, "x := data.a"), ElementsAre(R"({"b":{"p":1,"r":2},"c":3})"));
  EXPECT_THAT(Xs(setup, "data.a.b[x]"), ElementsAre(R"("p")", R"("r")"));
}

TEST(RegoEvalTest, Imports) {
  const Case setup{{"package lib\nf(x) := x * 2\nv := 3",
                    "package test\nimport data.lib\nimport input.n as n\np := lib.f(n) + lib.v"},
                   "{}",
                   R"({"n": 4})"};
  EXPECT_THAT(Xs(setup), ElementsAre("11"));
}

TEST(RegoEvalTest, WithModifiers) {
  const std::string m = Module("p := input.x\nq := data.d.v\nr := p");
  EXPECT_THAT(Xs({{m}}, "x := data.test.p with input.x as 5"), ElementsAre("5"));
  EXPECT_THAT(Xs({{m}, R"({"d": {"v": 1}})"}, "x := data.test.q with data.d.v as 2"), ElementsAre("2"));
  EXPECT_THAT(Xs({{m}, "{}", R"({"x": 1})"}, "y := data.test.r; x := data.test.r with input.x as 9"), ElementsAre("9"));
  EXPECT_THAT(Xs({{Module("f(x) := x\np := f(1)")}}, "x := data.test.p with data.test.f as 7"), ElementsAre("7"));
  EXPECT_THAT(Xs({{Module("p := count([1])")}}, "x := data.test.p with count as 42"), ElementsAre("42"));
}

// `with data.a.b` below a package adds base data that merges with the
// package's rules instead of hiding them; stacked `with`s all apply.
TEST(RegoEvalTest, WithDataBelowRulesStacks) {
  const std::string a = "package test.a\nd := 3";
  const std::string m = Module("r := data.test.a\np := x if { r = x with data.test.a.c as 2 }");
  EXPECT_THAT(Xs({{a, m}}, "x := data.test.p with data.test.a.b as 1"), ElementsAre(R"({"b":1,"c":2,"d":3})"));
  // Replacing the whole package document still hides its rules.
  EXPECT_THAT(Xs({{a, m}}, "x := data.test.r with data.test.a as {\"z\": 0}"), ElementsAre(R"({"z":0})"));
}

// A rule of the package (or an import) names a with target like its full path.
TEST(RegoEvalTest, WithTargetByRuleName) {
  const std::string m = Module("a := 5\nb := 3\nc := a + b\nd := x if { x := c with b as 10 }");
  EXPECT_THAT(Xs({{m}}, "x := data.test.d"), ElementsAre("15"));
}

// The recursion check treats variables in data references as wildcards
// matching one level, not as "every rule below".
TEST(RegoEvalTest, DataRefWithVariableDependsOnMatchingRulesOnly) {
  const std::string t0 = "package test0\na := 0\nb := 0";
  const std::string t1 = "package test1\nb := 1";
  const std::string t = "package test\nd := data[input.ns].a";
  EXPECT_THAT(Xs({{t0, t1, t}, "{}", R"({"ns": "test0"})"}, "x := data.test.d"), ElementsAre("0"));
  // A real cycle through such a reference is still found, and OPA names
  // the rule that comes first in the source.
  EXPECT_THAT(ErrorOf({{Module("q := data[input.ns].p\np := q")}}),
              HasSubstr("rule data.test.q is recursive: data.test.q -> data.test.p -> data.test.q"));
  EXPECT_THAT(ErrorOf({{Module("disallow := allow == false\nallow if { not disallow }")}}),
              HasSubstr("rule data.test.disallow is recursive"));
}

// In `a := {... a ...}` the comprehension's `a` is its own variable.
TEST(RegoEvalTest, AssignedVarIsNotVisibleInItsOwnComprehension) {
  const std::string m = Module("p := a if { a := {x: a | some x in [0, 1]; a = x * 2} }");
  EXPECT_THAT(Xs({{m}}), ElementsAre(R"({"0":0,"1":2})"));
}

// Variables before the last element of a rule reference: the rule's
// document is an object built from every solution.
TEST(RegoEvalTest, GeneralRefHeads) {
  const std::string m = Module(R"(obj.sub[x][x] contains x if some x in ["one", "two"]
obj[x].v := 1 if x := "w"
main contains x if x := obj.sub[_][_][_])");
  EXPECT_THAT(Xs({{m}}, "x := data.test.obj"),
              ElementsAre(R"({"sub":{"one":{"one":["one"]},"two":{"two":["two"]}},"w":{"v":1}})"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.main"), ElementsAre(R"(["one","two"])"));
  EXPECT_THAT(ErrorOf({{Module("p[x].v := x if some x in [1, 2]\np[1].v := 3")}}), HasSubstr("eval_conflict_error"));
}

TEST(RegoEvalTest, FunctionRefHeadsWithStringElements) {
  const std::string m = Module(R"(fruit["color.name"](f) := concat(" ", ["a", f]))");
  EXPECT_THAT(Xs({{m}}, R"(x := data.test.fruit["color.name"]("b"))"), ElementsAre(R"("a b")"));
}

// ------------------------------------------------------------------ print

TEST(RegoEvalTest, PrintCapturesLines) {
  auto result = RunCase({{Module(R"(p if { print("a", 1, "s", {"k": "v"}, input.missing) })")}}, "data.test.p");
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_THAT(result->prints, ElementsAre(R"(a 1 s {"k": "v"} <undefined>)"));
}

// Large documents are rendered once per evaluation and reused; strings that
// need escapes inside documents still get them, every time they are printed.
TEST(RegoEvalTest, PrintRendersRepeatedDocumentsAndEscapes) {
  const std::string m = Module(R"(p contains i if {
  some i in [1, 2]
  print(i, input.doc)
})");
  const std::string input =
      R"({"doc": {"a": "q\"uote", "b": ["t\tab", "\u00e9", "\u0085"], "c": [], "d": {}, "e": 1.5}})";
  auto result = RunCase({{m}, "{}", input}, "data.test.p");
  ASSERT_TRUE(result.has_value()) << result.error().message;
  const std::string doc = R"({"a": "q\"uote", "b": ["t\tab", "é", "\u0085"], "c": [], "d": {}, "e": 1.5})";
  EXPECT_THAT(result->prints, ElementsAre("1 " + doc, "2 " + doc));
  auto sets = RunCase({{Module(R"(p if { print({1, 2, 3, 4, 5}, set(), ["x"], "top \"level\"") })")}}, "data.test.p");
  ASSERT_TRUE(sets.has_value()) << sets.error().message;
  EXPECT_THAT(sets->prints, ElementsAre(R"({1, 2, 3, 4, 5} set() ["x"] top "level")"));
}

TEST(RegoEvalTest, PrintLocationsAndSkippedRendering) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("policy.rego", Module("p if {\n  print(\"hello\", input)\n}")));
  const Value input = Json(R"({"k": 1})");
  EvalOptions options;
  options.input = &input;
  PrintLog prints;
  ASSERT_TRUE(engine.EvalRule("data.test.p", options, &prints));
  EXPECT_THAT(prints.Lines(), ElementsAre(R"(hello {"k": 1})"));
  options.print_locations = true;
  ASSERT_TRUE(engine.EvalRule("data.test.p", options, &prints));
  EXPECT_THAT(prints.Lines(), ElementsAre(R"(policy.rego:3: hello {"k": 1})"));
  // Without a print sink the rule still evaluates the same way.
  auto value = engine.EvalRule("data.test.p", options);
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->ToJson(), "true");
}

// A PrintLog keeps the printed values and renders them when read: the text
// must be what the print call saw, for every call, however often it is read.
TEST(RegoEvalTest, PrintLogRendersWhatEachCallPrinted) {
  Engine engine;
  ASSERT_TRUE(
      engine.AddModule("a.rego", Module("p if {\n  some x in [1, 2]\n  print(\"x\", x, input.missing)\n  x == 2\n}")));
  ASSERT_TRUE(engine.AddModule("b.rego", "package other\nq if {\n  print({\"s\": {3}}, \"done\")\n}"));
  const Value input = Json("{}");
  EvalOptions options;
  options.input = &input;
  options.print_locations = true;
  PrintLog prints;
  ASSERT_TRUE(engine.EvalRule("data.test.p", options, &prints));
  EXPECT_EQ(prints.size(), 2u);
  const std::vector<std::string> want = {"a.rego:4: x 1 <undefined>", "a.rego:4: x 2 <undefined>"};
  EXPECT_EQ(prints.Lines(), want);
  EXPECT_EQ(prints.Lines(), want);  // reading again renders the same text
  ASSERT_TRUE(engine.EvalRule("data.other.q", options, &prints));
  EXPECT_THAT(prints.Lines(), ElementsAre(R"(b.rego:3: {"s": {3}} done)"));
  auto none = engine.EvalQuery("x := 1", options);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->prints.empty());
}

// References to rules are resolved at compile time; `with` on data must still
// hide or replace them.
TEST(RegoEvalTest, ResolvedRuleRefsRespectWith) {
  const std::string m = Module("q := {\"a\": 1}\np := q.a\nr := data.test.q.a");
  EXPECT_THAT(Xs({{m}}, "x := data.test.r"), ElementsAre("1"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.r with data.test.q as {\"a\": 2}"), ElementsAre("2"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.p with data.test.q as {\"a\": 3}"), ElementsAre("3"));
}

// A reference through constant keys into a rule is followed once per
// evaluation; under `with input` the rule, and so the reference, differ.
TEST(RegoEvalTest, CachedRulePathsFollowWithInput) {
  Case setup{{Module("q := {\"a\": input.v}\np := q.a")}, "{}", R"({"v": 1})"};
  EXPECT_THAT(Xs(setup, "a := data.test.p; b := data.test.p with input as {\"v\": 2}; x := [a, b]"),
              ElementsAre("[1,2]"));
  EXPECT_THAT(Xs(setup, "b := data.test.p with input as {\"v\": 2}; a := data.test.p; x := [a, b]"),
              ElementsAre("[1,2]"));
}

// Expressions with one solution bind in place; backtracking must unbind them,
// also past the 16 bindings one in-place run holds, and for functions whose
// parameters repeat or outnumber that.
TEST(RegoEvalTest, InPlaceBindingsAreUndoneOnBacktracking) {
  std::string chain = "p contains a20 if {\n  some x in [0, 100]\n  a1 := x + 1\n";
  for (int i = 2; i <= 20; ++i) chain += "  a" + std::to_string(i) + " := a" + std::to_string(i - 1) + " + 1\n";
  chain += "}\n";
  EXPECT_THAT(Xs({{Module(chain)}}), ElementsAre("[20,120]"));
  EXPECT_THAT(Xs({{Module("p contains y if { some x in [1, 2, 3]; y := x * 10; y > 10 }")}}), ElementsAre("[20,30]"));

  const std::string same = Module("f(a, a) := a");
  EXPECT_THAT(Xs({{same}}, "x := data.test.f(1, 1)"), ElementsAre("1"));
  EXPECT_THAT(Xs({{same}}, "x := data.test.f(1, 2)"), ElementsAre());

  std::string params, sum, args;
  for (int i = 1; i <= 18; ++i) {
    params += (i > 1 ? ", v" : "v") + std::to_string(i);
    sum += (i > 1 ? " + v" : "v") + std::to_string(i);
    args += (i > 1 ? ", " : "") + std::to_string(i);
  }
  const std::string wide = Module("g(" + params + ") := " + sum + "\np := [g(" + args + "), g(" + args + ")]");
  EXPECT_THAT(Xs({{wide}}), ElementsAre("[171,171]"));
}

// Bindings point at the values they are bound to; `with input` replaces
// the input where it lives, so a binding of the whole input, made before
// and read under the `with`, must still see the old one.
TEST(RegoEvalTest, BindingsOfTheInputOutliveWith) {
  Case setup{{Module(R"rego(q := input.v
f(i) := r if { r := [i.v, q] with input as {"v": 2} }
p := r if { r := f(input) })rego")},
             "{}",
             R"({"v": 1})"};
  EXPECT_THAT(Xs(setup, R"(i := input; x := [i.v, data.test.q] with input as {"v": 2})"), ElementsAre("[1,2]"));
  EXPECT_THAT(Xs(setup), ElementsAre("[1,2]"));  // the argument of f
}

// A function body whose first expression compares lookups of the
// arguments is skipped when that comparison fails, before any frame is set
// up (RuleDef::guard): undefined operands, the input, else chains, `with`,
// and prints before the comparison, which are still printed.
TEST(RegoEvalTest, GuardedFunctionBodiesFailAsTheirComparisonDoes) {
  const std::string m = Module(R"rego(f(x, y) := "same a" if { x.a == y.a }
f(x, y) := "b below" if { x.b < y.b; x.a != y.a }
g(x) := 1 if { input.v == x } else := 2
h(x) if { print("h", x); x in [1, 2] }
k(x) if { not x == 1 })rego");
  EXPECT_THAT(Xs({{m}}, R"(x := data.test.f({"a": 1}, {"a": 1}))"), ElementsAre("\"same a\""));
  EXPECT_THAT(Xs({{m}}, R"(x := data.test.f({"a": 1, "b": 1}, {"a": 2, "b": 3}))"), ElementsAre("\"b below\""));
  EXPECT_THAT(Xs({{m}}, R"(x := data.test.f({"b": 1}, {"a": 2, "b": 3}))"), ElementsAre());
  EXPECT_THAT(Xs({{m}}, R"(x := data.test.f({}, {}))"), ElementsAre());
  EXPECT_THAT(Xs({{m}, "{}", R"({"v": 5})"}, "x := [data.test.g(5), data.test.g(6)]"), ElementsAre("[1,2]"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.g(5)"), ElementsAre("2"));
  EXPECT_THAT(Xs({{m}, "{}", R"({"v": 5})"}, R"(x := data.test.g(7) with input as {"v": 7})"), ElementsAre("1"));
  EXPECT_THAT(Xs({{m}}, "x := [data.test.k(2), data.test.k(3)]"), ElementsAre("[true,true]"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.k(1)"), ElementsAre());
  auto printed = RunCase({{m}}, "data.test.h(1); not data.test.h(3)");
  ASSERT_TRUE(printed.has_value()) << printed.error().message;
  EXPECT_EQ(printed->rows.size(), 1u);
  EXPECT_THAT(printed->prints, ElementsAre("h 1", "h 3"));
}

// Results of pure builtins are remembered by the identity of their operands
// (eval.cpp, BuiltinMemo): more distinct calls than the table holds, the
// same calls again, equal operands that are other objects, and a failing
// call, which is never remembered, so strictness still decides.
TEST(RegoEvalTest, RememberedBuiltinResultsAreTheResults) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", Module(R"rego(p := [r | some w in input.words; r := replace(w, "$(x)", "-")]
q := [count(split(w, "$")) | some w in input.words]
n := to_number(input.n))rego")));
  std::string words;
  std::string want_p;
  for (int i = 0; i < 3000; ++i) {
    words += (i > 0 ? "," : "") + std::string("\"a$(x)") + std::to_string(i) + "\"";
    want_p += (i > 0 ? "," : "") + std::string("\"a-") + std::to_string(i) + "\"";
  }
  const Value input = Json(R"({"n": "x", "words": [)" + words + "]}");
  const Value copy = Json(R"({"n": "x", "words": [)" + words + "]}");  // equal, not the same objects
  EvalOptions options;
  for (const Value* in : {&input, &input, &copy}) {
    options.input = in;
    auto p = engine.EvalRule("data.test.p", options);
    ASSERT_TRUE(p && p->has_value());
    EXPECT_EQ((*p)->ToJson(), "[" + want_p + "]");
    auto q = engine.EvalRule("data.test.q", options);
    ASSERT_TRUE(q && q->has_value());
    EXPECT_EQ((*q)->as_array().size(), 3000u);
    EXPECT_EQ((*q)->as_array()[0].ToJson(), "2");
  }
  options.input = &input;
  auto lenient = engine.EvalRule("data.test.n", options);
  ASSERT_TRUE(lenient.has_value());
  EXPECT_FALSE(lenient->has_value());
  options.strict_builtin_errors = true;
  auto strict = engine.EvalRule("data.test.n", options);
  ASSERT_FALSE(strict.has_value());
  EXPECT_THAT(strict.error().message, HasSubstr("to_number"));
}

// ------------------------------------------------------------------ builtin errors

TEST(RegoEvalTest, BuiltinErrorsStrictAndLenient) {
  Case setup{{Module("p := count(1)")}};
  EXPECT_THAT(Xs(setup), ElementsAre());
  setup.strict = true;
  const std::string error = ErrorOf(setup);
  EXPECT_THAT(error, HasSubstr("eval_type_error"));
  EXPECT_THAT(error, HasSubstr("count: operand 1 must be"));
  EXPECT_THAT(error, HasSubstr("test-0.rego:2:"));
}

// ------------------------------------------------------------------ compile errors

TEST(RegoEvalTest, CompileErrors) {
  EXPECT_THAT(ErrorOf({{Module("p if { x > 1 }")}}), HasSubstr("rego_unsafe_var_error: var x is unsafe"));
  EXPECT_THAT(ErrorOf({{Module("p := q\nq := p")}}), HasSubstr("rego_recursion_error"));
  EXPECT_THAT(ErrorOf({{Module("p := nope(1)")}}), HasSubstr("rego_type_error: undefined function nope"));
  EXPECT_THAT(ErrorOf({{Module("p := 1\np[x] := 2 if { x := 1 }")}}), HasSubstr("rego_type_error"));
  EXPECT_THAT(ErrorOf({{Module("p := 1\np contains 2")}}), HasSubstr("rego_type_error"));
  EXPECT_THAT(ErrorOf({{Module("p if { x := 1; x := 2 }")}}), HasSubstr("rego_compile_error"));
  EXPECT_THAT(ErrorOf({{Module("f(x) := 1\np := f(1, 2, 3)")}}), HasSubstr("rego_type_error"));
  EXPECT_THAT(ErrorOf({{}}, "x := y"), HasSubstr("rego_unsafe_var_error"));
}

// ------------------------------------------------------------------ limits

TEST(RegoEvalTest, StepLimit) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", Module("p := count([x | some x in numbers.range(1, 100000)])")));
  EvalOptions options;
  options.limits.max_steps = 1000;
  auto result = engine.EvalQuery("data.test.p", options);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(OpaCodeOf(result.error()), kEvalCancelError);
}

TEST(RegoEvalTest, DeepRuleChainIsCancelledNotCrashed) {
  std::string module = "package test\n";
  for (int i = 0; i < 3000; ++i) module += "r" + std::to_string(i) + " := r" + std::to_string(i + 1) + "\n";
  module += "r3000 := 1\n";
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", module));
  auto result = engine.EvalQuery("x := data.test.r0", EvalOptions{});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(OpaCodeOf(result.error()), kEvalCancelError);
}

TEST(RegoEvalTest, EveryOverUndefinedDomainIsUndefined) {
  EXPECT_THAT(Xs({{Module("p if { every x in input.missing { x > 0 } }")}, "{}", "{}"}), ElementsAre());
}

TEST(RegoEvalTest, DeclarationsScopeTextually) {
  const std::string m = Module(R"(
xs := {"a", "b", "c"}
p := x if {
  y := {x | xs[x]}
  x := count(y)
})");
  EXPECT_THAT(Xs({{m}}), ElementsAre("3"));
}

TEST(RegoEvalTest, MockMayCallWhatItReplaces) {
  const std::string m = Module("f(x) := count(x) + 1\np := count([1, 2])");
  EXPECT_THAT(Xs({{m}}, "x := data.test.p with count as data.test.f"), ElementsAre("3"));
}

TEST(RegoEvalTest, RuleValuesAreCachedPerEvaluation) {
  // q is referenced three times but printed once.
  auto result = RunCase({{Module(R"(q := 1 if { print("q") }
p := [q, q, q])")}},
                        "data.test.p");
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_THAT(result->prints, ElementsAre("q"));
}

class RecordingTracer : public Tracer {
 public:
  void Trace(const TraceEvent& event) override { events.push_back(event); }
  std::vector<TraceEvent> events;
};

// Evaluations reuse their thread's scratch memory (rule cache, frames); one
// that starts inside another on the same thread, here from a tracer, must
// get its own and leave the outer one's state alone.
TEST(RegoEvalTest, EvaluationInsideAnotherOnTheSameThread) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", Module("q := input.v * 2\np := [q, x] if { x := q + 1 }")));
  struct NestedTracer : Tracer {
    const Engine* engine = nullptr;
    std::vector<std::string> inner;
    void Trace(const TraceEvent& event) override {
      if (event.type != TraceEvent::Type::kEnterBody || !inner.empty()) return;
      EvalOptions options;
      const Value input = Json(R"({"v": 10})");
      options.input = &input;
      auto value = engine->EvalRule("data.test.p", options);
      inner.push_back(value && *value ? (*value)->ToJson() : "<none>");
    }
  } tracer;
  tracer.engine = &engine;
  EvalOptions options;
  const Value input = Json(R"({"v": 1})");
  options.input = &input;
  options.tracer = &tracer;
  for (int round = 0; round < 2; ++round) {
    tracer.inner.clear();
    auto value = engine.EvalRule("data.test.p", options);
    ASSERT_TRUE(value.has_value() && value->has_value());
    EXPECT_EQ((*value)->ToJson(), "[2,3]");
    EXPECT_THAT(tracer.inner, ElementsAre("[20,21]"));
  }
}

TEST(RegoEvalTest, TracerSeesRulesBodiesAndFailedExpressions) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", Module("p if {\n  x := input.a\n  x > 5\n}")));
  RecordingTracer tracer;
  EvalOptions options;
  const Value input = Json(R"({"a": 3})");
  options.input = &input;
  options.tracer = &tracer;
  auto value = engine.EvalRule("data.test.p", options);
  ASSERT_TRUE(value.has_value());
  EXPECT_FALSE(value->has_value());
  std::vector<TraceEvent::Type> types;
  const TraceEvent* failed = nullptr;
  for (const auto& event : tracer.events) {
    types.push_back(event.type);
    if (event.type == TraceEvent::Type::kFailExpr) failed = &event;
  }
  EXPECT_THAT(types, ElementsAre(TraceEvent::Type::kEnterRule, TraceEvent::Type::kEnterBody,
                                 TraceEvent::Type::kFailExpr, TraceEvent::Type::kFailRule));
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->rule, "data.test.p");
  ASSERT_EQ(failed->bindings.size(), 1u);
  EXPECT_EQ(failed->bindings[0].first, "x");
  EXPECT_EQ(failed->bindings[0].second.ToJson(), "3");
}

// ------------------------------------------------- evaluation shortcuts

// `some x in xs` followed by `x == t` compares each element with t without
// running the comparison as an expression; the solutions stay the same, in
// the same order, whatever the collection.
TEST(RegoEvalTest, MembershipScanKeepsEveryEqualElementInOrder) {
  const std::string m = Module(R"(
pairs := [[x, "seen"] | some x in ["a", "b", "a", "c"]; x == input.want]
numbers := count([x | some x in [1, 1.0, 2, "1"]; x == 1])
in_object := [v | some v in {"k1": "x", "k2": "y", "k3": "y"}; v == "y"]
in_set := [v | some v in {"x", "y"}; "y" == v]
not_a_collection := [v | some v in "text"; v == "t"]
after_local := [x | w := "b"; some x in ["a", "b"]; x == w]
)");
  const Case with_want{{m}, "{}", R"({"want": "a"})"};
  EXPECT_THAT(Xs(with_want, "x := data.test.pairs"), ElementsAre(R"([["a","seen"],["a","seen"]])"));
  EXPECT_THAT(Xs({{m}, "{}", R"({"other": 1})"}, "x := data.test.pairs"), ElementsAre("[]"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.pairs"), ElementsAre("[]"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.numbers"), ElementsAre("2"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.in_object"), ElementsAre(R"(["y","y"])"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.in_set"), ElementsAre(R"(["y"])"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.not_a_collection"), ElementsAre("[]"));
  EXPECT_THAT(Xs({{m}}, "x := data.test.after_local"), ElementsAre(R"(["b"])"));

  // A tracer takes the general path, expression by expression: same values.
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", m));
  const Value input = Json(R"({"want": "a"})");
  for (const char* rule : {"data.test.pairs", "data.test.numbers", "data.test.in_object", "data.test.in_set"}) {
    EvalOptions plain;
    plain.input = &input;
    RecordingTracer tracer;
    EvalOptions traced = plain;
    traced.tracer = &tracer;
    auto fast = engine.EvalRule(rule, plain);
    auto slow = engine.EvalRule(rule, traced);
    ASSERT_TRUE(fast.has_value() && slow.has_value() && fast->has_value() && slow->has_value()) << rule;
    EXPECT_EQ(**fast, **slow) << rule;
  }
}

// Every body of `allow` gives `true`: without prints, the evaluation may stop
// at the first that succeeds. The second body here would run past the step
// limit, which shows whether it ran.
constexpr std::string_view kEarlyExit = R"(package test
allow(x) if { x == 1 }
allow(x) if {
  print("second body")
  some i in numbers.range(1, 100000)
  i < 0
}
p if { allow(input.x) }
)";

TEST(RegoEvalTest, EarlyExitOnlyWhenNothingReadsTheSkippedBodies) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", kEarlyExit));
  const Value one = Json(R"({"x": 1})");
  EvalOptions options;
  options.input = &one;
  options.limits.max_steps = 10'000;

  auto skipped = engine.EvalRule("data.test.p", options);
  ASSERT_TRUE(skipped.has_value()) << skipped.error().message;
  ASSERT_TRUE(skipped->has_value());
  EXPECT_EQ((*skipped)->ToJson(), "true");

  // With prints kept, with a tracer or with strict builtin errors every body runs.
  PrintLog prints;
  auto printed = engine.EvalRule("data.test.p", options, &prints);
  ASSERT_FALSE(printed.has_value());
  EXPECT_THAT(printed.error().message, HasSubstr("step limit exceeded"));
  RecordingTracer tracer;
  EvalOptions traced = options;
  traced.tracer = &tracer;
  EXPECT_FALSE(engine.EvalRule("data.test.p", traced).has_value());
  EvalOptions strict = options;
  strict.strict_builtin_errors = true;
  EXPECT_FALSE(engine.EvalRule("data.test.p", strict).has_value());

  // When the first body fails, the second runs either way.
  const Value two = Json(R"({"x": 2})");
  options.input = &two;
  EXPECT_FALSE(engine.EvalRule("data.test.p", options).has_value());
}

// A body that stops early must not hide an error a full evaluation reports:
// rules whose skipped bodies could end in a conflict, directly or through
// what they call, are evaluated in full.
TEST(RegoEvalTest, EarlyExitNeverHidesAConflict) {
  const std::vector<std::string> later_bodies = {
      "q == 1",                                         // a complete rule with two values
      "helper(x)",                                      // through a function that uses it
      "o := {k: v | some [k, v] in [[1, 2], [1, 3]]}",  // an object comprehension
      "obj[1] == 2",                                    // a partial object rule
  };
  for (const std::string& body : later_bodies) {
    const std::string module =
        "package test\n"
        "q := v if { some v in [1, 2] }\n"
        "helper(x) if { q == x }\n"
        "obj[k] := v if { some [k, v] in [[1, 2], [1, 3]] }\n"
        "allow(x) if { x == 1 }\n"
        "allow(x) if { " +
        body + " }\np if { allow(1) }\n";
    Engine engine;
    ASSERT_TRUE(engine.AddModule("t.rego", module)) << body;
    auto value = engine.EvalRule("data.test.p", EvalOptions{});
    ASSERT_FALSE(value.has_value()) << body;
    EXPECT_THAT(value.error().message, HasSubstr("eval_conflict_error")) << body;
  }
}

TEST(RegoEvalTest, ConcurrentEvaluationsShareOneEngine) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", Module("p := [y | some x in input.xs; y := x * 2]")));
  ASSERT_TRUE(engine.Compile());
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&engine, &good, t]() {
      const Value input = *Value::FromJson("{\"xs\": [" + std::to_string(t) + "]}");
      EvalOptions options;
      options.input = &input;
      for (int i = 0; i < 200; ++i) {
        auto value = engine.EvalRule("data.test.p", options);
        if (value && value->has_value() && (*value)->ToJson() == "[" + std::to_string(2 * t) + "]") ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 800);
}

// ------------------------------------------------------------------ engine API

TEST(RegoEvalTest, EvalRuleAndQueryRows) {
  Engine engine;
  ASSERT_TRUE(engine.AddModule("t.rego", Module("p := {\"a\": 1}\nq if { false }")));
  ASSERT_TRUE(engine.Compile());
  auto value = engine.EvalRule("data.test.p", EvalOptions{});
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->ToJson(), R"({"a":1})");
  auto undefined = engine.EvalRule("data.test.q", EvalOptions{});
  ASSERT_TRUE(undefined.has_value());
  EXPECT_FALSE(undefined->has_value());

  auto rows = engine.EvalQuery("x := 1; _ = 2; data.test.p.a == x", EvalOptions{});
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0].bindings.size(), 1u);
  ASSERT_EQ(rows->rows[0].expressions.size(), 3u);
  EXPECT_EQ(rows->rows[0].expressions[2].ToJson(), "true");
}

TEST(RegoEvalTest, AddDataMergesAndCopiesShareModules) {
  Engine engine;
  ASSERT_TRUE(engine.AddData(Json(R"({"a": {"b": 1}})")));
  ASSERT_TRUE(engine.AddData(Json(R"({"a": {"c": 2}})")));
  EXPECT_EQ(engine.data().ToJson(), R"({"a":{"b":1,"c":2}})");
  EXPECT_FALSE(engine.AddData(Json(R"({"a": {"b": 3}})")));
  Engine copy = engine;
  copy.SetData(Json(R"({"z": 1})"));
  EXPECT_EQ(engine.data().ToJson(), R"({"a":{"b":1,"c":2}})");
}

}  // namespace
}  // namespace contrast::policy::rego
