#include "cli/policy_commands.h"

#include "common/text.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <ostream>
#include <set>

#include <yaml-cpp/yaml.h>
#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/yaml_nodes.h"
#include "common/bytes.h"
#include "common/files.h"
#include "policy/rego/agent.h"
#include "policy/rego/engine.h"
#include "policy/rego/errors.h"

namespace contrast::cli {
namespace {

using policy::rego::AgentPolicy;
using policy::rego::AgentPolicyOptions;
using policy::rego::Decision;
using policy::rego::Engine;
using policy::rego::EvalOptions;
using policy::rego::Location;
using policy::rego::RegoVersion;
using policy::rego::TraceEvent;
using policy::rego::Tracer;
using policy::rego::Value;

// The agent accepts policies up to 16 MiB; so do we, for every input.
constexpr size_t kMaxPolicySize = 16 * 1024 * 1024;
constexpr size_t kMaxJsonSize = 64 * 1024 * 1024;
constexpr std::string_view kLegacyAnnotation = "io.katacontainers.config.agent.policy";
constexpr std::string_view kInitdataAnnotation = "io.katacontainers.config.hypervisor.cc_init_data";

Result<Value> ReadJson(const std::filesystem::path& path) {
  auto text = ReadTextFile(path, kMaxJsonSize);
  if (!text) return Fail(text.error());
  auto value = Value::FromJson(*text);
  if (!value) return Fail(value.error().Wrap(path.string()));
  return value;
}

// --- initdata ----------------------------------------------------------------

Result<std::string> Gunzip(ByteView compressed, size_t max_size) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return Fail(ErrorCode::kInternal, "zlib: inflateInit2 failed");
  std::string out;
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(compressed.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    char chunk[16384];
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&stream);
      return Fail(ErrorCode::kParse, std::string("initdata is not valid gzip: ") + (rc == Z_BUF_ERROR ? "truncated"
                                                                                    : stream.msg      ? stream.msg
                                                                                                      : "error"));
    }
    out.append(chunk, sizeof(chunk) - stream.avail_out);
    if (out.size() > max_size) {
      inflateEnd(&stream);
      return Fail(ErrorCode::kParse, "initdata is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  inflateEnd(&stream);
  return out;
}

// Just enough TOML to find one string: tables, dotted and quoted keys, the
// four string forms, and skipping every other value.
class TomlScanner {
 public:
  explicit TomlScanner(std::string_view text) : s_(text) {}

  Result<std::optional<std::string>> FindString(const std::vector<std::string>& wanted) {
    std::vector<std::string> table;
    while (true) {
      SkipBlank(true);
      if (AtEnd()) return std::optional<std::string>();
      if (s_[i_] == '[') {
        const bool array_table = i_ + 1 < s_.size() && s_[i_ + 1] == '[';
        i_ += array_table ? 2 : 1;
        auto keys = ParseKey();
        if (!keys) return Fail(keys.error());
        SkipBlank(false);
        if (!Consume(array_table ? "]]" : "]")) return Error("expected ']'");
        table = std::move(*keys);
        continue;
      }
      auto keys = ParseKey();
      if (!keys) return Fail(keys.error());
      SkipBlank(false);
      if (!Consume("=")) return Error("expected '='");
      SkipBlank(false);
      std::vector<std::string> full = table;
      full.insert(full.end(), keys->begin(), keys->end());
      if (!AtEnd() && (s_[i_] == '"' || s_[i_] == '\'')) {
        auto value = ParseString();
        if (!value) return Fail(value.error());
        if (full == wanted) return std::optional<std::string>(std::move(*value));
      } else if (auto skipped = SkipValue(); !skipped) {
        return Fail(skipped.error());
      }
    }
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  bool Consume(std::string_view token) {
    if (s_.substr(i_, token.size()) != token) return false;
    i_ += token.size();
    return true;
  }
  tl::unexpected<contrast::Error> Error(std::string_view what) const {
    const size_t line = static_cast<size_t>(std::count(s_.begin(), s_.begin() + static_cast<std::ptrdiff_t>(i_), '\n'));
    return Fail(ErrorCode::kParse, "initdata TOML line " + std::to_string(line + 1) + ": " + std::string(what));
  }
  void SkipBlank(bool newlines) {
    while (!AtEnd()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++i_;
      } else if (c == '#') {
        while (!AtEnd() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }
  Result<std::vector<std::string>> ParseKey() {
    std::vector<std::string> parts;
    while (true) {
      SkipBlank(false);
      if (AtEnd()) return Error("expected a key");
      if (s_[i_] == '"' || s_[i_] == '\'') {
        if (s_.substr(i_, 3) == "\"\"\"" || s_.substr(i_, 3) == "'''") return Error("multi-line string as key");
        auto part = ParseString();
        if (!part) return Fail(part.error());
        parts.push_back(std::move(*part));
      } else {
        const size_t start = i_;
        while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '-')) ++i_;
        if (i_ == start) return Error("expected a key");
        parts.emplace_back(s_.substr(start, i_ - start));
      }
      SkipBlank(false);
      if (AtEnd() || s_[i_] != '.') return parts;
      ++i_;
    }
  }
  // Up to two quotes right before a closing delimiter belong to the content.
  size_t CloseOfMultiline(size_t close, char quote) const {
    size_t extra = 0;
    while (extra < 2 && close + 3 + extra < s_.size() && s_[close + 3 + extra] == quote) ++extra;
    return close + extra;
  }
  void SkipFirstNewline() {
    if (Consume("\n")) return;
    Consume("\r\n");
  }
  Result<std::string> ParseString() {
    if (Consume("'''")) {
      SkipFirstNewline();
      size_t close = s_.find("'''", i_);
      if (close == std::string_view::npos) return Error("unterminated ''' string");
      close = CloseOfMultiline(close, '\'');
      std::string value(s_.substr(i_, close - i_));
      i_ = close + 3;
      return value;
    }
    if (Consume("'")) {
      const size_t close = s_.find_first_of("'\n", i_);
      if (close == std::string_view::npos || s_[close] != '\'') return Error("unterminated ' string");
      std::string value(s_.substr(i_, close - i_));
      i_ = close + 1;
      return value;
    }
    const bool multiline = Consume("\"\"\"");
    if (multiline) {
      SkipFirstNewline();
    } else if (!Consume("\"")) {
      return Error("expected a string");
    }
    std::string value;
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      const char c = s_[i_];
      if (multiline && s_.substr(i_, 3) == "\"\"\"") {
        const size_t close = CloseOfMultiline(i_, '"');
        value.append(close - i_, '"');
        i_ = close + 3;
        return value;
      }
      if (!multiline && c == '"') {
        ++i_;
        return value;
      }
      if (!multiline && c == '\n') return Error("newline in a string");
      if (c != '\\') {
        value += c;
        ++i_;
        continue;
      }
      ++i_;
      if (AtEnd()) return Error("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case 'b': value += '\b'; break;
        case 't': value += '\t'; break;
        case 'n': value += '\n'; break;
        case 'f': value += '\f'; break;
        case 'r': value += '\r'; break;
        case 'e': value += '\x1b'; break;
        case '"': value += '"'; break;
        case '\\': value += '\\'; break;
        case 'u':
        case 'U': {
          const size_t digits = e == 'u' ? 4 : 8;
          if (i_ + digits > s_.size()) return Error("short unicode escape");
          auto bytes = HexDecode((digits == 4 ? "0000" : "") + std::string(s_.substr(i_, digits)));
          if (!bytes) return Error("bad unicode escape");
          i_ += digits;
          const uint32_t cp = (uint32_t{(*bytes)[0]} << 24) | (uint32_t{(*bytes)[1]} << 16) |
                              (uint32_t{(*bytes)[2]} << 8) | uint32_t{(*bytes)[3]};
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Error("bad unicode escape");
          AppendUtf8(value, cp);
          break;
        }
        default:
          if (multiline && (e == ' ' || e == '\t' || e == '\n' || e == '\r')) {
            // A line-ending backslash swallows the line break and the blanks after it.
            --i_;
            while (!AtEnd() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
            break;
          }
          return Error("unknown escape");
      }
    }
  }
  // Skips a non-string value: a scalar to the end of the line, or an array or
  // inline table with whatever strings and nesting it holds.
  Status SkipValue() {
    int depth = 0;
    while (!AtEnd()) {
      const char c = s_[i_];
      if (c == '"' || c == '\'') {
        if (auto skipped = ParseString(); !skipped) return Fail(skipped.error());
        continue;
      }
      if (c == '[' || c == '{') {
        if (++depth > 64) return Error("nesting too deep");
      } else if (c == ']' || c == '}') {
        if (--depth < 0) return Error("unbalanced brackets");
      } else if (c == '#' || c == '\n') {
        if (depth == 0) return {};
        if (c == '#') {
          SkipBlank(false);
          continue;
        }
      }
      ++i_;
    }
    return depth == 0 ? Status{} : Status(Error("unterminated array or table"));
  }

  std::string_view s_;
  size_t i_ = 0;
};

// --- Kubernetes YAML ---------------------------------------------------------

// The pod template's annotations of one document, wherever its kind keeps them.
std::vector<YAML::Node> PodAnnotations(const YAML::Node& doc) {
  std::vector<YAML::Node> found;
  for (const YAML::Node& annotations : {
           ChildPath(doc, {"metadata", "annotations"}),                      // Pod
           ChildPath(doc, {"spec", "template", "metadata", "annotations"}),  // Deployment, Job, ...
           ChildPath(doc, {"spec", "jobTemplate", "spec", "template", "metadata", "annotations"}),  // CronJob
       }) {
    if (annotations.IsMap()) found.push_back(annotations);
  }
  return found;
}

std::string StripSpace(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') out += c;
  }
  return out;
}

Result<std::string> PolicyFromAnnotation(std::string_view key, const std::string& value) {
  if (key == kInitdataAnnotation) return PolicyFromInitdataAnnotation(value);
  auto decoded = Base64Decode(StripSpace(value));
  if (!decoded) return Fail(decoded.error().Wrap(std::string(key) + " is not base64"));
  return std::string(AsChars(*decoded));
}

// --- eval --------------------------------------------------------------------

Status AddDataFile(Engine& engine, const std::filesystem::path& path, RegoVersion version) {
  const std::string ext = path.extension().string();
  if (ext == ".rego") {
    auto text = ReadTextFile(path, kMaxPolicySize);
    if (!text) return Fail(text.error());
    return engine.AddModule(path.string(), *text, version);
  }
  if (ext == ".json") {
    auto value = ReadJson(path);
    if (!value) return Fail(value.error());
    if (!value->is_object()) return Fail(ErrorCode::kInvalidArgument, path.string() + ": data must be a JSON object");
    return engine.AddData(*value);
  }
  return Fail(ErrorCode::kInvalidArgument, path.string() + ": -d takes .rego and .json files or directories");
}

Status LoadDataArgument(Engine& engine, const std::filesystem::path& path, RegoVersion version) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return AddDataFile(engine, path, version);
  std::vector<std::filesystem::path> files;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string ext = it->path().extension().string();
    if (it->is_regular_file(ec) && (ext == ".rego" || ext == ".json")) files.push_back(it->path());
  }
  if (ec) return Fail(ErrorCode::kIo, path.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    if (auto added = AddDataFile(engine, file, version); !added) return added;
  }
  return {};
}

