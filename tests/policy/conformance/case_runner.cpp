#include "policy/conformance/case_runner.h"

#include <algorithm>
#include <charconv>
#include <regex>
#include <set>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "common/files.h"
#include "policy/rego/errors.h"

namespace contrast::policy::rego::conformance {
namespace {

namespace fs = std::filesystem;

// Case files are ours to read but come from outside: bound the nesting.
constexpr int kMaxYamlDepth = 256;

// Evaluation bounds per case: generous for the ACI policy, small enough that
// a runaway case does not stall the whole file.
constexpr std::chrono::seconds kCaseTimeLimit{20};

tl::unexpected<Error> ParseError(const fs::path& file, std::string_view what) {
  return Fail(ErrorCode::kParse, file.string() + ": " + std::string(what));
}

// "+5" and "-.5e3" are YAML numbers but not JSON ones; Number::Parse takes
// JSON's spelling.
std::string JsonNumberSpelling(std::string text) {
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  const size_t digits = (!text.empty() && text[0] == '-') ? 1 : 0;
  if (digits < text.size() && text[digits] == '.') text.insert(digits, "0");
  const size_t dot = text.find('.');
  if (dot != std::string::npos && (dot + 1 == text.size() || text[dot + 1] == 'e' || text[dot + 1] == 'E')) {
    text.insert(dot + 1, "0");
  }
  return text;
}

std::optional<Value> RadixInteger(std::string_view digits, int base) {
  uint64_t parsed = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (parsed > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return Value::Int(static_cast<int64_t>(parsed));
}

// A plain (unquoted, untagged) scalar, resolved with the YAML 1.2 core
// schema. Anything that is not null, a boolean or a number is a string;
// YAML 1.1's yes/no/on/off stay strings.
Value ResolvePlainScalar(const std::string& text) {
  static const std::regex kInteger(R"([-+]?[0-9]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return Value::Null();
  if (text == "true" || text == "True" || text == "TRUE") return Value::Bool(true);
  if (text == "false" || text == "False" || text == "FALSE") return Value::Bool(false);
  if (text.starts_with("0x")) {
    if (auto value = RadixInteger(std::string_view(text).substr(2), 16)) return *value;
  }
  if (text.starts_with("0o")) {
    if (auto value = RadixInteger(std::string_view(text).substr(2), 8)) return *value;
  }
  if (std::regex_match(text, kInteger) || std::regex_match(text, kFloat)) {
    if (auto number = Number::Parse(JsonNumberSpelling(text))) return Value::Num(*number);
  }
  return Value::String(text);
}

Result<Value> ValueFromNode(const YAML::Node& node, int depth) {
  if (depth > kMaxYamlDepth) return Fail(ErrorCode::kParse, "YAML nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Null: return Value::Null();
    case YAML::NodeType::Scalar: {
      // yaml-cpp tags quoted and block scalars "!", plain ones "?".
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str") return Value::String(node.Scalar());
      return ResolvePlainScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      Value::Array items;
      items.reserve(node.size());
      for (const auto& item : node) {
        auto value = ValueFromNode(item, depth + 1);
        if (!value) return value;
        items.push_back(std::move(*value));
      }
      return Value::FromArray(std::move(items));
    }
    case YAML::NodeType::Map: {
      Value::Object members;
      for (const auto& member : node) {
        // JSON objects, and so OPA's test data, only have string keys; a
        // `null:` key is the string "null".
        if (!member.first.IsScalar() && !member.first.IsNull()) {
          return Fail(ErrorCode::kParse, "YAML mapping key is not a scalar");
        }
        const std::string key = member.first.IsNull() ? "null" : member.first.Scalar();
        auto value = ValueFromNode(member.second, depth + 1);
        if (!value) return value;
        if (!members.emplace(Value::String(key), std::move(*value)).second) {
          return Fail(ErrorCode::kParse, "duplicate YAML key \"" + key + "\"");
        }
      }
      return Value::FromObject(std::move(members));
    }
    case YAML::NodeType::Undefined: break;
  }
  return Fail(ErrorCode::kParse, "undefined YAML node");
}

Result<std::string> StringField(const YAML::Node& node, std::string_view field) {
  if (!node.IsScalar()) return Fail(ErrorCode::kParse, std::string(field) + " must be a string");
  return node.Scalar();
}

Result<bool> BoolField(const YAML::Node& node, std::string_view field) {
  if (node.IsNull()) return false;
  if (node.IsScalar()) {
    const Value value = ResolvePlainScalar(node.Scalar());
    if (value.is_bool()) return value.as_bool();
  }
  return Fail(ErrorCode::kParse, std::string(field) + " must be true or false");
}

bool LooksLikeModuleFileName(const std::string& entry) {
  return entry.find('\n') == std::string::npos && entry.ends_with(".rego");
}

Result<std::vector<CaseModule>> LoadModules(const YAML::Node& node, const fs::path& folder) {
  std::vector<CaseModule> modules;
  if (!node || node.IsNull()) return modules;
  if (!node.IsSequence()) return Fail(ErrorCode::kParse, "modules must be a list");
  for (size_t i = 0; i < node.size(); ++i) {
    auto entry = StringField(node[i], "modules[" + std::to_string(i) + "]");
    if (!entry) return tl::unexpected(entry.error());
    std::error_code ec;
    if (LooksLikeModuleFileName(*entry) && fs::is_regular_file(folder / *entry, ec)) {
      auto source = ReadTextFile(folder / *entry);
      if (!source) return tl::unexpected(source.error().Wrap("module " + *entry));
      modules.push_back({*entry, std::move(*source)});
    } else {
      modules.push_back({"test-" + std::to_string(i) + ".rego", std::move(*entry)});
    }
  }
  return modules;
}

// rego-cpp's files sometimes list the bindings of one result as separate
// rows (`- a: 1`, `- b: 2` for the query `a = ...; b = ...`), which its
// harness reads as one flat binding list. Rows that bind pairwise different
// variables cannot be separate OPA results (every row binds every query
// variable), so they are one row.
std::vector<std::map<std::string, Value>> MergedIfFlattened(std::vector<std::map<std::string, Value>> rows) {
  if (rows.size() < 2) return rows;
  std::map<std::string, Value> merged;
  for (const auto& row : rows) {
    if (row.empty()) return rows;
    for (const auto& [name, value] : row) {
      if (!merged.emplace(name, value).second) return rows;
    }
  }
  return {std::move(merged)};
}

Result<std::vector<std::map<std::string, Value>>> LoadRows(const YAML::Node& node) {
  if (!node.IsSequence()) return Fail(ErrorCode::kParse, "want_result must be a list of rows");
  std::vector<std::map<std::string, Value>> rows;
  for (const auto& row : node) {
    std::map<std::string, Value> bindings;
    if (!row.IsMap() && !row.IsNull()) return Fail(ErrorCode::kParse, "a want_result row must be a mapping");
    if (row.IsMap()) {
      for (const auto& binding : row) {
        auto value = ValueFromNode(binding.second, 1);
        if (!value) return tl::unexpected(value.error());
        bindings.emplace(binding.first.Scalar(), std::move(*value));
      }
    }
    rows.push_back(std::move(bindings));
  }
  return MergedIfFlattened(std::move(rows));
}

Result<std::string> LoadOutput(const YAML::Node& node) {
  if (node.IsNull()) return std::string();
  if (node.IsScalar()) return node.Scalar();
  if (!node.IsSequence()) return Fail(ErrorCode::kParse, "want_output must be a string or a list of lines");
  std::string joined;
  for (size_t i = 0; i < node.size(); ++i) {
    auto line = StringField(node[i], "want_output line");
    if (!line) return line;
    if (i > 0) joined += '\n';
    joined += *line;
  }
  return joined;
}

Result<TestCase> LoadCase(const YAML::Node& node, const fs::path& file) {
  if (!node.IsMap()) return Fail(ErrorCode::kParse, "a case must be a mapping");
  TestCase test_case;
  test_case.file = file;
  test_case.version = file.filename().string().starts_with("v0_") ? RegoVersion::kV0 : RegoVersion::kV1;
  auto note = StringField(node["note"], "note");
  if (!note) return tl::unexpected(note.error());
  test_case.note = *note;
  auto fail = [&](const Error& error) { return tl::unexpected(error.Wrap("case \"" + test_case.note + "\"")); };

  auto query = StringField(node["query"], "query");
  if (!query) return fail(query.error());
  test_case.query = *query;
  auto modules = LoadModules(node["modules"], file.parent_path());
  if (!modules) return fail(modules.error());
  test_case.modules = std::move(*modules);

  if (const auto data = node["data"]; data && !data.IsNull()) {
    auto value = ValueFromNode(data, 0);
    if (!value) return fail(value.error());
    if (!value->is_object()) return fail(Error{ErrorCode::kParse, "data must be an object"});
    test_case.data = std::move(*value);
  }
  if (const auto input = node["input"]; input && !input.IsNull()) {
    auto value = ValueFromNode(input, 0);
    if (!value) return fail(value.error());
    test_case.input = std::move(*value);
  }
  if (const auto term = node["input_term"]; term) {
    auto text = StringField(term, "input_term");
    if (!text) return fail(text.error());
    test_case.input_term = *text;
  }
  if (const auto rows = node["want_result"]; rows && !rows.IsNull()) {
    auto loaded = LoadRows(rows);
    if (!loaded) return fail(loaded.error());
    test_case.want_result = std::move(*loaded);
  }
  for (auto [field, target] :
       {std::pair{"want_error", &test_case.want_error}, std::pair{"want_error_code", &test_case.want_error_code}}) {
    if (const auto text = node[field]; text && !text.IsNull()) {
      auto value = StringField(text, field);
      if (!value) return fail(value.error());
      *target = *value;
    }
  }
  for (auto [field, target] :
       {std::pair{"sort_bindings", &test_case.sort_bindings}, std::pair{"strict_error", &test_case.strict_error}}) {
    if (const auto flag = node[field]; flag) {
      auto value = BoolField(flag, field);
      if (!value) return fail(value.error());
      *target = *value;
    }
  }
  if (const auto defined = node["want_defined"]; defined) {
    auto value = BoolField(defined, "want_defined");
    if (!value) return fail(value.error());
    test_case.want_defined = *value;
  }
  if (const auto output = node["want_output"]; output) {
    auto value = LoadOutput(output);
    if (!value) return fail(value.error());
    test_case.want_output = std::move(*value);
  }
  if (const auto skip = node["skip"]; skip && !skip.IsNull()) {
    const Value value = skip.IsScalar() ? ResolvePlainScalar(skip.Scalar()) : Value::Bool(true);
    if (!value.is_bool()) {
      test_case.skip = "marked skip in the case file: " + skip.Scalar();
    } else if (value.as_bool()) {
      test_case.skip = "marked skip in the case file";
    }
  }
  return test_case;
}

std::string Describe(const Value& value) { return value.ToJson(); }

std::string DescribeRows(const std::set<Value>& rows) {
  if (rows.empty()) return "[] (undefined)";
  std::string text = "[";
  for (const auto& row : rows) {
    if (text.size() > 1) text += ", ";
    text += Describe(row);
  }
  return text + "]";
}

// The first place where two values differ, as a path ("x.metadata[0].value:
// want "a", got "b""), so a mismatch deep in a large document is readable.
std::string FirstDifference(const Value& want, const Value& got, const std::string& path) {
  if (want.is_object() && got.is_object()) {
    for (const auto& [key, value] : want.as_object()) {
      const std::string child = path + (key.is_string() ? "." + key.as_string() : "[" + Describe(key) + "]");
      const Value* other = got.Find(key);
      if (other == nullptr) return child + ": missing (want " + Describe(value) + ")";
      if (*other != value) return FirstDifference(value, *other, child);
    }
    for (const auto& [key, value] : got.as_object()) {
      if (want.Find(key) == nullptr) return path + "." + Describe(key) + ": unexpected (got " + Describe(value) + ")";
    }
  }
  if (want.is_array() && got.is_array()) {
    const auto& a = want.as_array();
    const auto& b = got.as_array();
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      if (a[i] != b[i]) return FirstDifference(a[i], b[i], path + "[" + std::to_string(i) + "]");
    }
    if (a.size() != b.size()) {
      return path + ": want " + std::to_string(a.size()) + " elements, got " + std::to_string(b.size());
    }
  }
  return (path.empty() ? std::string("value") : path) + ": want " + Describe(want) + ", got " + Describe(got);
}

Value RowValue(const std::map<std::string, Value>& bindings, bool sort_arrays) {
  Value::Object row;
  for (const auto& [name, value] : bindings) {
    Value normalized = JsonNormalized(value);
    if (sort_arrays && normalized.is_array()) {
      Value::Array items = normalized.as_array();
      std::sort(items.begin(), items.end());
      normalized = Value::FromArray(std::move(items));
    }
    row.emplace(Value::String(name), std::move(normalized));
  }
  return Value::FromObject(std::move(row));
}

// input_term is a ground Rego term; its value is what `x = <term>` binds.
Result<Value> EvaluateInputTerm(const std::string& term) {
  Engine engine;
  EvalOptions options;
  auto result = engine.EvalQuery("input_term_value = " + term, options);
  if (!result) return tl::unexpected(result.error());
  if (result->rows.size() != 1) {
    return Fail(ErrorCode::kInternal, "input_term gave " + std::to_string(result->rows.size()) + " rows");
  }
  const auto bound = result->rows.front().bindings.find("input_term_value");
  if (bound == result->rows.front().bindings.end()) return Fail(ErrorCode::kInternal, "input_term was not bound");
  return bound->second;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string joined;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) joined += '\n';
    joined += lines[i];
  }
  return joined;
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string WantedError(const TestCase& test_case) {
  std::string wanted = "an error";
  if (test_case.want_error_code) wanted += " with code " + *test_case.want_error_code;
  if (test_case.want_error) wanted += " containing " + Quoted(*test_case.want_error);
  return wanted;
}

Outcome Failed(std::string detail) { return {Verdict::kFailed, std::move(detail)}; }

Outcome CheckError(const TestCase& test_case, const Error& error) {
  if (!test_case.want_error && !test_case.want_error_code) return Failed("unexpected error: " + error.message);
  std::vector<std::string> problems;
  if (test_case.want_error_code && OpaCodeOf(error) != *test_case.want_error_code) {
    problems.push_back("code " + std::string(OpaCodeOf(error).empty() ? "(none)" : OpaCodeOf(error)));
  }
  if (test_case.want_error && !ErrorMessageMatches(*test_case.want_error, error.message)) {
    problems.push_back("message does not match");
  }
  if (problems.empty()) return {Verdict::kPassed, ""};
  std::string detail = "want " + WantedError(test_case) + "; got ";
  for (const auto& problem : problems) detail += problem + ", ";
  return Failed(detail + "error: " + error.message);
}

Outcome CheckResult(const TestCase& test_case, const QueryResult& result) {
  if (test_case.want_error || test_case.want_error_code) {
    std::set<Value> got;
    for (const auto& row : result.rows) got.insert(RowValue(row.bindings, false));
    return Failed("want " + WantedError(test_case) + "; got no error, rows " + DescribeRows(got));
  }
  std::vector<std::string> problems;
  if (test_case.want_result) {
    if (auto difference = CompareRows(test_case, result); !difference.empty()) problems.push_back(difference);
  }
  if (test_case.want_defined && *test_case.want_defined == result.rows.empty()) {
    problems.push_back(std::string("want ") + (*test_case.want_defined ? "defined" : "undefined") + ", got " +
                       std::to_string(result.rows.size()) + " rows");
  }
  if (test_case.want_output) {
    const std::string printed = JoinLines(result.prints);
    if (printed != *test_case.want_output) {
      problems.push_back("want output " + Quoted(*test_case.want_output) + ", got " + Quoted(printed));
    }
  }
  if (!test_case.want_result && !test_case.want_defined && !test_case.want_output) {
    problems.push_back("the case states no expectation (want_result, want_error, want_defined or want_output)");
  }
  if (problems.empty()) return {Verdict::kPassed, ""};
  std::string detail;
  for (const auto& problem : problems) detail += (detail.empty() ? "" : "; ") + problem;
  return Failed(detail);
}

// Error wordings that differ between OPA versions (or between OPA and
// rego-cpp) for the same error. Group 1 of a pattern, when present, is the
// rule or function name; when both the wanted and the actual wording carry a
// name, the names must be equal.
const std::vector<std::vector<std::regex>>& EquivalentWordings() {
  static const auto* families = new std::vector<std::vector<std::regex>>{
      {std::regex(R"(complete rules must not produce multiple outputs)"),
       std::regex(R"(rule (\S+) produced conflicting values)")},
      {std::regex(R"(functions must not produce multiple outputs for same inputs)"),
       std::regex(R"(function (\S+) produced conflicting values for the same inputs)")},
      {std::regex(R"(Recursion detected in rule body: (\S+))"), std::regex(R"(rule (\S+) is recursive)")},
  };
  return *families;
}

bool MatchesEquivalentWording(std::string_view want_error, std::string_view message) {
  const std::string want(want_error);
  const std::string got(message);
  for (const auto& family : EquivalentWordings()) {
    for (const auto& wanted_form : family) {
      std::smatch wanted;
      if (!std::regex_search(want, wanted, wanted_form)) continue;
      const std::string wanted_name = wanted.size() > 1 ? wanted[1].str() : "";
      for (const auto& actual_form : family) {
        std::smatch actual;
        if (!std::regex_search(got, actual, actual_form)) continue;
        const std::string actual_name = actual.size() > 1 ? actual[1].str() : "";
        if (wanted_name.empty() || actual_name.empty() || wanted_name == actual_name) return true;
      }
    }
  }
  return false;
}

}  // namespace

Result<std::vector<fs::path>> CollectCaseFiles(const std::vector<fs::path>& paths) {
  std::vector<fs::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
      continue;
    }
    if (!fs::is_directory(path, ec)) return Fail(ErrorCode::kNotFound, path.string() + ": no such file or folder");
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file(ec) && it->path().extension() == ".yaml") files.push_back(it->path());
    }
    if (ec) return Fail(ErrorCode::kIo, path.string() + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

Result<std::vector<TestCase>> LoadCaseFile(const fs::path& file) {
  auto text = ReadTextFile(file);
  if (!text) return tl::unexpected(text.error());
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return ParseError(file, e.what());
  }
  try {
    if (!root.IsMap() || !root["cases"] || !root["cases"].IsSequence()) {
      return ParseError(file, "expected a mapping with a list `cases`");
    }
    std::vector<TestCase> cases;
    for (const auto& node : root["cases"]) {
      auto test_case = LoadCase(node, file);
      if (!test_case) return ParseError(file, test_case.error().message);
      cases.push_back(std::move(*test_case));
    }
    return cases;
  } catch (const YAML::Exception& e) {
    return ParseError(file, e.what());
  }
}

