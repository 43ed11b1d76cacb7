// The contrast-coordinator program verifying workloads with collateral it
// fetches itself (issue #16 item 4): a real Coordinator process whose
// --insecure-emulated-kds-url points at a local HTTP server serving the KDS
// paths of an emulated secure processor (its VCEK, and CRLs this test signs
// with the emulated ARK). Workloads present evidence WITHOUT their VCEK (the
// ASK/ARK chain stays: it names the pinned emulated root).
#include <openssl/x509.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/snp/kds.h"
#include "crypto/x509_builder.h"
#include "harness.h"
#include "support/http_server.h"
#include "support/process.h"

#ifndef CONTRAST_COORDINATOR_BINARY
#error "CONTRAST_COORDINATOR_BINARY must name the contrast-coordinator executable"
#endif

namespace contrast::coordinator::testing {
namespace {

using contrast::testing::ChildProcess;
using contrast::testing::HttpServer;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

// Evidence as a platform that hands out no VCEK (or whose certificate table
// the host stripped) would send it.
class WithoutVcekIssuer final : public attest::Issuer {
 public:
  explicit WithoutVcekIssuer(std::shared_ptr<attest::Issuer> inner) : inner_(std::move(inner)) {}
  std::string_view platform() const override { return inner_->platform(); }
  Result<attest::Evidence> Issue(const attest::ReportData& report_data) override {
    auto evidence = inner_->Issue(report_data);
    if (evidence) evidence->endorsement_key.clear();
    return evidence;
  }

 private:
  std::shared_ptr<attest::Issuer> inner_;
};

crypto::DistinguishedName SubjectOf(const crypto::Certificate& cert) {
  crypto::DistinguishedName name;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(entry);
    name.push_back({OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry))),
                    std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                static_cast<size_t>(ASN1_STRING_length(value)))});
  }
  return name;
}

HttpServer::Reply Body(Bytes body) {
  HttpServer::Reply reply;
  reply.body = std::move(body);
  return reply;
}

