// TDX quote verification with the real quotes and collateral of
// ../shared/testdata/tdx, each at its documented time with its documented
// result (VECTORS.md D and E).
//
// The TCB-signing certificate in the vectors' issuer chain expired on
// 2025-05-21, but the collateral for D2 (issued 2026-02-01) and D3 (issued
// 2025-10-27) is signed with the same key under a renewed certificate we do
// not have. Verify never accepts an expired TCB-signing certificate, so for
// D2 and D3 these tests (a) check that full verification refuses with that
// specific error, and (b) verify the same pieces one by one with the public
// building blocks: the quote's own signatures and PCK chain at the documented
// time, the collateral body signature with the (expired) certificate's key,
// and the TCB evaluation, which gives the documented status.
#include "attest/tdx/verify.h"

#include <gtest/gtest.h>

#include <string>

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

const char* const kD1 = "tdx/gotdxguest_tdx_prod_quote_SPR_E4.dat";
const char* const kD2 = "tdx/gotdxguest_quote_v5_sample.dat";
const TimePoint kD1Time = At("2023-07-01T00:00:00Z");
const TimePoint kD2Time = At("2026-02-03T00:00:00Z");
const TimePoint kD3Time = At("2025-11-01T00:00:00Z");

Collateral D1Collateral() {
  Collateral c;
  c.tcb_info = Text("tdx/gotdxguest_sample_tcbInfo_response");
  c.qe_identity = Text("tdx/gotdxguest_sample_qeIdentity_response");
  c.issuer_chain = Text("tdx/gotdxguest_tcbinfo_issuer_chain.pem");
  c.pck_crl = ReadTestdata("tdx/gotdxguest_pckcrl");
  c.root_crl = ReadTestdata("tdx/gotdxguest_rootcrl.der");
  return c;
}

VerifyOptions Options(TimePoint at) {
  VerifyOptions o;
  o.at = at;
  return o;
}

Error Rejection(const Bytes& quote, const Collateral& collateral, const VerifyOptions& options) {
  auto verified = Verify(quote, collateral, options);
  if (verified) return Error{ErrorCode::kInternal, "accepted"};
  return verified.error();
}

// The pieces of a verification, for vectors whose collateral signing
// certificate has expired (see the file comment).
struct Pieces {
  Quote quote;
  std::optional<VerifiedPckChain> chain;
  SignedTcbInfo tcb_info;
  SignedQeIdentity qe_identity;
};

Pieces VerifyPieces(const char* quote_file, const char* tcb_info_file, const char* qe_identity_file, TimePoint at) {
  Pieces p;
  auto quote = ParseQuote(ReadTestdata(quote_file));
  EXPECT_TRUE(quote) << quote.error().message;
  if (!quote) return p;
  p.quote = *quote;
  auto chain = VerifyQuoteSignatures(p.quote, IntelSgxRootCa(), at, std::nullopt, std::nullopt);
  EXPECT_TRUE(chain) << quote_file << ": " << chain.error().message;
  if (chain) p.chain = *chain;
  auto signing = VerifyCollateralIssuerChain(Text("tdx/gotdxguest_tcbinfo_issuer_chain.pem"), IntelSgxRootCa());
  EXPECT_TRUE(signing);
  auto tcb_info = ParseTcbInfoResponse(Text(tcb_info_file));
  auto qe_identity = ParseQeIdentityResponse(Text(qe_identity_file));
  EXPECT_TRUE(tcb_info && qe_identity);
  if (!signing || !tcb_info || !qe_identity) return p;
  EXPECT_TRUE(VerifyCollateralSignature(tcb_info->signed_json, tcb_info->signature, *signing, "tcbInfo"));
  EXPECT_TRUE(VerifyCollateralSignature(qe_identity->signed_json, qe_identity->signature, *signing, "enclaveIdentity"));
  EXPECT_TRUE(CheckCollateralCurrent(tcb_info->value.issue_date, tcb_info->value.next_update, at, "tcbInfo"));
  p.tcb_info = *tcb_info;
  p.qe_identity = *qe_identity;
  return p;
}

