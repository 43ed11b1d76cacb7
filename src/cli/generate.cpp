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
#include "cli/release_images.h"
#include "cli/yaml_nodes.h"
#include "common/files.h"
#include "crypto/keys.h"
#include "image/image.h"
#include "initializer/expected_coordinator.h"
#include "kube/patch.h"
#include "kube/resources.h"
#include "policy/gen/generator.h"
#include "seed/shares.h"

namespace contrast::cli {
namespace {

constexpr const char* kInitdataAnnotation = "io.katacontainers.config.hypervisor.cc_init_data";
constexpr const char* kLegacyAnnotation = "io.katacontainers.config.agent.policy";

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
  YAML::Node annotations = Child(pod.metadata, "annotations");
  if (Child(annotations, key).IsDefined()) annotations.remove(key);
}

// Every container of a pod spec (init containers first), as nodes of the document.
std::vector<YAML::Node> Containers(const kube::PodTemplate& pod) {
  std::vector<YAML::Node> out;
  for (const char* list : {"initContainers", "containers"}) {
    const YAML::Node containers = Child(pod.spec, list);
    if (!containers.IsSequence()) continue;
    for (const YAML::Node& container : containers) out.push_back(container);
  }
  return out;
}

std::string ContainerImage(const YAML::Node& container) {
  const YAML::Node image = Child(container, "image");
  return image.IsScalar() ? image.Scalar() : std::string();
}

std::string NameOf(const YAML::Node& item) {
  const YAML::Node name = Child(item, "name");
  return name.IsScalar() ? name.Scalar() : std::string();
}

// A new string scalar that stays a string when written (a digest of only
// digits would otherwise read back as a number).
YAML::Node StringScalar(const std::string& value) {
  YAML::Node node(value);
  node.SetTag("!");
  return node;
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

// The seed-share owner keys of --add-seedshare-owner-key: loaded, or
// generated (RSA-4096) when absent, written at the end with the other
// outputs.
struct SeedshareOwnerKey {
  std::filesystem::path path;
  std::optional<std::string> new_pem;  // set when the key is to be created
  Bytes public_key;                    // PKCS#1 DER
};

Result<std::vector<SeedshareOwnerKey>> PrepareSeedshareOwnerKeys(const GenerateCommand& command) {
  std::vector<SeedshareOwnerKey> keys;
  std::set<std::filesystem::path> seen;
  for (std::filesystem::path path : command.seedshare_owner_keys) {
    if (path.empty()) path = command.workspace / "seedshare-owner.pem";
    if (!seen.insert(path.lexically_normal()).second) continue;
    std::error_code ec;
    const std::string extension = path.extension().string();
    if (std::filesystem::is_directory(path, ec) || extension == ".yml" || extension == ".yaml") {
      return Fail(ErrorCode::kInvalidArgument,
                  "--add-seedshare-owner-key took " + path.string() +
                      " as the key file, but it looks like an input: write --add-seedshare-owner-key=FILE, or put "
                      "the flag after the inputs");
    }
    SeedshareOwnerKey key{path, std::nullopt, {}};
    std::optional<crypto::PrivateKey> loaded;
    if (std::filesystem::exists(path, ec)) {
      auto pem = ReadTextFile(path, 1024 * 1024);
      if (!pem) return Fail(pem.error().Wrap("seed-share owner key"));
      auto parsed = seed::LoadSeedShareOwnerKey(*pem);
      if (!parsed) return Fail(parsed.error().Wrap("seed-share owner key " + path.string()));
      loaded = std::move(*parsed);
    } else {
      auto generated = crypto::PrivateKey::Generate(crypto::KeyType::kRsa4096);
      if (!generated) return Fail(generated.error());
      auto pem = generated->ToPkcs8Pem();
      if (!pem) return Fail(pem.error());
      key.new_pem = std::move(*pem);
      loaded = std::move(*generated);
    }
    auto public_key = seed::RsaPublicKeyPkcs1Der(*loaded);
    if (!public_key) return Fail(public_key.error().Wrap("seed-share owner key " + path.string()));
    key.public_key = std::move(*public_key);
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

// yaml-cpp caches a sequence's size and keeps a map's pending (not yet
// assigned) members in mutable fields that even const reads of the size
// update. Reading every size once, on one thread, leaves nothing for later
// const reads to change, so several threads can then read the patched pods
// at once (each its own pod, reading only).
void SettleForConcurrentReads(const YAML::Node& node, int depth = 0) {
  if (depth > 128) return;  // the reader refuses deeper documents anyway
  if (node.IsMap()) {
    (void)node.size();
    for (auto it = node.begin(); it != node.end(); ++it) SettleForConcurrentReads(it->second, depth + 1);
  } else if (node.IsSequence()) {
    (void)node.size();
    for (const YAML::Node& element : node) SettleForConcurrentReads(element, depth + 1);
  }
}

// Generates and attaches every pod's policy on every core: each is
// independent (its own pod, read only; shared lookups are read only), and
// together they are most of the work for a large deployment. Results come
// back in pod order.
std::vector<Result<policy::gen::Attachment>> GenerateAll(const std::vector<kube::PodTemplate*>& pods,
                                                         const policy::gen::ImageLookup& images,
                                                         const kube::ConfigStore& configs,
                                                         const policy::gen::GeneratorOptions& options, bool legacy) {
  for (const kube::PodTemplate* pod : pods) {
    SettleForConcurrentReads(pod->metadata);
    SettleForConcurrentReads(pod->spec);
  }
  std::vector<Result<policy::gen::Attachment>> out(pods.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < pods.size(); i = next++) {
      auto policy = policy::gen::GeneratePodPolicy(*pods[i], images, configs, options);
      if (!policy) {
        out[i] = Fail(policy.error());
        continue;
      }
      policy::gen::Attachment attachment =
          legacy ? policy::gen::AttachAsLegacyAnnotation(policy->text) : policy::gen::AttachAsInitdata(policy->text);
      attachment.hashed_document = {};  // only its digest is needed from here on
      out[i] = std::move(attachment);
    }
  };
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), pods.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
  return out;
}

}  // namespace

namespace {

// One run of `generate`, step by step. Each step either succeeds or stops the
// run with an error; nothing is written before the last step.
class Generation {
 public:
  Generation(const GenerateCommand& command, Progress& progress)
      : command_(command),
        progress_(progress),
        manifest_path_(command.manifest.value_or(command.workspace / "manifest.json")),
        initializer_image_(command.initializer_image) {}

