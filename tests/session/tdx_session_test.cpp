// Attested sessions over real gRPC TLS on loopback where the attester's
// evidence is an Intel TDX quote (of the emulated TDX platform, whose root
// the verifier pins in-process): a workload attests to the mesh API, and the
// Coordinator attests to a user-API client. The quote's REPORTDATA is the
// session binding and its MRCONFIGID the policy digest; the verifier's
// HOST_DATA is that digest.
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/tdx_platform.h"
#include "attest/tdx/evidence_verifier.h"
#include "ca/snp_claims.h"
#include "contrast/meshapi.grpc.pb.h"
#include "contrast/userapi.grpc.pb.h"
#include "coordinator/mesh_issuer.h"
#include "seed/engine.h"
#include "session/credentials.h"
#include "session/nonce.h"
#include "session/protocol.h"
#include "support/emulated_tdx_session.h"

namespace contrast::session {
namespace {

using ::testing::HasSubstr;
using v1::SessionFrame;

using testing::AcceptTdx;
using testing::TdxQuoteIssuer;
using MeshService = testing::TdxMeshService;
using TdxSession = testing::TdxSessionFixture;

template <typename T>
T Must(Result<T> result) {
  return testing::ValueOrThrow(std::move(result));
}

template <size_t N>
std::array<uint8_t, N> Filled(uint8_t value) {
  return testing::Repeated<N>(value);
}

const attest::tdx::PolicyDigest kWorkloadPolicy = testing::kTdxWorkloadPolicy;
const attest::tdx::PolicyDigest kCoordinatorPolicy = testing::kTdxCoordinatorPolicy;

const attest::emulated::InsecureEmulatedTdx& Platform() { return testing::EmulatedTdx(); }

std::unique_ptr<attest::tdx::TdxEvidenceVerifier> EmulatedRootVerifier() { return testing::EmulatedTdxVerifier(); }

// The user API as the Coordinator serves it: the server attests first.
class UserService final : public v1::UserAPI::Service {
 public:
  UserService(attest::Issuer& issuer, Bytes spki) : issuer_(issuer), spki_(std::move(spki)) {}
  grpc::Status SetManifest(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<SessionFrame, SessionFrame>* stream) override {
    if (auto attested = AttestSelfOnServer(stream, *context, Role::kCoordinator, issuer_, spki_); !attested) {
      return ToGrpcStatus(attested.error());
    }
    v1::SetManifestRequest request;
    if (auto read = ReadMessage(stream, *context, &request); !read) return ToGrpcStatus(read.error());
    v1::SetManifestResponse response;
    response.set_root_ca("root for " + request.manifest());
    if (auto written = WriteMessage(stream, *context, response); !written) return ToGrpcStatus(written.error());
    return grpc::Status::OK;
  }

 private:
  attest::Issuer& issuer_;
  Bytes spki_;
};

TEST_F(TdxSession, ATdxWorkloadAttestsToTheMeshApi) {
  auto verifier = EmulatedRootVerifier();
  MeshService mesh(*verifier, AcceptTdx(kWorkloadPolicy), nonces_);
  Start({&mesh});
  TdxQuoteIssuer workload(kWorkloadPolicy);
  auto response = NewMeshCert(workload);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->cert_chain(), "tdx " + HexEncode(kWorkloadPolicy) + " " + HexEncode(Filled<48>(0x11)));
  EXPECT_EQ(nonces_.outstanding(), 0u);

