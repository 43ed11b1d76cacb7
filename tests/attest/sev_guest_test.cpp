// /dev/sev-guest issuer: the firmware response parsing (without a device),
// and the device errors that can be provoked on any machine.
#include "attest/tsm/sev_guest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "attest/snp/abi.h"
#include "attest/tsm/sev_guest_response.h"
#include "support/testdata.h"

namespace contrast::attest::tsm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void PutLe32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

// A MSG_REPORT_RSP as the kernel hands it over: 4000 bytes, report at 0x20.
Bytes Response(const Bytes& report, uint32_t status = 0, uint32_t report_size = snp::kReportSize) {
  Bytes response(4000, 0);
  PutLe32(response, 0, status);
  PutLe32(response, 4, report_size);
  std::copy(report.begin(), report.end(), response.begin() + kReportResponseHeaderSize);
  return response;
}

TEST(SevGuestResponse, ExtractsTheReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const Bytes report = testing::ReadTestdata("snp/virtee_report_milan.bin");
  ASSERT_EQ(report.size(), snp::kReportSize);
  auto parsed = ParseReportResponse(Response(report));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(*parsed, report);
  EXPECT_TRUE(snp::ParseReport(*parsed).has_value());
}

TEST(SevGuestResponse, FirmwareStatusIsNamed) {
  auto parsed = ParseReportResponse(Response(Bytes(snp::kReportSize, 0xab), 0x16));
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kIo);
  EXPECT_THAT(parsed.error().message, HasSubstr("status 0x16 (INVALID_PARAM)"));
  auto unknown = ParseReportResponse(Response(Bytes(snp::kReportSize, 0), 0x1234));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_THAT(unknown.error().message, HasSubstr("status 0x1234 (unknown)"));
}

TEST(SevGuestResponse, RejectsWrongReportSize) {
  for (uint32_t size : {0x1000u, 0xFFFFFFFFu, 0x49Fu, 0u}) {
    auto parsed = ParseReportResponse(Response(Bytes(snp::kReportSize, 1), 0, size));
    ASSERT_FALSE(parsed.has_value()) << size;
    EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
    EXPECT_THAT(parsed.error().message, HasSubstr("expected 0x4a0"));
  }
}

TEST(SevGuestResponse, RejectsTruncatedResponses) {
  Bytes response = Response(Bytes(snp::kReportSize, 1));
  response.resize(kReportResponseHeaderSize + snp::kReportSize - 1);
  auto parsed = ParseReportResponse(response);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
  EXPECT_THAT(parsed.error().message, HasSubstr("does not fit"));
  response.resize(7);
  auto header = ParseReportResponse(response);
  ASSERT_FALSE(header.has_value());
  EXPECT_THAT(header.error().message, HasSubstr("shorter than its 32-byte header"));
}

TEST(SevGuestResponse, CertsRetrySizeIsBoundedAndPageAligned) {
  EXPECT_EQ(CertsRetrySize(0x4001, 0x4000, 4096, 1 << 20), 0x5000u);
  EXPECT_EQ(CertsRetrySize(0x6000, 0x4000, 4096, 1 << 20), 0x6000u);
  EXPECT_EQ(CertsRetrySize(0x4000, 0x4000, 4096, 1 << 20), std::nullopt);  // would not grow
  EXPECT_EQ(CertsRetrySize(0, 0x4000, 4096, 1 << 20), std::nullopt);
  EXPECT_EQ(CertsRetrySize(0xFFFFFFFF, 0x4000, 4096, 1 << 20), std::nullopt);  // host not believed
  EXPECT_EQ(CertsRetrySize((1 << 20) + 1, 0x4000, 4096, 1 << 20), std::nullopt);
}

TEST(SevGuestIssuer, MissingDeviceIsNotFound) {
  const fs::path missing = fs::temp_directory_path() / "contrast-no-such-sev-guest";
  auto issuer = SevGuestIssuer::Open(missing);
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(issuer.error().message, HasSubstr(missing.string() + " does not exist"));
}

TEST(SevGuestIssuer, VmplOutOfRangeIsRejected) {
  auto issuer = SevGuestIssuer::Open("/dev/null", 4);
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kInvalidArgument);
}

TEST(SevGuestIssuer, RegularFileFailsTheIoctlsWithEnotty) {
  std::string path = (fs::temp_directory_path() / "contrast-sev-guest-XXXXXX").string();
  const int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto issuer = SevGuestIssuer::Open(path);
  ASSERT_TRUE(issuer.has_value()) << issuer.error().message;
  EXPECT_EQ((*issuer)->platform(), kPlatformSnp);
  auto evidence = (*issuer)->Issue(ReportData{});
  fs::remove(path);
  ASSERT_FALSE(evidence.has_value());
  EXPECT_EQ(evidence.error().code, ErrorCode::kIo);
  const std::string& message = evidence.error().message;
  // Both ioctls were tried, and each failure names the device and errno.
  EXPECT_THAT(message, HasSubstr(path + ": SNP_GET_REPORT failed: Inappropriate ioctl for device (errno 25)"));
  EXPECT_THAT(message, HasSubstr(path + ": SNP_GET_EXT_REPORT failed: Inappropriate ioctl for device (errno 25)"));
  EXPECT_THAT(message, HasSubstr("fw_error 0x0, vmm_error 0x0"));
}

}  // namespace
}  // namespace contrast::attest::tsm
