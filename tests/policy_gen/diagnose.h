// Which of our rules.rego checks a CreateContainerRequest fails: each check
// is evaluated on its own against the policy container the request names.
#pragma once

#include <string>
#include <vector>

#include "policy/rego/agent.h"
#include "policy/rego/engine.h"

namespace contrast::testing {

inline std::vector<std::string> FailedCreateContainerChecks(const policy::rego::AgentPolicy& policy,
                                                            const policy::rego::Value& input) {
  using policy::rego::EvalOptions;
  policy::rego::Engine engine = policy.engine();
  engine.SetData(policy.data());
  EvalOptions options;
  options.input = &input;
  const std::string select =
      "p := data.agent_policy.policy_data.containers[_]; data.agent_policy.is_policy_container(p); ";
  const std::string bundle = "b := data.agent_policy.bundle_id(p); ";
  const std::vector<std::pair<std::string, std::string>> checks = {
      {"request_is_plain", "data.agent_policy.request_is_plain"},
      {"is_policy_container", select + "true"},
      {"bundle_id", select + bundle + "true"},
      {"sandbox_identity_allowed", "data.agent_policy.sandbox_identity_allowed"},
      {"network_namespace_allowed", "data.agent_policy.network_namespace_allowed"},
      {"sandbox_pidns", select + "input.sandbox_pidns == p.sandbox_pidns"},
      {"oci_version", "input.OCI.Version == data.agent_policy.policy_data.oci_version"},
      {"root_readonly", select + "input.OCI.Root.Readonly == p.root_readonly"},
      {"annotations_allowed", select + bundle + "data.agent_policy.annotations_allowed(p, b)"},
      {"process_allowed", select + "data.agent_policy.process_allowed(p, input.OCI.Process)"},
      {"mounts_allowed", select + bundle + "data.agent_policy.mounts_allowed(p, b)"},
      {"storages_allowed", select + "data.agent_policy.storages_allowed(p)"},
      {"image_allowed", select + "data.agent_policy.image_allowed(p)"},
      {"linux_allowed", select + "data.agent_policy.linux_allowed(p)"},
      {"devices_allowed", select + "data.agent_policy.devices_allowed(p)"},
  };
  std::vector<std::string> failed;
  for (auto& [name, query] : checks) {
    auto result = engine.EvalQuery(query, options);
    if (!result) {
      failed.push_back(name + " (error: " + result.error().message + ")");
    } else if (result->rows.empty()) {
      failed.push_back(name);
    }
  }
  return failed;
}

}  // namespace contrast::testing