  Status Run() {
    for (Status (Generation::*step)() :
         {&Generation::ReadInputs, &Generation::LoadLocalInputs, &Generation::PatchWorkloads, &Generation::PinImages,
          &Generation::AttachPolicies, &Generation::BuildNewManifest, &Generation::WriteEverything}) {
      if (auto done = (this->*step)(); !done) return done;
    }
    return {};
  }

 private:
  // 1. Every object with its file and line; the workloads, ConfigMaps and Secrets.
  Status ReadInputs() {
    auto files = kube::ReadInputs(command_.inputs);
    if (!files) return Fail(files.error());
    files_ = std::move(*files);
    auto workloads = kube::FindWorkloads(files_);
    if (!workloads) return Fail(workloads.error());
    workloads_ = std::move(*workloads);
    auto configs = kube::CollectConfigs(files_);
    if (!configs) return Fail(configs.error());
    configs_ = std::move(*configs);
    for (kube::PodTemplate& pod : workloads_) {
      if (pod.confidential) confidential_.push_back(&pod);
    }
    size_t objects = 0;
    for (const kube::InputFile& file : files_) objects += file.objects.size();
    progress_.line() << "Read " << objects << " objects from " << files_.size() << " file(s): " << workloads_.size()
                     << " workload(s), " << confidential_.size() << " confidential\n";
    if (confidential_.empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "no confidential workload in the inputs: set runtimeClassName: contrast-cc in the pod spec of each "
                  "workload that should run in a confidential VM");
    }
    return {};
  }

