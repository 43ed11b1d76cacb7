// UserAPI over real gRPC on loopback: first manifest, signed updates,
// history, malformed input, and a restart on existing history.
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/http.h"
#include "crypto/x509.h"
#include "harness.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// Server status codes as the client sees them ("server: <CODE>: message").
class UserApi : public CoordinatorTest {};

TEST_F(UserApi, GetVersionBeforeAnyManifest) {
  auto version = UserClient(UserTarget()).GetVersion();
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version->version(), std::string(CoordinatorVersion()));
  EXPECT_FALSE(version->ready());
  EXPECT_EQ(version->reason(), "no manifest set");
}

TEST_F(UserApi, FirstManifestIsAcceptedAndAnswered) {
  const manifest::Manifest m = BaseManifest();
  const std::string text = manifest::SerializeManifest(m);
  auto response = UserClient(UserTarget()).SetManifest(Request(text), m);
  ASSERT_TRUE(response) << response.error().message;

  const auto root = Must(crypto::Certificate::ParsePem(response->root_ca()));
  const auto mesh = Must(crypto::Certificate::ParsePem(response->mesh_ca()));
  EXPECT_EQ(root.SubjectCommonName(), "system:coordinator:root");
  EXPECT_EQ(mesh.SubjectCommonName(), "system:coordinator:intermediate");
  EXPECT_EQ(HashFromBytes(response->transition_hash()),
            history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(text)), history::kNoPreviousTransition));

  auto version = UserClient(UserTarget()).GetVersion();
  ASSERT_TRUE(version);
  EXPECT_TRUE(version->ready());
  EXPECT_EQ(version->reason(), "");
}

TEST_F(UserApi, ClientRefusesACoordinatorItDoesNotTrust) {
  // The owner pins another emulator: the Coordinator's evidence is refused
  // before the manifest leaves the client, so nothing is set.
  manifest::Manifest pinned_elsewhere = BaseManifest();
  pinned_elsewhere.reference_values.emulated = {EmulatedEntry(OtherEmulator())};
  auto response =
      UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(pinned_elsewhere)), pinned_elsewhere);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUntrustedRoot) << response.error().message;
  EXPECT_FALSE(Must(UserClient(UserTarget()).GetVersion()).ready());
}

TEST_F(UserApi, UpdateSignedByListedOwnerIsAccepted) {
  const v1::SetManifestResponse first = SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  next.policies.erase(HashOf(kDbPolicy));
  const std::string text = manifest::SerializeManifest(next);
  const auto previous = HashFromBytes(first.transition_hash());

  auto response =
      UserClient(UserTarget())
          .SetManifest(Signed(Request(text, {kCoordinatorPolicy, kWebPolicy}), Owner(), previous, first.root_ca()),
                       next);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->root_ca(), first.root_ca());
  EXPECT_NE(response->mesh_ca(), first.mesh_ca());
  EXPECT_EQ(HashFromBytes(response->transition_hash()),
            history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(text)), previous));

  auto manifests = UserClient(UserTarget()).GetHistory(next);
  ASSERT_TRUE(manifests) << manifests.error().message;
  EXPECT_THAT(manifests->manifests, SizeIs(2));
  EXPECT_EQ(manifests->mesh_ca, response->mesh_ca());
}

TEST_F(UserApi, UpdateNamingTheCurrentTransitionIsAccepted) {
  const v1::SetManifestResponse first = SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db", "db.default.svc"};
  v1::SetManifestRequest request = Signed(Request(manifest::SerializeManifest(next)), Owner(),
                                          HashFromBytes(first.transition_hash()), first.root_ca());
  request.set_previous_transition_hash(first.transition_hash());
  auto response = UserClient(UserTarget()).SetManifest(request, next);
  EXPECT_TRUE(response) << response.error().message;
}

