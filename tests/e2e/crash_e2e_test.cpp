// Crash consistency, end to end (issue #14): the Coordinator process is
// killed with SIGKILL at random points while `contrast set` updates the
// manifest and Initializers keep asking for certificates; after each crash it
// is restarted and recovered, and the history must verify and end at either
// the old or the new manifest, never at a torn state, and never without an
// update that `set` reported as done. Also: `set --atomic` races between two
// clients, exactly one of which may win each round.
//
// CONTRAST_CRASH_ROUNDS sets the number of rounds of each test (default 4,
// 2 under sanitizers, what CI runs; scripts/crash-test runs 200).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <random>

#include "e2e/coordinator_fixture.h"
#include "seed/shares.h"

namespace contrast {
namespace {

using namespace contrast::e2e;
using ::testing::HasSubstr;

int Rounds() {
  const char* value = std::getenv("CONTRAST_CRASH_ROUNDS");
  const int rounds = value ? std::atoi(value) : 0;
  return rounds > 0 ? rounds : (kSanitized ? 2 : 4);
}

class CrashE2e : public CoordinatorE2e {
 protected:
  void SetUp() override {
    CoordinatorE2e::SetUp();
    if (HasFatalFailure()) return;
    auto key = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
    ASSERT_TRUE(key);
    ASSERT_TRUE(WriteFileAtomic(dir_ / "seedshare-owner.pem", *key->ToPkcs8Pem(), 0600));
    seedshare_owner_keys_.push_back(HexEncode(*seed::RsaPublicKeyPkcs1Der(*key)));
  }

  void TearDown() override {
    stop_load_ = true;
    for (std::thread& t : load_) t.join();
    CoordinatorE2e::TearDown();
  }

  // The base manifest with one more SAN on "web", so every round has its own.
  std::string ManifestFor(const std::string& name) {
    std::string text = Manifest(kMeasurement);
    const std::string sans = "[\"web\", \"127.0.0.1\"]";
    text.replace(text.find(sans), sans.size(), "[\"web\", \"127.0.0.1\", \"" + name + "\"]");
    return WriteManifest(name + ".json", text);
  }

