// The emulated Intel TDX platform against the real DCAP verifier
// (tdx::Verify): with its root pinned, its quotes and collateral verify with
// the exact TD fields; every TCB status, revocation and expiry comes out as
// tdx::Verify reports it for Intel's; and without its root pinned nothing it
// signs is trusted.
#include "attest/emulated/tdx_platform.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "attest/tdx/verify.h"

namespace contrast::attest::emulated {
namespace {

using tdx::TcbStatus;

template <size_t N>
std::array<uint8_t, N> Filled(uint8_t value) {
  std::array<uint8_t, N> out{};
  out.fill(value);
  return out;
}

TdReportFields DistinctFields() {
  TdReportFields td;
  td.mr_td = Filled<48>(0x11);
  td.mr_config_id = Filled<48>(0x22);
  td.mr_owner = Filled<48>(0x33);
  td.mr_owner_config = Filled<48>(0x44);
  for (size_t i = 0; i < td.rtmrs.size(); ++i) td.rtmrs[i] = Filled<48>(static_cast<uint8_t>(0x50 + i));
  td.mr_service_td = Filled<48>(0x66);
  return td;
}

Bytes ReportData() {
  Bytes data(64);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(0xA0 ^ i);
  return data;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

class EmulatedTdxTest : public ::testing::Test {
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

  static const InsecureEmulatedTdx& platform() { return *platform_; }

  static Bytes MustQuote(uint16_t version = tdx::kQuoteVersion4) {
    auto quote = platform().Quote(DistinctFields(), ReportData(), version);
    EXPECT_TRUE(quote) << quote.error().message;
    return quote ? *quote : Bytes{};
  }

  static tdx::Collateral MustCollateral(const EmulatedTdxCollateralOptions& options = {}) {
    auto collateral = platform().Collateral(options);
    EXPECT_TRUE(collateral) << collateral.error().message;
    return collateral ? *collateral : tdx::Collateral{};
  }

  static tdx::VerifyOptions Pinned(std::vector<TcbStatus> accepted = {TcbStatus::kUpToDate}) {
    tdx::VerifyOptions options;
    options.pinned_root = platform().root();
    options.accepted_tcb_statuses = std::move(accepted);
    return options;
  }

  static Error Rejection(const Bytes& quote, const tdx::Collateral& collateral, const tdx::VerifyOptions& options) {
    auto verified = tdx::Verify(quote, collateral, options);
    if (verified)
      return Error{ErrorCode::kInternal,
                   "accepted with status " + std::string(tdx::TcbStatusName(verified->tcb_status()))};
    return verified.error();
  }

  // A level the platform does not reach (every SGX component one higher).
  static tdx::TcbLevel NewerLevel() {
    tdx::TcbLevel level = platform().PlatformTcbLevel(TcbStatus::kUpToDate);
    for (auto& svn : level.sgx_components) ++svn;
    level.tcb_date = *ParseRfc3339("2025-06-01T00:00:00Z");
    return level;
  }

  static inline InsecureEmulatedTdx* platform_ = nullptr;
};

void ExpectTdFields(const tdx::TdReport& report, const TdReportFields& td, const InsecureEmulatedTdx& platform) {
  EXPECT_EQ(report.td_attributes, td.td_attributes);
  EXPECT_EQ(report.xfam, td.xfam);
  EXPECT_EQ(report.mr_td, td.mr_td);
  EXPECT_EQ(report.mr_config_id, td.mr_config_id);
  EXPECT_EQ(report.mr_owner, td.mr_owner);
  EXPECT_EQ(report.mr_owner_config, td.mr_owner_config);
  EXPECT_EQ(report.rtmrs, td.rtmrs);
  const Bytes expected_report_data = ReportData();
  EXPECT_TRUE(std::equal(report.report_data.begin(), report.report_data.end(), expected_report_data.begin()));
  EXPECT_EQ(report.tee_tcb_svn, platform.tee_tcb_svn());
  EXPECT_EQ(report.mr_seam, platform.mr_seam());
  EXPECT_EQ(report.mr_signer_seam, tdx::Measurement{});
  EXPECT_FALSE(report.debug());
}

TEST_F(EmulatedTdxTest, FreshV4QuoteVerifiesUpToDateWithItsFields) {
  auto verified = tdx::Verify(MustQuote(tdx::kQuoteVersion4), MustCollateral(), Pinned());
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->tcb_status(), TcbStatus::kUpToDate);
  EXPECT_EQ(verified->quote().header.version, tdx::kQuoteVersion4);
  EXPECT_EQ(verified->quote().body_type, tdx::kBodyTypeTdReport10);
  ExpectTdFields(verified->td_report(), DistinctFields(), platform());
  EXPECT_FALSE(verified->td_report().tee_tcb_svn2.has_value());
  EXPECT_TRUE(verified->revocation_checked());
  EXPECT_EQ(verified->pck_issuer(), "Intel SGX PCK Platform CA");
  EXPECT_EQ(verified->pck().fmspc, platform().pck().fmspc);
  EXPECT_EQ(verified->tcb().tdx_module_identity, "TDX_01");
  EXPECT_EQ(verified->tcb().tdx_module_status, TcbStatus::kUpToDate);
  EXPECT_EQ(verified->tcb().qe_status, TcbStatus::kUpToDate);
  EXPECT_EQ(verified->tcb().tcb_evaluation_data_number, 17u);
}

TEST_F(EmulatedTdxTest, FreshV5QuoteVerifiesUpToDateWithTd15Body) {
  auto verified = tdx::Verify(MustQuote(tdx::kQuoteVersion5), MustCollateral(), Pinned());
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->tcb_status(), TcbStatus::kUpToDate);
  EXPECT_EQ(verified->quote().header.version, tdx::kQuoteVersion5);
  EXPECT_EQ(verified->quote().body_type, tdx::kBodyTypeTdReport15);
  ExpectTdFields(verified->td_report(), DistinctFields(), platform());
  EXPECT_EQ(verified->td_report().tee_tcb_svn2, platform().tee_tcb_svn());
  EXPECT_EQ(verified->td_report().mr_service_td, DistinctFields().mr_service_td);
}

TEST_F(EmulatedTdxTest, ShortReportDataIsZeroPaddedAndVerifierCachesThePlatform) {
  const Bytes nonce = {1, 2, 3};
  auto quote = platform().Quote(TdReportFields{}, nonce);
  ASSERT_TRUE(quote) << quote.error().message;
  auto collateral = tdx::VerifyCollateral(MustCollateral(), platform().root());
  ASSERT_TRUE(collateral) << collateral.error().message;
  const tdx::Verifier verifier(platform().root());
  for (int i = 0; i < 2; ++i) {
    auto verified = verifier.Verify(*quote, *collateral, Pinned());
    ASSERT_TRUE(verified) << verified.error().message;
    std::array<uint8_t, 64> expected{1, 2, 3};
    EXPECT_EQ(verified->td_report().report_data, expected);
  }
  EXPECT_EQ(verifier.platform_verifications(), 1u);
}

TEST_F(EmulatedTdxTest, PckExtensionCarriesTheOptions) {
  const tdx::PckCertificateInfo& pck = platform().pck();
  const EmulatedTdxOptions defaults;
  EXPECT_EQ(pck.cpu_svn, defaults.cpu_svn);
  EXPECT_EQ(pck.sgx_components, defaults.cpu_svn);
  EXPECT_EQ(pck.pce_svn, defaults.pce_svn);
  EXPECT_EQ(pck.pce_id, defaults.pce_id);
  EXPECT_EQ(pck.fmspc, defaults.fmspc);
  EXPECT_EQ(pck.sgx_type, 1);
  ASSERT_TRUE(pck.platform_instance_id.has_value());
  EXPECT_EQ(pck.platform_instance_id->size(), 16u);
  EXPECT_EQ(pck.dynamic_platform, false);
  EXPECT_EQ(pck.cached_keys, false);
  EXPECT_EQ(pck.smt_enabled, true);
  EXPECT_EQ(platform().qe_report().isv_prod_id, defaults.qe_isv_prod_id);
  EXPECT_EQ(platform().qe_report().isv_svn, defaults.qe_isv_svn);
  EXPECT_TRUE(Contains(platform().root().SubjectText(), "INSECURE"));
  EXPECT_EQ(HexEncode(platform().root_sha256()), HexEncode(platform().root().Sha256Fingerprint()));
  // Intel's shape: ECDSA-SHA256 throughout.
  EXPECT_EQ(X509_get_signature_nid(platform().pck_leaf().get()), NID_ecdsa_with_SHA256);

  // A standard (non-scalable) platform has no instance id or configuration.
  EmulatedTdxOptions standard;
  standard.sgx_type = 0;
  auto other = InsecureEmulatedTdx::CreateInMemory(standard);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->pck().sgx_type, 0);
  EXPECT_FALSE(other->pck().platform_instance_id.has_value());
  EXPECT_FALSE(other->pck().smt_enabled.has_value());
}

