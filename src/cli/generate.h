// `contrast generate`: turns a user's Kubernetes resources into confidential
// workloads. For every workload whose runtimeClassName is contrast-cc (or
// contrast-cc-*, or AKS's kata-cc-isolation) it injects the Initializer, pins
// every image by digest, writes the Kata agent policy as an annotation, and
// lists the policy's digest in manifest.json. The Coordinator's policy comes
// first: every injected Initializer carries the Coordinator's expected
// identity (initializer/expected_coordinator.h), so it is part of each
// workload's policy. Everything is computed first and
// written at the end, each file atomically; a second run changes no byte.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "manifest/manifest.h"

namespace CLI {
class App;
}  // namespace CLI

namespace contrast::cli {

// The Initializer image `generate` injects unless told otherwise.
inline constexpr const char* kDefaultInitializerImage = "ghcr.io/contrast-cpp/initializer:v0.1.0";

struct GenerateCommand {
  std::vector<std::filesystem::path> inputs;  // files and directories
  std::filesystem::path workspace = ".";
  std::optional<std::filesystem::path> manifest;  // default: <workspace>/manifest.json
  std::optional<std::filesystem::path> output;    // one file for all objects instead of in place
  // "emulated" or a JSON file with a ReferenceValues object; default: keep
  // the existing manifest's.
  std::optional<std::string> reference_values;
  std::optional<std::filesystem::path> emulated_state_dir;  // for "emulated"
  std::string emulated_measurement;                         // hex, default 48 zero bytes
  std::vector<std::filesystem::path> workload_owner_keys;   // default: <workspace>/workload-owner.pem
  // --add-seedshare-owner-key [FILE]: RSA keys whose public halves join
  // SeedshareOwnerPubKeys, created (RSA-4096) if absent; an empty path is
  // <workspace>/seedshare-owner.pem.
  std::vector<std::filesystem::path> seedshare_owner_keys;
  bool disable_updates = false;
  std::string initializer_image = kDefaultInitializerImage;
  // The images file of scripts/images (cli/release_images.h): its pinned
  // Initializer replaces initializer_image, its pinned Coordinator the image
  // of the Coordinator workload's container "coordinator".
  std::optional<std::filesystem::path> images_file;
  bool skip_initializer = false;
  bool legacy_policy_annotation = false;
  std::optional<std::filesystem::path> settings;  // generator settings (our JSON format)
  // Images.
  std::map<std::string, std::string> registry_mirrors;  // host -> mirror
  std::vector<std::string> insecure_registries;
  std::vector<std::filesystem::path> image_layouts;
  std::optional<std::filesystem::path> cache_dir;
  bool offline = false;
  bool quiet = false;
};

int RunGenerate(const GenerateCommand& command, std::ostream& out, std::ostream& err);

// Registers `generate` on `app`.
void AddGenerateCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err);

// ---- the manifest part, exposed for tests ------------------------------------

// One confidential workload's contribution to the manifest.
struct GeneratedPolicy {
  std::string workload;  // "Deployment default/web (web.yml:12)", for messages
  std::string name;      // the first SAN
  manifest::PolicyHash hash;
  std::string workload_secret_id;
  manifest::Role role = manifest::Role::kNone;
};

struct ManifestInputs {
  std::optional<manifest::Manifest> existing;  // the manifest file as it was, if any
  std::vector<GeneratedPolicy> policies;
  std::optional<manifest::ReferenceValues> reference_values;     // replaces the existing ones
  std::vector<crypto::Sha256Digest> workload_owner_key_digests;  // added
  std::vector<Bytes> seedshare_owner_pub_keys;                   // added (PKCS#1 DER)
  bool disable_updates = false;
};

// The new manifest: exactly the generated policies (an existing entry of the
// same workload keeps its SANs, which users may have edited), reference
// values from the inputs or the existing manifest, owner keys merged, sorted
// and deduplicated (or none with disable_updates), seed-share owner keys
// merged: the existing ones first and in their order (the Coordinator
// refuses any change to them after the first manifest), then the new ones
// sorted. Two workloads with one
// policy digest, no reference values or no Coordinator are errors that say
// what to do.
Result<manifest::Manifest> BuildManifest(const ManifestInputs& inputs);

// The errors BuildManifest gives for those two cases, so `generate` can
// give them before fetching any image.
Error NoCoordinatorError();
Error NoReferenceValuesError();

// Reference values for the emulated platform of the emulator whose state is
// in `state_dir` (its root, product and TCB), with the given launch
// measurement (96 hex characters; empty: zero, as `emulate run` defaults).
Result<manifest::ReferenceValues> EmulatedReferenceValuesFor(const std::filesystem::path& state_dir,
                                                             std::string_view measurement_hex);

// The reference values `--reference-values` names: "emulated" (with the
// emulator state directory) or a JSON file; every missing or invalid field
// listed with its JSON path.
Result<manifest::ReferenceValues> LoadReferenceValues(const GenerateCommand& command);

}  // namespace contrast::cli
