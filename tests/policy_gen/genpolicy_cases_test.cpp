// The acceptance test of our generator and rules: the 22 folders (108
// requests) of Kata genpolicy's policy tests. For each folder the pod YAML
// (and ConfigMaps) become a policy, which the agent's engine then asks
// about every recorded request in order (state carries over), comparing
// the decision with the expected `allowed`.
//
// The pods' images come from a real local registry (docker-registry,
// started once for the binary) through registry mirrors, as
// `contrast generate --registry-mirror` fetches them; see
// registry_images.h for how pinned digests are substituted. A second test
// runs `contrast generate --registry-mirror …` itself on each pod and checks
// that it attaches the policy the first test evaluated.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "cli/policy_commands.h"
#include "policy/gen/generator.h"
#include "policy/gen/settings_internal.h"
#include "policy/rego/agent.h"
#include "policy_gen/diagnose.h"
#include "policy_gen/pod_yaml.h"
#include "policy_gen/registry_images.h"
#include "support/cli_run.h"
#include "support/testdata.h"

namespace contrast::policy::gen {
namespace {

using rego::AgentPolicy;
using rego::Value;

// The settings of the runtime that recorded the requests: ours, with one
// difference. That runtime pulled most images on the host (most of its
// CreateContainerRequests carry no image_guest_pull storage), while our
// default settings demand guest pull, without which the host chooses the
// container's root file system. The tamper tests check the default.
std::string RecordedRuntimeSettingsJson() {
  nlohmann::json settings = nlohmann::json::parse(DefaultSettingsJson());
  settings["require_image_guest_pull"] = false;
  return settings.dump(2);
}

const Settings& RecordedRuntimeSettings() {
  static const std::shared_ptr<const Settings> settings = *ParseSettings(RecordedRuntimeSettingsJson());
  return *settings;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Tally {
  int passed = 0;
  int total = 0;
};
std::map<std::string, Tally>& Results() {
  static std::map<std::string, Tally> results;
  return results;
}

class PrintTally : public ::testing::Environment {
 public:
  void TearDown() override {
    if (Results().empty()) return;
    int passed = 0, total = 0;
    std::printf("\ngenpolicy policy tests, requests decided as expected:\n");
    for (auto& [folder, t] : Results()) {
      std::printf("  %-52s %3d / %3d\n", folder.c_str(), t.passed, t.total);
      passed += t.passed;
      total += t.total;
    }
    std::printf("  %-52s %3d / %3d\n", "total", passed, total);
  }
};
const auto* const kTally = ::testing::AddGlobalTestEnvironment(new PrintTally);

class GenpolicyCases : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { registry_ = testing::GenpolicyRegistry::Start(); }
  static void TearDownTestSuite() { registry_.reset(); }
  void SetUp() override { CONTRAST_REQUIRE_GENPOLICY_REGISTRY(registry_); }

  // The folder's pod YAML (pinned digests substituted), its requests and
  // its ConfigMaps.
  void ReadFolder(const std::string& folder, std::string& pod_yaml, std::string& cases_json, kube::ConfigStore& configs,
                  bool report) {
    const auto dir = testing::TestdataDir() / "kata/genpolicy-policy-tests" / folder;
    ASSERT_TRUE(std::filesystem::exists(dir / "pod.yaml")) << dir;
    pod_yaml = ReadFile(dir / "pod.yaml");
    cases_json = ReadFile(dir / "testcases.json");
    for (const std::string& line : registry_->SubstitutePinnedDigests(pod_yaml, {&cases_json})) {
      if (report) std::printf("  %s: %s\n", folder.c_str(), line.c_str());
    }
    if (std::filesystem::exists(dir / "config_map.yaml"))
      testing::AddConfigs(ReadFile(dir / "config_map.yaml"), folder + "/config_map.yaml", configs);
  }

  // The policy for a pod YAML, its images resolved through the registry.
  Result<PodPolicy> Generate(const std::string& pod_yaml, const std::string& file, const kube::ConfigStore& configs) {
    kube::PodTemplate pod = testing::PodFromYaml(pod_yaml, file);
    testing::ResolvedImages images;
    if (!images.Resolve(registry_->ResolverOptions(), testing::PodImages(pod)))
      return Fail(ErrorCode::kNotFound, file + ": an image did not resolve");
    GeneratorOptions options;
    options.settings = &RecordedRuntimeSettings();
    return GeneratePodPolicy(pod, images.AsFunction(), configs, options);
  }

  static std::unique_ptr<testing::GenpolicyRegistry> registry_;
};
std::unique_ptr<testing::GenpolicyRegistry> GenpolicyCases::registry_;

TEST_P(GenpolicyCases, DecidesEveryRequestAsExpected) {
  CONTRAST_REQUIRE_TESTDATA();
  const std::string folder = GetParam();
  std::string pod_yaml, cases_json;
  kube::ConfigStore configs;
  ASSERT_NO_FATAL_FAILURE(ReadFolder(folder, pod_yaml, cases_json, configs, /*report=*/true));
  auto policy_text = Generate(pod_yaml, folder + "/pod.yaml", configs);
  ASSERT_TRUE(policy_text) << policy_text.error().message;

  // Older agents parse Rego v0 (with the future keywords the rules import).
  rego::AgentPolicyOptions v0;
  v0.version = rego::RegoVersion::kV0;
  auto v0_policy = AgentPolicy::Load(policy_text->text, v0);
  EXPECT_TRUE(v0_policy) << "Rego v0: " << v0_policy.error().message;

  auto policy = AgentPolicy::Load(policy_text->text);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_FALSE(policy->allows_failing_requests());

  auto cases = Value::FromJson(cases_json);
  ASSERT_TRUE(cases && cases->is_array());
  Tally& tally = Results()[folder];
  tally = {};
  for (const Value& c : cases->as_array()) {
    const std::string kind = c.Get("kind")->as_string();
    const std::string description = c.Get("description")->as_string();
    const bool expected = c.Get("allowed")->as_bool();
    auto input = rego::FillRequestDefaults(kind, *c.Get("request"));
    ASSERT_TRUE(input) << description << ": " << input.error().message;
    std::vector<std::string> failed;
    if (kind == "CreateContainerRequest") failed = testing::FailedCreateContainerChecks(*policy, *input);
    auto decision = policy->Evaluate(kind, *input);
    ASSERT_TRUE(decision) << description << ": " << decision.error().message;
    if (v0_policy) {
      // Same decision under v0 (the v0 engine follows the same requests).
      auto v0_decision = v0_policy->Evaluate(kind, *input);
      ASSERT_TRUE(v0_decision);
      EXPECT_EQ(v0_decision->allowed, decision->allowed) << description << " (Rego v0)";
    }
    ++tally.total;
    if (decision->allowed == expected) {
      ++tally.passed;
      continue;
    }
    std::string why;
    for (auto& f : failed) why += " " + f;
    ADD_FAILURE() << folder << ": \"" << description << "\" (" << kind << ") was "
                  << (decision->allowed ? "allowed" : "denied") << ", expected " << (expected ? "allowed" : "denied")
                  << "; reason: " << decision->reason << (decision->error ? " error: " + decision->error->message : "")
                  << "; failing checks:" << why;
  }
}

// The pod YAML marked for Contrast: runtimeClassName contrast-cc on the
// workload's pod spec (nothing else changes the policy).
std::string MarkedConfidential(const std::string& pod_yaml) {
  YAML::Emitter out;
  for (YAML::Node doc : YAML::LoadAll(pod_yaml)) {
    const std::string kind = testing::Scalar(doc["kind"]);
    // reset() rebinds; assigning a node would overwrite the one it refers to.
    YAML::Node spec;
    if (kind == "CronJob") {
      spec.reset(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
    } else if (kind == "Pod") {
      spec.reset(doc["spec"]);
    } else {
      spec.reset(doc["spec"]["template"]["spec"]);
    }
    if (spec && spec.IsMap() && spec["containers"]) spec["runtimeClassName"] = "contrast-cc";
    out << YAML::BeginDoc << doc;
  }
  return std::string(out.c_str()) + "\n";
}

// A Coordinator for `generate`, which requires one among the confidential
// workloads (its image is one the registry serves).
constexpr const char* kCoordinator = R"(apiVersion: v1
kind: Pod
metadata:
  name: contrast-test-coordinator
  annotations:
    contrast.edgeless.systems/pod-role: coordinator
spec:
  runtimeClassName: contrast-cc
  containers:
    - name: coordinator
      image: quay.io/prometheus/busybox:latest
)";

// The documents of `yaml` other than the Coordinator's.
std::string WithoutCoordinator(const std::string& yaml) {
  YAML::Emitter out;
  for (const YAML::Node& doc : YAML::LoadAll(yaml)) {
    if (testing::Scalar(doc["metadata"]["name"]) == "contrast-test-coordinator") continue;
    out << YAML::BeginDoc << doc;
  }
  return std::string(out.c_str()) + "\n";
}

// `contrast generate` itself, with --registry-mirror for the three
// registries and without Initializer (which would add a container), writes
// the policy of the same pod (next to a Coordinator, which it requires). It pins an image named by tag to the digest
// it resolved to, so for a pod whose images are all pinned already the
// policy is byte for byte the one the test above evaluated; otherwise it
// is the policy of the YAML it wrote (tags pinned).
TEST_P(GenpolicyCases, GenerateCommandAttachesTheSamePolicy) {
  CONTRAST_REQUIRE_TESTDATA();
  const std::string folder = GetParam();
  std::string pod_yaml, cases_json;
  kube::ConfigStore configs;
  ASSERT_NO_FATAL_FAILURE(ReadFolder(folder, pod_yaml, cases_json, configs, /*report=*/false));

  std::string slug = folder;
  for (char& ch : slug)
    if (ch == '/') ch = '_';
  const auto work = std::filesystem::temp_directory_path() /
                    ("contrast-genpolicy-generate-" + std::to_string(::getpid()) + "-" + slug);
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work / "input");
  struct RemoveOnExit {
    std::filesystem::path path;
    ~RemoveOnExit() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } cleanup{work};
  auto write = [](const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  };
  write(work / "input/pod.yaml", MarkedConfidential(pod_yaml));
  write(work / "input/coordinator.yaml", kCoordinator);
  const auto dir = testing::TestdataDir() / "kata/genpolicy-policy-tests" / folder;
  if (std::filesystem::exists(dir / "config_map.yaml"))
    write(work / "input/config_map.yaml", ReadFile(dir / "config_map.yaml"));
  write(work / "settings.json", RecordedRuntimeSettingsJson());
  write(
      work / "reference-values.json",
      R"({"snp": [{"Platform": "Metal-QEMU-SNP", "ProductName": "Genoa", "TrustedMeasurement": ")" +
          std::string(96, 'a') +
          R"(", "MinimumTCB": {"BootloaderVersion": 9, "TEEVersion": 0, "SNPVersion": 23, "MicrocodeVersion": 72}}]})");

  std::vector<std::string> args = {"generate",
                                   "--workspace-dir",
                                   work.string(),
                                   "--cache-dir",
                                   (work / "cache").string(),
                                   "--skip-initializer",
                                   "--settings",
                                   (work / "settings.json").string(),
                                   "--reference-values",
                                   (work / "reference-values.json").string(),
                                   "-o",
                                   (work / "out.yaml").string()};
  for (const std::string& flag : registry_->MirrorFlags()) args.push_back(flag);
  args.push_back((work / "input").string());
  const testing::CliRun run = testing::Contrast(args);
  ASSERT_EQ(run.code, 0) << run.out << run.err;

  const std::string written = WithoutCoordinator(ReadFile(work / "out.yaml"));
  auto attached = cli::PolicyFromKubernetesYaml(written);
  ASSERT_TRUE(attached) << attached.error().message << "\n" << written;

  bool all_pinned = true;
  for (const std::string& image : testing::PodImages(testing::PodFromYaml(pod_yaml, folder + "/pod.yaml")))
    all_pinned = all_pinned && image.find('@') != std::string::npos;
  for (const std::string& image : testing::PodImages(testing::PodFromYaml(written, folder + "/out.yaml")))
    EXPECT_NE(image.find("@sha256:"), std::string::npos) << "generate left " << image << " unpinned";
  // The pod as the acceptance test read it, or as generate wrote it.
  auto expected =
      all_pinned ? Generate(pod_yaml, folder + "/pod.yaml", configs) : Generate(written, folder + "/out.yaml", configs);
  ASSERT_TRUE(expected) << expected.error().message;
  EXPECT_EQ(*attached, expected->text) << (all_pinned ? "the policy the requests were decided with"
                                                      : "the policy of the YAML generate wrote");
}

INSTANTIATE_TEST_SUITE_P(
    Folders, GenpolicyCases,
    ::testing::Values("addarpneighbors", "copyfile", "createcontainer/cgroup_mount_extras", "createcontainer/env_vars",
                      "createcontainer/generate_name", "createcontainer/gid", "createcontainer/gpu_vfio_cdi",
                      "createcontainer/ignored_fields", "createcontainer/network_namespace",
                      "createcontainer/security_context/fsgroup", "createcontainer/security_context/runas",
                      "createcontainer/security_context/supplemental_groups", "createcontainer/sysctls",
                      "createcontainer/volumes/config_map", "createcontainer/volumes/container_image",
                      "createcontainer/volumes/emptydir", "createsandbox", "state/createcontainer", "state/execprocess",
                      "state/execprocessdeployment", "updateinterface", "updateroutes"),
    [](const ::testing::TestParamInfo<std::string>& param) {
      std::string name = param.param;
      for (char& ch : name)
        if (ch == '/') ch = '_';
      return name;
    });

}  // namespace
}  // namespace contrast::policy::gen