// TDX module major version 0: no module identity in the tcbInfo, and every
// TEE_TCB_SVN byte is compared with the platform level.
TEST_F(EmulatedTdxTest, ModuleMajorVersionZeroHasNoModuleIdentity) {
  EmulatedTdxOptions options;
  options.tee_tcb_svn = {0x03, 0x00, 0x02};
  auto other = InsecureEmulatedTdx::CreateInMemory(options);
  ASSERT_TRUE(other) << other.error().message;
  auto quote = other->Quote(DistinctFields(), ReportData());
  ASSERT_TRUE(quote) << quote.error().message;
  auto collateral = other->Collateral();
  ASSERT_TRUE(collateral) << collateral.error().message;
  EXPECT_FALSE(Contains(collateral->tcb_info, "tdxModuleIdentities"));
  tdx::VerifyOptions pinned;
  pinned.pinned_root = other->root();
  auto verified = tdx::Verify(*quote, *collateral, pinned);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->tcb_status(), TcbStatus::kUpToDate);
  EXPECT_EQ(verified->tcb().tdx_module_identity, "");

  // A level one TEE_TCB_SVN byte above the platform's does not match.
  EmulatedTdxCollateralOptions higher;
  tdx::TcbLevel level = other->PlatformTcbLevel(TcbStatus::kUpToDate);
  ++level.tdx_components[0];
  higher.tcb_levels = {level};
  auto refused = tdx::Verify(*quote, *other->Collateral(higher), pinned);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kTcbTooLow) << refused.error().message;
}

