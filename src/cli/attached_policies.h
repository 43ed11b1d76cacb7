// The policies `contrast generate` attached to workloads, read back from the
// YAML: what `contrast set` sends the Coordinator and checks against the
// manifest, and what `contrast emulate run --pod` launches a VM with.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "manifest/manifest.h"

namespace contrast::cli {

struct AttachedPolicy {
  std::string kind;        // "Deployment"
  std::string name;        // metadata.name of the workload
  std::string ns;          // metadata.namespace, "" when absent
  std::string where;       // "file:line" of the workload
  std::string annotation;  // which annotation carried it
  // The bytes the runtime hashes into HOST_DATA: the initdata TOML, or the
  // policy text of the 2024 annotation.
  std::string hashed_document;
  manifest::PolicyHash hash;
  // The literal `env` entries (name, value) of the pod's injected
  // Initializer (init container contrast-initializer), in order; empty
  // without one. `emulate run --pod` gives the command the Coordinator's
  // expected identity from them, as the runtime gives the container its env.
  std::vector<std::pair<std::string, std::string>> initializer_env;

  // "Deployment default/web (web.yml:12)"
  std::string Describe() const;
};

// True for a path `set` reads as Kubernetes resources (a directory, *.yml,
// *.yaml) rather than as a policy document.
bool IsResourcePath(const std::filesystem::path& path);

// Every workload in the files and directories (searched recursively for
// *.yml and *.yaml, in sorted order) whose pod template carries a policy
// annotation. Workloads without one are skipped. Malformed YAML or a
// malformed annotation is an error naming the file and line.
Result<std::vector<AttachedPolicy>> FindAttachedPolicies(const std::vector<std::filesystem::path>& paths);

}  // namespace contrast::cli