class CoordinatorCollateral : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_dir_ = new TempDir();
    // The workloads' emulator, with its keys on disk: the test signs CRLs
    // with its ARK key.
    attest::emulated::SecureProcessorOptions options;
    options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
    sp_ = new SecureProcessor(Must(SecureProcessor::Create(suite_dir_->path() / "sp", options)));
    // The Coordinator's own evidence: a VM of BaseManifest()'s emulator
    // running the Coordinator's policy, through the daemon (never destroyed:
    // gRPC may be shut down by the time static objects go).
    daemon_ = Must(attest::emulated::Daemon::Start(Emulator(), suite_dir_->path() / "daemon.sock")).release();
  }
  static void TearDownTestSuite() {
    delete sp_;
    sp_ = nullptr;
    delete suite_dir_;
    suite_dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    auto report = attest::snp::ParseReport(Must(Must(sp_->RegisterVm(kMeasurement, {})).GetReport(Bytes(64, 0))));
    ASSERT_TRUE(report);
    vcek_target_ = Must(attest::snp::KdsClient::VcekUrl("", sp_->product(), sp_->chip_id(),
                                                        attest::snp::DecodeTcb(report->reported_tcb, sp_->product())));
    crl_target_ = Must(attest::snp::KdsClient::CrlUrl("", sp_->product(), attest::snp::SigningKey::kVcek));
    server_.Serve(vcek_target_, Body(sp_->vcek_der()));
  }

  // Starts contrast-coordinator with `extra` flags and sets the manifest:
  // BaseManifest() plus an entry pinning the workloads' emulator.
  void StartCoordinator(bool allow_missing_revocation_check, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{CONTRAST_COORDINATOR_BINARY,
                                  "--user-api-address",
                                  "127.0.0.1:0",
                                  "--mesh-api-address",
                                  "127.0.0.1:0",
                                  "--probe-address",
                                  "127.0.0.1:0",
                                  "--state-dir",
                                  (dir_.path() / "history").string(),
                                  "--insecure-emulated-kds-url",
                                  server_.BaseUrl()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string token = Must(attest::emulated::RegisterVmWithDaemon(daemon_->guest_socket(), kMeasurement,
                                                                          HashOf(kCoordinatorPolicy).bytes));
    process_.emplace(argv, dir_.path() / "coordinator.log",
                     std::map<std::string, std::string>{
                         {attest::emulated::kSocketEnv, daemon_->guest_socket().string()},
                         {attest::emulated::kVmTokenEnv, token},
                         {"CONTRAST_LOG_LEVEL", "debug"},
                     });
    const std::regex started("event=coordinator_started .*user_api_port=([0-9]+) mesh_api_port=([0-9]+)");
    std::smatch match;
    std::string output;
    ASSERT_TRUE(process_->WaitUntil([&] {
      output = process_->Output();
      return std::regex_search(output, match, started);
    })) << process_->Output();
    user_target_ = "127.0.0.1:" + match[1].str();
    mesh_target_ = "127.0.0.1:" + match[2].str();

    manifest_ = BaseManifest();
    attest::emulated::InsecureEmulatedReferenceValues entry = EmulatedEntry(*sp_);
    entry.snp.allow_missing_revocation_check = allow_missing_revocation_check;
    manifest_.reference_values.emulated.push_back(entry);
    auto set = UserClient(user_target_).SetManifest(Request(manifest::SerializeManifest(manifest_)), BaseManifest());
    ASSERT_TRUE(set) << set.error().message;
  }

  void TearDown() override {
    if (process_) process_->Stop();
  }

  // A workload of the pinned emulator whose evidence carries no VCEK.
  static std::shared_ptr<attest::Issuer> Workload() {
    return std::make_shared<WithoutVcekIssuer>(IssuerFor(kWebPolicy, *sp_));
  }
  Result<v1::NewMeshCertResponse> NewMeshCert() {
    auto issuer = Workload();
    return MeshClient(mesh_target_).NewMeshCert(*issuer);
  }

  // A CRL of the workloads' emulated ARK listing `revoked` serials.
  static Bytes ArkCrl(std::vector<Bytes> revoked) {
    const crypto::Certificate ark = Must(crypto::Certificate::ParseDer(sp_->ark_der()));
    const Bytes pem = Must(ReadFile(suite_dir_->path() / "sp" / "ark.key.pem"));
    const crypto::PrivateKey key = Must(crypto::PrivateKey::FromPkcs8Pem(std::string(AsChars(pem))));
    const TimePoint now = Now();
    crypto::CrlBuilder builder;
    builder.SetIssuer(SubjectOf(ark)).SetUpdateTimes(now - std::chrono::hours(1), now + std::chrono::hours(24));
    for (Bytes& serial : revoked) builder.AddRevoked(std::move(serial), now - std::chrono::hours(1));
    return Must(builder.SignDer(key));
  }
  static Bytes VcekSerial() {
    Bytes serial = Must(crypto::Certificate::ParseDer(sp_->vcek_der())).Serial();
    if (serial.empty()) serial = {0x00};  // the emulator numbers its VCEK 0
    return serial;
  }

  static inline TempDir* suite_dir_ = nullptr;
  static inline SecureProcessor* sp_ = nullptr;
  static inline attest::emulated::Daemon* daemon_ = nullptr;

  TempDir dir_;
  HttpServer server_;
  std::string vcek_target_;
  std::string crl_target_;
  std::optional<ChildProcess> process_;
  std::string user_target_;
  std::string mesh_target_;
  manifest::Manifest manifest_;
};

