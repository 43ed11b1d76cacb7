// TdxEvidenceVerifier ("tdx" evidence in sessions) against quotes of the
// emulated TDX platform whose REPORTDATA is a real session binding: accepted
// with HOST_DATA = the policy digest in MRCONFIGID, and every refusal with
// its own reason. A verifier pinning Intel's root never accepts them.
#include "attest/tdx/evidence_verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "attest/emulated/tdx_platform.h"
#include "attest/evidence_verifier.h"
#include "crypto/keys.h"
#include "session/binding.h"

namespace contrast::attest::tdx {
namespace {

using emulated::InsecureEmulatedTdx;
using emulated::TdReportFields;
using ::testing::HasSubstr;

template <size_t N>
std::array<uint8_t, N> Filled(uint8_t value) {
  std::array<uint8_t, N> out{};
  out.fill(value);
  return out;
}

const PolicyDigest kPolicy = Filled<32>(0x57);
const PolicyDigest kOtherPolicy = Filled<32>(0x58);

Measurement PaddedPolicy(const PolicyDigest& digest) {
  Measurement out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

// Counts fetches; returns the collateral it holds.
class CountingSource final : public TdxCollateralSource {
 public:
  explicit CountingSource(Collateral collateral) : collateral_(std::move(collateral)) {}
  Result<Collateral> Fetch(const std::array<uint8_t, 6>&, PckCa) override {
    ++fetches;
    return collateral_;
  }
  std::atomic<int> fetches{0};

 private:
  Collateral collateral_;
};

class TdxEvidenceVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto created = InsecureEmulatedTdx::CreateInMemory();
    ASSERT_TRUE(created) << created.error().message;
    platform_ = new InsecureEmulatedTdx(std::move(*created));
  }
  static void TearDownTestSuite() {
    delete platform_;
    platform_ = nullptr;
  }

  void SetUp() override {
    auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP256);
    ASSERT_TRUE(key) << key.error().message;
    auto spki = key->PublicKeyDer();
    ASSERT_TRUE(spki);
    session::Nonce nonce{};
    nonce.fill(0x6E);
    binding_ = session::SessionReportData(session::Role::kWorkload, *spki, nonce);

    td_.mr_td = Filled<48>(0x11);
    for (size_t i = 0; i < td_.rtmrs.size(); ++i) td_.rtmrs[i] = Filled<48>(static_cast<uint8_t>(0x20 + i));
    td_.mr_config_id = PaddedPolicy(kPolicy);

    entry_.platform = "Emulated-TDX";
    entry_.mr_td = td_.mr_td;
    entry_.rtmrs = td_.rtmrs;
    entry_.mr_seam = platform_->mr_seam();
    entry_.xfam = td_.xfam;
    rv_.tdx.push_back(entry_);
    rv_.allowed_host_data.push_back(kPolicy);
  }

  Evidence QuoteEvidence(const TdReportFields& td, const ReportData& report_data, uint16_t version = 4) const {
    auto quote = platform_->Quote(td, report_data, version);
    EXPECT_TRUE(quote) << quote.error().message;
    return Evidence{std::string(kPlatformTdx), quote ? *quote : Bytes{}, {}, {}, {}};
  }
  Evidence QuoteEvidence(const TdReportFields& td) const { return QuoteEvidence(td, binding_); }

  // A verifier pinning the emulated root, with collateral signed now.
  std::unique_ptr<TdxEvidenceVerifier> VerifierWith(const emulated::EmulatedTdxCollateralOptions& options = {},
                                                    std::shared_ptr<CountingSource>* source_out = nullptr) const {
    auto collateral = platform_->Collateral(options);
    EXPECT_TRUE(collateral) << collateral.error().message;
    auto source = std::make_shared<CountingSource>(collateral ? *collateral : Collateral{});
    if (source_out != nullptr) *source_out = source;
    return std::make_unique<TdxEvidenceVerifier>(platform_->root(), source, attest::Verifier::Clock{});
  }

