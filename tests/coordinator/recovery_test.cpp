// Seeds, seed shares, restart and recovery, workload secrets and a tampered
// store, against an in-process Coordinator on the emulated platform (issue
// #14). Each restart is StopCoordinator/StartCoordinator on the same state
// directory: the new process has a fresh session key and no seed.
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/http.h"
#include "common/time.h"
#include "coordinator/manifest_updater.h"
#include "crypto/x509.h"
#include "harness.h"
#include "history/directory_store.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;

const std::string kAwaiting(kAwaitingRecoveryReason);

// Every file below `root`, by relative path, with its bytes.
std::map<std::string, Bytes> StoreFiles(const std::filesystem::path& root) {
  std::map<std::string, Bytes> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[entry.path().lexically_relative(root).string()] = Must(ReadFile(entry.path()));
  }
  return files;
}

void FlipByte(const std::filesystem::path& file, size_t index) {
  Bytes bytes = Must(ReadFile(file));
  ASSERT_LT(index, bytes.size()) << file;
  bytes[index] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(file, bytes)) << file;
}

std::string ManifestText(const manifest::Manifest& m) { return manifest::SerializeManifest(m); }

std::vector<std::string> PoliciesWithCache() {
  std::vector<std::string> policies = AllPolicies();
  policies.push_back(kCachePolicy);
  return policies;
}

crypto::Certificate Leaf(const v1::NewMeshCertResponse& response) {
  auto chain = Must(crypto::Certificate::ParsePemChain(response.cert_chain()));
  if (chain.empty()) throw std::runtime_error("empty certificate chain");
  return chain.front();
}

bool SamePublicKey(const crypto::Certificate& a, const crypto::Certificate& b) {
  return EVP_PKEY_eq(a.PublicKey(), b.PublicKey()) == 1;
}

// A recovery request that ignores the Coordinator it goes to (replays).
RecoverRequestBuilder Fixed(v1::RecoverRequest request) {
  return [request = std::move(request)](ByteView) { return request; };
}

class Recovery : public CoordinatorTest {
 protected:
  std::filesystem::path StoreDir() const { return dir_.path() / "history"; }

  void Restart() {
    StopCoordinator();
    StartCoordinator();
  }
  // Restarts the Coordinator with `store` as its history store.
  void RestartOn(std::shared_ptr<history::Store> store) {
    StopCoordinator();
    CoordinatorOptions options = Options();
    options.store = std::move(store);
    StartCoordinator(options);
  }

  // `m` as the first manifest; keeps owner 0's share of the new seed.
  v1::SetManifestResponse SetSeeded(const manifest::Manifest& m = SeededManifest(),
                                    const std::vector<std::string>& policies = AllPolicies()) {
    v1::SetManifestResponse response =
        Must(UserClient(UserTarget()).SetManifest(Request(ManifestText(m), policies), m));
    secret_ = DecryptShare(response.seed_share_document(), SeedshareOwnerKey(0));
    return response;
  }

  // A signed update from `previous` to `next`.
  v1::SetManifestResponse Update(const manifest::Manifest& next, const std::string& previous,
                                 const std::vector<std::string>& policies = AllPolicies()) {
    return Must(UserClient(UserTarget())
                    .SetManifest(Signed(Request(ManifestText(next), policies), Owner(), HashFromBytes(previous),
                                        Must(UserClient(UserTarget()).GetLatestTransition(next)).root_ca()),
                                 next));
  }

  Result<v1::RecoverResponse> Recover(const RecoverRequestBuilder& build) {
    return UserClient(UserTarget()).Recover(build, SeededManifest());
  }
  // Owner 0 with the right seed.
  Result<v1::RecoverResponse> RecoverAsOwner(bool force = false) {
    return Recover(SignedRecover(secret_, SeedshareOwnerKey(0), force));
  }

  std::string Metrics() const { return coordinator_->RenderMetrics(); }

  void ExpectAwaitingRecovery() {
    auto version = Must(UserClient(UserTarget()).GetVersion());
    EXPECT_FALSE(version.ready());
    EXPECT_EQ(version.reason(), kAwaiting);
    EXPECT_THAT(Metrics(), HasSubstr("contrast_awaiting_recovery 1\n"));
  }

  SeedAndSalt secret_;
};

// ---- Seed shares --------------------------------------------------------------

TEST_F(Recovery, FirstManifestReturnsOneShareOfTheSameSeedPerOwner) {
  const v1::SetManifestResponse first = SetSeeded();
  ASSERT_TRUE(first.has_seed_share_document());
  const v1::SeedShareDocument& document = first.seed_share_document();
  ASSERT_THAT(document.seed_shares(), SizeIs(2));
  EXPECT_EQ(ToBytes(document.seed_shares(0).public_key()), SeedsharePublicKey(SeedshareOwnerKey(0)));
  EXPECT_EQ(ToBytes(document.seed_shares(1).public_key()), SeedsharePublicKey(SeedshareOwnerKey(1)));
  EXPECT_NE(document.seed_shares(0).encrypted_seed(), document.seed_shares(1).encrypted_seed());
  EXPECT_EQ(document.salt().size(), seed::kSaltSize);

  const SeedAndSalt share0 = DecryptShare(document, SeedshareOwnerKey(0));
  const SeedAndSalt share1 = DecryptShare(document, SeedshareOwnerKey(1));
  EXPECT_EQ(share0.seed.size(), seed::kSeedSize);
  EXPECT_EQ(share0.seed, share1.seed);
  EXPECT_EQ(share0.salt, ToBytes(document.salt()));
  EXPECT_NE(share0.seed, Bytes(seed::kSeedSize, 0));
  auto unlisted = seed::DecryptSeedShare(FromProto(document), SeedshareOwnerKey(2));
  ASSERT_FALSE(unlisted);
  EXPECT_EQ(unlisted.error().code, ErrorCode::kNotFound);

  // The seed is the deployment's: the root CA key derives from it.
  auto engine = Must(seed::SeedEngine::FromSeed(share0.seed, share0.salt));
  const auto root = Must(crypto::Certificate::ParsePem(first.root_ca()));
  EXPECT_TRUE(engine->root_ca_key().Matches(root.PublicKey()));

  // An update draws no seed and returns no shares.
  manifest::Manifest next = SeededManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default"};
  const v1::SetManifestResponse second = Update(next, first.transition_hash());
  EXPECT_FALSE(second.has_seed_share_document());
  EXPECT_EQ(second.root_ca(), first.root_ca());
}

TEST_F(Recovery, FirstManifestWithoutOwnersReturnsNoShares) {
  const v1::SetManifestResponse first = SetFirstManifest(BaseManifest());
  EXPECT_FALSE(first.has_seed_share_document());
  EXPECT_TRUE(first.seed_share_document().seed_shares().empty());
}

TEST_F(Recovery, FirstManifestWithAnUnusableOwnerKeyIsRefusedBeforeAnythingIsStored) {
  manifest::Manifest m = SeededManifest();
  // An EC key where an RSA key belongs.
  m.seedshare_owner_pub_keys.push_back(Owner().spki);
  auto set = UserClient(UserTarget()).SetManifest(Request(ManifestText(m)), m);
  EXPECT_THAT(set, RefusedWith("INVALID_ARGUMENT"));
  EXPECT_EQ(Must(UserClient(UserTarget()).GetVersion()).reason(), "no manifest set");
  EXPECT_FALSE(std::filesystem::exists(StoreDir() / "transitions" / "latest"));
  // The same deployment with usable keys goes through.
  EXPECT_TRUE(SetSeeded().has_seed_share_document());
}

