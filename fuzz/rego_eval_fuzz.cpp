// Fuzz target: evaluation of hostile policies. The input is a Rego v1 module,
// optionally followed by a line "---" and a query (default: data). Whatever
// compiles is evaluated under tight budgets: the engine must answer (a value,
// undefined or an error) without crashing or running away.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/rego/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::policy::rego;
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
  options.strict_builtin_errors = true;
  (void)engine.EvalQuery(query, options);
  return 0;
}
