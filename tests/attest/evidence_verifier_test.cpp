// attest::EvidenceVerifier and the per-platform verifiers behind it: real
// SEV-SNP evidence (testdata) and the in-process emulated secure processor.
#include "attest/evidence_verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/evidence_verifier.h"
#include "attest/snp/evidence_verifier.h"
#include "attest/snp/reference_values.h"
#include "support/emulated_platform.h"
#include "support/testdata.h"

namespace contrast::attest {
namespace {

using ::testing::HasSubstr;
using namespace contrast::testing;
using emulated::InsecureEmulatedReferenceValues;

ReportData Binding(uint8_t fill) {
  ReportData data;
  data.fill(fill);
  return data;
}

Evidence IssueOrDie(Issuer& issuer, const ReportData& report_data) {
  auto evidence = issuer.Issue(report_data);
  if (!evidence) throw std::runtime_error(evidence.error().message);
  return *evidence;
}

class EmulatedVerification : public ::testing::Test {
 protected:
  EvidenceVerifier verifier_;
  emulated::InsecureEmulatedIssuer issuer_ = IssuerFor(kWorkloadHostData);
  Evidence evidence_ = IssueOrDie(issuer_, Binding(0xAB));
};

TEST_F(EmulatedVerification, AcceptsPinnedRootAndMatchingValues) {
  AcceptableReferenceValues rv = AcceptEmulated(kWorkloadHostData);
  // A second entry for an unrelated root is simply not a candidate.
  rv.emulated.insert(rv.emulated.begin(),
                     InsecureEmulatedReferenceValues{EmulatedEntry(), crypto::Sha256(OtherEmulator().ark_der())});
  auto verified = verifier_.Verify(evidence_, Binding(0xAB), rv);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->platform(), "emulated-snp");
  EXPECT_TRUE(verified->insecure());
  EXPECT_EQ(verified->host_data(), kWorkloadHostData);
  ASSERT_NE(verified->snp(), nullptr);
  EXPECT_EQ(verified->snp()->report().measurement, kMeasurement);
  EXPECT_EQ(verified->matched_entry(), 1u);
  EXPECT_TRUE(verified->snp()->insecure_root());
}

TEST_F(EmulatedVerification, RejectsOtherReportData) {
  auto rejected = verifier_.Verify(evidence_, Binding(0xAC), AcceptEmulated(kWorkloadHostData));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(rejected.error().message, HasSubstr("REPORT_DATA: expected acacac"));
  EXPECT_THAT(rejected.error().message, HasSubstr("not bound to this session"));
}

// Junk is refused by the cheap checks: evidence not bound to this session
// fails on its REPORT_DATA before any certificate is parsed or signature
// checked, whatever else is wrong with it.
TEST_F(EmulatedVerification, ChecksTheBindingBeforeCertificatesAndSignatures) {
  Evidence no_chain = evidence_;
  no_chain.cert_chain.clear();
  Evidence bad_vcek = evidence_;
  bad_vcek.endorsement_key = Bytes{0x30, 0x82, 0x01};
  Evidence unsigned_report = evidence_;
  std::fill(unsigned_report.report.end() - 512, unsigned_report.report.end(), uint8_t{0});  // the signature
  for (const Evidence* evidence : {&no_chain, &bad_vcek, &unsigned_report}) {
    auto rejected = verifier_.Verify(*evidence, Binding(0xAC), AcceptEmulated(kWorkloadHostData));
    ASSERT_FALSE(rejected);
    EXPECT_EQ(rejected.error().code, ErrorCode::kValidationFailed) << rejected.error().message;
    EXPECT_THAT(rejected.error().message, HasSubstr("not bound to this session"));
  }
}

TEST_F(EmulatedVerification, RejectsUnpinnedRoot) {
  auto rejected = verifier_.Verify(evidence_, Binding(0xAB), AcceptEmulated(kWorkloadHostData, OtherEmulator()));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kUntrustedRoot);
  EXPECT_THAT(rejected.error().message, HasSubstr("is not pinned by any ReferenceValues.emulated entry"));
  EXPECT_THAT(rejected.error().message, HasSubstr(HexEncode(crypto::Sha256(Emulator().ark_der()))));
}

TEST_F(EmulatedVerification, RejectsWrongMeasurementWithTheEntryNamed) {
  AcceptableReferenceValues rv = AcceptEmulated(kWorkloadHostData);
  rv.emulated[0].snp.trusted_measurement = Filled<48>(0x00);
  auto rejected = verifier_.Verify(evidence_, Binding(0xAB), rv);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kMeasurementMismatch);
  EXPECT_THAT(rejected.error().message, HasSubstr("ReferenceValues.emulated[0]: MEASUREMENT: expected 0000"));
  EXPECT_THAT(rejected.error().message, HasSubstr("got " + HexEncode(kMeasurement)));
}