TEST_F(Recovery, EachDeploymentDrawsItsOwnSeed) {
  SetSeeded();
  TempDir elsewhere;
  CoordinatorOptions options = Options();
  options.state_dir = elsewhere.path() / "history";
  auto other = Must(Coordinator::Start(options, coordinator_issuer_));
  const manifest::Manifest m = SeededManifest();
  auto response =
      Must(UserClient("127.0.0.1:" + std::to_string(other->user_api_port())).SetManifest(Request(ManifestText(m)), m));
  const SeedAndSalt theirs = DecryptShare(response.seed_share_document(), SeedshareOwnerKey(0));
  EXPECT_NE(theirs.seed, secret_.seed);
  EXPECT_NE(theirs.salt, secret_.salt);
}

// ---- Restart --------------------------------------------------------------

TEST_F(Recovery, RestartedCoordinatorAwaitsRecoveryEverywhere) {
  const v1::SetManifestResponse first = SetSeeded();
  const UserClient::History before = Must(UserClient(UserTarget()).GetHistory(SeededManifest()));
  Restart();

  ExpectAwaitingRecovery();
  EXPECT_FALSE(coordinator_->readiness().ready);
  auto readiness = Must(http::Get(ProbeUrl("/probe/readiness")));
  EXPECT_EQ(readiness.status, 503);
  EXPECT_THAT(ToString(readiness.body), HasSubstr(kAwaiting));
  auto metrics = Must(http::Get(ProbeUrl("/metrics")));
  EXPECT_THAT(ToString(metrics.body),
              AllOf(HasSubstr("contrast_awaiting_recovery 1\n"), HasSubstr("contrast_ready 0\n")));

  auto cert = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy));
  EXPECT_THAT(cert, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(cert.error().message, HasSubstr(kAwaiting));

  auto history = UserClient(UserTarget()).GetHistory(SeededManifest());
  ASSERT_TRUE(history) << history.error().message;
  EXPECT_TRUE(history->awaiting_recovery);
  EXPECT_EQ(history->reason, kAwaiting);
  EXPECT_THAT(history->manifests, ElementsAreArray(before.manifests));
  EXPECT_THAT(history->policies, UnorderedElementsAreArray(before.policies));
  EXPECT_EQ(history->latest_transition_hash, first.transition_hash());
  EXPECT_TRUE(history->root_ca.empty());
  EXPECT_TRUE(history->mesh_ca.empty());
}