Value RowValue(const policy::rego::QueryResult::Row& row) {
  if (!row.bindings.empty()) {
    Value::Object object;
    for (const auto& [name, value] : row.bindings) object.emplace(Value::String(name), value);
    return Value::FromObject(std::move(object));
  }
  if (row.expressions.size() == 1) return row.expressions[0];
  return Value::FromArray(row.expressions);
}

// --- check / explain -----------------------------------------------------------

struct LoadedCheck {
  AgentPolicy policy;
  Value input;
};

std::optional<LoadedCheck> LoadCheck(const PolicyCheckCommand& command, std::ostream& err) {
  Result<std::string> text = Fail(ErrorCode::kInvalidArgument, "give --policy or --from-yaml");
  std::string filename = "policy.rego";
  if (command.policy) {
    text = ReadTextFile(*command.policy, kMaxPolicySize);
    filename = command.policy->string();
  } else if (command.from_yaml) {
    auto yaml = ReadTextFile(*command.from_yaml, kMaxJsonSize);
    text = yaml ? PolicyFromKubernetesYaml(*yaml, command.pod) : Result<std::string>(Fail(yaml.error()));
  }
  if (!text) {
    err << "error: " << text.error().message << "\n";
    return std::nullopt;
  }
  AgentPolicyOptions options;
  options.version = command.v0 ? RegoVersion::kV0 : RegoVersion::kV1;
  options.filename = filename;
  auto policy = AgentPolicy::Load(*text, options);
  if (!policy) {
    err << "error: " << policy.error().message << "\n";
    return std::nullopt;
  }
  if (policy->allows_failing_requests()) {
    err << "WARNING: the policy sets AllowRequestsFailingPolicy := true: the agent allows every request it would "
           "deny (insecure, debug only)\n";
  }
  if (command.state) {
    auto state = ReadJson(*command.state);
    if (!state || !state->is_object()) {
      err << "error: "
          << (state ? command.state->string() + ": the state must be a JSON object" : state.error().message) << "\n";
      return std::nullopt;
    }
    Value::Object data = policy->initial_data().as_object();
    data.insert_or_assign(Value::String("pstate"), *state);
    policy->SetData(Value::FromObject(std::move(data)));
  }
  auto input = ReadJson(command.input);
  if (!input) {
    err << "error: " << input.error().message << "\n";
    return std::nullopt;
  }
  if (!command.no_defaults) {
    input = policy::rego::FillRequestDefaults(command.request, *input);
    if (!input) {
      err << "error: " << input.error().message << "\n";
      return std::nullopt;
    }
  }
  return LoadedCheck{std::move(*policy), std::move(*input)};
}