TEST_F(EmulatedVerification, RejectsHostDataThatIsNotAllowed) {
  auto rejected = verifier_.Verify(evidence_, Binding(0xAB), AcceptEmulated(kCoordinatorHostData));
  ASSERT_FALSE(rejected);
  EXPECT_THAT(rejected.error().message, HasSubstr("HOST_DATA"));
  EXPECT_THAT(rejected.error().message, HasSubstr(HexEncode(kWorkloadHostData)));

  AcceptableReferenceValues none = AcceptEmulated(kWorkloadHostData);
  none.allowed_host_data.clear();
  auto refused = verifier_.Verify(evidence_, Binding(0xAB), none);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(EmulatedVerification, RejectsWhenNoEntryForThePlatform) {
  AcceptableReferenceValues rv;
  rv.allowed_host_data.push_back(kWorkloadHostData);
  auto no_entry = verifier_.Verify(evidence_, Binding(0xAB), rv);
  ASSERT_FALSE(no_entry);
  EXPECT_THAT(no_entry.error().message, HasSubstr("no entry for platform \"emulated-snp\""));

  // Real platforms in the reference values never admit emulated evidence.
  AcceptableReferenceValues mixed = AcceptEmulated(kWorkloadHostData);
  mixed.snp.push_back(EmulatedEntry());
  auto rejected = verifier_.Verify(evidence_, Binding(0xAB), mixed);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kInvalidArgument);

  // Emulated evidence relabelled "snp" must verify to AMD's roots, and cannot.
  Evidence relabelled = evidence_;
  relabelled.platform = "snp";
  AcceptableReferenceValues snp_only;
  snp_only.snp.push_back(EmulatedEntry());
  snp_only.allowed_host_data.push_back(kWorkloadHostData);
  auto not_amd = verifier_.Verify(relabelled, Binding(0xAB), snp_only);
  ASSERT_FALSE(not_amd);
  EXPECT_EQ(not_amd.error().code, ErrorCode::kUntrustedRoot) << not_amd.error().message;
}

TEST_F(EmulatedVerification, RejectsMalformedEvidence) {
  const AcceptableReferenceValues rv = AcceptEmulated(kWorkloadHostData);
  struct Case {
    const char* name;
    Evidence evidence;
    ErrorCode code;
  };
  Evidence garbage_report = evidence_;
  garbage_report.report = Bytes(0x4A0, 0xEE);
  Evidence short_report = evidence_;
  short_report.report.resize(100);
  Evidence no_chain = evidence_;
  no_chain.cert_chain.clear();
  Evidence one_cert = evidence_;
  one_cert.cert_chain = Emulator().ark_pem();
  Evidence bad_vcek = evidence_;
  bad_vcek.endorsement_key = Bytes{0x30, 0x82, 0x01};
  Evidence tampered = evidence_;
  tampered.report[0x90] ^= 1;  // inside MEASUREMENT, covered by the signature
  const Case cases[] = {
      {"garbage report", garbage_report, ErrorCode::kParse},
      {"short report", short_report, ErrorCode::kParse},
      {"no chain", no_chain, ErrorCode::kParse},
      {"one certificate", one_cert, ErrorCode::kParse},
      {"bad VCEK", bad_vcek, ErrorCode::kCertificateInvalid},
      {"tampered report", tampered, ErrorCode::kSignatureInvalid},
  };
  for (const Case& c : cases) {
    auto rejected = verifier_.Verify(c.evidence, Binding(0xAB), rv);
    ASSERT_FALSE(rejected) << c.name;
    EXPECT_EQ(rejected.error().code, c.code) << c.name << ": " << rejected.error().message;
  }
}

// The recorded report of real hardware (virtee, Milan, VECTORS.md B2). It
// cannot carry a session binding, so the expected REPORT_DATA is its own.
class RealSnpVerification : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    evidence_.platform = "snp";
    evidence_.report = ReadTestdata("snp/virtee_report_milan.bin");
    evidence_.endorsement_key = ReadTestdata("snp/virtee_vcek_milan.der");
    auto report = snp::ParseReport(evidence_.report);
    ASSERT_TRUE(report) << report.error().message;
    report_ = *report;
    auto rv = snp::ParseReferenceValues(R"({
      "ProductName": "Milan",
      "TrustedMeasurement": ")" + HexEncode(report_.measurement) +
                                        R"(",
      "MinimumTCB": {"BootloaderVersion": 3, "TEEVersion": 0, "SNPVersion": 8, "MicrocodeVersion": 115},
      "GuestPolicy": {"SMT": true},
      "PlatformInfo": {"SMTEnabled": true},
      "AllowMissingRevocationCheck": true
    })");
    ASSERT_TRUE(rv) << rv.error().message;
    reference_values_.snp = rv->snp;
    reference_values_.allowed_host_data.push_back(report_.host_data);
  }

  // Inside the VCEK's validity.
  EvidenceVerifier verifier_{[] { return *ParseRfc3339("2025-06-01T00:00:00Z"); }};
  Evidence evidence_;
  snp::Report report_;
  AcceptableReferenceValues reference_values_;
};

