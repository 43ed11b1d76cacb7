// `contrast generate --add-seedshare-owner-key` end to end, in-process,
// against a real registry (Debian's docker-registry on a loopback port): the
// key is created once (RSA-4096, mode 0600), the manifest lists its PKCS#1
// public key, and a second run changes nothing.
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/app.h"
#include "common/files.h"
#include "manifest/manifest.h"
#include "seed/shares.h"
#include "support/cli_run.h"
#include "support/registry.h"

namespace contrast::cli {
namespace {

namespace fs = std::filesystem;
using contrast::testing::CliRun;
using contrast::testing::Contrast;
using contrast::testing::TestImage;
using contrast::testing::TestRegistry;
using ::testing::HasSubstr;

const fs::path kGoldenDir = fs::path(CONTRAST_SOURCE_DIR) / "tests/cli/golden";

class GenerateSeedshareOwner : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TestRegistry::Available()) {
      if (std::getenv("CI") != nullptr) FAIL() << "docker-registry is needed (scripts/setup installs it)";
      GTEST_SKIP() << "docker-registry is not installed (scripts/setup installs it)";
    }
    registry_ = std::make_unique<TestRegistry>();
    ASSERT_TRUE(registry_->ok());
    TestImage coordinator;
    coordinator.config.entrypoint = {"/usr/local/bin/contrast-coordinator"};
    coordinator.config.user = "0:0";
    ASSERT_FALSE(registry_->PushImage("contrast-cpp/coordinator", "v0.1.0", coordinator).empty());
    dir_ = fs::temp_directory_path() / ("contrast-generate-seedshare-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy(kGoldenDir / "coordinator" / "input", dir_ / "input", fs::copy_options::recursive);
    fs::copy_file(kGoldenDir / "reference-values.json", dir_ / "reference-values.json");
    fs::copy_file(kGoldenDir / "workload-owner.pem", dir_ / "workload-owner.pem");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  CliRun Generate(std::vector<std::string> more) {
    std::vector<std::string> args = {"generate",
                                     "--workspace-dir",
                                     dir_.string(),
                                     "--cache-dir",
                                     (dir_ / "cache").string(),
                                     "--registry-mirror",
                                     "ghcr.io=" + registry_->Host(),
                                     "--reference-values",
                                     (dir_ / "reference-values.json").string(),
                                     (dir_ / "input").string()};
    args.insert(args.end(), more.begin(), more.end());
    return Contrast(args);
  }

  manifest::Manifest Manifest() {
    auto text = ReadTextFile(dir_ / "manifest.json");
    EXPECT_TRUE(text);
    auto parsed = manifest::ParseManifest(text ? *text : "");
    EXPECT_TRUE(parsed) << parsed.error().message;
    return parsed ? *parsed : manifest::Manifest{};
  }

  std::unique_ptr<TestRegistry> registry_;
  fs::path dir_;
};

TEST_F(GenerateSeedshareOwner, CreatesTheKeyOnceAndListsIt) {
  const CliRun first = Generate({"--add-seedshare-owner-key"});
  ASSERT_EQ(first.code, kExitOk) << first.err << first.out;
  const fs::path key_path = dir_ / "seedshare-owner.pem";
  ASSERT_TRUE(fs::exists(key_path));
  EXPECT_EQ(fs::status(key_path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_THAT(first.out, HasSubstr("Created seed-share owner key"));
  const std::string pem = *ReadTextFile(key_path);
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  auto key = seed::LoadSeedShareOwnerKey(pem);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(EVP_PKEY_get_bits(key->get()), 4096);
  const Bytes public_key = *seed::RsaPublicKeyPkcs1Der(*key);
  EXPECT_EQ(Manifest().seedshare_owner_pub_keys, std::vector<Bytes>{public_key});

  // Again: same key, same manifest bytes, nothing created.
  const std::string manifest_text = *ReadTextFile(dir_ / "manifest.json");
  const CliRun second = Generate({"--add-seedshare-owner-key"});
  ASSERT_EQ(second.code, kExitOk) << second.err;
  EXPECT_EQ(*ReadTextFile(key_path), pem);
  EXPECT_EQ(*ReadTextFile(dir_ / "manifest.json"), manifest_text);
  EXPECT_THAT(second.out, ::testing::Not(HasSubstr("Created seed-share owner key")));
  // Without the flag, the listed key stays.
  ASSERT_EQ(Generate({}).code, kExitOk);
  EXPECT_EQ(Manifest().seedshare_owner_pub_keys, std::vector<Bytes>{public_key});
}

TEST_F(GenerateSeedshareOwner, AnInputTakenAsTheKeyIsNamed) {
  const CliRun run = Contrast({"generate", "--workspace-dir", dir_.string(), "--reference-values",
                               (dir_ / "reference-values.json").string(), (dir_ / "input").string(),
                               "--add-seedshare-owner-key", (dir_ / "input").string()});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--add-seedshare-owner-key=FILE"));
  EXPECT_FALSE(fs::exists(dir_ / "manifest.json"));
}

}  // namespace
}  // namespace contrast::cli
