// Kubernetes workloads as `contrast generate` sees them: the pod template of
// each workload kind, and the ConfigMaps and Secrets its environment and
// volumes can refer to.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace contrast::kube {

enum class WorkloadKind {
  kPod,
  kDeployment,
  kReplicaSet,
  kReplicationController,
  kStatefulSet,
  kDaemonSet,
  kJob,
  kCronJob
};

// "Pod", "Deployment", …
std::string_view WorkloadKindName(WorkloadKind kind);
// The kind for a `kind:` value, or nullopt for kinds that run no pods.
std::optional<WorkloadKind> ParseWorkloadKind(std::string_view kind);

// Runtime classes whose pods Contrast makes confidential: `contrast-cc`,
// `contrast-cc-<platform>` and the AKS class `kata-cc-isolation`.
bool IsConfidentialRuntimeClass(std::string_view runtime_class_name);

// One pod template: a Pod itself, or the template inside a workload object.
// The nodes are views into the loaded document (yaml-cpp nodes share their
// data): changing them changes the document.
struct PodTemplate {
  WorkloadKind kind = WorkloadKind::kPod;
  std::string api_version;    // of the workload object ("v1", "apps/v1", "batch/v1")
  std::string name;           // metadata.name of the workload object ("" when a Pod has only generateName)
  std::string generate_name;  // metadata.generateName (Pods)
  std::string ns;             // metadata.namespace of the workload object, "" when absent
  YAML::Node metadata;        // the pod's metadata: labels, annotations (a map; may be created by patching)
  YAML::Node spec;            // the pod spec (a map)
  std::string file;           // input file the object came from, for errors

  // The map that holds `metadata` and `spec`: the Pod object itself, or the
  // workload's (spec.)template. Patching creates `metadata` in it when absent.
  YAML::Node pod;
  YAML::Node object;               // the whole workload object
  std::string runtime_class_name;  // spec.runtimeClassName, "" when absent
  bool confidential = false;       // runtime class marks it for Contrast (IsConfidentialRuntimeClass)
  size_t line = 0;                 // 1-based line of the workload object in `file`
  // Lines of `file` before the object's YAML document: node marks count from
  // the start of their document.
  size_t line_offset = 0;
  size_t file_index = 0;      // index of the file in the inputs (InputFiles)
  size_t document_index = 0;  // index of the document in that file

  // "file:line" of a node of this template (yaml-cpp marks are 0-based).
  // Nodes created by patching have no mark: their place is the object's line.
  std::string Where(const YAML::Node& node) const;
  // "file:line" of the workload object.
  std::string Where() const;
  // The namespace pods of this workload run in: ns, or "default".
  std::string Namespace() const { return ns.empty() ? "default" : ns; }
};

// The data of one ConfigMap or Secret (Secret `data` base64-decoded and
// merged with `stringData`; ConfigMap `data`; binaryData is not usable as
// text and is kept out).
struct ConfigData {
  std::map<std::string, std::string> data;
  std::string where;  // "file:line" of the object
};

// Every ConfigMap and Secret of the inputs, by namespace and name. An empty
// namespace means "default", when adding and when looking up.
class ConfigStore {
 public:
  // An object of the same kind, namespace and name twice is an error naming both places.
  Status AddConfigMap(std::string ns, std::string name, ConfigData data);
  Status AddSecret(std::string ns, std::string name, ConfigData data);
  const ConfigData* FindConfigMap(std::string_view ns, std::string_view name) const;
  const ConfigData* FindSecret(std::string_view ns, std::string_view name) const;

 private:
  std::map<std::pair<std::string, std::string>, ConfigData, std::less<>> config_maps_;
  std::map<std::pair<std::string, std::string>, ConfigData, std::less<>> secrets_;
};

}  // namespace contrast::kube
