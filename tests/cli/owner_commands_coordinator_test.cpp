// `contrast set`, `verify`, `sign` and `recover` against an in-process
// Coordinator on the emulated platform (tests/coordinator/harness.h): seed
// shares on the first manifest, the saved latest transition and the updates
// built on it, rollback detection, and a restart followed by recovery.
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../coordinator/harness.h"
#include "cli/app.h"
#include "cli/history_check.h"
#include "common/files.h"
#include "seed/shares.h"
#include "support/cli_run.h"

namespace contrast::cli {
namespace {

namespace fs = std::filesystem;
using namespace coordinator::testing;  // NOLINT(google-build-using-namespace): the harness vocabulary
using contrast::testing::CliRun;
using contrast::testing::Contrast;
using ::testing::HasSubstr;
using ::testing::Not;

class OwnerCommandsOnACoordinator : public CoordinatorTest {
 protected:
  fs::path Workspace() const { return dir_.path() / "workspace"; }
  std::string Path(const std::string& name) const { return (Workspace() / name).string(); }
  std::string Read(const std::string& name) const {
    auto text = ReadTextFile(Workspace() / name);
    return text ? *text : "<unreadable: " + text.error().message + ">";
  }
  std::string Write(const std::string& name, std::string_view content, unsigned mode = 0644) const {
    fs::create_directories((Workspace() / name).parent_path());
    EXPECT_TRUE(WriteFileAtomic(Workspace() / name, content, mode));
    return Path(name);
  }

  void SetUp() override {
    CoordinatorTest::SetUp();
    int i = 0;
    for (const std::string& policy : AllPolicies()) {
      policy_files_.push_back(Write("policies/" + std::to_string(i++) + ".rego", policy));
    }
    Write("workload-owner.pem", Must(Owner().key.ToPkcs8Pem()), 0600);
    Write("seedshare-owner.pem", Must(SeedshareOwnerKey(0).ToPkcs8Pem()), 0600);
  }

  // A version of SeededManifest that differs by one SAN (an update).
  static std::string ManifestVersion(int version) {
    manifest::Manifest m = SeededManifest();
    if (version > 0) m.policies[HashOf(kDbPolicy)].sans.push_back("db-v" + std::to_string(version));
    return manifest::SerializeManifest(m);
  }

  CliRun Run(const std::string& command, const std::string& manifest_file, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {
        command,     "-c", UserTarget(), "-m", Path(manifest_file), "--workspace-dir", Workspace().string(),
        "--timeout", "5"};
    args.insert(args.end(), more.begin(), more.end());
    if (command == "set") args.insert(args.end(), policy_files_.begin(), policy_files_.end());
    return Contrast(args);
  }

  // The transition `set` reports.
  static std::string TransitionOf(const CliRun& set) {
    const std::string marker = "Manifest set (transition ";
    const size_t at = set.out.find(marker);
    return at == std::string::npos ? "" : set.out.substr(at + marker.size(), 64);
  }

