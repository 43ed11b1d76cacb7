// The Rego engine: load modules and data, evaluate queries and rules with
// OPA's semantics.
//
//   Engine engine;
//   engine.AddModule("policy.rego", text, RegoVersion::kV0);
//   engine.AddData(*Value::FromJson(R"({"pstate": {}})"));
//   if (auto compiled = engine.Compile(); !compiled) ...  // parse/compile errors
//   EvalOptions options;
//   options.input = &input;
//   auto value = engine.EvalRule("data.agent_policy.CreateContainerRequest", options);
//
// Evaluation is const: a compiled engine can be used by many threads at once
// (each call has its own evaluation state). Changing modules or data needs
// exclusive access.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rego/errors.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego {

enum class RegoVersion {
  kV0,  // pre-1.0 syntax: `p { ... }`, `p[x] { ... }`, keywords need future.keywords imports
  kV1,  // OPA 1.0 syntax: `if` and `contains` required; keywords always on
};

// Bounds on one evaluation, so no policy or input can hang the caller.
// Exceeding one is an eval_cancel_error.
struct EvalLimits {
  uint64_t max_steps = 100'000'000;  // expressions evaluated
  std::chrono::milliseconds max_time{std::chrono::seconds(30)};
  uint32_t max_depth = 512;  // nested rule/function calls
};

// Receives what the evaluator does, for `contrast policy explain`. Events come
// in evaluation order from the thread that called Eval*.
struct TraceEvent {
  enum class Type {
    kEnterRule,  // evaluation of a rule (all its bodies) starts
    kExitRule,   // the rule produced a value
    kFailRule,   // no body of the rule succeeded (its default may still apply)
    kEnterBody,  // one body (definition) of the rule starts
    kFailExpr,   // an expression of the body was false or undefined: the body fails here
    kExitBody,   // the body succeeded
  };
  Type type;
  std::string rule;    // "data.agent_policy.allow_env" (functions too)
  int body_index = 0;  // which definition of the rule, 0-based in source order
  Location location;   // of the rule, body or expression
  std::string text;    // the expression's source text (kFailExpr), else the rule head
  // kFailExpr: the variables of the expression with their values at the
  // time it failed (unbound ones are left out).
  std::vector<std::pair<std::string, Value>> bindings;
};

class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void Trace(const TraceEvent& event) = 0;
};

struct EvalOptions {
  const Value* input = nullptr;        // nullptr: `input` is undefined
  bool strict_builtin_errors = false;  // false: a failing builtin makes its expression undefined
  EvalLimits limits;
  Tracer* tracer = nullptr;
  // Prefix each `print` line with "<file>:<line>: " of the print call, as the
  // Kata agent's engine does in the output it returns with a denial.
  bool print_locations = false;
};

// What the `print` calls of one evaluation wrote. The log keeps the printed
// values and renders them as text only when read: policies that print whole
// documents on every attempt (the Kata policies print up to 400 KB per
// CreateContainerRequest) would otherwise spend about a quarter of each
// evaluation formatting text that the agent reads only when it denies a
// request.
class PrintLog {
 public:
  bool empty() const { return calls_.empty(); }
  size_t size() const { return calls_.size(); }
  // One line per print call, in order, operands separated by a space (strings
  // bare at the top level, other values in Rego syntax, "<undefined>" for an
  // undefined operand), prefixed with "<file>:<line>: " when the evaluation
  // asked for print locations. Renders on every call.
  std::vector<std::string> Lines() const;

 private:
  friend class PrintLogWriter;
  struct Call {
    uint32_t file = 0;  // 1 + index into files_; 0: no location prefix
    int line = 0;
    uint32_t first = 0;  // index of the first operand in operands_
    uint32_t count = 0;
  };
  std::vector<Call> calls_;
  std::vector<std::optional<Value>> operands_;  // nullopt: undefined
  std::vector<std::string> files_;              // the file names calls were made from
};

struct QueryResult {
  struct Row {
    // The query's variables (not `_` or generated ones), by name.
    std::map<std::string, Value> bindings;
    // The value of each expression of the query, in order.
    std::vector<Value> expressions;
  };
  std::vector<Row> rows;            // empty: the query is undefined
  std::vector<std::string> prints;  // lines written by `print`, in order
};

class Engine {
 public:
  Engine();
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  // Copies share the compiled modules; data is copied cheaply (Values share).
  Engine(const Engine&);
  Engine& operator=(const Engine&);

  // Parses and adds a module (rego_parse_error with line and column).
  Status AddModule(std::string filename, std::string_view source, RegoVersion version = RegoVersion::kV1);
  // Deep-merges `document` (an object) into the data document; conflicts
  // between two non-object values at the same path are errors.
  Status AddData(const Value& document);
  // Replaces the whole data document (for policy state updates).
  void SetData(Value document);
  const Value& data() const;

  // Compile-time checks (safety, recursion, conflicts of rule kinds,
  // arity). Called by the first evaluation when not called before; call it
  // explicitly to get errors early.
  Status Compile();

  // Evaluates a query ("data.p.q = x; x > 1"). Parse and compile errors of the
  // query are returned as errors, as are conflicts, strict builtin errors and
  // exceeded limits.
  Result<QueryResult> EvalQuery(std::string_view query, const EvalOptions& options) const;
  // The value of the rule or document at `path` ("data.agent_policy.Req"),
  // nullopt when undefined. `prints` receives print output when not null.
  Result<std::optional<Value>> EvalRule(std::string_view path, const EvalOptions& options,
                                        PrintLog* prints = nullptr) const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace contrast::policy::rego