// Prints the verdict and the policy's output; writes the state when asked.
int Report(const PolicyCheckCommand& command, const LoadedCheck& loaded, const Decision& decision, std::ostream& out,
           std::ostream& err) {
  out << (decision.allowed ? "allow" : "deny") << "\n";
  if (!decision.reason.empty()) out << "reason: " << decision.reason << "\n";
  if (!decision.prints.empty()) {
    out << "policy output:\n";
    for (const auto& line : decision.prints.Lines()) out << "  " << line << "\n";
  }
  if (command.state_out) {
    const Value* pstate = loaded.policy.data().Get("pstate");
    const std::string json = (pstate != nullptr ? *pstate : Value::FromObject({})).ToPrettyJson() + "\n";
    if (auto written = WriteFileAtomic(*command.state_out, json); !written) {
      err << "error: " << written.error().message << "\n";
      return kExitUsage;
    }
  }
  if (decision.error && !decision.allowed) {
    err << "error: " << decision.error->message << "\n";
    return kExitUsage;
  }
  return decision.allowed ? kExitOk : kExitFailed;
}

std::string Where(const Location& location) {
  std::string s = location.file.empty() ? "query" : location.file;
  if (location.line > 0) s += ":" + std::to_string(location.line);
  if (location.column > 0) s += ":" + std::to_string(location.column);
  return s;
}