class TdxVerify : public ::testing::Test {
 protected:
  void SetUp() override { CONTRAST_REQUIRE_TESTDATA(); }
};

TEST_F(TdxVerify, D1IsAuthenticButNoTcbLevelMatches) {
  const Bytes quote = ReadTestdata(kD1);
  // Authentic: signatures, binding, chain to the pinned root, both CRLs.
  auto parsed = ParseQuote(quote);
  ASSERT_TRUE(parsed);
  auto pck_crl = crypto::Crl::Parse(ReadTestdata("tdx/gotdxguest_pckcrl"));
  auto root_crl = crypto::Crl::Parse(ReadTestdata("tdx/gotdxguest_rootcrl.der"));
  ASSERT_TRUE(pck_crl && root_crl);
  auto chain = VerifyQuoteSignatures(*parsed, IntelSgxRootCa(), kD1Time, *pck_crl, *root_crl);
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ(chain->intermediate.SubjectCommonName(), "Intel SGX PCK Platform CA");
  EXPECT_EQ(chain->leaf.SerialHex(), "bba6c175d838b8df3900cc3411f24f512d104102");
  const PckCertificateInfo& pck = chain->info;
  EXPECT_EQ(HexEncode(pck.fmspc), "50806f000000");
  EXPECT_EQ(HexEncode(pck.pce_id), "0000");
  EXPECT_EQ(pck.pce_svn, 11);
  EXPECT_EQ(HexEncode(pck.cpu_svn), "03030202020100020000000000000000");
  EXPECT_EQ(pck.sgx_components, (std::array<uint8_t, 16>{3, 3, 2, 2, 2, 1, 0, 2}));
  EXPECT_EQ(pck.sgx_type, 1);
  EXPECT_EQ(pck.dynamic_platform, true);
  EXPECT_EQ(pck.cached_keys, false);
  EXPECT_EQ(pck.smt_enabled, true);
  EXPECT_TRUE(pck.platform_instance_id.has_value());

  // TCB: the PCK's SGX components are below both levels.
  const Error error = Rejection(quote, D1Collateral(), Options(kD1Time));
  EXPECT_EQ(error.code, ErrorCode::kTcbTooLow) << error.message;
  EXPECT_TRUE(Contains(error.message, "no TCB level matches")) << error.message;
  EXPECT_TRUE(Contains(error.message, "FMSPC 50806f000000")) << error.message;
}

TEST_F(TdxVerify, D1QeIdentityIsUpToDate) {
  Pieces p =
      VerifyPieces(kD1, "tdx/gotdxguest_sample_tcbInfo_response", "tdx/gotdxguest_sample_qeIdentity_response", kD1Time);
  ASSERT_TRUE(p.chain.has_value());
  // With the level SVNs lowered (what go-tdx-guest's own test does), the
  // platform matches its first level and the QE identity says UpToDate.
  for (TcbLevel& level : p.tcb_info.value.levels) {
    level.sgx_components = {};
    level.tdx_components = {};
  }
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  EXPECT_EQ(evaluation->qe_status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->tcb_date, At("2023-02-15T00:00:00Z"));
  EXPECT_EQ(evaluation->tcb_evaluation_data_number, 15u);
}

TEST_F(TdxVerify, D1In2053HasAnExpiredPck) {
  Collateral collateral = D1Collateral();
  const Error error = Rejection(ReadTestdata(kD1), collateral, Options(At("2053-07-01T00:00:00Z")));
  EXPECT_EQ(error.code, ErrorCode::kCertificateExpired) << error.message;
  EXPECT_TRUE(Contains(error.message, "PCK certificate is expired")) << error.message;
  EXPECT_TRUE(Contains(error.message, "2029-09-20")) << error.message;
}

