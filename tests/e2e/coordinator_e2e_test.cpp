// End-to-end: the emulated secure processor daemon, a Coordinator in an
// emulated VM, `contrast set` / `contrast verify`, and Initializers in
// emulated workload VMs, all as real processes talking over loopback and
// Unix sockets.
#include "e2e/coordinator_fixture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/evidence_verifier.h"
#include "attestation_policy/reference_values.h"
#include "manifest/manifest.h"

namespace contrast {
namespace {

using namespace contrast::e2e;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(CoordinatorE2e, DeploymentComesUpAttestsAndIsAuditable) {
  StartCoordinator();
  EXPECT_EQ(Probe("/probe/readiness"), 503);  // no manifest yet
  const std::string manifest = WriteManifest("manifest.json", Manifest(kMeasurement));
  const Completed set = Set(manifest);
  ASSERT_EQ(set.code, 0) << set.output << coordinator_->Output();
  EXPECT_THAT(set.output, HasSubstr("attested"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "coordinator-root-ca.pem"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "mesh-ca.pem"));
  EXPECT_EQ(Probe("/probe/readiness"), 200);

  for (const char* name : {"web", "client"}) {
    const Completed init = Initialize(name, dir_ / name);
    ASSERT_EQ(init.code, 0) << init.output;
    const auto tls = dir_ / name / "tls-config";
    for (const char* file : {"mesh-ca.pem", "certChain.pem", "key.pem", "coordinator-root-ca.pem"}) {
      EXPECT_TRUE(std::filesystem::exists(tls / file)) << name << "/" << file;
    }
    EXPECT_EQ(std::filesystem::status(tls / "key.pem").permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read);
    // leaf -> mesh CA, with the real openssl.
    const Completed verified = RunProcess(
        {"/usr/bin/openssl", "verify", "-CAfile", (tls / "mesh-ca.pem").string(), (tls / "certChain.pem").string()},
        dir_ / "openssl.log");
    EXPECT_EQ(verified.code, 0) << verified.output;
  }
  EXPECT_EQ(Read(dir_ / "web/tls-config/mesh-ca.pem"), Read(dir_ / "mesh-ca.pem"));

  // mTLS between the two workloads with their mesh certificates.
  const uint16_t web_port = testing::FreeLoopbackPort();
  ChildProcess web(
      {"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(web_port), "-cert",
       (dir_ / "web/tls-config/certChain.pem").string(), "-key", (dir_ / "web/tls-config/key.pem").string(), "-CAfile",
       (dir_ / "web/tls-config/mesh-ca.pem").string(), "-Verify", "1", "-verify_return_error", "-www"},
      dir_ / "web.log");
  const std::vector<std::string> curl_client = {"/usr/bin/curl",
                                                "-sS",
                                                "--fail",
                                                "--retry",
                                                "20",
                                                "--retry-connrefused",
                                                "--retry-delay",
                                                "0",
                                                "--cert",
                                                (dir_ / "client/tls-config/certChain.pem").string(),
                                                "--key",
                                                (dir_ / "client/tls-config/key.pem").string()};
  std::vector<std::string> mtls = curl_client;
  mtls.insert(mtls.end(), {"--cacert", (dir_ / "client/tls-config/mesh-ca.pem").string(),
                           "https://127.0.0.1:" + std::to_string(web_port) + "/"});
  const Completed talk = RunProcess(mtls, dir_ / "curl.log");
  EXPECT_EQ(talk.code, 0) << talk.output << web.Output();
  // A client without a mesh certificate is refused by the workload.
  const Completed anonymous =
      RunProcess({"/usr/bin/curl", "-sS", "--fail", "--cacert", (dir_ / "client/tls-config/mesh-ca.pem").string(),
                  "https://127.0.0.1:" + std::to_string(web_port) + "/"},
                 dir_ / "curl-anon.log");
  EXPECT_NE(anonymous.code, 0);

  // contrast verify writes what an auditor needs, and one request trusting only it works.
  const Completed verify = Contrast({"verify", "-c", User(), "-m", manifest, "--workspace-dir", dir_.string()});
  ASSERT_EQ(verify.code, 0) << verify.output;
  EXPECT_EQ(Read(dir_ / "verify/manifest.0.json"), Read(manifest));
  EXPECT_EQ(Read(dir_ / "verify/mesh-ca.pem"), Read(dir_ / "mesh-ca.pem"));
  EXPECT_EQ(Read(dir_ / "verify/mesh-root.pem"), Read(dir_ / "coordinator-root-ca.pem"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "verify/policies" / hashes_["web"]));
  std::vector<std::string> audited = curl_client;
  audited.insert(audited.end(), {"--cacert", (dir_ / "verify/mesh-ca.pem").string(),
                                 "https://127.0.0.1:" + std::to_string(web_port) + "/"});
  EXPECT_EQ(RunProcess(audited, dir_ / "curl-verify.log").code, 0);
  // The intermediate chains to the root.
  EXPECT_THAT(Metrics(), HasSubstr("contrast_mesh_certificates_issued_total 2"));
}

TEST_F(CoordinatorE2e, WorkloadWithUnknownPolicyIsDenied) {
  StartCoordinator();
  ASSERT_EQ(Set(WriteManifest("manifest.json", Manifest(kMeasurement))).code, 0);
  const Completed rogue = Initialize("rogue", dir_ / "rogue", "15");
  EXPECT_NE(rogue.code, 0) << rogue.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "rogue/tls-config/certChain.pem"));
  EXPECT_THAT(rogue.output, HasSubstr("HOST_DATA"));
  EXPECT_THAT(Metrics(), HasSubstr("contrast_attestation_failures_total{reason="));
  EXPECT_THAT(coordinator_->Output(), HasSubstr("HOST_DATA"));
}

