// `contrast policy eval|check|explain`: run Rego queries like `opa eval`, and
// decide Kata agent requests against a policy as the agent would, with an
// explanation of denials.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace contrast::cli {

struct PolicyEvalCommand {
  std::vector<std::filesystem::path> data;  // -d: .rego modules, .json data, directories of both
  std::optional<std::filesystem::path> input;
  bool v0 = false;
  bool strict = false;
  std::string query;
};

struct PolicyCheckCommand {
  std::optional<std::filesystem::path> policy;     // the policy text
  std::optional<std::filesystem::path> from_yaml;  // or a Kubernetes YAML carrying it
  std::string pod;                                 // which workload of from_yaml ("" = the only policy)
  std::string request;                             // e.g. CreateContainerRequest
  std::filesystem::path input;                     // the request, JSON
  std::optional<std::filesystem::path> state;      // data.pstate before the request, JSON object
  std::optional<std::filesystem::path> state_out;  // where to write data.pstate after it
  bool v0 = false;
  bool no_defaults = false;
};

int RunPolicyEval(const PolicyEvalCommand& command, std::ostream& out, std::ostream& err);
int RunPolicyCheck(const PolicyCheckCommand& command, std::ostream& out, std::ostream& err);
int RunPolicyExplain(const PolicyCheckCommand& command, std::ostream& out, std::ostream& err);

// Registers `policy eval|check|explain` on `app`; the selected command's
// runner is stored in `run`.
void AddPolicyCommands(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err);

// The agent policy a Kubernetes YAML (one or more documents) carries in its
// pod annotations: `io.katacontainers.config.agent.policy` (base64 of the
// policy text) or `io.katacontainers.config.hypervisor.cc_init_data`
// (base64 of gzip of the initdata TOML, whose [data] "policy.rego" holds it).
// With `workload`, only the workload of that metadata.name; without, the YAML
// must carry one policy.
Result<std::string> PolicyFromKubernetesYaml(std::string_view yaml, std::string_view workload = {});

// The document the runtime hashes into HOST_DATA for a policy annotation: the
// initdata TOML (cc_init_data, gunzipped) or the policy text (agent.policy).
Result<std::string> HashedDocumentFromAnnotation(std::string_view key, std::string_view value);

// The "policy.rego" entry of an initdata annotation value.
Result<std::string> PolicyFromInitdataAnnotation(std::string_view annotation);

// The [data] "policy.rego" string of an initdata TOML document.
Result<std::string> PolicyFromInitdataToml(std::string_view toml);

}  // namespace contrast::cli