TEST_F(TdxVerify, D1WithTcbInfoPastNextUpdateIsExpired) {
  // After tcbInfo's nextUpdate (2023-07-18); the CRLs and QE identity are
  // stale by then as well, so leave the CRLs out to reach tcbInfo.
  Collateral collateral = D1Collateral();
  collateral.pck_crl.clear();
  collateral.root_crl.clear();
  VerifyOptions options = Options(At("2023-07-20T00:00:00Z"));
  options.require_crls = false;
  const Error error = Rejection(ReadTestdata(kD1), collateral, options);
  EXPECT_EQ(error.code, ErrorCode::kCertificateExpired) << error.message;
  EXPECT_TRUE(Contains(error.message, "tcbInfo has expired: nextUpdate 2023-07-18T08:42:58Z")) << error.message;

  // With the CRLs, the PCK CRL (next update 2023-07-08) is the first to go.
  const Error with_crls = Rejection(ReadTestdata(kD1), D1Collateral(), Options(At("2023-07-20T00:00:00Z")));
  EXPECT_EQ(with_crls.code, ErrorCode::kCertificateExpired) << with_crls.message;
  EXPECT_TRUE(Contains(with_crls.message, "PCK CRL")) << with_crls.message;
}

TEST_F(TdxVerify, CrlsAreRequiredUnlessTheCallerSaysOtherwise) {
  Collateral collateral = D1Collateral();
  collateral.pck_crl.clear();
  const Error error = Rejection(ReadTestdata(kD1), collateral, Options(kD1Time));
  EXPECT_EQ(error.code, ErrorCode::kInvalidArgument) << error.message;
  EXPECT_TRUE(Contains(error.message, "CRL")) << error.message;
}

TEST_F(TdxVerify, AnotherPinnedRootIsRefused) {
  VerifyOptions options = Options(kD1Time);
  auto other = crypto::Certificate::ParsePem(Text("tdx/gotdxguest_pckcrl_issuer_chain.pem"));
  ASSERT_TRUE(other);
  options.pinned_root = *other;
  const Error error = Rejection(ReadTestdata(kD1), D1Collateral(), options);
  EXPECT_EQ(error.code, ErrorCode::kUntrustedRoot) << error.message;
}

TEST_F(TdxVerify, D2AtItsTimeNeedsATimeValidCollateralChain) {
  Collateral collateral;
  collateral.tcb_info = Text("tdx/gotdxguest_sample_tcbinfo_response_v5");
  collateral.qe_identity = Text("tdx/gotdxguest_sample_qeIdentity_response");
  collateral.issuer_chain = Text("tdx/gotdxguest_tcbinfo_issuer_chain.pem");
  VerifyOptions options = Options(kD2Time);
  options.require_crls = false;
  const Error error = Rejection(ReadTestdata(kD2), collateral, options);
  EXPECT_EQ(error.code, ErrorCode::kCertificateExpired) << error.message;
  EXPECT_TRUE(Contains(error.message, "Intel SGX TCB Signing certificate is expired")) << error.message;
}

TEST_F(TdxVerify, D2PiecesEvaluateUpToDate) {
  Pieces p = VerifyPieces(kD2, "tdx/gotdxguest_sample_tcbinfo_response_v5", "tdx/gotdxguest_sample_qeIdentity_response",
                          kD2Time);
  ASSERT_TRUE(p.chain.has_value());
  EXPECT_EQ(HexEncode(p.chain->info.fmspc), "90c06f000000");
  EXPECT_EQ(p.chain->info.pce_svn, 13);
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  EXPECT_EQ(evaluation->status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->platform_status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->tcb_date, At("2024-11-13T00:00:00Z"));
  EXPECT_EQ(evaluation->tdx_module_identity, "TDX_01");
  EXPECT_EQ(evaluation->tdx_module_status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->qe_status, TcbStatus::kUpToDate);
  EXPECT_TRUE(evaluation->advisory_ids.empty());
  EXPECT_TRUE(CheckTcbStatusAccepted(*evaluation, std::vector<TcbStatus>{TcbStatus::kUpToDate}));
}