TEST_F(UserApi, UpdateBuildingOnAnOlderTransitionFailsThePrecondition) {
  const v1::SetManifestResponse first = SetFirstManifest();
  manifest::Manifest second = BaseManifest();
  second.policies[HashOf(kDbPolicy)].sans = {"db2"};
  const auto previous = HashFromBytes(first.transition_hash());
  ASSERT_TRUE(UserClient(UserTarget())
                  .SetManifest(Signed(Request(manifest::SerializeManifest(second)), Owner(), previous, first.root_ca()),
                               second));

  // Prepared against the first manifest, sent after the second was set.
  manifest::Manifest third = BaseManifest();
  third.policies[HashOf(kDbPolicy)].sans = {"db3"};
  v1::SetManifestRequest request =
      Signed(Request(manifest::SerializeManifest(third)), Owner(), previous, first.root_ca());
  request.set_previous_transition_hash(first.transition_hash());
  auto response = UserClient(UserTarget()).SetManifest(request, third);
  EXPECT_THAT(response, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(response.error().message, HasSubstr("is not the latest transition"));
}

TEST_F(UserApi, SignatureOverAnotherPredecessorIsRejected) {
  const v1::SetManifestResponse first = SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  next.policies.erase(HashOf(kDbPolicy));
  const std::string text = manifest::SerializeManifest(next);
  auto response =
      UserClient(UserTarget())
          .SetManifest(Signed(Request(text), Owner(), history::kNoPreviousTransition, first.root_ca()), next);
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("owner_signature does not authorize the transition"));
}

// Two deployments with the same first manifest are at the same transition;
// an owner signature made for one (its root CA) authorizes nothing at the
// other.
TEST_F(UserApi, SignatureForAnotherCoordinatorAtTheSameTransitionIsRejected) {
  const v1::SetManifestResponse here = SetFirstManifest();
  TempDir elsewhere_dir;
  CoordinatorOptions options = Options();
  options.state_dir = elsewhere_dir.path() / "history";
  auto elsewhere = Must(Coordinator::Start(options, coordinator_issuer_));
  const std::string elsewhere_target = "127.0.0.1:" + std::to_string(elsewhere->user_api_port());
  const v1::SetManifestResponse there = Must(
      UserClient(elsewhere_target).SetManifest(Request(manifest::SerializeManifest(BaseManifest())), BaseManifest()));
  ASSERT_EQ(there.transition_hash(), here.transition_hash());
  ASSERT_NE(there.root_ca(), here.root_ca());

  manifest::Manifest next = BaseManifest();
  next.policies.erase(HashOf(kDbPolicy));
  const v1::SetManifestRequest for_there = Signed(Request(manifest::SerializeManifest(next)), Owner(),
                                                  HashFromBytes(there.transition_hash()), there.root_ca());
  auto response = UserClient(UserTarget()).SetManifest(for_there, next);
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("at this Coordinator"));
  // The same signature is good where it was made for.
  EXPECT_TRUE(UserClient(elsewhere_target).SetManifest(for_there, next));
  elsewhere->Stop();
}

TEST_F(UserApi, UpdateSignedByAnotherKeyIsRejected) {
  const v1::SetManifestResponse first = SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  next.workload_owner_key_digests = {crypto::Sha256(Stranger().spki)};
  auto response = UserClient(UserTarget())
                      .SetManifest(Signed(Request(manifest::SerializeManifest(next)), Stranger(),
                                          HashFromBytes(first.transition_hash()), first.root_ca()),
                                   next);
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("is not a workload owner key of the current manifest"));

  // The listed key's public half with the stranger's signature.
  v1::SetManifestRequest forged = Signed(Request(manifest::SerializeManifest(next)), Stranger(),
                                         HashFromBytes(first.transition_hash()), first.root_ca());
  forged.set_owner_public_key(ToString(Owner().spki));
  response = UserClient(UserTarget()).SetManifest(forged, next);
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("owner_signature does not authorize"));

  auto manifests = UserClient(UserTarget()).GetHistory(BaseManifest());
  ASSERT_TRUE(manifests);
  EXPECT_THAT(manifests->manifests, SizeIs(1));
  EXPECT_EQ(manifests->latest_transition_hash, first.transition_hash());
}

TEST_F(UserApi, UnsignedUpdateIsRejected) {
  SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  next.policies.erase(HashOf(kDbPolicy));
  auto response = UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(next)), next);
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("not signed"));
}

TEST_F(UserApi, ManifestWithoutOwnerKeysCannotBeReplaced) {
  manifest::Manifest immutable = BaseManifest();
  immutable.workload_owner_key_digests.clear();
  const v1::SetManifestResponse first = SetFirstManifest(immutable);
  auto response = UserClient(UserTarget())
                      .SetManifest(Signed(Request(manifest::SerializeManifest(BaseManifest())), Owner(),
                                          HashFromBytes(first.transition_hash()), first.root_ca()),
                                   BaseManifest());
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message,
              HasSubstr("manifest updates are disabled: the current manifest lists no workload owner keys"));
}

