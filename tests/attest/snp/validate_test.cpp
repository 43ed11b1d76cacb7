#include "attest/snp/validate.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::ReadTestdata;
using ::testing::HasSubstr;

Report MustParse(const std::string& file) {
  auto report = ParseReport(ReadTestdata(file));
  EXPECT_TRUE(report) << file << ": " << (report ? "" : report.error().message);
  return report ? *report : Report{};
}

SnpReferenceValues MustParseEntry(const std::string& json) {
  auto rv = ParseReferenceValues(json);
  EXPECT_TRUE(rv) << (rv ? "" : rv.error().message);
  return rv && rv->snp.size() == 1 ? rv->snp[0] : SnpReferenceValues{};
}

template <size_t N>
ByteArray<N> MustHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes && bytes->size() == N) << hex;
  ByteArray<N> out{};
  if (bytes && bytes->size() == N) std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

std::string Fields(const ValidationResult& result) {
  std::string out;
  for (const Mismatch& m : result.mismatches) out += (out.empty() ? "" : ",") + m.field;
  return out;
}

// B2: virtee's Milan report (v2, policy 0x30000, platform info 0x1, all four
// TCBs bl 3 / tee 0 / snp 8 / ucode 115), values from VECTORS.md.
constexpr std::string_view kVirteeMeasurement =
    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";
constexpr std::string_view kVirteeChipId =
    "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b08"
    "2e2f87a44d541eb6";
constexpr std::string_view kAwsMeasurement =
    "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0";

SnpReferenceValues VirteeReferenceValues() {
  return MustParseEntry(R"({
    "ProductName": "Milan",
    "TrustedMeasurement": ")" +
                        std::string(kVirteeMeasurement) + R"(",
    "MinimumTCB": {"BootloaderVersion": 3, "TEEVersion": 0, "SNPVersion": 8, "MicrocodeVersion": 115},
    "GuestPolicy": {"ABIMinor": 0, "ABIMajor": 0, "SMT": true},
    "PlatformInfo": {"SMTEnabled": true},
    "AllowedChipIDs": [")" +
                        std::string(kVirteeChipId) + R"("]
  })");
}

// B4: the AWS VLEK report (v3, VMPL 1, platform info 0x27 = SMT, TSME, ECC,
// alias check; current ucode 220, reported 217, committed = launch 219).
SnpReferenceValues AwsReferenceValues() {
  return MustParseEntry(R"({
    "ProductName": "Milan",
    "TrustedMeasurement": ")" +
                        std::string(kAwsMeasurement) + R"(",
    "MinimumTCB": {"BootloaderVersion": 4, "TEEVersion": 0, "SNPVersion": 24, "MicrocodeVersion": 217},
    "GuestPolicy": {"SMT": true},
    "PlatformInfo": {"SMTEnabled": true, "TSMEEnabled": true, "ECCEnabled": true, "AliasCheckComplete": true}
  })");
}

class SnpValidate : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    report_ = MustParse("snp/virtee_report_milan.bin");
    rv_ = VirteeReferenceValues();
    ASSERT_TRUE(ValidateReport(report_, Product::kMilan, rv_).ok());
  }
  // Exactly one mismatch, returned for inspection.
  Mismatch Only(const ValidationResult& result) {
    EXPECT_EQ(result.mismatches.size(), 1u) << result.Message();
    return result.mismatches.empty() ? Mismatch{} : result.mismatches[0];
  }
  ValidationResult Run(const ValidateOptions& options = {}) {
    return ValidateReport(report_, Product::kMilan, rv_, options);
  }

  Report report_;
  SnpReferenceValues rv_;
};

// --- Real reports ------------------------------------------------------------

TEST_F(SnpValidate, AcceptsVirteeMilanReport) {
  const ValidationResult result = Run();
  EXPECT_TRUE(result.ok()) << result.Message();
  EXPECT_TRUE(result.ToStatus());
  EXPECT_EQ(result.Message(), "");
}