TEST_F(TdxVerify, D2ComparesTdxComponentsFromIndexTwo) {
  Pieces p = VerifyPieces(kD2, "tdx/gotdxguest_sample_tcbinfo_response_v5", "tdx/gotdxguest_sample_qeIdentity_response",
                          kD2Time);
  ASSERT_TRUE(p.chain.has_value());
  // The first level asks TDX component 0 for 5; TEE_TCB_SVN[0] is 11 here,
  // but the point is that index 0 and 1 are skipped: demand 12 and the level
  // still matches.
  p.tcb_info.value.levels[0].tdx_components[0] = 12;
  p.tcb_info.value.levels[0].tdx_components[1] = 9;
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  EXPECT_EQ(evaluation->tcb_date, At("2024-11-13T00:00:00Z"));
  // Index 2 is compared: demand 5 (> 4) and the first level no longer matches.
  p.tcb_info.value.levels[0].tdx_components[2] = 5;
  evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  EXPECT_EQ(evaluation->tcb_date, At("2024-03-13T00:00:00Z"));
  EXPECT_EQ(evaluation->status, TcbStatus::kOutOfDate);
  EXPECT_EQ(evaluation->advisory_ids.size(), 5u);
}

TEST_F(TdxVerify, D2ModuleIdentityOutOfDateMakesThePlatformOutOfDate) {
  Pieces p = VerifyPieces(kD2, "tdx/gotdxguest_sample_tcbinfo_response_v5", "tdx/gotdxguest_sample_qeIdentity_response",
                          kD2Time);
  ASSERT_TRUE(p.chain.has_value());
  // TDX_01 levels: isvsvn 6 UpToDate, 4 OutOfDate, 2 OutOfDate. Demand 12
  // for UpToDate: TEE_TCB_SVN[0] = 11 falls to the OutOfDate level.
  p.tcb_info.value.tdx_module_identities[1].levels[0].isv_svn = 12;
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  EXPECT_EQ(evaluation->platform_status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->tdx_module_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(evaluation->status, TcbStatus::kOutOfDate);
  EXPECT_EQ(evaluation->advisory_ids, (std::vector<std::string>{"INTEL-SA-01036", "INTEL-SA-01099"}));
  // A module signer other than the identity's.
  p.tcb_info.value.tdx_module_identities[1].module.mr_signer[0] = 1;
  auto mismatch = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kTcbMismatch);
  EXPECT_TRUE(Contains(mismatch.error().message, "MRSIGNERSEAM")) << mismatch.error().message;
  // No identity for the reported major version.
  p.tcb_info.value.tdx_module_identities[1].id = "TDX_02";
  mismatch = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_FALSE(mismatch);
  EXPECT_TRUE(Contains(mismatch.error().message, "no TDX module identity TDX_01")) << mismatch.error().message;
}

TEST_F(TdxVerify, D3Quote6IsOutOfDateAndAcceptedOnlyWhenAllowed) {
  Pieces p = VerifyPieces("tdx/trustee_tdx_quote_6.dat", "tdx/trustee_tcbInfo.json", "tdx/trustee_enclaveIdentity.json",
                          kD3Time);
  ASSERT_TRUE(p.chain.has_value());
  EXPECT_EQ(HexEncode(p.chain->info.fmspc), "00a06d080000");
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_TRUE(evaluation) << evaluation.error().message;
  EXPECT_EQ(evaluation->status, TcbStatus::kOutOfDate);
  EXPECT_EQ(evaluation->platform_status, TcbStatus::kOutOfDate);
  EXPECT_EQ(evaluation->tcb_date, At("2018-01-04T00:00:00Z"));
  EXPECT_EQ(evaluation->tdx_module_identity, "TDX_03");
  EXPECT_EQ(evaluation->tdx_module_status, TcbStatus::kUpToDate);
  EXPECT_EQ(evaluation->qe_status, TcbStatus::kUpToDate);

  auto refused = CheckTcbStatusAccepted(*evaluation, std::vector<TcbStatus>{TcbStatus::kUpToDate});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kTcbTooLow);
  EXPECT_TRUE(
      Contains(refused.error().message, "TCB status OutOfDate is not accepted (accepted: UpToDate); advisories: none"))
      << refused.error().message;
  EXPECT_TRUE(CheckTcbStatusAccepted(*evaluation, std::vector<TcbStatus>{TcbStatus::kUpToDate, TcbStatus::kOutOfDate}));

  // Full verification at the same time stops at the expired signing certificate.
  Collateral collateral;
  collateral.tcb_info = Text("tdx/trustee_tcbInfo.json");
  collateral.qe_identity = Text("tdx/trustee_enclaveIdentity.json");
  collateral.issuer_chain = Text("tdx/gotdxguest_tcbinfo_issuer_chain.pem");
  VerifyOptions options = Options(kD3Time);
  options.require_crls = false;
  options.accepted_tcb_statuses = {TcbStatus::kUpToDate, TcbStatus::kOutOfDate};
  const Error error = Rejection(ReadTestdata("tdx/trustee_tdx_quote_6.dat"), collateral, options);
  EXPECT_EQ(error.code, ErrorCode::kCertificateExpired) << error.message;
}

