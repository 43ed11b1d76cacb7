// `contrast sign`, the local halves of `set --atomic/--signature` and
// `recover`, verify's own history checks (hash chain, rollback), the
// seed-shares.json file and seed-share owner keys in the manifest: in-process,
// on real files in temp dirs, without a Coordinator (every command here fails
// or finishes before it would connect).
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../coordinator/harness.h"
#include "ca/ca.h"
#include "cli/app.h"
#include "cli/coordinator_client.h"
#include "cli/generate.h"
#include "cli/history_check.h"
#include "cli/owner_keys.h"
#include "cli/seed_shares_file.h"
#include "common/files.h"
#include "crypto/hash.h"
#include "history/history.h"
#include "seed/shares.h"
#include "support/cli_run.h"

namespace contrast::cli {
namespace {

namespace fs = std::filesystem;
using contrast::testing::CliRun;
using contrast::testing::Contrast;
using coordinator::testing::AllPolicies;
using coordinator::testing::BaseManifest;
using coordinator::testing::Must;
using coordinator::testing::Owner;
using coordinator::testing::SeededManifest;
using coordinator::testing::SeedshareOwnerKey;
using coordinator::testing::SeedsharePublicKey;
using coordinator::testing::Stranger;
using coordinator::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// An address nothing listens on: a command that got this far would fail
// with exit 1, not with the usage error a test expects.
constexpr const char* kNowhere = "127.0.0.1:1";

history::TransitionHash Hash(uint8_t fill) {
  history::TransitionHash hash{};
  hash.fill(fill);
  return hash;
}

// T = SHA-256(SHA-256(manifest) || previous), computed here without the
// history module.
std::string ExpectedTransitionHex(const std::string& manifest_bytes, const history::TransitionHash& previous) {
  const crypto::Sha256Digest manifest_hash = crypto::Sha256(AsBytes(manifest_bytes));
  Bytes record(manifest_hash.begin(), manifest_hash.end());
  record.insert(record.end(), previous.begin(), previous.end());
  return HexEncode(crypto::Sha256(record));
}

class OwnerCommands : public ::testing::Test {
 protected:
  fs::path Dir() const { return dir_.path(); }
  std::string Path(const std::string& name) const { return (Dir() / name).string(); }

  std::string Write(const std::string& name, std::string_view content, unsigned mode = 0644) const {
    fs::create_directories((Dir() / name).parent_path());
    EXPECT_TRUE(WriteFileAtomic(Dir() / name, content, mode));
    return Path(name);
  }
  std::string Read(const std::string& name) const {
    auto text = ReadTextFile(Dir() / name);
    return text ? *text : "<unreadable: " + text.error().message + ">";
  }

  // manifest.json (canonical bytes of `m`) and the policy documents it names.
  std::string WriteManifest(const manifest::Manifest& m = BaseManifest()) {
    manifest_text_ = manifest::SerializeManifest(m);
    int i = 0;
    policy_files_.clear();
    for (const std::string& policy : AllPolicies()) {
      policy_files_.push_back(Write("policies/" + std::to_string(i++) + ".rego", policy));
    }
    return Write("manifest.json", manifest_text_);
  }
  void WriteOwnerKey(const std::string& name = "workload-owner.pem") {
    Write(name, Must(Owner().key.ToPkcs8Pem()), 0600);
  }
  void SaveTransition(const history::TransitionHash& hash) {
    Write("verify/latest-transition", FormatSavedTransition(hash));
  }
  // verify/coordinator-root-ca.pem of a Coordinator; its key digest.
  history::RootKeyDigest WriteRootCa() {
    const std::string pem = Must(ca::CertificateAuthority::Generate()).root_pem();
    Write("verify/coordinator-root-ca.pem", pem);
    return Must(history::RootKeyDigestOfPem(pem));
  }

