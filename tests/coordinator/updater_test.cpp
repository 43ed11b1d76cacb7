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
  EXPECT_EQ(selected.error().status_code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(selected.error().error.message, HasSubstr(HashOf(kCoordinatorPolicy).Hex()));
  EXPECT_THAT(selected.error().error.message, HasSubstr(HashOf(kDbPolicy).Hex()));
}

State StateFor(const manifest::Manifest& m, const history::TransitionHash& latest) {
  const std::string text = manifest::SerializeManifest(m);
  return State{ToBytes(text), m, {}, Must(ca::CertificateAuthority::Generate()), latest, 1, nullptr};
}

SetManifestInput SignedInput(const manifest::Manifest& next, const OwnerKey& owner,
                             const history::TransitionHash& previous) {
  SetManifestInput input;
  input.manifest = ToBytes(manifest::SerializeManifest(next));
  const auto transition = history::ComputeTransitionHash(manifest::ManifestHash(input.manifest), previous);
  input.owner_public_key = owner.spki;
  input.owner_signature = Must(history::SignTransition(owner.key, transition));
  return input;
}

TEST(AuthorizeUpdate, AcceptsTheOwnersSignatureOverTheTransition) {
  history::TransitionHash latest{};
  latest.fill(0x42);
  const State current = StateFor(BaseManifest(), latest);
  EXPECT_TRUE(AuthorizeUpdate(current, BaseManifest(), SignedInput(BaseManifest(), Owner(), latest)));

  SetManifestInput tampered = SignedInput(BaseManifest(), Owner(), latest);
  tampered.manifest.push_back('\n');  // the signature covers the exact bytes
  auto refused = AuthorizeUpdate(current, BaseManifest(), tampered);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status_code, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.error().error.code, ErrorCode::kSignatureInvalid);

  SetManifestInput garbage = SignedInput(BaseManifest(), Owner(), latest);
  garbage.owner_signature = {0x30, 0x01, 0x00};
  EXPECT_FALSE(AuthorizeUpdate(current, BaseManifest(), garbage));
}

TEST(AuthorizeUpdate, DisabledUpdatesAreRefusedBeforeAnythingElse) {
  manifest::Manifest immutable = BaseManifest();
  immutable.workload_owner_key_digests.clear();
  const State current = StateFor(immutable, history::TransitionHash{});
  SetManifestInput input;
  input.previous_transition_hash = Bytes(32, 0x99);
  auto refused = AuthorizeUpdate(current, BaseManifest(), input);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status_code, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.error().error.message,
            "manifest updates are disabled: the current manifest lists no workload owner keys");
}

TEST(StateGuard, RequireExplainsWhyNot) {
  StateGuard guard;
  auto none = guard.Require();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().status_code, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(none.error().error.message, "no manifest set");
  EXPECT_EQ(guard.readiness().reason, "no manifest set");

  auto state = std::make_shared<const State>(StateFor(BaseManifest(), {}));
  EXPECT_TRUE(guard.Publish(nullptr, state));
  EXPECT_FALSE(guard.Publish(nullptr, state));  // not the current one any more
  EXPECT_TRUE(guard.Require());
  EXPECT_TRUE(guard.readiness().ready);

  guard.MarkStale("because");
  guard.MarkStale("later reasons do not replace the first");
  EXPECT_EQ(guard.Require().error().error.message, "because");
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
  ASSERT_TRUE(set) << set.error().error.message;
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
  EXPECT_THAT(listed->manifests, ElementsAre(first.manifest));
  EXPECT_EQ(listed->policies.size(), 3u);
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
