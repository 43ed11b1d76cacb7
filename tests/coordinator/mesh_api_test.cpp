// MeshAPI over real gRPC on loopback: certificate issuance, refusals of
// evidence that must not pass, hostile frames, and many sessions at once.
#include <openssl/x509v3.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ca/ca.h"
#include "ca/snp_claims.h"
#include "crypto/x509.h"
#include "harness.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// The SANs of `certificate` as "DNS:web", "IP:203.0.113.34", "URI:...".
std::vector<std::string> SansOf(const crypto::Certificate& certificate) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS || name->type == GEN_URI) {
      const ASN1_IA5STRING* s = name->type == GEN_DNS ? name->d.dNSName : name->d.uniformResourceIdentifier;
      out.push_back((name->type == GEN_DNS ? "DNS:" : "URI:") +
                    std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (name->type == GEN_IPADD && ASN1_STRING_length(name->d.iPAddress) == 4) {
      const unsigned char* ip = ASN1_STRING_get0_data(name->d.iPAddress);
      out.push_back("IP:" + std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
                    std::to_string(ip[3]));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

// DER OCTET STRING of `content` (short form; enough for these claims).
Bytes OctetString(ByteView content) {
  Bytes out(content.size() + 2);
  out[0] = 0x04;
  out[1] = static_cast<uint8_t>(content.size());
  std::copy(content.begin(), content.end(), out.begin() + 2);
  return out;
}

class MeshApi : public CoordinatorTest {
 protected:
  void SetUp() override {
    CoordinatorTest::SetUp();
    first_ = SetFirstManifest();
  }

  uint64_t FailuresFor(const std::string& reason) const {
    const std::string metrics = coordinator_->RenderMetrics();
    const std::string key = "contrast_attestation_failures_total{reason=\"" + reason + "\"} ";
    const size_t at = metrics.find(key);
    if (at == std::string::npos) return 0;
    return std::stoull(metrics.substr(at + key.size()));
  }

  v1::SetManifestResponse first_;
};

TEST_F(MeshApi, WorkloadReceivesACertificateForItsKeyWithTheManifestSans) {
  MeshClient client(MeshTarget());
  auto response = client.NewMeshCert(*IssuerFor(kWebPolicy));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->mesh_ca(), first_.mesh_ca());
  EXPECT_EQ(response->root_ca(), first_.root_ca());

  const auto chain = Must(crypto::Certificate::ParsePemChain(response->cert_chain()));
  ASSERT_THAT(chain, SizeIs(2));
  const auto root = Must(crypto::Certificate::ParsePem(response->root_ca()));
  const auto mesh_ca = Must(crypto::Certificate::ParsePem(response->mesh_ca()));
  const crypto::Certificate& leaf = chain[0];
  EXPECT_TRUE(crypto::VerifyChain(leaf, std::vector{chain[1]}, std::vector{root}, Now()));
  EXPECT_TRUE(crypto::VerifyChain(leaf, {}, std::vector{mesh_ca}, Now()));
  EXPECT_EQ(Must(session::SpkiDerFromCertificatePem(response->cert_chain())), client.identity().spki_der());
  EXPECT_THAT(SansOf(leaf), ElementsAre("DNS:web", "DNS:*", "IP:203.0.113.34", "URI:spiffe://acme.com/web"));

  const auto host_data = Must(leaf.ExtensionValue(ca::SnpClaimOid(ca::SnpClaim::kHostData)));
  ASSERT_TRUE(host_data.has_value());
  EXPECT_EQ(*host_data, OctetString(HashOf(kWebPolicy).bytes));
  const auto secret_id = Must(leaf.ExtensionValue(ca::kWorkloadSecretIdOid));
  ASSERT_TRUE(secret_id.has_value());
  EXPECT_EQ(*secret_id, OctetString(AsBytes("apps/v1/Deployment/default/web")));

  // db has no WorkloadSecretID: no extension.
  auto db = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kDbPolicy));
  ASSERT_TRUE(db) << db.error().message;
  const auto db_leaf = Must(crypto::Certificate::ParsePem(db->cert_chain()));
  EXPECT_THAT(SansOf(db_leaf), ElementsAre("DNS:db"));
  EXPECT_FALSE(Must(db_leaf.ExtensionValue(ca::kWorkloadSecretIdOid)).has_value());
}