TEST_F(CoordinatorCollateral, FetchesTheVcekOnceThenServesFromCache) {
  server_.Serve(crl_target_, Body(ArkCrl({})));
  StartCoordinator(/*allow_missing_revocation_check=*/false);
  // Where collateral comes from, logged once at startup (no secrets).
  const std::string log = process_->Output();
  EXPECT_THAT(log, HasSubstr("event=collateral kds=https://kdsintf.amd.com pcs=https://api.trustedservices.intel.com"));
  EXPECT_THAT(log, HasSubstr("insecure_emulated_kds=" + server_.BaseUrl()));
  EXPECT_THAT(log, HasSubstr("cache=" + (dir_.path() / "history" / "collateral" / "amd-kds").string()));

  for (int workload = 0; workload < 3; ++workload) {
    auto issued = NewMeshCert();
    ASSERT_TRUE(issued) << "workload " << workload << ": " << issued.error().message;
  }
  EXPECT_EQ(server_.RequestCount(vcek_target_), 1);
  EXPECT_EQ(server_.RequestCount(crl_target_), 1);
  // Kept on disk too (the default cache is under the state directory).
  const auto cache = dir_.path() / "history" / "collateral" / "amd-kds" / "insecure-emulated";
  ASSERT_TRUE(std::filesystem::is_directory(cache));
  EXPECT_FALSE(std::filesystem::is_empty(cache));
}

TEST_F(CoordinatorCollateral, RevokedVcekIsRefused) {
  server_.Serve(crl_target_, Body(ArkCrl({Bytes{0x7f, 0x01}, VcekSerial()})));
  StartCoordinator(/*allow_missing_revocation_check=*/false);
  auto refused = NewMeshCert();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kCertificateRevoked) << refused.error().message;
  EXPECT_THAT(refused.error().message, HasSubstr("VCEK")) << refused.error().message;
  EXPECT_THAT(process_->Output(), HasSubstr("reason=certificate-revoked"));
}

TEST_F(CoordinatorCollateral, CleanCrlIsAcceptedWithRevocationChecked) {
  server_.Serve(crl_target_, Body(ArkCrl({Bytes{0x7f, 0x01}})));
  // Without AllowMissingRevocationCheck: accepted only because the CRL was
  // fetched, verified and checked.
  StartCoordinator(/*allow_missing_revocation_check=*/false);
  auto issued = NewMeshCert();
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(server_.RequestCount(crl_target_), 1);
}

TEST_F(CoordinatorCollateral, WithoutACrlTheManifestDecides) {
  // The CRL path answers 404 (unrouted).
  StartCoordinator(/*allow_missing_revocation_check=*/false);
  auto refused = NewMeshCert();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("REVOCATION")) << refused.error().message;
  EXPECT_THAT(refused.error().message, HasSubstr("AllowMissingRevocationCheck")) << refused.error().message;
  EXPECT_THAT(refused.error().message, HasSubstr("404")) << refused.error().message;
}

TEST_F(CoordinatorCollateral, WithoutACrlAnEntryAllowingItAccepts) {
  StartCoordinator(/*allow_missing_revocation_check=*/true);
  auto issued = NewMeshCert();
  ASSERT_TRUE(issued) << issued.error().message;
}

TEST_F(CoordinatorCollateral, KdsOutageWithAColdCacheFailsWithinTheTimeout) {
  server_.Hang(vcek_target_);
  server_.Hang(crl_target_);
  const seconds timeout(1);
  StartCoordinator(/*allow_missing_revocation_check=*/true, {"--collateral-timeout", "1s"});
  const auto start = std::chrono::steady_clock::now();
  auto refused = NewMeshCert();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(refused);
  EXPECT_LT(took, 3 * timeout + seconds(5));
  EXPECT_THAT(refused.error().message, HasSubstr("has no endorsement key, and the KDS failed"))
      << refused.error().message;
  EXPECT_THAT(refused.error().message, HasSubstr(server_.BaseUrl())) << refused.error().message;
}

TEST_F(CoordinatorCollateral, BadCollateralFlagsAreStartupFailures) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--collateral-timeout", "soon"}, {"--kds-url", "ftp://mirror"}}) {
    auto completed = contrast::testing::RunProcess(
        {CONTRAST_COORDINATOR_BINARY, "--state-dir", (dir_.path() / "history").string(), flags[0], flags[1]},
        dir_.path() / "bad.log", {}, seconds(30));
    EXPECT_NE(completed.code, 0) << completed.output;
    EXPECT_THAT(completed.output, HasSubstr(flags[0])) << completed.output;
  }
}

}  // namespace
}  // namespace contrast::coordinator::testing