TEST_F(Recovery, RecoveringACoordinatorWithoutHistoryFailsThePrecondition) {
  // Nothing set yet: there is nothing to recover, and nothing changes.
  secret_ = SeedAndSalt{Bytes(seed::kSeedSize, 7), Bytes(seed::kSaltSize, 9)};
  auto recovered = RecoverAsOwner();
  EXPECT_THAT(recovered, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(recovered.error().message, HasSubstr("nothing to recover"));
  EXPECT_EQ(Must(UserClient(UserTarget()).GetVersion()).reason(), "no manifest set");
}

// ---- Refused recoveries --------------------------------------------------------

TEST_F(Recovery, SeedOfAnotherDeploymentIsRefusedAndChangesNothing) {
  SetSeeded();
  SeedAndSalt theirs;
  {
    TempDir elsewhere;
    CoordinatorOptions options = Options();
    options.state_dir = elsewhere.path() / "history";
    auto other = Must(Coordinator::Start(options, coordinator_issuer_));
    const manifest::Manifest m = SeededManifest();
    auto response = Must(
        UserClient("127.0.0.1:" + std::to_string(other->user_api_port())).SetManifest(Request(ManifestText(m)), m));
    theirs = DecryptShare(response.seed_share_document(), SeedshareOwnerKey(0));
  }
  Restart();
  const auto before = StoreFiles(StoreDir());

  auto recovered = Recover(SignedRecover(theirs, SeedshareOwnerKey(0)));
  EXPECT_THAT(recovered, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(recovered.error().message, AllOf(HasSubstr("seed"), HasSubstr("transitions/latest")));
  // The right seed with another salt derives other keys just the same.
  auto wrong_salt = Recover(SignedRecover(SeedAndSalt{secret_.seed, theirs.salt}, SeedshareOwnerKey(0)));
  EXPECT_THAT(wrong_salt, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(wrong_salt.error().message, HasSubstr("seed"));

  EXPECT_EQ(StoreFiles(StoreDir()), before);
  ExpectAwaitingRecovery();
  EXPECT_THAT(Metrics(), HasSubstr("contrast_recoveries_total{result=\"signature-invalid\"} 2\n"));
  EXPECT_THAT(Metrics(), Not(HasSubstr("contrast_recoveries_total{result=\"ok\"}")));
}

TEST_F(Recovery, OnlyAListedSeedshareOwnerCanRecover) {
  SetSeeded();
  Restart();
  const auto before = StoreFiles(StoreDir());

  // The right seed, signed by a key the manifest does not list.
  auto stranger = Recover(SignedRecover(secret_, SeedshareOwnerKey(2)));
  EXPECT_THAT(stranger, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(stranger.error().message, HasSubstr("SeedshareOwnerPubKeys"));

  // A listed public key with the stranger's signature.
  auto forged = Recover([&](ByteView spki) {
    v1::RecoverRequest request = SignedRecoverRequest(spki, secret_, SeedshareOwnerKey(2), false);
    request.set_owner_public_key(ToString(SeedsharePublicKey(SeedshareOwnerKey(0))));
    return request;
  });
  EXPECT_THAT(forged, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(forged.error().message, HasSubstr("owner_signature"));

  // No signature at all.
  auto unsigned_request = Recover([&](ByteView spki) {
    v1::RecoverRequest request = SignedRecoverRequest(spki, secret_, SeedshareOwnerKey(0), false);
    request.clear_owner_signature();
    return request;
  });
  EXPECT_THAT(unsigned_request, RefusedWith("PERMISSION_DENIED"));

  // A signature over force=false sent with force=true.
  auto flipped_force = Recover([&](ByteView spki) {
    v1::RecoverRequest request = SignedRecoverRequest(spki, secret_, SeedshareOwnerKey(0), false);
    request.set_force(true);
    return request;
  });
  EXPECT_THAT(flipped_force, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(flipped_force.error().message, HasSubstr("owner_signature"));

  EXPECT_EQ(StoreFiles(StoreDir()), before);
  ExpectAwaitingRecovery();

  // Owner 1 holds a share too.
  const UserClient::History history = Must(UserClient(UserTarget()).GetHistory(SeededManifest()));
  auto owner1 = Recover(SignedRecover(secret_, SeedshareOwnerKey(1)));
  ASSERT_TRUE(owner1) << owner1.error().message;
  EXPECT_EQ(owner1->latest_transition_hash(), history.latest_transition_hash);
}

TEST_F(Recovery, SignatureForAnotherCoordinatorProcessIsRefused) {
  SetSeeded();
  // A valid request for this process (refused: the Coordinator is ready and
  // the request does not force), kept for replay.
  v1::RecoverRequest for_first_process;
  auto refused = Recover([&](ByteView spki) {
    for_first_process = SignedRecoverRequest(spki, secret_, SeedshareOwnerKey(0), false);
    return for_first_process;
  });
  EXPECT_THAT(refused, RefusedWith("FAILED_PRECONDITION"));
  ASSERT_FALSE(for_first_process.owner_signature().empty());

  Restart();
  const auto before = StoreFiles(StoreDir());
  auto replayed = Recover(Fixed(for_first_process));
  EXPECT_THAT(replayed, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(replayed.error().message, HasSubstr("owner_signature does not authorize this recovery"));
  EXPECT_EQ(StoreFiles(StoreDir()), before);
  ExpectAwaitingRecovery();
}

TEST_F(Recovery, MalformedSeedOrSaltSizesAreInvalidArguments) {
  SetSeeded();
  Restart();
  const auto before = StoreFiles(StoreDir());
  struct Case {
    size_t seed_size;
    size_t salt_size;
  };
  for (const Case c : {Case{0, 32}, Case{16, 32}, Case{31, 32}, Case{65, 32}, Case{4096, 32}, Case{64, 0}, Case{64, 31},
                       Case{64, 33}}) {
    SCOPED_TRACE("seed " + std::to_string(c.seed_size) + " salt " + std::to_string(c.salt_size));
    Bytes seed = secret_.seed;
    seed.resize(c.seed_size, 0xAB);
    Bytes salt = secret_.salt;
    salt.resize(c.salt_size, 0xCD);
    // Signed properly: the sizes alone are wrong.
    auto recovered = Recover(SignedRecover(SeedAndSalt{seed, salt}, SeedshareOwnerKey(0)));
    EXPECT_THAT(recovered, RefusedWith("INVALID_ARGUMENT"));
    if (!recovered) {
      EXPECT_THAT(recovered.error().message, AnyOf(HasSubstr("seed"), HasSubstr("salt")));
    }
  }
  EXPECT_EQ(StoreFiles(StoreDir()), before);
  ExpectAwaitingRecovery();
}

// ---- Successful recovery -------------------------------------------------------

TEST_F(Recovery, RecoveredCoordinatorIsTheSameCoordinator) {
  const v1::SetManifestResponse first = SetSeeded();
  manifest::Manifest next = SeededManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default"};
  const v1::SetManifestResponse second = Update(next, first.transition_hash());
  const v1::NewMeshCertResponse issued_before = Must(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)));
  const UserClient::History history_before = Must(UserClient(UserTarget()).GetHistory(next));
  ASSERT_THAT(history_before.manifests, SizeIs(2));

  Restart();
  ExpectAwaitingRecovery();
  auto recovered = RecoverAsOwner();
  ASSERT_TRUE(recovered) << recovered.error().message;

  // Same root CA (its key comes from the seed) and, byte for byte, the same
  // certificates as before the restart (sealed in the store).
  EXPECT_EQ(recovered->root_ca(), first.root_ca());
  EXPECT_EQ(recovered->mesh_ca(), second.mesh_ca());
  EXPECT_EQ(recovered->latest_transition_hash(), second.transition_hash());
  const auto root_before = Must(crypto::Certificate::ParsePem(first.root_ca()));
  const auto root_after = Must(crypto::Certificate::ParsePem(recovered->root_ca()));
  EXPECT_TRUE(SamePublicKey(root_before, root_after));
  auto engine = Must(seed::SeedEngine::FromSeed(secret_.seed, secret_.salt));
  EXPECT_TRUE(engine->root_ca_key().Matches(root_after.PublicKey()));

  // A certificate issued before the restart verifies against the mesh CA
  // served after it, and through the intermediate to the root.
  const crypto::Certificate old_leaf = Leaf(issued_before);
  const crypto::Certificate mesh_ca = Must(crypto::Certificate::ParsePem(recovered->mesh_ca()));
  const TimePoint now = Now();
  EXPECT_TRUE(crypto::VerifyChain(old_leaf, {}, std::span(&mesh_ca, 1), now));
  const auto old_chain = Must(crypto::Certificate::ParsePemChain(issued_before.cert_chain()));
  EXPECT_TRUE(crypto::VerifyChain(old_leaf, std::span(old_chain).subspan(1), std::span(&root_after, 1), now));

  // Ready again, with the same history.
  auto version = Must(UserClient(UserTarget()).GetVersion());
  EXPECT_TRUE(version.ready());
  EXPECT_EQ(version.reason(), "");
  const UserClient::History history_after = Must(UserClient(UserTarget()).GetHistory(next));
  EXPECT_FALSE(history_after.awaiting_recovery);
  EXPECT_EQ(history_after.reason, "");
  EXPECT_THAT(history_after.manifests, ElementsAreArray(history_before.manifests));
  EXPECT_THAT(history_after.policies, ElementsAreArray(history_before.policies));
  EXPECT_EQ(history_after.latest_transition_hash, history_before.latest_transition_hash);
  EXPECT_EQ(history_after.root_ca, history_before.root_ca);
  EXPECT_EQ(history_after.mesh_ca, history_before.mesh_ca);

  // New workloads get certificates from the same mesh CA.
  auto issued_after = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kDbPolicy));
  ASSERT_TRUE(issued_after) << issued_after.error().message;
  EXPECT_EQ(issued_after->mesh_ca(), second.mesh_ca());
  EXPECT_TRUE(crypto::VerifyChain(Leaf(*issued_after), {}, std::span(&mesh_ca, 1), now));

  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, AllOf(HasSubstr("contrast_recoveries_total{result=\"ok\"} 1\n"),
                             HasSubstr("contrast_awaiting_recovery 0\n"), HasSubstr("contrast_ready 1\n"),
                             HasSubstr("contrast_manifest_generation 2\n")))
      << metrics;

  // And it takes updates again, on top of the recovered transition.
  manifest::Manifest third = next;
  third.policies[HashOf(kWebPolicy)].sans = {"web"};
  const v1::SetManifestResponse updated = Update(third, second.transition_hash());
  EXPECT_EQ(updated.root_ca(), first.root_ca());
  EXPECT_FALSE(updated.has_seed_share_document());
}

TEST_F(Recovery, RecoveringAReadyCoordinatorNeedsForce) {
  const v1::SetManifestResponse first = SetSeeded();
  Restart();
  ASSERT_TRUE(RecoverAsOwner());

  auto again = RecoverAsOwner(/*force=*/false);
  EXPECT_THAT(again, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(again.error().message, HasSubstr("--force"));
  EXPECT_TRUE(Must(UserClient(UserTarget()).GetVersion()).ready());

  auto forced = RecoverAsOwner(/*force=*/true);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(forced->root_ca(), first.root_ca());
  EXPECT_EQ(forced->mesh_ca(), first.mesh_ca());
  EXPECT_EQ(forced->latest_transition_hash(), first.transition_hash());
  EXPECT_TRUE(Must(UserClient(UserTarget()).GetVersion()).ready());
  EXPECT_THAT(Metrics(), AllOf(HasSubstr("contrast_recoveries_total{result=\"ok\"} 2\n"),
                               HasSubstr("contrast_recoveries_total{result=\"failed-precondition\"} 1\n")));
  EXPECT_TRUE(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)));
}

TEST_F(Recovery, ForceOnANeverRestartedCoordinatorKeepsItsState) {
  const v1::SetManifestResponse first = SetSeeded();
  auto forced = RecoverAsOwner(/*force=*/true);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(forced->mesh_ca(), first.mesh_ca());
  EXPECT_EQ(forced->latest_transition_hash(), first.transition_hash());
  EXPECT_EQ(Must(UserClient(UserTarget()).GetHistory(SeededManifest())).mesh_ca, first.mesh_ca());
}

TEST_F(Recovery, CoordinatorWhoseStoreWasReplacedRecoversToTheStoredHistory) {
  SetSeeded();
  // Another Coordinator's history (same seed-share owners, its own seed)
  // copied over ours: ours stops serving and can only continue from it with
  // the seed of the history now stored.
  TempDir elsewhere;
  CoordinatorOptions options = Options();
  options.state_dir = elsewhere.path() / "history";
  SeedAndSalt theirs;
  v1::SetManifestResponse their_first;
  {
    auto other = Must(Coordinator::Start(options, coordinator_issuer_));
    manifest::Manifest m = SeededManifest();
    m.policies[HashOf(kDbPolicy)].sans = {"db-other"};
    their_first = Must(
        UserClient("127.0.0.1:" + std::to_string(other->user_api_port())).SetManifest(Request(ManifestText(m)), m));
    theirs = DecryptShare(their_first.seed_share_document(), SeedshareOwnerKey(0));
  }
  std::filesystem::copy(options.state_dir, StoreDir(),
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  // The watch or the next read finds the foreign signature; either way the
  // Coordinator stops serving and shows the stored history as unverified.
  auto history = UserClient(UserTarget()).GetHistory(SeededManifest());
  if (history) {
    EXPECT_TRUE(history->awaiting_recovery);
  }
  ASSERT_TRUE(BecomesNotReady());
  EXPECT_THAT(Must(UserClient(UserTarget()).GetVersion()).reason(), HasSubstr("changed by another writer"));

  EXPECT_THAT(RecoverAsOwner(), RefusedWith("PERMISSION_DENIED"));
  auto recovered = Recover(SignedRecover(theirs, SeedshareOwnerKey(0)));
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(recovered->latest_transition_hash(), their_first.transition_hash());
  EXPECT_EQ(recovered->root_ca(), their_first.root_ca());
  EXPECT_EQ(recovered->mesh_ca(), their_first.mesh_ca());
  EXPECT_TRUE(Must(UserClient(UserTarget()).GetVersion()).ready());
}

// ---- Workload secrets -----------------------------------------------------------

class WorkloadSecrets : public Recovery {
 protected:
  Bytes SecretFor(const std::string& policy) {
    auto response = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(policy));
    if (!response) throw std::runtime_error(response.error().message);
    return ToBytes(response->workload_secret());
  }
};

TEST_F(WorkloadSecrets, AreDerivedFromTheSeedAndStable) {
  const v1::SetManifestResponse first = SetSeeded(SecretsManifest(), PoliciesWithCache());
  auto engine = Must(seed::SeedEngine::FromSeed(secret_.seed, secret_.salt));
  const Bytes db = Must(engine->WorkloadSecret("db"));
  const Bytes web = Must(engine->WorkloadSecret("web"));
  ASSERT_EQ(db.size(), 64u);
  EXPECT_NE(db, web);

  EXPECT_EQ(SecretFor(kDbPolicy), db);
  EXPECT_EQ(SecretFor(kWebPolicy), web);
  EXPECT_EQ(SecretFor(kDbPolicy), db) << "a second pod of the same entry";
  EXPECT_TRUE(SecretFor(kCachePolicy).empty());

  // An update that keeps the IDs keeps the secrets; a renamed ID changes.
  manifest::Manifest next = SecretsManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default"};
  next.policies[HashOf(kWebPolicy)].workload_secret_id = "web-v2";
  const v1::SetManifestResponse second = Update(next, first.transition_hash(), PoliciesWithCache());
  EXPECT_EQ(SecretFor(kDbPolicy), db);
  const Bytes web_v2 = SecretFor(kWebPolicy);
  EXPECT_EQ(web_v2, Must(engine->WorkloadSecret("web-v2")));
  EXPECT_NE(web_v2, web);

  // And restart plus recovery keeps them all.
  Restart();
  ASSERT_TRUE(RecoverAsOwner());
  EXPECT_EQ(SecretFor(kDbPolicy), db);
  EXPECT_EQ(SecretFor(kWebPolicy), web_v2);
  EXPECT_TRUE(SecretFor(kCachePolicy).empty());
}

TEST_F(WorkloadSecrets, DifferPerDeployment) {
  SetSeeded(SecretsManifest(), PoliciesWithCache());
  const Bytes ours = SecretFor(kDbPolicy);
  TempDir elsewhere;
  CoordinatorOptions options = Options();
  options.state_dir = elsewhere.path() / "history";
  auto other = Must(Coordinator::Start(options, coordinator_issuer_));
  const manifest::Manifest m = SecretsManifest();
  Must(UserClient("127.0.0.1:" + std::to_string(other->user_api_port()))
           .SetManifest(Request(ManifestText(m), PoliciesWithCache()), m));
  auto theirs = MeshClient("127.0.0.1:" + std::to_string(other->mesh_api_port())).NewMeshCert(*IssuerFor(kDbPolicy));
  ASSERT_TRUE(theirs) << theirs.error().message;
  EXPECT_EQ(theirs->workload_secret().size(), 64u);
  EXPECT_NE(ToBytes(theirs->workload_secret()), ours);
}

// ---- A tampered store -------------------------------------------------------------

// Two manifests in the store; the names of what a tampering case touches.
struct StoredHistory {
  std::string first_transition;   // hex
  std::string second_transition;  // hex
  std::string first_manifest;     // hex SHA-256
  std::string second_manifest;    // hex SHA-256
  std::string web_policy;         // hex SHA-256
  // Where each transition's sealed CA state is: sealed/<SHA-256 of the
  // transitions/latest record it was written with>.
  std::string first_sealed;
  std::string second_sealed;
};

struct Tampering {
  std::string name;
  std::function<void(const std::filesystem::path& store, const StoredHistory& stored)> apply;
  std::string status;  // the refusal's gRPC status
  // What the refusal message must name.
  std::function<std::vector<std::string>(const StoredHistory& stored)> named;
};

std::ostream& operator<<(std::ostream& out, const Tampering& tampering) { return out << tampering.name; }

class TamperedStore : public Recovery, public ::testing::WithParamInterface<Tampering> {};

TEST_P(TamperedStore, IsRefusedWithTheReasonAndLeftAlone) {
  const v1::SetManifestResponse first = SetSeeded();
  const Bytes first_latest = Must(ReadFile(StoreDir() / "transitions" / "latest"));
  manifest::Manifest next = SeededManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default"};
  const std::string next_text = ManifestText(next);
  const v1::SetManifestResponse second = Update(next, first.transition_hash());
  const Bytes second_latest = Must(ReadFile(StoreDir() / "transitions" / "latest"));
  const StoredHistory stored{HexEncode(ToBytes(first.transition_hash())),
                             HexEncode(ToBytes(second.transition_hash())),
                             HexEncode(manifest::ManifestHash(AsBytes(ManifestText(SeededManifest())))),
                             HexEncode(manifest::ManifestHash(AsBytes(next_text))),
                             HashOf(kWebPolicy).Hex(),
                             HexEncode(crypto::Sha256(first_latest)),
                             HexEncode(crypto::Sha256(second_latest))};
  StopCoordinator();
  GetParam().apply(StoreDir(), stored);
  StartCoordinator();
  const auto before = StoreFiles(StoreDir());

  auto recovered = RecoverAsOwner();
  ASSERT_THAT(recovered, RefusedWith(GetParam().status.c_str()));
  for (const std::string& name : GetParam().named(stored)) EXPECT_THAT(recovered.error().message, HasSubstr(name));
  EXPECT_EQ(StoreFiles(StoreDir()), before);
  ExpectAwaitingRecovery();
  EXPECT_THAT(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)), RefusedWith("FAILED_PRECONDITION"));
  // GetVersion and the probes still answer: nothing crashed.
  EXPECT_EQ(Must(http::Get(ProbeUrl("/probe/readiness"))).status, 503);
}