  std::vector<std::string> SetArgs(const std::string& manifest, std::vector<std::string> extra) {
    std::vector<std::string> args = {kBin + "/contrast", "set",        "-c", User(), "-m", manifest,
                                     "--workspace-dir",  dir_.string()};
    for (const char* name : {"coordinator", "web", "client"}) args.push_back(PolicyPath(name).string());
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  Completed Recover(const std::string& manifest) {
    return Contrast({"recover", "-c", User(), "-m", manifest, "--seedshare-owner-key",
                     (dir_ / "seedshare-owner.pem").string(), "--seed", (dir_ / "seed-shares.json").string(),
                     "--workspace-dir", dir_.string(), "--timeout", "20"});
  }

  // Runs `verify` against `manifest` and returns the history it wrote
  // (manifest files, oldest first). verify itself checks the hash chain and
  // that the history extends the transition it saved last time.
  std::vector<std::string> VerifiedHistory(const std::string& manifest) {
    const Completed verify =
        Contrast({"verify", "-c", User(), "-m", manifest, "--workspace-dir", dir_.string(), "--timeout", "20"});
    const bool only_differs = verify.output.find("differs") != std::string::npos;
    EXPECT_TRUE(verify.code == 0 || only_differs) << verify.output;
    std::vector<std::string> history;
    for (int i = 0; std::filesystem::exists(dir_ / "verify" / ("manifest." + std::to_string(i) + ".json")); ++i) {
      history.push_back(Read(dir_ / "verify" / ("manifest." + std::to_string(i) + ".json")));
    }
    return history;
  }

  // Initializers asking for certificates all the time, through crashes.
  void StartLoad(int workers) {
    for (int w = 0; w < workers; ++w) {
      load_.emplace_back([this, w] {
        for (int i = 0; !stop_load_; ++i) {
          const auto root = dir_ / ("load-" + std::to_string(w) + "-" + std::to_string(i % 4));
          RunProcess(InitializerArgs("web", root, "10"), dir_ / ("load-" + std::to_string(w) + ".log"), {},
                     std::chrono::seconds(30));
          load_runs_++;
        }
      });
    }
  }

  std::vector<std::thread> load_;
  std::atomic<bool> stop_load_{false};
  std::atomic<int> load_runs_{0};
};

TEST_F(CrashE2e, KilledDuringSetManifestRecoversToTheOldOrTheNewManifest) {
  StartCoordinator();
  std::string current = ManifestFor("round-0");
  ASSERT_EQ(Set(current).code, 0);
  std::vector<std::string> history = VerifiedHistory(current);
  ASSERT_EQ(history.size(), 1u);
  StartLoad(2);

  std::mt19937 random(std::random_device{}());
  int acknowledged = 0, landed = 0;
  const int rounds = Rounds();
  for (int round = 1; round <= rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string next = ManifestFor("round-" + std::to_string(round));
    ChildProcess set(SetArgs(next, {"--timeout", "1"}), dir_ / ("set-" + std::to_string(round) + ".log"));
    // Anywhere from before the request arrives to after it is answered.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(random)));
    coordinator_->Kill();
    const std::optional<int> set_code = set.Wait(std::chrono::seconds(60));
    ASSERT_TRUE(set_code.has_value()) << set.Output();

    StartCoordinator(/*keep_ports=*/true);
    const Completed recovered = Recover(next);
    ASSERT_EQ(recovered.code, 0) << recovered.output << coordinator_->Output();
    const std::vector<std::string> now = VerifiedHistory(next);
    ASSERT_FALSE(now.empty());
    const std::string old_latest = Read(current), new_latest = Read(next);
    const bool is_new = now.back() == new_latest;
    EXPECT_TRUE(is_new || now.back() == old_latest) << "torn state: the latest manifest is neither";
    EXPECT_EQ(now.size(), history.size() + (is_new ? 1 : 0));
    EXPECT_TRUE(std::equal(history.begin(), history.end(), now.begin())) << "an earlier manifest changed";
    if (*set_code == 0) {
      ++acknowledged;
      EXPECT_TRUE(is_new) << "set reported success, but the update is missing:\n" << set.Output();
    }
    if (is_new) {
      ++landed;
      current = next;
    }
    history = now;
  }
  std::cout << rounds << " crash rounds: " << acknowledged << " updates acknowledged, " << landed << " landed, "
            << load_runs_.load() << " Initializer runs under load\n";
}

TEST_F(CrashE2e, AtomicSetsFromTwoClientsExactlyOneWinsEachRound) {
  StartCoordinator();
  std::string current = ManifestFor("base");
  ASSERT_EQ(Set(current).code, 0);
  std::vector<std::string> history = VerifiedHistory(current);

  const int rounds = Rounds();
  for (int round = 1; round <= rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string latest = Trim(Read(dir_ / "verify/latest-transition"));
    ASSERT_EQ(latest.size(), 64u);
    const std::string a = ManifestFor("a-" + std::to_string(round));
    const std::string b = ManifestFor("b-" + std::to_string(round));
    ChildProcess set_a(SetArgs(a, {"--atomic", "--latest-transition", latest}), dir_ / "set-a.log");
    ChildProcess set_b(SetArgs(b, {"--atomic", "--latest-transition", latest}), dir_ / "set-b.log");
    const std::optional<int> code_a = set_a.Wait(std::chrono::seconds(60));
    const std::optional<int> code_b = set_b.Wait(std::chrono::seconds(60));
    ASSERT_TRUE(code_a && code_b);
    ASSERT_TRUE((*code_a == 0) != (*code_b == 0)) << "A:\n" << set_a.Output() << "\nB:\n" << set_b.Output();
    const std::string winner = *code_a == 0 ? a : b;
    const std::vector<std::string> now = VerifiedHistory(winner);
    ASSERT_EQ(now.size(), history.size() + 1);
    EXPECT_EQ(now.back(), Read(winner));
    history = now;
  }
}

}  // namespace
}  // namespace contrast
