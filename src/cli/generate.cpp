// `contrast generate`: the pipeline from the user's YAML to annotated
// workloads and manifest.json. Nothing is written before everything has been
// computed; then every output is written atomically.
#include "cli/generate.h"

#include <algorithm>
#include <atomic>
#include <ostream>
#include <set>
#include <thread>

#include "cli/app.h"
#include "common/files.h"
#include "crypto/keys.h"
#include "image/image.h"
#include "kube/patch.h"
#include "kube/resources.h"
#include "policy/gen/generator.h"

namespace contrast::cli {
namespace {

constexpr const char* kInitdataAnnotation = "io.katacontainers.config.hypervisor.cc_init_data";
constexpr const char* kLegacyAnnotation = "io.katacontainers.config.agent.policy";

// A map's member, or an undefined node (never one of yaml-cpp's invalid
// nodes, which throw on use; never adding the key).
YAML::Node Member(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// Progress lines on `out` (unless quiet); warnings always on `err`.
class Progress {
 public:
  Progress(std::ostream& out, std::ostream& err, bool quiet) : out_(out), err_(err), quiet_(quiet) {}
  std::ostream& line() { return quiet_ ? null_ : out_; }
  void Warn(const std::string& message) { err_ << "warning: " << message << "\n"; }

 private:
  struct NullBuffer : std::streambuf {
    int overflow(int c) override { return c; }
  };
  std::ostream& out_;
  std::ostream& err_;
  bool quiet_;
  NullBuffer null_buffer_;
  std::ostream null_{&null_buffer_};
};

std::string Describe(const kube::PodTemplate& pod) {
  return std::string(kube::WorkloadKindName(pod.kind)) + " " + pod.Namespace() + "/" +
         (pod.name.empty() ? pod.generate_name + "*" : pod.name) + " (" + pod.file + ":" + std::to_string(pod.line) +
         ")";
}

// Removes a pod template annotation if present (the other way of attaching
// a policy, from an earlier run with the other flag).
void RemovePodAnnotation(kube::PodTemplate& pod, const char* key) {
  YAML::Node annotations = Member(pod.metadata, "annotations");
  if (Member(annotations, key).IsDefined()) annotations.remove(key);
}

// Every container of a pod spec (init containers first), as nodes of the document.
std::vector<YAML::Node> Containers(const kube::PodTemplate& pod) {
  std::vector<YAML::Node> out;
  for (const char* list : {"initContainers", "containers"}) {
    const YAML::Node containers = Member(pod.spec, list);
    if (!containers.IsSequence()) continue;
    for (const YAML::Node& container : containers) out.push_back(container);
  }
  return out;
}

std::string ContainerImage(const YAML::Node& container) {
  const YAML::Node image = Member(container, "image");
  return image.IsScalar() ? image.Scalar() : std::string();
}

// The namespace the Coordinator runs in: that of the workload marked as the
// Coordinator, if the inputs have one.
std::optional<std::string> CoordinatorNamespace(const std::vector<kube::PodTemplate>& pods) {
  for (const kube::PodTemplate& pod : pods) {
    if (pod.confidential &&
        kube::GetPodAnnotation(pod, kube::kPodRoleAnnotation) == std::string(kube::kCoordinatorRole))
      return pod.Namespace();
  }
  return std::nullopt;
}

// The owner keys: loaded, or generated when the one default/given path does
// not exist yet (written at the end, with the other outputs).
struct OwnerKey {
  std::filesystem::path path;
  std::optional<std::string> new_pem;  // set when the key is to be created
  crypto::Sha256Digest digest{};
};

Result<std::vector<OwnerKey>> PrepareOwnerKeys(const GenerateCommand& command) {
  std::vector<OwnerKey> keys;
  if (command.disable_updates) return keys;
  std::vector<std::filesystem::path> paths = command.workload_owner_keys;
  if (paths.empty()) paths.push_back(command.workspace / "workload-owner.pem");
  for (const auto& path : paths) {
    OwnerKey key{path, std::nullopt, {}};
    std::optional<crypto::PrivateKey> loaded;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      auto pem = ReadTextFile(path, 1024 * 1024);
      if (!pem) return Fail(pem.error().Wrap("workload owner key"));
      auto parsed = crypto::PrivateKey::FromPkcs8Pem(*pem);
      if (!parsed) return Fail(parsed.error().Wrap("workload owner key " + path.string()));
      if (parsed->type() != crypto::KeyType::kEcP384) {
        return Fail(ErrorCode::kInvalidArgument, "workload owner key " + path.string() + ": must be EC P-384");
      }
      loaded = std::move(*parsed);
    } else {
      auto generated = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
      if (!generated) return Fail(generated.error());
      auto pem = generated->ToPkcs8Pem();
      if (!pem) return Fail(pem.error());
      key.new_pem = std::move(*pem);
      loaded = std::move(*generated);
    }
    auto spki = loaded->PublicKeyDer();
    if (!spki) return Fail(spki.error());
    key.digest = crypto::Sha256(*spki);
    keys.push_back(std::move(key));
  }
  return keys;
}

image::ResolverOptions ResolverOptionsFor(const GenerateCommand& command) {
  image::ResolverOptions options;
  options.cache_dir = command.cache_dir.value_or(image::DefaultCacheDir());
  options.offline = command.offline;
  options.insecure_registries = command.insecure_registries;
  options.mirrors = command.registry_mirrors;
  options.layout_dirs = command.image_layouts;
  return options;
}

// The image a container's `image:` value pins: the value as written with the
// digest it resolved to appended ("nginx:1.27" -> "nginx:1.27@sha256:…").
std::string PinnedSpelling(const std::string& written, const image::ResolvedImage& resolved) {
  if (written.find('@') != std::string::npos) return written;
  return written + "@" + resolved.digest;
}

// The configuration of the Initializer image this version ships.
image::ImageConfig InitializerImageConfig() {
  image::ImageConfig config;
  config.entrypoint = {"/usr/local/bin/contrast-initializer"};
  config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  config.working_dir = "/";
  config.user = "0:0";
  return config;
}

// Attaches each policy text (gzip, SHA-256, base64), on every core.
std::vector<policy::gen::Attachment> Attach(const std::vector<std::string>& texts, bool legacy) {
  std::vector<policy::gen::Attachment> out(texts.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < texts.size(); i = next++) {
      out[i] = legacy ? policy::gen::AttachAsLegacyAnnotation(texts[i]) : policy::gen::AttachAsInitdata(texts[i]);
    }
  };
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), texts.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
  return out;
}

