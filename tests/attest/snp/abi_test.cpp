#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "attest/snp/abi.h"
#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::ReadTestdata;

Report MustParse(const std::string& file) {
  const Bytes bytes = ReadTestdata(file);
  auto report = ParseReport(bytes);
  EXPECT_TRUE(report) << file << ": " << (report ? "" : report.error().message);
  return report ? *report : Report{};
}

TEST(SnpAbi, ParsesMilanV2Report) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report r = MustParse("snp/virtee_report_milan.bin");
  EXPECT_EQ(r.version, 2u);
  EXPECT_EQ(r.policy, 0x30000u);
  EXPECT_EQ(r.vmpl, 0u);
  EXPECT_EQ(r.platform_info, 0x1u);
  EXPECT_EQ(r.Signer().signing_key, SigningKey::kVcek);
  EXPECT_EQ(HexEncode(r.measurement),
            "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f");
  EXPECT_EQ(HexEncode(r.chip_id),
            "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738"
            "c72b082e2f87a44d541eb6");
  EXPECT_EQ(r.reported_tcb, 0x7308000000000003u);
  const TcbParts tcb = DecodeTcb(r.reported_tcb, Product::kMilan);
  EXPECT_EQ(tcb, (TcbParts{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115}));
  EXPECT_EQ(r.current_major, 1);
  EXPECT_EQ(r.current_minor, 52);
  EXPECT_EQ(r.current_build, 4);
  EXPECT_EQ(r.ProductFromCpuid(), Product::kUnknown);  // v2 carries no CPUID
}

TEST(SnpAbi, DecodesDebugPolicyOfGoSevGuestReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report r = MustParse("snp/gosevguest_attestation.bin");
  EXPECT_EQ(r.policy, 0xB0000u);
  EXPECT_TRUE(r.Policy().debug);
  EXPECT_TRUE(r.Policy().smt);
  EXPECT_EQ(HexEncode(ByteView(r.report_data).first(5)), "0102030405");
  EXPECT_EQ(DecodeTcb(r.current_tcb, Product::kMilan),
            (TcbParts{.fmc = 0, .bootloader = 2, .tee = 0, .snp = 5, .microcode = 68}));
}

TEST(SnpAbi, ParsesVlekV3ReportWithCpuid) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report r = MustParse("snp/trustee_test-vlek-report.bin");
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.vmpl, 1u);
  EXPECT_EQ(r.platform_info, 0x27u);
  EXPECT_EQ(r.Signer().signing_key, SigningKey::kVlek);
  EXPECT_TRUE(r.ChipIdMasked());
  EXPECT_EQ(r.cpuid_fam_id, 0x19);
  EXPECT_EQ(r.cpuid_mod_id, 0x01);
  EXPECT_EQ(r.cpuid_step, 1);
  EXPECT_EQ(r.ProductFromCpuid(), Product::kMilan);
  EXPECT_EQ(r.reported_tcb, 0xD918000000000004u);
  EXPECT_EQ(DecodeTcb(r.reported_tcb, Product::kMilan).microcode, 217);
  EXPECT_EQ(DecodeTcb(r.committed_tcb, Product::kMilan).microcode, 219);
  EXPECT_EQ(DecodeTcb(r.current_tcb, Product::kMilan).microcode, 220);
}

TEST(SnpAbi, DecodesGenoaReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report r = MustParse("snp/trustee_azure_genoa_report.bin");
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.ProductFromCpuid(), Product::kGenoa);
  EXPECT_EQ(r.guest_svn, 0x1000Bu);
  EXPECT_EQ(r.policy, 0x3001Fu);
  EXPECT_EQ(r.Policy().abi_minor, 31);
  EXPECT_EQ(r.platform_info, 0x24u);
  EXPECT_TRUE(r.Platform().ecc_enabled);
  EXPECT_TRUE(r.Platform().alias_check_complete);
  EXPECT_FALSE(r.Platform().smt_enabled);
  EXPECT_EQ(r.reported_tcb, 0x541700000000000Au);
  EXPECT_EQ(DecodeTcb(r.reported_tcb, Product::kGenoa),
            (TcbParts{.fmc = 0, .bootloader = 10, .tee = 0, .snp = 23, .microcode = 84}));
  EXPECT_EQ(HexEncode(r.id_key_digest),
            "942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177");
}

