#include "kube/workload.h"

#include <algorithm>
#include <array>

namespace contrast::kube {
namespace {

constexpr std::array<std::pair<WorkloadKind, std::string_view>, 8> kKindNames = {{
    {WorkloadKind::kPod, "Pod"},
    {WorkloadKind::kDeployment, "Deployment"},
    {WorkloadKind::kReplicaSet, "ReplicaSet"},
    {WorkloadKind::kReplicationController, "ReplicationController"},
    {WorkloadKind::kStatefulSet, "StatefulSet"},
    {WorkloadKind::kDaemonSet, "DaemonSet"},
    {WorkloadKind::kJob, "Job"},
    {WorkloadKind::kCronJob, "CronJob"},
}};

std::string EffectiveNamespace(std::string_view ns) { return ns.empty() ? "default" : std::string(ns); }

Status Add(std::map<std::pair<std::string, std::string>, ConfigData, std::less<>>& objects, std::string_view kind,
           std::string ns, std::string name, ConfigData data) {
  auto key = std::make_pair(EffectiveNamespace(ns), std::move(name));
  auto it = objects.find(key);
  if (it != objects.end()) {
    return Fail(ErrorCode::kInvalidArgument, "two " + std::string(kind) + "s " + key.first + "/" + key.second + ": " +
                                                 it->second.where + " and " + data.where);
  }
  objects.emplace(std::move(key), std::move(data));
  return {};
}

const ConfigData* Find(const std::map<std::pair<std::string, std::string>, ConfigData, std::less<>>& objects,
                       std::string_view ns, std::string_view name) {
  auto it = objects.find(std::make_pair(EffectiveNamespace(ns), std::string(name)));
  return it == objects.end() ? nullptr : &it->second;
}

}  // namespace

std::string_view WorkloadKindName(WorkloadKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "Unknown";
}

std::optional<WorkloadKind> ParseWorkloadKind(std::string_view kind) {
  for (const auto& [k, name] : kKindNames) {
    if (name == kind) return k;
  }
  return std::nullopt;
}

bool IsConfidentialRuntimeClass(std::string_view runtime_class_name) {
  return runtime_class_name == "contrast-cc" || runtime_class_name.starts_with("contrast-cc-") ||
         runtime_class_name == "kata-cc-isolation";
}

std::string PodTemplate::Where(const YAML::Node& node) const {
  const int mark_line = node.IsDefined() ? node.Mark().line : -1;
  if (mark_line < 0) return Where();
  return file + ":" + std::to_string(line_offset + static_cast<size_t>(mark_line) + 1);
}

std::string PodTemplate::Where() const { return file + ":" + std::to_string(line); }

Status ConfigStore::AddConfigMap(std::string ns, std::string name, ConfigData data) {
  return Add(config_maps_, "ConfigMap", std::move(ns), std::move(name), std::move(data));
}

Status ConfigStore::AddSecret(std::string ns, std::string name, ConfigData data) {
  return Add(secrets_, "Secret", std::move(ns), std::move(name), std::move(data));
}

const ConfigData* ConfigStore::FindConfigMap(std::string_view ns, std::string_view name) const {
  return Find(config_maps_, ns, name);
}

const ConfigData* ConfigStore::FindSecret(std::string_view ns, std::string_view name) const {
  return Find(secrets_, ns, name);
}

}  // namespace contrast::kube