struct StatusCase {
  const char* name;
  // Builds the collateral options from the platform.
  EmulatedTdxCollateralOptions (*options)(const InsecureEmulatedTdx&);
  TcbStatus expected;
};

EmulatedTdxCollateralOptions PlatformLevel(const InsecureEmulatedTdx& p, TcbStatus status) {
  EmulatedTdxCollateralOptions options;
  tdx::TcbLevel newer = p.PlatformTcbLevel(TcbStatus::kUpToDate);
  for (auto& svn : newer.sgx_components) ++svn;
  options.tcb_levels = {newer, p.PlatformTcbLevel(status, {"INTEL-SA-00001"})};
  return options;
}

tdx::IsvTcbLevel IsvLevel(uint16_t svn, TcbStatus status) {
  tdx::IsvTcbLevel level;
  level.isv_svn = svn;
  level.tcb_date = *ParseRfc3339("2024-01-01T00:00:00Z");
  level.status = status;
  level.advisory_ids = {"INTEL-SA-00002"};
  return level;
}

const StatusCase kStatusCases[] = {
    {"OutOfDate", [](const InsecureEmulatedTdx& p) { return PlatformLevel(p, TcbStatus::kOutOfDate); },
     TcbStatus::kOutOfDate},
    {"SwHardeningNeeded", [](const InsecureEmulatedTdx& p) { return PlatformLevel(p, TcbStatus::kSwHardeningNeeded); },
     TcbStatus::kSwHardeningNeeded},
    {"ConfigurationNeeded",
     [](const InsecureEmulatedTdx& p) { return PlatformLevel(p, TcbStatus::kConfigurationNeeded); },
     TcbStatus::kConfigurationNeeded},
    {"Revoked", [](const InsecureEmulatedTdx& p) { return PlatformLevel(p, TcbStatus::kRevoked); },
     TcbStatus::kRevoked},
    {"ModuleOutOfDate",
     [](const InsecureEmulatedTdx& p) {
       EmulatedTdxCollateralOptions options;
       const uint16_t svn = p.tee_tcb_svn()[0];
       options.tdx_module_levels = {IsvLevel(svn + 1, TcbStatus::kUpToDate), IsvLevel(svn, TcbStatus::kOutOfDate)};
       return options;
     },
     TcbStatus::kOutOfDate},
    {"QeOutOfDate",
     [](const InsecureEmulatedTdx& p) {
       EmulatedTdxCollateralOptions options;
       const uint16_t svn = p.qe_report().isv_svn;
       options.qe_levels = {IsvLevel(svn + 1, TcbStatus::kUpToDate), IsvLevel(svn, TcbStatus::kOutOfDate)};
       return options;
     },
     TcbStatus::kOutOfDate},
};