TEST(SnpValidateReal, DebugReportFailsWithDebugPolicyError) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report report = MustParse("snp/gosevguest_attestation.bin");
  SnpReferenceValues rv;
  rv.product = Product::kMilan;
  rv.trusted_measurement =
      MustHex<48>("b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01");
  rv.minimum_tcb = TcbParts{.bootloader = 2, .tee = 0, .snp = 5, .microcode = 68};
  rv.guest_policy.smt = true;
  rv.platform_info.smt_enabled = true;
  // Even reference values that claim to allow DEBUG (which the parser never
  // produces) do not lift the baseline rule.
  rv.guest_policy.debug = true;

  const ValidationResult result = ValidateReport(report, Product::kMilan, rv);
  ASSERT_EQ(result.mismatches.size(), 1u) << result.Message();
  const Mismatch& m = result.mismatches[0];
  EXPECT_EQ(m.code, ErrorCode::kPolicyViolation);
  EXPECT_EQ(m.field, "POLICY.DEBUG");
  EXPECT_EQ(m.actual, "true");
  EXPECT_EQ(m.Message(), "POLICY.DEBUG: expected false (debugging is never allowed), got true");
  const Status status = result.ToStatus();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(status.error().message, HasSubstr("POLICY.DEBUG"));

  const ValidationResult baseline = ValidateBaseline(report);
  EXPECT_EQ(Fields(baseline), "POLICY.DEBUG");
  EXPECT_TRUE(ValidateBaseline(MustParse("snp/virtee_report_milan.bin")).ok());
}

TEST(SnpValidateReal, VmplOneReportFailsWhenVmplZeroRequired) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report report = MustParse("snp/trustee_test-vlek-report.bin");
  SnpReferenceValues rv = AwsReferenceValues();
  ASSERT_EQ(rv.required_vmpl, 0u);  // the default

  const ValidationResult result = ValidateReport(report, Product::kMilan, rv);
  ASSERT_EQ(result.mismatches.size(), 1u) << result.Message();
  EXPECT_EQ(result.mismatches[0].code, ErrorCode::kPolicyViolation);
  EXPECT_EQ(result.mismatches[0].Message(), "VMPL: expected 0, got 1");

  rv.required_vmpl = 1;
  EXPECT_TRUE(ValidateReport(report, Product::kMilan, rv).ok())
      << ValidateReport(report, Product::kMilan, rv).Message();

  // Its committed microcode (219) is below the current one (220): not
  // acceptable without provisional firmware.
  rv.permit_provisional_firmware = false;
  const ValidationResult strict = ValidateReport(report, Product::kMilan, rv);
  ASSERT_EQ(strict.mismatches.size(), 1u) << strict.Message();
  EXPECT_EQ(strict.mismatches[0].field, "COMMITTED_TCB");
  EXPECT_EQ(strict.mismatches[0].code, ErrorCode::kTcbTooLow);
  EXPECT_THAT(strict.mismatches[0].expected, HasSubstr("microcode=220"));
  EXPECT_EQ(strict.mismatches[0].actual, "bootloader=4 tee=0 snp=24 microcode=219");

  // A masked (all-zero) chip id never matches an allow-list.
  rv.permit_provisional_firmware = true;
  rv.allowed_chip_ids.push_back(MustHex<64>(kVirteeChipId));
  const Mismatch chip = ValidateReport(report, Product::kMilan, rv).mismatches.at(0);
  EXPECT_EQ(chip.field, "CHIP_ID");
  EXPECT_EQ(chip.actual, std::string(128, '0'));
}

TEST(SnpValidateReal, ProvisionalFirmwareOfTrusteeReport) {
  CONTRAST_REQUIRE_TESTDATA();
  // B3: reported = committed = launch ucode 115, current ucode 206.
  const Report report = MustParse("snp/trustee_test-report.bin");
  SnpReferenceValues rv = MustParseEntry(R"({
    "ProductName": "Milan",
    "TrustedMeasurement": "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c",
    "MinimumTCB": {"BootloaderVersion": 3, "TEEVersion": 0, "SNPVersion": 8, "MicrocodeVersion": 115},
    "GuestPolicy": {"ABIMinor": 31, "SMT": true},
    "PlatformInfo": {"SMTEnabled": true},
    "TrustedIDKeyDigests": ["0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3"]
  })");
  EXPECT_TRUE(ValidateReport(report, Product::kMilan, rv).ok())
      << ValidateReport(report, Product::kMilan, rv).Message();

  rv.permit_provisional_firmware = false;
  const ValidationResult result = ValidateReport(report, Product::kMilan, rv);
  ASSERT_EQ(result.mismatches.size(), 1u) << result.Message();
  EXPECT_EQ(result.mismatches[0].Message(),
            "COMMITTED_TCB: expected == CURRENT_TCB bootloader=3 tee=0 snp=8 microcode=206 (provisional firmware not "
            "permitted), got bootloader=3 tee=0 snp=8 microcode=115");

  // Minimum microcode 116: reported, committed and launch are too low, current is not.
  rv.permit_provisional_firmware = true;
  rv.minimum_tcb.microcode = 116;
  EXPECT_EQ(Fields(ValidateReport(report, Product::kMilan, rv)),
            "REPORTED_TCB.microcode,COMMITTED_TCB.microcode,LAUNCH_TCB.microcode");
}

