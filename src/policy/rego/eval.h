// Top-down evaluation of compiled Rego with OPA's semantics: backtracking
// over all solutions, virtual documents (rules) merged with base data,
// conflicts, defaults, `with`, builtin errors, limits and traces.
//
// One Evaluator serves one evaluation call: it owns all mutable state (rule
// caches, print output, step counters), so a compiled policy can be shared by
// many evaluations on many threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/rego/compiler.h"
#include "policy/rego/engine.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego {

// Evaluates a compiled query: one row per solution.
Result<QueryResult> EvaluateQuery(const ir::Policy& policy, const ir::Query& query, const Value& data,
                                  const EvalOptions& options);

// The document at `path` below data (["agent_policy", "allow"]), nullopt when
// undefined.
Result<std::optional<Value>> EvaluateDocument(const ir::Policy& policy, const std::vector<Value>& path,
                                              const Value& data, const EvalOptions& options, PrintLog* prints);

}  // namespace contrast::policy::rego