std::filesystem::path KeyPath(const std::filesystem::path& store, const std::string& prefix, const std::string& hex) {
  return store / prefix / hex;
}

const std::vector<Tampering> kTamperings = {
    {"LatestManifestByte",
     [](const auto& store, const StoredHistory& s) { FlipByte(KeyPath(store, "manifests", s.second_manifest), 10); },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"manifests/" + s.second_manifest}; }},
    {"FirstManifestByte",
     [](const auto& store, const StoredHistory& s) { FlipByte(KeyPath(store, "manifests", s.first_manifest), 0); },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"manifests/" + s.first_manifest}; }},
    {"PolicyByte",
     [](const auto& store, const StoredHistory& s) { FlipByte(KeyPath(store, "policies", s.web_policy), 3); },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"policies/" + s.web_policy}; }},
    {"LatestTransitionRecordByte",
     [](const auto& store, const StoredHistory& s) {
       FlipByte(KeyPath(store, "transitions", s.second_transition), 40);
     },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"transitions/" + s.second_transition}; }},
    {"FirstTransitionRecordByte",
     [](const auto& store, const StoredHistory& s) { FlipByte(KeyPath(store, "transitions", s.first_transition), 5); },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"transitions/" + s.first_transition}; }},
    {"SealedStateByte",
     [](const auto& store, const StoredHistory& s) { FlipByte(KeyPath(store, "sealed", s.second_sealed), 40); },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"sealed/" + s.second_sealed}; }},
    {"SealedStateMagicByte",
     [](const auto& store, const StoredHistory& s) { FlipByte(KeyPath(store, "sealed", s.second_sealed), 0); },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"sealed/" + s.second_sealed}; }},
    {"SealedStateDeleted",
     [](const auto& store, const StoredHistory& s) {
       ASSERT_TRUE(std::filesystem::remove(KeyPath(store, "sealed", s.second_sealed)));
     },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) {
       return std::vector<std::string>{"sealed/" + s.second_sealed, "missing"};
     }},
    {"SealedStateOfAnotherTransition",
     // The first transition's record is authentic, but bound to another
     // latest record.
     [](const auto& store, const StoredHistory& s) {
       std::filesystem::copy_file(KeyPath(store, "sealed", s.first_sealed), KeyPath(store, "sealed", s.second_sealed),
                                  std::filesystem::copy_options::overwrite_existing);
     },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"sealed/" + s.second_sealed}; }},
    {"SealedStateIsADirectory",
     [](const auto& store, const StoredHistory& s) {
       const auto sealed = KeyPath(store, "sealed", s.second_sealed);
       ASSERT_TRUE(std::filesystem::remove(sealed));
       ASSERT_TRUE(std::filesystem::create_directory(sealed));
     },
     "FAILED_PRECONDITION",
     [](const StoredHistory& s) { return std::vector<std::string>{"sealed/" + s.second_sealed}; }},
    {"LatestSignatureByte",
     [](const auto& store, const StoredHistory&) {
       const auto latest = store / "transitions" / "latest";
       FlipByte(latest, std::filesystem::file_size(latest) - 1);
     },
     "PERMISSION_DENIED", [](const StoredHistory&) { return std::vector<std::string>{"transitions/latest"}; }},
    {"LatestHashByte", [](const auto& store, const StoredHistory&) { FlipByte(store / "transitions" / "latest", 0); },
     "PERMISSION_DENIED", [](const StoredHistory&) { return std::vector<std::string>{"transitions/latest"}; }},
    {"LatestEmpty",
     [](const auto& store, const StoredHistory&) {
       ASSERT_TRUE(WriteFileAtomic(store / "transitions" / "latest", Bytes{}));
     },
     "FAILED_PRECONDITION", [](const StoredHistory&) { return std::vector<std::string>{"transitions/latest"}; }},
    {"LatestTruncated",
     [](const auto& store, const StoredHistory&) {
       const auto latest = store / "transitions" / "latest";
       Bytes bytes = Must(ReadFile(latest));
       bytes.resize(32);
       ASSERT_TRUE(WriteFileAtomic(latest, bytes));
     },
     "FAILED_PRECONDITION", [](const StoredHistory&) { return std::vector<std::string>{"transitions/latest"}; }},
};

