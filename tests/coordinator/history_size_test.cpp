// Size cliffs (issue #15, item 4): no user-API message grows with the
// history. A history of 300 manifests, each with a new 100 KiB policy (30 MB
// of policies, far above the 4 MiB session frame cap), is served in pages and
// its documents by hash; the latest transition comes in a small call; and a
// manifest whose documents exceed one frame is sent in several.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::HasSubstr;

constexpr size_t kLargePolicySize = 100 * 1024;

// A 100 KiB policy document of its own for `name`.
std::string LargePolicy(const std::string& name) {
  std::string policy = "package agent_policy\n# " + name + "\n";
  policy.append(kLargePolicySize - policy.size(), '#');
  return policy;
}

// BaseManifest plus a workload `name` with its own large policy.
manifest::Manifest WithWorkload(const std::string& name) {
  manifest::Manifest m = BaseManifest();
  m.policies[HashOf(LargePolicy(name))] = {{name}, "", manifest::Role::kNone};
  return m;
}

class HistorySize : public CoordinatorTest {
 protected:
  // A signed update to `next` on top of the latest transition.
  Result<v1::SetManifestResponse> Update(const manifest::Manifest& next, const std::vector<std::string>& policies) {
    const std::string text = manifest::SerializeManifest(next);
    return UserClient(UserTarget())
        .SetManifest(Signed(Request(text, policies), Owner(), HashFromBytes(latest_), root_ca_), next);
  }

  // The first manifest: BaseManifest with workload w0.
  void SetFirst() {
    std::vector<std::string> policies = AllPolicies();
    policies.push_back(LargePolicy("w0"));
    const manifest::Manifest m = WithWorkload("w0");
    const auto first = Must(UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(m), policies), m));
    latest_ = first.transition_hash();
    root_ca_ = first.root_ca();
  }

  std::string latest_;
  std::string root_ca_;
};

// SeededManifest (so that the Coordinator can be recovered onto the history)
// with workload `name` and its own large policy.
HistoryStep SeededStep(const std::string& name) {
  HistoryStep step{SeededManifest(), AllPolicies()};
  step.policies.push_back(LargePolicy(name));
  step.manifest.policies[HashOf(step.policies.back())] = {{name}, "", manifest::Role::kNone};
  return step;
}

TEST_F(HistorySize, ThreeHundredManifestsWithLargePoliciesArePagedAndStillUpdatable) {
  // The history is made in memory, then served by a Coordinator recovered
  // onto it: the same store contents as 300 updates through the API.
  constexpr int kManifests = 300;
  std::vector<HistoryStep> steps;
  for (int i = 0; i < kManifests; ++i) steps.push_back(SeededStep("w" + std::to_string(i)));
  auto store = std::make_shared<MemoryStore>();
  const BuiltHistory built = BuildHistory(store, steps);
  StopCoordinator();
  CoordinatorOptions options = Options();
  options.store = store;
  StartCoordinator(options);
  const manifest::Manifest& last = steps.back().manifest;
  auto recovered = UserClient(UserTarget()).Recover(SignedRecover(built.secret, SeedshareOwnerKey(0)), last);
  ASSERT_TRUE(recovered) << recovered.error().message;
  latest_ = ToString(built.latest);
  root_ca_ = built.root_ca;

  // The small call: what an update builds on.
  const auto base = Must(UserClient(UserTarget()).GetLatestTransition(last));
  EXPECT_EQ(base.latest_transition_hash(), latest_);
  EXPECT_EQ(base.manifest_hash(), ToString(manifest::ManifestHash(AsBytes(manifest::SerializeManifest(last)))));
  EXPECT_EQ(base.root_ca(), root_ca_);
  EXPECT_FALSE(base.awaiting_recovery());

  // The whole history, a page at a time, and every policy document by hash.
  const auto history = Must(UserClient(UserTarget()).GetHistory(last));
  ASSERT_EQ(history.manifests.size(), static_cast<size_t>(kManifests));
  EXPECT_EQ(history.manifests.front(), manifest::SerializeManifest(steps.front().manifest));
  EXPECT_EQ(history.manifests.back(), manifest::SerializeManifest(last));
  EXPECT_EQ(history.policies.size(), AllPolicies().size() + kManifests);
  EXPECT_EQ(history.latest_transition_hash, latest_);
  history::TransitionHash chained = history::kNoPreviousTransition;
  for (const std::string& text : history.manifests) {
    chained = history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(text)), chained);
  }
  EXPECT_EQ(ToString(chained), latest_);

  // And the history still takes a signed update.
  const HistoryStep next = SeededStep("after");
  auto updated = Update(next.manifest, next.policies);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(Must(UserClient(UserTarget()).GetLatestTransition(next.manifest)).latest_transition_hash(),
            updated->transition_hash());
}

TEST_F(HistorySize, PagesStayWithinTheBudget) {
  SetFirst();
  // Manifests big enough (long SAN lists) that a few fill a page.
  manifest::Manifest m;
  for (int i = 1; i <= 6; ++i) {
    m = BaseManifest();
    std::vector<std::string> sans;
    for (int s = 0; s < 2000; ++s)
      sans.push_back("v" + std::to_string(i) + "-" + std::to_string(s) + std::string(200, 'x'));
    m.policies[HashOf(kWebPolicy)].sans = sans;
    auto updated = Update(m, AllPolicies());
    ASSERT_TRUE(updated) << updated.error().message;
    latest_ = updated->transition_hash();
  }
  const size_t manifest_size = manifest::SerializeManifest(m).size();
  ASSERT_GT(manifest_size, 400u * 1024);
  ASSERT_LE(manifest_size, manifest::kMaxManifestSize);

  auto page = Must(UserClient(UserTarget()).GetManifests(m));
  size_t bytes = 0;
  for (const v1::ManifestHistoryEntry& entry : page.entries()) bytes += entry.manifest().size();
  EXPECT_LE(bytes, history::kMaxPageBytes);
  EXPECT_GE(page.entries_size(), 1);
  EXPECT_LT(page.entries_size(), 7);
  EXPECT_TRUE(page.more());
  const auto history = Must(UserClient(UserTarget()).GetHistory(m));
  EXPECT_EQ(history.manifests.size(), 7u);
  EXPECT_GT(history.pages, 1u);
}