TEST_F(MeshApi, AfterAnUpdateCertificatesChainToTheNewMeshCa) {
  manifest::Manifest next = BaseManifest();
  next.policies[HashOf(kWebPolicy)].sans = {"web2"};
  auto update = Must(UserClient(UserTarget())
                         .SetManifest(Signed(Request(manifest::SerializeManifest(next)), Owner(),
                                             HashFromBytes(first_.transition_hash()), first_.root_ca()),
                                      next));
  auto response = Must(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)));
  EXPECT_EQ(response.mesh_ca(), update.mesh_ca());
  const auto leaf = Must(crypto::Certificate::ParsePem(response.cert_chain()));
  EXPECT_THAT(SansOf(leaf), ElementsAre("DNS:web2"));
  const auto old_mesh_ca = Must(crypto::Certificate::ParsePem(first_.mesh_ca()));
  EXPECT_FALSE(crypto::VerifyChain(leaf, {}, std::vector{old_mesh_ca}, Now()));
  const auto root = Must(crypto::Certificate::ParsePem(first_.root_ca()));
  EXPECT_TRUE(crypto::VerifyChain(leaf, Must(crypto::Certificate::ParsePemChain(response.cert_chain())),
                                  std::vector{root}, Now()));
}

// An issuer that lets `during` run while the workload is attesting: after
// the Coordinator took its state and sent the challenge, before the evidence
// arrives.
class IssuerWithPause final : public attest::Issuer {
 public:
  IssuerWithPause(attest::Issuer& inner, std::function<void()> during) : inner_(inner), during_(std::move(during)) {}
  std::string_view platform() const override { return inner_.platform(); }
  Result<attest::Evidence> Issue(const attest::ReportData& report_data) override {
    if (during_) std::exchange(during_, nullptr)();
    return inner_.Issue(report_data);
  }

 private:
  attest::Issuer& inner_;
  std::function<void()> during_;
};

// A manifest update lands while a workload attests. The workload was removed
// by the update: it gets no certificate, neither under the old manifest it
// attested against nor under the new one.
TEST_F(MeshApi, UpdateDuringAttestationIsNotBypassed) {
  manifest::Manifest next = BaseManifest();
  next.policies.erase(HashOf(kWebPolicy));
  auto web = IssuerFor(kWebPolicy);
  std::optional<Result<v1::SetManifestResponse>> update;
  IssuerWithPause pausing(*web, [&] {
    update = UserClient(UserTarget())
                 .SetManifest(Signed(Request(manifest::SerializeManifest(next)), Owner(),
                                     HashFromBytes(first_.transition_hash()), first_.root_ca()),
                              next);
  });
  auto raced = MeshClient(MeshTarget()).NewMeshCert(pausing);
  ASSERT_TRUE(update.has_value() && *update) << (update ? update->error().message : "no update");
  EXPECT_THAT(raced, RefusedWith("FAILED_PRECONDITION"));
  EXPECT_THAT(raced.error().message, HasSubstr("changed while this workload attested"));
  // Attesting again, now against the new manifest: refused for good.
  EXPECT_THAT(MeshClient(MeshTarget()).NewMeshCert(*web), RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(coordinator_->RenderMetrics(), HasSubstr("contrast_mesh_certificates_issued_total 0\n"));
}

TEST_F(MeshApi, WorkloadWithAnUnlistedPolicyIsDenied) {
  auto response = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kUnlistedPolicy));
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr(HashOf(kUnlistedPolicy).Hex()));
  EXPECT_EQ(FailuresFor(std::string(ErrorCodeName(response.error().code))), 1u) << coordinator_->RenderMetrics();
}

TEST_F(MeshApi, EvidenceReplayedFromAnEarlierSessionIsRejected) {
  auto issuer = IssuerFor(kWebPolicy);
  MeshClient client(MeshTarget());
  // The evidence of one session, kept by an eavesdropper or a compromised peer.
  class Recording final : public attest::Issuer {
   public:
    explicit Recording(attest::Issuer& inner) : inner_(inner) {}
    std::string_view platform() const override { return inner_.platform(); }
    Result<attest::Evidence> Issue(const attest::ReportData& report_data) override {
      auto evidence = inner_.Issue(report_data);
      if (evidence) last = *evidence;
      return evidence;
    }
    std::optional<attest::Evidence> last;

   private:
    attest::Issuer& inner_;
  } recording(*issuer);
  ASSERT_TRUE(client.NewMeshCert(recording));
  ASSERT_TRUE(recording.last.has_value());

  class Replay final : public attest::Issuer {
   public:
    explicit Replay(attest::Evidence evidence) : evidence_(std::move(evidence)) {}
    std::string_view platform() const override { return evidence_.platform; }
    Result<attest::Evidence> Issue(const attest::ReportData& /*report_data*/) override { return evidence_; }

   private:
    attest::Evidence evidence_;
  } replay(*recording.last);
  // Same client key, even: the fresh nonce makes the old evidence useless.
  auto replayed = client.NewMeshCert(replay);
  EXPECT_THAT(replayed, RefusedWith("PERMISSION_DENIED"));
  auto from_elsewhere = MeshClient(MeshTarget()).NewMeshCert(replay);
  EXPECT_THAT(from_elsewhere, RefusedWith("PERMISSION_DENIED"));
  EXPECT_EQ(FailuresFor(std::string(ErrorCodeName(replayed.error().code))), 2u);
}

