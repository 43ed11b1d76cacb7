// The Coordinator's expected identity as `generate` writes it into the
// Initializer's environment and the Initializer reads it back.
#include "initializer/expected_coordinator.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "session/fixtures.h"

namespace contrast::initializer {
namespace {

using ::testing::HasSubstr;
using namespace contrast::session::testing;

manifest::PolicyHash Hash(uint8_t fill) { return manifest::PolicyHash{Filled<32>(fill)}; }

manifest::ReferenceValues EmulatedValues() {
  manifest::ReferenceValues values;
  values.emulated.push_back(
      attest::emulated::InsecureEmulatedReferenceValues{EmulatedEntry(), crypto::Sha256(Emulator().ark_der())});
  return values;
}

manifest::ReferenceValues SnpValues() {
  manifest::ReferenceValues values;
  attest::snp::SnpReferenceValues entry = EmulatedEntry();
  entry.platform = "Metal-QEMU-SNP";
  values.snp.push_back(entry);
  return values;
}

TEST(ExpectedCoordinatorTest, RoundTripsThroughTheVariables) {
  const auto env = ExpectedCoordinatorEnv({Hash(0xC2), Hash(0xC1), Hash(0xC2)}, EmulatedValues());
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0].first, kCoordinatorPolicyHashesEnv);
  EXPECT_EQ(env[1].first, kCoordinatorReferenceValuesEnv);
  // Sorted, deduplicated, comma-separated; the JSON on one line.
  EXPECT_EQ(env[0].second, Hash(0xC1).Hex() + "," + Hash(0xC2).Hex());
  EXPECT_EQ(env[1].second.find('\n'), std::string::npos);
  EXPECT_EQ(ExpectedCoordinatorEnv({Hash(0xC1), Hash(0xC2)}, EmulatedValues()), env);

  auto parsed = ParseExpectedCoordinator(env[0].second, env[1].second);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->policy_hashes, (std::vector<manifest::PolicyHash>{Hash(0xC1), Hash(0xC2)}));
  EXPECT_TRUE(parsed->insecure);
  const attest::AcceptableReferenceValues& rv = parsed->reference_values;
  EXPECT_EQ(rv.allowed_host_data, (std::vector<attest::snp::ByteArray<32>>{Filled<32>(0xC1), Filled<32>(0xC2)}));
  ASSERT_EQ(rv.emulated.size(), 1u);
  EXPECT_TRUE(rv.snp.empty());
  EXPECT_EQ(rv.emulated[0].root_sha256, crypto::Sha256(Emulator().ark_der()));
  EXPECT_EQ(rv.emulated[0].snp.trusted_measurement, kMeasurement);
}

TEST(ExpectedCoordinatorTest, RealPlatformsAreNotInsecure) {
  const auto env = ExpectedCoordinatorEnv({Hash(0xC1)}, SnpValues());
  auto parsed = ParseExpectedCoordinator(env[0].second, env[1].second);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->insecure);
  EXPECT_EQ(parsed->reference_values.snp.size(), 1u);
  EXPECT_TRUE(parsed->reference_values.emulated.empty());
}

TEST(ExpectedCoordinatorTest, ATdxCoordinatorCanBePinned) {
  manifest::ReferenceValues tdx;
  attest::tdx::TdxReferenceValues entry;
  entry.mr_td.fill(0x7D);
  entry.xfam = {0xe7, 0x1a, 0x06, 0, 0, 0, 0, 0};
  tdx.tdx.push_back(entry);
  const auto env = ExpectedCoordinatorEnv({Hash(0xC1)}, tdx);
  auto parsed = ParseExpectedCoordinator(env[0].second, env[1].second);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->insecure);
  ASSERT_EQ(parsed->reference_values.tdx.size(), 1u);
  EXPECT_EQ(parsed->reference_values.tdx[0].mr_td, entry.mr_td);
}

TEST(ExpectedCoordinatorTest, UpperCaseDigestsAreAccepted) {
  const auto env = ExpectedCoordinatorEnv({Hash(0xAB)}, EmulatedValues());
  std::string upper = env[0].second;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto parsed = ParseExpectedCoordinator(upper, env[1].second);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->policy_hashes, std::vector<manifest::PolicyHash>{Hash(0xAB)});
}

TEST(ExpectedCoordinatorTest, MalformedValuesNameTheVariableAndTheProblem) {
  const auto env = ExpectedCoordinatorEnv({Hash(0xC1)}, EmulatedValues());
  const std::string hash = env[0].second;
  const std::string values = env[1].second;
  std::string many;
  for (int i = 0; i <= static_cast<int>(kMaxCoordinatorPolicyHashes); ++i) {
    many += (i == 0 ? "" : ",") + Hash(static_cast<uint8_t>(i)).Hex();
  }
  const struct {
    std::string hashes;
    std::string values;
    std::string problem;
  } cases[] = {
      {"", values, std::string(kCoordinatorPolicyHashesEnv) + ": empty"},
      {hash.substr(1), values, "expected 64 hex characters"},
      {"zz" + hash.substr(2), values, "expected 64 hex characters"},
      {hash + ",", values, "item 2: expected 64 hex characters"},
      {hash + " ", values, "expected 64 hex characters"},
      {hash + "," + hash, values, "is listed twice"},
      {many, values, "more than 64 digests"},
      {hash, "", std::string(kCoordinatorReferenceValuesEnv) + ": empty"},
      {hash, "{\"emulated\": [", "not valid JSON"},
      // A second value after the object cannot reach the stand-in manifest.
      {hash, values + ", \"Policies\": {}", "not valid JSON"},
      {hash, "[]", "ReferenceValues: expected an object"},
      {hash, "{}", "ReferenceValues: no entries"},
      {hash, "{\"emulated\": [{}]}", "ReferenceValues.emulated[0].EmulatedRootSHA256: missing"},
      {hash, "{\"sgx\": []}", "unknown platform"},
      {hash, "{\"tdx\": [{}]}", "ReferenceValues.tdx[0].MrTd: missing"},
      {hash, std::string(kMaxCoordinatorReferenceValuesSize + 1, ' '), "more than the limit"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseExpectedCoordinator(c.hashes, c.values);
    ASSERT_FALSE(parsed) << c.problem;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << c.problem;
    EXPECT_THAT(parsed.error().message, HasSubstr(c.problem));
    const bool about_hashes = parsed.error().message.rfind(kCoordinatorPolicyHashesEnv, 0) == 0;
    const bool about_values = parsed.error().message.rfind(kCoordinatorReferenceValuesEnv, 0) == 0;
    EXPECT_TRUE(about_hashes || about_values) << parsed.error().message;
  }
}

TEST(ExpectedCoordinatorTest, EmulatedAndRealPlatformsDoNotMix) {
  manifest::ReferenceValues both = EmulatedValues();
  both.snp = SnpValues().snp;
  const auto env = ExpectedCoordinatorEnv({Hash(0xC1)}, both);
  auto parsed = ParseExpectedCoordinator(env[0].second, env[1].second);
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("cannot be combined"));
}

}  // namespace
}  // namespace contrast::initializer
