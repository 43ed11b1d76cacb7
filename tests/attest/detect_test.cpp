// DetectIssuer: the order in which a program looks for its evidence source,
// with the hardware paths pointed at temp files and a real emulator daemon on
// Unix sockets for the `contrast emulate run` environment.
#include "attest/detect.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/emulated/issuer.h"
#include "attest/evidence_verifier.h"
#include "attest/tsm/configfs_tsm.h"
#include "attest/tsm/sev_guest.h"
#include "support/emulated_platform.h"

namespace contrast::attest {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace contrast::testing;

ReportData Binding(uint8_t fill) {
  ReportData data;
  data.fill(fill);
  return data;
}

void ClearEnvironment() {
  ::unsetenv(emulated::kSocketEnv);
  ::unsetenv(emulated::kVmTokenEnv);
  ::unsetenv(std::string(tsm::kTsmDirEnv).c_str());
}

class DetectIssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClearEnvironment();
    std::string dir = (fs::temp_directory_path() / "ctr-detect-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    // Nothing of real hardware exists unless a test creates it.
    options_.default_tsm_dir = dir_ / "sys-tsm";
    options_.sev_guest_device = dir_ / "sev-guest";
    auto daemon = emulated::Daemon::Start(Emulator(), dir_ / "sp.sock");
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
  }
  void TearDown() override {
    ClearEnvironment();
    daemon_.reset();
    fs::remove_all(dir_);
  }

  // Registers a VM the way `contrast emulate run` does and exports its token.
  void EnterVm(const emulated::HostData& host_data) {
    auto token = emulated::RegisterVmWithDaemon(daemon_->guest_socket(), kMeasurement, host_data);
    ASSERT_TRUE(token) << token.error().message;
    ::setenv(emulated::kSocketEnv, daemon_->guest_socket().c_str(), 1);
    ::setenv(emulated::kVmTokenEnv, token->c_str(), 1);
  }

  fs::path dir_;
  DetectOptions options_;
  std::unique_ptr<emulated::Daemon> daemon_;
  EvidenceVerifier verifier_;
};

TEST_F(DetectIssuerTest, TheEmulatorDaemonEnvironmentGivesTheInsecureEmulatedIssuer) {
  EnterVm(kWorkloadHostData);
  auto detected = DetectIssuer(options_);
  ASSERT_TRUE(detected) << detected.error().message;
  EXPECT_NE(dynamic_cast<emulated::InsecureEmulatedIssuer*>(detected->issuer.get()), nullptr);
  EXPECT_EQ(detected->issuer->platform(), kPlatformInsecureEmulatedSnp);
  EXPECT_EQ(detected->description, "attestation: emulated-snp (INSECURE) evidence from the emulator daemon at " +
                                       daemon_->guest_socket().string());

  const ReportData report_data = Binding(7);
  auto evidence = detected->issuer->Issue(report_data);
  ASSERT_TRUE(evidence) << evidence.error().message;
  auto verified = verifier_.Verify(*evidence, report_data, AcceptEmulated(kWorkloadHostData));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->host_data(), kWorkloadHostData);
}

TEST_F(DetectIssuerTest, NothingFoundNamesEverythingTried) {
  auto detected = DetectIssuer(options_);
  ASSERT_FALSE(detected);
  EXPECT_EQ(detected.error().code, ErrorCode::kNotFound);
  const std::string& message = detected.error().message;
  EXPECT_THAT(message, HasSubstr("--tsm-dir"));
  EXPECT_THAT(message, HasSubstr(std::string(tsm::kTsmDirEnv)));
  EXPECT_THAT(message, HasSubstr((options_.default_tsm_dir / "report").string()));
  EXPECT_THAT(message, HasSubstr(options_.sev_guest_device.string()));
  EXPECT_THAT(message, HasSubstr(emulated::kSocketEnv));
  EXPECT_THAT(message, HasSubstr(emulated::kVmTokenEnv));
}

TEST_F(DetectIssuerTest, HalfOrMalformedEmulatorConfigurationIsAnError) {
  ::setenv(emulated::kSocketEnv, daemon_->guest_socket().c_str(), 1);
  auto socket_only = DetectIssuer(options_);
  ASSERT_FALSE(socket_only);
  EXPECT_EQ(socket_only.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(socket_only.error().message, HasSubstr(emulated::kVmTokenEnv));

  ::unsetenv(emulated::kSocketEnv);
  ::setenv(emulated::kVmTokenEnv, std::string(64, 'a').c_str(), 1);
  auto token_only = DetectIssuer(options_);
  ASSERT_FALSE(token_only);
  EXPECT_EQ(token_only.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(token_only.error().message, HasSubstr(emulated::kSocketEnv));

  ::setenv(emulated::kSocketEnv, daemon_->guest_socket().c_str(), 1);
  ::setenv(emulated::kVmTokenEnv, "xyz", 1);
  auto malformed = DetectIssuer(options_);
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);
}

// An explicit configfs-tsm root is used whatever else exists, and its
// failure is reported rather than falling back to another source.
TEST_F(DetectIssuerTest, AnExplicitTsmDirWinsAndItsFailureIsReported) {
  EnterVm(kWorkloadHostData);
  const fs::path from_env = dir_ / "env-tsm";
  ::setenv(std::string(tsm::kTsmDirEnv).c_str(), from_env.c_str(), 1);

  options_.tsm_dir = dir_ / "flag-tsm";
  auto flag = DetectIssuer(options_);
  ASSERT_FALSE(flag);
  EXPECT_EQ(flag.error().code, ErrorCode::kNotFound) << flag.error().message;
  EXPECT_THAT(flag.error().message, HasSubstr("--tsm-dir " + options_.tsm_dir.string()));
  EXPECT_THAT(flag.error().message, Not(HasSubstr(from_env.string())));

  options_.tsm_dir.clear();
  auto env = DetectIssuer(options_);
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().code, ErrorCode::kNotFound) << env.error().message;
  EXPECT_THAT(env.error().message, HasSubstr(std::string(tsm::kTsmDirEnv) + "=" + from_env.string()));
}

// Real hardware comes before the emulator daemon: configfs-tsm first, then
// /dev/sev-guest.
TEST_F(DetectIssuerTest, HardwareInterfacesComeBeforeTheEmulatorDaemon) {
  EnterVm(kWorkloadHostData);
  std::ofstream(options_.sev_guest_device).put('\0');
  auto sev_guest = DetectIssuer(options_);
  ASSERT_TRUE(sev_guest) << sev_guest.error().message;
  EXPECT_NE(dynamic_cast<tsm::SevGuestIssuer*>(sev_guest->issuer.get()), nullptr);
  EXPECT_EQ(sev_guest->description, "attestation: snp evidence from " + options_.sev_guest_device.string());

  // A configfs-tsm report directory wins over the device. This one is a
  // plain directory, not configfs, so opening it fails: with its error, not
  // a fall-back.
  fs::create_directories(options_.default_tsm_dir / "report");
  auto configfs = DetectIssuer(options_);
  ASSERT_FALSE(configfs);
  EXPECT_THAT(configfs.error().message, HasSubstr("configfs-tsm"));
  EXPECT_THAT(configfs.error().message, HasSubstr(options_.default_tsm_dir.string()));
}

}  // namespace
}  // namespace contrast::attest