TEST_F(UserApi, SeedshareOwnersCannotChange) {
  const v1::SetManifestResponse first = SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  auto rsa = Must(crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048));
  unsigned char* der = nullptr;
  const int length = i2d_PublicKey(rsa.get(), &der);
  ASSERT_GT(length, 0);
  next.seedshare_owner_pub_keys.push_back(Bytes(der, der + length));
  OPENSSL_free(der);
  auto response = UserClient(UserTarget())
                      .SetManifest(Signed(Request(manifest::SerializeManifest(next)), Owner(),
                                          HashFromBytes(first.transition_hash()), first.root_ca()),
                                   next);
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("SeedshareOwnerPubKeys"));
}

TEST_F(UserApi, GetManifestsReturnsTheWholeHistoryAsSent) {
  // Non-canonical JSON: the Coordinator must keep the exact bytes.
  const manifest::Manifest m1 = BaseManifest();
  const std::string text1 = manifest::SerializeManifest(m1) + "\n\n";
  auto first = Must(UserClient(UserTarget()).SetManifest(Request(text1), m1));

  manifest::Manifest m2 = BaseManifest();
  m2.policies.erase(HashOf(kDbPolicy));  // the db policy is now only in the first manifest
  std::string text2 = manifest::SerializeManifest(m2);
  text2.insert(0, "  ");
  // Extra documents are ignored, not stored.
  auto second = Must(UserClient(UserTarget())
                         .SetManifest(Signed(Request(text2, {kWebPolicy, kUnlistedPolicy, kCoordinatorPolicy}), Owner(),
                                             HashFromBytes(first.transition_hash()), first.root_ca()),
                                      m2));

  manifest::Manifest m3 = m2;
  m3.policies[HashOf(kWebPolicy)].sans = {"web", "web.default.svc"};
  const std::string text3 = manifest::SerializeManifest(m3);
  auto third = Must(UserClient(UserTarget())
                        .SetManifest(Signed(Request(text3, {kCoordinatorPolicy, kWebPolicy}), Owner(),
                                            HashFromBytes(second.transition_hash()), first.root_ca()),
                                     m3));

  auto history = UserClient(UserTarget()).GetHistory(m3);
  ASSERT_TRUE(history) << history.error().message;
  EXPECT_THAT(history->manifests, ElementsAre(text1, text2, text3));
  EXPECT_THAT(history->policies, ::testing::UnorderedElementsAre(kCoordinatorPolicy, kWebPolicy, kDbPolicy));
  EXPECT_EQ(history->root_ca, first.root_ca());
  EXPECT_EQ(history->mesh_ca, third.mesh_ca());
  EXPECT_EQ(history->latest_transition_hash, third.transition_hash());
}