INSTANTIATE_TEST_SUITE_P(Recovery, TamperedStore, ::testing::ValuesIn(kTamperings),
                         [](const ::testing::TestParamInfo<Tampering>& param_info) { return param_info.param.name; });

TEST_F(Recovery, OlderSignedLatestRecoversToTheOlderTransition) {
  const v1::SetManifestResponse first = SetSeeded();
  const Bytes first_latest = Must(ReadFile(StoreDir() / "transitions" / "latest"));
  manifest::Manifest next = SeededManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default"};
  const v1::SetManifestResponse second = Update(next, first.transition_hash());
  StopCoordinator();
  // A rollback: the pointer of the first transition, signed by the same key,
  // put back. Every record of it is authentic, so the Coordinator cannot tell
  // it from the real latest state; `contrast verify` detects it against the
  // latest transition it saved the last time (verify/latest-transition).
  ASSERT_TRUE(WriteFileAtomic(StoreDir() / "transitions" / "latest", first_latest));
  StartCoordinator();

  auto recovered = RecoverAsOwner();
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(recovered->latest_transition_hash(), first.transition_hash());
  EXPECT_EQ(recovered->mesh_ca(), first.mesh_ca());
  EXPECT_NE(recovered->mesh_ca(), second.mesh_ca());
  const UserClient::History history = Must(UserClient(UserTarget()).GetHistory(SeededManifest()));
  EXPECT_THAT(history.manifests, ElementsAre(ManifestText(SeededManifest())));
  EXPECT_EQ(history.latest_transition_hash, first.transition_hash());
  EXPECT_THAT(Metrics(), HasSubstr("contrast_manifest_generation 1\n"));
}

// ---- Two writers on one store ------------------------------------------------
//
// Two Coordinator processes on one state directory (what DirectoryStore's
// cross-process lock is there for) compute the same transition T for the same
// request. Each attempt seals its CA state under its own signed latest record
// (history::SealedStateBinding), so the writer that loses the
// compare-and-swap on transitions/latest leaves an unreferenced record behind
// and never overwrites the winner's.