TEST(SnpValidateReal, GenoaReportWithRequiredPlatformFeatures) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report report = MustParse("snp/trustee_azure_genoa_report.bin");
  SnpReferenceValues rv = MustParseEntry(R"({
    "ProductName": "Genoa",
    "TrustedMeasurement": "f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae",
    "MinimumTCB": {"BootloaderVersion": 10, "TEEVersion": 0, "SNPVersion": 23, "MicrocodeVersion": 84},
    "GuestPolicy": {"ABIMinor": 31, "SMT": true},
    "PlatformInfo": {"ECCEnabled": true, "AliasCheckComplete": true},
    "AllowedChipIDs": ["0506ffba875e939c2729d20c74eb72b4c5ba6bf7ea1faaa640141f12c6d64782fb487f68ce69dcd021e914cc0d9244327bc121f0242d6470903ad1d4aaea4ad1"],
    "MinimumReportVersion": 3
  })");
  const ValidationResult ok = ValidateReport(report, Product::kGenoa, rv);
  EXPECT_TRUE(ok.ok()) << ok.Message();

  // Verified as Milan, but the reference values are for Genoa.
  const Mismatch product = ValidateReport(report, Product::kMilan, rv).mismatches.at(0);
  EXPECT_EQ(product.code, ErrorCode::kProductMismatch);
  EXPECT_EQ(product.Message(), "PRODUCT: expected Genoa, got Milan");

  // This platform has no ciphertext hiding.
  rv.platform_info.ciphertext_hiding_dram_enabled = true;
  EXPECT_EQ(ValidateReport(report, Product::kGenoa, rv).mismatches.at(0).Message(),
            "PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN: expected true (required), got false");
}

// --- One negative case per field (B2 with one field changed) ----------------

TEST_F(SnpValidate, Measurement) {
  report_.measurement[0] ^= 0xFF;
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.code, ErrorCode::kMeasurementMismatch);
  EXPECT_EQ(m.field, "MEASUREMENT");
  EXPECT_EQ(m.expected, kVirteeMeasurement);
  EXPECT_EQ(m.actual, "851e" + std::string(kVirteeMeasurement.substr(4)));
  EXPECT_EQ(m.Message(), "MEASUREMENT: expected " + std::string(kVirteeMeasurement) + ", got " + m.actual);
}

TEST_F(SnpValidate, HostData) {
  rv_.trusted_host_data.emplace().fill(0x11);
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.field, "HOST_DATA");
  EXPECT_EQ(m.expected, std::string(64, '1'));
  EXPECT_EQ(m.actual, std::string(64, '0'));
  report_.host_data.fill(0x11);
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, AllowedHostDataFromOptions) {
  ValidateOptions options;
  options.allowed_host_data = {MustHex<32>(std::string(64, 'a')), MustHex<32>(std::string(64, 'b'))};
  const Mismatch m = Only(Run(options));
  EXPECT_EQ(m.field, "HOST_DATA");
  EXPECT_EQ(m.expected, "one of [" + std::string(64, 'a') + ", " + std::string(64, 'b') + "]");
  report_.host_data.fill(0xbb);
  EXPECT_TRUE(Run(options).ok());
}

TEST_F(SnpValidate, ReportData) {
  ValidateOptions options;
  options.expected_report_data = report_.report_data;
  EXPECT_TRUE(Run(options).ok());
  (*options.expected_report_data)[63] ^= 1;
  const Mismatch m = Only(Run(options));
  EXPECT_EQ(m.field, "REPORT_DATA");
  EXPECT_EQ(m.actual, HexEncode(report_.report_data));
  EXPECT_EQ(m.expected.substr(0, 8), "d447b55d");
  EXPECT_EQ(m.expected.back(), 'c');  // ...fd with the last bit flipped
}

TEST_F(SnpValidate, IdKeyDigest) {
  rv_.trusted_id_key_digests = {MustHex<48>(std::string(96, 'e'))};
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.field, "ID_KEY_DIGEST");
  EXPECT_EQ(m.expected, "one of [" + std::string(96, 'e') + "]");
  EXPECT_EQ(m.actual, std::string(96, '0'));  // no ID block
  rv_.trusted_id_key_digests.push_back(report_.id_key_digest);
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, Vmpl) {
  report_.vmpl = 2;
  EXPECT_EQ(Only(Run()).Message(), "VMPL: expected 0, got 2");
  rv_.required_vmpl = 2;
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, MinimumReportVersion) {
  rv_.minimum_report_version = 3;
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.Message(), "VERSION: expected >= 3, got 2");
  EXPECT_EQ(m.code, ErrorCode::kValidationFailed);
}