TEST_F(TdxVerify, D3OtherQuotesAreAuthentic) {
  for (const char* file : {"tdx/trustee_tdx_quote_4.dat", "tdx/trustee_tdx_quote_5.dat"}) {
    auto quote = ParseQuote(ReadTestdata(file));
    ASSERT_TRUE(quote) << quote.error().message;
    auto chain =
        VerifyQuoteSignatures(*quote, IntelSgxRootCa(), At("2025-01-01T00:00:00Z"), std::nullopt, std::nullopt);
    ASSERT_TRUE(chain) << file << ": " << chain.error().message;
  }
  auto q4 = ParseQuote(ReadTestdata("tdx/trustee_tdx_quote_4.dat"));
  EXPECT_TRUE(q4->td_report.debug());
}

TEST_F(TdxVerify, QeIdentityMismatchIsNamed) {
  Pieces p = VerifyPieces(kD2, "tdx/gotdxguest_sample_tcbinfo_response_v5", "tdx/gotdxguest_sample_qeIdentity_response",
                          kD2Time);
  ASSERT_TRUE(p.chain.has_value());
  QeIdentity other = p.qe_identity.value;
  other.mr_signer[0] ^= 1;
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, other);
  ASSERT_FALSE(evaluation);
  EXPECT_EQ(evaluation.error().code, ErrorCode::kMeasurementMismatch);
  EXPECT_TRUE(Contains(evaluation.error().message, "QE MRSIGNER")) << evaluation.error().message;
  other = p.qe_identity.value;
  other.isv_prod_id = 1;
  evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, other);
  ASSERT_FALSE(evaluation);
  EXPECT_TRUE(Contains(evaluation.error().message, "ISVPRODID")) << evaluation.error().message;
  other = p.qe_identity.value;
  other.attributes[0] ^= 0x01;  // a masked-in bit
  evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, other);
  ASSERT_FALSE(evaluation);
  EXPECT_TRUE(Contains(evaluation.error().message, "ATTRIBUTES")) << evaluation.error().message;
  other = p.qe_identity.value;
  other.attributes[0] ^= 0x04;  // masked out (mask byte 0 is 0xFB): irrelevant
  EXPECT_TRUE(EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, other));
  other = p.qe_identity.value;
  other.levels[0].status = TcbStatus::kOutOfDate;
  evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, other);
  ASSERT_TRUE(evaluation);
  EXPECT_EQ(evaluation->status, TcbStatus::kOutOfDate);  // QE status converges in
  other.levels[0].isv_svn = 8;
  evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, other);
  ASSERT_FALSE(evaluation);
  EXPECT_EQ(evaluation.error().code, ErrorCode::kTcbTooLow);
}

TEST_F(TdxVerify, FmspcMustMatch) {
  Pieces p = VerifyPieces(kD2, "tdx/gotdxguest_sample_tcbinfo_response_v5", "tdx/gotdxguest_sample_qeIdentity_response",
                          kD2Time);
  ASSERT_TRUE(p.chain.has_value());
  p.tcb_info.value.fmspc[0] ^= 1;
  auto evaluation = EvaluateTcb(p.quote, p.chain->info, p.tcb_info.value, p.qe_identity.value);
  ASSERT_FALSE(evaluation);
  EXPECT_EQ(evaluation.error().code, ErrorCode::kTcbMismatch);
  EXPECT_TRUE(Contains(evaluation.error().message, "FMSPC")) << evaluation.error().message;
}