TEST_F(EmulatedTdxTest, EachTcbStatusIsReportedAndAcceptedOnlyWhenListed) {
  const Bytes quote = MustQuote();
  for (const StatusCase& c : kStatusCases) {
    SCOPED_TRACE(c.name);
    const tdx::Collateral collateral = MustCollateral(c.options(platform()));
    const Error refused = Rejection(quote, collateral, Pinned());
    EXPECT_EQ(refused.code, ErrorCode::kTcbTooLow) << refused.message;
    EXPECT_TRUE(Contains(refused.message, tdx::TcbStatusName(c.expected))) << refused.message;

    auto accepted = tdx::Verify(quote, collateral, Pinned({TcbStatus::kUpToDate, c.expected}));
    ASSERT_TRUE(accepted) << accepted.error().message;
    EXPECT_EQ(accepted->tcb_status(), c.expected);
    EXPECT_FALSE(accepted->tcb().advisory_ids.empty());
  }
}

TEST_F(EmulatedTdxTest, NoMatchingTcbLevelIsTcbTooLow) {
  EmulatedTdxCollateralOptions options;
  options.tcb_levels = {NewerLevel()};
  const Error refused =
      Rejection(MustQuote(), MustCollateral(options), Pinned({TcbStatus::kUpToDate, TcbStatus::kOutOfDate}));
  EXPECT_EQ(refused.code, ErrorCode::kTcbTooLow);
  EXPECT_TRUE(Contains(refused.message, "no TCB level matches")) << refused.message;
}

TEST_F(EmulatedTdxTest, RevokedCertificatesAreRefused) {
  const Bytes quote = MustQuote();
  EmulatedTdxCollateralOptions pck;
  pck.revoke_pck_leaf = true;
  Error refused = Rejection(quote, MustCollateral(pck), Pinned());
  EXPECT_EQ(refused.code, ErrorCode::kCertificateRevoked) << refused.message;
  EXPECT_TRUE(Contains(refused.message, "PCK certificate")) << refused.message;
  EXPECT_TRUE(Contains(refused.message, platform().pck_leaf().SerialHex())) << refused.message;

  EmulatedTdxCollateralOptions ca;
  ca.revoke_pck_platform_ca = true;
  refused = Rejection(quote, MustCollateral(ca), Pinned());
  EXPECT_EQ(refused.code, ErrorCode::kCertificateRevoked) << refused.message;

  EmulatedTdxCollateralOptions signing;
  signing.revoke_tcb_signing = true;
  refused = Rejection(quote, MustCollateral(signing), Pinned());
  EXPECT_EQ(refused.code, ErrorCode::kCertificateRevoked) << refused.message;

  // Another serial in the PCK CRL does not touch this platform.
  EmulatedTdxCollateralOptions other;
  other.pck_crl_extra_serials = {Bytes{0x01, 0x02, 0x03}};
  auto verified = tdx::Verify(quote, MustCollateral(other), Pinned());
  EXPECT_TRUE(verified) << verified.error().message;
}

TEST_F(EmulatedTdxTest, CollateralPastNextUpdateHasExpired) {
  EmulatedTdxCollateralOptions options;
  options.issue_date = Now() - std::chrono::hours(24 * 60);
  options.next_update = Now() - std::chrono::hours(24 * 30);
  // Current CRLs, so that the tcbInfo itself is what has expired.
  options.crl_this_update = Now() - std::chrono::hours(1);
  options.crl_next_update = Now() + std::chrono::hours(24);
  const Error refused = Rejection(MustQuote(), MustCollateral(options), Pinned());
  EXPECT_EQ(refused.code, ErrorCode::kCertificateExpired) << refused.message;
  EXPECT_TRUE(Contains(refused.message, "tcbInfo has expired")) << refused.message;

  // Expired CRLs are refused as well.
  EmulatedTdxCollateralOptions stale_crls;
  stale_crls.crl_this_update = Now() - std::chrono::hours(24 * 60);
  stale_crls.crl_next_update = Now() - std::chrono::hours(24 * 30);
  const Error crl_refused = Rejection(MustQuote(), MustCollateral(stale_crls), Pinned());
  EXPECT_EQ(crl_refused.code, ErrorCode::kCertificateExpired) << crl_refused.message;
}

