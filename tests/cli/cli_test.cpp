// The `contrast` command line, in-process: flags, exit codes and output.
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/app.h"
#include "common/files.h"
#include "support/cli_run.h"
#include "support/http_server.h"
#include "support/testdata.h"

namespace contrast::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using contrast::testing::CliRun;
using contrast::testing::Contrast;

std::string Vector(const std::string& name) { return (contrast::testing::TestdataDir() / "snp" / name).string(); }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("contrast-cli-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Write(const std::string& name, const std::string& content) const {
    EXPECT_TRUE(WriteFileAtomic(dir_ / name, content));
    return Path(name);
  }
  std::filesystem::path dir_;
};

TEST_F(CliTest, HelpAndVersionExitZero) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"attestation", "verify", "--help"}, {"emulate", "report", "--help"}, {"--version"}}) {
    const CliRun r = Contrast(args);
    EXPECT_EQ(r.code, kExitOk) << args.back();
    EXPECT_FALSE(r.out.empty());
  }
  EXPECT_THAT(Contrast({"attestation", "verify", "--help"}).out, HasSubstr("--reference-values"));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Contrast({}).code, kExitUsage);
  EXPECT_EQ(Contrast({"attestation"}).code, kExitUsage);
  EXPECT_EQ(Contrast({"attestation", "verify"}).code, kExitUsage);  // --report missing
  EXPECT_EQ(Contrast({"attestation", "verify", "--report", Path("missing.bin")}).code, kExitUsage);
  EXPECT_EQ(Contrast({"attestation", "show", "--bogus", "x"}).code, kExitUsage);
}

TEST_F(CliTest, ShowPrintsEveryDecodedField) {
  CONTRAST_REQUIRE_TESTDATA();
  const CliRun r = Contrast({"attestation", "show", Vector("trustee_azure_genoa_report.bin")});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff"
                        "917c89ae"));
  EXPECT_THAT(r.out, HasSubstr("Genoa"));
  EXPECT_THAT(r.out, HasSubstr("unverified"));
  const CliRun j = Contrast({"attestation", "show", "--json", Vector("trustee_azure_genoa_report.bin")});
  ASSERT_EQ(j.code, kExitOk);
  const auto json = nlohmann::json::parse(j.out);
  EXPECT_EQ(json["reported_tcb"]["snp"], 23);
  EXPECT_EQ(json["policy"]["abi_minor"], 31);
}

TEST_F(CliTest, ShowRejectsMalformedReport) {
  const CliRun r = Contrast({"attestation", "show", Write("short.bin", "not a report")});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_THAT(r.err, HasSubstr("12 bytes, expected 1184"));
}

TEST_F(CliTest, VerifiesRealMilanReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const CliRun r = Contrast({"attestation", "verify", "--report", Vector("virtee_report_milan.bin"), "--vcek",
                             Vector("virtee_vcek_milan.der"), "--product", "milan", "--at", "2025-06-01T00:00:00Z"});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Verdict: VALID"));
  EXPECT_THAT(r.out, HasSubstr("report signature"));
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL")));
  EXPECT_THAT(r.err, Not(HasSubstr("INSECURE")));
}

TEST_F(CliTest, DebugReportFailsBaselineValidation) {
  CONTRAST_REQUIRE_TESTDATA();
  const CliRun r = Contrast({"attestation", "verify", "--report", Vector("gosevguest_attestation.bin"), "--vcek",
                             Vector("gosevguest_vcek.der"), "--product", "Milan", "--at", "2025-06-01T00:00:00Z"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_THAT(r.out, HasSubstr("DEBUG"));
  EXPECT_THAT(r.out, HasSubstr("Verdict: INVALID"));
}

TEST_F(CliTest, ListsEveryMismatchAgainstReferenceValues) {
  CONTRAST_REQUIRE_TESTDATA();
  // VLEK report from AWS: VMPL 1, reported snp 24 / microcode 217.
  const std::string rv = Write("rv.json", R"({"snp": [{
      "ProductName": "Milan",
      "TrustedMeasurement": "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "MinimumTCB": {"BootloaderVersion": 4, "TEEVersion": 0, "SNPVersion": 25, "MicrocodeVersion": 217},
      "GuestPolicy": {"SMT": true},
      "PlatformInfo": {"SMTEnabled": true, "TSMEEnabled": true}}]})");
  const CliRun r =
      Contrast({"attestation", "verify", "--report", Vector("trustee_test-vlek-report.bin"), "--vcek",
                Vector("trustee_test-vlek.der"), "--at", "2025-06-01T00:00:00Z", "--reference-values", rv});
  EXPECT_EQ(r.code, kExitFailed) << r.out;
  EXPECT_THAT(r.out, HasSubstr("MEASUREMENT"));
  EXPECT_THAT(r.out, HasSubstr("VMPL: expected 0, got 1"));
  EXPECT_THAT(r.out, HasSubstr("snp"));
  EXPECT_THAT(r.out, HasSubstr("chains to"));  // authenticity itself was fine
}

TEST_F(CliTest, ExpiredVlekFailsAtPresentTime) {
  CONTRAST_REQUIRE_TESTDATA();
  const CliRun r = Contrast({"attestation", "verify", "--report", Vector("trustee_test-vlek-report.bin"), "--vcek",
                             Vector("trustee_test-vlek.der"), "--at", "2026-11-28T00:00:00Z", "--json"});
  EXPECT_EQ(r.code, kExitFailed);
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["verdict"], "invalid");
  EXPECT_EQ(json["verification"]["authentic"], false);
  EXPECT_EQ(json["verification"]["checks"].back()["code"], "certificate-expired");
}

