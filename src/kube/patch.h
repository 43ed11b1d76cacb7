// Making a confidential pod template attestable: the Initializer init
// container, the in-memory volume it writes to, and the annotations that
// change what is injected. Every function is idempotent: patching a patched
// pod changes nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "kube/workload.h"

namespace contrast::kube {

inline constexpr std::string_view kInitializerName = "contrast-initializer";
inline constexpr std::string_view kSecretsVolumeName = "contrast-secrets";
inline constexpr std::string_view kSecretsMountPath = "/contrast";
inline constexpr std::string_view kInitializerMemory = "50Mi";
inline constexpr std::string_view kCoordinatorHostEnv = "COORDINATOR_HOST";
// Where the 2024 README told users to mount the volume of their own Initializer.
inline constexpr std::string_view kLegacyTlsMountPath = "/tls-config";

// Annotations on the pod template, named as existing Contrast users write them.
inline constexpr std::string_view kPodRoleAnnotation = "contrast.edgeless.systems/pod-role";
inline constexpr std::string_view kSkipInitializerAnnotation = "contrast.edgeless.systems/skip-initializer";
inline constexpr std::string_view kWorkloadSecretIdAnnotation = "contrast.edgeless.systems/workload-secret-id";
inline constexpr std::string_view kCoordinatorRole = "coordinator";

struct PatchOptions {
  std::string initializer_image;
  // Usually "coordinator-ready.<namespace>"; the caller decides.
  std::string coordinator_host;
  // More environment of the Initializer, after COORDINATOR_HOST, in order.
  std::vector<std::pair<std::string, std::string>> extra_env;
};

// The Contrast annotations of a pod template, checked.
struct ContrastAnnotations {
  std::string role;  // pod-role value, "" when absent
  bool skip_initializer = false;
  std::optional<std::string> workload_secret_id;
};

// Errors (with file:line): a value that is not a string, skip-initializer
// other than "true"/"false", an empty workload-secret-id.
Result<ContrastAnnotations> ReadContrastAnnotations(const PodTemplate& pod);

enum class InitializerState {
  kInjected,             // ours is the first init container (now or already)
  kUserProvided,         // the pod brings its own (COORDINATOR_HOST + /tls-config mount): kept as it is
  kSkippedByAnnotation,  // skip-initializer: "true"
  kCoordinator,          // pod-role: coordinator runs no Initializer
};

struct PatchResult {
  ContrastAnnotations annotations;
  InitializerState initializer = InitializerState::kInjected;
  // kUserProvided: the user's init container and where its volume is mounted.
  std::string user_initializer_name;
  std::string user_initializer_volume;
  bool changed = false;  // the pod template was modified
};

// Patches a confidential pod template (pod.confidential is not checked):
//   - unless the pod is the Coordinator, skips the Initializer or brings its
//     own: the Initializer as first init container `contrast-initializer`
//     (image, COORDINATOR_HOST, extra env, mount of `contrast-secrets` at
//     /contrast, memory limit and request 50Mi), replacing an existing one;
//   - the volume `contrast-secrets` (emptyDir, medium Memory), mounted at
//     /contrast in every other container and init container.
// Errors (with file:line): a `contrast-secrets` volume that is not an
// emptyDir, another volume already mounted at /contrast, malformed shapes.
Result<PatchResult> PatchPodTemplate(PodTemplate& pod, const PatchOptions& options);

// Sets an annotation on the pod template, creating metadata and annotations
// when absent. Setting the value it already has changes nothing.
Status SetPodAnnotation(PodTemplate& pod, std::string_view key, std::string_view value);

// The value of an annotation of the pod template, nullopt when absent (or not a string).
std::optional<std::string> GetPodAnnotation(const PodTemplate& pod, std::string_view key);

// Sets `image` of the (init or app) container named `container_name`, e.g. to
// "name:tag@sha256:…". kNotFound when the pod has no such container.
Status SetContainerImage(PodTemplate& pod, std::string_view container_name, std::string_view image);

// The default WorkloadSecretID: "<group|core>/<version>/<Kind>/<namespace|default>/<name>",
// e.g. "apps/v1/Deployment/default/web", "core/v1/Pod/prod/db".
std::string DefaultWorkloadSecretId(const PodTemplate& pod);

}  // namespace contrast::kube
