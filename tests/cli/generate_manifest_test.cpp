// The manifest half of `contrast generate`: which policies, reference values
// and owner keys end up in manifest.json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/generate.h"

namespace contrast::cli {
namespace {

using ::testing::HasSubstr;

manifest::PolicyHash Hash(char fill) { return *manifest::PolicyHash::FromHex(std::string(64, fill)); }

GeneratedPolicy Policy(char fill, std::string name, manifest::Role role = manifest::Role::kNone) {
  GeneratedPolicy p;
  p.workload = "Deployment default/" + name;
  p.name = name;
  p.hash = Hash(fill);
  p.workload_secret_id = "apps/v1/Deployment/default/" + name;
  p.role = role;
  return p;
}

manifest::ReferenceValues SomeReferenceValues() {
  manifest::ReferenceValues values;
  attest::emulated::InsecureEmulatedReferenceValues entry;
  entry.snp.platform = "Emulated-SNP";
  entry.snp.product = attest::snp::Product::kMilan;
  entry.snp.guest_policy.smt = true;
  entry.root_sha256.fill(0x11);
  values.emulated.push_back(entry);
  return values;
}

ManifestInputs Inputs() {
  ManifestInputs in;
  in.policies = {Policy('a', "coordinator", manifest::Role::kCoordinator), Policy('b', "web")};
  in.reference_values = SomeReferenceValues();
  crypto::Sha256Digest owner{};
  owner.fill(0x22);
  in.workload_owner_key_digests = {owner};
  return in;
}

TEST(GenerateManifest, ListsEveryGeneratedPolicyWithDefaultSans) {
  auto m = BuildManifest(Inputs());
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->policies.size(), 2u);
  const auto& web = m->policies.at(Hash('b'));
  EXPECT_EQ(web.sans, (std::vector<std::string>{"web", "*"}));
  EXPECT_EQ(web.workload_secret_id, "apps/v1/Deployment/default/web");
  EXPECT_EQ(web.role, manifest::Role::kNone);
  EXPECT_EQ(m->policies.at(Hash('a')).role, manifest::Role::kCoordinator);
  EXPECT_EQ(m->workload_owner_key_digests.size(), 1u);
  EXPECT_TRUE(m->insecure());
}

TEST(GenerateManifest, RemovedWorkloadsLeaveAndEditedSansStay) {
  auto first = BuildManifest(Inputs());
  ASSERT_TRUE(first);
  first->policies.at(Hash('b')).sans = {"web", "web.example.com", "203.0.113.7"};
  first->policies.emplace(Hash('c'), manifest::PolicyEntry{{"gone", "*"}, "apps/v1/Deployment/default/gone", {}});
  ManifestInputs again = Inputs();
  again.existing = *first;
  again.policies[1].hash = Hash('d');  // the web workload changed: a new policy
  auto m = BuildManifest(again);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->policies.size(), 2u);
  EXPECT_FALSE(m->policies.contains(Hash('c')));  // removed from the inputs
  EXPECT_FALSE(m->policies.contains(Hash('b')));  // replaced by its new policy
  EXPECT_EQ(m->policies.at(Hash('d')).sans, (std::vector<std::string>{"web", "web.example.com", "203.0.113.7"}));
}

TEST(GenerateManifest, OneDigestForTwoWorkloadsIsAnError) {
  ManifestInputs in = Inputs();
  in.policies.push_back(Policy('b', "web-copy"));
  auto m = BuildManifest(in);
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message, HasSubstr("Deployment default/web and Deployment default/web-copy"));
}

TEST(GenerateManifest, NeedsACoordinatorAndReferenceValues) {
  ManifestInputs no_coordinator = Inputs();
  no_coordinator.policies.erase(no_coordinator.policies.begin());
  auto m = BuildManifest(no_coordinator);
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message, HasSubstr("deploy/coordinator.yml"));

  ManifestInputs no_values = Inputs();
  no_values.reference_values.reset();
  m = BuildManifest(no_values);
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message, HasSubstr("--reference-values"));

  // Without new ones, the existing manifest's reference values stay.
  no_values.existing = *BuildManifest(Inputs());
  m = BuildManifest(no_values);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->reference_values, SomeReferenceValues());
}

TEST(GenerateManifest, OwnerKeysMergeUnlessUpdatesAreDisabled) {
  ManifestInputs in = Inputs();
  in.existing = *BuildManifest(Inputs());
  crypto::Sha256Digest other{};
  other.fill(0x01);
  in.workload_owner_key_digests = {other};
  auto m = BuildManifest(in);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->workload_owner_key_digests.size(), 2u);
  EXPECT_EQ(m->workload_owner_key_digests[0], other);  // sorted

  in.disable_updates = true;
  m = BuildManifest(in);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->workload_owner_key_digests.empty());
}

}  // namespace
}  // namespace contrast::cli