TEST_F(HistorySize, PolicyDocumentsAreServedWithinTheBudgetAndByExactHash) {
  manifest::Manifest m = BaseManifest();
  std::vector<std::string> policies = AllPolicies();
  for (int i = 0; i < 30; ++i) {
    policies.push_back(LargePolicy("p" + std::to_string(i)));
    m.policies[HashOf(policies.back())] = {{"p" + std::to_string(i)}, "", manifest::Role::kNone};
  }
  ASSERT_TRUE(UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(m), policies), m));
  v1::GetPoliciesRequest request;
  for (const std::string& policy : policies) request.add_policy_hashes(ToString(HashOf(policy).bytes));
  auto documents = Must(UserClient(UserTarget()).GetPolicies(request, m));
  // 2 MiB of 100 KiB documents: a prefix, in the order asked for.
  ASSERT_GT(documents.policies_size(), 1);
  ASSERT_LT(documents.policies_size(), request.policy_hashes_size());
  for (int i = 0; i < documents.policies_size(); ++i) EXPECT_EQ(documents.policies(i), policies[i]);

  v1::GetPoliciesRequest unknown;
  unknown.add_policy_hashes(ToString(HashOf(kUnlistedPolicy).bytes));
  EXPECT_THAT(UserClient(UserTarget()).GetPolicies(unknown, m), RefusedWith("NOT_FOUND"));
  v1::GetPoliciesRequest malformed;
  malformed.add_policy_hashes("short");
  EXPECT_THAT(UserClient(UserTarget()).GetPolicies(malformed, m), RefusedWith("INVALID_ARGUMENT"));
  v1::GetPoliciesRequest too_many;
  for (int i = 0; i < 1025; ++i) too_many.add_policy_hashes(ToString(HashOf(kWebPolicy).bytes));
  EXPECT_THAT(UserClient(UserTarget()).GetPolicies(too_many, m), RefusedWith("INVALID_ARGUMENT"));
}

// 50 policies of 100 KiB: 5 MiB, more than one frame may carry.
TEST_F(HistorySize, ManifestWhosePoliciesExceedOneFrameIsSentInSeveral) {
  manifest::Manifest m = BaseManifest();
  v1::SetManifestRequest request = Request(manifest::SerializeManifest(m));
  std::vector<v1::SetManifestPolicies> follow_ups;
  for (int i = 0; i < 50; ++i) {
    const std::string policy = LargePolicy("p" + std::to_string(i));
    m.policies[HashOf(policy)] = {{"p" + std::to_string(i)}, "", manifest::Role::kNone};
    if (follow_ups.empty() || follow_ups.back().policies_size() == 15) follow_ups.emplace_back();
    follow_ups.back().add_policies(policy);
  }
  request.set_manifest(manifest::SerializeManifest(m));
  request.set_more_policies(true);
  for (size_t i = 0; i + 1 < follow_ups.size(); ++i) follow_ups[i].set_more_policies(true);
  auto set = UserClient(UserTarget()).SetManifestInFrames(request, follow_ups, m);
  ASSERT_TRUE(set) << set.error().message;
  const auto history = Must(UserClient(UserTarget()).GetHistory(m));
  EXPECT_EQ(history.policies.size(), 53u);

  // All in one request is more than a frame may hold: refused by gRPC.
  v1::SetManifestRequest whole = Request(manifest::SerializeManifest(m));
  for (const auto& follow_up : follow_ups) {
    for (const std::string& policy : follow_up.policies()) whole.add_policies(policy);
  }
  ASSERT_GT(whole.ByteSizeLong(), static_cast<size_t>(session::kMaxFrameSize));
  EXPECT_FALSE(UserClient(UserTarget()).SetManifest(whole, m));
}

// An unsigned update cannot make the Coordinator buffer more than its first
// frame: it is refused before any further one is read.
TEST_F(HistorySize, FurtherFramesOfAnUnauthorizedUpdateAreNotRead) {
  SetFirstManifest();
  manifest::Manifest next = BaseManifest();
  next.policies[HashOf(kDbPolicy)].sans = {"db2"};
  v1::SetManifestRequest request = Request(manifest::SerializeManifest(next));
  request.set_more_policies(true);
  std::vector<v1::SetManifestPolicies> follow_ups(1);
  follow_ups[0].add_policies(LargePolicy("never read"));
  auto refused = UserClient(UserTarget()).SetManifestInFrames(request, follow_ups, next);
  EXPECT_THAT(refused, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(refused.error().message, HasSubstr("not signed"));
}

TEST_F(HistorySize, LatestTransitionOfAnEmptyCoordinatorIsEmpty) {
  const auto base = Must(UserClient(UserTarget()).GetLatestTransition(BaseManifest()));
  EXPECT_TRUE(base.latest_transition_hash().empty());
  EXPECT_TRUE(base.manifest_hash().empty());
  EXPECT_TRUE(base.root_ca().empty());
  EXPECT_FALSE(base.awaiting_recovery());
}

}  // namespace
}  // namespace contrast::coordinator::testing
