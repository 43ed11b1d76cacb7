// The deployment bundle and the container images, checked with the tools a
// user runs: `kubectl kustomize deploy/` accepts every file in deploy/, and
// `scripts/images --check` builds the images twice (fresh storage each time)
// with the same digests and runs each image's binary under runc. Without the
// tools (or root, for runc) the tests skip with the reason; under CI=true
// they fail instead.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "support/process.h"

namespace contrast {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSourceDir = CONTRAST_SOURCE_DIR;

bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// The program `name` on PATH, or "" (RunProcess execs a path).
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

// The first of `names` missing from PATH, or "".
std::string MissingTool(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (FindOnPath(name).empty()) return name;
  }
  return "";
}

#define REQUIRE_OR_SKIP(condition, reason)                        \
  do {                                                            \
    if (!(condition)) {                                           \
      if (UnderCi()) FAIL() << (reason) << " and CI=true";        \
      GTEST_SKIP() << (reason) << " (scripts/setup installs it)"; \
    }                                                             \
  } while (0)

class DeployE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("contrast-deploy-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(DeployE2e, KustomizeAcceptsEveryFileOfTheBundle) {
  const std::string missing = MissingTool({"kubectl"});
  REQUIRE_OR_SKIP(missing.empty(), missing + " is not installed");
  const testing::Completed run =
      testing::RunProcess({FindOnPath("kubectl"), "kustomize", (kSourceDir / "deploy").string()},
                          dir_ / "kustomize.log", {}, std::chrono::seconds(60));
  ASSERT_EQ(run.code, 0) << run.output;

  // Every file in deploy/ is a resource of the kustomization (so kustomize
  // read and accepted it).
  const YAML::Node kustomization = YAML::LoadFile((kSourceDir / "deploy/kustomization.yaml").string());
  std::set<std::string> resources;
  for (const YAML::Node& resource : kustomization["resources"]) resources.insert(resource.as<std::string>());
  for (const auto& entry : fs::directory_iterator(kSourceDir / "deploy")) {
    const std::string name = entry.path().filename().string();
    if (name == "kustomization.yaml") continue;
    EXPECT_TRUE(resources.contains(name)) << name << " is not listed in deploy/kustomization.yaml";
  }

  std::multiset<std::string> kinds;
  std::map<std::string, std::string> images;  // container -> image
  std::string handler;
  for (const YAML::Node& object : YAML::LoadAll(run.output)) {
    const std::string kind = object["kind"].as<std::string>();
    kinds.insert(kind);
    if (kind == "RuntimeClass") {
      EXPECT_EQ(object["metadata"]["name"].as<std::string>(), "contrast-cc");
      handler = object["handler"].as<std::string>();
    }
    if (kind == "Pod" || kind == "StatefulSet") {
      const YAML::Node spec = kind == "Pod" ? object["spec"] : object["spec"]["template"]["spec"];
      for (const YAML::Node& container : spec["containers"]) {
        images[object["metadata"]["name"].as<std::string>() + "/" + container["name"].as<std::string>()] =
            container["image"].as<std::string>();
      }
    }
  }
  EXPECT_EQ(kinds,
            (std::multiset<std::string>{"Pod", "RuntimeClass", "Service", "Service", "ServiceAccount", "StatefulSet"}));
  EXPECT_EQ(handler, "contrast-cc");
  EXPECT_EQ(images["coordinator/coordinator"], "ghcr.io/contrast-cpp/coordinator:v0.1.0");
  EXPECT_EQ(images["port-forwarder-coordinator/userapi"], "ghcr.io/contrast-cpp/port-forwarder:v0.1.0");
}

TEST_F(DeployE2e, ImagesAreReproducibleAndRunUnderRunc) {
  const std::string missing = MissingTool({"buildah", "runc", "jq", "socat", "strip"});
  REQUIRE_OR_SKIP(missing.empty(), missing + " is not installed");
  REQUIRE_OR_SKIP(::geteuid() == 0, std::string("runc needs root"));
  const testing::Completed run =
      testing::RunProcess({(kSourceDir / "scripts/images").string(), "--check", "--build-dir", CONTRAST_BUILD_DIR},
                          dir_ / "images.log", {{"TMPDIR", dir_.string()}}, std::chrono::minutes(5));
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Both builds gave the same digests"));
  EXPECT_THAT(run.output, HasSubstr("coordinator: contrast-coordinator: "));
  EXPECT_THAT(run.output, HasSubstr("initializer: contrast-initializer: "));
  EXPECT_THAT(run.output, HasSubstr("port-forwarder: socat "));
  EXPECT_THAT(run.output, HasSubstr("check passed"));
}

}  // namespace
}  // namespace contrast
