// A minimal reader of the test pods: the first workload document of a YAML
// file as a PodTemplate, and ConfigMaps/Secrets into a ConfigStore (the
// full Kubernetes reader lives in src/kube; tests keep to the basics).
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "common/bytes.h"
#include "kube/workload.h"

namespace contrast::testing {

inline std::string Scalar(const YAML::Node& node) { return node && node.IsScalar() ? node.Scalar() : std::string(); }

// The pod template of the first workload in `yaml` (file name for errors).
inline kube::PodTemplate PodFromYaml(const std::string& yaml, const std::string& file) {
  kube::PodTemplate pod;
  pod.file = file;
  for (YAML::Node doc : YAML::LoadAll(yaml)) {
    auto kind = kube::ParseWorkloadKind(Scalar(doc["kind"]));
    if (!kind) continue;
    pod.kind = *kind;
    pod.api_version = Scalar(doc["apiVersion"]);
    pod.name = Scalar(doc["metadata"]["name"]);
    pod.generate_name = Scalar(doc["metadata"]["generateName"]);
    pod.ns = Scalar(doc["metadata"]["namespace"]);
    pod.object = doc;
    // One initialisation: assigning to a yaml-cpp handle would rebind the
    // node it shares with `doc`.
    YAML::Node holder = *kind == kube::WorkloadKind::kCronJob ? doc["spec"]["jobTemplate"]["spec"]["template"]
                        : *kind != kube::WorkloadKind::kPod   ? doc["spec"]["template"]
                                                              : doc;
    if (!holder["metadata"]) holder["metadata"] = YAML::Node(YAML::NodeType::Map);
    pod.metadata = holder["metadata"];
    pod.spec = holder["spec"];
    return pod;
  }
  ADD_FAILURE() << file << ": no workload";
  return pod;
}

// Adds the ConfigMaps and Secrets of `yaml` to `store`.
inline void AddConfigs(const std::string& yaml, const std::string& file, kube::ConfigStore& store) {
  for (YAML::Node doc : YAML::LoadAll(yaml)) {
    std::string kind = Scalar(doc["kind"]);
    if (kind != "ConfigMap" && kind != "Secret") continue;
    kube::ConfigData data;
    data.where = file + ":" + std::to_string(doc.Mark().line + 1);
    for (const char* field : {"data", "stringData"}) {
      if (!doc[field] || !doc[field].IsMap()) continue;
      for (const auto& item : doc[field]) {
        std::string value = item.second.Scalar();
        if (kind == "Secret" && std::string(field) == "data") {
          auto decoded = Base64Decode(value);
          ASSERT_TRUE(decoded) << file << ": secret value is not base64";
          value = std::string(AsChars(*decoded));
        }
        data.data[item.first.Scalar()] = value;
      }
    }
    std::string ns = Scalar(doc["metadata"]["namespace"]);
    if (ns.empty()) ns = "default";
    std::string name = Scalar(doc["metadata"]["name"]);
    auto added = kind == "ConfigMap" ? store.AddConfigMap(ns, name, data) : store.AddSecret(ns, name, data);
    ASSERT_TRUE(added) << added.error().message;
  }
}

}  // namespace contrast::testing
