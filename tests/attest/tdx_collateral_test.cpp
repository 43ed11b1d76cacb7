// Intel PCS collateral: parsing the real tcbInfo / QE identity responses,
// cutting the signed JSON value byte-exactly, verifying it with the TCB
// signing certificate, the issuer chain against the pinned root, and the
// freshness checks.
#include "attest/tdx/collateral.h"

#include <gtest/gtest.h>

#include <string>

#include "attest/tdx/verify.h"
#include "crypto/hash.h"
#include "support/testdata.h"

namespace contrast::attest::tdx {
namespace {

using contrast::testing::ReadTestdata;

TimePoint At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

std::string Text(const char* path) {
  const Bytes bytes = ReadTestdata(path);
  return std::string(AsChars(bytes));
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

const char* const kTcbInfoD1 = "tdx/gotdxguest_sample_tcbInfo_response";
const char* const kTcbInfoD2 = "tdx/gotdxguest_sample_tcbinfo_response_v5";
const char* const kTcbInfoD3 = "tdx/trustee_tcbInfo.json";
const char* const kQeIdentityD1 = "tdx/gotdxguest_sample_qeIdentity_response";
const char* const kQeIdentityD3 = "tdx/trustee_enclaveIdentity.json";
const char* const kIssuerChain = "tdx/gotdxguest_tcbinfo_issuer_chain.pem";

class TdxCollateral : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    auto signing = VerifyCollateralIssuerChain(Text(kIssuerChain), IntelSgxRootCa());
    ASSERT_TRUE(signing) << signing.error().message;
    signing_ = *signing;
  }
  std::optional<crypto::Certificate> signing_;
};

TEST(TdxRoot, EmbeddedIntelRootIsPinnedAndEqualsTheVectorsRoot) {
  EXPECT_EQ(HexEncode(IntelSgxRootCa().Sha256Fingerprint()),
            "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
  EXPECT_EQ(IntelSgxRootCaSha256Hex(), "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
  EXPECT_EQ(IntelSgxRootCa().SubjectCommonName(), "Intel SGX Root CA");
  if (contrast::testing::TestdataDir().empty()) return;
  auto vectors_root = crypto::Certificate::ParseAuto(ReadTestdata("tdx/gotdxguest_trusted_root.pem"));
  ASSERT_TRUE(vectors_root);
  EXPECT_EQ(vectors_root->Der(), IntelSgxRootCa().Der());
}

TEST_F(TdxCollateral, ParsesEveryTcbInfoAndItsSignatureVerifies) {
  struct Case {
    const char* file;
    const char* fmspc;
    uint32_t evaluation_data_number;
    size_t module_identities;
    size_t levels;
  };
  for (const Case& c : {Case{kTcbInfoD1, "50806f000000", 15, 0, 2}, Case{kTcbInfoD2, "90c06f000000", 18, 2, 3},
                        Case{kTcbInfoD3, "00a06d080000", 17, 2, 2}}) {
    const std::string body = Text(c.file);
    auto info = ParseTcbInfoResponse(body);
    ASSERT_TRUE(info) << c.file << ": " << info.error().message;
    EXPECT_EQ(info->value.id, "TDX");
    EXPECT_EQ(info->value.version, 3);
    EXPECT_EQ(HexEncode(info->value.fmspc), c.fmspc);
    EXPECT_EQ(HexEncode(info->value.pce_id), "0000");
    EXPECT_EQ(info->value.tcb_evaluation_data_number, c.evaluation_data_number);
    EXPECT_EQ(info->value.tdx_module_identities.size(), c.module_identities) << c.file;
    EXPECT_EQ(info->value.levels.size(), c.levels) << c.file;
    // The signed value is the body's own bytes, from `{` to the matching `}`.
    EXPECT_TRUE(info->signed_json.starts_with("{\"id\":\"TDX\""));
    EXPECT_TRUE(info->signed_json.ends_with("}"));
    EXPECT_NE(body.find(info->signed_json), std::string::npos);
    EXPECT_TRUE(VerifyCollateralSignature(info->signed_json, info->signature, *signing_, "tcbInfo")) << c.file;
  }
}

TEST_F(TdxCollateral, TcbInfoFieldsOfD1) {
  auto info = ParseTcbInfoResponse(Text(kTcbInfoD1));
  ASSERT_TRUE(info);
  const TcbInfo& t = info->value;
  EXPECT_EQ(t.issue_date, At("2023-06-18T08:42:58Z"));
  EXPECT_EQ(t.next_update, At("2023-07-18T08:42:58Z"));
  EXPECT_EQ(t.tdx_module.mr_signer, (std::array<uint8_t, 48>{}));
  EXPECT_EQ(HexEncode(t.tdx_module.attributes_mask), "ffffffffffffffff");
  const TcbLevel& first = t.levels[0];
  EXPECT_EQ(first.sgx_components, (std::array<uint8_t, 16>{5, 5, 2, 2, 3, 1, 0, 3}));
  EXPECT_EQ(first.pce_svn, 11);
  EXPECT_EQ(first.tdx_components, (std::array<uint8_t, 16>{3, 0, 5}));
  EXPECT_EQ(first.status, TcbStatus::kUpToDate);
  EXPECT_EQ(first.tcb_date, At("2023-02-15T00:00:00Z"));
  EXPECT_EQ(t.levels[1].status, TcbStatus::kOutOfDate);
  EXPECT_EQ(t.levels[1].advisory_ids.size(), 13u);
  EXPECT_EQ(t.levels[1].advisory_ids.front(), "INTEL-SA-00106");
}

TEST_F(TdxCollateral, ModuleIdentitiesOfD2) {
  auto info = ParseTcbInfoResponse(Text(kTcbInfoD2));
  ASSERT_TRUE(info);
  const auto& ids = info->value.tdx_module_identities;
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].id, "TDX_03");
  EXPECT_EQ(ids[1].id, "TDX_01");
  ASSERT_EQ(ids[1].levels.size(), 3u);
  EXPECT_EQ(ids[1].levels[0].isv_svn, 6);
  EXPECT_EQ(ids[1].levels[1].status, TcbStatus::kOutOfDate);
  EXPECT_EQ(ids[1].levels[1].advisory_ids, (std::vector<std::string>{"INTEL-SA-01036", "INTEL-SA-01099"}));
}

TEST_F(TdxCollateral, ParsesQeIdentities) {
  for (const char* file : {kQeIdentityD1, kQeIdentityD3}) {
    auto qe = ParseQeIdentityResponse(Text(file));
    ASSERT_TRUE(qe) << file << ": " << qe.error().message;
    EXPECT_EQ(qe->value.id, "TD_QE");
    EXPECT_EQ(qe->value.version, 2);
    EXPECT_EQ(HexEncode(qe->value.mr_signer), "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
    EXPECT_EQ(qe->value.isv_prod_id, 2);
    EXPECT_EQ(qe->value.misc_select, 0u);
    EXPECT_EQ(qe->value.misc_select_mask, 0xFFFFFFFFu);
    EXPECT_EQ(HexEncode(qe->value.attributes_mask), "fbffffffffffffff0000000000000000");
    ASSERT_EQ(qe->value.levels.size(), 1u);
    EXPECT_EQ(qe->value.levels[0].isv_svn, 4);
    EXPECT_EQ(qe->value.levels[0].status, TcbStatus::kUpToDate);
    EXPECT_TRUE(VerifyCollateralSignature(qe->signed_json, qe->signature, *signing_, "enclaveIdentity")) << file;
  }
}

TEST_F(TdxCollateral, ChangedSignedBytesFailTheSignature) {
  std::string body = Text(kTcbInfoD1);
  const size_t at = body.find("\"pcesvn\":11");
  ASSERT_NE(at, std::string::npos);
  body[at + 10] = '2';  // pcesvn 11 -> 12: still valid JSON, no longer Intel's
  auto info = ParseTcbInfoResponse(body);
  ASSERT_TRUE(info) << info.error().message;
  auto verified = VerifyCollateralSignature(info->signed_json, info->signature, *signing_, "tcbInfo");
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_TRUE(Contains(verified.error().message, "tcbInfo signature")) << verified.error().message;
}

TEST_F(TdxCollateral, WhitespaceOutsideTheSignedValueDoesNotMatter) {
  const std::string original = Text(kQeIdentityD1);
  ASSERT_TRUE(original.starts_with("{\"enclaveIdentity\":"));
  const std::string spaced = "\n { \"enclaveIdentity\" : " + original.substr(19, original.find(",\"signature\"") - 19) +
                             " ,\n\"signature\" : " + original.substr(original.find(",\"signature\"") + 13);
  auto qe = ParseQeIdentityResponse(spaced);
  ASSERT_TRUE(qe) << qe.error().message;
  EXPECT_TRUE(VerifyCollateralSignature(qe->signed_json, qe->signature, *signing_, "enclaveIdentity"));
}

TEST_F(TdxCollateral, RejectsMalformedResponses) {
  const std::string good = Text(kQeIdentityD1);
  const std::string value = good.substr(19, good.find(",\"signature\"") - 19);
  struct Case {
    std::string body;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {"", ErrorCode::kParse, "not a JSON object"},
      {"[]", ErrorCode::kParse, "not a JSON object"},
      {good + "x", ErrorCode::kParse, "trailing data"},
      {good.substr(0, good.size() - 1), ErrorCode::kParse, "expected ',' or '}'"},
      // A second copy of the signed key: which one would a reader use?
      {"{\"enclaveIdentity\":{},\"enclaveIdentity\":" + value + good.substr(19 + value.size()), ErrorCode::kParse,
       "twice"},
      {"{\"enclaveIdentity\":" + value + "}", ErrorCode::kParse, "lacks"},
      {"{\"enclaveIdentity\":" + value + ",\"signature\":\"00\"}", ErrorCode::kParse, "64 bytes"},
      {"{\"enclaveIdentity\":{\"id\":\"QE\",\"version\":2},\"signature\":\"" + std::string(128, '0') + "\"}",
       ErrorCode::kUnsupported, "expected TD_QE version 2"},
      {"{\"enclaveIdentity\":{\"id\":\"TD_QE\",\"version\":2},\"signature\":\"" + std::string(128, '0') + "\"}",
       ErrorCode::kParse, "missing \"issueDate\""},
      {"{\"enclaveIdentity\":{\"id\":\"TD_QE\",\"version\":2,,},\"signature\":\"" + std::string(128, '0') + "\"}",
       ErrorCode::kParse, "not valid JSON"},
  };
  for (const Case& c : cases) {
    auto qe = ParseQeIdentityResponse(c.body);
    ASSERT_FALSE(qe) << c.body.substr(0, 80);
    EXPECT_EQ(qe.error().code, c.code) << qe.error().message;
    EXPECT_TRUE(Contains(qe.error().message, c.message)) << qe.error().message;
  }
  std::string v2 = Text(kTcbInfoD1);
  v2.replace(v2.find("\"version\":3"), 11, "\"version\":2");
  auto info = ParseTcbInfoResponse(v2);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kUnsupported);
  std::string bad_status = Text(kTcbInfoD1);
  bad_status.replace(bad_status.find("\"UpToDate\""), 10, "\"Fine\"");
  info = ParseTcbInfoResponse(bad_status);
  ASSERT_FALSE(info);
  EXPECT_TRUE(Contains(info.error().message, "unknown TCB status \"Fine\"")) << info.error().message;
}

TEST_F(TdxCollateral, FreshnessNamesTheDocumentAndTheTime) {
  auto info = ParseTcbInfoResponse(Text(kTcbInfoD1));
  ASSERT_TRUE(info);
  EXPECT_TRUE(
      CheckCollateralCurrent(info->value.issue_date, info->value.next_update, At("2023-07-01T00:00:00Z"), "tcbInfo"));
  auto late =
      CheckCollateralCurrent(info->value.issue_date, info->value.next_update, At("2023-07-20T00:00:00Z"), "tcbInfo");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kCertificateExpired);
  EXPECT_TRUE(Contains(late.error().message, "tcbInfo has expired: nextUpdate 2023-07-18T08:42:58Z"))
      << late.error().message;
  auto early =
      CheckCollateralCurrent(info->value.issue_date, info->value.next_update, At("2023-06-01T00:00:00Z"), "tcbInfo");
  ASSERT_FALSE(early);
  EXPECT_TRUE(Contains(early.error().message, "not yet valid")) << early.error().message;
}