  // 2. Everything local that can fail, before any network traffic: the
  // existing manifest, reference values, owner keys, settings.
  Status LoadLocalInputs() {
    std::error_code ec;
    if (std::filesystem::exists(manifest_path_, ec)) {
      auto text = ReadTextFile(manifest_path_, manifest::kMaxManifestSize);
      if (!text) return Fail(text.error());
      auto parsed = manifest::ParseManifest(*text);
      if (!parsed) return Fail(parsed.error().Wrap(manifest_path_.string() + " is not a valid manifest"));
      existing_ = std::move(*parsed);
      existing_text_ = std::move(*text);
    }
    if (command_.reference_values) {
      auto loaded = LoadReferenceValues(command_);
      if (!loaded) return Fail(loaded.error());
      reference_values_ = std::move(*loaded);
    }
    // What BuildManifest would refuse at the end, refused before any image is fetched.
    if (!reference_values_ && !existing_) return Fail(NoReferenceValuesError());
    if (!CoordinatorNamespace(workloads_)) return Fail(NoCoordinatorError());
    auto owner_keys = PrepareOwnerKeys(command_);
    if (!owner_keys) return Fail(owner_keys.error());
    owner_keys_ = std::move(*owner_keys);
    auto seedshare_keys = PrepareSeedshareOwnerKeys(command_);
    if (!seedshare_keys) return Fail(seedshare_keys.error());
    seedshare_keys_ = std::move(*seedshare_keys);
    if (command_.settings) {
      auto text = ReadTextFile(*command_.settings);
      if (!text) return Fail(text.error());
      auto parsed = policy::gen::ParseSettings(*text);
      if (!parsed) return Fail(parsed.error().Wrap(command_.settings->string()));
      settings_ = std::move(*parsed);
    }
    if (command_.images_file) {
      auto images = LoadReleaseImages(*command_.images_file);
      if (!images) return Fail(images.error());
      initializer_image_ = images->initializer;
      coordinator_image_ = images->coordinator;
    }
    return {};
  }

  // 3. The Initializer and its volume (images still as written).
  Status PatchWorkloads() {
    const std::string coordinator_namespace = CoordinatorNamespace(workloads_).value_or("");
    for (kube::PodTemplate* pod : confidential_) {
      kube::ContrastAnnotations annotations;
      kube::InitializerState initializer = kube::InitializerState::kSkippedByAnnotation;
      if (command_.skip_initializer) {
        auto read = kube::ReadContrastAnnotations(*pod);
        if (!read) return Fail(read.error());
        annotations = std::move(*read);
      } else {
        kube::PatchOptions options;
        options.initializer_image = initializer_image_;
        options.coordinator_host = "coordinator-ready." + coordinator_namespace;
        auto result = kube::PatchPodTemplate(*pod, options);
        if (!result) return Fail(result.error());
        if (result->initializer == kube::InitializerState::kUserProvided) {
          progress_.line() << "  " << Describe(*pod) << ": keeps its own Initializer " << result->user_initializer_name
                           << " (it writes to " << kube::kLegacyTlsMountPath << ")\n";
        }
        annotations = std::move(result->annotations);
        initializer = result->initializer;
      }
      const bool injected = !command_.skip_initializer && initializer == kube::InitializerState::kInjected;
      if (coordinator_image_ && annotations.role == kube::kCoordinatorRole) {
        if (auto set = SetCoordinatorImage(*pod); !set) return set;
      }
      patched_.push_back(Patched{annotations.role == kube::kCoordinatorRole,
                                 annotations.workload_secret_id.value_or(kube::DefaultWorkloadSecretId(*pod)),
                                 injected});
    }
    return {};
  }

  // The image built for this Coordinator (--images) in its container
  // "coordinator", as deploy/coordinator.yml names it.
  Status SetCoordinatorImage(kube::PodTemplate& pod) {
    for (YAML::Node container : Containers(pod)) {
      if (NameOf(container) == "coordinator") {
        container["image"] = *coordinator_image_;
        return {};
      }
    }
    return Fail(ErrorCode::kInvalidArgument, Describe(pod) +
                                                 " is marked as the Coordinator but has no container named "
                                                 "\"coordinator\" for the image of --images");
  }