TEST_F(SnpValidate, Product) {
  const Mismatch m = Only(ValidateReport(report_, Product::kUnknown, rv_));
  EXPECT_EQ(m.Message(), "PRODUCT: expected Milan, got unknown");
}

TEST_F(SnpValidate, SigningKey) {
  report_.signer_info = SignerInfo{.signing_key = SigningKey::kNone}.Encode();
  EXPECT_EQ(Only(Run()).Message(), "SIGNER_INFO.SIGNING_KEY: expected VCEK or VLEK, got none");
  report_.signer_info = SignerInfo{.signing_key = SigningKey::kVlek}.Encode();
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, MigrationAgentIsNeverAllowed) {
  GuestPolicy policy = report_.Policy();
  policy.migrate_ma = true;
  report_.policy = policy.Encode();
  rv_.guest_policy.migrate_ma = true;  // not producible by the parser; ignored anyway
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.code, ErrorCode::kPolicyViolation);
  EXPECT_EQ(m.field, "POLICY.MIGRATE_MA");
  EXPECT_EQ(Fields(ValidateBaseline(report_)), "POLICY.MIGRATE_MA");
}

TEST_F(SnpValidate, AbiVersion) {
  rv_.guest_policy.abi_major = 1;
  rv_.guest_policy.abi_minor = 51;
  EXPECT_EQ(Only(Run()).Message(), "POLICY.ABI: expected >= 1.51, got 0.0");
  GuestPolicy policy = report_.Policy();
  policy.abi_major = 1;
  policy.abi_minor = 50;
  report_.policy = policy.Encode();
  EXPECT_EQ(Only(Run()).Message(), "POLICY.ABI: expected >= 1.51, got 1.50");
  policy.abi_major = 2;
  policy.abi_minor = 0;  // a higher major wins over a lower minor
  report_.policy = policy.Encode();
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, PolicyFlagsAllowedAtMost) {
  rv_.guest_policy.smt = false;
  EXPECT_EQ(Only(Run()).Message(), "POLICY.SMT: expected false (not allowed), got true");
  rv_.guest_policy.smt = true;

  GuestPolicy policy = report_.Policy();
  policy.cxl_allowed = true;
  report_.policy = policy.Encode();
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.code, ErrorCode::kPolicyViolation);
  EXPECT_EQ(m.field, "POLICY.CXL_ALLOW");
  rv_.guest_policy.cxl_allowed = true;
  EXPECT_TRUE(Run().ok());
  // Allowing more than the report uses is fine.
  policy.smt = false;
  report_.policy = policy.Encode();
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, PolicyFlagsRequired) {
  const struct {
    bool GuestPolicy::*flag;
    const char* field;
  } cases[] = {
      {&GuestPolicy::single_socket, "POLICY.SINGLE_SOCKET"},
      {&GuestPolicy::mem_aes_256_xts, "POLICY.MEM_AES_256_XTS"},
      {&GuestPolicy::rapl_dis, "POLICY.RAPL_DIS"},
      {&GuestPolicy::ciphertext_hiding_dram, "POLICY.CIPHERTEXT_HIDING_DRAM"},
      {&GuestPolicy::page_swap_disable, "POLICY.PAGE_SWAP_DISABLE"},
  };
  const Report original = report_;
  for (const auto& c : cases) {
    report_ = original;
    rv_ = VirteeReferenceValues();
    rv_.guest_policy.*c.flag = true;
    EXPECT_EQ(Only(Run()).Message(), std::string(c.field) + ": expected true (required), got false");
    GuestPolicy policy = report_.Policy();
    policy.*c.flag = true;
    report_.policy = policy.Encode();
    EXPECT_TRUE(Run().ok()) << c.field;
    // Set in the report without being required: fine.
    rv_.guest_policy.*c.flag = false;
    EXPECT_TRUE(Run().ok()) << c.field;
  }
}