TEST(SnpAbi, TurinLayoutMovesEveryField) {
  const TcbParts parts{.fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 9};
  const uint64_t turin = EncodeTcb(parts, Product::kTurin);
  EXPECT_EQ(turin, 0x0900000004030201u);
  EXPECT_EQ(DecodeTcb(turin, Product::kTurin), parts);
  // The same bits read with the Milan layout mean something else entirely.
  EXPECT_NE(DecodeTcb(turin, Product::kMilan), parts);
  const TcbParts milan{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
  EXPECT_EQ(EncodeTcb(milan, Product::kMilan), 0x7308000000000003u);
}

TEST(SnpAbi, SerialisationRoundTripsEveryRealReport) {
  CONTRAST_REQUIRE_TESTDATA();
  for (const char* file :
       {"snp/virtee_report_milan.bin", "snp/gosevguest_attestation.bin", "snp/trustee_test-report.bin",
        "snp/trustee_test-vlek-report.bin", "snp/trustee_azure_genoa_report.bin"}) {
    const Bytes bytes = ReadTestdata(file);
    auto report = ParseReport(bytes);
    ASSERT_TRUE(report) << file;
    EXPECT_EQ(SerializeReport(*report), bytes) << file;
  }
}

TEST(SnpAbi, RejectsWrongSizes) {
  for (size_t size : {size_t{0}, size_t{1}, kReportSize - 1, kReportSize + 1, size_t{2600}}) {
    const Bytes bytes(size, 0);
    auto report = ParseReport(bytes);
    ASSERT_FALSE(report) << size;
    EXPECT_EQ(report.error().code, ErrorCode::kParse);
    EXPECT_NE(report.error().message.find(std::to_string(size) + " bytes"), std::string::npos);
  }
}

class SnpAbiMutation : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    bytes_ = ReadTestdata("snp/virtee_report_milan.bin");
    ASSERT_TRUE(ParseReport(bytes_));
  }
  std::string ErrorAfter(size_t offset, uint8_t value) {
    Bytes copy = bytes_;
    copy[offset] = value;
    auto report = ParseReport(copy);
    return report ? "" : report.error().message;
  }
  Bytes bytes_;
};

TEST_F(SnpAbiMutation, RejectsUnsupportedVersions) {
  EXPECT_NE(ErrorAfter(0x000, 1).find("VERSION 1"), std::string::npos);
  EXPECT_NE(ErrorAfter(0x000, 6).find("VERSION 6"), std::string::npos);
}

TEST_F(SnpAbiMutation, RejectsBadPolicyAndAlgorithm) {
  EXPECT_NE(ErrorAfter(0x00A, 0x01).find("bit 17"), std::string::npos);  // clears bit 17
  EXPECT_NE(ErrorAfter(0x00F, 0x80).find("63:26"), std::string::npos);
  EXPECT_NE(ErrorAfter(0x034, 2).find("SIGNATURE_ALGO 2"), std::string::npos);
}

TEST_F(SnpAbiMutation, RejectsReservedSignerAndPlatformBits) {
  EXPECT_NE(ErrorAfter(0x048, 2 << 2).find("reserved signing key 2"), std::string::npos);
  EXPECT_NE(ErrorAfter(0x048, 0x20).find("31:5"), std::string::npos);
  EXPECT_NE(ErrorAfter(0x040, 0x41).find("PLATFORM_INFO"), std::string::npos);
}

TEST_F(SnpAbiMutation, RejectsNonZeroReservedRanges) {
  for (size_t offset : {size_t{0x04C}, size_t{0x188}, size_t{0x19F}, size_t{0x1EB}, size_t{0x1EF}, size_t{0x1F8},
                        size_t{0x29F}, size_t{0x2A0 + 48}, size_t{0x2E8 + 71}, size_t{0x330}, size_t{0x49F}}) {
    EXPECT_NE(ErrorAfter(offset, 1).find("must be zero"), std::string::npos) << std::hex << offset;
  }
}

TEST(SnpAbi, JsonNamesEveryField) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report r = MustParse("snp/trustee_azure_genoa_report.bin");
  const nlohmann::ordered_json j = ReportToJson(r);
  EXPECT_EQ(j["product"], "Genoa");
  EXPECT_EQ(j["reported_tcb"]["snp"], 23);
  EXPECT_EQ(j["reported_tcb"]["raw"], "0x541700000000000a");
  EXPECT_EQ(j["signer_info"]["signing_key"], "VCEK");
  EXPECT_EQ(j["policy"]["abi_minor"], 31);
  EXPECT_EQ(j["current_firmware"], "1.55 build 40");
  for (const char* key : {"version",        "guest_svn",     "family_id",         "image_id",           "vmpl",
                          "signature_algo", "current_tcb",   "platform_info",     "report_data",        "measurement",
                          "host_data",      "id_key_digest", "author_key_digest", "report_id",          "report_id_ma",
                          "cpuid",          "chip_id",       "committed_tcb",     "committed_firmware", "launch_tcb",
                          "signature"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

TEST(SnpAbi, ProductNames) {
  EXPECT_EQ(*ParseProduct("Milan-B0"), Product::kMilan);
  EXPECT_EQ(*ParseProduct("genoa"), Product::kGenoa);
  EXPECT_EQ(*ParseProduct("Turin"), Product::kTurin);
  EXPECT_FALSE(ParseProduct("Naples"));
  EXPECT_EQ(ProductName(Product::kGenoa), "Genoa");
}

}  // namespace
}  // namespace contrast::attest::snp
