#include "policy/rego/agent.h"

#include <mutex>
#include <utility>

#include "policy/rego/errors.h"

namespace contrast::policy::rego {

struct AgentPolicy::Impl {
  // The agent decides one request at a time: each may change the state the
  // next one is decided against.
  std::mutex mutex;
  Engine engine;
  Value initial_data;
  bool allow_failing = false;
  EvalLimits limits;

  // One evaluation of the request rule, read as the agent reads it; an
  // allow applies the state update. The caller holds `mutex`.
  Decision Decide(const std::string& path, const Value& input, Tracer* tracer, bool with_prints);
};

namespace {

constexpr std::string_view kPackagePath = "data.agent_policy.";
constexpr size_t kMaxRequestNameLength = 128;
constexpr size_t kMaxPolicySize = 16 * 1024 * 1024;  // the agent's limit

// Request names become part of a query path, so only identifiers pass.
bool IsValidRequestName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRequestNameLength) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string FailingNote(std::string_view what) {
  return std::string(what) + " -- ALLOWED ANYWAY: the policy sets AllowRequestsFailingPolicy (insecure, debug only)";
}

}  // namespace

AgentPolicy::AgentPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentPolicy::AgentPolicy(AgentPolicy&&) noexcept = default;
AgentPolicy& AgentPolicy::operator=(AgentPolicy&&) noexcept = default;
AgentPolicy::~AgentPolicy() = default;

Result<AgentPolicy> AgentPolicy::Load(std::string_view policy_text, const AgentPolicyOptions& options) {
  if (policy_text.size() > kMaxPolicySize) {
    return Fail(ErrorCode::kInvalidArgument, "policy is larger than the agent's limit of 16 MiB");
  }
  auto impl = std::make_unique<Impl>();
  impl->limits = options.limits;
  if (auto added = impl->engine.AddModule(options.filename, policy_text, options.version); !added) {
    return Fail(added.error());
  }
  Value::Object root;
  root.emplace(Value::String("pstate"), Value::FromObject({}));
  if (auto added = impl->engine.AddData(Value::FromObject(std::move(root))); !added) return Fail(added.error());
  if (options.data) {
    if (!options.data->is_object()) return Fail(ErrorCode::kInvalidArgument, "policy data must be a JSON object");
    if (auto added = impl->engine.AddData(*options.data); !added) return Fail(added.error());
  }
  if (auto compiled = impl->engine.Compile(); !compiled) return Fail(compiled.error());
  impl->initial_data = impl->engine.data();

  // Probed once, like the agent does when it loads a policy. A failure to
  // evaluate it means "not set".
  EvalOptions probe;
  probe.limits = impl->limits;
  auto failing = impl->engine.EvalRule(std::string(kPackagePath) + "AllowRequestsFailingPolicy", probe);
  impl->allow_failing = failing && failing->has_value() && (*failing)->is_bool() && (*failing)->as_bool();
  return AgentPolicy(std::move(impl));
}

Result<Decision> AgentPolicy::Evaluate(std::string_view request_name, const Value& input, Tracer* tracer,
                                       PrintCapture prints) {
  if (!IsValidRequestName(request_name)) {
    return Fail(ErrorCode::kInvalidArgument, "invalid request name \"" + std::string(request_name) + "\"");
  }
  const std::string path = std::string(kPackagePath) + std::string(request_name);
  std::lock_guard lock(impl_->mutex);
  if (prints == PrintCapture::kDenials && tracer == nullptr) {
    // Without prints the evaluator may skip function bodies that cannot
    // change the result. A plain allow is final (its state update applied);
    // anything else is decided again with the prints it returns.
    Decision decision = impl_->Decide(path, input, nullptr, false);
    if (decision.allowed && decision.reason.empty() && !decision.error) return decision;
  }
  return impl_->Decide(path, input, tracer, true);
}

Decision AgentPolicy::Impl::Decide(const std::string& path, const Value& input, Tracer* tracer, bool with_prints) {
  EvalOptions options;
  options.input = &input;
  options.strict_builtin_errors = false;
  options.limits = limits;
  options.tracer = tracer;
  options.print_locations = true;
  Decision decision;
  auto result = engine.EvalRule(path, options, with_prints ? &decision.prints : nullptr);

  // Every way of not answering "allowed" ends here.
  auto refuse = [&](std::string reason, std::optional<Error> error) {
    decision.error = std::move(error);
    if (allow_failing) {
      decision.allowed = true;
      decision.reason = FailingNote(reason);
    } else {
      decision.allowed = false;
      decision.reason = std::move(reason);
    }
    return decision;
  };

  if (!result) return refuse("policy evaluation failed: " + result.error().message, result.error());
  if (!result->has_value()) return refuse(path + " is undefined", std::nullopt);
  const Value& value = **result;
  decision.value = value;
  if (value.is_bool()) {
    if (value.as_bool()) {
      decision.allowed = true;
      return decision;
    }
    return refuse(path + " is false", std::nullopt);
  }
  if (!value.is_object()) {
    Error error{ErrorCode::kFailedPrecondition,
                path + " is a " + std::string(KindName(value.kind())) + ", not a boolean or an {allowed, ops} object"};
    return refuse(error.message, error);
  }
  const Value* allowed = value.Get("allowed");
  if (allowed == nullptr || !allowed->is_bool()) {
    Error error{ErrorCode::kFailedPrecondition, path + " has no boolean \"allowed\""};
    return refuse(error.message, error);
  }
  if (!allowed->as_bool()) return refuse(path + " has \"allowed\": false", std::nullopt);
  if (const Value* ops = value.Get("ops"); ops != nullptr && !ops->is_null()) {
    auto updated = ApplyJsonPatch(engine.data(), *ops);
    if (!updated) {
      return refuse("policy state update of " + path + " failed: " + updated.error().message, updated.error());
    }
    engine.SetData(std::move(*updated));
  }
  decision.allowed = true;
  return decision;
}

bool AgentPolicy::allows_failing_requests() const { return impl_->allow_failing; }

Value AgentPolicy::data() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->engine.data();
}

void AgentPolicy::SetData(Value document) {
  std::lock_guard lock(impl_->mutex);
  impl_->engine.SetData(std::move(document));
}

const Value& AgentPolicy::initial_data() const { return impl_->initial_data; }

const Engine& AgentPolicy::engine() const { return impl_->engine; }

}  // namespace contrast::policy::rego