TEST_F(MeshApi, EvidenceBoundToAnotherTlsKeyIsRejected) {
  const auto other = Must(session::SessionIdentity::Generate());
  auto response = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy), other.spki_der());
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_THAT(response.error().message, HasSubstr("REPORT_DATA"));
}

TEST_F(MeshApi, EvidenceOfAnUnpinnedEmulatorIsRejected) {
  auto response = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy, OtherEmulator()));
  EXPECT_THAT(response, RefusedWith("PERMISSION_DENIED"));
  EXPECT_GE(FailuresFor("untrusted-root"), 1u) << coordinator_->RenderMetrics();
}

TEST_F(MeshApi, ManySessionsAtOnceAllSucceed) {
  constexpr int kSessions = 200;
  auto issuer = IssuerFor(kWebPolicy);
  const auto mesh_ca = Must(crypto::Certificate::ParsePem(first_.mesh_ca()));
  std::atomic<int> ok{0};
  std::vector<std::string> errors(kSessions);
  std::vector<std::thread> threads;
  threads.reserve(kSessions);
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      MeshClient client(MeshTarget());
      auto response = client.NewMeshCert(*issuer);
      // All from one address: beyond the per-peer limit a call is refused at
      // its start and retried, as the Initializer does.
      for (int retry = 0; retry < 500 && !response && response.error().code == ErrorCode::kResourceExhausted; ++retry) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        response = client.NewMeshCert(*issuer);
      }
      if (!response) {
        errors[static_cast<size_t>(i)] = response.error().message;
        return;
      }
      auto leaf = crypto::Certificate::ParsePem(response->cert_chain());
      if (leaf && crypto::VerifyChain(*leaf, {}, std::vector{mesh_ca}, Now())) ok++;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  EXPECT_EQ(ok.load(), kSessions);
  EXPECT_THAT(coordinator_->RenderMetrics(), HasSubstr("contrast_mesh_certificates_issued_total 200\n"));
}

// ---- Hostile frames -------------------------------------------------------

class HostileFrames : public MeshApi {
 protected:
  struct RawCall {
    std::unique_ptr<v1::MeshAPI::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<session::ClientStream> stream;
  };
  // A bare stream on which the test writes whatever it likes. Our own send
  // limit is lifted so that oversized frames reach the server.
  std::unique_ptr<RawCall> Raw() {
    auto identity = Must(session::SessionIdentity::Generate());
    grpc::ChannelArguments args = session::SessionChannelArguments();
    args.SetMaxSendMessageSize(-1);
    auto channel = grpc::CreateCustomChannel(MeshTarget(), Must(session::SessionChannelCredentials(identity)), args);
    auto call = std::make_unique<RawCall>();
    call->stub = v1::MeshAPI::NewStub(channel);
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->stream = call->stub->NewMeshCert(&call->context);
    return call;
  }

  // Writes `frames`, half-closes and returns the final status.
  grpc::Status Send(const std::vector<v1::SessionFrame>& frames) {
    auto call = Raw();
    for (const v1::SessionFrame& frame : frames) {
      if (!call->stream->Write(frame)) break;
    }
    call->stream->WritesDone();
    v1::SessionFrame ignored;
    while (call->stream->Read(&ignored)) {
    }
    return call->stream->Finish();
  }

  static v1::SessionFrame Message(const std::string& bytes) {
    v1::SessionFrame frame;
    frame.set_message(bytes);
    return frame;
  }

  void ExpectStillServing() {
    auto response = MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy));
    EXPECT_TRUE(response) << response.error().message;
  }
};