TEST_F(SnpValidate, PlatformInfoAllowedAtMost) {
  const struct {
    bool PlatformInfo::*flag;
    const char* field;
  } cases[] = {
      {&PlatformInfo::smt_enabled, "PLATFORM_INFO.SMT_EN"},
      {&PlatformInfo::tsme_enabled, "PLATFORM_INFO.TSME_EN"},
      {&PlatformInfo::tio_enabled, "PLATFORM_INFO.TIO_EN"},
  };
  for (const auto& c : cases) {
    SnpReferenceValues rv = VirteeReferenceValues();
    Report report = report_;
    PlatformInfo info = report.Platform();
    info.*c.flag = true;
    report.platform_info = info.Encode();
    rv.platform_info.*c.flag = false;
    const ValidationResult result = ValidateReport(report, Product::kMilan, rv);
    EXPECT_EQ(Only(result).Message(), std::string(c.field) + ": expected false (not allowed), got true");
    EXPECT_EQ(Only(result).code, ErrorCode::kPolicyViolation);
    rv.platform_info.*c.flag = true;
    EXPECT_TRUE(ValidateReport(report, Product::kMilan, rv).ok()) << c.field;
  }
}

TEST_F(SnpValidate, PlatformInfoRequired) {
  const struct {
    bool PlatformInfo::*flag;
    const char* field;
  } cases[] = {
      {&PlatformInfo::ecc_enabled, "PLATFORM_INFO.ECC_EN"},
      {&PlatformInfo::rapl_disabled, "PLATFORM_INFO.RAPL_DIS"},
      {&PlatformInfo::ciphertext_hiding_dram_enabled, "PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN"},
      {&PlatformInfo::alias_check_complete, "PLATFORM_INFO.ALIAS_CHECK_COMPLETE"},
  };
  for (const auto& c : cases) {
    SnpReferenceValues rv = VirteeReferenceValues();
    rv.platform_info.*c.flag = true;
    EXPECT_EQ(Only(ValidateReport(report_, Product::kMilan, rv)).Message(),
              std::string(c.field) + ": expected true (required), got false");
    Report report = report_;
    PlatformInfo info = report.Platform();
    info.*c.flag = true;
    report.platform_info = info.Encode();
    EXPECT_TRUE(ValidateReport(report, Product::kMilan, rv).ok()) << c.field;
  }
}

TEST_F(SnpValidate, MinimumTcbAgainstAllFourTcbs) {
  rv_.minimum_tcb.snp = 9;
  const ValidationResult result = Run();
  EXPECT_EQ(Fields(result), "REPORTED_TCB.snp,CURRENT_TCB.snp,COMMITTED_TCB.snp,LAUNCH_TCB.snp");
  for (const Mismatch& m : result.mismatches) {
    EXPECT_EQ(m.code, ErrorCode::kTcbTooLow);
    EXPECT_EQ(m.expected, ">= 9");
    EXPECT_EQ(m.actual, "8");
  }
  EXPECT_EQ(result.mismatches.back().Message(), "LAUNCH_TCB.snp: expected >= 9, got 8");
  EXPECT_EQ(result.ToStatus().error().code, ErrorCode::kTcbTooLow);
}

TEST_F(SnpValidate, EachTcbSeparately) {
  auto lowered = [](uint64_t raw, uint8_t TcbParts::*component, uint8_t value) {
    TcbParts parts = DecodeTcb(raw, Product::kMilan);
    parts.*component = value;
    return EncodeTcb(parts, Product::kMilan);
  };
  const Report original = report_;
  report_.reported_tcb = lowered(report_.reported_tcb, &TcbParts::bootloader, 2);
  EXPECT_EQ(Only(Run()).Message(), "REPORTED_TCB.bootloader: expected >= 3, got 2");

  report_ = original;
  report_.launch_tcb = lowered(report_.launch_tcb, &TcbParts::snp, 7);
  EXPECT_EQ(Only(Run()).Message(), "LAUNCH_TCB.snp: expected >= 8, got 7");

  report_ = original;
  report_.committed_tcb = lowered(report_.committed_tcb, &TcbParts::microcode, 100);
  EXPECT_EQ(Only(Run()).Message(), "COMMITTED_TCB.microcode: expected >= 115, got 100");

  // A current TCB below the minimum is also below the committed one.
  report_ = original;
  report_.current_tcb = lowered(report_.current_tcb, &TcbParts::tee, 0);
  rv_.minimum_tcb.tee = 0;
  report_.current_tcb = lowered(report_.current_tcb, &TcbParts::microcode, 114);
  const ValidationResult current = Run();
  ASSERT_EQ(current.mismatches.size(), 2u) << current.Message();
  EXPECT_EQ(current.mismatches[0].Message(), "CURRENT_TCB.microcode: expected >= 115, got 114");
  EXPECT_EQ(current.mismatches[1].Message(), "CURRENT_TCB.microcode: expected >= 115 (COMMITTED_TCB), got 114");
  EXPECT_EQ(current.mismatches[1].code, ErrorCode::kValidationFailed);
  EXPECT_EQ(current.ToStatus().error().code, ErrorCode::kValidationFailed);  // mixed codes
}

