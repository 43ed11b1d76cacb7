// `contrast generate --images FILE`: the images file scripts/images writes
// pins the Coordinator and the injected Initializer by digest. Images come
// from OCI layouts (no registry), as `scripts/images --oci-dir` writes them.
#include "cli/release_images.h"

#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cli/app.h"
#include "common/files.h"
#include "support/cli_run.h"
#include "support/registry.h"

namespace contrast::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kDigestA = "sha256:" + std::string(64, 'a');

TEST(ReleaseImagesTest, ParsesPinnedReferencesAndIgnoresOtherComponents) {
  auto images = ParseReleaseImages(R"({"coordinator": "registry.example/c/coordinator:v1@)" + kDigestA +
                                   R"(", "initializer": "registry.example/c/initializer@)" + kDigestA +
                                   R"(", "port-forwarder": "anything"})");
  ASSERT_TRUE(images) << images.error().message;
  EXPECT_EQ(images->coordinator, "registry.example/c/coordinator:v1@" + kDigestA);
  EXPECT_EQ(images->initializer, "registry.example/c/initializer@" + kDigestA);
}

TEST(ReleaseImagesTest, RefusesWhatDoesNotPin) {
  const std::string pinned = "\"r.example/c/x:v1@" + kDigestA + "\"";
  const struct {
    std::string json;
    std::string error;
  } cases[] = {
      {"", "not valid JSON"},
      {"[]", "JSON object"},
      {"{\"initializer\": " + pinned + "}", "\"coordinator\" is missing"},
      {"{\"coordinator\": 5, \"initializer\": " + pinned + "}", "\"coordinator\" is missing or not a string"},
      {"{\"coordinator\": " + pinned + "}", "\"initializer\" is missing"},
      {"{\"coordinator\": \"r.example/c/x:v1\", \"initializer\": " + pinned + "}", "has no digest"},
      {"{\"coordinator\": " + pinned + ", \"initializer\": \"R.example/UPPER@sha256:12\"}", "\"initializer\""},
  };
  for (const auto& c : cases) {
    auto images = ParseReleaseImages(c.json);
    ASSERT_FALSE(images) << c.json;
    EXPECT_THAT(images.error().message, HasSubstr(c.error)) << c.json;
  }
}

class GenerateImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("contrast-generate-images-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "resources");
    fs::copy_file(fs::path(CONTRAST_SOURCE_DIR) / "deploy/coordinator.yml", dir_ / "resources/coordinator.yml");
    ASSERT_TRUE(WriteFileAtomic(dir_ / "resources/app.yml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      runtimeClassName: contrast-cc
      containers:
        - name: app
          image: registry.example/acme/app:1.0
)"));
    // The images a user built and pushed under their own names.
    coordinator_digest_ =
        testing::WriteImageLayout(dir_ / "layout-coordinator", "registry.example/contrast/coordinator:v0.1.0",
                                  Image("/usr/local/bin/contrast-coordinator"));
    initializer_digest_ =
        testing::WriteImageLayout(dir_ / "layout-initializer", "registry.example/contrast/initializer:v0.1.0",
                                  Image("/usr/local/bin/contrast-initializer"));
    testing::WriteImageLayout(dir_ / "layout-app", "registry.example/acme/app:1.0", Image("/app"));
    ASSERT_FALSE(coordinator_digest_.empty());
    ASSERT_FALSE(initializer_digest_.empty());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static testing::TestImage Image(const std::string& entrypoint) {
    testing::TestImage image;
    image.config.entrypoint = {entrypoint};
    image.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    image.config.working_dir = "/";
    image.config.user = "0:0";
    testing::TestLayer layer;
    layer.files = {{"usr/local/bin/placeholder", "x"}};
    image.layers.push_back(layer);
    return image;
  }

  std::string Coordinator() const { return "registry.example/contrast/coordinator:v0.1.0@" + coordinator_digest_; }
  std::string Initializer() const { return "registry.example/contrast/initializer:v0.1.0@" + initializer_digest_; }

  void WriteImagesFile(const std::string& coordinator, const std::string& initializer) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / "images.json", "{\"coordinator\": \"" + coordinator + "\", \"initializer\": \"" +
                                                          initializer + "\", \"port-forwarder\": \"unused\"}\n"));
  }

  testing::CliRun Generate(std::vector<std::string> more) {
    std::vector<std::string> args = {
        "generate",
        "--workspace-dir",
        (dir_ / "work").string(),
        "--reference-values",
        (fs::path(CONTRAST_SOURCE_DIR) / "tests/cli/golden/reference-values.json").string(),
        "--disable-updates",
        "--offline",
        "--cache-dir",
        (dir_ / "cache").string(),
        "--image-layout",
        (dir_ / "layout-coordinator").string(),
        "--image-layout",
        (dir_ / "layout-initializer").string(),
        "--image-layout",
        (dir_ / "layout-app").string()};
    args.insert(args.end(), more.begin(), more.end());
    args.push_back((dir_ / "resources").string());
    fs::create_directories(dir_ / "work");
    return testing::Contrast(args);
  }

  // The image of the container `name` in the (first) pod template of `file`.
  std::string ImageOf(const std::string& file, const std::string& kind, const std::string& list,
                      const std::string& name) {
    auto text = ReadTextFile(dir_ / "resources" / file);
    if (!text) return "<unreadable>";
    for (const YAML::Node& doc : YAML::LoadAll(*text)) {
      if (!doc["kind"] || doc["kind"].as<std::string>() != kind) continue;
      for (const YAML::Node& container : doc["spec"]["template"]["spec"][list]) {
        if (container["name"].as<std::string>() == name) return container["image"].as<std::string>();
      }
    }
    return "<missing>";
  }

  fs::path dir_;
  std::string coordinator_digest_;
  std::string initializer_digest_;
};

