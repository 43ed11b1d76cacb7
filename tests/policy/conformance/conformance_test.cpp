// Tests of the conformance runner itself (YAML reading, result and error
// matching) and of the skip list's rules: every skipped note exists in the
// data, is documented in docs/rego.md, and skips stay at most 3 % of the cases.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "policy/conformance/case_runner.h"
#include "policy/rego/builtins.h"
#include "support/testdata.h"

namespace contrast::policy::rego {
// Readable values in gtest messages.
void PrintTo(const Value& value, std::ostream* out) { *out << value.ToJson(); }
}  // namespace contrast::policy::rego

namespace contrast::policy::rego::conformance {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSourceDir = CONTRAST_SOURCE_DIR;

Value Yaml(std::string_view text) {
  auto value = ValueFromYaml(text);
  EXPECT_TRUE(value.has_value()) << (value ? "" : value.error().message);
  return value ? *value : Value();
}

Value Json(std::string_view text) {
  auto value = Value::FromJson(text);
  EXPECT_TRUE(value.has_value()) << text;
  return value ? *value : Value();
}

TEST(ValueFromYaml, PlainScalarsResolveWithTheCoreSchema) {
  EXPECT_EQ(Yaml("a: 1\nb: -2\nc: 3.5\nd: true\ne: false\nf: null\ng: ~\nh:\ni: 1e3"),
            Json(R"({"a": 1, "b": -2, "c": 3.5, "d": true, "e": false, "f": null, "g": null, "h": null, "i": 1000})"));
  EXPECT_TRUE(Yaml("x: 1").Get("x")->is_number());
  EXPECT_TRUE(Yaml("x: 1").Get("x")->as_number().is_integer());
  EXPECT_FALSE(Yaml("x: 2.5").Get("x")->as_number().is_integer());
}

TEST(ValueFromYaml, QuotedAndBlockScalarsAreStrings) {
  EXPECT_EQ(Yaml(R"(a: "1"
b: 'true'
c: "null"
d: |
  text
)"),
            Json(R"({"a": "1", "b": "true", "c": "null", "d": "text\n"})"));
}

TEST(ValueFromYaml, Yaml11WordsStayStrings) {
  EXPECT_EQ(Yaml("[yes, no, on, off, y]"), Json(R"(["yes", "no", "on", "off", "y"])"));
}

TEST(ValueFromYaml, BigIntegersStayExact) {
  const Value value = Yaml("x: 123456789012345678901234567890");
  ASSERT_TRUE(value.Get("x")->is_number());
  EXPECT_EQ(value.Get("x")->as_number().ToString(), "123456789012345678901234567890");
  EXPECT_NE(*value.Get("x"), Json("123456789012345678901234567891"));
}

TEST(ValueFromYaml, KeysAreAlwaysStrings) {
  EXPECT_EQ(Yaml("1: a\ntrue: b\nnull: c"), Json(R"({"1": "a", "true": "b", "null": "c"})"));
}

TEST(ValueFromYaml, RejectsDuplicateKeysAndDeepNesting) {
  EXPECT_FALSE(ValueFromYaml("a: 1\na: 2").has_value());
  EXPECT_FALSE(ValueFromYaml(std::string(5000, '[') + std::string(5000, ']')).has_value());
  EXPECT_FALSE(ValueFromYaml("a: [1, 2").has_value());
}

TEST(ErrorMessageMatches, SubstringOfTheMessage) {
  EXPECT_TRUE(ErrorMessageMatches("divide by zero", "query:1:5: eval_builtin_error: div: divide by zero"));
  EXPECT_FALSE(ErrorMessageMatches("divide by zero", "query:1:5: eval_type_error: operand 1 must be number"));
}

TEST(ErrorMessageMatches, OpaPositionWithoutColumn) {
  const std::string message = "test-0.rego:4:7: eval_type_error: strings.any_prefix_match: operand 1 must be x";
  EXPECT_TRUE(ErrorMessageMatches("test-0.rego:4: eval_type_error: strings.any_prefix_match: operand 1", message));
  EXPECT_FALSE(ErrorMessageMatches("test-0.rego:5: eval_type_error: strings.any_prefix_match", message));
  EXPECT_FALSE(ErrorMessageMatches("test-1.rego:4: eval_type_error: strings.any_prefix_match", message));
  EXPECT_FALSE(ErrorMessageMatches("test-0.rego:4: eval_type_error: count: operand 1", message));
}

TEST(ErrorMessageMatches, ConflictWordingsOfDifferentOpaVersions) {
  const std::string old_rule = "t.rego:3:1: eval_conflict_error: complete rules must not produce multiple outputs";
  const std::string new_rule = "t.rego:3:1: eval_conflict_error: rule data.x.p produced conflicting values";
  EXPECT_TRUE(ErrorMessageMatches("rule data.x.p produced conflicting values", old_rule));
  EXPECT_TRUE(ErrorMessageMatches("complete rules must not produce multiple outputs", new_rule));
  EXPECT_FALSE(ErrorMessageMatches("rule data.x.q produced conflicting values", new_rule));
  EXPECT_TRUE(ErrorMessageMatches("functions must not produce multiple outputs for same inputs",
                                  "eval_conflict_error: function data.t.f produced conflicting values for the same "
                                  "inputs"));
  EXPECT_FALSE(ErrorMessageMatches("functions must not produce multiple outputs for same inputs", old_rule));
  EXPECT_TRUE(ErrorMessageMatches("Recursion detected in rule body: data.test.a",
                                  "rego_recursion_error: rule data.test.a is recursive: data.test.a -> data.test.a"));
}

TestCase CaseWithRows(std::vector<std::map<std::string, Value>> rows, bool sort_bindings = false) {
  TestCase test_case;
  test_case.note = "runner/rows";
  test_case.want_result = std::move(rows);
  test_case.sort_bindings = sort_bindings;
  return test_case;
}

QueryResult ResultWithRows(std::vector<std::map<std::string, Value>> rows) {
  QueryResult result;
  for (auto& bindings : rows) result.rows.push_back({std::move(bindings), {}});
  return result;
}

TEST(CompareRows, RowsAreASet) {
  const auto test_case = CaseWithRows({{{"x", Value::Int(1)}}, {{"x", Value::Int(2)}}});
  EXPECT_EQ(CompareRows(test_case, ResultWithRows({{{"x", Value::Int(2)}}, {{"x", Value::Int(1)}}})), "");
  EXPECT_THAT(CompareRows(test_case, ResultWithRows({{{"x", Value::Int(1)}}})), HasSubstr("want rows"));
  EXPECT_THAT(CompareRows(test_case, ResultWithRows({})), HasSubstr("undefined"));
}

TEST(CompareRows, SetsCompareAsSortedArraysAndSortBindingsSortsArrays) {
  const Value set = Value::FromSet({Value::Int(3), Value::Int(1)});
  EXPECT_EQ(CompareRows(CaseWithRows({{{"x", Json("[1, 3]")}}}), ResultWithRows({{{"x", set}}})), "");
  EXPECT_NE(CompareRows(CaseWithRows({{{"x", Json("[1, 3]")}}}), ResultWithRows({{{"x", Json("[3, 1]")}}})), "");
  EXPECT_EQ(CompareRows(CaseWithRows({{{"x", Json("[1, 3]")}}}, true), ResultWithRows({{{"x", Json("[3, 1]")}}})), "");
}

TEST(CompareRows, NamesTheFirstDifference) {
  const auto test_case = CaseWithRows({{{"x", Json(R"({"a": {"b": [1, 2]}})")}}});
  EXPECT_THAT(CompareRows(test_case, ResultWithRows({{{"x", Json(R"({"a": {"b": [1, 5]}})")}}})),
              HasSubstr("x.a.b[1]: want 2, got 5"));
}

TEST(SkipList, ParsesNotesAndReasons) {
  auto skips = ParseSkipList("# comment\n\nnet/a\tnetwork builtin\r\njwt/b\tJWT not shipped\n");
  ASSERT_TRUE(skips.has_value()) << skips.error().message;
  EXPECT_EQ(skips->size(), 2u);
  EXPECT_EQ(skips->at("net/a"), "network builtin");
  EXPECT_FALSE(ParseSkipList("no tab here\n").has_value());
  EXPECT_FALSE(ParseSkipList("a\tx\na\ty\n").has_value());
  EXPECT_FALSE(ParseSkipList("a\t\n").has_value());
}

class CaseFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rego_conformance_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(CaseFileTest, ReadsEveryField) {
  Write("lib.rego", "package lib\nx := 1\n");
  const auto file = Write("v0_cases.yaml", R"(cases:
- note: a/one
  query: data.t.p = x
  modules:
  - lib.rego
  - |
    package t
    p { true }
  data: {"d": 1}
  input: {"i": "2"}
  want_result:
  - x: true
  sort_bindings: true
  strict_error: true
  want_output: ["line 1", "line 2"]
- note: a/two
  query: x = 1
  input_term: '{"a": {1}}'
  want_error: boom
  want_error_code: eval_type_error
  want_defined: false
  skip: true
)");
  auto cases = LoadCaseFile(file);
  ASSERT_TRUE(cases.has_value()) << cases.error().message;
  ASSERT_EQ(cases->size(), 2u);
  const TestCase& one = (*cases)[0];
  EXPECT_EQ(one.version, RegoVersion::kV0);
  ASSERT_EQ(one.modules.size(), 2u);
  EXPECT_EQ(one.modules[0].filename, "lib.rego");
  EXPECT_EQ(one.modules[0].source, "package lib\nx := 1\n");
  EXPECT_EQ(one.modules[1].filename, "test-1.rego");
  EXPECT_EQ(*one.data, Json(R"({"d": 1})"));
  EXPECT_EQ(*one.input, Json(R"({"i": "2"})"));
  ASSERT_TRUE(one.want_result.has_value());
  EXPECT_EQ(one.want_result->at(0).at("x"), Value::Bool(true));
  EXPECT_TRUE(one.sort_bindings);
  EXPECT_TRUE(one.strict_error);
  EXPECT_EQ(*one.want_output, "line 1\nline 2");
  const TestCase& two = (*cases)[1];
  EXPECT_EQ(*two.input_term, R"({"a": {1}})");
  EXPECT_EQ(*two.want_error, "boom");
  EXPECT_EQ(*two.want_error_code, "eval_type_error");
  EXPECT_EQ(two.want_defined, false);
  EXPECT_TRUE(two.skip.has_value());
  EXPECT_EQ(RunCase(two).verdict, Verdict::kSkipped);
}

TEST_F(CaseFileTest, RowsBindingDifferentVariablesAreOneRow) {
  auto cases = LoadCaseFile(Write("flat.yaml", R"(cases:
- note: flat
  query: a = 1; b = 2
  want_result: [{a: 1}, {b: 2}]
- note: rows
  query: x = [1, 2][_]
  want_result: [{x: 1}, {x: 2}]
)"));
  ASSERT_TRUE(cases.has_value()) << cases.error().message;
  ASSERT_EQ((*cases)[0].want_result->size(), 1u);
  EXPECT_EQ((*cases)[0].want_result->front().size(), 2u);
  EXPECT_EQ((*cases)[1].want_result->size(), 2u);
}

TEST_F(CaseFileTest, RejectsMalformedFiles) {
  EXPECT_FALSE(LoadCaseFile(Write("a.yaml", "cases: 1\n")).has_value());
  EXPECT_FALSE(LoadCaseFile(Write("b.yaml", "cases:\n- query: x = 1\n")).has_value());  // no note
  EXPECT_FALSE(LoadCaseFile(Write("c.yaml", "cases:\n- note: n\n  query: [1]\n")).has_value());
  EXPECT_FALSE(LoadCaseFile(Write("d.yaml", "cases:\n- note: n\n  query: q\n  data: [1]\n")).has_value());
  EXPECT_FALSE(LoadCaseFile(dir_ / "missing.yaml").has_value());
}

// The runner must tell a right answer from a wrong one on the real engine.
TEST(RunCase, PassesAndFailsOnTheEngine) {
  TestCase test_case;
  test_case.note = "runner/engine";
  test_case.query = "data.t.p = x";
  test_case.modules = {{"test-0.rego", "package t\np := count([1, 2, 3])\n"}};
  test_case.want_result = std::vector<std::map<std::string, Value>>{{{"x", Value::Int(3)}}};
  EXPECT_EQ(RunCase(test_case).verdict, Verdict::kPassed) << RunCase(test_case).detail;
  test_case.want_result = std::vector<std::map<std::string, Value>>{{{"x", Value::Int(4)}}};
  EXPECT_EQ(RunCase(test_case).verdict, Verdict::kFailed);

  test_case.modules = {{"test-0.rego", "package t\np := 1 / 0\n"}};
  test_case.strict_error = true;
  test_case.want_result.reset();
  test_case.want_error_code = "eval_builtin_error";
  test_case.want_error = "divide by zero";
  EXPECT_EQ(RunCase(test_case).verdict, Verdict::kPassed) << RunCase(test_case).detail;
  test_case.want_error_code = "eval_type_error";
  EXPECT_EQ(RunCase(test_case).verdict, Verdict::kFailed);
}

// Every case of the shared Rego test data, with its note.
std::vector<TestCase> AllCases() {
  const fs::path dir = contrast::testing::TestdataDir() / "rego";
  auto files = CollectCaseFiles({dir});
  EXPECT_TRUE(files.has_value()) << files.error().message;
  std::vector<TestCase> all;
  if (!files) return all;
  for (const auto& file : *files) {
    auto cases = LoadCaseFile(file);
    EXPECT_TRUE(cases.has_value()) << cases.error().message;
    if (cases) all.insert(all.end(), cases->begin(), cases->end());
  }
  return all;
}

SkipList Skips() {
  auto skips = LoadSkipList(kSourceDir / "tests/policy/conformance-skips.txt");
  EXPECT_TRUE(skips.has_value()) << skips.error().message;
  return skips ? *skips : SkipList();
}

TEST(SkipListRules, EverySkippedNoteExistsInTheData) {
  CONTRAST_REQUIRE_TESTDATA();
  std::set<std::string> notes;
  for (const auto& test_case : AllCases()) notes.insert(test_case.note);
  ASSERT_GT(notes.size(), 100u);
  for (const auto& [note, reason] : Skips())
    EXPECT_TRUE(notes.contains(note)) << "skipped note not in the data: " << note;
}

TEST(SkipListRules, SkipsAreAtMostThreePercentOfTheCases) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto all = AllCases();
  const auto skips = Skips();
  size_t skipped = 0;
  for (const auto& test_case : all) skipped += skips.contains(test_case.note) ? 1 : 0;
  ASSERT_FALSE(all.empty());
  EXPECT_LE(skipped * 100, all.size() * 3) << skipped << " of " << all.size() << " cases are skipped";
}

TEST(SkipListRules, EverySkippedNoteIsDocumented) {
  auto docs = ReadTextFile(kSourceDir / "docs/rego.md");
  ASSERT_TRUE(docs.has_value()) << docs.error().message;
  const auto skips = Skips();
  EXPECT_FALSE(skips.empty());
  for (const auto& [note, reason] : skips) {
    EXPECT_NE(docs->find(note), std::string::npos) << "skipped note not in docs/rego.md: " << note;
  }
}

DivergenceList Divergences() {
  auto divergences = LoadDivergenceList(kSourceDir / "tests/policy/conformance-divergences.txt");
  EXPECT_TRUE(divergences.has_value()) << divergences.error().message;
  return divergences ? *divergences : DivergenceList();
}

TEST(DivergenceList, ParsesNoteVariableOpaValueAndReason) {
  auto divergences = ParseDivergenceList("# comment\nbig/a\td\t9.357142857142857143\tOPA rounds to 64 bits\n");
  ASSERT_TRUE(divergences.has_value()) << divergences.error().message;
  ASSERT_EQ(divergences->size(), 1u);
  EXPECT_EQ(divergences->begin()->first, "big/a");
  EXPECT_EQ(divergences->begin()->second.variable, "d");
  ASSERT_TRUE(divergences->begin()->second.opa_value.has_value());
  EXPECT_EQ(divergences->begin()->second.opa_value->ToJson(), "9.357142857142857143");
  EXPECT_EQ(divergences->begin()->second.reason, "OPA rounds to 64 bits");
  auto undefined = ParseDivergenceList("big/a\t-\t-\tOPA: undefined\n");
  ASSERT_TRUE(undefined.has_value()) << undefined.error().message;
  EXPECT_FALSE(undefined->begin()->second.opa_value.has_value());
  // Every entry names OPA's answer: nothing is left unchecked.
  EXPECT_FALSE(ParseDivergenceList("big/a\td\treason\n").has_value());
  EXPECT_FALSE(ParseDivergenceList("big/a\td\t\treason\n").has_value());
  EXPECT_FALSE(ParseDivergenceList("big/a\t\t1\treason\n").has_value());
  EXPECT_FALSE(ParseDivergenceList("big/a\td\tnot json\treason\n").has_value());
  EXPECT_FALSE(ParseDivergenceList("big/a\td\t-\treason\n").has_value());
}

// The listed variable is compared with OPA's value, exactly: a wrong answer
// for it still fails the case.
TEST(DivergenceList, OpaValueReplacesTheDataForTheNamedVariable) {
  TestCase test_case;
  test_case.note = "divergence";
  test_case.query = "x = -524 / -56; y = 3";
  test_case.want_result = std::vector<std::map<std::string, Value>>{{{"x", Value::Int(9)}, {"y", Value::Int(3)}}};
  EXPECT_EQ(RunCase(test_case).verdict, Verdict::kFailed);
  auto list = ParseDivergenceList("divergence\tx\t9.357142857142857143\ttruncating in the data\n");
  ASSERT_TRUE(list.has_value()) << list.error().message;
  TestCase corrected = test_case;
  ASSERT_TRUE(ApplyDivergences(corrected, *list).has_value());
  EXPECT_EQ(corrected.diverging_bindings, std::set<std::string>{"x"});
  EXPECT_EQ(RunCase(corrected).verdict, Verdict::kPassed) << RunCase(corrected).detail;
  // The double nearest to the quotient is not OPA's answer.
  auto near_miss = ParseDivergenceList("divergence\tx\t9.357142857142858\ttruncating in the data\n");
  ASSERT_TRUE(near_miss.has_value());
  TestCase missed = test_case;
  ASSERT_TRUE(ApplyDivergences(missed, *near_miss).has_value());
  EXPECT_EQ(RunCase(missed).verdict, Verdict::kFailed);
  // The other variables are compared as in the data.
  corrected.want_result = std::vector<std::map<std::string, Value>>{{{"x", Value::Int(9)}, {"y", Value::Int(4)}}};
  ASSERT_TRUE(ApplyDivergences(corrected, *list).has_value());
  EXPECT_EQ(RunCase(corrected).verdict, Verdict::kFailed);
  // A listed variable the case does not bind is an error in the list.
  auto unbound = ParseDivergenceList("divergence\tz\t1\tno such variable\n");
  ASSERT_TRUE(unbound.has_value());
  TestCase wrong = test_case;
  EXPECT_FALSE(ApplyDivergences(wrong, *unbound).has_value());
}

TEST(DivergenceListRules, EveryNoteExistsInTheDataAndIsDocumented) {
  CONTRAST_REQUIRE_TESTDATA();
  std::map<std::string, TestCase> cases;
  for (auto& test_case : AllCases()) cases.emplace(test_case.note, test_case);
  auto docs = ReadTextFile(kSourceDir / "docs/rego.md");
  ASSERT_TRUE(docs.has_value()) << docs.error().message;
  const auto divergences = Divergences();
  EXPECT_FALSE(divergences.empty());
  for (const auto& [note, divergence] : divergences) {
    const auto found = cases.find(note);
    ASSERT_NE(found, cases.end()) << "diverging note not in the data: " << note;
    ASSERT_TRUE(found->second.want_result.has_value()) << note;
    EXPECT_NE(docs->find(note), std::string::npos) << "diverging note not in docs/rego.md: " << note;
    if (divergence.variable == "-") continue;  // the whole result: undefined in OPA
    bool binds = false;
    for (const auto& row : *found->second.want_result) binds = binds || row.contains(divergence.variable);
    EXPECT_TRUE(binds) << note << " expects no variable " << divergence.variable;
  }
}

// docs/rego.md never claims a builtin we do not ship.
TEST(Docs, ListedBuiltinsAreRegistered) {
  auto docs = ReadTextFile(kSourceDir / "docs/rego.md");
  ASSERT_TRUE(docs.has_value()) << docs.error().message;
  const size_t begin = docs->find("<!-- BEGIN BUILTINS");
  const size_t end = docs->find("<!-- END BUILTINS -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string section = docs->substr(begin, end - begin);
  const size_t list_start = section.find("-->");
  ASSERT_NE(list_start, std::string::npos);
  int listed = 0;
  for (size_t open = section.find('`', list_start); open != std::string::npos;
       open = section.find('`', section.find('`', open + 1) + 1)) {
    const size_t close = section.find('`', open + 1);
    ASSERT_NE(close, std::string::npos);
    const std::string name = section.substr(open + 1, close - open - 1);
    EXPECT_NE(BuiltinRegistry::Default().Find(name), nullptr) << "docs/rego.md lists " << name;
    ++listed;
  }
  EXPECT_GT(listed, 50);
}

}  // namespace
}  // namespace contrast::policy::rego::conformance