  static InsecureEmulatedTdx* platform_;
  ReportData binding_{};
  TdReportFields td_;
  TdxReferenceValues entry_;
  AcceptableReferenceValues rv_;
};

InsecureEmulatedTdx* TdxEvidenceVerifierTest::platform_ = nullptr;

TEST_F(TdxEvidenceVerifierTest, AcceptsABoundQuoteWithThePolicyDigestAsHostData) {
  std::shared_ptr<CountingSource> source;
  auto verifier = VerifierWith({}, &source);
  for (uint16_t version : {uint16_t{4}, uint16_t{5}}) {
    auto verified = verifier->Verify(QuoteEvidence(td_, binding_, version), binding_, rv_);
    ASSERT_TRUE(verified) << verified.error().message;
    EXPECT_EQ(verified->platform(), kPlatformTdx);
    EXPECT_EQ(verified->host_data(), kPolicy);
    EXPECT_FALSE(verified->insecure());
    EXPECT_EQ(verified->matched_entry(), 0u);
    EXPECT_EQ(verified->snp(), nullptr);
    ASSERT_NE(verified->tdx(), nullptr);
    EXPECT_EQ(verified->tdx()->td_report().mr_td, td_.mr_td);
    EXPECT_EQ(verified->tdx()->tcb_status(), TcbStatus::kUpToDate);
    EXPECT_TRUE(verified->tdx()->revocation_checked());
  }
  // The collateral was fetched and its signatures verified once.
  EXPECT_EQ(source->fetches.load(), 1);
  EXPECT_EQ(verifier->collateral_verifications(), 1u);
}

TEST_F(TdxEvidenceVerifierTest, MatchedEntryNamesTheAcceptingEntry) {
  TdxReferenceValues other = entry_;
  other.mr_td = Filled<48>(0x99);
  rv_.tdx.insert(rv_.tdx.begin(), other);
  auto verified = VerifierWith()->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->matched_entry(), 1u);
}

TEST_F(TdxEvidenceVerifierTest, RefusesAQuoteBoundToAnotherSession) {
  ReportData other = binding_;
  other[0] ^= 1;
  auto verified = VerifierWith()->Verify(QuoteEvidence(td_, other), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(verified.error().message, HasSubstr("REPORTDATA"));
}

TEST_F(TdxEvidenceVerifierTest, RefusesMrConfigIdThatIsNotAZeroPaddedPolicyDigest) {
  td_.mr_config_id[40] = 1;
  auto verified = VerifierWith()->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(verified.error().message, HasSubstr("zero-padded"));
}

TEST_F(TdxEvidenceVerifierTest, RefusesAPolicyThatIsNotAllowed) {
  td_.mr_config_id = PaddedPolicy(kOtherPolicy);
  auto verified = VerifierWith()->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(verified.error().message, HasSubstr("not one of the allowed policies"));
}

TEST_F(TdxEvidenceVerifierTest, RefusesADebugTd) {
  td_.td_attributes[0] |= 0x01;
  auto verified = VerifierWith()->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(verified.error().message, HasSubstr("TDATTRIBUTES.DEBUG"));
}

TEST_F(TdxEvidenceVerifierTest, RefusesAnotherMrtd) {
  rv_.tdx[0].mr_td = Filled<48>(0x99);
  auto verified = VerifierWith()->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kMeasurementMismatch);
  EXPECT_THAT(verified.error().message, HasSubstr("ReferenceValues.tdx[0]: MRTD: expected 9999"));
}

