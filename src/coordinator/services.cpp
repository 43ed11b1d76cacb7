#include "coordinator/services.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "coordinator/log.h"
#include "coordinator/mesh_issuer.h"
#include "session/credentials.h"

namespace contrast::coordinator {
namespace {

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string ToString(ByteView b) { return std::string(AsChars(b)); }

SetManifestInput FromProto(const v1::SetManifestRequest& request) {
  SetManifestInput input;
  input.manifest = ToBytes(request.manifest());
  input.policies.reserve(static_cast<size_t>(request.policies_size()));
  for (const std::string& policy : request.policies()) input.policies.push_back(ToBytes(policy));
  input.previous_transition_hash = ToBytes(request.previous_transition_hash());
  input.owner_public_key = ToBytes(request.owner_public_key());
  input.owner_signature = ToBytes(request.owner_signature());
  return input;
}

v1::SetManifestResponse ToProto(const SetManifestOutput& output) {
  v1::SetManifestResponse response;
  response.set_root_ca(output.root_ca_pem);
  response.set_mesh_ca(output.mesh_ca_pem);
  response.set_transition_hash(ToString(output.transition_hash));
  if (output.seed_shares) {
    v1::SeedShareDocument* document = response.mutable_seed_share_document();
    for (const seed::SeedShare& share : output.seed_shares->shares) {
      v1::SeedShare* out = document->add_seed_shares();
      out->set_public_key(ToString(share.public_key));
      out->set_encrypted_seed(ToString(share.encrypted_seed));
    }
    document->set_salt(ToString(output.seed_shares->salt));
  }
  return response;
}

RecoverInput FromProto(const v1::RecoverRequest& request, ByteView coordinator_spki) {
  return RecoverInput{ToBytes(request.seed()),
                      ToBytes(request.salt()),
                      request.force(),
                      ToBytes(request.owner_public_key()),
                      ToBytes(request.owner_signature()),
                      Bytes(coordinator_spki.begin(), coordinator_spki.end())};
}

v1::RecoverResponse ToProto(const RecoverOutput& output) {
  v1::RecoverResponse response;
  response.set_root_ca(output.root_ca_pem);
  response.set_mesh_ca(output.mesh_ca_pem);
  response.set_latest_transition_hash(ToString(output.latest_transition));
  return response;
}

v1::GetManifestsResponse ToProto(const ManifestHistory& history) {
  v1::GetManifestsResponse response;
  for (const Bytes& manifest : history.manifests) response.add_manifests(ToString(manifest));
  for (const Bytes& policy : history.policies) response.add_policies(ToString(policy));
  response.set_root_ca(history.root_ca_pem);
  response.set_mesh_ca(history.mesh_ca_pem);
  response.set_latest_transition_hash(ToString(history.latest_transition));
  response.set_awaiting_recovery(history.awaiting_recovery);
  response.set_reason(history.reason);
  return response;
}

v1::NewMeshCertResponse ToProto(const MeshCertificateBundle& bundle) {
  v1::NewMeshCertResponse response;
  response.set_mesh_ca(bundle.mesh_ca_pem);
  response.set_cert_chain(bundle.cert_chain_pem);
  response.set_root_ca(bundle.root_ca_pem);
  response.set_workload_secret(ToString(bundle.workload_secret));
  return response;
}

ApiError AsApiError(const Error& error) { return Refuse(error).value(); }

void LogRefusal(spdlog::logger& logger, const grpc::ServerContext& context, std::string_view rpc,
                const ApiError& error) {
  logger.warn("event=rpc_refused rpc={} peer={} status={} reason={} error={}", rpc, LogValue(context.peer()),
              StatusCodeName(error.status_code), ErrorCodeName(error.error.code), LogValue(error.error.message));
}

}  // namespace

// ---- UserAPI -----------------------------------------------------------

grpc::Status UserApiService::GetVersion(grpc::ServerContext* /*context*/, const v1::VersionRequest* /*request*/,
                                        v1::VersionResponse* response) {
  const Readiness readiness = d_.guard.readiness();
  response->set_version(d_.version);
  response->set_ready(readiness.ready);
  response->set_reason(readiness.reason);
  return grpc::Status::OK;
}

grpc::Status UserApiService::SetManifest(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  v1::SetManifestRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "SetManifest", opened.error());
  }
  auto output = d_.updater.SetManifest(FromProto(request));
  if (!output) return Refused(*context, "SetManifest", output.error());
  return Respond(*context, *stream, "SetManifest", ToProto(*output));
}

grpc::Status UserApiService::GetManifests(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  v1::GetManifestsRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "GetManifests", opened.error());
  }
  auto history = d_.updater.GetManifests();
  if (!history) return Refused(*context, "GetManifests", history.error());
  return Respond(*context, *stream, "GetManifests", ToProto(*history));
}