struct Outputs {
  std::vector<std::pair<std::filesystem::path, std::string>> files;  // path -> content, in write order
};

Status WriteOutputs(const Outputs& outputs) {
  for (const auto& [path, content] : outputs.files) {
    if (auto written = WriteFileAtomic(path, content, 0644); !written) return written;
  }
  return {};
}

int UsageError(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitUsage;
}

}  // namespace

int RunGenerate(const GenerateCommand& command, std::ostream& out, std::ostream& err) {
  Progress progress(out, err, command.quiet);
  const std::filesystem::path manifest_path = command.manifest.value_or(command.workspace / "manifest.json");

  // 1. Inputs: every object with its file and line, ConfigMaps and Secrets.
  auto files = kube::ReadInputs(command.inputs);
  if (!files) return UsageError(err, files.error());
  auto workloads = kube::FindWorkloads(*files);
  if (!workloads) return UsageError(err, workloads.error());
  auto configs = kube::CollectConfigs(*files);
  if (!configs) return UsageError(err, configs.error());
  std::vector<kube::PodTemplate*> confidential;
  for (kube::PodTemplate& pod : *workloads) {
    if (pod.confidential) confidential.push_back(&pod);
  }
  size_t objects = 0;
  for (const kube::InputFile& file : *files) objects += file.objects.size();
  progress.line() << "Read " << objects << " objects from " << files->size() << " file(s): " << workloads->size()
                  << " workload(s), " << confidential.size() << " confidential\n";
  if (confidential.empty()) {
    return UsageError(err, Error{ErrorCode::kInvalidArgument,
                                 "no confidential workload in the inputs: set runtimeClassName: contrast-cc in the pod "
                                 "spec of each workload that should run in a confidential VM"});
  }

  // 2. Local inputs that can fail before any network traffic.
  std::optional<manifest::Manifest> existing;
  std::error_code ec;
  if (std::filesystem::exists(manifest_path, ec)) {
    auto text = ReadTextFile(manifest_path, manifest::kMaxManifestSize);
    if (!text) return UsageError(err, text.error());
    auto parsed = manifest::ParseManifest(*text);
    if (!parsed) return UsageError(err, parsed.error().Wrap(manifest_path.string() + " is not a valid manifest"));
    existing = std::move(*parsed);
  }
  std::optional<manifest::ReferenceValues> reference_values;
  if (command.reference_values) {
    auto loaded = LoadReferenceValues(command);
    if (!loaded) return UsageError(err, loaded.error());
    reference_values = std::move(*loaded);
  }
  // What BuildManifest would refuse at the end, refused before any image is fetched.
  if (!reference_values && !existing) return UsageError(err, NoReferenceValuesError());
  if (!CoordinatorNamespace(*workloads)) return UsageError(err, NoCoordinatorError());
  auto owner_keys = PrepareOwnerKeys(command);
  if (!owner_keys) return UsageError(err, owner_keys.error());
  std::shared_ptr<const policy::gen::Settings> settings;
  if (command.settings) {
    auto text = ReadTextFile(*command.settings);
    if (!text) return UsageError(err, text.error());
    auto parsed = policy::gen::ParseSettings(*text);
    if (!parsed) return UsageError(err, parsed.error().Wrap(command.settings->string()));
    settings = std::move(*parsed);
  }

  // 3. Patching: the Initializer and its volume (images still as written).
  const std::string coordinator_namespace = CoordinatorNamespace(*workloads).value_or("");
  struct Patched {
    bool coordinator = false;
    std::string workload_secret_id;
  };
  std::vector<Patched> patched;
  for (kube::PodTemplate* pod : confidential) {
    Patched info;
    kube::ContrastAnnotations annotations;
    if (command.skip_initializer) {
      auto read = kube::ReadContrastAnnotations(*pod);
      if (!read) return UsageError(err, read.error());
      annotations = std::move(*read);
    } else {
      kube::PatchOptions options;
      options.initializer_image = command.initializer_image;
      options.coordinator_host =
          "coordinator-ready." + (coordinator_namespace.empty() ? pod->Namespace() : coordinator_namespace);
      auto result = kube::PatchPodTemplate(*pod, options);
      if (!result) return UsageError(err, result.error());
      if (result->initializer == kube::InitializerState::kUserProvided) {
        progress.line() << "  " << Describe(*pod) << ": keeps its own Initializer " << result->user_initializer_name
                        << " (it writes to " << kube::kLegacyTlsMountPath << ")\n";
      }
      annotations = std::move(result->annotations);
    }
    info.coordinator = annotations.role == kube::kCoordinatorRole;
    info.workload_secret_id = annotations.workload_secret_id.value_or(kube::DefaultWorkloadSecretId(*pod));
    patched.push_back(std::move(info));
  }

  // 4. Images: every distinct image once, concurrently, pinned by digest.
  std::vector<std::string> references;
  std::set<std::string> seen;
  for (kube::PodTemplate* pod : confidential) {
    for (const YAML::Node& container : Containers(*pod)) {
      const std::string image = ContainerImage(container);
      if (!image.empty() && seen.insert(image).second) references.push_back(image);
    }
  }
  progress.line() << "Resolving " << references.size() << " image(s)"
                  << (command.offline ? " from the cache (offline)" : "") << "\n";
  image::ImageResolver resolver(ResolverOptionsFor(command));
  std::vector<Result<image::ResolvedImage>> resolved = resolver.ResolveAll(references);
  std::map<std::string, image::ResolvedImage> images;  // pinned spelling -> image
  std::map<std::string, std::string> pinned;           // as written -> pinned spelling
  std::string image_errors;
  for (size_t i = 0; i < references.size(); ++i) {
    if (!resolved[i] && references[i] == command.initializer_image) {
      // Our own image: its configuration is known, so the policy can still be
      // written, but it cannot pin the image's content.
      progress.Warn("cannot resolve the Initializer image " + references[i] + " (" + resolved[i].error().message +
                    "): the policies pin its name only, not its digest. Make it resolvable (--registry-mirror, "
                    "--image-layout) or pass a pinned --initializer-image before deploying to a real cluster");
      auto reference = image::ImageReference::Parse(references[i]);
      if (!reference) return UsageError(err, reference.error().Wrap("--initializer-image"));
      image::ResolvedImage fallback;
      fallback.reference = *reference;
      fallback.digest = reference->digest;
      fallback.config = InitializerImageConfig();
      pinned[references[i]] = references[i];
      images.emplace(references[i], std::move(fallback));
      continue;
    }
    if (!resolved[i]) {
      image_errors += "\n  " + references[i] + ": " + resolved[i].error().message;
      continue;
    }
    const std::string spelling = PinnedSpelling(references[i], *resolved[i]);
    pinned[references[i]] = spelling;
    images.emplace(spelling, std::move(*resolved[i]));
  }
  if (!image_errors.empty()) {
    // Name the first container of each failing image.
    for (kube::PodTemplate* pod : confidential) {
      for (const YAML::Node& container : Containers(*pod)) {
        const std::string image = ContainerImage(container);
        if (!pinned.contains(image) && !image.empty()) {
          image_errors += "\n  used by " + Describe(*pod) + " at " + pod->Where(Member(container, "image"));
          pinned[image] = image;  // name each image once
        }
      }
    }
    return UsageError(err, Error{ErrorCode::kNotFound, "cannot resolve image(s):" + image_errors});
  }
  const image::ResolverStats stats = resolver.stats();
  if (stats.manifests_fetched + stats.blobs_fetched + stats.cache_hits > 0) {
    progress.line() << "  " << stats.manifests_fetched << " manifest(s) and " << stats.blobs_fetched
                    << " blob(s) fetched (" << stats.layers_fetched << " layer(s)), " << stats.cache_hits
                    << " from the cache\n";
  }
  for (kube::PodTemplate* pod : confidential) {
    for (YAML::Node container : Containers(*pod)) {
      const std::string image = ContainerImage(container);
      if (auto it = pinned.find(image); it != pinned.end() && it->second != image) container["image"] = it->second;
    }
  }

  // 5. Policies: one per pod, attached as the runtime expects.
  const policy::gen::ImageLookup lookup = [&](std::string_view image) -> const image::ResolvedImage* {
    auto it = images.find(std::string(image));
    return it == images.end() ? nullptr : &it->second;
  };
  policy::gen::GeneratorOptions generator_options;
  generator_options.settings = settings.get();
  std::vector<GeneratedPolicy> generated;
  // Policies are generated in batches; compressing and hashing them (most of
  // the work for large deployments) runs on every core.
  constexpr size_t kBatch = 64;
  for (size_t first = 0; first < confidential.size(); first += kBatch) {
    const size_t count = std::min(kBatch, confidential.size() - first);
    std::vector<std::string> texts(count);
    for (size_t j = 0; j < count; ++j) {
      kube::PodTemplate& pod = *confidential[first + j];
      auto policy = policy::gen::GeneratePodPolicy(pod, lookup, *configs, generator_options);
      if (!policy) return UsageError(err, policy.error().Wrap(Describe(pod)));
      texts[j] = std::move(policy->text);
    }
    std::vector<policy::gen::Attachment> attachments = Attach(texts, command.legacy_policy_annotation);
    for (size_t j = 0; j < count; ++j) {
      const size_t i = first + j;
      kube::PodTemplate& pod = *confidential[i];
      const policy::gen::Attachment& attachment = attachments[j];
      RemovePodAnnotation(pod, command.legacy_policy_annotation ? kInitdataAnnotation : kLegacyAnnotation);
      if (auto set = kube::SetPodAnnotation(pod, attachment.annotation_key, attachment.annotation_value); !set) {
        return UsageError(err, set.error());
      }
      GeneratedPolicy entry;
      entry.workload = Describe(pod);
      entry.name = pod.name.empty() ? pod.generate_name : pod.name;
      entry.hash.bytes = attachment.digest;
      entry.workload_secret_id = patched[i].workload_secret_id;
      entry.role = patched[i].coordinator ? manifest::Role::kCoordinator : manifest::Role::kNone;
      progress.line() << "  " << entry.workload << ": policy " << entry.hash.Hex()
                      << (entry.role == manifest::Role::kCoordinator ? " (Coordinator)" : "") << "\n";
      generated.push_back(std::move(entry));
    }
  }

  // 6. The manifest.
  ManifestInputs manifest_inputs;
  manifest_inputs.existing = existing;
  manifest_inputs.policies = generated;
  manifest_inputs.reference_values = reference_values;
  for (const OwnerKey& key : *owner_keys) manifest_inputs.workload_owner_key_digests.push_back(key.digest);
  manifest_inputs.disable_updates = command.disable_updates;
  auto new_manifest = BuildManifest(manifest_inputs);
  if (!new_manifest) return UsageError(err, new_manifest.error());
  const std::string manifest_text = manifest::SerializeManifest(*new_manifest);

  // 7. Everything is computed: render, then write.
  Outputs outputs;
  std::string combined;
  size_t changed_files = 0;
  for (const kube::InputFile& file : *files) {
    auto rendered = kube::RenderFile(file);
    if (!rendered) return UsageError(err, rendered.error());
    if (command.output) {
      if (!combined.empty() && rendered->text.rfind("---", 0) != 0) combined += "---\n";
      combined += rendered->text;
      if (!combined.empty() && combined.back() != '\n') combined += '\n';
    } else if (rendered->changed) {
      outputs.files.emplace_back(file.path, std::move(rendered->text));
      ++changed_files;
    }
  }
  if (command.output) outputs.files.emplace_back(*command.output, combined);
  for (const OwnerKey& key : *owner_keys) {
    if (key.new_pem) {
      if (auto written = WriteFileAtomic(key.path, *key.new_pem, 0600); !written) {
        return UsageError(err, written.error());
      }
      progress.line() << "Created workload owner key " << key.path.string() << " (keep it secret)\n";
    }
  }
  if (auto written = WriteOutputs(outputs); !written) return UsageError(err, written.error());
  // An unchanged manifest is not rewritten (a second run changes nothing).
  const auto old_manifest = ReadTextFile(manifest_path, manifest::kMaxManifestSize);
  if (!existing || !old_manifest || *old_manifest != manifest_text) {
    if (auto written = WriteFileAtomic(manifest_path, manifest_text, 0644); !written) {
      return UsageError(err, written.error());
    }
  }
  if (new_manifest->insecure()) {
    progress.Warn("the manifest trusts the EMULATED platform: development only, no security");
  }
  progress.line() << "Wrote " << manifest_path.string() << " (" << new_manifest->policies.size() << " policies)";
  if (command.output) {
    progress.line() << " and " << command.output->string() << "\n";
  } else {
    progress.line() << "; " << changed_files << " resource file(s) changed\n";
  }
  return kExitOk;
}

}  // namespace contrast::cli