TEST_F(RealSnpVerification, VerifiesWithItsOwnReportData) {
  auto verified = verifier_.Verify(evidence_, report_.report_data, reference_values_);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->platform(), "snp");
  EXPECT_FALSE(verified->insecure());
  ASSERT_NE(verified->snp(), nullptr);
  EXPECT_EQ(verified->snp()->product(), snp::Product::kMilan);
  EXPECT_EQ(verified->snp()->root_name(), "AMD ARK-Milan");
  EXPECT_EQ(verified->host_data(), report_.host_data);
  EXPECT_EQ(verified->matched_entry(), 0u);
}

TEST_F(RealSnpVerification, RejectsAnyOtherReportData) {
  ReportData other = report_.report_data;
  other[0] ^= 1;
  auto rejected = verifier_.Verify(evidence_, other, reference_values_);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(rejected.error().message, HasSubstr("REPORT_DATA"));
}

TEST_F(RealSnpVerification, RejectsWithoutSnpEntriesOrWhenExpired) {
  AcceptableReferenceValues emulated_only = AcceptEmulated(report_.host_data);
  auto no_entry = verifier_.Verify(evidence_, report_.report_data, emulated_only);
  ASSERT_FALSE(no_entry);
  EXPECT_THAT(no_entry.error().message, HasSubstr("no entry for platform \"snp\""));

  EvidenceVerifier far_future([] { return *ParseRfc3339("2040-01-01T00:00:00Z"); });
  auto expired = far_future.Verify(evidence_, report_.report_data, reference_values_);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kCertificateExpired) << expired.error().message;

  Evidence no_vcek = evidence_;
  no_vcek.endorsement_key.clear();
  EXPECT_FALSE(verifier_.Verify(no_vcek, report_.report_data, reference_values_));
}

// The dispatcher hands each tag to its verifier; an offline one has no TDX
// collateral and refuses "tdx"; anything else is malformed.
TEST_F(EmulatedVerification, DispatchesByPlatformTag) {
  Evidence tdx = evidence_;
  tdx.platform = std::string(kPlatformTdx);
  auto unsupported = verifier_.Verify(tdx, Binding(0xAB), AcceptEmulated(kWorkloadHostData));
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().code, ErrorCode::kUnsupported);
  EXPECT_THAT(unsupported.error().message, HasSubstr("TDX evidence needs Intel PCS collateral"));

  Evidence unknown = evidence_;
  unknown.platform = "sgx";
  auto malformed = verifier_.Verify(unknown, Binding(0xAB), AcceptEmulated(kWorkloadHostData));
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kParse);
  EXPECT_THAT(malformed.error().message, HasSubstr("unknown platform \"sgx\""));
}

// Each platform's verifier takes only its own evidence, so a caller that
// picked the wrong one cannot verify with the wrong roots.
TEST_F(EmulatedVerification, PlatformVerifiersRefuseOtherPlatforms) {
  const emulated::InsecureEmulatedVerifier emulated_verifier;
  auto accepted = emulated_verifier.Verify(evidence_, Binding(0xAB), AcceptEmulated(kWorkloadHostData));
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_TRUE(accepted->insecure());
  EXPECT_EQ(accepted->host_data(), kWorkloadHostData);

  const snp::SnpEvidenceVerifier snp_verifier;
  auto not_snp = snp_verifier.Verify(evidence_, Binding(0xAB), AcceptEmulated(kWorkloadHostData));
  ASSERT_FALSE(not_snp);
  EXPECT_EQ(not_snp.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(not_snp.error().message, HasSubstr("\"emulated-snp\""));

  Evidence relabelled = evidence_;
  relabelled.platform = std::string(kPlatformSnp);
  auto not_emulated = emulated_verifier.Verify(relabelled, Binding(0xAB), AcceptEmulated(kWorkloadHostData));
  ASSERT_FALSE(not_emulated);
  EXPECT_EQ(not_emulated.error().code, ErrorCode::kInvalidArgument);
}

TEST(InsecureEmulatedReferenceValues, EqualOnlyWithTheSameRootAndEntry) {
  const InsecureEmulatedReferenceValues a{EmulatedEntry(), crypto::Sha256(Emulator().ark_der())};
  InsecureEmulatedReferenceValues other_root = a;
  other_root.root_sha256 = crypto::Sha256(OtherEmulator().ark_der());
  InsecureEmulatedReferenceValues other_entry = a;
  other_entry.snp.minimum_mitigation_vector = 1;
  EXPECT_TRUE(a == InsecureEmulatedReferenceValues(a));
  EXPECT_FALSE(a == other_root);
  EXPECT_FALSE(a == other_entry);
}

}  // namespace
}  // namespace contrast::attest
