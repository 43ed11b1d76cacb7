// Runs OPA-format Rego test cases (YAML) against our engine.
//
// The format is OPA's test/cases format (see /work/shared/testdata/README.md):
// every file holds `cases:`, each with a note, a query, modules, data, input
// (or input_term), and the expectation: want_result rows, want_error /
// want_error_code, want_defined, or rego-cpp's want_output (print lines).
//
// Comparison follows OPA's own harness: result rows are compared as a set of
// binding objects, bound values are compared in their JSON form (sets become
// sorted arrays), and sort_bindings sorts the arrays we produce before
// comparing. Error expectations are matched by OPA code and by message text
// (see ErrorMessageMatches for the wordings we treat as the same error).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rego/engine.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego::conformance {

struct CaseModule {
  std::string filename;  // "test-0.rego" as OPA's harness names them, or the file named by the case
  std::string source;
};

struct TestCase {
  std::filesystem::path file;  // the YAML file it came from
  std::string note;
  std::string query;
  std::vector<CaseModule> modules;
  RegoVersion version = RegoVersion::kV1;
  std::optional<Value> data;
  std::optional<Value> input;
  std::optional<std::string> input_term;  // a Rego term; the input is its value
  std::optional<std::vector<std::map<std::string, Value>>> want_result;
  bool sort_bindings = false;
  std::optional<std::string> want_error;
  std::optional<std::string> want_error_code;
  bool strict_error = false;
  std::optional<bool> want_defined;
  std::optional<std::string> want_output;  // print lines joined by '\n'
  std::optional<std::string> skip;         // the data itself marks the case as skipped
  // Query variables whose expected value in the data contradicts OPA: their
  // expected value is OPA's, from the divergence list ("-": the whole query,
  // undefined in OPA). Set by ApplyDivergences; the runner counts such cases.
  std::set<std::string> diverging_bindings;
};

// The YAML files below each path (a file is taken as is; a folder is searched
// recursively for *.yaml), sorted, without duplicates.
Result<std::vector<std::filesystem::path>> CollectCaseFiles(const std::vector<std::filesystem::path>& paths);

// Reads one case file. Files named v0_* hold Rego v0 modules. A module
// entry that names an existing *.rego file next to the YAML file is read
// from that file (rego-cpp's aci.yaml does this).
Result<std::vector<TestCase>> LoadCaseFile(const std::filesystem::path& file);

// YAML text to a Value with the YAML 1.2 core schema: quoted scalars are
// strings, plain scalars are null/bool/number when they read as one
// (integers of any size stay exact), mapping keys are always strings.
Result<Value> ValueFromYaml(std::string_view yaml);

// Whether an engine error message satisfies a case's want_error. Plain
// substring match, plus two documented relaxations (docs/rego.md):
//   - "file:line: rest" (OPA's position without a column) matches our
//     "file:line:column: rest";
//   - a few errors that OPA versions word differently are matched by any of
//     their wordings (same rule or function name where both carry one).
bool ErrorMessageMatches(std::string_view want_error, std::string_view message);

// A value as OPA's harness compares it: its JSON form read back (sets become
// sorted arrays, non-string object keys become strings).
Value JsonNormalized(const Value& value);

// Compares the engine's rows with want_result; "" when they match, else what
// differs.
std::string CompareRows(const TestCase& test_case, const QueryResult& result);

enum class Verdict { kPassed, kFailed, kSkipped };

struct Outcome {
  Verdict verdict = Verdict::kFailed;
  std::string detail;  // why it failed or was skipped; what came out (kPassed: empty)
};

// Evaluates one case on a fresh engine and checks every expectation.
Outcome RunCase(const TestCase& test_case);

// Skip list: "note<TAB>reason" per line; blank lines and lines starting with
// '#' are ignored.
using SkipList = std::map<std::string, std::string>;
Result<SkipList> ParseSkipList(std::string_view text);
Result<SkipList> LoadSkipList(const std::filesystem::path& file);

// Divergence list: "note<TAB>variable<TAB>OPA's value<TAB>reason" per line:
// cases whose expected value for one query variable contradicts OPA. OPA's
// value (JSON) replaces the data's in every expected row, so the variable is
// still compared exactly; the runner reports such cases separately. Variable
// "-" (value "-") means OPA's answer for the whole query is undefined: the
// case must then come out undefined.
struct Divergence {
  std::string variable;
  std::optional<Value> opa_value;  // nullopt for variable "-"
  std::string reason;
};
using DivergenceList = std::multimap<std::string, Divergence>;
Result<DivergenceList> ParseDivergenceList(std::string_view text);
Result<DivergenceList> LoadDivergenceList(const std::filesystem::path& file);

// Puts OPA's answers for the case's listed divergences into its expected rows.
// Fails when a listed variable is not bound in every expected row.
Status ApplyDivergences(TestCase& test_case, const DivergenceList& divergences);

}  // namespace contrast::policy::rego::conformance
