// platform::IssuerFromEnvironment against a real emulator daemon on Unix
// sockets: the evidence it issues passes session::EvidenceVerifier when the
// reference values pin the emulator's root, and only then.
#include "platform/issuer.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "session/fixtures.h"
#include "session/verifier.h"

namespace contrast::platform {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace contrast::session::testing;
namespace emulated = attest::emulated;

session::ReportData Binding(uint8_t fill) {
  session::Nonce nonce;
  nonce.fill(fill);
  const Bytes spki(91, fill);
  return session::SessionReportData(session::Role::kWorkload, spki, nonce);
}

// Sets or clears the two variables for one test and restores them after.
class ScopedEnvironment {
 public:
  ScopedEnvironment() {
    ::unsetenv(emulated::kSocketEnv);
    ::unsetenv(emulated::kVmTokenEnv);
  }
  ~ScopedEnvironment() {
    ::unsetenv(emulated::kSocketEnv);
    ::unsetenv(emulated::kVmTokenEnv);
  }
  void Set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
};

class IssuerFromEnvironmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "ctr-platform-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    auto daemon = emulated::Daemon::Start(Emulator(), dir_ / "sp.sock");
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  // Registers a VM the way `contrast emulate run` does and exports its token.
  void EnterVm(const emulated::HostData& host_data) {
    auto token = emulated::RegisterVmWithDaemon(daemon_->guest_socket(), kMeasurement, host_data);
    ASSERT_TRUE(token) << token.error().message;
    env_.Set(emulated::kSocketEnv, daemon_->guest_socket().string());
    env_.Set(emulated::kVmTokenEnv, *token);
  }

  ScopedEnvironment env_;
  fs::path dir_;
  std::unique_ptr<emulated::Daemon> daemon_;
  session::EvidenceVerifier verifier_;
};

TEST_F(IssuerFromEnvironmentTest, DaemonEvidencePassesTheSessionVerifierWithThePinnedRoot) {
  EnterVm(kWorkloadHostData);
  auto issuer = IssuerFromEnvironment();
  ASSERT_TRUE(issuer) << issuer.error().message;
  EXPECT_NE(dynamic_cast<DaemonEvidenceIssuer*>(issuer->get()), nullptr);
  EXPECT_THAT(DescribeIssuerEnvironment(), HasSubstr("emulated-snp (INSECURE) via " + dir_.string()));

  const session::ReportData report_data = Binding(7);
  auto evidence = (*issuer)->Issue(report_data);
  ASSERT_TRUE(evidence) << evidence.error().message;
  EXPECT_EQ(evidence->platform, session::kPlatformEmulatedSnp);
  EXPECT_EQ(evidence->endorsement_key, Emulator().vcek_der());
  EXPECT_EQ(evidence->cert_chain, Emulator().ask_pem() + Emulator().ark_pem());
  EXPECT_TRUE(evidence->crl.empty());

  auto verified = verifier_.Verify(*evidence, report_data, AcceptEmulated(kWorkloadHostData));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->insecure());
  EXPECT_EQ(verified->platform(), session::kPlatformEmulatedSnp);
  EXPECT_EQ(verified->host_data(), kWorkloadHostData);

  // Bound to this REPORT_DATA only.
  EXPECT_FALSE(verifier_.Verify(*evidence, Binding(8), AcceptEmulated(kWorkloadHostData)));
  // HOST_DATA was fixed by the launcher: another policy hash is not accepted.
  auto other_policy = verifier_.Verify(*evidence, report_data, AcceptEmulated(kCoordinatorHostData));
  ASSERT_FALSE(other_policy);
}

TEST_F(IssuerFromEnvironmentTest, UnpinnedRootIsRejected) {
  EnterVm(kWorkloadHostData);
  auto issuer = IssuerFromEnvironment();
  ASSERT_TRUE(issuer);
  const session::ReportData report_data = Binding(1);
  auto evidence = (*issuer)->Issue(report_data);
  ASSERT_TRUE(evidence);
  // Reference values that pin another emulator's root.
  auto rejected = verifier_.Verify(*evidence, report_data, AcceptEmulated(kWorkloadHostData, OtherEmulator()));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kUntrustedRoot);
}

TEST_F(IssuerFromEnvironmentTest, IssuesConcurrently) {
  EnterVm(kWorkloadHostData);
  auto issuer = IssuerFromEnvironment();
  ASSERT_TRUE(issuer);
  constexpr int kThreads = 8;
  std::vector<std::optional<Result<session::Evidence>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = (*issuer)->Issue(Binding(static_cast<uint8_t>(i))); });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i] && *results[i]) << i;
    EXPECT_TRUE(verifier_.Verify(**results[i], Binding(static_cast<uint8_t>(i)), AcceptEmulated(kWorkloadHostData)))
        << i;
  }
}

TEST_F(IssuerFromEnvironmentTest, WithoutTheVariablesItIsRealSnp) {
  auto issuer = IssuerFromEnvironment();
  ASSERT_TRUE(issuer) << issuer.error().message;
  EXPECT_NE(dynamic_cast<session::SnpEvidenceIssuer*>(issuer->get()), nullptr);
  EXPECT_EQ(DescribeIssuerEnvironment(), "snp");
  auto evidence = (*issuer)->Issue(Binding(0));
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, ErrorCode::kUnsupported);
}

TEST_F(IssuerFromEnvironmentTest, HalfOrMalformedConfigurationIsAnError) {
  env_.Set(emulated::kSocketEnv, daemon_->guest_socket().string());
  auto socket_only = IssuerFromEnvironment();
  ASSERT_FALSE(socket_only);
  EXPECT_EQ(socket_only.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(socket_only.error().message, HasSubstr(emulated::kVmTokenEnv));

  ::unsetenv(emulated::kSocketEnv);
  env_.Set(emulated::kVmTokenEnv, std::string(64, 'a'));
  auto token_only = IssuerFromEnvironment();
  ASSERT_FALSE(token_only);
  EXPECT_THAT(token_only.error().message, HasSubstr(emulated::kSocketEnv));

  env_.Set(emulated::kSocketEnv, daemon_->guest_socket().string());
  env_.Set(emulated::kVmTokenEnv, "xyz");
  auto malformed = IssuerFromEnvironment();
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(IssuerFromEnvironmentTest, UnknownTokenFailsAtIssueTime) {
  env_.Set(emulated::kSocketEnv, daemon_->guest_socket().string());
  env_.Set(emulated::kVmTokenEnv, std::string(64, 'b'));
  auto issuer = IssuerFromEnvironment();
  ASSERT_TRUE(issuer);
  auto evidence = (*issuer)->Issue(Binding(0));
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(evidence.error().message, HasSubstr("issuing emulated-snp evidence"));
}

}  // namespace
}  // namespace contrast::platform