Result<Value> ValueFromYaml(std::string_view yaml) {
  try {
    return ValueFromNode(YAML::Load(std::string(yaml)), 0);
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kParse, e.what());
  }
}

bool ErrorMessageMatches(std::string_view want_error, std::string_view message) {
  if (message.find(want_error) != std::string_view::npos) return true;
  // OPA writes positions as file:line; we add the column.
  static const std::regex kPositioned(R"(^([^\s:]+):([0-9]+): (.+)$)");
  std::match_results<std::string_view::const_iterator> position;
  if (std::regex_match(want_error.begin(), want_error.end(), position, kPositioned)) {
    const std::string prefix = position[1].str() + ":" + position[2].str() + ":";
    const std::string rest = position[3].str();
    for (size_t at = message.find(prefix); at != std::string_view::npos; at = message.find(prefix, at + 1)) {
      size_t after = at + prefix.size();
      while (after < message.size() && message[after] >= '0' && message[after] <= '9') ++after;
      if (after < message.size() && message[after] == ':') ++after;
      if (after < message.size() && message[after] == ' ') ++after;
      if (ErrorMessageMatches(rest, message.substr(after))) return true;
    }
    return false;
  }
  return MatchesEquivalentWording(want_error, message);
}

Value JsonNormalized(const Value& value) {
  auto round_trip = Value::FromJson(value.ToJson());
  return round_trip ? *round_trip : value;
}