TEST_F(CoordinatorE2e, SetStopsWhenTheCoordinatorDoesNotMatchTheManifest) {
  StartCoordinator();
  const Completed set = Set(WriteManifest("manifest.json", Manifest(std::string(96, 'b'))));
  EXPECT_EQ(set.code, 1) << set.output;
  EXPECT_THAT(set.output, HasSubstr("MEASUREMENT"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "mesh-ca.pem"));
  EXPECT_EQ(Probe("/probe/readiness"), 503);  // nothing was set
}

TEST_F(CoordinatorE2e, MalformedManifestsAreRejectedBeforeAnyTraffic) {
  StartCoordinator();
  const std::string bad =
      WriteManifest("bad.json", "{\"Policies\": {\"zz\": {\"SANs\": [\"x\"]}}, \"ReferenceValues\": {\"sev\": []}}");
  const Completed set = Set(bad);
  EXPECT_EQ(set.code, 2) << set.output;
  EXPECT_THAT(set.output, HasSubstr("Policies.zz"));
  EXPECT_THAT(set.output, HasSubstr("ReferenceValues.sev"));
  EXPECT_THAT(set.output, HasSubstr("coordinator"));
  // Not one session reached the Coordinator.
  EXPECT_THAT(Metrics(), HasSubstr("contrast_sessions_started_total 0\n"));
}

TEST_F(CoordinatorE2e, OwnerSignedUpdatesGrowTheHistory) {
  StartCoordinator();
  const std::string first = WriteManifest("manifest.json", Manifest(kMeasurement));
  ASSERT_EQ(Set(first).code, 0);
  const std::string mesh_ca_1 = Read(dir_ / "mesh-ca.pem");

  // Signed by another key: rejected.
  auto stranger = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  ASSERT_TRUE(WriteFileAtomic(dir_ / "stranger.pem", *stranger->ToPkcs8Pem(), 0600));
  const std::string second = WriteManifest("manifest2.json", Manifest(kMeasurement, {"web"}));
  const Completed rejected = Set(second, {"--workload-owner-key", (dir_ / "stranger.pem").string()});
  EXPECT_EQ(rejected.code, 1) << rejected.output;

  // Signed by the listed owner key (workload-owner.pem in the workspace): accepted, new mesh CA.
  const Completed accepted = Set(second);
  ASSERT_EQ(accepted.code, 0) << accepted.output << coordinator_->Output();
  EXPECT_NE(Read(dir_ / "mesh-ca.pem"), mesh_ca_1);
  const std::string third = WriteManifest("manifest3.json", Manifest(kMeasurement, {"client"}));
  ASSERT_EQ(Set(third).code, 0);

  const Completed verify = Contrast({"verify", "-c", User(), "-m", third, "--workspace-dir", dir_.string()});
  ASSERT_EQ(verify.code, 0) << verify.output;
  EXPECT_EQ(Read(dir_ / "verify/manifest.0.json"), Read(first));
  EXPECT_EQ(Read(dir_ / "verify/manifest.1.json"), Read(second));
  EXPECT_EQ(Read(dir_ / "verify/manifest.2.json"), Read(third));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "verify/manifest.3.json"));
  // verify against an outdated local manifest fails.
  EXPECT_EQ(Contrast({"verify", "-c", User(), "-m", first, "--workspace-dir", dir_.string()}).code, 1);
}