  // 4. Every distinct image once, concurrently; each container's `image:`
  // pinned to the digest it resolved to.
  Status PinImages() {
    std::vector<std::string> references;
    std::set<std::string> seen;
    for (kube::PodTemplate* pod : confidential_) {
      for (const YAML::Node& container : Containers(*pod)) {
        const std::string image = ContainerImage(container);
        if (!image.empty() && seen.insert(image).second) references.push_back(image);
      }
    }
    progress_.line() << "Resolving " << references.size() << " image(s)"
                     << (command_.offline ? " from the cache (offline)" : "") << "\n";
    image::ImageResolver resolver(ResolverOptionsFor(command_));
    std::vector<Result<image::ResolvedImage>> resolved = resolver.ResolveAll(references);
    std::map<std::string, std::string> pinned;  // as written -> pinned spelling
    std::string errors;
    for (size_t i = 0; i < references.size(); ++i) {
      if (!resolved[i] && references[i] == initializer_image_) {
        auto fallback = UnpinnedInitializer(references[i], resolved[i].error());
        if (!fallback) return Fail(fallback.error());
        pinned[references[i]] = references[i];
        images_.emplace(references[i], std::move(*fallback));
      } else if (!resolved[i]) {
        errors += "\n  " + references[i] + ": " + resolved[i].error().message;
      } else {
        const std::string spelling = PinnedSpelling(references[i], *resolved[i]);
        pinned[references[i]] = spelling;
        images_.emplace(spelling, std::move(*resolved[i]));
      }
    }
    if (!errors.empty()) return Fail(ErrorCode::kNotFound, "cannot resolve image(s):" + errors + UsedBy(pinned));
    const image::ResolverStats stats = resolver.stats();
    if (stats.manifests_fetched + stats.blobs_fetched + stats.cache_hits > 0) {
      progress_.line() << "  " << stats.manifests_fetched << " manifest(s) and " << stats.blobs_fetched
                       << " blob(s) fetched (" << stats.layers_fetched << " layer(s)), " << stats.cache_hits
                       << " from the cache\n";
    }
    for (kube::PodTemplate* pod : confidential_) {
      for (YAML::Node container : Containers(*pod)) {
        const std::string image = ContainerImage(container);
        if (auto it = pinned.find(image); it != pinned.end() && it->second != image) container["image"] = it->second;
      }
    }
    return {};
  }

  // Our own image, when it cannot be resolved: its configuration is known,
  // so the policy can still be written, but it cannot pin the content.
  Result<image::ResolvedImage> UnpinnedInitializer(const std::string& reference, const Error& why) {
    if (reference.find('@') != std::string::npos) {
      // Pinned (e.g. by --images): the digest is pinned as written; the
      // configuration assumed is the one scripts/images gives the image.
      progress_.Warn("cannot resolve the Initializer image " + reference + " (" + why.message +
                     "): the policies pin its digest as written and assume this version's image configuration");
    } else {
      progress_.Warn("cannot resolve the Initializer image " + reference + " (" + why.message +
                     "): the policies pin its name only, not its digest. Make it resolvable (--registry-mirror, "
                     "--image-layout) or pass a pinned --initializer-image (or --images) before deploying to a "
                     "real cluster");
    }
    auto parsed = image::ImageReference::Parse(reference);
    if (!parsed) return Fail(parsed.error().Wrap("--initializer-image"));
    image::ResolvedImage image;
    image.reference = *parsed;
    image.digest = parsed->digest;
    image.config = InitializerImageConfig();
    return image;
  }

  // Where each image that did not resolve is used (its first container).
  std::string UsedBy(const std::map<std::string, std::string>& resolved) const {
    std::string out;
    std::set<std::string> named;
    for (const kube::PodTemplate* pod : confidential_) {
      for (const YAML::Node& container : Containers(*pod)) {
        const std::string image = ContainerImage(container);
        if (!image.empty() && !resolved.contains(image) && named.insert(image).second) {
          out += "\n  " + image + " is used by " + Describe(*pod) + " at " + pod->Where(Child(container, "image"));
        }
      }
    }
    return out;
  }

  // 5. One policy per pod, attached as the runtime expects. The
  // Coordinator's first: every Initializer added here pins its digest (and
  // the reference values), which become part of that workload's policy.
  Status AttachPolicies() {
    std::vector<size_t> coordinators;
    std::vector<size_t> workloads;
    for (size_t i = 0; i < confidential_.size(); ++i) (patched_[i].coordinator ? coordinators : workloads).push_back(i);
    if (auto done = AttachPoliciesOf(coordinators); !done) return done;
    if (auto done = PinExpectedCoordinator(); !done) return done;
    return AttachPoliciesOf(workloads);
  }

  // The policies of the confidential workloads at `indices`, on every core.
  Status AttachPoliciesOf(const std::vector<size_t>& indices) {
    const policy::gen::ImageLookup lookup = [this](std::string_view image) -> const image::ResolvedImage* {
      auto it = images_.find(std::string(image));
      return it == images_.end() ? nullptr : &it->second;
    };
    policy::gen::GeneratorOptions options;
    options.settings = settings_.get();
    std::vector<kube::PodTemplate*> pods;
    for (size_t i : indices) pods.push_back(confidential_[i]);
    const std::vector<Result<policy::gen::Attachment>> attachments =
        GenerateAll(pods, lookup, configs_, options, command_.legacy_policy_annotation);
    for (size_t k = 0; k < indices.size(); ++k) {
      if (!attachments[k]) return Fail(attachments[k].error().Wrap(Describe(*confidential_[indices[k]])));
      if (auto done = Annotate(indices[k], *attachments[k]); !done) return done;
    }
    return {};
  }