std::string CompareRows(const TestCase& test_case, const QueryResult& result) {
  if (!test_case.want_result) return "";
  std::set<Value> want;
  for (const auto& row : *test_case.want_result) want.insert(RowValue(row, false));
  std::set<Value> got;
  for (const auto& row : result.rows) got.insert(RowValue(row.bindings, test_case.sort_bindings));
  if (want == got) return "";
  std::string detail = "want rows " + DescribeRows(want) + ", got " + DescribeRows(got);
  if (want.size() == 1 && got.size() == 1)
    detail += "; first difference at " + FirstDifference(*want.begin(), *got.begin(), "");
  return detail;
}

Outcome RunCase(const TestCase& test_case) {
  if (test_case.skip) return {Verdict::kSkipped, *test_case.skip};
  Engine engine;
  Status loaded;
  for (const auto& module : test_case.modules) {
    loaded = engine.AddModule(module.filename, module.source, test_case.version);
    if (!loaded) break;
  }
  if (loaded && test_case.data) loaded = engine.AddData(*test_case.data);
  if (loaded) loaded = engine.Compile();
  if (!loaded) return CheckError(test_case, loaded.error());

  std::optional<Value> input = test_case.input;
  if (test_case.input_term) {
    auto value = EvaluateInputTerm(*test_case.input_term);
    if (!value) return Failed("input_term " + Quoted(*test_case.input_term) + ": " + value.error().message);
    input = std::move(*value);
  }
  EvalOptions options;
  options.input = input ? &*input : nullptr;
  options.strict_builtin_errors = test_case.strict_error;
  options.limits.max_time = kCaseTimeLimit;
  auto result = engine.EvalQuery(test_case.query, options);
  if (!result) return CheckError(test_case, result.error());
  return CheckResult(test_case, *result);
}