TEST_F(GenerateImagesTest, PinsTheCoordinatorAndTheInitializerItNames) {
  WriteImagesFile(Coordinator(), Initializer());
  const testing::CliRun run = Generate({"--images", (dir_ / "images.json").string()});
  ASSERT_EQ(run.code, kExitOk) << run.err << run.out;
  EXPECT_EQ(run.err.find("warning: cannot resolve"), std::string::npos) << run.err;
  EXPECT_EQ(ImageOf("coordinator.yml", "StatefulSet", "containers", "coordinator"), Coordinator());
  EXPECT_EQ(ImageOf("app.yml", "Deployment", "initContainers", "contrast-initializer"), Initializer());
  // A second run with the same file changes nothing.
  const std::string before = ReadTextFile(dir_ / "resources/coordinator.yml").value_or("");
  const testing::CliRun again = Generate({"--images", (dir_ / "images.json").string()});
  ASSERT_EQ(again.code, kExitOk) << again.err;
  EXPECT_EQ(ReadTextFile(dir_ / "resources/coordinator.yml").value_or(""), before);
}

// Without --images the names of deploy/coordinator.yml stay, and those
// images are not in the layouts.
TEST_F(GenerateImagesTest, WithoutTheFileTheDefaultNamesStay) {
  const testing::CliRun run = Generate({});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("ghcr.io/contrast-cpp/coordinator:v0.1.0"));
}

TEST_F(GenerateImagesTest, BadFilesAndConflictingFlagsAreRefused) {
  WriteImagesFile("registry.example/contrast/coordinator:v0.1.0", Initializer());
  testing::CliRun run = Generate({"--images", (dir_ / "images.json").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("images file"));
  EXPECT_THAT(run.err, HasSubstr("has no digest"));

  run = Generate({"--images", (dir_ / "missing.json").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("missing.json"));

  WriteImagesFile(Coordinator(), Initializer());
  run = Generate({"--images", (dir_ / "images.json").string(), "--initializer-image", Initializer()});
  EXPECT_NE(run.code, kExitOk);
  EXPECT_THAT(run.err, HasSubstr("excludes"));
}

TEST_F(GenerateImagesTest, ACoordinatorWithoutItsContainerIsNamed) {
  auto text = ReadTextFile(dir_ / "resources/coordinator.yml");
  ASSERT_TRUE(text);
  std::string renamed = *text;
  const std::string from = "- name: coordinator\n          # Built";
  const size_t at = renamed.find(from);
  ASSERT_NE(at, std::string::npos);
  renamed.replace(at, std::string("- name: coordinator").size(), "- name: server");
  ASSERT_TRUE(WriteFileAtomic(dir_ / "resources/coordinator.yml", renamed));
  WriteImagesFile(Coordinator(), Initializer());
  const testing::CliRun run = Generate({"--images", (dir_ / "images.json").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("no container named \"coordinator\""));
  EXPECT_EQ(ReadTextFile(dir_ / "resources/coordinator.yml").value_or(""), renamed);
}

}  // namespace
}  // namespace contrast::cli