TEST_F(TdxEvidenceVerifierTest, TcbStatusMustBeAcceptedByTheMatchingEntry) {
  emulated::EmulatedTdxCollateralOptions hardening;
  hardening.tcb_levels =
      std::vector<TcbLevel>{platform_->PlatformTcbLevel(TcbStatus::kSwHardeningNeeded, {"INTEL-SA-00837"})};
  auto verifier = VerifierWith(hardening);

  // Default: UpToDate only.
  auto refused = verifier->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kTcbTooLow);
  EXPECT_THAT(refused.error().message, HasSubstr("SWHardeningNeeded"));

  // An entry that accepts the status but does not match the TD does not
  // lend its acceptance to one that matches the TD.
  TdxReferenceValues lenient = entry_;
  lenient.accepted_tcb_statuses = {TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded};
  lenient.mr_td = Filled<48>(0x99);
  rv_.tdx.push_back(lenient);
  auto mixed = verifier->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(mixed);
  EXPECT_THAT(mixed.error().message,
              HasSubstr("ReferenceValues.tdx[0]: TCB_STATUS: expected one of UpToDate, got SWHardeningNeeded"));
  EXPECT_THAT(mixed.error().message, HasSubstr("ReferenceValues.tdx[1]: MRTD"));

  rv_.tdx[1].mr_td = td_.mr_td;
  auto accepted = verifier->Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->matched_entry(), 1u);
  EXPECT_EQ(accepted->tdx()->tcb_status(), TcbStatus::kSwHardeningNeeded);
}

TEST_F(TdxEvidenceVerifierTest, RefusesExpiredCollateral) {
  emulated::EmulatedTdxCollateralOptions expired;
  expired.issue_date = Now() - std::chrono::hours(24 * 60);
  expired.next_update = Now() - std::chrono::hours(24);
  expired.crl_next_update = Now() + std::chrono::hours(24);
  std::shared_ptr<CountingSource> source;
  auto verifier = VerifierWith(expired, &source);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto verified = verifier->Verify(QuoteEvidence(td_), binding_, rv_);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().code, ErrorCode::kCertificateExpired);
    EXPECT_THAT(verified.error().message, HasSubstr("expired"));
  }
  // Expired collateral is never reused: each attempt asks the source again.
  EXPECT_EQ(source->fetches.load(), 2);
}

TEST_F(TdxEvidenceVerifierTest, AVerifierPinningIntelsRootRefusesEmulatedQuotes) {
  auto collateral = platform_->Collateral();
  ASSERT_TRUE(collateral);
  TdxEvidenceVerifier intel(IntelSgxRootCa(), std::make_shared<FixedCollateralSource>(*collateral), {});
  auto verified = intel.Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kUntrustedRoot) << verified.error().message;
}