  CliRun Sign(std::vector<std::string> more) {
    std::vector<std::string> args = {"sign", "-m", Path("manifest.json"), "--workspace-dir", Dir().string()};
    args.insert(args.end(), more.begin(), more.end());
    return Contrast(args);
  }
  CliRun Set(std::vector<std::string> more) {
    std::vector<std::string> args = {
        "set", "-c", kNowhere, "-m", Path("manifest.json"), "--workspace-dir", Dir().string(), "--timeout", "0"};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), policy_files_.begin(), policy_files_.end());
    return Contrast(args);
  }
  CliRun Recover(std::vector<std::string> more) {
    std::vector<std::string> args = {"recover",         "-c",           kNowhere,    "-m", Path("manifest.json"),
                                     "--workspace-dir", Dir().string(), "--timeout", "0"};
    args.insert(args.end(), more.begin(), more.end());
    return Contrast(args);
  }

  TempDir dir_;
  std::string manifest_text_;
  std::vector<std::string> policy_files_;
};

// ---- sign -------------------------------------------------------------------

TEST_F(OwnerCommands, SignRefusesWithoutATransitionToBuildOn) {
  WriteManifest();
  WriteRootCa();
  const CliRun run = Sign({"--prepare", "--out", Path("message.txt")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("the first manifest needs no signature"));
  EXPECT_FALSE(fs::exists(Dir() / "message.txt"));
}

TEST_F(OwnerCommands, PrepareWritesTheMessageForTheSavedOrNamedTransitionAndTheRootCa) {
  WriteManifest();
  const history::RootKeyDigest root = WriteRootCa();
  SaveTransition(Hash(0xab));
  const CliRun saved = Sign({"--prepare", "--out", Path("saved.txt")});
  ASSERT_EQ(saved.code, kExitOk) << saved.err;
  const auto transition = Must(ParseTransitionHashHex(ExpectedTransitionHex(manifest_text_, Hash(0xab))));
  // Exactly the bytes an HSM hashes: the label, the root key digest, T.
  EXPECT_EQ(Read("saved.txt"), "contrast-manifest-transition-v1 " + HexEncode(root) + " " + HexEncode(transition));
  EXPECT_THAT(saved.out, HasSubstr(HexEncode(root)));

  const CliRun named = Sign({"--prepare", "--latest-transition", HexEncode(Hash(0xCD)), "--out", Path("named.txt")});
  ASSERT_EQ(named.code, kExitOk) << named.err;
  EXPECT_EQ(Read("named.txt"),
            history::TransitionSigningMessage(
                root, Must(ParseTransitionHashHex(ExpectedTransitionHex(manifest_text_, Hash(0xcd))))));
  EXPECT_THAT(named.out, HasSubstr("--latest-transition"));

  // Another Coordinator's root CA, named: another message.
  const std::string other_pem = Must(ca::CertificateAuthority::Generate()).root_pem();
  Write("other-root.pem", other_pem);
  ASSERT_EQ(Sign({"--prepare", "--coordinator-root-ca", Path("other-root.pem"), "--out", Path("other.txt")}).code,
            kExitOk);
  EXPECT_EQ(Read("other.txt"),
            history::TransitionSigningMessage(Must(history::RootKeyDigestOfPem(other_pem)), transition));
}

TEST_F(OwnerCommands, SignatureVerifiesForItsTransitionAndCoordinatorOnly) {
  WriteManifest();
  WriteOwnerKey();
  const history::RootKeyDigest root = WriteRootCa();
  SaveTransition(Hash(0x11));
  const CliRun run = Sign({"--out", Path("transition.sig")});
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const Bytes signature = Must(ReadFile(Dir() / "transition.sig"));
  const auto transition = Must(ParseTransitionHashHex(ExpectedTransitionHex(manifest_text_, Hash(0x11))));
  EXPECT_TRUE(history::VerifyTransitionSignature(Owner().spki, root, transition, signature));
  const auto other = Must(ParseTransitionHashHex(ExpectedTransitionHex(manifest_text_, Hash(0x12))));
  EXPECT_FALSE(history::VerifyTransitionSignature(Owner().spki, root, other, signature));
  EXPECT_FALSE(history::VerifyTransitionSignature(Stranger().spki, root, transition, signature));
  EXPECT_FALSE(history::VerifyTransitionSignature(Owner().spki, Hash(0x77), transition, signature));
}

TEST_F(OwnerCommands, SignUsageErrors) {
  WriteManifest();
  SaveTransition(Hash(1));
  // No root CA: verify/ was never written and none is named.
  CliRun run = Sign({"--prepare", "--out", Path("x.txt")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("coordinator-root-ca.pem"));
  EXPECT_THAT(run.err, HasSubstr("one Coordinator only"));
  Write("garbage.pem", "not a certificate");
  run = Sign({"--prepare", "--coordinator-root-ca", Path("garbage.pem"), "--out", Path("x.txt")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_FALSE(fs::exists(Dir() / "x.txt"));
  WriteRootCa();
  // No key (and --prepare not given).
  run = Sign({"--out", Path("x.sig")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("workload-owner.pem"));
  EXPECT_FALSE(fs::exists(Dir() / "x.sig"));
  // An RSA key cannot sign transitions.
  Write("rsa.pem", Must(SeedshareOwnerKey(0).ToPkcs8Pem()), 0600);
  run = Sign({"--workload-owner-key", Path("rsa.pem"), "--out", Path("x.sig")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("EC P-384"));
  // Malformed transitions, named or saved.
  run = Sign({"--prepare", "--latest-transition", "abc", "--out", Path("x.hex")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--latest-transition"));
  Write("verify/latest-transition", std::string(64, 'z'));
  run = Sign({"--prepare", "--out", Path("x.hex")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("latest-transition"));
  // --out is required.
  EXPECT_EQ(Sign({"--prepare"}).code, kExitUsage);
  EXPECT_FALSE(fs::exists(Dir() / "x.hex"));
}

// ---- transition hashes and verify's checks --------------------------------------

TEST(TransitionHashHex, ParsesOneHashWithSurroundingWhitespace) {
  const std::string hex = HexEncode(Hash(0xab));
  EXPECT_EQ(Must(ParseTransitionHashHex(hex + "\n")), Hash(0xab));
  EXPECT_EQ(Must(ParseTransitionHashHex("  " + std::string(64, 'A') + "\r\n")), Hash(0xaa));
  EXPECT_FALSE(ParseTransitionHashHex(hex.substr(1)));
  EXPECT_FALSE(ParseTransitionHashHex(hex + "00"));
  EXPECT_FALSE(ParseTransitionHashHex(std::string(63, '0') + "g"));
  EXPECT_FALSE(ParseTransitionHashHex(""));
  EXPECT_EQ(FormatSavedTransition(Hash(0xab)), hex + "\n");
}

TEST(PreviousTransition, FlagThenSavedFileThenNothing) {
  TempDir dir;
  auto none = Must(ResolvePreviousTransition(std::nullopt, dir.path()));
  EXPECT_EQ(none.hash, Hash(0));
  EXPECT_EQ(none.source, "no manifest yet");
  fs::create_directories(dir.path() / "verify");
  ASSERT_TRUE(WriteFileAtomic(SavedLatestTransitionPath(dir.path()), FormatSavedTransition(Hash(7))));
  EXPECT_EQ(Must(ResolvePreviousTransition(std::nullopt, dir.path())).hash, Hash(7));
  EXPECT_EQ(Must(ResolvePreviousTransition(HexEncode(Hash(9)), dir.path())).hash, Hash(9));
  ASSERT_TRUE(WriteFileAtomic(SavedLatestTransitionPath(dir.path()), std::string_view("not a hash\n")));
  auto bad = ResolvePreviousTransition(std::nullopt, dir.path());
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("verify/latest-transition"));
}

// A history with these manifests and the latest transition their chain
// ends in (or `latest` when given).
CoordinatorHistory History(const std::vector<std::string>& manifests,
                           std::optional<history::TransitionHash> latest = std::nullopt) {
  CoordinatorHistory history;
  history::TransitionHash chain = history::kNoPreviousTransition;
  for (const std::string& m : manifests) {
    history.manifests.push_back(m);
    chain = Must(ParseTransitionHashHex(ExpectedTransitionHex(m, chain)));
  }
  const history::TransitionHash end = latest.value_or(chain);
  if (!manifests.empty() || latest) history.latest_transition_hash = std::string(AsChars(end));
  return history;
}

TEST(HistoryChain, LinksEveryManifestUpToTheLatestTransition) {
  const std::vector<std::string> manifests = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"};
  const auto chain = Must(LinkHistory(History(manifests)));
  ASSERT_EQ(chain.size(), 3u);
  history::TransitionHash t = history::kNoPreviousTransition;
  for (size_t i = 0; i < manifests.size(); ++i) {
    t = Must(ParseTransitionHashHex(ExpectedTransitionHex(manifests[i], t)));
    EXPECT_EQ(chain[i], t) << i;
  }
}

TEST(HistoryChain, AlteredOrIncompleteHistoryDoesNotLinkUp) {
  const std::vector<std::string> manifests = {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"};
  const CoordinatorHistory good = History(manifests);

  CoordinatorHistory altered = good;
  altered.manifests[1] = "{\"a\":9}";
  auto result = LinkHistory(altered);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(result.error().message, HasSubstr("the history does not link up to the latest transition"));
  EXPECT_THAT(result.error().message, HasSubstr(HexEncode(AsBytes(good.latest_transition_hash))));

  CoordinatorHistory missing_first = good;
  missing_first.manifests.erase(missing_first.manifests.begin());
  EXPECT_FALSE(LinkHistory(missing_first));

  CoordinatorHistory reordered = good;
  std::swap(reordered.manifests[0], reordered.manifests[1]);
  EXPECT_FALSE(LinkHistory(reordered));

  CoordinatorHistory short_hash = good;
  short_hash.latest_transition_hash = good.latest_transition_hash.substr(1);
  result = LinkHistory(short_hash);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kParse);

  CoordinatorHistory no_hash = good;
  no_hash.latest_transition_hash.clear();
  EXPECT_FALSE(LinkHistory(no_hash));
}

TEST(HistoryChain, EmptyHistoryHasNoTransitions) {
  EXPECT_TRUE(Must(LinkHistory(History({}))).empty());
  EXPECT_TRUE(Must(LinkHistory(History({}, Hash(0)))).empty());
  EXPECT_FALSE(LinkHistory(History({}, Hash(3))));  // a latest transition without manifests
}

TEST(Rollback, SavedTransitionMustStillBeInTheHistory) {
  const auto chain = Must(LinkHistory(History({"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"})));
  for (const auto& seen : chain) EXPECT_TRUE(CheckHistoryExtends(chain, seen));
  EXPECT_TRUE(CheckHistoryExtends(chain, Hash(0)));  // saved from an empty history

  // A store rolled back to the first two manifests no longer has the third.
  const std::vector<history::TransitionHash> rolled_back(chain.begin(), chain.begin() + 2);
  auto result = CheckHistoryExtends(rolled_back, chain[2]);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(result.error().message, HasSubstr("no longer contains transition " + HexEncode(chain[2])));
  EXPECT_THAT(result.error().message, HasSubstr("rolled back or replaced"));
  EXPECT_THAT(result.error().message, HasSubstr(HexEncode(chain[1])));  // its latest

  // A replaced store: another history altogether, or none.
  const auto other = Must(LinkHistory(History({"{\"b\":1}"})));
  EXPECT_FALSE(CheckHistoryExtends(other, chain[0]));
  result = CheckHistoryExtends({}, chain[0]);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("history is empty"));
}

// ---- set: what is refused before any connection -----------------------------------

TEST_F(OwnerCommands, SetLatestTransitionNeedsAtomic) {
  WriteManifest();
  const CliRun run = Set({"--latest-transition", HexEncode(Hash(1))});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--latest-transition needs --atomic"));
}

// Where the Coordinator's collateral comes from (attest/collateral_flags.h):
// malformed flags stop set and recover before any connection.
TEST_F(OwnerCommands, CollateralFlagsAreCheckedBeforeAnyConnection) {
  WriteManifest();
  CliRun run = Set({"--collateral-timeout", "soon"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--collateral-timeout \"soon\""));
  run = Set({"--collateral-proxy", "proxy.internal:8080"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--collateral-proxy"));
  run = Recover({"--kds-url", "kdsintf.amd.com"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--kds-url"));
}

TEST(CollateralCache, XdgCacheHomeThenHomeThenMemoryOnly) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string saved_xdg = xdg ? xdg : "";
  const std::string saved_home = home ? home : "";
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg-cache", 1);
  ::setenv("HOME", "/home/owner", 1);
  EXPECT_EQ(DefaultCollateralCacheDir(), std::filesystem::path("/tmp/xdg-cache/contrast"));
  ::setenv("XDG_CACHE_HOME", "relative", 1);  // ignored, as the spec says
  EXPECT_EQ(DefaultCollateralCacheDir(), std::filesystem::path("/home/owner/.cache/contrast"));
  ::unsetenv("XDG_CACHE_HOME");
  ::unsetenv("HOME");
  EXPECT_TRUE(DefaultCollateralCacheDir().empty());
  auto options = CommandVerifierOptions(attest::CollateralFlags{});
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_TRUE(options->snp_collateral.cache_dir.empty());
  EXPECT_EQ(options->snp_collateral.fetch_deadline, std::chrono::seconds(10));
  if (xdg) ::setenv("XDG_CACHE_HOME", saved_xdg.c_str(), 1);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST_F(OwnerCommands, SetSignatureNeedsTheSignersKey) {
  WriteManifest();
  Write("transition.sig", "sig");
  const CliRun run = Set({"--atomic", "--signature", Path("transition.sig")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("--workload-owner-key"));
}

TEST_F(OwnerCommands, SetAtomicUpdateMustBeSigned) {
  WriteManifest();
  SaveTransition(Hash(5));
  const CliRun run = Set({"--atomic"});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("must be signed"));
  EXPECT_THAT(run.err, HasSubstr(HexEncode(Hash(5))));
}

TEST_F(OwnerCommands, SetWithADetachedSignatureGoesOnToTheCoordinator) {
  WriteManifest();
  WriteOwnerKey();
  WriteRootCa();
  ASSERT_EQ(Sign({"--latest-transition", HexEncode(Hash(1)), "--out", Path("transition.sig")}).code, kExitOk);
  // Only the public key: what an HSM user has.
  std::string pem = "-----BEGIN PUBLIC KEY-----\n" + Base64Encode(Owner().spki) + "\n-----END PUBLIC KEY-----\n";
  Write("owner.pub", pem);
  const CliRun run = Set({"--atomic", "--latest-transition", HexEncode(Hash(1)), "--signature", Path("transition.sig"),
                          "--workload-owner-key", Path("owner.pub")});
  EXPECT_EQ(run.code, kExitFailed) << run.err;  // nothing listens there
  EXPECT_THAT(run.err, Not(HasSubstr("signature")));
}

// What paging relies on, with the Coordinator's answers made up here.
class FetchHistoryTest : public ::testing::Test {
 protected:
  // Pages of `per_page` manifests, newest first, as the Coordinator serves them.
  Result<v1::GetManifestsResponse> Page(const v1::GetManifestsRequest& request) const {
    size_t end = manifests_.size();  // the page starts at manifests_[end - 1]
    if (!request.from_transition_hash().empty()) {
      end = 0;
      for (size_t i = 0; i < chain_.size(); ++i) {
        if (std::string(AsChars(chain_[i])) == request.from_transition_hash()) end = i + 1;
      }
    }
    v1::GetManifestsResponse page;
    page.set_latest_transition_hash(std::string(AsChars(chain_.back())));
    for (size_t i = end; i > 0 && static_cast<size_t>(page.entries_size()) < per_page_; --i) {
      v1::ManifestHistoryEntry* entry = page.add_entries();
      entry->set_manifest(manifests_[i - 1]);
      entry->set_previous_transition_hash(std::string(AsChars(i >= 2 ? chain_[i - 2] : Hash(0))));
    }
    page.set_more(end > per_page_);
    return page;
  }
  Result<v1::GetPoliciesResponse> Policies(const v1::GetPoliciesRequest& request) const {
    v1::GetPoliciesResponse response;
    for (const std::string& hash : request.policy_hashes()) {
      for (const std::string& policy : AllPolicies()) {
        if (std::string(AsChars(coordinator::testing::HashOf(policy).bytes)) == hash) response.add_policies(policy);
      }
      if (response.policies_size() == 2) break;  // a small page
    }
    return response;
  }
  void Make(size_t count) {
    history::TransitionHash t = Hash(0);
    for (size_t i = 0; i < count; ++i) {
      manifest::Manifest m = BaseManifest();
      m.policies[coordinator::testing::HashOf(coordinator::testing::kDbPolicy)].sans = {"db" + std::to_string(i)};
      manifests_.push_back(manifest::SerializeManifest(m));
      t = Must(ParseTransitionHashHex(ExpectedTransitionHex(manifests_.back(), t)));
      chain_.push_back(t);
    }
  }
  FetchManifestPage PageFetcher() const {
    return [this](const v1::GetManifestsRequest& r) { return Page(r); };
  }
  FetchPolicies PolicyFetcher() const {
    return [this](const v1::GetPoliciesRequest& r) { return Policies(r); };
  }

  std::vector<std::string> manifests_;
  std::vector<history::TransitionHash> chain_;
  size_t per_page_ = 3;
};

TEST_F(FetchHistoryTest, GathersEveryPageAndEveryPolicyOnce) {
  Make(10);
  const CoordinatorHistory history = Must(FetchHistory(PageFetcher(), PolicyFetcher()));
  EXPECT_EQ(history.manifests, manifests_);
  EXPECT_EQ(history.policies.size(), AllPolicies().size());
  EXPECT_EQ(Must(LinkHistory(history)).back(), chain_.back());
}

TEST_F(FetchHistoryTest, RefusesWhatPagingCannotRelyOn) {
  Make(10);
  // More manifests than allowed.
  auto too_long = FetchHistory(PageFetcher(), PolicyFetcher(), 9);
  ASSERT_FALSE(too_long);
  EXPECT_THAT(too_long.error().message, HasSubstr("more than 9 manifests"));
  // An empty page.
  auto empty = FetchHistory(
      [this](const v1::GetManifestsRequest& r) -> Result<v1::GetManifestsResponse> {
        auto page = Page(r);
        if (!r.from_transition_hash().empty()) page->clear_entries();
        return page;
      },
      PolicyFetcher());
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error().message, HasSubstr("empty page"));
  // A page that stops before the first manifest.
  auto stops = FetchHistory(
      [this](const v1::GetManifestsRequest& r) -> Result<v1::GetManifestsResponse> {
        auto page = Page(r);
        page->set_more(false);
        return page;
      },
      PolicyFetcher());
  ASSERT_FALSE(stops);
  EXPECT_THAT(stops.error().message, HasSubstr("before reaching the first manifest"));
  // A document that is not the one asked for.
  auto wrong = FetchHistory(PageFetcher(), [](const v1::GetPoliciesRequest&) -> Result<v1::GetPoliciesResponse> {
    v1::GetPoliciesResponse response;
    response.add_policies("not the policy");
    return response;
  });
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message, HasSubstr("whose SHA-256 is"));
  // No document at all: no progress.
  auto none = FetchHistory(PageFetcher(), [](const v1::GetPoliciesRequest&) -> Result<v1::GetPoliciesResponse> {
    return v1::GetPoliciesResponse{};
  });
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, HasSubstr("0 policy documents"));
}

// ---- owner keys --------------------------------------------------------------

TEST_F(OwnerCommands, OwnerPublicKeyFromPrivateOrPublicPem) {
  WriteOwnerKey("private.pem");
  Write("public.pem", "-----BEGIN PUBLIC KEY-----\n" + Base64Encode(Owner().spki) + "\n-----END PUBLIC KEY-----\n");
  EXPECT_EQ(Must(LoadWorkloadOwnerPublicKey(Dir() / "private.pem")), Owner().spki);
  EXPECT_EQ(Must(LoadWorkloadOwnerPublicKey(Dir() / "public.pem")), Owner().spki);

  const Bytes rsa_spki = Must(SeedshareOwnerKey(0).PublicKeyDer());
  Write("rsa.pub", "-----BEGIN PUBLIC KEY-----\n" + Base64Encode(rsa_spki) + "\n-----END PUBLIC KEY-----\n");
  auto rsa = LoadWorkloadOwnerPublicKey(Dir() / "rsa.pub");
  ASSERT_FALSE(rsa);
  EXPECT_THAT(rsa.error().message, HasSubstr("EC"));
  Write("garbage.pub", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  EXPECT_FALSE(LoadWorkloadOwnerPublicKey(Dir() / "garbage.pub"));
  EXPECT_FALSE(LoadWorkloadOwnerPublicKey(Dir() / "missing.pem"));
}

// ---- recover: what is refused before any connection ---------------------------------

struct Shares {
  Bytes seed;
  seed::SeedShareDocument document;
};

Shares SharesFor(const std::vector<size_t>& owners) {
  Shares shares;
  shares.seed.assign(seed::kSeedSize, 0x5e);
  const Bytes salt(seed::kSaltSize, 0x5a);
  std::vector<Bytes> keys;
  for (size_t owner : owners) keys.push_back(SeedsharePublicKey(SeedshareOwnerKey(owner)));
  shares.document = Must(seed::EncryptSeedShares(shares.seed, salt, keys));
  return shares;
}

TEST_F(OwnerCommands, RecoverNeedsItsKey) {
  WriteManifest(SeededManifest());
  Write("seed-shares.json", seed::SerializeSeedShareDocument(SharesFor({0, 1}).document), 0600);
  const CliRun run = Recover({});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("seedshare-owner.pem"));
}

TEST_F(OwnerCommands, RecoverRefusesAKeyTheManifestDoesNotList) {
  WriteManifest(SeededManifest());  // owners 0 and 1
  Write("seed-shares.json", seed::SerializeSeedShareDocument(SharesFor({0, 1, 2}).document), 0600);
  Write("seedshare-owner.pem", Must(SeedshareOwnerKey(2).ToPkcs8Pem()), 0600);
  const CliRun run = Recover({});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("is not among the manifest's SeedshareOwnerPubKeys (2 key(s))"));
}

TEST_F(OwnerCommands, RecoverNamesAMissingShare) {
  WriteManifest(SeededManifest());
  Write("shares/only-owner-0.json", seed::SerializeSeedShareDocument(SharesFor({0}).document), 0600);
  Write("owner1.pem", Must(SeedshareOwnerKey(1).ToPkcs8Pem()), 0600);
  const CliRun run = Recover({"--seed", Path("shares/only-owner-0.json"), "--seedshare-owner-key", Path("owner1.pem")});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("only-owner-0.json has no share for this key"));
  EXPECT_THAT(run.err, HasSubstr("not among the 1 public key(s)"));
}

TEST_F(OwnerCommands, RecoverRefusesMalformedSeedShares) {
  WriteManifest(SeededManifest());
  Write("seedshare-owner.pem", Must(SeedshareOwnerKey(0).ToPkcs8Pem()), 0600);
  Write("seed-shares.json", "{\"SeedShares\": 3}");
  CliRun run = Recover({});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("seed-shares.json"));
  fs::remove(Dir() / "seed-shares.json");
  run = Recover({});
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("seed-shares.json"));
}

TEST_F(OwnerCommands, RecoverWithItsShareGoesOnToTheCoordinatorWithoutPrintingTheSeed) {
  WriteManifest(SeededManifest());
  const Shares shares = SharesFor({0, 1});
  Write("seed-shares.json", seed::SerializeSeedShareDocument(shares.document), 0600);
  Write("seedshare-owner.pem", Must(SeedshareOwnerKey(1).ToPkcs8Pem()), 0600);
  const CliRun run = Recover({});
  EXPECT_EQ(run.code, kExitFailed) << run.err;  // nothing listens there
  for (const std::string& text : {run.out, run.err}) {
    EXPECT_THAT(text, Not(HasSubstr(HexEncode(shares.seed))));
    EXPECT_THAT(text, Not(HasSubstr(Base64Encode(shares.seed))));
  }
}

TEST_F(OwnerCommands, RecoverAndSignHaveHelp) {
  // Each footer says what the command reads and writes.
  const std::vector<std::pair<const char*, const char*>> footers = {{"recover", "Writes coordinator-root-ca.pem"},
                                                                    {"sign", "Writes --out"},
                                                                    {"set", "seed-shares.json (mode 0600"},
                                                                    {"verify", "latest-transition (hex"}};
  for (const auto& [command, footer] : footers) {
    const CliRun run = Contrast({command, "--help"});
    EXPECT_EQ(run.code, kExitOk) << command;
    EXPECT_THAT(run.out, HasSubstr(footer)) << command;
  }
  EXPECT_THAT(Contrast({"recover", "--help"}).out, HasSubstr("--force"));
  EXPECT_THAT(Contrast({"set", "--help"}).out, HasSubstr("--atomic"));
  EXPECT_THAT(Contrast({"generate", "--help"}).out, HasSubstr("--add-seedshare-owner-key"));
  EXPECT_EQ(Contrast({"recover", "-m", "manifest.json"}).code, kExitUsage);  // -c missing
}

// ---- seed-shares.json -------------------------------------------------------------

v1::SeedShareDocument ToProto(const seed::SeedShareDocument& document) {
  v1::SeedShareDocument proto;
  for (const seed::SeedShare& share : document.shares) {
    v1::SeedShare* out = proto.add_seed_shares();
    out->set_public_key(std::string(AsChars(share.public_key)));
    out->set_encrypted_seed(std::string(AsChars(share.encrypted_seed)));
  }
  proto.set_salt(std::string(AsChars(document.salt)));
  return proto;
}

TEST_F(OwnerCommands, SeedSharesAreSavedPrivatelyAndNeverOverwritten) {
  const Shares first = SharesFor({0});
  std::ostringstream out, err;
  const fs::path path = Must(SaveSeedShares(ToProto(first.document), Dir(), out, err));
  EXPECT_EQ(path, Dir() / "seed-shares.json");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Must(seed::ParseSeedShareDocument(Read("seed-shares.json"))), first.document);
  EXPECT_THAT(out.str(), HasSubstr("BACK IT UP"));

  // The same shares again: left as they are.
  std::ostringstream out2, err2;
  EXPECT_EQ(Must(SaveSeedShares(ToProto(first.document), Dir(), out2, err2)), path);
  EXPECT_EQ(err2.str(), "");

  // Other shares: a new file, loudly; the old one untouched.
  const Shares second = SharesFor({1});
  std::ostringstream out3, err3;
  const fs::path other = Must(SaveSeedShares(ToProto(second.document), Dir(), out3, err3));
  EXPECT_NE(other, path);
  EXPECT_EQ(other.parent_path(), Dir());
  EXPECT_THAT(other.filename().string(), ::testing::StartsWith("seed-shares."));
  EXPECT_THAT(err3.str(), HasSubstr("WARNING"));
  EXPECT_THAT(err3.str(), HasSubstr(other.string()));
  EXPECT_EQ(Must(seed::ParseSeedShareDocument(Read("seed-shares.json"))), first.document);
  EXPECT_EQ(Must(seed::ParseSeedShareDocument(*ReadTextFile(other))), second.document);
  EXPECT_EQ(fs::status(other).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(OwnerCommands, MalformedSeedSharesFromTheCoordinatorAreRefused) {
  v1::SeedShareDocument proto = ToProto(SharesFor({0}).document);
  proto.set_salt("short");
  std::ostringstream out, err;
  EXPECT_FALSE(SaveSeedShares(proto, Dir(), out, err));
  EXPECT_FALSE(fs::exists(Dir() / "seed-shares.json"));
}

// ---- the manifest's seed-share owners (generate) ---------------------------------

TEST(GenerateSeedshareOwners, ExistingKeysKeepTheirOrderAndNewOnesFollowSorted) {
  ManifestInputs inputs;
  manifest::Manifest existing = BaseManifest();
  const Bytes a = SeedsharePublicKey(SeedshareOwnerKey(0));
  const Bytes b = SeedsharePublicKey(SeedshareOwnerKey(1));
  const Bytes c = SeedsharePublicKey(SeedshareOwnerKey(2));
  const Bytes& high = std::max(a, b);
  const Bytes& low = std::min(a, b);
  existing.seedshare_owner_pub_keys = {high, low};  // deliberately not sorted
  inputs.existing = existing;
  inputs.reference_values = existing.reference_values;
  for (const auto& [hash, entry] : existing.policies) {
    inputs.policies.push_back(GeneratedPolicy{"w", entry.sans.front(), hash, entry.workload_secret_id, entry.role});
  }
  inputs.seedshare_owner_pub_keys = {c, low, c};
  const manifest::Manifest built = Must(BuildManifest(inputs));
  EXPECT_EQ(built.seedshare_owner_pub_keys, (std::vector<Bytes>{high, low, c}));

  inputs.existing.reset();
  inputs.seedshare_owner_pub_keys = {high, low};
  EXPECT_EQ(Must(BuildManifest(inputs)).seedshare_owner_pub_keys, (std::vector<Bytes>{low, high}));
}

}  // namespace
}  // namespace contrast::cli
