#include "cli/attached_policies.h"

#include <algorithm>

#include <yaml-cpp/yaml.h>

#include "cli/policy_commands.h"
#include "cli/yaml_nodes.h"
#include "common/files.h"
#include "kube/patch.h"

namespace contrast::cli {
namespace {

constexpr const char* kPolicyAnnotations[] = {
    "io.katacontainers.config.hypervisor.cc_init_data",  // wins, as in the runtime
    "io.katacontainers.config.agent.policy",
};

std::string ScalarOr(const YAML::Node& node, std::string fallback = {}) {
  return node.IsScalar() ? node.Scalar() : fallback;
}

// The pod template's metadata of a workload object, wherever its kind keeps it.
YAML::Node PodMetadata(const YAML::Node& object) {
  const std::string kind = ScalarOr(Child(object, "kind"));
  if (kind == "Pod") return Child(object, "metadata");
  if (kind == "CronJob") return ChildPath(object, {"spec", "jobTemplate", "spec", "template", "metadata"});
  return ChildPath(object, {"spec", "template", "metadata"});
}

// The pod spec of a workload object, wherever its kind keeps it.
YAML::Node PodSpec(const YAML::Node& object) {
  const std::string kind = ScalarOr(Child(object, "kind"));
  if (kind == "Pod") return Child(object, "spec");
  if (kind == "CronJob") return ChildPath(object, {"spec", "jobTemplate", "spec", "template", "spec"});
  return ChildPath(object, {"spec", "template", "spec"});
}

// The name/value entries of the init container named contrast-initializer.
std::vector<std::pair<std::string, std::string>> InitializerEnv(const YAML::Node& object) {
  std::vector<std::pair<std::string, std::string>> env;
  const YAML::Node init_containers = Child(PodSpec(object), "initContainers");
  if (!init_containers.IsSequence()) return env;
  for (const YAML::Node& container : init_containers) {
    if (ScalarOr(Child(container, "name")) != kube::kInitializerName) continue;
    const YAML::Node entries = Child(container, "env");
    if (!entries.IsSequence()) break;
    for (const YAML::Node& entry : entries) {
      const YAML::Node name = Child(entry, "name");
      const YAML::Node value = Child(entry, "value");
      if (name.IsScalar() && value.IsScalar()) env.emplace_back(name.Scalar(), value.Scalar());
    }
    break;
  }
  return env;
}

Status Collect(const YAML::Node& object, const std::string& file, std::vector<AttachedPolicy>& out) {
  const YAML::Node annotations = Child(PodMetadata(object), "annotations");
  if (!annotations.IsMap()) return {};
  for (const char* key : kPolicyAnnotations) {
    const YAML::Node value = Child(annotations, key);
    if (!value.IsDefined()) continue;
    AttachedPolicy policy;
    policy.kind = ScalarOr(Child(object, "kind"));
    policy.name =
        ScalarOr(ChildPath(object, {"metadata", "name"}), ScalarOr(ChildPath(object, {"metadata", "generateName"})));
    policy.ns = ScalarOr(ChildPath(object, {"metadata", "namespace"}));
    policy.where = file + ":" + std::to_string(object.Mark().line + 1);
    policy.annotation = key;
    if (!value.IsScalar()) {
      return Fail(ErrorCode::kParse,
                  file + ":" + std::to_string(value.Mark().line + 1) + ": annotation " + key + " must be a string");
    }
    auto document = HashedDocumentFromAnnotation(key, value.Scalar());
    if (!document) {
      return Fail(ErrorCode::kParse,
                  file + ":" + std::to_string(value.Mark().line + 1) + ": " + document.error().message);
    }
    policy.hashed_document = std::move(*document);
    policy.hash = manifest::PolicyHashOf(AsBytes(policy.hashed_document));
    policy.initializer_env = InitializerEnv(object);
    out.push_back(std::move(policy));
    return {};  // one policy per pod: initdata wins
  }
  return {};
}

Status CollectFile(const std::filesystem::path& path, std::vector<AttachedPolicy>& out) {
  auto text = ReadTextFile(path);
  if (!text) return Fail(text.error());
  const std::string file = path.string();
  try {
    for (const YAML::Node& doc : YAML::LoadAll(*text)) {
      if (ScalarOr(Child(doc, "kind")) == "List" && Child(doc, "items").IsSequence()) {
        for (const YAML::Node& item : Child(doc, "items")) {
          if (auto s = Collect(item, file, out); !s) return s;
        }
      } else if (doc.IsMap()) {
        if (auto s = Collect(doc, file, out); !s) return s;
      }
    }
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kParse, file + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  return {};
}

}  // namespace

std::string AttachedPolicy::Describe() const {
  return kind + " " + (ns.empty() ? "default" : ns) + "/" + name + " (" + where + ")";
}

bool IsResourcePath(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return true;
  const std::string ext = path.extension().string();
  return ext == ".yml" || ext == ".yaml";
}

Result<std::vector<AttachedPolicy>> FindAttachedPolicies(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::filesystem::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::filesystem::path> found;
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file(ec) && (ext == ".yml" || ext == ".yaml")) found.push_back(it->path());
    }
    if (ec) return Fail(ErrorCode::kIo, path.string() + ": " + ec.message());
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  std::vector<AttachedPolicy> out;
  for (const auto& file : files) {
    if (auto collected = CollectFile(file, out); !collected) return Fail(collected.error());
  }
  return out;
}

}  // namespace contrast::cli