// Runs `before_sealed_write` once, just before the first write of a sealed/
// key through it: a deterministic interleaving of two writers.
class InterleavingStore final : public history::Store {
 public:
  InterleavingStore(std::shared_ptr<history::Store> base, std::function<void()> before_sealed_write)
      : base_(std::move(base)), before_sealed_write_(std::move(before_sealed_write)) {}
  Result<std::optional<Bytes>> Get(std::string_view key) override { return base_->Get(key); }
  Result<bool> Has(std::string_view key) override { return base_->Has(key); }
  Status Set(std::string_view key, ByteView value) override {
    if (key.starts_with("sealed/") && before_sealed_write_) std::exchange(before_sealed_write_, nullptr)();
    return base_->Set(key, value);
  }
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override {
    return base_->CompareAndSwap(key, expected, value);
  }

 private:
  std::shared_ptr<history::Store> base_;
  std::function<void()> before_sealed_write_;
};

// A ManifestUpdater with its own state, as in one Coordinator process.
struct UpdaterProcess {
  explicit UpdaterProcess(std::shared_ptr<history::Store> store)
      : updater(Must(ManifestUpdater::Open(std::move(store), guard, metrics, QuietLogger()))) {}

  Result<RecoverOutput> Recover(const SeedAndSalt& secret) {
    RecoverInput input{secret.seed, secret.salt,
                       false,       SeedsharePublicKey(SeedshareOwnerKey(0)),
                       {},          ToBytes("this process's session key")};
    input.owner_signature =
        Must(seed::SignWithOwnerKey(SeedshareOwnerKey(0), seed::RecoverAuthorizationMessage(
                                                              input.coordinator_spki, input.seed, input.salt, false)));
    return updater->Recover(input);
  }
  SeedAndSalt Secret() const { return {guard.Current()->seed->seed(), guard.Current()->seed->salt()}; }

  StateGuard guard;
  observability::Registry registry;
  CoordinatorMetrics metrics{registry};
  std::unique_ptr<ManifestUpdater> updater;
};

SetManifestInput InputFor(const manifest::Manifest& m) {
  SetManifestInput input;
  input.manifest = ToBytes(ManifestText(m));
  for (const std::string& p : AllPolicies()) input.policies.push_back(ToBytes(p));
  return input;
}

TEST(TwoWriters, FirstManifestLoserDoesNotOverwriteTheWinnersSealedState) {
  TempDir dir;
  std::shared_ptr<history::Store> store = Must(history::DirectoryStore::Open(dir.path()));
  // B has found no history yet; A makes its whole first manifest before B
  // writes sealed/<T>; B's compare-and-swap then fails.
  UpdaterProcess a(store);
  std::optional<Result<SetManifestOutput>> won;
  UpdaterProcess b(
      std::make_shared<InterleavingStore>(store, [&] { won = a.updater->SetManifest(InputFor(SeededManifest())); }));
  EXPECT_FALSE(b.updater->SetManifest(InputFor(SeededManifest())));
  ASSERT_TRUE(won.has_value() && *won);

  // A restarts: its own seed brings back its own CA (B's sealed record, under
  // B's seed, lies beside it unreferenced).
  UpdaterProcess restarted(store);
  auto recovered = restarted.Recover(a.Secret());
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(recovered->mesh_ca_pem, (*won)->mesh_ca_pem);
}

TEST(TwoWriters, UpdateLoserDoesNotReplaceTheWinnersMeshCa) {
  TempDir dir;
  std::shared_ptr<history::Store> store = Must(history::DirectoryStore::Open(dir.path()));
  UpdaterProcess a(store);
  auto first = a.updater->SetManifest(InputFor(SeededManifest()));
  ASSERT_TRUE(first) << first.error().message;
  // The owner sends the same signed update to both (a retry to another
  // replica); A completes it before B writes sealed/<T2>.
  manifest::Manifest next = SeededManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default"};
  SetManifestInput update = InputFor(next);
  update.owner_public_key = Owner().spki;
  update.owner_signature = Must(history::SignTransition(
      Owner().key, RootKeyOf(first->root_ca_pem),
      history::ComputeTransitionHash(manifest::ManifestHash(update.manifest), first->transition_hash)));
  // B: a second process on the same store, recovered with the same seed.
  std::optional<Result<SetManifestOutput>> won;
  UpdaterProcess b(std::make_shared<InterleavingStore>(store, [&] { won = a.updater->SetManifest(update); }));
  ASSERT_TRUE(b.Recover(a.Secret()));
  auto lost = b.updater->SetManifest(update);
  ASSERT_FALSE(lost);
  ASSERT_TRUE(won.has_value() && *won);
  // B says why and catches up with A rather than stopping: a replica of the
  // same deployment moved first.
  EXPECT_EQ(lost.error().code, ErrorCode::kConflict) << lost.error().message;
  EXPECT_THAT(lost.error().message, HasSubstr("concurrent update"));
  EXPECT_FALSE(b.guard.stale_reason().has_value());
  EXPECT_EQ(b.guard.Current()->latest_transition, (*won)->transition_hash);
  EXPECT_EQ(b.guard.Current()->ca.mesh_ca_pem(), (*won)->mesh_ca_pem);

  // A served certificates under its new mesh CA; after a restart the same
  // mesh CA comes back, not B's (sealed under the same seed for the same
  // transition, but for another signed record).
  UpdaterProcess restarted(store);
  auto recovered = restarted.Recover(a.Secret());
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(recovered->mesh_ca_pem, (*won)->mesh_ca_pem);
}

// Replicas: processes of one deployment (same seed) on one store.
struct Replicas : ::testing::Test {
  Replicas() : store(Must(history::DirectoryStore::Open(dir.path()))), a(store), b(store) {
    first = Must(a.updater->SetManifest(InputFor(SeededManifest())));
    Must(b.Recover(a.Secret()));
  }

  // An update of A's current manifest, signed by the owner on top of
  // `previous`.
  SetManifestInput Update(const std::string& san, const history::TransitionHash& previous) const {
    manifest::Manifest next = SeededManifest();
    next.policies[HashOf(kDbPolicy)].sans = {san};
    SetManifestInput update = InputFor(next);
    update.owner_public_key = Owner().spki;
    update.owner_signature = Must(
        history::SignTransition(Owner().key, RootKeyOf(first.root_ca_pem),
                                history::ComputeTransitionHash(manifest::ManifestHash(update.manifest), previous)));
    return update;
  }

  TempDir dir;
  std::shared_ptr<history::Store> store;
  UpdaterProcess a;
  UpdaterProcess b;
  SetManifestOutput first;
};

TEST_F(Replicas, OneReloadsWhatTheOtherSet) {
  EXPECT_EQ(Must(b.updater->Reload()), ManifestUpdater::ReloadOutcome::kUnchanged);
  const SetManifestInput update = Update("db2", first.transition_hash);
  auto second = a.updater->SetManifest(update);
  ASSERT_TRUE(second) << second.error().message;

  EXPECT_EQ(Must(b.updater->Reload()), ManifestUpdater::ReloadOutcome::kReloaded);
  const std::shared_ptr<const State> state = b.guard.Current();
  EXPECT_EQ(state->manifest_bytes, update.manifest);
  EXPECT_EQ(state->latest_transition, second->transition_hash);
  EXPECT_EQ(state->generation, 2u);
  // The same mesh CA (from the sealed state), under the same root.
  EXPECT_EQ(state->ca.mesh_ca_pem(), second->mesh_ca_pem);
  EXPECT_EQ(state->ca.root_pem(), a.guard.Current()->ca.root_pem());
  EXPECT_TRUE(b.guard.readiness().ready);
  EXPECT_EQ(Must(b.updater->Reload()), ManifestUpdater::ReloadOutcome::kUnchanged);
}

