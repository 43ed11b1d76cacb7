// The library pieces without gRPC: policy document selection, update
// authorization, the state guard, the manifest updater on a directory store.
#include "coordinator/manifest_updater.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/log.h"
#include "coordinator/state.h"
#include "harness.h"
#include "history/directory_store.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SelectPolicyDocuments, PicksByHashInManifestOrderAndIgnoresExtras) {
  const manifest::Manifest m = BaseManifest();
  const std::vector<Bytes> documents{ToBytes(kUnlistedPolicy), ToBytes(kDbPolicy), ToBytes(kWebPolicy),
                                     ToBytes(kCoordinatorPolicy), ToBytes(kWebPolicy)};
  auto selected = SelectPolicyDocuments(m, documents);
  ASSERT_TRUE(selected);
  std::vector<Bytes> expected;
  for (const auto& [hash, entry] : m.policies) {
    for (const std::string& p : AllPolicies()) {
      if (HashOf(p) == hash) expected.push_back(ToBytes(p));
    }
  }
  EXPECT_EQ(*selected, expected);
}

TEST(SelectPolicyDocuments, NamesEveryMissingHash) {
  auto selected = SelectPolicyDocuments(BaseManifest(), {ToBytes(kWebPolicy)});
  ASSERT_FALSE(selected);
  EXPECT_EQ(selected.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(selected.error().message, HasSubstr(HashOf(kCoordinatorPolicy).Hex()));
  EXPECT_THAT(selected.error().message, HasSubstr(HashOf(kDbPolicy).Hex()));
}

State StateFor(const manifest::Manifest& m, const history::TransitionHash& latest) {
  const std::string text = manifest::SerializeManifest(m);
  return State{ToBytes(text), m, {}, Must(ca::CertificateAuthority::Generate()), latest, 1, nullptr};
}

// Signed for the Coordinator whose root CA `at` holds.
SetManifestInput SignedInput(const manifest::Manifest& next, const OwnerKey& owner,
                             const history::TransitionHash& previous, const State& at) {
  SetManifestInput input;
  input.manifest = ToBytes(manifest::SerializeManifest(next));
  const auto transition = history::ComputeTransitionHash(manifest::ManifestHash(input.manifest), previous);
  input.owner_public_key = owner.spki;
  input.owner_signature =
      Must(history::SignTransition(owner.key, Must(history::RootKeyDigestOf(at.ca.root())), transition));
  return input;
}

TEST(AuthorizeUpdate, AcceptsTheOwnersSignatureOverTheTransition) {
  history::TransitionHash latest{};
  latest.fill(0x42);
  const State current = StateFor(BaseManifest(), latest);
  EXPECT_TRUE(AuthorizeUpdate(current, BaseManifest(), SignedInput(BaseManifest(), Owner(), latest, current)));

  SetManifestInput tampered = SignedInput(BaseManifest(), Owner(), latest, current);
  tampered.manifest.push_back('\n');  // the signature covers the exact bytes
  auto refused = AuthorizeUpdate(current, BaseManifest(), tampered);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignatureInvalid);

  SetManifestInput garbage = SignedInput(BaseManifest(), Owner(), latest, current);
  garbage.owner_signature = {0x30, 0x01, 0x00};
  EXPECT_FALSE(AuthorizeUpdate(current, BaseManifest(), garbage));
}

// The same owner, manifests and transition at another deployment (another
// root CA): the signature made for that one authorizes nothing here.
TEST(AuthorizeUpdate, RefusesASignatureMadeForAnotherCoordinator) {
  history::TransitionHash latest{};
  latest.fill(0x42);
  const State here = StateFor(BaseManifest(), latest);
  const State elsewhere = StateFor(BaseManifest(), latest);
  auto refused = AuthorizeUpdate(here, BaseManifest(), SignedInput(BaseManifest(), Owner(), latest, elsewhere));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_EQ(refused.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_THAT(refused.error().message, HasSubstr("at this Coordinator"));
}

// Bounds that keep every user-API message under the frame cap are part of
// the manifest's validation, so `generate` and `set` report them first.
TEST(ManifestBounds, MoreThan1024PoliciesOrMoreThan1MiBAreInvalid) {
  manifest::Manifest m = BaseManifest();
  for (int i = 0; m.policies.size() < manifest::kMaxPolicies; ++i) {
    m.policies[HashOf("policy " + std::to_string(i))] = {{"w"}, "", manifest::Role::kNone};
  }
  EXPECT_TRUE(manifest::ValidateManifest(m));
  m.policies[HashOf("one too many")] = {{"w"}, "", manifest::Role::kNone};
  auto refused = manifest::ValidateManifest(m);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("at most 1024"));

  manifest::Manifest large = BaseManifest();
  large.policies[HashOf(kWebPolicy)].sans = {std::string(manifest::kMaxManifestSize, 'x')};
  auto too_large = manifest::ParseManifestReportingProblems(manifest::SerializeManifest(large));
  ASSERT_FALSE(too_large);
  EXPECT_THAT(too_large.error().front(), HasSubstr("more than the limit of 1048576"));
}