  // A TD of a policy the manifest does not hold is refused with the reason.
  TdxQuoteIssuer other(kCoordinatorPolicy);
  auto refused = NewMeshCert(other);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(refused.error().message, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(refused.error().message, HasSubstr("MRCONFIGID"));
}

TEST_F(TdxSession, AQuoteOfAnotherSessionIsRefused) {
  auto verifier = EmulatedRootVerifier();
  MeshService mesh(*verifier, AcceptTdx(kWorkloadPolicy), nonces_);
  Start({&mesh});
  // Bound to a made-up session: a replay of an old quote looks the same.
  class Replay final : public attest::Issuer {
   public:
    std::string_view platform() const override { return attest::kPlatformTdx; }
    Result<attest::Evidence> Issue(const ReportData&) override { return TdxQuoteIssuer(kWorkloadPolicy).Issue({}); }
  } replay;
  auto refused = NewMeshCert(replay);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(refused.error().message, HasSubstr("not bound to this session"));
}

TEST_F(TdxSession, ProgramsVerifierRefusesEmulatedQuotesUnderIntelsRoot) {
  // What the Coordinator runs: Intel's pinned root. The emulated collateral
  // is offered to it directly, so the refusal is about the root, not about
  // fetching.
  auto collateral = Must(Platform().Collateral());
  attest::tdx::TdxEvidenceVerifier intel(
      attest::tdx::IntelSgxRootCa(), std::make_shared<attest::tdx::FixedCollateralSource>(std::move(collateral)), {});
  MeshService mesh(intel, AcceptTdx(kWorkloadPolicy), nonces_);
  Start({&mesh});
  TdxQuoteIssuer workload(kWorkloadPolicy);
  auto refused = NewMeshCert(workload);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUntrustedRoot) << refused.error().message;
}

TEST_F(TdxSession, AUserAttestsATdxCoordinator) {
  TdxQuoteIssuer coordinator(kCoordinatorPolicy);
  UserService user(coordinator, server_identity_.spki_der());
  Start({&user});
  auto verifier = EmulatedRootVerifier();
  auto identity = Must(SessionIdentity::Generate());
  auto stub = v1::UserAPI::NewStub(Must(CreateSessionChannel(target(), identity)));
  ClientSession call([&](grpc::ClientContext* c) { return stub->SetManifest(c); });
  auto attested = call.AttestPeer(Role::kCoordinator, *verifier, AcceptTdx(kCoordinatorPolicy), nonces_);
  ASSERT_TRUE(attested) << attested.error().message;
  EXPECT_EQ(attested->platform(), attest::kPlatformTdx);
  EXPECT_EQ(attested->host_data(), kCoordinatorPolicy);
  v1::SetManifestRequest request;
  request.set_manifest("m");
  ASSERT_TRUE(call.Send(request));
  v1::SetManifestResponse response;
  ASSERT_TRUE(call.Receive(&response));
  ASSERT_TRUE(call.Finish());
  EXPECT_EQ(response.root_ca(), "root for m");

  // The same Coordinator under a workload's reference values is refused.
  ClientSession second([&](grpc::ClientContext* c) { return stub->SetManifest(c); });
  auto refused = second.AttestPeer(Role::kCoordinator, *verifier, AcceptTdx(kWorkloadPolicy), nonces_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyViolation);
}

// The Coordinator issues a TDX workload its mesh certificate: the SANs and
// workload secret of its policy entry, and none of the SEV-SNP claim
// extensions (TDX has none defined).
TEST(TdxMeshCertificate, IssuedForVerifiedTdxEvidence) {
  auto verifier = EmulatedRootVerifier();
  TdxQuoteIssuer workload(kWorkloadPolicy);
  const ReportData binding = Filled<64>(0xB1);
  auto evidence = Must(workload.Issue(binding));
  auto verified = verifier->Verify(evidence, binding, AcceptTdx(kWorkloadPolicy));
  ASSERT_TRUE(verified) << verified.error().message;

  coordinator::State state{
      {}, {}, {}, Must(ca::CertificateAuthority::Generate()), {}, 1, Must(seed::SeedEngine::Generate())};
  state.manifest.policies[manifest::PolicyHash{kWorkloadPolicy}] =
      manifest::PolicyEntry{{"web", "spiffe://acme.com/web"}, "apps/web", manifest::Role::kNone};
  auto key = Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384));
  auto bundle = coordinator::IssueMeshCertificate(state, *verified, Must(key.PublicKeyDer()));
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->workload_secret, Must(state.seed->WorkloadSecret("apps/web")));
  auto leaf = Must(crypto::Certificate::ParsePem(bundle->cert_chain_pem));
  bool secret_id = false;
  for (const crypto::Extension& extension : leaf.Extensions()) {
    EXPECT_NE(extension.oid.rfind(std::string(ca::kSnpClaimsArc), 0), 0u) << "SNP claim " << extension.oid;
    secret_id = secret_id || extension.oid == ca::kWorkloadSecretIdOid;
  }
  EXPECT_TRUE(secret_id) << "no WorkloadSecretID extension";
  EXPECT_THAT(bundle->cert_chain_pem, HasSubstr("BEGIN CERTIFICATE"));

  // Another policy: refused (the verifier refuses such evidence first).
  coordinator::State other = state;
  other.manifest.policies.clear();
  EXPECT_FALSE(coordinator::IssueMeshCertificate(other, *verified, Must(key.PublicKeyDer())));
}

}  // namespace
}  // namespace contrast::session
