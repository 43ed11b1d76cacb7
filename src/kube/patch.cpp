#include "kube/patch.h"

#include "kube/emit.h"
#include "kube/nodes.h"

namespace contrast::kube {
namespace {

using internal::Child;
using internal::IsClearlyNonString;
using internal::IsUnset;
using internal::StringNode;

tl::unexpected<Error> PatchError(const std::string& where, std::string message) {
  return Fail(ErrorCode::kInvalidArgument, where + ": " + message);
}

std::string StringField(const YAML::Node& map, std::string_view key) {
  auto value = Child(map, key);
  return value && value->IsScalar() ? value->Scalar() : std::string();
}

bool SamePath(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.ends_with('/')) a.remove_suffix(1);
  while (b.size() > 1 && b.ends_with('/')) b.remove_suffix(1);
  return a == b;
}

YAML::Node MapNode() { return YAML::Node(YAML::NodeType::Map); }
YAML::Node SequenceNode() { return YAML::Node(YAML::NodeType::Sequence); }

YAML::Node NameValue(std::string_view name_key, std::string_view name, std::string_view value_key,
                     std::string_view value) {
  YAML::Node node = MapNode();
  node[std::string(name_key)] = StringNode(name);
  node[std::string(value_key)] = StringNode(value);
  return node;
}

YAML::Node SecretsMount() { return NameValue("name", kSecretsVolumeName, "mountPath", kSecretsMountPath); }

YAML::Node InitializerContainer(const PatchOptions& options) {
  YAML::Node container = MapNode();
  container["name"] = StringNode(kInitializerName);
  container["image"] = StringNode(options.initializer_image);
  YAML::Node env = SequenceNode();
  env.push_back(NameValue("name", kCoordinatorHostEnv, "value", options.coordinator_host));
  for (const auto& [name, value] : options.extra_env) env.push_back(NameValue("name", name, "value", value));
  container["env"] = env;
  YAML::Node mounts = SequenceNode();
  mounts.push_back(SecretsMount());
  container["volumeMounts"] = mounts;
  YAML::Node resources = MapNode();
  for (const char* bound : {"limits", "requests"}) {
    YAML::Node memory = MapNode();
    memory["memory"] = StringNode(kInitializerMemory);
    resources[bound] = memory;
  }
  container["resources"] = resources;
  return container;
}

// The list under `key` of `map`, created empty when unset.
YAML::Node EnsureList(YAML::Node map, std::string_view key) {
  auto list = Child(map, key);
  if (!IsUnset(list)) return *list;
  map[std::string(key)] = SequenceNode();
  return *Child(map, key);
}

// An init container with COORDINATOR_HOST and a volume at /tls-config: an
// Initializer the user added as the 2024 README instructs.
std::optional<YAML::Node> FindUserInitializer(const YAML::Node& spec) {
  auto init = Child(spec, "initContainers");
  if (IsUnset(init) || !init->IsSequence()) return std::nullopt;
  for (const YAML::Node& container : *init) {
    bool has_host = false;
    bool has_mount = false;
    if (auto env = Child(container, "env"); !IsUnset(env) && env->IsSequence()) {
      for (const YAML::Node& var : *env) has_host = has_host || StringField(var, "name") == kCoordinatorHostEnv;
    }
    if (auto mounts = Child(container, "volumeMounts"); !IsUnset(mounts) && mounts->IsSequence()) {
      for (const YAML::Node& mount : *mounts) {
        has_mount = has_mount || SamePath(StringField(mount, "mountPath"), kLegacyTlsMountPath);
      }
    }
    if (has_host && has_mount) return container;
  }
  return std::nullopt;
}

// Ours first, every other init container after it in its order; an older
// `contrast-initializer` is dropped.
bool EnsureInitializerFirst(YAML::Node spec, const YAML::Node& wanted) {
  YAML::Node init = EnsureList(spec, "initContainers");
  size_t ours = 0;
  for (const YAML::Node& container : init) ours += StringField(container, "name") == kInitializerName ? 1 : 0;
  if (ours == 1 && init.size() > 0 && Equal(init[0], wanted)) return false;
  YAML::Node rebuilt = SequenceNode();
  rebuilt.push_back(wanted);
  for (const YAML::Node& container : init) {
    if (StringField(container, "name") != kInitializerName) rebuilt.push_back(container);
  }
  spec["initContainers"] = rebuilt;
  return true;
}

Result<bool> EnsureSecretsVolume(const PodTemplate& pod) {
  YAML::Node volumes = EnsureList(pod.spec, "volumes");
  for (YAML::Node volume : volumes) {
    if (StringField(volume, "name") != kSecretsVolumeName) continue;
    auto empty_dir = Child(volume, "emptyDir");
    if (!empty_dir || !(empty_dir->IsNull() || empty_dir->IsMap())) {
      return PatchError(pod.Where(volume), "volume " + std::string(kSecretsVolumeName) +
                                               " must be an emptyDir: Contrast keeps the workload's secrets in it");
    }
    // Secrets must not reach a disk outside the confidential VM.
    if (StringField(*empty_dir, "medium") == "Memory") return false;
    if (empty_dir->IsNull()) {
      volume["emptyDir"] = MapNode();
      empty_dir = Child(volume, "emptyDir");
    }
    (*empty_dir)["medium"] = StringNode("Memory");
    return true;
  }
  YAML::Node volume = MapNode();
  volume["name"] = StringNode(kSecretsVolumeName);
  YAML::Node empty_dir = MapNode();
  empty_dir["medium"] = StringNode("Memory");
  volume["emptyDir"] = empty_dir;
  volumes.push_back(volume);
  return true;
}

Result<bool> EnsureSecretsMounts(const PodTemplate& pod) {
  bool changed = false;
  for (std::string_view field : {"initContainers", "containers"}) {
    auto containers = Child(pod.spec, field);
    if (IsUnset(containers)) continue;
    for (YAML::Node container : *containers) {
      bool mounted = false;
      if (auto mounts = Child(container, "volumeMounts"); !IsUnset(mounts)) {
        for (const YAML::Node& mount : *mounts) {
          if (!SamePath(StringField(mount, "mountPath"), kSecretsMountPath)) continue;
          if (StringField(mount, "name") != kSecretsVolumeName) {
            return PatchError(pod.Where(mount), "container " + StringField(container, "name") + " mounts volume " +
                                                    StringField(mount, "name") + " at " +
                                                    std::string(kSecretsMountPath) + ", where Contrast mounts " +
                                                    std::string(kSecretsVolumeName));
          }
          mounted = true;
        }
      }
      if (mounted) continue;
      EnsureList(container, "volumeMounts").push_back(SecretsMount());
      changed = true;
    }
  }
  return changed;
}

// An annotation value as a string; kubectl refuses unquoted booleans and numbers.
Result<std::optional<std::string>> AnnotationValue(const PodTemplate& pod, const std::optional<YAML::Node>& annotations,
                                                   std::string_view key) {
  auto value = Child(annotations.value_or(YAML::Node()), key);
  if (!value) return std::optional<std::string>();
  if (!value->IsScalar() || (value->Tag() == "?" && IsClearlyNonString(value->Scalar()))) {
    return PatchError(pod.Where(*value), "annotation " + std::string(key) + " must be a string (quote it)");
  }
  return std::optional<std::string>(value->Scalar());
}

}  // namespace