TEST_F(SnpValidate, CommittedAboveCurrentIsRejected) {
  TcbParts committed = DecodeTcb(report_.committed_tcb, Product::kMilan);
  committed.microcode = 116;
  report_.committed_tcb = EncodeTcb(committed, Product::kMilan);
  EXPECT_EQ(Only(Run()).Message(), "CURRENT_TCB.microcode: expected >= 116 (COMMITTED_TCB), got 115");
}

TEST_F(SnpValidate, ProvisionalFirmwareVersion) {
  rv_.permit_provisional_firmware = false;
  EXPECT_TRUE(Run().ok());  // committed == current in B2 (TCB and firmware 1.52 build 4)
  report_.committed_build = 3;
  EXPECT_EQ(Only(Run()).Message(),
            "COMMITTED_VERSION: expected == current firmware 1.52 build 4 (provisional firmware not permitted), got "
            "1.52 build 3");
  rv_.permit_provisional_firmware = true;
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, TurinLayoutIncludesFmc) {
  // A synthetic Turin report: B2 with every TCB re-encoded in Turin's layout.
  const TcbParts turin{.fmc = 1, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
  for (uint64_t* tcb : {&report_.reported_tcb, &report_.current_tcb, &report_.committed_tcb, &report_.launch_tcb}) {
    *tcb = EncodeTcb(turin, Product::kTurin);
  }
  rv_.product = Product::kTurin;
  rv_.minimum_tcb.fmc = 1;
  const ValidationResult ok = ValidateReport(report_, Product::kTurin, rv_);
  EXPECT_TRUE(ok.ok()) << ok.Message();

  rv_.minimum_tcb.fmc = 2;
  const ValidationResult low = ValidateReport(report_, Product::kTurin, rv_);
  EXPECT_EQ(Fields(low), "REPORTED_TCB.fmc,CURRENT_TCB.fmc,COMMITTED_TCB.fmc,LAUNCH_TCB.fmc");
  EXPECT_EQ(low.mismatches[0].Message(), "REPORTED_TCB.fmc: expected >= 2, got 1");

  // Decoded with Milan's layout the same bytes would be far too low: the
  // product selects the layout.
  rv_.minimum_tcb.fmc = 1;
  rv_.product = Product::kMilan;
  EXPECT_GE(ValidateReport(report_, Product::kMilan, rv_).mismatches.size(), 4u);
}

TEST_F(SnpValidate, FmcMinimumIgnoredOutsideTurin) {
  rv_.minimum_tcb.fmc = 5;  // only reachable programmatically; Milan has no FMC
  EXPECT_TRUE(Run().ok()) << Run().Message();
}

TEST_F(SnpValidate, MitigationVectors) {
  rv_.minimum_mitigation_vector = 0x1;
  // B2 is a version 2 report: no mitigation vectors to prove anything.
  const ValidationResult absent = Run();
  EXPECT_EQ(Fields(absent), "LAUNCH_MIT_VECTOR,CURRENT_MIT_VECTOR");
  EXPECT_EQ(absent.mismatches[0].actual, "absent (report version 2)");

  report_.version = 5;
  report_.launch_mit_vector = 0x5;
  report_.current_mit_vector = 0x7;
  rv_.minimum_mitigation_vector = 0x5;
  EXPECT_TRUE(Run().ok()) << Run().Message();
  rv_.minimum_mitigation_vector = 0x6;
  EXPECT_EQ(Only(Run()).Message(),
            "LAUNCH_MIT_VECTOR: expected all bits of 0x0000000000000006 set, got 0x0000000000000005 (missing "
            "0x0000000000000002)");
  report_.current_mit_vector = 0x1;
  EXPECT_EQ(Fields(Run()), "LAUNCH_MIT_VECTOR,CURRENT_MIT_VECTOR");
}

TEST_F(SnpValidate, ChipId) {
  rv_.allowed_chip_ids = {MustHex<64>(std::string(128, '7'))};
  const Mismatch m = Only(Run());
  EXPECT_EQ(m.field, "CHIP_ID");
  EXPECT_EQ(m.expected, "one of [" + std::string(128, '7') + "]");
  EXPECT_EQ(m.actual, kVirteeChipId);
  rv_.allowed_chip_ids.clear();  // empty list: any chip
  EXPECT_TRUE(Run().ok());
}

TEST_F(SnpValidate, ReportsEveryMismatchAtOnce) {
  report_.measurement[47] ^= 1;
  report_.vmpl = 3;
  report_.launch_tcb = EncodeTcb(TcbParts{.bootloader = 3, .tee = 0, .snp = 7, .microcode = 115}, Product::kMilan);
  rv_.platform_info.smt_enabled = false;
  rv_.trusted_host_data.emplace().fill(0x42);
  const ValidationResult result = Run();
  EXPECT_EQ(Fields(result), "MEASUREMENT,HOST_DATA,VMPL,PLATFORM_INFO.SMT_EN,LAUNCH_TCB.snp");
  const std::string message = result.Message();
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 4);
  EXPECT_THAT(message, HasSubstr("VMPL: expected 0, got 3\n"));
  std::string forty_twos;
  for (int i = 0; i < 32; ++i) forty_twos += "42";
  EXPECT_THAT(message, HasSubstr("HOST_DATA: expected " + forty_twos + ", got " + std::string(64, '0') + "\n"));
  EXPECT_THAT(message, HasSubstr("LAUNCH_TCB.snp: expected >= 8, got 7"));
  const Status status = result.ToStatus();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(status.error().message, HasSubstr("MEASUREMENT: expected "));
  EXPECT_THAT(status.error().message, HasSubstr("; VMPL: expected 0, got 3; "));
}