TEST_F(TdxEvidenceVerifierTest, RefusesOtherPlatformsAndMissingReferenceValues) {
  auto verifier = VerifierWith();
  Evidence snp = QuoteEvidence(td_);
  snp.platform = std::string(kPlatformSnp);
  auto wrong_platform = verifier->Verify(snp, binding_, rv_);
  ASSERT_FALSE(wrong_platform);
  EXPECT_EQ(wrong_platform.error().code, ErrorCode::kInvalidArgument);

  AcceptableReferenceValues no_tdx = rv_;
  no_tdx.tdx.clear();
  auto no_entry = verifier->Verify(QuoteEvidence(td_), binding_, no_tdx);
  ASSERT_FALSE(no_entry);
  EXPECT_EQ(no_entry.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(no_entry.error().message, HasSubstr("no entry for platform \"tdx\""));

  AcceptableReferenceValues no_policies = rv_;
  no_policies.allowed_host_data.clear();
  auto no_policy = verifier->Verify(QuoteEvidence(td_), binding_, no_policies);
  ASSERT_FALSE(no_policy);
  EXPECT_EQ(no_policy.error().code, ErrorCode::kInvalidArgument);

  Evidence junk = QuoteEvidence(td_);
  junk.report.resize(100);
  auto parsed = verifier->Verify(junk, binding_, rv_);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
}

// The program's verifier hands "tdx" to a TdxEvidenceVerifier that fetches
// collateral from the configured PCS (here: nothing listens), after the
// cheap checks passed.
TEST_F(TdxEvidenceVerifierTest, TheDispatcherVerifiesTdxWithCollateralFromPcs) {
  EvidenceVerifierOptions options;
  options.pcs.base_url = "http://127.0.0.1:1";
  options.pcs.root_ca_crl_url = "http://127.0.0.1:1/IntelSGXRootCA.der";
  options.pcs.max_attempts = 1;
  options.pcs.deadline = std::chrono::milliseconds(2000);
  EvidenceVerifier verifier(options);
  auto verified = verifier.Verify(QuoteEvidence(td_), binding_, rv_);
  ASSERT_FALSE(verified);
  EXPECT_THAT(verified.error().message, HasSubstr("fetching the TDX TCB info"));

  ReportData other = binding_;
  other[5] ^= 1;
  auto unbound = verifier.Verify(QuoteEvidence(td_, other), binding_, rv_);
  ASSERT_FALSE(unbound);
  EXPECT_THAT(unbound.error().message, HasSubstr("REPORTDATA"));
}

// --- AcceptedTcbStatuses in the manifest's TDX entries ----------------------

TEST(TdxAcceptedTcbStatuses, ParsedWrittenBackAndRevokedRefused) {
  const std::string base = R"("MrTd": ")" + std::string(96, 'a') + R"(", "MrSeam": ")" + std::string(96, 'b') +
                           R"(", "Rtmrs": [")" + std::string(96, '0') + R"(", ")" + std::string(96, '0') + R"(", ")" +
                           std::string(96, '0') + R"(", ")" + std::string(96, '0') +
                           R"("], "Xfam": "e71a060000000000")";
  auto none = ParseTdxReferenceValues("{" + base + "}");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->accepted_tcb_statuses.empty());
  EXPECT_FALSE(TdxReferenceValuesToJson(*none).contains("AcceptedTcbStatuses"));

  auto some = ParseTdxReferenceValues("{" + base + R"(, "AcceptedTcbStatuses": ["UpToDate", "SWHardeningNeeded"]})");
  ASSERT_TRUE(some) << some.error().message;
  EXPECT_EQ(some->accepted_tcb_statuses, (std::vector<TcbStatus>{TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded}));
  auto round_trip = ParseTdxReferenceValues(TdxReferenceValuesToJson(*some).dump());
  ASSERT_TRUE(round_trip) << round_trip.error().message;
  EXPECT_EQ(*round_trip, *some);

  auto bad = ParseTdxReferenceValues("{" + base +
                                     R"(, "AcceptedTcbStatuses": ["Revoked", "Fine", 3, "UpToDate", "UpToDate"]})");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message,
              HasSubstr("ReferenceValues.tdx[0].AcceptedTcbStatuses[0]: a Revoked TCB is never acceptable"));
  EXPECT_THAT(bad.error().message, HasSubstr("AcceptedTcbStatuses[1]: unknown TCB status \"Fine\""));
  EXPECT_THAT(bad.error().message, HasSubstr("AcceptedTcbStatuses[2]: expected a string"));
  EXPECT_THAT(bad.error().message, HasSubstr("AcceptedTcbStatuses[4]: duplicate \"UpToDate\""));
}

TEST(TdxAcceptedTcbStatuses, AnExplicitListNeedsAStatusFromTheVerifier) {
  TdxReferenceValues entry;
  TdMeasurements td;
  td.mrconfigid = PaddedPolicy(kPolicy);
  td.td_attributes = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00};
  const std::vector<PolicyDigest> allowed = {kPolicy};
  // No list, no status: the caller's default applied (no TCB_STATUS check).
  EXPECT_TRUE(Validate(entry, td, allowed).ok()) << Validate(entry, td, allowed).Message();
  entry.accepted_tcb_statuses = {TcbStatus::kOutOfDate};
  EXPECT_THAT(Validate(entry, td, allowed).Message(), HasSubstr("TCB_STATUS: expected one of OutOfDate, got unknown"));
  td.tcb_status = TcbStatus::kOutOfDate;
  EXPECT_TRUE(Validate(entry, td, allowed).ok()) << Validate(entry, td, allowed).Message();
}

}  // namespace
}  // namespace contrast::attest::tdx