TEST_F(Replicas, AnUpdateSentToAReplicaThatHasNotReloadedYetSucceeds) {
  // A moves to T2; B has not looked yet. The owner signs on top of T2 (what
  // GetLatestTransition on A said) and sends the next update to B.
  auto second = Must(a.updater->SetManifest(Update("db2", first.transition_hash)));
  auto third = b.updater->SetManifest(Update("db3", second.transition_hash));
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(b.guard.Current()->generation, 3u);
  EXPECT_EQ(Must(a.updater->Reload()), ManifestUpdater::ReloadOutcome::kReloaded);
  EXPECT_EQ(a.guard.Current()->latest_transition, third->transition_hash);
}

TEST_F(Replicas, AnUpdateSignedOnAnOlderTransitionNamesTheConcurrentUpdate) {
  Must(a.updater->SetManifest(Update("db2", first.transition_hash)));
  SetManifestInput late = Update("db3", first.transition_hash);
  late.previous_transition_hash = Bytes(first.transition_hash.begin(), first.transition_hash.end());
  auto refused = b.updater->SetManifest(late);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("concurrent update"));
  late.previous_transition_hash.clear();
  refused = b.updater->SetManifest(late);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_THAT(refused.error().message, HasSubstr("concurrent update"));
  EXPECT_TRUE(b.guard.readiness().ready);
}

TEST_F(Replicas, AStoreRolledBackToAnOlderSignedRecordTurnsTheReplicaStale) {
  const Bytes older = Must(store->Get(history::kLatestKey)).value();
  Must(a.updater->SetManifest(Update("db2", first.transition_hash)));
  EXPECT_EQ(Must(b.updater->Reload()), ManifestUpdater::ReloadOutcome::kReloaded);
  // Someone with write access to the store puts the first record back: it is
  // signed by this deployment, but the replicas have moved past it.
  ASSERT_TRUE(store->Set(history::kLatestKey, older));
  auto refused = b.updater->Reload();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("does not extend this Coordinator's transition"));
  EXPECT_EQ(b.guard.stale_reason(), std::string(kDivergedHistoryReason));
  EXPECT_FALSE(b.guard.readiness().ready);
}

TEST_F(Replicas, AReplicaWithoutTheSeedReloadsNothing) {
  UpdaterProcess c(store);
  EXPECT_EQ(Must(c.updater->Reload()), ManifestUpdater::ReloadOutcome::kAwaitingRecovery);
  EXPECT_EQ(c.guard.Current(), nullptr);
}

// A store that can be made unreachable.
class UnreachableStore final : public history::Store {
 public:
  explicit UnreachableStore(std::shared_ptr<history::Store> base) : base_(std::move(base)) {}
  Result<std::optional<Bytes>> Get(std::string_view key) override {
    if (auto reachable = Reachable(); !reachable) return Fail(reachable.error());
    return base_->Get(key);
  }
  Result<bool> Has(std::string_view key) override {
    if (auto reachable = Reachable(); !reachable) return Fail(reachable.error());
    return base_->Has(key);
  }
  Status Set(std::string_view key, ByteView value) override {
    if (auto reachable = Reachable(); !reachable) return Fail(reachable.error());
    return base_->Set(key, value);
  }
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override {
    if (auto reachable = Reachable(); !reachable) return Fail(reachable.error());
    return base_->CompareAndSwap(key, expected, value);
  }
  // A watch that never reports anything, as an etcd member without quorum
  // keeps its watch streams open and silent.
  Result<std::unique_ptr<history::StoreWatch>> Watch(std::string_view key, history::WatchCallbacks callbacks) override {
    if (silent_watch) return std::make_unique<history::StoreWatch>();
    return history::Store::Watch(key, std::move(callbacks));
  }
  std::atomic<bool> down{false};
  bool silent_watch = false;

 private:
  Status Reachable() const {
    if (down) return Fail(ErrorCode::kUnavailable, "test: the store is cut off");
    return {};
  }
  std::shared_ptr<history::Store> base_;
};

// Applies every write, but answers the `lose`-th successful compare-and-swap
// (on transitions/latest, the only key swapped) with kUnavailable: a store
// whose answer was lost.
class LostAnswerStore final : public history::Store {
 public:
  explicit LostAnswerStore(std::shared_ptr<history::Store> base, int lose = 1) : base_(std::move(base)), lose_(lose) {}
  Result<std::optional<Bytes>> Get(std::string_view key) override { return base_->Get(key); }
  Result<bool> Has(std::string_view key) override { return base_->Has(key); }
  Status Set(std::string_view key, ByteView value) override { return base_->Set(key, value); }
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override {
    auto swapped = base_->CompareAndSwap(key, expected, value);
    if (swapped && *swapped && --lose_ == 0) return Fail(ErrorCode::kUnavailable, "test: the answer was lost");
    return swapped;
  }

 private:
  std::shared_ptr<history::Store> base_;
  int lose_;
};

TEST(TwoWriters, AFirstManifestWhoseAnswerWasLostIsAdoptedWithItsSeed) {
  TempDir dir;
  std::shared_ptr<history::Store> store =
      std::make_shared<LostAnswerStore>(Must(history::DirectoryStore::Open(dir.path())));
  UpdaterProcess a(store);
  const SetManifestInput first = InputFor(SeededManifest());
  auto lost = a.updater->SetManifest(first);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable) << lost.error().message;
  // The store did take it: the Coordinator adopts it under the seed it drew
  // rather than waiting for a seed nobody has.
  EXPECT_EQ(Must(a.updater->Reload()), ManifestUpdater::ReloadOutcome::kReloaded);
  ASSERT_TRUE(a.guard.readiness().ready) << a.guard.readiness().reason;
  // The owner's retry of the same first manifest gets the answer, with the
  // seed shares of the seed actually in use.
  auto retried = a.updater->SetManifest(first);
  ASSERT_TRUE(retried) << retried.error().message;
  ASSERT_TRUE(retried->seed_shares.has_value());
  EXPECT_EQ(retried->transition_hash, a.guard.Current()->latest_transition);
  // Those shares recover a restarted Coordinator.
  const SeedAndSalt from_shares{Must(seed::DecryptSeedShare(*retried->seed_shares, SeedshareOwnerKey(0))),
                                retried->seed_shares->salt};
  EXPECT_EQ(from_shares.seed, a.Secret().seed);
  UpdaterProcess restarted(store);
  auto recovered = restarted.Recover(from_shares);
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_EQ(recovered->latest_transition, retried->transition_hash);
}