TEST_F(CoordinatorE2e, RestartedCoordinatorKeepsHistoryAndIsNotReady) {
  StartCoordinator();
  ASSERT_EQ(Set(WriteManifest("manifest.json", Manifest(kMeasurement))).code, 0);
  EXPECT_EQ(coordinator_->Stop(), 0) << coordinator_->Output();
  StartCoordinator();
  EXPECT_EQ(Probe("/probe/readiness"), 503);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "coordinator-state/transitions/latest"));
  const Completed set = Set(WriteManifest("manifest2.json", Manifest(kMeasurement, {"web"})));
  EXPECT_NE(set.code, 0);
  EXPECT_THAT(set.output, HasSubstr("recovery"));
}

TEST_F(CoordinatorE2e, ManyInitializersAtOnce) {
  StartCoordinator();
  ASSERT_EQ(Set(WriteManifest("manifest.json", Manifest(kMeasurement))).code, 0);
  // Warm up once, then count the Coordinator's descriptors and threads.
  ASSERT_EQ(Initialize("web", dir_ / "warmup").code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const pid_t pid = coordinator_->pid();
  // The Coordinator runs as the child of `contrast emulate run`.
  pid_t coordinator_pid = pid;
  {
    std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    children >> coordinator_pid;
  }
  const size_t fds_before = testing::OpenFileDescriptors(coordinator_pid);
  const size_t threads_before = testing::Threads(coordinator_pid);

  constexpr int kInitializers = kSanitized ? 50 : 200;
  std::vector<std::unique_ptr<ChildProcess>> initializers;
  for (int i = 0; i < kInitializers; ++i) {
    initializers.push_back(std::make_unique<ChildProcess>(
        InitializerArgs(i % 2 == 0 ? "web" : "client", dir_ / "many" / std::to_string(i), "120"),
        dir_ / ("many-" + std::to_string(i) + ".log")));
  }
  int succeeded = 0;
  size_t retried = 0;  // attempts that failed and were tried again
  for (auto& init : initializers) {
    const auto code = init->Wait(std::chrono::minutes(3));
    if (code == 0) {
      ++succeeded;
    } else {
      ADD_FAILURE() << "initializer failed:\n" << init->Output();
    }
    const std::string log = init->Output();
    for (size_t at = log.find("; retrying in"); at != std::string::npos; at = log.find("; retrying in", at + 1)) {
      ++retried;
    }
  }
  EXPECT_EQ(succeeded, kInitializers);
  for (int i = 0; i < kInitializers; ++i) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / "many" / std::to_string(i) / "tls-config/certChain.pem")) << i;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_LE(testing::OpenFileDescriptors(coordinator_pid), fds_before + 4);
  EXPECT_LE(testing::Threads(coordinator_pid), threads_before + 8);
  // One certificate per Initializer and the warm-up; an attempt that timed
  // out on a busy machine after the Coordinator had issued its certificate
  // was retried and got another one.
  const std::string metrics = Metrics();
  constexpr std::string_view kIssued = "contrast_mesh_certificates_issued_total ";
  const size_t at = metrics.find(std::string("\n") + std::string(kIssued));
  ASSERT_NE(at, std::string::npos) << metrics;
  const size_t issued = std::stoul(metrics.substr(at + 1 + kIssued.size()));
  EXPECT_GE(issued, static_cast<size_t>(kInitializers + 1)) << metrics;
  EXPECT_LE(issued, static_cast<size_t>(kInitializers + 1) + retried) << metrics;
}