TEST(CheckPolicyDocumentBounds, NamesTheBound) {
  EXPECT_TRUE(CheckPolicyDocumentBounds({Bytes(manifest::kMaxPolicyDocumentSize, 'p')}));
  auto large = CheckPolicyDocumentBounds({Bytes(manifest::kMaxPolicyDocumentSize + 1, 'p')});
  ASSERT_FALSE(large);
  EXPECT_EQ(large.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(large.error().message, HasSubstr("at most 1048576"));
  auto many = CheckPolicyDocumentBounds(std::vector<Bytes>(manifest::kMaxPolicies + 1, Bytes{'p'}));
  ASSERT_FALSE(many);
  EXPECT_THAT(many.error().message, HasSubstr("at most 1024"));
  auto total = CheckPolicyDocumentBounds(std::vector<Bytes>(65, Bytes(manifest::kMaxPolicyDocumentSize, 'p')));
  ASSERT_FALSE(total);
  EXPECT_THAT(total.error().message, HasSubstr("in one update"));
}

TEST(AuthorizeUpdate, DisabledUpdatesAreRefusedBeforeAnythingElse) {
  manifest::Manifest immutable = BaseManifest();
  immutable.workload_owner_key_digests.clear();
  const State current = StateFor(immutable, history::TransitionHash{});
  SetManifestInput input;
  input.previous_transition_hash = Bytes(32, 0x99);
  auto refused = AuthorizeUpdate(current, BaseManifest(), input);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyViolation);
  EXPECT_EQ(refused.error().message,
            "manifest updates are disabled: the current manifest lists no workload owner keys");
}

TEST(StateGuard, RequireExplainsWhyNot) {
  StateGuard guard;
  auto none = guard.Require();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(none.error().message, "no manifest set");
  EXPECT_EQ(guard.readiness().reason, "no manifest set");

  auto state = std::make_shared<const State>(StateFor(BaseManifest(), {}));
  EXPECT_TRUE(guard.Publish(nullptr, state));
  EXPECT_FALSE(guard.Publish(nullptr, state));  // not the current one any more
  EXPECT_TRUE(guard.Require());
  EXPECT_TRUE(guard.readiness().ready);

  guard.MarkStale("because");
  guard.MarkStale("later reasons do not replace the first");
  EXPECT_EQ(guard.Require().error().message, "because");
  EXPECT_FALSE(guard.readiness().ready);
}

TEST(ManifestUpdater, AppendsToTheStoreAndPublishes) {
  TempDir dir;
  auto store = Must(history::DirectoryStore::Open(dir.path()));
  StateGuard guard;
  observability::Registry registry;
  CoordinatorMetrics metrics(registry);
  auto updater = Must(ManifestUpdater::Open(store, guard, metrics, QuietLogger()));
  EXPECT_TRUE(guard.readiness().reason == "no manifest set");

  SetManifestInput first;
  first.manifest = ToBytes(manifest::SerializeManifest(BaseManifest()));
  for (const std::string& p : AllPolicies()) first.policies.push_back(ToBytes(p));
  auto set = updater->SetManifest(first);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(guard.Current()->generation, 1u);
  EXPECT_EQ(metrics.manifest_generation.value(), 1);
  // The history is signed with the key derived from the new seed, and the
  // sealed CA state of the transition is stored beside it.
  const auto& seed = guard.Current()->seed;
  ASSERT_NE(seed, nullptr);
  auto reader = Must(history::HistoryReader::Create(store, Must(seed->history_signing_key().PublicKeyDer())));
  auto latest = Must(reader.Latest());
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->transition_hash, set->transition_hash);
  EXPECT_TRUE(Must(history::ReadSealed(*store, history::SealedStateBinding(*latest))).has_value());
  EXPECT_FALSE(Must(history::ReadSealed(*store, set->transition_hash)).has_value());
  EXPECT_TRUE(guard.Current()->ca.root().PublicKey() != nullptr);
  EXPECT_TRUE(seed->root_ca_key().Matches(guard.Current()->ca.root().PublicKey()));
  // No seed-share owners in the manifest: no shares.
  EXPECT_FALSE(set->seed_shares.has_value());

  auto listed = updater->GetManifests();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->entries.size(), 1u);
  EXPECT_EQ(listed->entries[0].manifest, first.manifest);
  EXPECT_FALSE(listed->more);
  std::vector<Bytes> hashes;
  for (const std::string& p : AllPolicies()) hashes.push_back(ToBytes(ToString(HashOf(p).bytes)));
  auto documents = updater->GetPolicies(hashes);
  ASSERT_TRUE(documents) << documents.error().message;
  EXPECT_EQ(documents->size(), 3u);
  auto base = updater->GetLatestTransition();
  ASSERT_TRUE(base);
  EXPECT_EQ(base->latest_transition, set->transition_hash);
  EXPECT_EQ(base->manifest_hash, manifest::ManifestHash(first.manifest));
  EXPECT_EQ(base->root_ca_pem, set->root_ca_pem);
}

TEST(LogValue, QuotesWhatWouldBreakALine) {
  EXPECT_EQ(LogValue("plain-token_1.2"), "plain-token_1.2");
  EXPECT_EQ(LogValue(""), "\"\"");
  EXPECT_EQ(LogValue("two words"), "\"two words\"");
  EXPECT_EQ(LogValue("a=b"), "\"a=b\"");
  EXPECT_EQ(LogValue("line\nbreak \"quoted\" \\"), "\"line\\nbreak \\\"quoted\\\" \\\\\"");
  EXPECT_EQ(LogValue(std::string("nul\0x", 5)), "\"nul?x\"");
}

}  // namespace
}  // namespace contrast::coordinator::testing
