#include "coordinator/services.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <utility>
#include <vector>

#include "attestation_policy/reference_values.h"
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

v1::GetManifestsResponse ToProto(const ManifestPage& page) {
  v1::GetManifestsResponse response;
  for (const history::HistoryEntry& entry : page.entries) {
    v1::ManifestHistoryEntry* out = response.add_entries();
    out->set_manifest(ToString(entry.manifest));
    out->set_previous_transition_hash(ToString(entry.transition.previous_transition_hash));
  }
  response.set_more(page.more);
  response.set_root_ca(page.root_ca_pem);
  response.set_mesh_ca(page.mesh_ca_pem);
  response.set_latest_transition_hash(ToString(page.latest_transition));
  response.set_awaiting_recovery(page.awaiting_recovery);
  response.set_reason(page.reason);
  return response;
}

v1::GetLatestTransitionResponse ToProto(const LatestTransitionInfo& info) {
  v1::GetLatestTransitionResponse response;
  if (info.latest_transition) {
    response.set_latest_transition_hash(ToString(*info.latest_transition));
    response.set_manifest_hash(ToString(info.manifest_hash));
  }
  response.set_root_ca(info.root_ca_pem);
  response.set_mesh_ca(info.mesh_ca_pem);
  response.set_awaiting_recovery(info.awaiting_recovery);
  response.set_reason(info.reason);
  return response;
}

Result<std::optional<history::TransitionHash>> FromProto(const v1::GetManifestsRequest& request) {
  const std::string& from = request.from_transition_hash();
  if (from.empty()) return std::optional<history::TransitionHash>();
  history::TransitionHash hash{};
  if (from.size() != hash.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "from_transition_hash: expected 32 bytes or none, got " + std::to_string(from.size()));
  }
  std::copy(from.begin(), from.end(), hash.begin());
  return std::optional<history::TransitionHash>(hash);
}

v1::NewMeshCertResponse ToProto(const MeshCertificateBundle& bundle) {
  v1::NewMeshCertResponse response;
  response.set_mesh_ca(bundle.mesh_ca_pem);
  response.set_cert_chain(bundle.cert_chain_pem);
  response.set_root_ca(bundle.root_ca_pem);
  response.set_workload_secret(ToString(bundle.workload_secret));
  return response;
}

void LogRefusal(spdlog::logger& logger, const grpc::ServerContext& context, std::string_view rpc, const Error& error) {
  logger.warn("event=rpc_refused rpc={} peer={} status={} reason={} error={}", rpc, LogValue(context.peer()),
              session::GrpcCodeName(session::GrpcCodeFor(error.code)), ErrorCodeName(error.code),
              LogValue(error.message));
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
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
  v1::SetManifestRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "SetManifest", opened.error());
  }
  SetManifestInput input = FromProto(request);
  if (request.more_policies()) {
    if (auto received = ReceiveMorePolicies(*context, *stream, input); !received) {
      return Refused(*context, "SetManifest", received.error());
    }
  }
  auto output = d_.updater.SetManifest(input);
  if (!output) return Refused(*context, "SetManifest", output.error());
  return Respond(*context, *stream, "SetManifest", ToProto(*output));
}

Result<void> UserApiService::ReceiveMorePolicies(grpc::ServerContext& context, SessionStream& stream,
                                                 SetManifestInput& input) const {
  // Only a request that could be accepted makes the Coordinator hold more of
  // it: the first manifest, or an update whose signature verified.
  if (auto checked = d_.updater.CheckBeforePolicies(input); !checked) return checked;
  for (bool more = true; more;) {
    v1::SetManifestPolicies next;
    if (auto read = session::ReadMessage(&stream, context, &next, d_.session_options); !read) {
      return Fail(read.error().Wrap("reading the policy documents"));
    }
    for (const std::string& policy : next.policies()) input.policies.push_back(ToBytes(policy));
    if (auto bounded = CheckPolicyDocumentBounds(input.policies); !bounded) return bounded;
    more = next.more_policies();
  }
  return {};
}

grpc::Status UserApiService::GetLatestTransition(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
  v1::GetLatestTransitionRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "GetLatestTransition", opened.error());
  }
  auto latest = d_.updater.GetLatestTransition();
  if (!latest) return Refused(*context, "GetLatestTransition", latest.error());
  return Respond(*context, *stream, "GetLatestTransition", ToProto(*latest));
}

grpc::Status UserApiService::GetManifests(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
  v1::GetManifestsRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "GetManifests", opened.error());
  }
  auto from = FromProto(request);
  if (!from) return Refused(*context, "GetManifests", from.error());
  auto page = d_.updater.GetManifests(*from);
  if (!page) return Refused(*context, "GetManifests", page.error());
  return Respond(*context, *stream, "GetManifests", ToProto(*page));
}