TEST_F(HostileFrames, EmptyFrameIsRejected) {
  EXPECT_EQ(Send({v1::SessionFrame{}}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing();
}

TEST_F(HostileFrames, FrameOfTheWrongKindIsRejected) {
  v1::SessionFrame evidence;
  evidence.mutable_evidence()->set_platform("emulated-snp");
  EXPECT_EQ(Send({evidence}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::SessionFrame challenge;
  challenge.mutable_challenge()->set_nonce(std::string(32, 'n'));
  EXPECT_EQ(Send({challenge}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing();
}

TEST_F(HostileFrames, GarbageRequestIsRejected) {
  EXPECT_EQ(Send({Message("\xff\xff\xff\xff\x0f")}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing();
}

TEST_F(HostileFrames, GarbageEvidenceIsRejected) {
  v1::SessionFrame evidence;
  evidence.mutable_evidence()->set_platform("emulated-snp");
  evidence.mutable_evidence()->set_report(std::string(100, '\x01'));
  evidence.mutable_evidence()->set_endorsement_key("not a certificate");
  evidence.mutable_evidence()->set_cert_chain("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
  // The request, then evidence without having read the challenge.
  const grpc::Status status = Send({Message(""), evidence});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_code(), grpc::StatusCode::INTERNAL) << status.error_message();
  v1::SessionFrame unknown_platform = evidence;
  unknown_platform.mutable_evidence()->set_platform("sev-es");
  EXPECT_FALSE(Send({Message(""), unknown_platform}).ok());
  ExpectStillServing();
}

TEST_F(HostileFrames, OversizedFrameIsRejected) {
  const grpc::Status status = Send({Message(std::string(session::kMaxFrameSize + 1024, 'x'))});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  ExpectStillServing();
}

TEST_F(HostileFrames, ClientThatLeavesMidSessionIsHarmless) {
  for (int i = 0; i < 5; ++i) {
    auto call = Raw();
    ASSERT_TRUE(call->stream->Write(Message("")));
    v1::SessionFrame challenge;
    ASSERT_TRUE(call->stream->Read(&challenge));
    EXPECT_TRUE(challenge.has_challenge());
    call->context.TryCancel();
    call->stream->Finish();
  }
  ExpectStillServing();
}

TEST_F(HostileFrames, GarbageOnTheUserApiIsRejected) {
  UserClient user(UserTarget());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = user.stub().SetManifest(&context);
  ASSERT_TRUE(stream->Write(Message("no challenge")));
  stream->WritesDone();
  v1::SessionFrame ignored;
  while (stream->Read(&ignored)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A valid challenge, then garbage instead of a SetManifestRequest.
  grpc::ClientContext context2;
  context2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream2 = user.stub().SetManifest(&context2);
  v1::SessionFrame challenge;
  challenge.mutable_challenge()->set_nonce(std::string(32, '\x07'));
  ASSERT_TRUE(stream2->Write(challenge));
  v1::SessionFrame evidence;
  ASSERT_TRUE(stream2->Read(&evidence));
  EXPECT_TRUE(evidence.has_evidence());
  ASSERT_TRUE(stream2->Write(Message("\xff\xff\xff\xff\x0f")));
  stream2->WritesDone();
  while (stream2->Read(&ignored)) {
  }
  EXPECT_EQ(stream2->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing();
}

// The Coordinator attests itself on the mesh API only to a workload that
// proved itself first: a refused caller gets no evidence, however it asks.
TEST_F(HostileFrames, AWorkloadThatFailsAttestationGetsNoCoordinatorEvidence) {
  auto call = Raw();
  ASSERT_TRUE(call->stream->Write(Message(v1::NewMeshCertRequest{}.SerializeAsString())));
  v1::SessionFrame challenge;
  ASSERT_TRUE(call->stream->Read(&challenge));
  ASSERT_TRUE(challenge.has_challenge());
  // Authentic evidence, but of a policy no manifest lists.
  auto evidence = Must(IssuerFor(kUnlistedPolicy)->Issue(session::ReportData{}));
  v1::SessionFrame answer;
  session::EvidenceToProto(evidence, answer.mutable_evidence());
  ASSERT_TRUE(call->stream->Write(answer));
  v1::SessionFrame our_challenge;
  our_challenge.mutable_challenge()->set_nonce(std::string(32, '\x07'));
  (void)call->stream->Write(our_challenge);
  call->stream->WritesDone();
  int evidence_frames = 0;
  v1::SessionFrame frame;
  while (call->stream->Read(&frame)) evidence_frames += frame.has_evidence() ? 1 : 0;
  EXPECT_EQ(call->stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(evidence_frames, 0);
  ExpectStillServing();
}

}  // namespace
}  // namespace contrast::coordinator::testing
