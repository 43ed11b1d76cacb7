// SNP evidence assembled from a kernel's report and certificate table
// (shared by the configfs-tsm and /dev/sev-guest issuers).
#include "attest/tsm/snp_evidence.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/snp/abi.h"
#include "attest/snp/cert_table.h"
#include "crypto/x509.h"
#include "support/testdata.h"

namespace contrast::attest::tsm {
namespace {

using ::testing::HasSubstr;
using testing::ReadTestdata;

Bytes PemToDer(const std::string& path) {
  auto cert = crypto::Certificate::ParsePem(AsChars(ReadTestdata(path)));
  EXPECT_TRUE(cert.has_value()) << path;
  return cert ? cert->Der() : Bytes{};
}

ReportData ReportDataOf(const Bytes& report) {
  auto parsed = snp::ParseReport(report);
  EXPECT_TRUE(parsed.has_value());
  ReportData data{};
  if (parsed) std::copy(parsed->report_data.begin(), parsed->report_data.end(), data.begin());
  return data;
}

class SnpEvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    report_ = ReadTestdata("snp/virtee_report_milan.bin");
    vcek_ = ReadTestdata("snp/virtee_vcek_milan.der");
    ask_ = PemToDer("snp/ask_milan.pem");
    ark_ = PemToDer("snp/ark_milan.pem");
  }
  Bytes report_, vcek_, ask_, ark_;
};

TEST_F(SnpEvidenceTest, CarriesVcekDerAndAskArkPem) {
  snp::CertTable table;
  // A VLEK too: the report says the VCEK signed it, so the VLEK is ignored.
  table.entries = {
      {snp::kGuidArk, ark_}, {snp::kGuidVlek, Bytes{1, 2, 3}}, {snp::kGuidAsk, ask_}, {snp::kGuidVcek, vcek_}};
  Bytes bytes = snp::BuildCertTable(table);
  bytes.resize(0x4000, 0);
  auto evidence = MakeSnpEvidence(kPlatformSnp, report_, bytes, ReportDataOf(report_), "test");
  ASSERT_TRUE(evidence.has_value()) << evidence.error().message;
  EXPECT_EQ(evidence->platform, kPlatformSnp);
  EXPECT_EQ(evidence->report, report_);
  EXPECT_EQ(evidence->endorsement_key, vcek_);
  auto chain = crypto::Certificate::ParsePemChain(evidence->cert_chain);
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].Der(), ask_);  // ASK first, then ARK
  EXPECT_EQ((*chain)[1].Der(), ark_);
}

TEST_F(SnpEvidenceTest, VlekSignedReportCarriesTheVlek) {
  const Bytes report = ReadTestdata("snp/trustee_test-vlek-report.bin");
  const Bytes vlek = ReadTestdata("snp/trustee_test-vlek.der");
  snp::CertTable table;
  table.entries = {{snp::kGuidVcek, vcek_}, {snp::kGuidVlek, vlek}};
  auto evidence = MakeSnpEvidence(kPlatformSnp, report, snp::BuildCertTable(table), ReportDataOf(report), "test");
  ASSERT_TRUE(evidence.has_value()) << evidence.error().message;
  EXPECT_EQ(evidence->endorsement_key, vlek);
  EXPECT_TRUE(evidence->cert_chain.empty());
}

TEST_F(SnpEvidenceTest, NoTableLeavesEndorsementsEmpty) {
  auto evidence = MakeSnpEvidence(kPlatformInsecureEmulatedSnp, report_, {}, ReportDataOf(report_), "test");
  ASSERT_TRUE(evidence.has_value()) << evidence.error().message;
  EXPECT_EQ(evidence->platform, kPlatformInsecureEmulatedSnp);
  EXPECT_TRUE(evidence->endorsement_key.empty());
  EXPECT_TRUE(evidence->cert_chain.empty());
}

TEST_F(SnpEvidenceTest, OtherReportDataIsRefused) {
  ReportData other = ReportDataOf(report_);
  other[63] ^= 1;
  auto evidence = MakeSnpEvidence(kPlatformSnp, report_, {}, other, "configfs-tsm /x");
  ASSERT_FALSE(evidence.has_value());
  EXPECT_THAT(evidence.error().message, HasSubstr("configfs-tsm /x: the report carries REPORT_DATA"));
}

TEST_F(SnpEvidenceTest, MalformedTableOrCertificateIsRefused) {
  Bytes bad_table(30, 0xff);
  auto evidence = MakeSnpEvidence(kPlatformSnp, report_, bad_table, ReportDataOf(report_), "src");
  ASSERT_FALSE(evidence.has_value());
  EXPECT_EQ(evidence.error().code, ErrorCode::kParse);
  EXPECT_THAT(evidence.error().message, HasSubstr("src: certificate table"));

  snp::CertTable table;
  table.entries = {{snp::kGuidAsk, Bytes{0x30, 0x00}}};
  auto bad_ask = MakeSnpEvidence(kPlatformSnp, report_, snp::BuildCertTable(table), ReportDataOf(report_), "src");
  ASSERT_FALSE(bad_ask.has_value());
  EXPECT_THAT(bad_ask.error().message, HasSubstr("the ASK in the certificate table"));
}

TEST_F(SnpEvidenceTest, NotAReportIsRefused) {
  auto evidence = MakeSnpEvidence(kPlatformSnp, Bytes(100, 0), {}, ReportData{}, "src");
  ASSERT_FALSE(evidence.has_value());
  EXPECT_THAT(evidence.error().message, HasSubstr("src: not an SNP attestation report"));
}

}  // namespace
}  // namespace contrast::attest::tsm