Result<SkipList> ParseSkipList(std::string_view text) {
  SkipList skips;
  int line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const size_t tab = line.find('\t');
    const std::string where = "skip list line " + std::to_string(line_number);
    if (tab == std::string_view::npos || tab == 0 || tab + 1 == line.size()) {
      return Fail(ErrorCode::kParse, where + ": expected \"note<TAB>reason\"");
    }
    if (!skips.emplace(std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))).second) {
      return Fail(ErrorCode::kParse, where + ": note listed twice: " + std::string(line.substr(0, tab)));
    }
  }
  return skips;
}

Result<DivergenceList> ParseDivergenceList(std::string_view text) {
  DivergenceList divergences;
  int number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(number) + ": ";
    std::vector<std::string_view> fields;
    for (size_t start = 0; fields.size() < 3;) {
      const size_t tab = line.find('\t', start);
      if (tab == std::string_view::npos) break;
      fields.push_back(line.substr(start, tab - start));
      start = tab + 1;
      if (fields.size() == 3) fields.push_back(line.substr(start));
    }
    if (fields.size() != 4 || std::any_of(fields.begin(), fields.end(), [](auto f) { return f.empty(); })) {
      return Fail(ErrorCode::kParse, where + "expected note<TAB>variable<TAB>OPA's value<TAB>reason");
    }
    Divergence divergence{std::string(fields[1]), std::nullopt, std::string(fields[3])};
    if (divergence.variable == "-" || fields[2] == "-") {
      if (divergence.variable != "-" || fields[2] != "-") {
        return Fail(ErrorCode::kParse, where + "an undefined result has variable \"-\" and value \"-\"");
      }
    } else {
      auto value = Value::FromJson(fields[2]);
      if (!value) return Fail(ErrorCode::kParse, where + "OPA's value is not JSON: " + value.error().message);
      divergence.opa_value = std::move(*value);
    }
    divergences.emplace(std::string(fields[0]), std::move(divergence));
  }
  return divergences;
}