TEST_F(TdxCollateral, IssuerChainMustEndInThePinnedRoot) {
  const std::string chain = Text(kIssuerChain);
  // Another root pinned: the PCK CRL issuer (an Intel CA, but not the anchor).
  auto other = crypto::Certificate::ParsePem(Text("tdx/gotdxguest_pckcrl_issuer_chain.pem"));
  ASSERT_TRUE(other);
  auto wrong_root = VerifyCollateralIssuerChain(chain, *other);
  ASSERT_FALSE(wrong_root);
  EXPECT_EQ(wrong_root.error().code, ErrorCode::kUntrustedRoot);

  // Only the root, or the certificates swapped.
  auto certs = crypto::Certificate::ParsePemChain(chain);
  ASSERT_TRUE(certs);
  const std::string pck_chain = Text("tdx/gotdxguest_pckcrl_issuer_chain.pem");
  auto not_tcb_signing = VerifyCollateralIssuerChain(pck_chain, IntelSgxRootCa());
  ASSERT_FALSE(not_tcb_signing);
  EXPECT_EQ(not_tcb_signing.error().code, ErrorCode::kCertificateInvalid);
  EXPECT_TRUE(Contains(not_tcb_signing.error().message, "not the Intel SGX TCB Signing certificate"));
  auto one =
      VerifyCollateralIssuerChain(chain.substr(0, chain.find("-----END CERTIFICATE-----") + 26), IntelSgxRootCa());
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, ErrorCode::kCertificateInvalid);
}