TEST_F(UserApi, GetManifestsWithoutAManifestFailsThePrecondition) {
  auto history = UserClient(UserTarget()).GetHistory(BaseManifest());
  EXPECT_THAT(history, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(history.error().message, HasSubstr("no manifest set"));
}

// ---- Malformed input ------------------------------------------------------

class MalformedManifest : public UserApi {
 protected:
  // The refusal of `text` as a first manifest (the client trusts BaseManifest).
  Error Refusal(const std::string& text, const std::vector<std::string>& policies = AllPolicies()) {
    auto response = UserClient(UserTarget()).SetManifest(Request(text, policies), BaseManifest());
    EXPECT_THAT(response, RefusedWith("INVALID_ARGUMENT"));
    return response ? Error{} : response.error();
  }
};

TEST_F(MalformedManifest, BadJson) {
  EXPECT_THAT(Refusal("{\"Policies\": ").message, HasSubstr("invalid manifest"));
  EXPECT_THAT(Refusal("").message, HasSubstr("invalid manifest"));
  EXPECT_THAT(Refusal(std::string("\xff\xfe\x00garbage", 10)).message, HasSubstr("invalid manifest"));
}

TEST_F(MalformedManifest, EveryProblemIsListedOnItsOwnLine) {
  nlohmann::json json = nlohmann::json::parse(manifest::SerializeManifest(BaseManifest()));
  // A key that is not hex, no coordinator policy any more, and an unknown
  // platform next to the emulated one.
  nlohmann::json policies = nlohmann::json::object();
  policies[std::string(64, 'z')] = {{"SANs", {"web"}}};
  policies[HashOf(kWebPolicy).Hex()] = {{"SANs", {"web"}}};
  json["Policies"] = policies;
  json["ReferenceValues"]["sev"] = nlohmann::json::array();
  const std::string message = Refusal(json.dump()).message;
  EXPECT_THAT(message, AllOf(HasSubstr("\nPolicies." + std::string(64, 'z')), HasSubstr("\nReferenceValues.sev"),
                             HasSubstr("coordinator")))
      << message;
}

TEST_F(MalformedManifest, BadHexInReferenceValues) {
  nlohmann::json json = nlohmann::json::parse(manifest::SerializeManifest(BaseManifest()));
  json["ReferenceValues"]["emulated"][0]["TrustedMeasurement"] = "xyz";
  json["ReferenceValues"]["emulated"][0]["EmulatedRootSHA256"] = "12";
  const std::string message = Refusal(json.dump()).message;
  EXPECT_THAT(message, AllOf(HasSubstr("ReferenceValues.emulated[0].TrustedMeasurement"),
                             HasSubstr("ReferenceValues.emulated[0].EmulatedRootSHA256")));
}

TEST_F(MalformedManifest, MissingCoordinatorPolicy) {
  manifest::Manifest m = BaseManifest();
  m.policies.erase(HashOf(kCoordinatorPolicy));
  EXPECT_THAT(Refusal(manifest::SerializeManifest(m)).message, HasSubstr("coordinator"));
}

TEST_F(MalformedManifest, EmulatedAndRealPlatformsConflict) {
  nlohmann::json json = nlohmann::json::parse(manifest::SerializeManifest(BaseManifest()));
  nlohmann::json real = json["ReferenceValues"]["emulated"][0];
  real.erase("EmulatedRootSHA256");
  json["ReferenceValues"]["snp"] = nlohmann::json::array({real});
  EXPECT_THAT(Refusal(json.dump()).message, HasSubstr("emulated entries cannot be combined with real platforms"));
}

TEST_F(MalformedManifest, MissingPolicyDocumentIsNamed) {
  const std::string message =
      Refusal(manifest::SerializeManifest(BaseManifest()), {kCoordinatorPolicy, kUnlistedPolicy}).message;
  EXPECT_THAT(message, AllOf(HasSubstr(HashOf(kWebPolicy).Hex()), HasSubstr(HashOf(kDbPolicy).Hex()),
                             Not(HasSubstr(HashOf(kCoordinatorPolicy).Hex()))));
  EXPECT_FALSE(Must(UserClient(UserTarget()).GetVersion()).ready());
}

TEST_F(MalformedManifest, PreviousTransitionOfTheWrongSize) {
  v1::SetManifestRequest request = Request(manifest::SerializeManifest(BaseManifest()));
  request.set_previous_transition_hash("short");
  auto response = UserClient(UserTarget()).SetManifest(request, BaseManifest());
  EXPECT_THAT(response, RefusedWith("INVALID_ARGUMENT"));
}

TEST_F(UserApi, FirstManifestClaimingAPredecessorFailsThePrecondition) {
  v1::SetManifestRequest request = Request(manifest::SerializeManifest(BaseManifest()));
  request.set_previous_transition_hash(std::string(32, '\x01'));
  auto response = UserClient(UserTarget()).SetManifest(request, BaseManifest());
  EXPECT_THAT(response, RefusedWith("FAILED_PRECONDITION"));
}

TEST_F(UserApi, ConcurrentFirstManifestsSetExactlyOne) {
  constexpr int kClients = 8;
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      manifest::Manifest m = BaseManifest();
      m.policies[HashOf(kDbPolicy)].sans = {"db" + std::to_string(i)};
      auto response = UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(m)), m);
      (response ? accepted : refused)++;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(refused.load(), kClients - 1);
  auto history = UserClient(UserTarget()).GetHistory(BaseManifest());
  ASSERT_TRUE(history);
  EXPECT_THAT(history->manifests, SizeIs(1));
}

// ---- Restart ------------------------------------------------------------

std::map<std::string, Bytes> FilesBelow(const std::filesystem::path& root) {
  std::map<std::string, Bytes> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[entry.path().lexically_relative(root).string()] = Must(ReadFile(entry.path()));
  }
  return files;
}