std::string Short(const Value& value, size_t max = 160) {
  std::string json = value.ToJson();
  if (json.size() > max) json = json.substr(0, max) + "... (" + std::to_string(json.size()) + " bytes)";
  return json;
}

// Collects, per rule evaluation, where each of its bodies failed.
class ExplainTracer : public Tracer {
 public:
  struct Body {
    int index = 0;
    Location location;
    bool succeeded = false;
    bool failed = false;
    Location failed_at;
    std::string failed_text;
    std::vector<std::pair<std::string, Value>> bindings;
    int other_failures = 0;  // more failures of this body (other iterations)
  };
  struct Rule {
    std::string name;
    Location location;
    std::string head;
    std::map<int, Body> bodies;
    bool failed = false;
  };

  void Trace(const TraceEvent& event) override {
    switch (event.type) {
      case TraceEvent::Type::kEnterRule:
        stack_.push_back(Frame{Rule{event.rule, event.location, event.text, {}, false}, -1});
        break;
      case TraceEvent::Type::kEnterBody:
        if (stack_.empty()) break;
        stack_.back().body = event.body_index;
        if (auto& b = stack_.back().rule.bodies[event.body_index]; b.location.line == 0) {
          b.index = event.body_index;
          b.location = event.location;
        }
        break;
      case TraceEvent::Type::kFailExpr: {
        if (stack_.empty() || stack_.back().body < 0) break;
        Body& b = stack_.back().rule.bodies[stack_.back().body];
        if (b.failed) {
          ++b.other_failures;
          // Of a body's failures (one per iteration), show the one that got
          // furthest: the later expression is the closer miss.
          if (!Before(b.failed_at, event.location)) break;
        }
        b.failed = true;
        b.failed_at = event.location;
        b.failed_text = event.text;
        b.bindings = event.bindings;
        break;
      }
      case TraceEvent::Type::kExitBody:
        if (!stack_.empty()) stack_.back().rule.bodies[event.body_index].succeeded = true;
        break;
      case TraceEvent::Type::kExitRule:
      case TraceEvent::Type::kFailRule: {
        if (stack_.empty()) break;
        Rule rule = std::move(stack_.back().rule);
        stack_.pop_back();
        rule.failed = event.type == TraceEvent::Type::kFailRule;
        if (!rule.failed) succeeded_.insert(rule.name);
        if (stack_.empty()) {
          if (!request_) request_ = std::move(rule);
        } else if (rule.failed && seen_.insert(rule.name).second) {
          failed_.push_back(std::move(rule));
        }
        break;
      }
    }
  }