Result<ContrastAnnotations> ReadContrastAnnotations(const PodTemplate& pod) {
  ContrastAnnotations result;
  auto annotations = Child(pod.metadata, "annotations");
  if (IsUnset(annotations)) return result;
  auto role = AnnotationValue(pod, annotations, kPodRoleAnnotation);
  if (!role) return Fail(role.error());
  result.role = role->value_or("");
  auto skip = AnnotationValue(pod, annotations, kSkipInitializerAnnotation);
  if (!skip) return Fail(skip.error());
  if (*skip) {
    if (**skip != "true" && **skip != "false") {
      return PatchError(pod.Where(*Child(*annotations, kSkipInitializerAnnotation)),
                        "annotation " + std::string(kSkipInitializerAnnotation) +
                            " must be \"true\" or \"false\", not \"" + **skip + "\"");
    }
    result.skip_initializer = **skip == "true";
  }
  auto secret_id = AnnotationValue(pod, annotations, kWorkloadSecretIdAnnotation);
  if (!secret_id) return Fail(secret_id.error());
  if (*secret_id && (*secret_id)->empty()) {
    return PatchError(pod.Where(*Child(*annotations, kWorkloadSecretIdAnnotation)),
                      "annotation " + std::string(kWorkloadSecretIdAnnotation) + " must not be empty");
  }
  result.workload_secret_id = *secret_id;
  return result;
}