// --- Several entries ---------------------------------------------------------

TEST_F(SnpValidate, AnyEntryAccepts) {
  SnpReferenceValues genoa = rv_;
  genoa.product = Product::kGenoa;
  const std::vector<SnpReferenceValues> entries = {genoa, AwsReferenceValues(), rv_};
  const ValidationResult result = ValidateAgainstAny(report_, Product::kMilan, entries);
  EXPECT_TRUE(result.ok()) << result.Message();
  EXPECT_EQ(result.matched_entry, 2u);
}

TEST_F(SnpValidate, NoEntryAcceptsReportsEveryEntry) {
  SnpReferenceValues genoa = rv_;
  genoa.product = Product::kGenoa;
  const std::vector<SnpReferenceValues> entries = {genoa, AwsReferenceValues()};
  const ValidationResult result = ValidateAgainstAny(report_, Product::kMilan, entries);
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(result.matched_entry);
  ASSERT_GE(result.mismatches.size(), 2u);
  EXPECT_EQ(result.mismatches[0].entry, 0u);
  EXPECT_EQ(result.mismatches[0].Message(), "ReferenceValues.snp[0]: PRODUCT: expected Genoa, got Milan");
  EXPECT_EQ(result.mismatches[1].entry, 1u);
  EXPECT_EQ(result.mismatches[1].Message(), "ReferenceValues.snp[1]: MEASUREMENT: expected " +
                                                std::string(kAwsMeasurement) + ", got " +
                                                std::string(kVirteeMeasurement));
  // Entry 1 also wants a higher TCB.
  EXPECT_THAT(result.Message(), HasSubstr("ReferenceValues.snp[1]: LAUNCH_TCB.snp: expected >= 24, got 8"));
}

TEST_F(SnpValidate, BaselineFailureRejectsEvenAMatchingEntry) {
  GuestPolicy policy = report_.Policy();
  policy.debug = true;
  report_.policy = policy.Encode();
  const std::vector<SnpReferenceValues> entries = {rv_};
  const ValidationResult result = ValidateAgainstAny(report_, Product::kMilan, entries);
  ASSERT_EQ(result.mismatches.size(), 1u) << result.Message();
  EXPECT_FALSE(result.matched_entry);
  EXPECT_FALSE(result.mismatches[0].entry);  // not tied to an entry
  EXPECT_EQ(result.mismatches[0].field, "POLICY.DEBUG");
}

TEST_F(SnpValidate, NoEntriesAtAll) {
  const ValidationResult result = ValidateAgainstAny(report_, Product::kMilan, {});
  EXPECT_EQ(Only(result).Message(), "ReferenceValues.snp: expected at least one entry, got none");
}

TEST_F(SnpValidate, FromManifestJsonToVerdict) {
  // The CLI path: manifest text -> reference values -> validation.
  const std::string manifest = R"({"Policies": {}, "ReferenceValues": {"snp": [)" +
                               SnpReferenceValuesToJson(AwsReferenceValues()).dump() + "," +
                               SnpReferenceValuesToJson(rv_).dump() + R"(], "tdx": []}})";
  auto rv = ParseReferenceValues(manifest);
  ASSERT_TRUE(rv) << rv.error().message;
  const ValidationResult result = ValidateAgainstAny(report_, Product::kMilan, rv->snp);
  EXPECT_TRUE(result.ok()) << result.Message();
  EXPECT_EQ(result.matched_entry, 1u);
}

}  // namespace
}  // namespace contrast::attest::snp

