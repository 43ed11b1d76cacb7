// Fuzz target: evaluation of hostile policies. The input is a Rego v1 module,
// optionally followed by a line "---" and a query (default: data). Whatever
// compiles is evaluated under tight budgets: the engine must answer (a value,
// undefined or an error) without crashing or running away.
//
// A query that names a document ("data.p.allow") is also evaluated as a rule
// with and without prints: without prints the evaluator may stop rules at
// their first successful body, which must never change the value or hide an
// error (limits aside, since the two do different amounts of work).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/rego/engine.h"
#include "policy/rego/errors.h"

namespace {

using namespace contrast::policy::rego;

bool HitLimit(const contrast::Result<std::optional<Value>>& result) {
  return !result && OpaCodeOf(result.error()) == kEvalCancelError;
}

void CompareWithAndWithoutPrints(const Engine& engine, const std::string& path, const EvalOptions& options) {
  PrintLog prints;
  const auto full = engine.EvalRule(path, options, &prints);
  const auto quiet = engine.EvalRule(path, options, nullptr);
  if (HitLimit(full) || HitLimit(quiet)) return;
  if (full.has_value() != quiet.has_value()) __builtin_trap();
  if (!full) return;
  if (full->has_value() != quiet->has_value()) __builtin_trap();
  if (full->has_value() && **full != **quiet) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t split = text.find("\n---\n");
  const std::string_view module = text.substr(0, split);
  const std::string query = split == std::string_view::npos ? "data" : std::string(text.substr(split + 5));

  Engine engine;
  if (!engine.AddModule("fuzz.rego", module)) return 0;
  if (!engine.Compile()) return 0;
  EvalOptions options;
  options.limits.max_steps = 20'000;
  options.limits.max_time = std::chrono::milliseconds(200);
  options.limits.max_depth = 64;
  const Value input = Value::FromObject({{Value::String("x"), Value::Int(1)}});
  options.input = &input;
  (void)engine.EvalQuery(query, options);
  if (query.starts_with("data")) {
    std::string path = query;
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ' || path.back() == '\r')) path.pop_back();
    CompareWithAndWithoutPrints(engine, path, options);
  }
  options.strict_builtin_errors = true;
  (void)engine.EvalQuery(query, options);
  return 0;
}
