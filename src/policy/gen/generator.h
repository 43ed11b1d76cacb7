// Kata agent policies for pods: our rules (rules.rego) plus data generated
// from the pod's spec, its images and its ConfigMaps and Secrets, in the form
// the Kata runtime attaches to the pod VM and the agent enforces.
//
//   auto policy = GeneratePodPolicy(pod, images, configs, options);
//   auto attached = AttachAsInitdata(policy->text);  // annotation + HOST_DATA digest
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "image/image.h"
#include "kube/workload.h"

namespace contrast::policy::gen {

// Our generator settings: what the Kata runtime and containerd add to every
// pod and container (default mounts, annotations, capabilities, storages,
// request defaults). Our own JSON format, documented in docs/policies.md.
struct Settings;

// The settings compiled into the program.
const Settings& DefaultSettings();
// Settings from a user's JSON file (same format), every problem reported.
Result<std::shared_ptr<const Settings>> ParseSettings(std::string_view json);
// Our rules.rego, compiled into the program.
std::string_view DefaultRules();

// The resolved image of a container's `image:` value, or nullptr when it
// was not resolved (an error naming the container).
using ImageLookup = std::function<const image::ResolvedImage*(std::string_view image)>;

struct GeneratorOptions {
  const Settings* settings = nullptr;  // default: DefaultSettings()
  std::string_view rules;              // default: DefaultRules()
  // Reject images the YAML names by tag alone. Otherwise such an image is
  // allowed when the runtime reports the same tag (nothing pins it) or
  // the digest it resolved to; a YAML digest is always required exactly.
  bool require_image_digests = false;
};

struct PodPolicy {
  std::string text;  // the Rego policy: rules, then the generated `policy_data`
};

// Deterministic: the same pod, images, configs and options give the same
// bytes. Errors name the file and line of the offending field (unsupported
// volume type, unresolvable ConfigMap/Secret reference, missing image, …).
Result<PodPolicy> GeneratePodPolicy(const kube::PodTemplate& pod, const ImageLookup& images,
                                    const kube::ConfigStore& configs, const GeneratorOptions& options = {});

// How the runtime receives the policy, and the digest it puts into HOST_DATA.
struct Attachment {
  std::string annotation_key;        // io.katacontainers.config.hypervisor.cc_init_data or …agent.policy
  std::string annotation_value;      // base64(gzip(initdata TOML)) or base64(policy)
  std::string hashed_document;       // the exact bytes the runtime hashes (TOML or policy text)
  std::array<uint8_t, 32> digest{};  // SHA-256 of hashed_document: the manifest's policy key
};

// Current Kata: the initdata document (version "0.1.0", algorithm "sha256",
// [data] "policy.rego"), gzip (deterministic header: no name, mtime 0),
// base64.
Attachment AttachAsInitdata(std::string_view policy_text);
// The 2024 form: io.katacontainers.config.agent.policy = base64(policy).
Attachment AttachAsLegacyAnnotation(std::string_view policy_text);

}  // namespace contrast::policy::gen
