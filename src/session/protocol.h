// The attested-session protocol (DESIGN.md section 5) over a gRPC
// bidirectional stream of contrast.v1.SessionFrame: thin drivers the
// services and clients call around their own request and response.
//
// The verifier challenges with a fresh nonce from its NonceTracker, the
// attester answers with evidence whose REPORT_DATA binds its role, its TLS key
// on this connection and the nonce (binding.h), and the verifier checks the
// evidence (attest/verifier.h) and that the bound key is the one the peer presented
// in this connection's TLS handshake. Two directions exist:
//
//   User API (client verifies server; the server attests as "coordinator"):
//     client: AttestPeer, WriteMessage(request), ReadMessage(response)
//     server: AttestSelfOnServer, ReadMessage(request), WriteMessage(response)
//   Mesh API (server verifies client; the client attests as "workload"):
//     client: WriteMessage(request), AttestSelf, ReadMessage(response)
//     server: ReadMessage(request), AttestPeerOnServer, WriteMessage(response)
//
// Every received frame is checked: an empty frame, a frame of the wrong kind
// for the step, a malformed message or evidence gives an Error (never a
// crash); frames above kMaxFrameSize never reach us (gRPC rejects them).
// Server handlers turn an Error into their status with ToGrpcStatus.
//
// Deadlines: the server side cannot trust the client's deadline, so every
// server step here (a handshake, reading a request, writing a response) is
// bounded by SessionOptions::step_timeout: the call is cancelled when it
// passes. A call admitted by an AdmissionControl (admission.h) is also held
// to its opening deadline until it is attested: its steps up to the verified
// evidence (mesh API) or the request after the Coordinator's evidence (user
// API) end then, with kTimeout, whatever is left of step_timeout; later steps
// get step_timeout each. A client bounds its whole call with the deadline of
// its ClientContext (ClientSession sets one).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>
#include <grpcpp/support/sync_stream.h>

#include "attest/verifier.h"
#include "common/bytes.h"
#include "common/result.h"
#include "contrast/evidence.pb.h"
#include "session/binding.h"
#include "session/evidence.h"
#include "session/nonce.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace contrast::session {

using ServerStream = grpc::ServerReaderWriterInterface<v1::SessionFrame, v1::SessionFrame>;
using ClientStream = grpc::ClientReaderWriterInterface<v1::SessionFrame, v1::SessionFrame>;

struct SessionOptions {
  // Longest one server step may take (AttestPeerOnServer,
  // AttestSelfOnServer, ReadMessage, WriteMessage) before the call is
  // cancelled. Zero: no bound.
  std::chrono::milliseconds step_timeout{std::chrono::seconds(30)};
};

// ---- Server side -------------------------------------------------------

// The server verifies the client, which attests with `peer_role`: sends a
// challenge, reads the evidence, verifies it against `reference_values` and
// checks its binding to the client certificate of this connection.
// Codes: those of attest::Verifier::Verify; kInvalidArgument (wrong or empty
// frame), kParse (malformed evidence), kTimeout (no answer in time, or the
// nonce expired), kNetwork (the client went away), kCertificateInvalid (no
// client certificate).
Result<attest::VerifiedEvidence> AttestPeerOnServer(ServerStream* stream, const grpc::ServerContext& context,
                                                    Role peer_role, const attest::Verifier& verifier,
                                                    const attest::AcceptableReferenceValues& reference_values,
                                                    NonceTracker& nonces, const SessionOptions& options = {});

// The server attests itself as `own_role`: reads the client's challenge and
// answers with evidence from `issuer` bound to `own_spki` (the server's
// SessionIdentity::spki_der()).
Status AttestSelfOnServer(ServerStream* stream, const grpc::ServerContext& context, Role own_role,
                          attest::Issuer& issuer, ByteView own_spki, const SessionOptions& options = {});

// Reads one `message` frame and parses it into `message`.
Status ReadMessage(ServerStream* stream, const grpc::ServerContext& context, google::protobuf::MessageLite* message,
                   const SessionOptions& options = {});
// Sends `message` serialized in a `message` frame.
Status WriteMessage(ServerStream* stream, const grpc::ServerContext& context,
                    const google::protobuf::MessageLite& message, const SessionOptions& options = {});

// An Error as the status a handler returns. The code maps to the gRPC code
// (attestation failures: PERMISSION_DENIED; malformed input:
// INVALID_ARGUMENT; kTimeout: DEADLINE_EXCEEDED; ...); the message is kept
// and ErrorCodeName(code) goes into the status details, so FromGrpcStatus
// restores the exact code.
grpc::Status ToGrpcStatus(const Error& error);
// A non-OK status as an Error ("server: PERMISSION_DENIED: ...").
Error FromGrpcStatus(const grpc::Status& status);
// The status code ToGrpcStatus gives an Error with `code`.
grpc::StatusCode GrpcCodeFor(ErrorCode code);
// "PERMISSION_DENIED", for messages and logs.
std::string_view GrpcCodeName(grpc::StatusCode code);

// ---- Client side -------------------------------------------------------
//
// These drivers report a stream the server ended as kNetwork; the reason is
// in the call's final status (Finish). ClientSession does that for you.

// The client verifies the server, which attests with `peer_role`: sends a
// challenge, reads the evidence and checks it and its binding to the server
// certificate of this connection (from context.auth_context()).
Result<attest::VerifiedEvidence> AttestPeerOnClient(ClientStream* stream, const grpc::ClientContext& context,
                                                    Role peer_role, const attest::Verifier& verifier,
                                                    const attest::AcceptableReferenceValues& reference_values,
                                                    NonceTracker& nonces);
// The client attests itself as `own_role`: reads the server's challenge and
// answers with evidence bound to `own_spki` (its SessionIdentity::spki_der()).
Status AttestSelfOnClient(ClientStream* stream, Role own_role, attest::Issuer& issuer, ByteView own_spki);
Status ReadMessage(ClientStream* stream, google::protobuf::MessageLite* message);
Status WriteMessage(ClientStream* stream, const google::protobuf::MessageLite& message);

inline constexpr std::chrono::seconds kDefaultClientDeadline{60};

// One client call of a session RPC: owns its ClientContext (with a deadline)
// and stream. When a step fails because the server ended the call, the error
// is the server's status; when a local check fails, the call is cancelled.
// Destroying an unfinished session cancels the call.
//
//   ClientSession call([&](grpc::ClientContext* c) { return stub.SetManifest(c); });
//   auto coordinator = call.AttestPeer(Role::kCoordinator, verifier, reference_values, nonces);
//   call.Send(request); call.Receive(&response); call.Finish();
class ClientSession {
 public:
  using Starter = std::function<std::unique_ptr<ClientStream>(grpc::ClientContext*)>;

  explicit ClientSession(const Starter& start, std::chrono::milliseconds deadline = kDefaultClientDeadline);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  Result<attest::VerifiedEvidence> AttestPeer(Role peer_role, const attest::Verifier& verifier,
                                              const attest::AcceptableReferenceValues& reference_values,
                                              NonceTracker& nonces);
  Status AttestSelf(Role own_role, attest::Issuer& issuer, ByteView own_spki);
  Status Send(const google::protobuf::MessageLite& message);
  Status Receive(google::protobuf::MessageLite* message);
  // Half-closes the stream and returns the call's final status. Idempotent.
  Status Finish();

  grpc::ClientContext& context() { return *context_; }

 private:
  Error Failed(Error local);

  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<ClientStream> stream_;
  bool finished_ = false;
  Status final_status_;
};

}  // namespace contrast::session