Result<PatchResult> PatchPodTemplate(PodTemplate& pod, const PatchOptions& options) {
  PatchResult result;
  auto annotations = ReadContrastAnnotations(pod);
  if (!annotations) return Fail(annotations.error());
  result.annotations = *annotations;
  if (!pod.spec.IsDefined() || !pod.spec.IsMap()) return PatchError(pod.Where(), "pod spec must be a map");
  if (result.annotations.role == kCoordinatorRole) {
    result.initializer = InitializerState::kCoordinator;
    return result;
  }
  if (result.annotations.skip_initializer) {
    result.initializer = InitializerState::kSkippedByAnnotation;
    return result;
  }
  if (auto user = FindUserInitializer(pod.spec)) {
    result.initializer = InitializerState::kUserProvided;
    result.user_initializer_name = StringField(*user, "name");
    const YAML::Node mounts = *Child(*user, "volumeMounts");
    for (const YAML::Node& mount : mounts) {
      if (SamePath(StringField(mount, "mountPath"), kLegacyTlsMountPath)) {
        result.user_initializer_volume = StringField(mount, "name");
      }
    }
    return result;
  }
  result.initializer = InitializerState::kInjected;
  result.changed = EnsureInitializerFirst(pod.spec, InitializerContainer(options));
  auto volume = EnsureSecretsVolume(pod);
  if (!volume) return Fail(volume.error());
  auto mounts = EnsureSecretsMounts(pod);
  if (!mounts) return Fail(mounts.error());
  result.changed = result.changed || *volume || *mounts;
  return result;
}

Status SetPodAnnotation(PodTemplate& pod, std::string_view key, std::string_view value) {
  if (!pod.pod.IsDefined() || !pod.pod.IsMap()) return PatchError(pod.Where(), "pod template must be a map");
  auto metadata = Child(pod.pod, "metadata");
  if (IsUnset(metadata)) {
    pod.pod["metadata"] = MapNode();
    metadata = Child(pod.pod, "metadata");
  }
  if (!metadata->IsMap()) return PatchError(pod.Where(*metadata), "pod metadata must be a map");
  pod.metadata.reset(*metadata);
  auto annotations = Child(*metadata, "annotations");
  if (IsUnset(annotations)) {
    (*metadata)["annotations"] = MapNode();
    annotations = Child(*metadata, "annotations");
  }
  if (!annotations->IsMap()) return PatchError(pod.Where(*annotations), "metadata.annotations must be a map");
  auto existing = Child(*annotations, key);
  if (existing && existing->IsScalar() && existing->Scalar() == value && IsStringScalar(*existing)) return {};
  (*annotations)[std::string(key)] = StringNode(value);
  return {};
}

std::optional<std::string> GetPodAnnotation(const PodTemplate& pod, std::string_view key) {
  auto annotations = Child(pod.metadata, "annotations");
  if (IsUnset(annotations)) return std::nullopt;
  auto value = Child(*annotations, key);
  if (!value || !value->IsScalar()) return std::nullopt;
  return value->Scalar();
}

Status SetContainerImage(PodTemplate& pod, std::string_view container_name, std::string_view image) {
  for (std::string_view field : {"initContainers", "containers", "ephemeralContainers"}) {
    auto containers = Child(pod.spec, field);
    if (IsUnset(containers) || !containers->IsSequence()) continue;
    for (YAML::Node container : *containers) {
      if (!container.IsMap() || StringField(container, "name") != container_name) continue;
      auto current = Child(container, "image");
      if (current && current->IsScalar() && current->Scalar() == image && IsStringScalar(*current)) return {};
      container["image"] = StringNode(image);
      return {};
    }
  }
  return Fail(ErrorCode::kNotFound, pod.Where() + ": no container named " + std::string(container_name));
}

std::string DefaultWorkloadSecretId(const PodTemplate& pod) {
  const size_t slash = pod.api_version.find('/');
  const std::string group_version = slash == std::string::npos ? "core/" + pod.api_version : pod.api_version;
  return group_version + "/" + std::string(WorkloadKindName(pod.kind)) + "/" + pod.Namespace() + "/" + pod.name;
}

}  // namespace contrast::kube