TEST_F(TdxCollateral, TcbSigningCertificateMustBeValidAtTheTime) {
  // Valid 2018-05-21 until 2025-05-21 (VECTORS D4).
  EXPECT_TRUE(CheckTcbSigningCertificate(*signing_, IntelSgxRootCa(), std::nullopt, At("2023-07-01T00:00:00Z")));
  auto expired = CheckTcbSigningCertificate(*signing_, IntelSgxRootCa(), std::nullopt, At("2026-02-03T00:00:00Z"));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kCertificateExpired);
  EXPECT_TRUE(Contains(expired.error().message, "Intel SGX TCB Signing certificate is expired"))
      << expired.error().message;
  // With the real root CRL (2023-04-03 .. 2024-04-02), which does not list it.
  auto crl = crypto::Crl::Parse(ReadTestdata("tdx/gotdxguest_rootcrl.der"));
  ASSERT_TRUE(crl);
  EXPECT_TRUE(CheckTcbSigningCertificate(*signing_, IntelSgxRootCa(), *crl, At("2023-07-01T00:00:00Z")));
  auto stale = CheckTcbSigningCertificate(*signing_, IntelSgxRootCa(), *crl, At("2024-05-01T00:00:00Z"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kCertificateExpired);
  EXPECT_TRUE(Contains(stale.error().message, "root CA CRL")) << stale.error().message;
}

}  // namespace
}  // namespace contrast::attest::tdx