TEST_F(CliTest, BadReferenceValuesAreAUsageError) {
  CONTRAST_REQUIRE_TESTDATA();
  const std::string rv = Write("rv.json", R"({"snp": [{"ProductName": "Naples", "TrustedMeasurement": "xyz"}]})");
  const CliRun r = Contrast({"attestation", "verify", "--report", Vector("virtee_report_milan.bin"), "--vcek",
                             Vector("virtee_vcek_milan.der"), "--reference-values", rv});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("ReferenceValues.snp[0].ProductName"));
  EXPECT_THAT(r.err, HasSubstr("ReferenceValues.snp[0].TrustedMeasurement"));
  EXPECT_THAT(r.err, HasSubstr("ReferenceValues.snp[0].MinimumTCB"));
  EXPECT_EQ(
      Contrast({"attestation", "verify", "--report", Vector("virtee_report_milan.bin"), "--at", "yesterday"}).code,
      kExitUsage);
}

TEST_F(CliTest, FetchesVcekFromKeyServerAndCachesIt) {
  CONTRAST_REQUIRE_TESTDATA();
  contrast::testing::HttpServer kds;
  ASSERT_TRUE(kds.ok());
  const std::string target =
      "/vcek/v1/Milan/"
      "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b0"
      "82e2f87a44d541eb6?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
  kds.ServeFile(target, Vector("virtee_vcek_milan.der"));
  const std::vector<std::string> args = {"attestation", "verify",      "--report",  Vector("virtee_report_milan.bin"),
                                         "--product",   "Milan",       "--kds-url", kds.BaseUrl(),
                                         "--cache-dir", Path("cache"), "--at",      "2025-06-01T00:00:00Z"};
  std::filesystem::create_directories(dir_ / "cache");
  const CliRun first = Contrast(args);
  EXPECT_EQ(first.code, kExitOk) << first.out << first.err;
  EXPECT_THAT(first.out, HasSubstr("VCEK fetched from"));
  const CliRun second = Contrast(args);
  EXPECT_EQ(second.code, kExitOk);
  EXPECT_EQ(kds.RequestCount(target), 1);  // the second run was served from the cache
}

TEST_F(CliTest, VersionTwoReportWithoutProductCannotFetch) {
  CONTRAST_REQUIRE_TESTDATA();
  const CliRun r = Contrast({"attestation", "verify", "--report", Vector("virtee_report_milan.bin")});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_THAT(r.out, HasSubstr("--product"));
}

TEST_F(CliTest, EmulatedReportVerifiesOnlyWithItsChainNamed) {
  const std::string state = Path("sp");
  ASSERT_EQ(Contrast({"emulate", "init", "--state-dir", state}).code, kExitOk);
  const CliRun made = Contrast({"emulate", "report", "--state-dir", state, "--measurement", std::string(96, 'a'),
                                "--host-data", std::string(64, 'b'), "--report-data", "0102", "-o", Path("report.bin"),
                                "--vcek-out", Path("vcek.pem"), "--chain-out", Path("chain.pem")});
  ASSERT_EQ(made.code, kExitOk) << made.err;

  const CliRun trusted = Contrast({"attestation", "verify", "--report", Path("report.bin"), "--vcek", Path("vcek.pem"),
                                   "--insecure-emulated-chain", Path("chain.pem")});
  EXPECT_EQ(trusted.code, kExitOk) << trusted.out << trusted.err;
  EXPECT_THAT(trusted.err, HasSubstr("INSECURE"));
  EXPECT_THAT(trusted.out, HasSubstr(std::string(96, 'a')));

  const CliRun untrusted =
      Contrast({"attestation", "verify", "--report", Path("report.bin"), "--vcek", Path("vcek.pem")});
  EXPECT_EQ(untrusted.code, kExitFailed);
  EXPECT_THAT(untrusted.out, HasSubstr("Verdict: INVALID"));

  const std::string rv =
      Write("rv.json", R"({"snp": [{"ProductName": "Milan", "TrustedMeasurement": ")" + std::string(96, 'c') + R"(",
      "MinimumTCB": {"BootloaderVersion": 0, "TEEVersion": 0, "SNPVersion": 0, "MicrocodeVersion": 0},
      "GuestPolicy": {"SMT": true}, "PlatformInfo": {"SMTEnabled": true}}]})");
  const CliRun mismatch = Contrast({"attestation", "verify", "--report", Path("report.bin"), "--vcek", Path("vcek.pem"),
                                    "--insecure-emulated-chain", Path("chain.pem"), "--reference-values", rv});
  EXPECT_EQ(mismatch.code, kExitFailed);
  EXPECT_THAT(mismatch.out, HasSubstr("MEASUREMENT"));
}

TEST_F(CliTest, EmulateRejectsBadFlags) {
  EXPECT_EQ(Contrast({"emulate", "init", "--state-dir", Path("sp"), "--product", "Naples"}).code, kExitUsage);
  EXPECT_EQ(Contrast({"emulate", "init", "--state-dir", Path("sp2"), "--tcb", "snp=300"}).code, kExitUsage);
  ASSERT_EQ(Contrast({"emulate", "init", "--state-dir", Path("sp")}).code, kExitOk);
  EXPECT_EQ(Contrast({"emulate", "report", "--state-dir", Path("sp"), "--measurement", "abcd", "-o", Path("r")}).code,
            kExitUsage);
  EXPECT_EQ(Contrast({"emulate", "report", "--state-dir", Path("nope"), "-o", Path("r")}).code, kExitUsage);
}

}  // namespace
}  // namespace contrast::cli