  void Render(std::ostream& out) const {
    if (!request_) {
      out << "The request's rule was not evaluated (no rule of that name in the policy).\n";
      return;
    }
    RenderRule(*request_, out);
    // Rules are recorded as they finish, innermost first; show the caller
    // before its callees. Rules that never succeeded are the likely cause;
    // those that also succeeded in other calls (e.g. for another element
    // of a loop, or under `not`) come after them.
    std::vector<const Rule*> never, sometimes;
    for (auto it = failed_.rbegin(); it != failed_.rend(); ++it) {
      (succeeded_.contains(it->name) ? sometimes : never).push_back(&*it);
    }
    RenderList("Rules it called that failed every time (first failure of each):", never, out);
    RenderList("Rules it called that failed in some calls and succeeded in others:", sometimes, out);
  }

 private:
  struct Frame {
    Rule rule;
    int body;
  };

  static bool Before(const Location& a, const Location& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  }

  static void RenderList(const char* title, const std::vector<const Rule*>& rules, std::ostream& out) {
    if (rules.empty()) return;
    out << "\n" << title << "\n";
    constexpr size_t kMaxRules = 15;
    for (size_t i = 0; i < rules.size() && i < kMaxRules; ++i) {
      out << "\n";
      RenderRule(*rules[i], out);
    }
    if (rules.size() > kMaxRules) out << "\n... and " << rules.size() - kMaxRules << " more rules\n";
  }

