// InsecureEmulatedIssuer from an in-process VM and from a real emulator
// daemon on Unix sockets (what `contrast emulate run` gives a program): the
// evidence it issues passes attest::EvidenceVerifier when the reference values
// pin the emulator's root, and only then.
#include "attest/emulated/issuer.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/evidence_verifier.h"
#include "support/emulated_platform.h"

namespace contrast::attest::emulated {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace contrast::testing;

ReportData Binding(uint8_t fill) {
  ReportData data;
  data.fill(fill);
  return data;
}

TEST(InsecureEmulatedIssuer, IssuesForAnInProcessVm) {
  InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  EXPECT_EQ(issuer.platform(), kPlatformInsecureEmulatedSnp);
  auto evidence = issuer.Issue(Binding(3));
  ASSERT_TRUE(evidence) << evidence.error().message;
  EXPECT_EQ(evidence->platform, kPlatformInsecureEmulatedSnp);
  EXPECT_EQ(evidence->endorsement_key, Emulator().vcek_der());
  EXPECT_EQ(evidence->cert_chain, Emulator().ask_pem() + Emulator().ark_pem());
  EXPECT_TRUE(evidence->crl.empty());
  const EvidenceVerifier verifier;
  auto verified = verifier.Verify(*evidence, Binding(3), AcceptEmulated(kWorkloadHostData));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->host_data(), kWorkloadHostData);
}

class DaemonIssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "ctr-platform-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    auto daemon = Daemon::Start(Emulator(), dir_ / "sp.sock");
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  // Registers a VM the way `contrast emulate run` does; the issuer has only
  // its token.
  std::unique_ptr<Issuer> EnterVm(const HostData& host_data) {
    auto token = RegisterVmWithDaemon(daemon_->guest_socket(), kMeasurement, host_data);
    if (!token) throw std::runtime_error(token.error().message);
    return ForToken(*token);
  }
  std::unique_ptr<Issuer> ForToken(const std::string& token) {
    auto client = GuestClient::Create(daemon_->guest_socket(), token);
    if (!client) throw std::runtime_error(client.error().message);
    return std::make_unique<InsecureEmulatedIssuer>(InsecureEmulatedIssuer::ForGuest(std::move(*client)));
  }

  fs::path dir_;
  std::unique_ptr<Daemon> daemon_;
  EvidenceVerifier verifier_;
};

TEST_F(DaemonIssuerTest, DaemonEvidencePassesTheVerifierWithThePinnedRoot) {
  auto issuer = EnterVm(kWorkloadHostData);
  EXPECT_EQ(issuer->platform(), kPlatformInsecureEmulatedSnp);

  const ReportData report_data = Binding(7);
  auto evidence = issuer->Issue(report_data);
  ASSERT_TRUE(evidence) << evidence.error().message;
  EXPECT_EQ(evidence->platform, kPlatformInsecureEmulatedSnp);
  EXPECT_EQ(evidence->endorsement_key, Emulator().vcek_der());
  EXPECT_EQ(evidence->cert_chain, Emulator().ask_pem() + Emulator().ark_pem());
  EXPECT_TRUE(evidence->crl.empty());

  auto verified = verifier_.Verify(*evidence, report_data, AcceptEmulated(kWorkloadHostData));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->insecure());
  EXPECT_EQ(verified->platform(), kPlatformInsecureEmulatedSnp);
  EXPECT_EQ(verified->host_data(), kWorkloadHostData);

  // Bound to this REPORT_DATA only.
  EXPECT_FALSE(verifier_.Verify(*evidence, Binding(8), AcceptEmulated(kWorkloadHostData)));
  // HOST_DATA was fixed by the launcher: another policy hash is not accepted.
  auto other_policy = verifier_.Verify(*evidence, report_data, AcceptEmulated(kCoordinatorHostData));
  ASSERT_FALSE(other_policy);
}

TEST_F(DaemonIssuerTest, UnpinnedRootIsRejected) {
  auto issuer = EnterVm(kWorkloadHostData);
  const ReportData report_data = Binding(1);
  auto evidence = issuer->Issue(report_data);
  ASSERT_TRUE(evidence);
  // Reference values that pin another emulator's root.
  auto rejected = verifier_.Verify(*evidence, report_data, AcceptEmulated(kWorkloadHostData, OtherEmulator()));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kUntrustedRoot);
}

TEST_F(DaemonIssuerTest, IssuesConcurrently) {
  auto issuer = EnterVm(kWorkloadHostData);
  constexpr int kThreads = 8;
  std::vector<std::optional<Result<Evidence>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = issuer->Issue(Binding(static_cast<uint8_t>(i))); });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i] && *results[i]) << i;
    EXPECT_TRUE(verifier_.Verify(**results[i], Binding(static_cast<uint8_t>(i)), AcceptEmulated(kWorkloadHostData)))
        << i;
  }
}

TEST_F(DaemonIssuerTest, UnknownTokenFailsAtIssueTime) {
  auto issuer = ForToken(std::string(64, 'b'));
  auto evidence = issuer->Issue(Binding(0));
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(evidence.error().message, HasSubstr("issuing emulated-snp evidence"));
}

}  // namespace
}  // namespace contrast::attest::emulated