// Evidence that arrived once, handed out again for any REPORT_DATA.
class ReplayingIssuer final : public attest::Issuer {
 public:
  explicit ReplayingIssuer(attest::Issuer& inner) : inner_(inner) {}
  std::string_view platform() const override { return inner_.platform(); }
  Result<attest::Evidence> Issue(const attest::ReportData& report_data) override {
    if (!recorded_) {
      auto evidence = inner_.Issue(report_data);
      if (!evidence) return evidence;
      recorded_ = *evidence;
    }
    return *recorded_;
  }

 private:
  attest::Issuer& inner_;
  std::optional<attest::Evidence> recorded_;
};

// A workload VM driven from this test process, talking to the real
// Coordinator process: what an attacker inside the cluster could do.
TEST_F(CoordinatorE2e, ReplayedOrForeignBoundEvidenceIsRejected) {
  StartCoordinator();
  ASSERT_EQ(Set(WriteManifest("manifest.json", Manifest(kMeasurement))).code, 0);
  const std::unique_ptr<attest::Issuer> honest_issuer = WorkloadVmIssuer("web");
  ASSERT_NE(honest_issuer, nullptr);
  attest::Issuer& honest = *honest_issuer;
  const std::string target = "127.0.0.1:" + std::to_string(mesh_port_);
  // As an Initializer does, the client checks the Coordinator too.
  auto trusted = manifest::ParseManifest(Manifest(kMeasurement));
  ASSERT_TRUE(trusted) << trusted.error().message;
  const attest::AcceptableReferenceValues coordinator_values = attestation_policy::CoordinatorReferenceValues(*trusted);
  const attest::EvidenceVerifier verifier;
  session::NonceTracker nonces;

  // spki: the key the evidence is bound to; nullopt = this connection's own.
  auto request_certificate = [&](attest::Issuer& issuer, std::optional<Bytes> spki) -> Status {
    auto identity = session::SessionIdentity::Generate();
    if (!identity) return Fail(identity.error());
    auto channel = session::CreateSessionChannel(target, *identity);
    if (!channel) return Fail(channel.error());
    v1::MeshAPI::Stub stub(*channel);
    session::ClientSession call([&](grpc::ClientContext* c) { return stub.NewMeshCert(c); });
    v1::NewMeshCertResponse response;
    if (auto s = call.Send(v1::NewMeshCertRequest{}); !s) return s;
    if (auto s = call.AttestSelf(session::Role::kWorkload, issuer, spki.value_or(identity->spki_der())); !s) return s;
    if (auto c = call.AttestPeer(session::Role::kCoordinator, verifier, coordinator_values, nonces); !c) {
      return Fail(c.error());
    }
    if (auto s = call.Receive(&response); !s) return s;
    return call.Finish();
  };

  // The honest workload gets its certificate.
  ReplayingIssuer replaying(honest);
  ASSERT_TRUE(request_certificate(replaying, std::nullopt));
  // The same evidence again, in a new session with a new nonce: rejected.
  const Status replayed = request_certificate(replaying, std::nullopt);
  ASSERT_FALSE(replayed);
  EXPECT_THAT(replayed.error().message, HasSubstr("REPORT_DATA"));
  // Fresh evidence, but bound to another TLS key than this connection's: rejected.
  auto other = session::SessionIdentity::Generate();
  ASSERT_TRUE(other);
  const Status foreign = request_certificate(honest, other->spki_der());
  ASSERT_FALSE(foreign);
  EXPECT_THAT(foreign.error().message, HasSubstr("REPORT_DATA"));
  EXPECT_THAT(Metrics(), HasSubstr("contrast_mesh_certificates_issued_total 1"));
  EXPECT_THAT(Metrics(), HasSubstr("contrast_attestation_failures_total{reason="));
}

}  // namespace
}  // namespace contrast