  std::vector<std::string> policy_files_;
};

TEST_F(OwnerCommandsOnACoordinator, FirstSetSavesSeedSharesAndVerifySavesTheTransition) {
  Write("manifest.json", ManifestVersion(0));
  const CliRun set = Run("set", "manifest.json");
  ASSERT_EQ(set.code, kExitOk) << set.err << set.out;
  EXPECT_THAT(set.out, HasSubstr("BACK IT UP"));
  const fs::path shares = Workspace() / "seed-shares.json";
  EXPECT_EQ(fs::status(shares).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const auto document = Must(seed::ParseSeedShareDocument(Read("seed-shares.json")));
  EXPECT_EQ(document.shares.size(), 2u);
  EXPECT_TRUE(seed::DecryptSeedShare(document, SeedshareOwnerKey(1)));

  const CliRun verify = Run("verify", "manifest.json");
  ASSERT_EQ(verify.code, kExitOk) << verify.err;
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(set) + "\n");
}

TEST_F(OwnerCommandsOnACoordinator, AtomicUpdatesBuildOnWhatVerifySaw) {
  Write("manifest.json", ManifestVersion(0));
  ASSERT_EQ(Run("set", "manifest.json").code, kExitOk);
  ASSERT_EQ(Run("verify", "manifest.json").code, kExitOk);

  // On top of the saved transition: accepted; updates send no seed shares.
  Write("manifest1.json", ManifestVersion(1));
  const CliRun first = Run("set", "manifest1.json", {"--atomic"});
  ASSERT_EQ(first.code, kExitOk) << first.err;
  EXPECT_THAT(first.out, Not(HasSubstr("seed-shares")));

  // Another update on the same, now outdated, transition: refused, with the hint.
  Write("manifest2.json", ManifestVersion(2));
  const CliRun stale = Run("set", "manifest2.json", {"--atomic"});
  EXPECT_EQ(stale.code, kExitFailed);
  EXPECT_THAT(stale.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(stale.err, HasSubstr("contrast verify"));

  // verify, then sign offline and send the detached signature with only the public key.
  ASSERT_EQ(Run("verify", "manifest1.json").code, kExitOk);
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(first) + "\n");
  const CliRun sign = Contrast(
      {"sign", "-m", Path("manifest2.json"), "--workspace-dir", Workspace().string(), "--out", Path("update.sig")});
  ASSERT_EQ(sign.code, kExitOk) << sign.err;
  Write("owner.pub", "-----BEGIN PUBLIC KEY-----\n" + Base64Encode(Owner().spki) + "\n-----END PUBLIC KEY-----\n");
  const CliRun signed_set =
      Run("set", "manifest2.json",
          {"--atomic", "--signature", Path("update.sig"), "--workload-owner-key", Path("owner.pub")});
  ASSERT_EQ(signed_set.code, kExitOk) << signed_set.err;
  const CliRun verify = Run("verify", "manifest2.json");
  ASSERT_EQ(verify.code, kExitOk) << verify.err;
  EXPECT_EQ(Read("verify/manifest.2.json"), ManifestVersion(2));
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(signed_set) + "\n");
}

TEST_F(OwnerCommandsOnACoordinator, VerifyRefusesAHistoryThatLostWhatItSaw) {
  Write("manifest.json", ManifestVersion(0));
  ASSERT_EQ(Run("set", "manifest.json").code, kExitOk);
  Write("manifest1.json", ManifestVersion(1));
  const CliRun update = Run("set", "manifest1.json");
  ASSERT_EQ(update.code, kExitOk) << update.err;
  ASSERT_EQ(Run("verify", "manifest1.json").code, kExitOk);
  const std::string saved = Read("verify/latest-transition");

  // The store is replaced by one holding only the first manifest.
  StopCoordinator();
  fs::remove_all(dir_.path() / "history");
  StartCoordinator();
  ASSERT_EQ(Run("set", "manifest.json").code, kExitOk);
  const CliRun verify = Run("verify", "manifest.json");
  EXPECT_EQ(verify.code, kExitFailed);
  EXPECT_THAT(verify.err, HasSubstr("no longer contains transition " + TransitionOf(update)));
  EXPECT_THAT(verify.err, HasSubstr("rolled back or replaced"));
  EXPECT_EQ(Read("verify/latest-transition"), saved);  // verify/ untouched
  EXPECT_EQ(Read("verify/manifest.1.json"), ManifestVersion(1));
}

TEST_F(OwnerCommandsOnACoordinator, RestartedCoordinatorIsVerifiedThenRecovered) {
  Write("manifest.json", ManifestVersion(0));
  ASSERT_EQ(Run("set", "manifest.json").code, kExitOk);
  ASSERT_EQ(Run("verify", "manifest.json").code, kExitOk);
  const std::string root = Read("verify/coordinator-root-ca.pem");
  const std::string transition = Read("verify/latest-transition");

  StopCoordinator();
  StartCoordinator();
  // verify still works, says what is going on and keeps the certificates it had.
  const CliRun awaiting = Run("verify", "manifest.json");
  ASSERT_EQ(awaiting.code, kExitOk) << awaiting.err;
  EXPECT_THAT(awaiting.err, HasSubstr("AWAITS RECOVERY"));
  EXPECT_EQ(Read("verify/coordinator-root-ca.pem"), root);
  EXPECT_EQ(Read("verify/latest-transition"), transition);
  // An update cannot go through before recovery.
  Write("manifest1.json", ManifestVersion(1));
  EXPECT_EQ(Run("set", "manifest1.json").code, kExitFailed);

  // A seed-share owner the manifest does not list: refused locally.
  Write("stranger.pem", Must(SeedshareOwnerKey(2).ToPkcs8Pem()), 0600);
  EXPECT_EQ(Run("recover", "manifest.json", {"--seedshare-owner-key", Path("stranger.pem")}).code, kExitUsage);

  const CliRun recover = Run("recover", "manifest.json");
  ASSERT_EQ(recover.code, kExitOk) << recover.err << recover.out;
  EXPECT_THAT(recover.out, HasSubstr(transition.substr(0, 64)));
  const CliRun verify = Run("verify", "manifest.json");
  ASSERT_EQ(verify.code, kExitOk) << verify.err;
  EXPECT_THAT(verify.err, Not(HasSubstr("AWAITS RECOVERY")));
  EXPECT_EQ(Read("verify/mesh-ca.pem"), Read("mesh-ca.pem"));
  EXPECT_EQ(Read("verify/coordinator-root-ca.pem"), Read("coordinator-root-ca.pem"));

  // Recovering a ready Coordinator needs --force.
  const CliRun again = Run("recover", "manifest.json");
  EXPECT_EQ(again.code, kExitFailed);
  EXPECT_THAT(again.err, HasSubstr("--force"));
  const CliRun forced = Run("recover", "manifest.json", {"--force"});
  EXPECT_EQ(forced.code, kExitOk) << forced.err;
}

}  // namespace
}  // namespace contrast::cli
