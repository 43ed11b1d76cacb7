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
#include "ca/ca.h"
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

TEST_F(OwnerCommandsOnACoordinator, UpdatesBuildOnWhatVerifyOrTheLastSetSaw) {
  Write("manifest.json", ManifestVersion(0));
  const CliRun first = Run("set", "manifest.json");
  ASSERT_EQ(first.code, kExitOk) << first.err;
  EXPECT_THAT(first.out, HasSubstr("no manifest yet"));
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(first) + "\n");
  ASSERT_EQ(Run("verify", "manifest.json").code, kExitOk);

  // On top of the saved transition: accepted, and shown; updates send no seed shares.
  Write("manifest1.json", ManifestVersion(1));
  const CliRun second = Run("set", "manifest1.json", {"--atomic"});
  ASSERT_EQ(second.code, kExitOk) << second.err;
  EXPECT_THAT(second.out, Not(HasSubstr("seed-shares")));
  EXPECT_THAT(second.out, HasSubstr("current manifest has SHA-256 " +
                                    HexEncode(manifest::ManifestHash(AsBytes(ManifestVersion(0)))) + " (transition " +
                                    TransitionOf(first) + ")"));
  // A set after a set: the first one saved the transition it made.
  Write("manifest2.json", ManifestVersion(2));
  const CliRun third = Run("set", "manifest2.json");
  ASSERT_EQ(third.code, kExitOk) << third.err;
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(third) + "\n");

  // An update conditional on an outdated transition: refused, with the hint.
  Write("manifest3.json", ManifestVersion(3));
  const CliRun stale = Run("set", "manifest3.json", {"--atomic", "--latest-transition", TransitionOf(second)});
  EXPECT_EQ(stale.code, kExitFailed);
  EXPECT_THAT(stale.err, HasSubstr("conditional on transition " + TransitionOf(second)));
  EXPECT_THAT(stale.err, HasSubstr("contrast verify"));

  // verify, then sign offline and send the detached signature with only the public key.
  ASSERT_EQ(Run("verify", "manifest2.json").code, kExitOk);
  const CliRun sign = Contrast(
      {"sign", "-m", Path("manifest3.json"), "--workspace-dir", Workspace().string(), "--out", Path("update.sig")});
  ASSERT_EQ(sign.code, kExitOk) << sign.err;
  Write("owner.pub", "-----BEGIN PUBLIC KEY-----\n" + Base64Encode(Owner().spki) + "\n-----END PUBLIC KEY-----\n");
  const CliRun signed_set =
      Run("set", "manifest3.json",
          {"--atomic", "--signature", Path("update.sig"), "--workload-owner-key", Path("owner.pub")});
  ASSERT_EQ(signed_set.code, kExitOk) << signed_set.err;
  const CliRun verify = Run("verify", "manifest3.json");
  ASSERT_EQ(verify.code, kExitOk) << verify.err;
  EXPECT_EQ(Read("verify/manifest.3.json"), ManifestVersion(3));
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(signed_set) + "\n");
}