  static void RenderRule(const Rule& rule, std::ostream& out) {
    out << rule.name << " (" << Where(rule.location) << ")";
    const bool any_succeeded =
        std::any_of(rule.bodies.begin(), rule.bodies.end(), [](const auto& b) { return b.second.succeeded; });
    if (rule.failed) {
      out << ": no definition succeeded\n";
    } else if (!any_succeeded && !rule.bodies.empty()) {
      out << ": no definition succeeded, its default value applies\n";
    } else {
      out << ": produced a value\n";
    }
    if (rule.bodies.empty()) out << "  (no definition with a body was tried)\n";
    int number = 0;
    for (const auto& [index, body] : rule.bodies) {
      ++number;  // the evaluator's indices count across the module; show them per rule
      out << "  definition " << number << " at " << Where(body.location);
      if (body.succeeded) {
        out << ": succeeded\n";
        continue;
      }
      if (!body.failed) {
        out << ": failed\n";
        continue;
      }
      out << ": fails at " << Where(body.failed_at) << "\n";
      out << "      " << body.failed_text << "\n";
      for (const auto& [name, value] : body.bindings) out << "      " << name << " = " << Short(value) << "\n";
      if (body.other_failures > 0) {
        out << "      (and " << body.other_failures << " more failures in other iterations)\n";
      }
    }
  }

  std::vector<Frame> stack_;
  std::optional<Rule> request_;
  std::vector<Rule> failed_;
  std::set<std::string> seen_;
  std::set<std::string> succeeded_;  // rules with at least one successful call
};

constexpr const char* kEvalHelp =
    "Evaluate a Rego query, like `opa eval`.\n"
    "Output (stdout, JSON): with one result, that result; with several, a JSON array of them. A result is\n"
    "the object of the query's variable bindings when the query has variables (`data.p.q = x` -> {\"x\": ...}),\n"
    "else the value of its only expression, else the array of its expressions' values.\n"
    "Exit 0 when the query is defined, 1 when it is undefined (nothing on stdout), 2 on errors (stderr:\n"
    "file:line:col: OPA error code: message). `print` output goes to stderr.";

constexpr const char* kCheckHelp =
    "Decide one Kata agent request as the agent would: evaluate data.agent_policy.<KIND> with the request as\n"
    "input (protobuf defaults filled in), data {\"pstate\": STATE}, non-strict builtin errors. Prints `allow` or\n"
    "`deny`, the reason, and the policy's print output. Exit 0 allow, 1 deny, 2 error.";

constexpr const char* kExplainHelp =
    "Like `check`, and for a denied request show why: for the request's rule and then for each rule it called\n"
    "that failed, every definition tried and the first expression that failed in it, with its location and the\n"
    "values of its variables.";

void AddCheckOptions(CLI::App* cmd, PolicyCheckCommand& c) {
  auto* policy = cmd->add_option("--policy", c.policy, "The agent policy (Rego)");
  auto* yaml = cmd->add_option("--from-yaml", c.from_yaml,
                               "Kubernetes YAML whose pod annotation carries the policy (" +
                                   std::string(kLegacyAnnotation) + " or " + std::string(kInitdataAnnotation) + ")");
  policy->excludes(yaml);
  yaml->excludes(policy);
  cmd->add_option("--pod", c.pod,
                  "With --from-yaml: the workload (metadata.name) whose policy to use, when the YAML "
                  "holds several")
      ->needs(yaml);
  cmd->add_option("--request", c.request, "The request kind (protobuf message name), e.g. CreateContainerRequest")
      ->required();
  cmd->add_option("INPUT", c.input, "The request, JSON (omitted fields get protobuf defaults)")->required();
  cmd->add_option("--state", c.state, "JSON object: the policy state data.pstate before the request (default {})");
  cmd->add_option("--state-out", c.state_out, "Write data.pstate after the request (JSON), to chain requests");
  cmd->add_flag("--v0", c.v0, "Parse the policy as Rego v0 (older generated policies)");
  cmd->add_flag("--no-defaults", c.no_defaults, "Use the request exactly as given (no protobuf defaults)");
}

}  // namespace

Result<std::string> PolicyFromInitdataToml(std::string_view toml) {
  TomlScanner scanner(toml);
  auto found = scanner.FindString({"data", "policy.rego"});
  if (!found) return Fail(found.error());
  if (!found->has_value()) return Fail(ErrorCode::kNotFound, "initdata has no [data] \"policy.rego\" entry");
  return std::move(**found);
}

