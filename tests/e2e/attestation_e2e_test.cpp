// End-to-end: the real `contrast` binary and the demo script, as separate
// processes, on files in a temporary directory.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "support/testdata.h"

namespace contrast {
namespace {

using ::testing::HasSubstr;

struct Process {
  int code;
  std::string output;  // stdout and stderr
};

// Runs a shell command line and captures its combined output.
Process Sh(const std::string& command) {
  const std::string line = command + " 2>&1";
  FILE* pipe = ::popen(line.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string Quote(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

class AttestationE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("contrast-e2e-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Process Contrast(const std::string& args) { return Sh(std::string(CONTRAST_BINARY) + " " + args); }
  std::filesystem::path dir_;
};

TEST_F(AttestationE2e, EmulatedReportRoundTripThroughTheBinary) {
  const auto sp = dir_ / "sp";
  ASSERT_EQ(Contrast("emulate init --state-dir " + Quote(sp)).code, 0);
  const Process made = Contrast("emulate report --state-dir " + Quote(sp) + " --measurement " + std::string(96, '1') +
                                " --report-data 00ff -o " + Quote(dir_ / "report.bin") + " --vcek-out " +
                                Quote(dir_ / "vcek.pem") + " --chain-out " + Quote(dir_ / "chain.pem"));
  ASSERT_EQ(made.code, 0) << made.output;
  const std::string verify = "attestation verify --report " + Quote(dir_ / "report.bin") + " --vcek " +
                             Quote(dir_ / "vcek.pem") + " --insecure-emulated-chain " + Quote(dir_ / "chain.pem");
  const Process ok = Contrast(verify);
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("Verdict: VALID"));
  EXPECT_THAT(ok.output, HasSubstr("INSECURE EMULATED PLATFORM"));

  // Any change after signing breaks it.
  auto bytes = ReadFile(dir_ / "report.bin");
  ASSERT_TRUE(bytes);
  (*bytes)[0x90] ^= 1;  // MEASUREMENT
  ASSERT_TRUE(WriteFileAtomic(dir_ / "report.bin", *bytes));
  const Process tampered = Contrast(verify);
  EXPECT_EQ(tampered.code, 1) << tampered.output;
  EXPECT_THAT(tampered.output, HasSubstr("signature-invalid"));
}

TEST_F(AttestationE2e, RealReportVerdictAndExitCodes) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto snp = contrast::testing::TestdataDir() / "snp";
  const Process ok = Contrast("attestation verify --report " + Quote(snp / "trustee_azure_genoa_report.bin") +
                              " --vcek " + Quote(snp / "trustee_azure_genoa_vcek.pem") + " --at 2026-01-01T00:00:00Z");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("Genoa"));
  const Process wrong = Contrast("attestation verify --report " + Quote(snp / "trustee_azure_genoa_report.bin") +
                                 " --vcek " + Quote(snp / "virtee_vcek_milan.der") + " --at 2026-01-01T00:00:00Z");
  EXPECT_EQ(wrong.code, 1) << wrong.output;
  // Refused for the right reason: the VCEK is a Milan chip's.
  EXPECT_THAT(wrong.output, HasSubstr("product-mismatch"));
  EXPECT_THAT(wrong.output, HasSubstr("Milan"));
  EXPECT_EQ(Contrast("attestation verify --report " + Quote(dir_ / "missing")).code, 2);
}

// The README's first command, on the binaries of this build.
TEST_F(AttestationE2e, DemoRunsAndCleansUp) {
  const std::string build_dir = std::filesystem::path(CONTRAST_BINARY).parent_path().parent_path().string();
  const Process demo = Sh("CONTRAST_BUILD_DIR=" + Quote(build_dir) + " CONTRAST_DEMO_DIR=" + Quote(dir_ / "demo") +
                          " " + std::string(CONTRAST_SOURCE_DIR) + "/scripts/demo");
  EXPECT_EQ(demo.code, 0) << demo.output;
  EXPECT_THAT(demo.output, HasSubstr("Wrote ./manifest.json (3 policies); 3 resource file(s) changed"));
  EXPECT_THAT(demo.output, HasSubstr("Manifest set"));
  EXPECT_THAT(demo.output, HasSubstr("the web workload answered the client over mTLS"));
  EXPECT_THAT(demo.output, HasSubstr("The active manifest equals"));
  EXPECT_THAT(demo.output, HasSubstr("HTTP 200"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "demo")) << "the demo left its working directory behind";
  // No process of the demo is left running.
  // "[/]tmp/..." matches the demo's processes but not the shell running pgrep.
  const Process left = Sh("pgrep -f '[/]" + (dir_ / "demo").string().substr(1) + "'");
  EXPECT_NE(left.code, 0) << left.output;
}

}  // namespace
}  // namespace contrast