TEST_F(OwnerCommandsOnACoordinator, SetRefusesAnUnverifiedBaseUnlessAllowed) {
  // Someone else sets the manifests; this workspace has verified nothing.
  const fs::path elsewhere = dir_.path() / "elsewhere";
  fs::create_directories(elsewhere);
  Write("manifest.json", ManifestVersion(0));
  ASSERT_EQ(Contrast({"set", "-c", UserTarget(), "-m", Path("manifest.json"), "--workspace-dir", elsewhere.string(),
                      policy_files_[0], policy_files_[1], policy_files_[2]})
                .code,
            kExitOk);
  Write("manifest1.json", ManifestVersion(1));
  const CliRun unverified = Run("set", "manifest1.json");
  EXPECT_EQ(unverified.code, kExitFailed);
  EXPECT_THAT(unverified.err, HasSubstr("which this workspace has not verified"));
  EXPECT_THAT(unverified.err, HasSubstr(HexEncode(manifest::ManifestHash(AsBytes(ManifestVersion(0))))));
  EXPECT_THAT(unverified.err, HasSubstr("--allow-unverified-base"));

  // After verify it goes through; then the other party moves the history on.
  ASSERT_EQ(Run("verify", "manifest.json").code, kExitOk);
  const std::string verified = Read("verify/latest-transition");
  ASSERT_EQ(Contrast({"set", "-c", UserTarget(), "-m", Path("manifest1.json"), "--workspace-dir", elsewhere.string(),
                      "--workload-owner-key", Path("workload-owner.pem"), "--allow-unverified-base", policy_files_[0],
                      policy_files_[1], policy_files_[2]})
                .code,
            kExitOk);
  Write("manifest2.json", ManifestVersion(2));
  const CliRun moved = Run("set", "manifest2.json");
  EXPECT_EQ(moved.code, kExitFailed);
  EXPECT_THAT(moved.err, HasSubstr("not transition " + verified.substr(0, 64) + " that you last verified"));
  EXPECT_THAT(moved.err, HasSubstr(HexEncode(manifest::ManifestHash(AsBytes(ManifestVersion(1))))));

  // Told otherwise, set builds on what the Coordinator has.
  const CliRun allowed = Run("set", "manifest2.json", {"--allow-unverified-base"});
  ASSERT_EQ(allowed.code, kExitOk) << allowed.err;
  EXPECT_THAT(allowed.err, HasSubstr("warning: --allow-unverified-base"));
  EXPECT_EQ(Read("verify/latest-transition"), TransitionOf(allowed) + "\n");
}

TEST_F(OwnerCommandsOnACoordinator, SetRefusesASignatureForAnotherCoordinator) {
  Write("manifest.json", ManifestVersion(0));
  ASSERT_EQ(Run("set", "manifest.json").code, kExitOk);
  ASSERT_EQ(Run("verify", "manifest.json").code, kExitOk);
  // Signed for another deployment's root CA, at the same transition.
  Write("other-root.pem", Must(ca::CertificateAuthority::Generate()).root_pem());
  Write("manifest1.json", ManifestVersion(1));
  ASSERT_EQ(Contrast({"sign", "-m", Path("manifest1.json"), "--workspace-dir", Workspace().string(),
                      "--coordinator-root-ca", Path("other-root.pem"), "--out", Path("other.sig")})
                .code,
            kExitOk);
  const CliRun run = Run("set", "manifest1.json", {"--atomic", "--signature", Path("other.sig")});
  EXPECT_EQ(run.code, kExitFailed);
  EXPECT_THAT(run.err, HasSubstr("at this Coordinator (root CA key SHA-256 " +
                                 HexEncode(Must(history::RootKeyDigestOfPem(Read("coordinator-root-ca.pem")))) + ")"));
}

TEST_F(OwnerCommandsOnACoordinator, VerifyRefusesAHistoryThatLostWhatItSaw) {
  Write("manifest.json", ManifestVersion(0));
  ASSERT_EQ(Run("set", "manifest.json").code, kExitOk);
  Write("manifest1.json", ManifestVersion(1));
  const CliRun update = Run("set", "manifest1.json");
  ASSERT_EQ(update.code, kExitOk) << update.err;
  ASSERT_EQ(Run("verify", "manifest1.json").code, kExitOk);
  const std::string saved = Read("verify/latest-transition");

  // The store is replaced by one holding only the first manifest, set by
  // someone else; this workspace's set would refuse to build on it.
  StopCoordinator();
  fs::remove_all(dir_.path() / "history");
  StartCoordinator();
  Write("manifest2.json", ManifestVersion(2));
  const CliRun set_here = Run("set", "manifest2.json");
  EXPECT_EQ(set_here.code, kExitFailed);
  EXPECT_THAT(set_here.err, HasSubstr("not transition " + saved.substr(0, 64)));
  fs::create_directories(dir_.path() / "elsewhere");
  ASSERT_EQ(Contrast({"set", "-c", UserTarget(), "-m", Path("manifest.json"), "--workspace-dir",
                      (dir_.path() / "elsewhere").string(), policy_files_[0], policy_files_[1], policy_files_[2]})
                .code,
            kExitOk);
  const CliRun verify = Run("verify", "manifest.json");
  EXPECT_EQ(verify.code, kExitFailed);
  EXPECT_THAT(verify.err, HasSubstr("no longer contains transition " + TransitionOf(update)));
  EXPECT_THAT(verify.err, HasSubstr("rolled back or replaced"));
  EXPECT_EQ(Read("verify/latest-transition"), saved);  // verify/ untouched
  EXPECT_EQ(Read("verify/manifest.1.json"), ManifestVersion(1));
}