// The owner's client retries an update whose answer was lost (the CLI does
// on UNAVAILABLE), to the same replica or another: the store took it, so the
// retry gets the update's answer, not "concurrent update", and the history
// holds it once.
TEST(TwoWriters, ARetriedUpdateWhoseAnswerWasLostIsAnsweredNotRefused) {
  TempDir dir;
  std::shared_ptr<history::Store> base = Must(history::DirectoryStore::Open(dir.path()));
  UpdaterProcess a(std::make_shared<LostAnswerStore>(base, /*lose=*/2));
  const SetManifestOutput first = Must(a.updater->SetManifest(InputFor(SeededManifest())));
  UpdaterProcess b(base);
  ASSERT_TRUE(b.Recover(a.Secret()));

  for (const bool atomic : {false, true}) {
    SCOPED_TRACE(atomic ? "--atomic" : "plain");
    const history::TransitionHash previous = a.guard.Current()->latest_transition;
    manifest::Manifest next = SeededManifest();
    next.policies[HashOf(kDbPolicy)].sans = {atomic ? "db-atomic" : "db-plain"};
    SetManifestInput update = InputFor(next);
    update.owner_public_key = Owner().spki;
    update.owner_signature = Must(
        history::SignTransition(Owner().key, RootKeyOf(first.root_ca_pem),
                                history::ComputeTransitionHash(manifest::ManifestHash(update.manifest), previous)));
    if (atomic) update.previous_transition_hash = Bytes(previous.begin(), previous.end());
    if (!atomic) {
      auto lost = a.updater->SetManifest(update);
      ASSERT_FALSE(lost);
      ASSERT_EQ(lost.error().code, ErrorCode::kUnavailable) << lost.error().message;
    } else {
      ASSERT_TRUE(a.updater->SetManifest(update));
    }
    const history::TransitionHash stored = Must(history::ReadLatestUnverified(*base))->transition_hash;
    for (UpdaterProcess* replica : {&a, &b}) {
      EXPECT_TRUE(replica->updater->CheckBeforePolicies(update));
      auto retried = replica->updater->SetManifest(update);
      ASSERT_TRUE(retried) << retried.error().message;
      EXPECT_EQ(retried->transition_hash, stored);
      EXPECT_FALSE(retried->seed_shares.has_value());
    }
    EXPECT_EQ(a.guard.Current()->latest_transition, stored);
  }
  EXPECT_EQ(a.guard.Current()->generation, 3u);
  EXPECT_EQ(b.guard.Current()->generation, 3u);

  // The same manifest signed for another transition is still refused.
  SetManifestInput other = InputFor(SeededManifest());
  other.manifest = a.guard.Current()->manifest_bytes;
  other.owner_public_key = Owner().spki;
  other.owner_signature = Must(history::SignTransition(
      Owner().key, RootKeyOf(first.root_ca_pem),
      history::ComputeTransitionHash(manifest::ManifestHash(other.manifest), first.transition_hash)));
  auto refused = b.updater->SetManifest(other);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignatureInvalid);
}

TEST_F(Recovery, ACoordinatorThatCannotSeeItsStoreIsNotReadyUntilItCatchesUp) {
  auto store = std::make_shared<UnreachableStore>(Must(history::DirectoryStore::Open(dir_.path() / "cut")));
  RestartOn(store);
  SetFirstManifest();
  ASSERT_TRUE(coordinator_->readiness().ready);

  store->down = true;
  ASSERT_TRUE(BecomesNotReady());
  EXPECT_THAT(coordinator_->readiness().reason, HasSubstr("the history store is unreachable"));
  auto refused = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy));
  EXPECT_THAT(refused, RefusedWith("UNAVAILABLE"));

  store->down = false;
  ReadinessBecomes([](const Readiness& readiness) { return readiness.ready; });
  EXPECT_TRUE(coordinator_->readiness().ready) << coordinator_->readiness().reason;
  EXPECT_TRUE(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)));
}

// A request that cannot read the store turns the Coordinator not ready even
// when its watch has not noticed (and ready again once a reload succeeds).
TEST_F(Recovery, ARequestThatFindsTheStoreUnreachableTurnsTheCoordinatorNotReady) {
  auto store = std::make_shared<UnreachableStore>(Must(history::DirectoryStore::Open(dir_.path() / "silent")));
  store->silent_watch = true;
  RestartOn(store);
  SetSeeded();
  ASSERT_TRUE(coordinator_->readiness().ready);

  store->down = true;
  EXPECT_TRUE(coordinator_->readiness().ready) << "the watch is silent: only a request can find out";
  EXPECT_THAT(UserClient(UserTarget()).GetLatestTransition(SeededManifest()), RefusedWith("UNAVAILABLE"));
  EXPECT_FALSE(coordinator_->readiness().ready);
  EXPECT_THAT(coordinator_->readiness().reason, HasSubstr("the history store is unreachable"));
  EXPECT_THAT(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)), RefusedWith("UNAVAILABLE"));

  store->down = false;
  ReadinessBecomes([](const Readiness& readiness) { return readiness.ready; });
  EXPECT_TRUE(coordinator_->readiness().ready) << coordinator_->readiness().reason;
  EXPECT_TRUE(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)));
}

// A store that cannot be reached when the Coordinator starts (etcd still
// coming up beside it) is no reason to exit: the Coordinator serves, not
// ready, refuses updates with UNAVAILABLE, and finds out what the store holds
// once it answers.
TEST_F(Recovery, ACoordinatorStartedWhileItsStoreIsDownWaitsForIt) {
  auto store = std::make_shared<UnreachableStore>(Must(history::DirectoryStore::Open(dir_.path() / "late")));
  store->down = true;
  RestartOn(store);
  ASSERT_NE(coordinator_, nullptr);
  EXPECT_FALSE(coordinator_->readiness().ready);
  EXPECT_THAT(coordinator_->readiness().reason, HasSubstr("the history store is unreachable"));
  const manifest::Manifest m = SeededManifest();
  EXPECT_THAT(UserClient(UserTarget()).SetManifest(Request(ManifestText(m), AllPolicies()), m),
              RefusedWith("UNAVAILABLE"));

  store->down = false;
  ReadinessBecomes(
      [](const Readiness& readiness) { return readiness.reason.find("unreachable") == std::string::npos; });
  EXPECT_THAT(coordinator_->readiness().reason, Not(HasSubstr("unreachable")));
  SetSeeded();
  EXPECT_TRUE(coordinator_->readiness().ready) << coordinator_->readiness().reason;
}

// The same with a history in the store: once it answers, the Coordinator
// knows it restarted and awaits recovery.
TEST_F(Recovery, ACoordinatorStartedWhileItsStoreIsDownFindsItsHistoryLater) {
  auto store = std::make_shared<UnreachableStore>(Must(history::DirectoryStore::Open(dir_.path() / "late")));
  RestartOn(store);
  SetSeeded();

  store->down = true;
  RestartOn(store);
  EXPECT_THAT(coordinator_->readiness().reason, HasSubstr("the history store is unreachable"));
  store->down = false;
  ReadinessBecomes([](const Readiness& readiness) { return readiness.reason == kAwaiting; });
  ExpectAwaitingRecovery();
  auto recovered = RecoverAsOwner();
  ASSERT_TRUE(recovered) << recovered.error().message;
  EXPECT_TRUE(coordinator_->readiness().ready) << coordinator_->readiness().reason;
}

// A WorkloadSecretID too long to derive a secret from (HKDF's info limit) is
// refused with the manifest, not later at every NewMeshCert of the entry.
TEST_F(WorkloadSecrets, AnIdTooLongToDeriveIsRefusedWithTheManifest) {
  manifest::Manifest m = SecretsManifest();
  m.policies[HashOf(kDbPolicy)].workload_secret_id = std::string(1100, 'x');
  auto set = UserClient(UserTarget()).SetManifest(Request(ManifestText(m), PoliciesWithCache()), m);
  EXPECT_THAT(set, RefusedWith("INVALID_ARGUMENT"));
  if (!set) {
    EXPECT_THAT(set.error().message, HasSubstr("WorkloadSecretID"));
  }
}

}  // namespace
}  // namespace contrast::coordinator::testing
