// Fuzz target: a pod YAML (and the same bytes as settings JSON) through the
// policy generator. Invariants (trap on violation): no crash; generation is
// deterministic; a generated policy ends with the policy_data document.
#include <cstdint>
#include <string>

#include <yaml-cpp/yaml.h>

#include "policy/gen/generator.h"

namespace {

using namespace contrast;

std::string Scalar(const YAML::Node& node) { return node && node.IsScalar() ? node.Scalar() : std::string(); }

void GenerateFrom(const std::string& text) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
    if (!doc.IsMap()) return;
    kube::PodTemplate pod;
    pod.file = "fuzz.yaml";
    auto kind = kube::ParseWorkloadKind(Scalar(doc["kind"]));
    pod.kind = kind.value_or(kube::WorkloadKind::kPod);
    pod.name = Scalar(doc["metadata"]["name"]);
    pod.generate_name = Scalar(doc["metadata"]["generateName"]);
    pod.ns = Scalar(doc["metadata"]["namespace"]);
    YAML::Node holder = pod.kind == kube::WorkloadKind::kPod ? doc : doc["spec"]["template"];
    if (!holder.IsMap()) return;
    pod.metadata.reset(holder["metadata"]);
    pod.spec.reset(holder["spec"]);
    image::ResolvedImage image;
    image.digest = "sha256:" + std::string(64, 'a');
    image.config.entrypoint = {"/bin/app"};
    image.config.user = "app:app";
    image.files.passwd = "root:x:0:0::/:/bin/sh\napp:x:10:10::/:/bin/sh\n";
    image.files.group = "root:x:0:\napp:x:10:app\n";
    auto lookup = [&](std::string_view) { return &image; };
    kube::ConfigStore configs;
    auto first = policy::gen::GeneratePodPolicy(pod, lookup, configs);
    auto second = policy::gen::GeneratePodPolicy(pod, lookup, configs);
    if (first.has_value() != second.has_value()) __builtin_trap();
    if (first) {
      if (first->text != second->text) __builtin_trap();
      if (first->text.find("\npolicy_data := {") == std::string::npos) __builtin_trap();
      auto attached = policy::gen::AttachAsInitdata(first->text);
      if (attached.annotation_value.empty()) __builtin_trap();
    }
  } catch (const YAML::Exception&) {
    // Rejected by the YAML reader before the generator: not ours.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  GenerateFrom(text);
  (void)policy::gen::ParseSettings(text);
  return 0;
}
