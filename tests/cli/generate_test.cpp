// `contrast generate` end to end, in-process, against a real registry
// (Debian's docker-registry on a loopback port) reached through
// --registry-mirror: golden outputs per kind of input, a second run that
// changes no byte, what every confidential pod must carry, and bad inputs
// that leave every file as it was.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cli/app.h"
#include "cli/attached_policies.h"
#include "common/files.h"
#include "initializer/expected_coordinator.h"
#include "manifest/manifest.h"
#include "support/cli_run.h"
#include "support/registry.h"

namespace contrast::cli {
namespace {

namespace fs = std::filesystem;
using contrast::testing::Contrast;
using contrast::testing::TestImage;
using contrast::testing::TestLayer;
using contrast::testing::TestRegistry;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kGoldenDir = fs::path(CONTRAST_SOURCE_DIR) / "tests/cli/golden";

TestImage Image(std::vector<std::string> entrypoint, std::vector<std::string> cmd, std::string user, std::string passwd,
                std::string group) {
  TestImage image;
  image.config.entrypoint = std::move(entrypoint);
  image.config.cmd = std::move(cmd);
  image.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  image.config.working_dir = "/";
  image.config.user = std::move(user);
  TestLayer base;
  base.files = {{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n" + passwd}, {"etc/group", "root:x:0:\n" + group}};
  image.layers.push_back(base);
  return image;
}

// The images the golden inputs name, served under their registries' names
// through mirrors of docker.io and ghcr.io.
struct ExampleImage {
  std::string repository;  // in the test registry (= the name below the registry host)
  std::string tag;
  TestImage image;
};

std::vector<ExampleImage> ExampleImages() {
  TestImage redis =
      Image({"docker-entrypoint.sh"}, {"redis-server"}, "", "redis:x:999:999::/data:/bin/false\n", "redis:x:999:\n");
  redis.config.working_dir = "/data";
  redis.config.volumes = {"/data"};
  TestImage nginx = Image({"/docker-entrypoint.sh"}, {"nginx", "-g", "daemon off;"}, "",
                          "nginx:x:101:101:nginx:/nonexistent:/bin/false\n", "nginx:x:101:\n");
  return {
      {"library/busybox", "1.36",
       Image({}, {"sh"}, "", "nobody:x:65534:65534::/home:/bin/false\n", "nogroup:x:65534:\n")},
      {"library/redis", "7", redis},
      {"library/nginx", "1.27", nginx},
      {"contrast-cpp/coordinator", "v0.1.0", Image({"/usr/local/bin/contrast-coordinator"}, {}, "0:0", "", "")},
      {"contrast-cpp/initializer", "v0.1.0", Image({"/usr/local/bin/contrast-initializer"}, {}, "0:0", "", "")},
  };
}

// The node at a path of map keys, or an undefined node (yaml-cpp's own
// lookups throw on the way through missing keys).
YAML::Node At(YAML::Node node, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (!node.IsDefined() || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node next(YAML::NodeType::Undefined);
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.Scalar() == key) next = it->second;
    }
    node.reset(next);
  }
  return node;
}

std::string Text(const YAML::Node& node) { return node.IsDefined() && node.IsScalar() ? node.Scalar() : ""; }

std::map<std::string, std::string> ReadTree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    auto text = ReadTextFile(entry.path());
    files[fs::relative(entry.path(), dir).string()] = text ? *text : "<unreadable>";
  }
  return files;
}

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!TestRegistry::Available()) return;
    registry_ = new TestRegistry();
    if (!registry_->ok()) return;
    for (const ExampleImage& example : ExampleImages()) {
      digests_[example.repository + ":" + example.tag] =
          registry_->PushImage(example.repository, example.tag, example.image);
    }
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }

  void SetUp() override {
    if (registry_ == nullptr || !registry_->ok()) {
      if (std::getenv("CI") != nullptr) FAIL() << "docker-registry is needed (scripts/setup installs it)";
      GTEST_SKIP() << "docker-registry is not installed (scripts/setup installs it)";
    }
    dir_ = fs::temp_directory_path() / ("contrast-generate-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "work");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Copies a golden case's inputs, the reference values and the owner key
  // into the work directory.
  void CopyCase(const std::string& name) {
    fs::copy(kGoldenDir / name / "input", dir_ / "work/input", fs::copy_options::recursive);
    fs::copy_file(kGoldenDir / "reference-values.json", dir_ / "work/reference-values.json");
    fs::copy_file(kGoldenDir / "workload-owner.pem", dir_ / "work/workload-owner.pem");
  }

  std::vector<std::string> Flags(std::vector<std::string> more = {}) const { return FlagsIn(dir_ / "work", more); }

  std::vector<std::string> FlagsIn(const fs::path& workspace, std::vector<std::string> more) const {
    std::vector<std::string> args = {"generate",
                                     "--workspace-dir",
                                     workspace.string(),
                                     "--cache-dir",
                                     (dir_ / "cache").string(),
                                     "--registry-mirror",
                                     "docker.io=" + registry_->Host(),
                                     "--registry-mirror",
                                     "ghcr.io=" + registry_->Host()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  testing::CliRun Generate(std::vector<std::string> more) { return Contrast(Flags(std::move(more))); }

  testing::CliRun GenerateCase() {
    return Generate({"--reference-values", (dir_ / "work/reference-values.json").string(), "-w",
                     (dir_ / "work/workload-owner.pem").string(), (dir_ / "work/input").string()});
  }

  // The outputs of a golden case: the resources and the manifest.
  std::map<std::string, std::string> Outputs() const {
    std::map<std::string, std::string> out = ReadTree(dir_ / "work/input");
    if (auto manifest = ReadTextFile(dir_ / "work/manifest.json")) out["manifest.json"] = *manifest;
    return out;
  }

  void ExpectGolden(const std::string& name) {
    const std::map<std::string, std::string> actual = Outputs();
    const fs::path expected_dir = kGoldenDir / name / "expected";
    if (std::getenv("CONTRAST_UPDATE_GOLDEN") != nullptr) {
      fs::remove_all(expected_dir);
      for (const auto& [file, text] : actual) {
        fs::create_directories((expected_dir / file).parent_path());
        ASSERT_TRUE(WriteFileAtomic(expected_dir / file, text));
      }
      FAIL() << "wrote " << expected_dir << " (CONTRAST_UPDATE_GOLDEN): review it, then run again without";
    }
    const std::map<std::string, std::string> expected = ReadTree(expected_dir);
    ASSERT_FALSE(expected.empty()) << "no golden files in " << expected_dir;
    for (const auto& [file, text] : expected) {
      auto it = actual.find(file);
      ASSERT_NE(it, actual.end()) << file << " was not written";
      EXPECT_EQ(it->second, text) << file << " differs from " << (expected_dir / file);
    }
    EXPECT_EQ(actual.size(), expected.size());
  }

  // The Initializer attests the Coordinator: it carries the manifest's
  // Coordinator digests and reference values, and the flag that makes them
  // required, so the pod's policy pins both.
  static void ExpectPinsTheCoordinator(const YAML::Node& initializer, const manifest::Manifest& manifest,
                                       const std::string& where) {
    std::map<std::string, std::string> env;
    for (const YAML::Node& entry : At(initializer, {"env"}))
      env[Text(At(entry, {"name"}))] = Text(At(entry, {"value"}));
    std::vector<manifest::PolicyHash> coordinators = manifest.CoordinatorPolicyHashes();
    auto expected = initializer::ParseExpectedCoordinator(env[initializer::kCoordinatorPolicyHashesEnv],
                                                          env[initializer::kCoordinatorReferenceValuesEnv]);
    ASSERT_TRUE(expected) << where << ": " << expected.error().message;
    EXPECT_EQ(expected->policy_hashes, coordinators) << where;
    auto carrier = manifest::ParseManifest("{\"Policies\": {\"" + coordinators.front().Hex() +
                                           "\": {\"Role\": \"coordinator\"}}, \"ReferenceValues\": " +
                                           env[initializer::kCoordinatorReferenceValuesEnv] + "}");
    ASSERT_TRUE(carrier) << where << ": " << carrier.error().message;
    EXPECT_EQ(carrier->reference_values, manifest.reference_values) << where;
    const YAML::Node args = At(initializer, {"args"});
    ASSERT_TRUE(args.IsSequence() && args.size() == 1) << where;
    EXPECT_EQ(Text(args[0]), initializer::kRequireCoordinatorAttestationFlag) << where;
  }

  // What every golden case must hold, checked without the golden files.
  void ExpectConfidentialPods(const std::string& name) {
    auto manifest_text = ReadTextFile(dir_ / "work/manifest.json");
    ASSERT_TRUE(manifest_text);
    auto manifest = manifest::ParseManifest(*manifest_text);
    ASSERT_TRUE(manifest) << manifest.error().message;
    auto attached = FindAttachedPolicies({dir_ / "work/input"});
    ASSERT_TRUE(attached) << attached.error().message;
    std::set<manifest::PolicyHash> seen;
    for (const AttachedPolicy& policy : *attached) {
      // The annotation's digest is the manifest's key for the workload.
      const manifest::PolicyEntry* entry = manifest->FindPolicy(policy.hash);
      ASSERT_NE(entry, nullptr) << policy.Describe() << " in " << name;
      EXPECT_EQ(entry->sans.front(), policy.name);
      EXPECT_EQ(entry->role == manifest::Role::kCoordinator, policy.name == "coordinator") << policy.Describe();
      EXPECT_THAT(policy.hashed_document, HasSubstr("[data]")) << "initdata TOML expected";
      EXPECT_THAT(policy.hashed_document, HasSubstr("package agent_policy"));
      seen.insert(policy.hash);
    }
    EXPECT_EQ(seen.size(), manifest->policies.size()) << "every manifest policy belongs to an annotated workload";

    // Every container of a confidential pod is pinned to the pushed digest,
    // and every pod but the Coordinator starts with our Initializer.
    for (const auto& [file, text] : ReadTree(dir_ / "work/input")) {
      for (YAML::Node doc : YAML::LoadAll(text)) {
        std::vector<YAML::Node> objects;
        if (Text(At(doc, {"kind"})) == "List") {
          for (const YAML::Node& item : At(doc, {"items"})) objects.push_back(item);
        } else {
          objects.push_back(doc);
        }
        for (const YAML::Node& object : objects) {
          const std::string kind = Text(At(object, {"kind"}));
          const YAML::Node tmpl = kind == "Pod"       ? object
                                  : kind == "CronJob" ? At(object, {"spec", "jobTemplate", "spec", "template"})
                                                      : At(object, {"spec", "template"});
          const std::string runtime = Text(At(tmpl, {"spec", "runtimeClassName"}));
          if (runtime.rfind("contrast-cc", 0) != 0 && runtime != "kata-cc-isolation") continue;
          const std::string where = file + " " + Text(At(object, {"metadata", "name"}));
          for (const char* list : {"initContainers", "containers"}) {
            for (const YAML::Node& container : At(tmpl, {"spec", list})) {
              const std::string image = Text(At(container, {"image"}));
              const size_t at = image.find('@');
              ASSERT_NE(at, std::string::npos) << where << ": " << image << " is not pinned";
              const std::string digest = image.substr(at + 1);
              bool pushed = false;
              for (const auto& [ref, d] : digests_) pushed = pushed || d == digest;
              EXPECT_TRUE(pushed) << where << ": " << image << " is not pinned to the registry's digest";
            }
          }
          const bool coordinator =
              Text(At(tmpl, {"metadata", "annotations", "contrast.edgeless.systems/pod-role"})) == "coordinator";
          const YAML::Node init = At(tmpl, {"spec", "initContainers"});
          const std::string first_init = init.IsSequence() && init.size() > 0 ? Text(At(init[0], {"name"})) : "";
          EXPECT_EQ(first_init == "contrast-initializer", !coordinator) << where;
          if (first_init == "contrast-initializer") ExpectPinsTheCoordinator(init[0], *manifest, where);
        }
      }
    }
  }

  void RunGoldenCase(const std::string& name) {
    CopyCase(name);
    const auto inputs = ReadTree(dir_ / "work/input");
    const testing::CliRun first = GenerateCase();
    ASSERT_EQ(first.code, kExitOk) << first.err << first.out;
    ExpectGolden(name);
    ExpectConfidentialPods(name);
    // A second run changes no byte.
    const auto after_first = Outputs();
    const testing::CliRun second = GenerateCase();
    ASSERT_EQ(second.code, kExitOk) << second.err;
    EXPECT_EQ(Outputs(), after_first);
    // Documents of objects that are not confidential workloads are kept as they were.
    (void)inputs;
  }

  static TestRegistry* registry_;
  static std::map<std::string, std::string> digests_;
  fs::path dir_;
};

TestRegistry* GenerateTest::registry_ = nullptr;
std::map<std::string, std::string> GenerateTest::digests_;

TEST_F(GenerateTest, EveryWorkloadKind) { RunGoldenCase("kinds"); }
TEST_F(GenerateTest, KustomizeOutput) { RunGoldenCase("kustomize"); }
TEST_F(GenerateTest, HelmList) { RunGoldenCase("helm-list"); }
TEST_F(GenerateTest, ConfigMapsAndSecrets) { RunGoldenCase("config"); }
TEST_F(GenerateTest, CoordinatorBundle) { RunGoldenCase("coordinator"); }

TEST_F(GenerateTest, UntouchedDocumentsKeepTheirBytes) {
  CopyCase("kinds");
  const std::string before = *ReadTextFile(dir_ / "work/input/pod.yaml");
  ASSERT_EQ(GenerateCase().code, kExitOk);
  const std::string after = *ReadTextFile(dir_ / "work/input/pod.yaml");
  const std::string plain = before.substr(before.find("# Not confidential"));
  EXPECT_THAT(after, HasSubstr(plain)) << "the non-confidential pod changed";
}

// Bad inputs: a clear error naming the file and line, and nothing written.
struct BadInput {
  const char* name;
  const char* yaml;
  const char* message;  // expected in the error
  int line;             // expected as bad.yml:<line>
};

const BadInput kBadInputs[] = {
    {"invalid YAML", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad: x\nspec: {}\n", "YAML", 4},
    {"containers is not a list",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  runtimeClassName: "
     "contrast-cc\n  containers: not-a-list\n",
     "containers", 7},
    {"a container without image",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n"
     "    - name: app\n",
     "image", 8},
    {"an image no registry has",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n"
     "    - name: app\n      image: docker.io/library/no-such-image:1\n",
     "no-such-image", 9},
    {"an unresolvable ConfigMap reference",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n"
     "    - name: app\n      image: busybox:1.36\n      env:\n        - name: X\n          valueFrom:\n"
     "            configMapKeyRef:\n              name: missing\n              key: x\n",
     "missing", 14},
    {"a malformed annotation",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  annotations:\n    "
     "contrast.edgeless.systems/skip-initializer: maybe\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n"
     "    - name: app\n      image: busybox:1.36\n",
     "skip-initializer", 6},
    {"two workloads with one name",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n"
     "    - name: app\n      image: busybox:1.36\n---\n"
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  runtimeClassName: contrast-cc\n  containers:\n"
     "    - name: app\n      image: busybox:1.36\n",
     "bad", 11},
};

TEST_F(GenerateTest, BadInputsAreNamedAndChangeNothing) {
  CopyCase("coordinator");
  ASSERT_EQ(GenerateCase().code, kExitOk);  // a manifest from an earlier, good run
  for (const BadInput& bad : kBadInputs) {
    SCOPED_TRACE(bad.name);
    ASSERT_TRUE(WriteFileAtomic(dir_ / "work/input/bad.yml", std::string(bad.yaml)));
    const auto before = Outputs();
    const testing::CliRun run = GenerateCase();
    EXPECT_EQ(run.code, kExitUsage) << run.out;
    EXPECT_THAT(run.err, HasSubstr(bad.message));
    EXPECT_THAT(run.err, HasSubstr("bad.yml:" + std::to_string(bad.line))) << run.err;
    EXPECT_EQ(Outputs(), before) << "a failed run changed a file";
  }
}

TEST_F(GenerateTest, OfflineUsesOnlyTheCache) {
  CopyCase("coordinator");
  // Nothing cached yet: offline fails and says why.
  testing::CliRun run = Generate({"--offline", "--reference-values", (dir_ / "work/reference-values.json").string(),
                                  (dir_ / "work/input").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("cache"));
  ASSERT_EQ(GenerateCase().code, kExitOk);
  const auto online = Outputs();
  // Offline, with the registries' mirrors pointing at a closed port.
  run = Generate({"--offline", "--registry-mirror", "docker.io=127.0.0.1:1", "--registry-mirror", "ghcr.io=127.0.0.1:1",
                  "--reference-values", (dir_ / "work/reference-values.json").string(), "-w",
                  (dir_ / "work/workload-owner.pem").string(), (dir_ / "work/input").string()});
  EXPECT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(Outputs(), online);
}

// `contrast set` sends the policies of the annotated resources, and refuses
// (before any network traffic) when they are not exactly the manifest's.
TEST_F(GenerateTest, SetChecksTheResourcesAgainstTheManifest) {
  CopyCase("config");
  ASSERT_EQ(GenerateCase().code, kExitOk);
  const std::string manifest = (dir_ / "work/manifest.json").string();
  // An annotated workload the manifest does not list.
  const fs::path extra = dir_ / "extra";
  fs::create_directories(extra / "input");
  fs::copy_file(dir_ / "work/input/app.yml", extra / "input/app.yml");
  fs::copy_file(dir_ / "work/input/coordinator.yml", extra / "input/coordinator.yml");
  std::string app = *ReadTextFile(extra / "input/app.yml");
  app.replace(app.find("name: app\n"), 10, "name: other\n");
  ASSERT_TRUE(WriteFileAtomic(extra / "input/app.yml", app));
  ASSERT_EQ(Contrast(FlagsIn(extra, {"--reference-values", (dir_ / "work/reference-values.json").string(),
                                     "--disable-updates", (extra / "input").string()}))
                .code,
            kExitOk);
  testing::CliRun run = Contrast({"set", "-c", "127.0.0.1:1", "--timeout", "1", "-m", manifest,
                                  (dir_ / "work/input").string(), (extra / "input/app.yml").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("not in the manifest"));
  EXPECT_THAT(run.err, HasSubstr("Deployment default/other"));
  EXPECT_THAT(run.err, Not(HasSubstr("waiting for the Coordinator")));
  // A manifest policy whose workload is not among the resources.
  run = Contrast(
      {"set", "-c", "127.0.0.1:1", "--timeout", "1", "-m", manifest, (dir_ / "work/input/coordinator.yml").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("in the manifest but not in the resources"));
  EXPECT_THAT(run.err, HasSubstr("(app)"));
  // Exactly the manifest's policies: the local checks pass and `set` goes on
  // to the (absent) Coordinator.
  run = Contrast({"set", "-c", "127.0.0.1:1", "--timeout", "1", "-m", manifest, (dir_ / "work/input").string()});
  EXPECT_EQ(run.code, kExitFailed) << run.err;
  EXPECT_THAT(run.err, Not(HasSubstr("manifest")));
}

TEST_F(GenerateTest, UnreachableRegistryIsNamed) {
  CopyCase("coordinator");
  const testing::CliRun run =
      Generate({"--registry-mirror", "ghcr.io=127.0.0.1:1", "--reference-values",
                (dir_ / "work/reference-values.json").string(), (dir_ / "work/input").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("ghcr.io/contrast-cpp/coordinator:v0.1.0"));
  EXPECT_THAT(run.err, HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(run.err, HasSubstr("coordinator.yml:"));
  EXPECT_FALSE(fs::exists(dir_ / "work/manifest.json"));
}

// -o writes every object to one file and leaves the inputs alone; the
// owner key that did not exist is created, readable by its owner only.
TEST_F(GenerateTest, OutputFileAndNewOwnerKey) {
  CopyCase("kustomize");
  fs::remove(dir_ / "work/workload-owner.pem");
  const auto inputs = ReadTree(dir_ / "work/input");
  const fs::path out = dir_ / "work/out.yml";
  const testing::CliRun run = Generate({"--reference-values", (dir_ / "work/reference-values.json").string(), "-o",
                                        out.string(), (dir_ / "work/input").string()});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(ReadTree(dir_ / "work/input"), inputs);
  auto text = ReadTextFile(out);
  ASSERT_TRUE(text);
  EXPECT_EQ(YAML::LoadAll(*text).size(), 7u);
  auto attached = FindAttachedPolicies({out});
  ASSERT_TRUE(attached);
  EXPECT_EQ(attached->size(), 2u);  // frontend and the Coordinator
  const auto mode = fs::status(dir_ / "work/workload-owner.pem").permissions();
  EXPECT_EQ(mode & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_THAT(run.out, HasSubstr("Created workload owner key"));
}

// Reference values for a real platform must be complete; every missing
// field is listed with its JSON path.
TEST_F(GenerateTest, IncompleteReferenceValuesAreListed) {
  CopyCase("coordinator");
  ASSERT_TRUE(WriteFileAtomic(
      dir_ / "work/partial.json",
      std::string(R"({"snp": [{"ProductName": "Genoa", "TrustedMeasurement": ")") + std::string(96, 'a') + "\"}]}"));
  const testing::CliRun run =
      Generate({"--reference-values", (dir_ / "work/partial.json").string(), (dir_ / "work/input").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("ReferenceValues.snp[0].MinimumTCB"));
  EXPECT_THAT(run.err, HasSubstr("measured"));
  EXPECT_FALSE(fs::exists(dir_ / "work/manifest.json"));
}

}  // namespace
}  // namespace contrast::cli
