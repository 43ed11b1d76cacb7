// The Kata agent's use of a Rego policy: which query a request becomes, how
// its result is read, and how the policy's state is carried from one request
// to the next.
//
//   auto policy = AgentPolicy::Load(text);  // Rego v1, as the agent parses
//   auto input = FillRequestDefaults("CreateContainerRequest", request);
//   auto decision = policy->Evaluate("CreateContainerRequest", *input);
//   if (decision && decision->allowed) ...
//
// Semantics (as the agent implements them): the initial data document is
// {"pstate": {}} (plus any data given); a request is the query
// data.agent_policy.<RequestName> with `input` set to the request, evaluated
// with non-strict builtin errors and print capture. A boolean result is the
// decision; an object {"allowed": bool, "ops": [JSON-Patch]} allows or denies
// and, when it allows, its ops update the data document (the policy state)
// before the next request. An undefined result or an evaluation error denies,
// unless the policy's AllowRequestsFailingPolicy was true when it was loaded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rego/engine.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego {

struct AgentPolicyOptions {
  // The agent parses with Rego v1; recorded sessions of older agents are v0.
  RegoVersion version = RegoVersion::kV1;
  // Name of the module in errors and in `print` locations.
  std::string filename = "policy.rego";
  // Merged into the initial data document {"pstate": {}} (an object).
  std::optional<Value> data;
  EvalLimits limits;
};

// Which decisions carry the policy's `print` output.
enum class PrintCapture {
  // Every decision, from every body of every rule, exactly as the Kata
  // agent's engine prints it (what the recorded sessions hold).
  kAll,
  // Only denials and failures, which is all the agent returns (a denial's
  // message is its print output). An allow is then decided without prints,
  // and a function whose bodies all give the same constant stops at its
  // first successful body when nothing the rest would evaluate can fail
  // (ir::RuleNode::early_exit); the decision and the state update are the
  // same as with kAll, except that the skipped work does not count against
  // the step and time limits. Anything but a plain allow is decided again
  // with kAll, so it costs two evaluations.
  kDenials,
};

struct Decision {
  bool allowed = false;
  // The rule's value: a boolean or the {allowed, ops} object; nullopt when
  // the rule was undefined or the evaluation failed.
  std::optional<Value> value;
  PrintLog prints;  // `print` output of the evaluation, in order
  // Why the request was denied (or allowed only because the policy allows
  // failing requests); empty for a plain allow or a plain `false`.
  std::string reason;
  // Set when the policy failed rather than answered: an evaluation error
  // (conflict, exceeded limit), a result that is neither a boolean nor an
  // {allowed, ops} object, or a state update that could not be applied.
  // The agent answers these with INTERNAL instead of PERMISSION_DENIED.
  std::optional<Error> error;
};

class AgentPolicy {
 public:
  // Parses and compiles the policy and probes AllowRequestsFailingPolicy.
  static Result<AgentPolicy> Load(std::string_view policy_text, const AgentPolicyOptions& options = {});

  AgentPolicy(AgentPolicy&&) noexcept;
  AgentPolicy& operator=(AgentPolicy&&) noexcept;
  ~AgentPolicy();

  // Decides one request. `request_name` is the protobuf message name
  // ("CreateContainerRequest"); `input` the request as the agent serializes
  // it (see FillRequestDefaults). Requests are decided one at a time, in
  // call order, because each may change the state the next one sees.
  // The only error is an invalid request name; everything the policy does
  // (including failing) is a Decision. A state update whose ops do not apply
  // leaves the state as it was and denies. With a tracer, every decision
  // is a full one (kAll).
  Result<Decision> Evaluate(std::string_view request_name, const Value& input, Tracer* tracer = nullptr,
                            PrintCapture prints = PrintCapture::kAll);

  // True when AllowRequestsFailingPolicy evaluated to true at load time.
  bool allows_failing_requests() const;
  // The whole data document (policy state under "pstate").
  Value data() const;
  // Replaces the data document (for tests, benchmarks and `policy check --state`).
  void SetData(Value document);
  // The data document as it was right after Load.
  const Value& initial_data() const;
  // The compiled engine, for tools that evaluate other queries against the policy.
  const Engine& engine() const;

 private:
  struct Impl;
  explicit AgentPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Applies JSON-Patch (RFC 6902) operations `add`, `remove` and `replace` to
// `document`, all or nothing. Paths are JSON pointers ("/pstate/sandbox_name",
// "~1" for "/", "~0" for "~"); `-` appends to an array.
Result<Value> ApplyJsonPatch(const Value& document, const Value& ops);

// Fills the fields a request omits with the protobuf defaults the agent's
// serializer writes: strings "", numbers 0, bools false, repeated fields [],
// maps {}, unset messages null — recursively into present sub-messages.
// Fields the schema does not know are kept. Request kinds without a schema
// are returned unchanged; a field of the wrong JSON type is an error
// (kInvalidArgument naming the field).
Result<Value> FillRequestDefaults(std::string_view request_name, const Value& request);

// True when FillRequestDefaults knows the request's fields.
bool HasRequestSchema(std::string_view request_name);

}  // namespace contrast::policy::rego
