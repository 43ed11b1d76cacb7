// The gRPC services of the Coordinator: thin adapters between the session
// protocol / protobuf messages and the library calls (ManifestUpdater,
// IssueMeshCertificate). Every refusal is logged and returned as a status
// whose message says why.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/server_context.h>

#include "attest/evidence.h"
#include "attest/verifier.h"
#include "common/bytes.h"
#include "contrast/meshapi.grpc.pb.h"
#include "contrast/userapi.grpc.pb.h"
#include "coordinator/manifest_updater.h"
#include "coordinator/metrics.h"
#include "coordinator/state.h"
#include "session/admission.h"
#include "session/nonce.h"
#include "session/protocol.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace contrast::coordinator {

using SessionStream = grpc::ServerReaderWriter<v1::SessionFrame, v1::SessionFrame>;

// Port 1313. The Coordinator attests itself (role "coordinator") before it
// reads a SetManifest, GetLatestTransition, GetManifests, GetPolicies or
// Recover request.
class UserApiService final : public v1::UserAPI::Service {
 public:
  struct Dependencies {
    ManifestUpdater& updater;
    const StateGuard& guard;
    attest::Issuer& issuer;
    Bytes own_spki;  // the Coordinator's session TLS key (SessionIdentity::spki_der)
    CoordinatorMetrics& metrics;
    session::SessionOptions session_options;
    std::shared_ptr<spdlog::logger> logger;
    std::string version;
    session::AdmissionControl& admission;  // every session call takes a ticket first
  };
  explicit UserApiService(Dependencies dependencies) : d_(std::move(dependencies)) {}

  grpc::Status GetVersion(grpc::ServerContext* context, const v1::VersionRequest* request,
                          v1::VersionResponse* response) override;
  grpc::Status SetManifest(grpc::ServerContext* context, SessionStream* stream) override;
  grpc::Status GetLatestTransition(grpc::ServerContext* context, SessionStream* stream) override;
  grpc::Status GetManifests(grpc::ServerContext* context, SessionStream* stream) override;
  grpc::Status GetPolicies(grpc::ServerContext* context, SessionStream* stream) override;
  grpc::Status Recover(grpc::ServerContext* context, SessionStream* stream) override;

 private:
  // Attests and reads the request: the common start of both session RPCs.
  Result<void> OpenSession(grpc::ServerContext& context, SessionStream& stream,
                           google::protobuf::MessageLite* request) const;
  // SetManifest's SetManifestPolicies frames (while more_policies is set),
  // appended to input.policies within the bounds of CheckPolicyDocumentBounds.
  Result<void> ReceiveMorePolicies(grpc::ServerContext& context, SessionStream& stream, SetManifestInput& input) const;
  grpc::Status Respond(grpc::ServerContext& context, SessionStream& stream, std::string_view rpc,
                       const google::protobuf::MessageLite& response) const;
  grpc::Status Refused(const grpc::ServerContext& context, std::string_view rpc, const Error& error) const;

  Dependencies d_;
};

// Port 7777. The workload attests (role "workload") against the current
// manifest; then the Coordinator attests itself (role "coordinator") to the
// workload, and the workload receives a mesh certificate for its TLS key.
class MeshApiService final : public v1::MeshAPI::Service {
 public:
  struct Dependencies {
    const StateGuard& guard;
    const attest::Verifier& verifier;
    session::NonceTracker& nonces;
    attest::Issuer& issuer;
    Bytes own_spki;  // the Coordinator's session TLS key (SessionIdentity::spki_der)
    CoordinatorMetrics& metrics;
    session::SessionOptions session_options;
    std::shared_ptr<spdlog::logger> logger;
    session::AdmissionControl& admission;  // every session call takes a ticket first
    // RecoverPeer catches up with the store before it judges a peer against
    // "the current manifest"; null: it judges against the state it holds.
    ManifestUpdater* updater = nullptr;
  };
  explicit MeshApiService(Dependencies dependencies) : d_(std::move(dependencies)) {}

  grpc::Status NewMeshCert(grpc::ServerContext* context, SessionStream* stream) override;
  // Another replica awaiting recovery (peer_recovery.h) attests as a
  // Coordinator of the current manifest and gets the seed and salt; only a
  // ready Coordinator answers. Flow in meshapi.proto.
  grpc::Status RecoverPeer(grpc::ServerContext* context, SessionStream* stream) override;

 private:
  Result<v1::NewMeshCertResponse> Handle(grpc::ServerContext& context, SessionStream& stream) const;
  Result<v1::PeerRecoverResponse> HandleRecoverPeer(grpc::ServerContext& context, SessionStream& stream) const;
  grpc::Status Refused(const grpc::ServerContext& context, const Error& error,
                       std::string_view rpc = "NewMeshCert") const;

  Dependencies d_;
};

}  // namespace contrast::coordinator