// --- Through Verifier::Verify (real signatures and chains) --------------------

namespace contrast::attest::snp {
namespace {

TimePoint At(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? *t : TimePoint{};
}

TEST(SnpValidateVerified, VerifiedMilanReportIsAcceptable) {
  CONTRAST_REQUIRE_TESTDATA();
  const Verifier verifier;
  VerifyOptions options;
  options.at = At("2025-06-01T00:00:00Z");
  auto verified =
      verifier.Verify(ReadTestdata("snp/virtee_report_milan.bin"), ReadTestdata("snp/virtee_vcek_milan.der"), options);
  ASSERT_TRUE(verified) << verified.error().message;
  ASSERT_EQ(verified->product(), Product::kMilan);
  // No AMD CRL is among the vectors: revocation is "not checked", which this
  // entry accepts (collateral_test covers the refusal).
  EXPECT_FALSE(verified->revocation().checked);
  SnpReferenceValues rv = VirteeReferenceValues();
  rv.allow_missing_revocation_check = true;
  const ValidationResult result = Validate(*verified, rv);
  EXPECT_TRUE(result.ok()) << result.Message();
  const std::vector<SnpReferenceValues> entries = {AwsReferenceValues(), rv};
  EXPECT_EQ(ValidateAgainstAny(*verified, entries).matched_entry, 1u);
}

TEST(SnpValidateVerified, VerifiedDebugAndVmplReportsAreRejected) {
  CONTRAST_REQUIRE_TESTDATA();
  const Verifier verifier;
  VerifyOptions options;
  options.at = At("2025-06-01T00:00:00Z");  // the VLEK expired 2025-12-10

  auto debug =
      verifier.Verify(ReadTestdata("snp/gosevguest_attestation.bin"), ReadTestdata("snp/gosevguest_vcek.der"), options);
  ASSERT_TRUE(debug) << debug.error().message;
  SnpReferenceValues rv = VirteeReferenceValues();
  EXPECT_EQ(Validate(*debug, rv).mismatches.at(0).field, "POLICY.DEBUG");

  auto vlek = verifier.Verify(ReadTestdata("snp/trustee_test-vlek-report.bin"),
                              ReadTestdata("snp/trustee_test-vlek.der"), options);
  ASSERT_TRUE(vlek) << vlek.error().message;
  EXPECT_EQ(vlek->signing_key(), SigningKey::kVlek);
  SnpReferenceValues aws = AwsReferenceValues();
  aws.allow_missing_revocation_check = true;  // no AMD CRL among the vectors
  const ValidationResult result = Validate(*vlek, aws);
  ASSERT_EQ(result.mismatches.size(), 1u) << result.Message();
  EXPECT_EQ(result.mismatches[0].Message(), "VMPL: expected 0, got 1");
}

TEST(SnpValidateVerified, NonAmdRootNeedsExplicitConsent) {
  CONTRAST_REQUIRE_TESTDATA();
  // AMD's own certificates, but anchored as if they were an emulated root.
  ProductAnchors milan = *TrustAnchors::Amd().Find(Product::kMilan);
  milan.insecure = true;
  const Verifier verifier(TrustAnchors{{milan}});
  VerifyOptions options;
  options.at = At("2025-06-01T00:00:00Z");
  auto verified =
      verifier.Verify(ReadTestdata("snp/virtee_report_milan.bin"), ReadTestdata("snp/virtee_vcek_milan.der"), options);
  ASSERT_TRUE(verified) << verified.error().message;
  ASSERT_TRUE(verified->insecure_root());

  SnpReferenceValues rv = VirteeReferenceValues();
  rv.allow_missing_revocation_check = true;  // no AMD CRL among the vectors
  const ValidationResult refused = Validate(*verified, rv);
  ASSERT_EQ(refused.mismatches.size(), 1u) << refused.Message();
  EXPECT_EQ(refused.mismatches[0].code, ErrorCode::kUntrustedRoot);
  EXPECT_EQ(refused.mismatches[0].field, "ROOT");
  const std::vector<SnpReferenceValues> entries = {rv};
  const ValidationResult refused_any = ValidateAgainstAny(*verified, entries);
  EXPECT_FALSE(refused_any.ok());
  EXPECT_FALSE(refused_any.matched_entry);

  ValidateOptions consent;
  consent.insecure_accept_non_amd_root = true;
  EXPECT_TRUE(Validate(*verified, rv, consent).ok());
  EXPECT_EQ(ValidateAgainstAny(*verified, entries, consent).matched_entry, 0u);
}

}  // namespace
}  // namespace contrast::attest::snp