grpc::Status UserApiService::GetPolicies(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
  v1::GetPoliciesRequest request;
  if (auto opened = OpenSession(*context, *stream, &request); !opened) {
    return Refused(*context, "GetPolicies", opened.error());
  }
  std::vector<Bytes> hashes;
  hashes.reserve(static_cast<size_t>(request.policy_hashes_size()));
  for (const std::string& hash : request.policy_hashes()) hashes.push_back(ToBytes(hash));
  auto documents = d_.updater.GetPolicies(hashes);
  if (!documents) return Refused(*context, "GetPolicies", documents.error());
  v1::GetPoliciesResponse response;
  for (const Bytes& document : *documents) response.add_policies(ToString(document));
  return Respond(*context, *stream, "GetPolicies", response);
}

grpc::Status UserApiService::Recover(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
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

Result<void> UserApiService::OpenSession(grpc::ServerContext& context, SessionStream& stream,
                                         google::protobuf::MessageLite* request) const {
  if (auto attested = session::AttestSelfOnServer(&stream, context, session::Role::kCoordinator, d_.issuer, d_.own_spki,
                                                  d_.session_options);
      !attested) {
    return Fail(attested.error().Wrap("attesting the Coordinator"));
  }
  if (auto read = session::ReadMessage(&stream, context, request, d_.session_options); !read) {
    return Fail(read.error());
  }
  return {};
}

grpc::Status UserApiService::Respond(grpc::ServerContext& context, SessionStream& stream, std::string_view rpc,
                                     const google::protobuf::MessageLite& response) const {
  if (auto written = session::WriteMessage(&stream, context, response, d_.session_options); !written) {
    return Refused(context, rpc, written.error());
  }
  d_.metrics.sessions.Increment();
  return grpc::Status::OK;
}

grpc::Status UserApiService::Refused(const grpc::ServerContext& context, std::string_view rpc,
                                     const Error& error) const {
  LogRefusal(*d_.logger, context, rpc, error);
  return session::ToGrpcStatus(error);
}

// ---- MeshAPI -----------------------------------------------------------

grpc::Status MeshApiService::NewMeshCert(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
  auto response = Handle(*context, *stream);
  if (!response) return Refused(*context, response.error());
  if (auto written = session::WriteMessage(stream, *context, *response, d_.session_options); !written) {
    return Refused(*context, written.error());
  }
  d_.metrics.sessions.Increment();
  d_.metrics.mesh_certificates_issued.Increment();
  return grpc::Status::OK;
}

Result<v1::NewMeshCertResponse> MeshApiService::Handle(grpc::ServerContext& context, SessionStream& stream) const {
  v1::NewMeshCertRequest request;
  if (auto read = session::ReadMessage(&stream, context, &request, d_.session_options); !read) {
    return Fail(read.error());
  }
  auto state = d_.guard.Require();
  if (!state) return tl::unexpected(state.error());
  auto evidence = session::AttestPeerOnServer(&stream, context, session::Role::kWorkload, d_.verifier,
                                              (*state)->workload_reference_values, d_.nonces, d_.session_options);
  if (!evidence) {
    d_.metrics.attestation_failures.Increment(std::string(ErrorCodeName(evidence.error().code)));
    return Fail(evidence.error());
  }
  // Only a workload that proved itself gets the Coordinator's evidence in
  // return (the workload checks it before it takes the answer), so an
  // unattested caller cannot make the Coordinator produce evidence.
  if (auto attested = session::AttestSelfOnServer(&stream, context, session::Role::kCoordinator, d_.issuer, d_.own_spki,
                                                  d_.session_options);
      !attested) {
    return Fail(attested.error().Wrap("attesting the Coordinator to the workload"));
  }
  // Attestation can take long (a slow peer, up to the session's step
  // deadline in each direction): a manifest update or a recovery may have
  // landed meanwhile. The evidence was only checked against the state read
  // before, so it must not be certified under any other one, and a workload
  // the update removed must not get a certificate at all. The caller retries
  // against the state in force now.
  auto now = d_.guard.Require();
  if (!now) return tl::unexpected(now.error());
  if (*now != *state) {
    return Fail(ErrorCode::kFailedPrecondition, "the manifest changed while this workload attested (generation " +
                                                    std::to_string((*state)->generation) + " -> " +
                                                    std::to_string((*now)->generation) + "); attest again");
  }
  // AttestPeerOnServer checked the evidence against this very key.
  auto auth = context.auth_context();
  auto spki = auth ? session::PeerSpkiDer(*auth) : Result<Bytes>(Fail(ErrorCode::kCertificateInvalid, "no TLS peer"));
  if (!spki) return Fail(spki.error());
  auto bundle = IssueMeshCertificate(**state, *evidence, *spki);
  if (!bundle) return tl::unexpected(bundle.error());
  d_.logger->info("event=mesh_certificate_issued peer={} policy={} generation={} insecure={}", LogValue(context.peer()),
                  HexEncode(evidence->host_data()), (*state)->generation, evidence->insecure());
  v1::NewMeshCertResponse response = ToProto(*bundle);
  OPENSSL_cleanse(bundle->workload_secret.data(), bundle->workload_secret.size());
  return response;
}

grpc::Status MeshApiService::RecoverPeer(grpc::ServerContext* context, SessionStream* stream) {
  d_.metrics.sessions_started.Increment();
  auto admitted = d_.admission.Admit(*context);  // first: a refusal costs no crypto
  if (!admitted) return session::ToGrpcStatus(admitted.error());
  auto response = HandleRecoverPeer(*context, *stream);
  if (!response) {
    d_.metrics.peer_recoveries_served.Increment(std::string(ErrorCodeName(response.error().code)));
    return Refused(*context, response.error(), "RecoverPeer");
  }
  auto written = session::WriteMessage(stream, *context, *response, d_.session_options);
  // The response holds the seed (WriteMessage wiped its serialized copy):
  // gone before anything else runs.
  OPENSSL_cleanse(response->mutable_seed()->data(), response->seed().size());
  if (!written) {
    d_.metrics.peer_recoveries_served.Increment(std::string(ErrorCodeName(written.error().code)));
    return Refused(*context, written.error(), "RecoverPeer");
  }
  d_.metrics.sessions.Increment();
  d_.metrics.peer_recoveries_served.Increment("ok");
  return grpc::Status::OK;
}

Result<v1::PeerRecoverResponse> MeshApiService::HandleRecoverPeer(grpc::ServerContext& context,
                                                                  SessionStream& stream) const {
  v1::PeerRecoverRequest request;
  if (auto read = session::ReadMessage(&stream, context, &request, d_.session_options); !read) {
    return Fail(read.error());
  }
  // "The current manifest" is the store's: another replica may have just
  // removed the policy this peer runs.
  if (d_.updater) {
    if (auto caught_up = d_.updater->CatchUp(); !caught_up) return tl::unexpected(caught_up.error());
  }
  // A replica that is itself awaiting recovery (or stale) has nothing to
  // give, and a stale one must not hand out the seed of a history it no
  // longer follows.
  auto state = d_.guard.Require();
  if (!state) return tl::unexpected(state.error());
  if (!(*state)->seed) {
    return Fail(ErrorCode::kFailedPrecondition, "this Coordinator holds no seed (awaiting recovery itself)");
  }
  const manifest::Manifest& manifest = (*state)->manifest;
  if (manifest.CoordinatorPolicyHashes().empty()) {
    return Fail(ErrorCode::kPolicyViolation,
                "the current manifest (generation " + std::to_string((*state)->generation) +
                    ") lists no policy with Role coordinator: no peer may receive the seed");
  }
  auto evidence = session::AttestPeerOnServer(&stream, context, session::Role::kCoordinator, d_.verifier,
                                              attestation_policy::CoordinatorReferenceValues(manifest), d_.nonces,
                                              d_.session_options);
  if (!evidence) {
    d_.metrics.attestation_failures.Increment(std::string(ErrorCodeName(evidence.error().code)));
    return Fail(evidence.error().Wrap("attesting the peer as a Coordinator of the current manifest (generation " +
                                      std::to_string((*state)->generation) + ": its Role coordinator policies)"));
  }
  if (auto attested = session::AttestSelfOnServer(&stream, context, session::Role::kCoordinator, d_.issuer, d_.own_spki,
                                                  d_.session_options);
      !attested) {
    return Fail(attested.error().Wrap("attesting the Coordinator to the peer"));
  }
  // As in NewMeshCert: the evidence was checked against the state read
  // before; an update meanwhile (here or at another replica) may have
  // dropped the peer's policy.
  if (d_.updater) {
    if (auto caught_up = d_.updater->CatchUp(); !caught_up) return tl::unexpected(caught_up.error());
  }
  auto now = d_.guard.Require();
  if (!now) return tl::unexpected(now.error());
  if (*now != *state) {
    return Fail(ErrorCode::kFailedPrecondition, "the manifest changed while the peer attested (generation " +
                                                    std::to_string((*state)->generation) + " -> " +
                                                    std::to_string((*now)->generation) + "); attest again");
  }
  d_.logger->info("event=peer_recovery_served peer={} policy={} generation={} insecure={}", LogValue(context.peer()),
                  HexEncode(evidence->host_data()), (*state)->generation, evidence->insecure());
  v1::PeerRecoverResponse response;
  response.set_seed(ToString((*state)->seed->seed()));
  response.set_salt(ToString((*state)->seed->salt()));
  response.set_latest_transition(ToString((*state)->latest_transition));
  return response;
}

grpc::Status MeshApiService::Refused(const grpc::ServerContext& context, const Error& error,
                                     std::string_view rpc) const {
  LogRefusal(*d_.logger, context, rpc, error);
  return session::ToGrpcStatus(error);
}

}  // namespace contrast::coordinator