// Size cliffs: 300 manifests, each with its own 100 KiB policy (30 MB of
// documents; the session frame cap is 4 MiB). verify fetches it all and
// checks the chain; a signed update on top still works.
TEST_F(OwnerCommandsOnACoordinator, VerifyAndSetWorkOnALongHistoryOfLargePolicies) {
  constexpr int kManifests = 300;
  auto large_policy = [](int i) {
    std::string policy = "package agent_policy\n# workload " + std::to_string(i) + "\n";
    policy.append(100 * 1024 - policy.size(), '#');
    return policy;
  };
  auto step = [&](int i) {
    HistoryStep s{SeededManifest(), AllPolicies()};
    s.policies.push_back(large_policy(i));
    s.manifest.policies[HashOf(s.policies.back())] = {{"w" + std::to_string(i)}, "", manifest::Role::kNone};
    return s;
  };
  std::vector<HistoryStep> steps;
  for (int i = 0; i < kManifests; ++i) steps.push_back(step(i));
  auto store = std::make_shared<MemoryStore>();
  const BuiltHistory built = BuildHistory(store, steps);
  StopCoordinator();
  coordinator::CoordinatorOptions options = Options();
  options.store = store;
  StartCoordinator(options);
  ASSERT_TRUE(UserClient(UserTarget()).Recover(SignedRecover(built.secret, SeedshareOwnerKey(0)), SeededManifest()));

  Write("manifest.json", manifest::SerializeManifest(steps.back().manifest));
  const CliRun verify = Run("verify", "manifest.json");
  ASSERT_EQ(verify.code, kExitOk) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("300 manifest(s) oldest first, 303 policy document(s)"));
  EXPECT_EQ(Read("verify/manifest.0.json"), manifest::SerializeManifest(steps.front().manifest));
  EXPECT_EQ(Read("verify/latest-transition"), HexEncode(built.latest) + "\n");
  EXPECT_EQ(Read("verify/policies/" + HashOf(large_policy(123)).Hex()), large_policy(123));

  const HistoryStep next = step(kManifests);
  Write("next.json", manifest::SerializeManifest(next.manifest));
  Write("policies/next.rego", next.policies.back());
  const CliRun set =
      Contrast({"set", "-c", UserTarget(), "-m", Path("next.json"), "--workspace-dir", Workspace().string(),
                "--timeout", "5", policy_files_[0], policy_files_[1], policy_files_[2], Path("policies/next.rego")});
  ASSERT_EQ(set.code, kExitOk) << set.err;
  EXPECT_EQ(Must(UserClient(UserTarget()).GetLatestTransition(next.manifest)).latest_transition_hash(),
            ToString(Must(ParseTransitionHashHex(TransitionOf(set)))));
}

// 50 policies of 100 KiB (5 MiB, more than one 4 MiB frame): set sends the
// documents in several frames; verify gets them back in several answers.
TEST_F(OwnerCommandsOnACoordinator, SetSendsPoliciesLargerThanOneFrame) {
  manifest::Manifest m = SeededManifest();
  std::vector<std::string> files = policy_files_;
  for (int i = 0; i < 50; ++i) {
    std::string policy = "package agent_policy\n# large " + std::to_string(i) + "\n";
    policy.append(100 * 1024 - policy.size(), '#');
    m.policies[HashOf(policy)] = {{"large" + std::to_string(i)}, "", manifest::Role::kNone};
    files.push_back(Write("large/" + std::to_string(i) + ".rego", policy));
  }
  Write("manifest.json", manifest::SerializeManifest(m));
  std::vector<std::string> args = {
      "set", "-c", UserTarget(), "-m", Path("manifest.json"), "--workspace-dir", Workspace().string()};
  args.insert(args.end(), files.begin(), files.end());
  const CliRun set = Contrast(args);
  ASSERT_EQ(set.code, kExitOk) << set.err;
  const CliRun verify = Run("verify", "manifest.json");
  ASSERT_EQ(verify.code, kExitOk) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("1 manifest(s) oldest first, 53 policy document(s)"));
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