grpc::Status UserApiService::Recover(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  v1::RecoverRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "Recover", opened.error());
  }
  RecoverInput input = FromProto(request, d_.own_spki);
  // The seed stays only as long as the call: the engine keeps its own copy.
  request.mutable_seed()->assign(request.seed().size(), '\0');
  auto recovered = d_.updater.Recover(input);
  OPENSSL_cleanse(input.seed.data(), input.seed.size());
  if (!recovered) return Refused(*context, "Recover", recovered.error());
  return Respond(*context, *stream, "Recover", ToProto(*recovered));
}

ApiResult<void> UserApiService::OpenSession(grpc::ServerContext& context, SessionStream& stream,
                                            google::protobuf::MessageLite* request) const {
  if (auto attested = session::AttestSelfOnServer(&stream, context, session::Role::kCoordinator, d_.issuer, d_.own_spki,
                                                  d_.session_options);
      !attested) {
    return Refuse(attested.error().Wrap("attesting the Coordinator"));
  }
  if (auto read = session::ReadMessage(&stream, context, request, d_.session_options); !read) {
    return Refuse(read.error());
  }
  return {};
}

grpc::Status UserApiService::Respond(grpc::ServerContext& context, SessionStream& stream, std::string_view rpc,
                                     const google::protobuf::MessageLite& response) const {
  if (auto written = session::WriteMessage(&stream, context, response, d_.session_options); !written) {
    return Refused(context, rpc, AsApiError(written.error()));
  }
  d_.metrics.sessions.Increment();
  return grpc::Status::OK;
}

grpc::Status UserApiService::Refused(const grpc::ServerContext& context, std::string_view rpc,
                                     const ApiError& error) const {
  LogRefusal(*d_.logger, context, rpc, error);
  return ToGrpcStatus(error);
}

// ---- MeshAPI -----------------------------------------------------------

grpc::Status MeshApiService::NewMeshCert(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto response = Handle(*context, *stream);
  if (!response) return Refused(*context, response.error());
  if (auto written = session::WriteMessage(stream, *context, *response, d_.session_options); !written) {
    return Refused(*context, AsApiError(written.error()));
  }
  d_.metrics.sessions.Increment();
  d_.metrics.mesh_certificates_issued.Increment();
  return grpc::Status::OK;
}

ApiResult<v1::NewMeshCertResponse> MeshApiService::Handle(grpc::ServerContext& context, SessionStream& stream) const {
  v1::NewMeshCertRequest request;
  if (auto read = session::ReadMessage(&stream, context, &request, d_.session_options); !read) {
    return Refuse(read.error());
  }
  auto state = d_.guard.Require();
  if (!state) return tl::unexpected(state.error());
  auto evidence = session::AttestPeerOnServer(&stream, context, session::Role::kWorkload, d_.verifier,
                                              (*state)->workload_reference_values, d_.nonces, d_.session_options);
  if (!evidence) {
    d_.metrics.attestation_failures.Increment(std::string(ErrorCodeName(evidence.error().code)));
    return Refuse(evidence.error());
  }
  // Attestation can take long (a slow peer, up to the session's step
  // deadline): a manifest update or a recovery may have landed meanwhile.
  // The evidence was only checked against the state read before, so it must
  // not be certified under any other one, and a workload the update removed
  // must not get a certificate at all. The caller retries against the state
  // in force now.
  auto now = d_.guard.Require();
  if (!now) return tl::unexpected(now.error());
  if (*now != *state) {
    return RefusePrecondition("the manifest changed while this workload attested (generation " +
                              std::to_string((*state)->generation) + " -> " + std::to_string((*now)->generation) +
                              "); attest again");
  }
  // AttestPeerOnServer checked the evidence against this very key.
  auto auth = context.auth_context();
  auto spki = auth ? session::PeerSpkiDer(*auth) : Result<Bytes>(Fail(ErrorCode::kCertificateInvalid, "no TLS peer"));
  if (!spki) return Refuse(spki.error());
  auto bundle = IssueMeshCertificate(**state, *evidence, *spki);
  if (!bundle) return tl::unexpected(bundle.error());
  d_.logger->info("event=mesh_certificate_issued peer={} policy={} generation={} insecure={}", LogValue(context.peer()),
                  HexEncode(evidence->host_data()), (*state)->generation, evidence->insecure());
  v1::NewMeshCertResponse response = ToProto(*bundle);
  OPENSSL_cleanse(bundle->workload_secret.data(), bundle->workload_secret.size());
  return response;
}

grpc::Status MeshApiService::Refused(const grpc::ServerContext& context, const ApiError& error) const {
  LogRefusal(*d_.logger, context, "NewMeshCert", error);
  return ToGrpcStatus(error);
}

}  // namespace contrast::coordinator