  // The Coordinator's expected identity (its policy digests from step 5 and
  // the new manifest's reference values) in the environment of every
  // Initializer this run added, and the flag that makes it required on its
  // command line: the runtime policy pins both, and the command line
  // completely (a variable the host left out would go unnoticed).
  Status PinExpectedCoordinator() {
    std::vector<manifest::PolicyHash> hashes;
    for (const GeneratedPolicy& policy : generated_) {
      if (policy.role == manifest::Role::kCoordinator) hashes.push_back(policy.hash);
    }
    const manifest::ReferenceValues& reference_values =
        reference_values_ ? *reference_values_ : existing_->reference_values;  // LoadLocalInputs checked one is there
    const auto env = initializer::ExpectedCoordinatorEnv(hashes, reference_values);
    // What the Initializers will read must parse there.
    if (auto parsed = initializer::ParseExpectedCoordinator(env[0].second, env[1].second); !parsed) {
      return Fail(parsed.error().Wrap("the Coordinator's expected identity for the Initializers"));
    }
    for (size_t i = 0; i < confidential_.size(); ++i) {
      if (!patched_[i].injected_initializer) continue;
      if (auto pinned = PinInInitializer(*confidential_[i], env); !pinned) return pinned;
    }
    return {};
  }

  static Status PinInInitializer(kube::PodTemplate& pod,
                                 const std::vector<std::pair<std::string, std::string>>& variables) {
    YAML::Node initializer;
    const YAML::Node init_containers = Child(pod.spec, "initContainers");
    if (init_containers.IsSequence()) {
      for (YAML::Node container : init_containers) {
        if (NameOf(container) == kube::kInitializerName) initializer.reset(container);
      }
    }
    if (!initializer.IsMap()) {
      return Fail(ErrorCode::kInternal, Describe(pod) + ": the injected Initializer is missing");
    }
    YAML::Node env = initializer["env"];
    YAML::Node kept(YAML::NodeType::Sequence);
    for (const YAML::Node& entry : env) {
      const std::string name = NameOf(entry);
      if (std::none_of(variables.begin(), variables.end(), [&](const auto& v) { return v.first == name; })) {
        kept.push_back(entry);
      }
    }
    for (const auto& [name, value] : variables) {
      YAML::Node entry(YAML::NodeType::Map);
      entry["name"] = StringScalar(name);
      entry["value"] = StringScalar(value);
      kept.push_back(entry);
    }
    initializer["env"] = kept;
    YAML::Node args(YAML::NodeType::Sequence);
    args.push_back(StringScalar(initializer::kRequireCoordinatorAttestationFlag));
    initializer["args"] = args;
    return {};
  }

  Status Annotate(size_t index, const policy::gen::Attachment& attachment) {
    kube::PodTemplate& pod = *confidential_[index];
    RemovePodAnnotation(pod, command_.legacy_policy_annotation ? kInitdataAnnotation : kLegacyAnnotation);
    if (auto set = kube::SetPodAnnotation(pod, attachment.annotation_key, attachment.annotation_value); !set) {
      return set;
    }
    GeneratedPolicy entry;
    entry.workload = Describe(pod);
    entry.name = pod.name.empty() ? pod.generate_name : pod.name;
    entry.hash.bytes = attachment.digest;
    entry.workload_secret_id = patched_[index].workload_secret_id;
    entry.role = patched_[index].coordinator ? manifest::Role::kCoordinator : manifest::Role::kNone;
    progress_.line() << "  " << entry.workload << ": policy " << entry.hash.Hex()
                     << (entry.role == manifest::Role::kCoordinator ? " (Coordinator)" : "") << "\n";
    generated_.push_back(std::move(entry));
    return {};
  }