TEST_F(UserApi, RestartOnExistingHistoryAwaitsRecoveryAndLeavesItAlone) {
  const v1::SetManifestResponse first = SetFirstManifest();
  StopCoordinator();
  const auto before = FilesBelow(dir_.path() / "history");
  ASSERT_TRUE(before.count("transitions/latest"));

  StartCoordinator();
  const std::string reason(kAwaitingRecoveryReason);
  auto version = Must(UserClient(UserTarget()).GetVersion());
  EXPECT_FALSE(version.ready());
  EXPECT_EQ(version.reason(), reason);
  EXPECT_FALSE(coordinator_->readiness().ready);

  auto readiness = Must(http::Get(ProbeUrl("/probe/readiness")));
  EXPECT_EQ(readiness.status, 503);
  EXPECT_THAT(ToString(readiness.body), HasSubstr(reason));

  auto set = UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(BaseManifest())), BaseManifest());
  EXPECT_THAT(set, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(set.error().message, HasSubstr(reason));
  auto signed_update = UserClient(UserTarget())
                           .SetManifest(Signed(Request(manifest::SerializeManifest(BaseManifest())), Owner(),
                                               HashFromBytes(first.transition_hash()), first.root_ca()),
                                        BaseManifest());
  EXPECT_THAT(signed_update, RefusedWith("FAILED_PRECONDITION"));
  // The history is public: served as stored, marked as awaiting recovery.
  auto get = UserClient(UserTarget()).GetHistory(BaseManifest());
  ASSERT_TRUE(get) << get.error().message;
  EXPECT_TRUE(get->awaiting_recovery);
  EXPECT_EQ(get->reason, reason);
  EXPECT_EQ(get->latest_transition_hash, first.transition_hash());
  EXPECT_EQ(get->manifests.size(), 1u);
  EXPECT_TRUE(get->root_ca.empty());
  auto workload = IssuerFor(kWebPolicy);
  auto cert = MeshClient(MeshTarget()).NewMeshCert(*workload);
  EXPECT_THAT(cert, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(cert.error().message, HasSubstr(reason));

  StopCoordinator();
  EXPECT_EQ(FilesBelow(dir_.path() / "history"), before);
}

TEST_F(UserApi, ASecondCoordinatorOnTheSameStoreWaitsForTheSeed) {
  // A second Coordinator on the same, still empty, directory: a replica
  // without a seed once the first sets the manifest.
  CoordinatorOptions options = Options();
  auto other = Must(Coordinator::Start(options, coordinator_issuer_));
  const std::string other_target = "127.0.0.1:" + std::to_string(other->user_api_port());
  const v1::SetManifestResponse first = SetFirstManifest();

  manifest::Manifest m = BaseManifest();
  m.policies[HashOf(kDbPolicy)].sans = {"db-other"};
  auto refused = UserClient(other_target).SetManifest(Request(manifest::SerializeManifest(m)), m);
  EXPECT_THAT(refused, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(refused.error().message, HasSubstr("another Coordinator replica set the manifest"));
  auto version = Must(UserClient(other_target).GetVersion());
  EXPECT_FALSE(version.ready());
  EXPECT_THAT(version.reason(), HasSubstr("needs the deployment's seed"));
  other->Stop();

  // The first one is unaffected: its history is intact.
  auto history = UserClient(UserTarget()).GetHistory(BaseManifest());
  ASSERT_TRUE(history) << history.error().message;
  EXPECT_EQ(history->latest_transition_hash, first.transition_hash());
}

TEST_F(UserApi, HistoryReplacedUnderneathIsDetected) {
  SetFirstManifest();
  // Someone with write access to the store swaps in a history of their own.
  TempDir elsewhere;
  CoordinatorOptions options = Options();
  options.state_dir = elsewhere.path() / "history";
  {
    auto forger = Must(Coordinator::Start(options, coordinator_issuer_));
    manifest::Manifest m = BaseManifest();
    m.policies[HashOf(kDbPolicy)].sans = {"db-forged"};
    ASSERT_TRUE(UserClient("127.0.0.1:" + std::to_string(forger->user_api_port()))
                    .SetManifest(Request(manifest::SerializeManifest(m)), m));
  }
  std::filesystem::copy(options.state_dir, dir_.path() / "history",
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);

  // The store watch (or a GetManifests, whichever comes first) finds the
  // forged signature and stops serving; from then on the stored history is
  // served marked as awaiting recovery.
  auto history = UserClient(UserTarget()).GetHistory(BaseManifest());
  if (!history) {
    EXPECT_THAT(history.error().message, HasSubstr("another writer"));
  }
  ASSERT_TRUE(BecomesNotReady());
  EXPECT_THAT(coordinator_->readiness().reason, HasSubstr("another writer"));
  auto stored = UserClient(UserTarget()).GetHistory(BaseManifest());
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_TRUE(stored->awaiting_recovery);
  auto cert = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy));
  EXPECT_THAT(cert, RefusedWith("FAILED_PRECONDITION"));
}

}  // namespace
}  // namespace contrast::coordinator::testing