TEST_F(EmulatedTdxTest, RealIntelRootRefusesEverythingEmulated) {
  const Bytes quote = MustQuote();
  const tdx::Collateral collateral = MustCollateral();
  // One-off verification with the default options (the Intel SGX Root CA).
  const Error refused = Rejection(quote, collateral, tdx::VerifyOptions{});
  EXPECT_EQ(refused.code, ErrorCode::kUntrustedRoot) << refused.message;

  // A default Verifier given collateral verified against the emulated root.
  auto verified_collateral = tdx::VerifyCollateral(collateral, platform().root());
  ASSERT_TRUE(verified_collateral) << verified_collateral.error().message;
  const tdx::Verifier intel;
  auto verified = intel.Verify(quote, *verified_collateral, tdx::VerifyOptions{});
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kUntrustedRoot) << verified.error().message;

  // The quote's own PCK chain, against the Intel root.
  auto parsed = tdx::ParseQuote(quote);
  ASSERT_TRUE(parsed) << parsed.error().message;
  auto chain = tdx::VerifyQuoteSignatures(*parsed, tdx::IntelSgxRootCa(), Now(), std::nullopt, std::nullopt);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kUntrustedRoot) << chain.error().message;
}

TEST_F(EmulatedTdxTest, ChangedBodyByteBreaksTheQuoteSignature) {
  const tdx::Collateral collateral = MustCollateral();
  for (uint16_t version : {tdx::kQuoteVersion4, tdx::kQuoteVersion5}) {
    SCOPED_TRACE(version);
    const Bytes quote = MustQuote(version);
    const size_t body = version == tdx::kQuoteVersion4 ? 48 : 54;
    // MRTD's first byte, and REPORTDATA's last.
    for (size_t offset : {body + 0x88, body + 0x208 + 63}) {
      Bytes changed = quote;
      changed[offset] ^= 0x01;
      const Error refused = Rejection(changed, collateral, Pinned());
      EXPECT_EQ(refused.code, ErrorCode::kSignatureInvalid) << refused.message;
      EXPECT_TRUE(Contains(refused.message, "quote signature")) << refused.message;
    }
  }
}

TEST_F(EmulatedTdxTest, ChangedCollateralByteBreaksItsSignature) {
  tdx::Collateral collateral = MustCollateral();
  const size_t at = collateral.tcb_info.find("\"tcbEvaluationDataNumber\":17");
  ASSERT_NE(at, std::string::npos);
  collateral.tcb_info[at + 26] = '8';  // 17 -> 18
  const Error refused = Rejection(MustQuote(), collateral, Pinned());
  EXPECT_EQ(refused.code, ErrorCode::kSignatureInvalid) << refused.message;
}

TEST_F(EmulatedTdxTest, QuoteArgumentsAreChecked) {
  EXPECT_EQ(platform().Quote(TdReportFields{}, ReportData(), 3).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(platform().Quote(TdReportFields{}, Bytes(65), 4).error().code, ErrorCode::kInvalidArgument);
}

std::filesystem::path TempDir(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("contrast-emulated-tdx-test-" + std::to_string(::getpid()) + "-" + name);
}

TEST(EmulatedTdxState, CreateLoadRoundTripAndRefusals) {
  const std::filesystem::path dir = TempDir("state");
  std::filesystem::remove_all(dir);
  EmulatedTdxOptions options;
  options.qe_isv_svn = 9;
  auto created = InsecureEmulatedTdx::Create(dir, options);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(InsecureEmulatedTdx::Create(dir).error().code, ErrorCode::kInvalidArgument);

  auto loaded = InsecureEmulatedTdx::Load(dir);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->root().Der(), created->root().Der());
  EXPECT_EQ(loaded->pck().ppid, created->pck().ppid);
  EXPECT_EQ(loaded->qe_report().isv_svn, 9);
  EXPECT_EQ(loaded->mr_seam(), created->mr_seam());
  EXPECT_EQ(std::filesystem::status(dir / "pck.key.pem").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read);

  // A quote of the loaded platform verifies with collateral of the created one.
  auto quote = loaded->Quote(DistinctFields(), ReportData(), tdx::kQuoteVersion5);
  ASSERT_TRUE(quote) << quote.error().message;
  tdx::VerifyOptions pinned;
  pinned.pinned_root = created->root();
  auto verified = tdx::Verify(*quote, *created->Collateral(), pinned);
  EXPECT_TRUE(verified) << verified.error().message;

  // A key that is not its certificate's.
  std::filesystem::permissions(dir / "pck.key.pem", std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::filesystem::copy_file(dir / "tcb-signing.key.pem", dir / "pck.key.pem",
                             std::filesystem::copy_options::overwrite_existing);
  auto broken = InsecureEmulatedTdx::Load(dir);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kCertificateInvalid) << broken.error().message;
  std::filesystem::remove_all(dir);

  EXPECT_FALSE(InsecureEmulatedTdx::Load(dir));
}

}  // namespace
}  // namespace contrast::attest::emulated