Result<std::string> PolicyFromInitdataAnnotation(std::string_view annotation) {
  auto compressed = Base64Decode(StripSpace(annotation));
  if (!compressed) return Fail(compressed.error().Wrap("initdata annotation is not base64"));
  auto toml = Gunzip(*compressed, kMaxPolicySize + 1024 * 1024);
  if (!toml) return Fail(toml.error());
  return PolicyFromInitdataToml(*toml);
}

namespace {

// metadata.name of a workload document, "" when absent.
std::string WorkloadName(const YAML::Node& doc) {
  const YAML::Node name = ChildPath(doc, {"metadata", "name"});
  return name.IsScalar() ? name.Scalar() : std::string();
}

// The workload documents of a YAML stream, List items included.
std::vector<YAML::Node> WorkloadDocuments(const std::vector<YAML::Node>& docs) {
  std::vector<YAML::Node> out;
  for (const YAML::Node& doc : docs) {
    const YAML::Node items = Child(doc, "items");
    const YAML::Node kind = Child(doc, "kind");
    if (kind.IsScalar() && kind.Scalar() == "List" && items.IsSequence()) {
      for (const YAML::Node& item : items) out.push_back(item);
    } else {
      out.push_back(doc);
    }
  }
  return out;
}

}  // namespace

Result<std::string> HashedDocumentFromAnnotation(std::string_view key, std::string_view value) {
  auto decoded = Base64Decode(StripSpace(value));
  if (!decoded) return Fail(decoded.error().Wrap(std::string(key) + " is not base64"));
  if (key == kInitdataAnnotation) return Gunzip(*decoded, kMaxPolicySize + 1024 * 1024);
  if (key == kLegacyAnnotation) return std::string(AsChars(*decoded));
  return Fail(ErrorCode::kInvalidArgument, "not a policy annotation: " + std::string(key));
}

Result<std::string> PolicyFromKubernetesYaml(std::string_view yaml, std::string_view workload) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kParse, std::string("YAML: ") + e.what());
  }
  std::vector<std::string> policies;
  std::vector<std::string> names;
  try {
    for (const YAML::Node& doc : WorkloadDocuments(docs)) {
      if (!workload.empty() && WorkloadName(doc) != workload) continue;
      for (const YAML::Node& annotations : PodAnnotations(doc)) {
        for (const std::string_view key : {kInitdataAnnotation, kLegacyAnnotation}) {
          const YAML::Node value = Child(annotations, std::string(key).c_str());
          if (!value.IsScalar()) continue;
          auto policy = PolicyFromAnnotation(key, value.Scalar());
          if (!policy) return Fail(policy.error());
          policies.push_back(std::move(*policy));
          names.push_back(WorkloadName(doc));
          break;  // initdata wins over the legacy annotation, as in the runtime
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kParse, std::string("YAML: ") + e.what());
  }
  if (policies.empty()) {
    return Fail(ErrorCode::kNotFound, "no pod annotation " + std::string(kInitdataAnnotation) + " or " +
                                          std::string(kLegacyAnnotation) + " in the YAML" +
                                          (workload.empty() ? "" : " for a workload named " + std::string(workload)));
  }
  std::vector<std::string> distinct = policies;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() > 1) {
    std::string list;
    for (const std::string& name : names) list += " " + name;
    return Fail(ErrorCode::kInvalidArgument, "the YAML carries " + std::to_string(distinct.size()) +
                                                 " different policies (workloads:" + list +
                                                 "); choose one with --pod NAME");
  }
  return std::move(distinct[0]);
}