Status ApplyDivergences(TestCase& test_case, const DivergenceList& divergences) {
  const auto [first, last] = divergences.equal_range(test_case.note);
  for (auto it = first; it != last; ++it) {
    const Divergence& divergence = it->second;
    test_case.diverging_bindings.insert(divergence.variable);
    if (!divergence.opa_value) {  // undefined in OPA
      test_case.want_result = std::vector<std::map<std::string, Value>>{};
      continue;
    }
    if (!test_case.want_result || test_case.want_result->empty()) {
      return Fail(ErrorCode::kInvalidArgument, test_case.note + ": no expected rows to correct");
    }
    for (auto& row : *test_case.want_result) {
      const auto binding = row.find(divergence.variable);
      if (binding == row.end()) {
        return Fail(ErrorCode::kInvalidArgument, test_case.note + ": expects no variable " + divergence.variable);
      }
      binding->second = *divergence.opa_value;
    }
  }
  return {};
}

Result<DivergenceList> LoadDivergenceList(const fs::path& file) {
  auto text = ReadTextFile(file);
  if (!text) return tl::unexpected(text.error());
  auto divergences = ParseDivergenceList(*text);
  if (!divergences) return tl::unexpected(divergences.error().Wrap(file.string()));
  return divergences;
}

Result<SkipList> LoadSkipList(const fs::path& file) {
  auto text = ReadTextFile(file);
  if (!text) return tl::unexpected(text.error());
  auto skips = ParseSkipList(*text);
  if (!skips) return tl::unexpected(skips.error().Wrap(file.string()));
  return skips;
}

}  // namespace contrast::policy::rego::conformance