TEST_F(TdxVerify, VerifierCachesThePlatformButChecksTimeAndQuoteEveryCall) {
  auto collateral = VerifyCollateral(D1Collateral(), IntelSgxRootCa());
  ASSERT_TRUE(collateral) << collateral.error().message;
  const Verifier verifier;
  const Bytes quote = ReadTestdata(kD1);
  for (int i = 0; i < 3; ++i) {
    auto result = verifier.Verify(quote, *collateral, Options(kD1Time));
    ASSERT_FALSE(result);
    EXPECT_TRUE(Contains(result.error().message, "no TCB level matches")) << result.error().message;
  }
  EXPECT_EQ(verifier.platform_verifications(), 1u);
  // Cached platform, another time: validity is checked again.
  auto late = verifier.Verify(quote, *collateral, Options(At("2053-07-01T00:00:00Z")));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kCertificateExpired) << late.error().message;
  // Cached platform, changed body: the quote signature is checked every time.
  auto body =
      verifier.Verify(ReadTestdata("tdx/negative/gotdxguest_v4_body_0x3C_eq32.dat"), *collateral, Options(kD1Time));
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, ErrorCode::kSignatureInvalid) << body.error().message;
  EXPECT_EQ(verifier.platform_verifications(), 1u);
  // A changed QE report is another platform entry, verified (and refused).
  Bytes qe_changed = quote;
  qe_changed[0x302 + 0x100] ^= 1;  // ISVPRODID
  auto qe = verifier.Verify(qe_changed, *collateral, Options(kD1Time));
  ASSERT_FALSE(qe);
  EXPECT_TRUE(Contains(qe.error().message, "QE report signature")) << qe.error().message;
  EXPECT_EQ(verifier.platform_verifications(), 2u);
  // Options naming another root than the Verifier's are refused.
  VerifyOptions other = Options(kD1Time);
  other.pinned_root = *crypto::Certificate::ParsePem(Text("tdx/gotdxguest_pckcrl_issuer_chain.pem"));
  auto mismatch = verifier.Verify(quote, *collateral, other);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kInvalidArgument);
}

struct NegativeFile {
  const char* file;
  ErrorCode code;
  const char* message;
};

TEST_F(TdxVerify, EveryNegativeFileFailsWithItsReason) {
  const NegativeFile negatives[] = {
      {"gotdxguest_v4_version_byte0_eq3.dat", ErrorCode::kUnsupported, "quote format not supported"},
      {"gotdxguest_v4_signed_data_size_0x278_eq10.dat", ErrorCode::kParse, "certificate data size 0xf8a"},
      {"gotdxguest_v4_certchain_0x1343_eq32.dat", ErrorCode::kCertificateInvalid, "PCK cert chain invalid"},
      {"gotdxguest_v4_rootcert_0x1329_eq32.dat", ErrorCode::kUntrustedRoot, "not the pinned root"},
      {"gotdxguest_v4_intermediate_0xF5F_eq32.dat", ErrorCode::kSignatureInvalid, "PCK CA signature failure"},
      {"gotdxguest_v4_pckleaf_0xB77_eq32.dat", ErrorCode::kSignatureInvalid, "PCK leaf signature failure"},
      {"gotdxguest_v4_header_0x1E_eq32.dat", ErrorCode::kSignatureInvalid, "quote signature"},
      {"gotdxguest_v4_body_0x3C_eq32.dat", ErrorCode::kSignatureInvalid, "quote signature"},
  };
  const Collateral collateral = D1Collateral();
  auto verified_collateral = VerifyCollateral(collateral, IntelSgxRootCa());
  ASSERT_TRUE(verified_collateral) << verified_collateral.error().message;
  for (const NegativeFile& n : negatives) {
    auto verified = Verify(ReadTestdata(std::string("tdx/negative/") + n.file), *verified_collateral, Options(kD1Time));
    ASSERT_FALSE(verified) << n.file;
    EXPECT_EQ(verified.error().code, n.code) << n.file << ": " << verified.error().message;
    EXPECT_TRUE(Contains(verified.error().message, n.message)) << n.file << ": " << verified.error().message;
  }
}

}  // namespace
}  // namespace contrast::attest::tdx