int RunPolicyEval(const PolicyEvalCommand& command, std::ostream& out, std::ostream& err) {
  Engine engine;
  const RegoVersion version = command.v0 ? RegoVersion::kV0 : RegoVersion::kV1;
  for (const auto& path : command.data) {
    if (auto loaded = LoadDataArgument(engine, path, version); !loaded) {
      err << "error: " << loaded.error().message << "\n";
      return kExitUsage;
    }
  }
  if (auto compiled = engine.Compile(); !compiled) {
    err << "error: " << compiled.error().message << "\n";
    return kExitUsage;
  }
  std::optional<Value> input;
  if (command.input) {
    auto value = ReadJson(*command.input);
    if (!value) {
      err << "error: " << value.error().message << "\n";
      return kExitUsage;
    }
    input = std::move(*value);
  }
  EvalOptions options;
  options.input = input ? &*input : nullptr;
  options.strict_builtin_errors = command.strict;
  auto result = engine.EvalQuery(command.query, options);
  if (!result) {
    err << "error: " << result.error().message << "\n";
    return kExitUsage;
  }
  for (const auto& line : result->prints) err << line << "\n";
  if (result->rows.empty()) return kExitFailed;
  if (result->rows.size() == 1) {
    out << RowValue(result->rows[0]).ToPrettyJson() << "\n";
  } else {
    Value::Array rows;
    for (const auto& row : result->rows) rows.push_back(RowValue(row));
    out << Value::FromArray(std::move(rows)).ToPrettyJson() << "\n";
  }
  return kExitOk;
}

int RunPolicyCheck(const PolicyCheckCommand& command, std::ostream& out, std::ostream& err) {
  auto loaded = LoadCheck(command, err);
  if (!loaded) return kExitUsage;
  auto decision = loaded->policy.Evaluate(command.request, loaded->input);
  if (!decision) {
    err << "error: " << decision.error().message << "\n";
    return kExitUsage;
  }
  return Report(command, *loaded, *decision, out, err);
}

int RunPolicyExplain(const PolicyCheckCommand& command, std::ostream& out, std::ostream& err) {
  auto loaded = LoadCheck(command, err);
  if (!loaded) return kExitUsage;
  ExplainTracer tracer;
  auto decision = loaded->policy.Evaluate(command.request, loaded->input, &tracer);
  if (!decision) {
    err << "error: " << decision.error().message << "\n";
    return kExitUsage;
  }
  const int code = Report(command, *loaded, *decision, out, err);
  if (decision->allowed && decision->reason.empty()) return code;
  out << "\nWhy:\n";
  tracer.Render(out);
  return code;
}

void AddPolicyCommands(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  CLI::App* policy = app.add_subcommand("policy", "Evaluate Rego policies and Kata agent requests");
  policy->require_subcommand(1);

  auto eval = std::make_shared<PolicyEvalCommand>();
  CLI::App* eval_cmd = policy->add_subcommand("eval", kEvalHelp);
  eval_cmd->add_option("-d,--data", eval->data, "Rego module (.rego), data (.json, merged at the root) or a directory")
      ->required();
  eval_cmd->add_option("-i,--input", eval->input, "The input document, JSON");
  eval_cmd->add_flag("--v0", eval->v0, "Parse the modules as Rego v0");
  eval_cmd->add_flag("--strict", eval->strict, "Builtin errors fail the query (default: they make it undefined)");
  eval_cmd->add_option("QUERY", eval->query, "The query, e.g. data.agent_policy.CreateContainerRequest")->required();
  eval_cmd->callback([&run, eval, &out, &err] { run = [eval, &out, &err] { return RunPolicyEval(*eval, out, err); }; });

  auto check = std::make_shared<PolicyCheckCommand>();
  CLI::App* check_cmd = policy->add_subcommand("check", kCheckHelp);
  AddCheckOptions(check_cmd, *check);
  check_cmd->callback(
      [&run, check, &out, &err] { run = [check, &out, &err] { return RunPolicyCheck(*check, out, err); }; });

  auto explain = std::make_shared<PolicyCheckCommand>();
  CLI::App* explain_cmd = policy->add_subcommand("explain", kExplainHelp);
  AddCheckOptions(explain_cmd, *explain);
  explain_cmd->callback(
      [&run, explain, &out, &err] { run = [explain, &out, &err] { return RunPolicyExplain(*explain, out, err); }; });
}

}  // namespace contrast::cli