  // 6. The manifest.
  Status BuildNewManifest() {
    ManifestInputs inputs;
    inputs.existing = existing_;
    inputs.policies = generated_;
    inputs.reference_values = reference_values_;
    for (const OwnerKey& key : owner_keys_) inputs.workload_owner_key_digests.push_back(key.digest);
    for (const SeedshareOwnerKey& key : seedshare_keys_) inputs.seedshare_owner_pub_keys.push_back(key.public_key);
    inputs.disable_updates = command_.disable_updates;
    auto manifest = BuildManifest(inputs);
    if (!manifest) return Fail(manifest.error());
    if (existing_ && manifest->seedshare_owner_pub_keys != existing_->seedshare_owner_pub_keys) {
      progress_.Warn("a seed-share owner key was added to the existing manifest " + manifest_path_.string() +
                     ": SeedshareOwnerPubKeys cannot change after the first manifest is set, so a Coordinator "
                     "that already runs an earlier version of it will refuse this manifest");
    }
    manifest_ = std::move(*manifest);
    return {};
  }

  // 7. Everything is computed: render, then write (each file atomically;
  // files whose content would not change are not touched).
  Status WriteEverything() {
    std::vector<std::pair<std::filesystem::path, std::string>> outputs;  // in write order
    std::string combined;
    size_t changed_files = 0;
    for (const kube::InputFile& file : files_) {
      auto rendered = kube::RenderFile(file);
      if (!rendered) return Fail(rendered.error());
      if (command_.output) {
        if (!combined.empty() && rendered->text.rfind("---", 0) != 0) combined += "---\n";
        combined += rendered->text;
        if (!combined.empty() && combined.back() != '\n') combined += '\n';
      } else if (rendered->changed) {
        outputs.emplace_back(file.path, std::move(rendered->text));
        ++changed_files;
      }
    }
    if (command_.output) outputs.emplace_back(*command_.output, std::move(combined));
    const std::string manifest_text = manifest::SerializeManifest(manifest_);
    if (!existing_ || existing_text_ != manifest_text) outputs.emplace_back(manifest_path_, manifest_text);

    for (const OwnerKey& key : owner_keys_) {
      if (!key.new_pem) continue;
      if (auto written = WriteFileAtomic(key.path, *key.new_pem, 0600); !written) return written;
      progress_.line() << "Created workload owner key " << key.path.string() << " (keep it secret)\n";
    }
    for (const SeedshareOwnerKey& key : seedshare_keys_) {
      if (!key.new_pem) continue;
      if (auto written = WriteFileAtomic(key.path, *key.new_pem, 0600); !written) return written;
      progress_.line() << "Created seed-share owner key " << key.path.string()
                       << " (keep it secret and back it up: `contrast recover` needs it)\n";
    }
    for (const auto& [path, content] : outputs) {
      if (auto written = WriteFileAtomic(path, content, 0644); !written) return written;
    }
    if (manifest_.insecure())
      progress_.Warn("the manifest trusts the EMULATED platform: development only, no security");
    progress_.line() << "Wrote " << manifest_path_.string() << " (" << manifest_.policies.size() << " policies)";
    if (command_.output) {
      progress_.line() << " and " << command_.output->string() << "\n";
    } else {
      progress_.line() << "; " << changed_files << " resource file(s) changed\n";
    }
    return {};
  }

  struct Patched {
    bool coordinator = false;
    std::string workload_secret_id;
    bool injected_initializer = false;  // ours, so it gets the Coordinator's expected identity
  };

  const GenerateCommand& command_;
  Progress& progress_;
  const std::filesystem::path manifest_path_;
  std::string initializer_image_;                 // --initializer-image, or that of --images
  std::optional<std::string> coordinator_image_;  // from --images
  std::vector<kube::InputFile> files_;
  std::vector<kube::PodTemplate> workloads_;
  std::vector<kube::PodTemplate*> confidential_;  // into workloads_
  kube::ConfigStore configs_;
  std::optional<manifest::Manifest> existing_;
  std::string existing_text_;
  std::optional<manifest::ReferenceValues> reference_values_;
  std::vector<OwnerKey> owner_keys_;
  std::vector<SeedshareOwnerKey> seedshare_keys_;
  std::shared_ptr<const policy::gen::Settings> settings_;
  std::vector<Patched> patched_;                        // per confidential_ entry
  std::map<std::string, image::ResolvedImage> images_;  // by pinned spelling
  std::vector<GeneratedPolicy> generated_;
  manifest::Manifest manifest_;
};

}  // namespace

int RunGenerate(const GenerateCommand& command, std::ostream& out, std::ostream& err) {
  Progress progress(out, err, command.quiet);
  if (auto done = Generation(command, progress).Run(); !done) {
    err << "error: " << done.error().message << "\n";
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace contrast::cli
