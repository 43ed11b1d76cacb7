#include "session/protocol.h"

#include <google/protobuf/message_lite.h>
#include <openssl/crypto.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "session/admission.h"
#include "session/credentials.h"

namespace contrast::session {
namespace {

using Clock = std::chrono::steady_clock;
using v1::SessionFrame;

// Cancels server calls whose step did not complete in time. One thread for
// the process, started on first use and never stopped (so no handler can
// outlive it at exit); a guard disarms its entry before the ServerContext
// goes away, and TryCancel runs under the same lock.
class Watchdog {
 public:
  static Watchdog& Instance() {
    static Watchdog* const watchdog = new Watchdog();  // intentionally leaked
    return *watchdog;
  }

  uint64_t Arm(const grpc::ServerContext* context, Clock::time_point deadline, std::atomic<bool>* fired) {
    std::lock_guard lock(mutex_);
    const uint64_t id = next_id_++;
    entries_.emplace(id, Entry{context, fired});
    queue_.emplace(deadline, id);
    wake_.notify_one();
    return id;
  }

  void Disarm(uint64_t id) {
    std::lock_guard lock(mutex_);
    entries_.erase(id);  // its queue_ element is skipped when it comes up
  }

 private:
  struct Entry {
    const grpc::ServerContext* context;
    std::atomic<bool>* fired;
  };

  Watchdog() {
    std::thread([this] { Run(); }).detach();
  }

  [[noreturn]] void Run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (queue_.empty()) {
        wake_.wait(lock);
        continue;
      }
      const auto [deadline, id] = *queue_.begin();
      if (Clock::now() < deadline) {
        wake_.wait_until(lock, deadline);
        continue;
      }
      queue_.erase(queue_.begin());
      if (auto it = entries_.find(id); it != entries_.end()) {
        it->second.fired->store(true);
        it->second.context->TryCancel();
        entries_.erase(it);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::pair<Clock::time_point, uint64_t>> queue_;
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 1;
};

// Bounds one server step (a handshake, reading a request, writing a
// response): the call is cancelled when it has not finished in time. While
// the call is still opening (admission.h), the step also ends at the call's
// opening deadline, whichever comes first.
class StepDeadline {
 public:
  StepDeadline(const grpc::ServerContext& context, std::chrono::milliseconds timeout)
      : context_(context), timeout_(timeout) {
    std::optional<Clock::time_point> at;
    if (timeout.count() > 0) at = Clock::now() + timeout;
    if (const auto opening = OpeningDeadlineOf(context); opening && (!at || *opening < *at)) {
      at = opening;
      opening_ = true;
    }
    if (at) id_ = Watchdog::Instance().Arm(&context, *at, &fired_);
  }
  ~StepDeadline() {
    if (id_ != 0) Watchdog::Instance().Disarm(id_);
  }
  StepDeadline(const StepDeadline&) = delete;
  StepDeadline& operator=(const StepDeadline&) = delete;

  bool expired() const { return fired_.load(); }

  // The error of a step that ran out of time; `what` completes "no ... from
  // the client" / "the client did not take ...".
  Error Expired(const std::string& what) const {
    if (!opening_) {
      return Error{ErrorCode::kTimeout, what + " within " + std::to_string(timeout_.count()) + " ms"};
    }
    NoteOpeningTimedOut(context_);
    return Error{ErrorCode::kTimeout,
                 what +
                     " by the session's opening deadline (request and evidence are due within seconds of the call's "
                     "start)"};
  }

 private:
  const grpc::ServerContext& context_;
  std::chrono::milliseconds timeout_;
  bool opening_ = false;
  std::atomic<bool> fired_{false};
  uint64_t id_ = 0;
};

std::string_view KindName(SessionFrame::KindCase kind) {
  switch (kind) {
    case SessionFrame::kChallenge: return "challenge";
    case SessionFrame::kEvidence: return "evidence";
    case SessionFrame::kMessage: return "message";
    case SessionFrame::KIND_NOT_SET: return "empty frame";
  }
  return "unknown frame";
}

// The frame is of the kind this step expects.
Status ExpectKind(const SessionFrame& frame, SessionFrame::KindCase expected) {
  if (frame.kind_case() == expected) return {};
  if (frame.kind_case() == SessionFrame::KIND_NOT_SET) {
    return Fail(ErrorCode::kInvalidArgument,
                "protocol violation: received an empty frame, expected " + std::string(KindName(expected)));
  }
  return Fail(ErrorCode::kInvalidArgument, "protocol violation: expected " + std::string(KindName(expected)) +
                                               ", received " + std::string(KindName(frame.kind_case())));
}

// Reads one frame of kind `expected` from a server stream within `deadline`.
Result<SessionFrame> ServerRead(ServerStream* stream, const StepDeadline& deadline, SessionFrame::KindCase expected) {
  SessionFrame frame;
  const bool ok = stream->Read(&frame);
  if (deadline.expired()) return Fail(deadline.Expired("no " + std::string(KindName(expected)) + " from the client"));
  if (!ok) {
    return Fail(ErrorCode::kNetwork, "the client ended the stream before sending " + std::string(KindName(expected)));
  }
  if (auto kind = ExpectKind(frame, expected); !kind) return Fail(kind.error());
  return frame;
}

Status ServerWrite(ServerStream* stream, const StepDeadline& deadline, const SessionFrame& frame) {
  const bool ok = stream->Write(frame);
  if (deadline.expired()) {
    return Fail(deadline.Expired("the client did not take " + std::string(KindName(frame.kind_case()))));
  }
  if (ok) return {};
  return Fail(ErrorCode::kNetwork,
              "the client ended the stream before " + std::string(KindName(frame.kind_case())) + " could be sent");
}

Result<SessionFrame> ClientRead(ClientStream* stream, SessionFrame::KindCase expected) {
  SessionFrame frame;
  if (!stream->Read(&frame)) {
    return Fail(ErrorCode::kNetwork, "the server ended the stream before sending " + std::string(KindName(expected)));
  }
  if (auto kind = ExpectKind(frame, expected); !kind) return Fail(kind.error());
  return frame;
}

Status ClientWrite(ClientStream* stream, const SessionFrame& frame) {
  if (stream->Write(frame)) return {};
  return Fail(ErrorCode::kNetwork,
              "the server ended the stream before " + std::string(KindName(frame.kind_case())) + " could be sent");
}

SessionFrame ChallengeFrame(const Nonce& nonce) {
  SessionFrame frame;
  frame.mutable_challenge()->set_nonce(std::string(AsChars(nonce)));
  return frame;
}

Result<Nonce> NonceOf(const SessionFrame& frame) {
  const std::string& bytes = frame.challenge().nonce();
  if (bytes.size() != kNonceSize) {
    return Fail(ErrorCode::kInvalidArgument, "challenge.nonce: expected " + std::to_string(kNonceSize) +
                                                 " bytes, got " + std::to_string(bytes.size()));
  }
  Nonce nonce{};
  std::copy(bytes.begin(), bytes.end(), nonce.begin());
  return nonce;
}

Result<SessionFrame> EvidenceFrame(Role own_role, attest::Issuer& issuer, ByteView own_spki, const Nonce& nonce) {
  auto evidence = issuer.Issue(SessionReportData(own_role, own_spki, nonce));
  if (!evidence) return Fail(evidence.error().Wrap("issuing evidence"));
  SessionFrame frame;
  EvidenceToProto(*evidence, frame.mutable_evidence());
  return frame;
}

SessionFrame MessageFrame(const google::protobuf::MessageLite& message) {
  SessionFrame frame;
  message.SerializeToString(frame.mutable_message());
  return frame;
}

// Messages carry secrets (a workload's key and secret, a seed handed to a
// peer): the serialized copy is wiped once gRPC has taken it. (gRPC's own
// buffers are out of reach; what leaves is TLS-encrypted.)
void WipeMessage(SessionFrame& frame) {
  std::string& bytes = *frame.mutable_message();
  OPENSSL_cleanse(bytes.data(), bytes.size());
}

Status ParseMessage(const SessionFrame& frame, google::protobuf::MessageLite* message) {
  if (message->ParseFromString(frame.message())) return {};
  return Fail(ErrorCode::kParse, "message frame: not a valid " + message->GetTypeName());
}

// The evidence in `frame` verified for the attester's `peer_spki` and `nonce`.
Result<attest::VerifiedEvidence> VerifyFrame(const SessionFrame& frame, const Result<Bytes>& peer_spki, Role peer_role,
                                             const Nonce& nonce, const attest::Verifier& verifier,
                                             const attest::AcceptableReferenceValues& reference_values,
                                             NonceTracker& nonces) {
  // Single use and expiry first: whatever follows, this nonce is spent.
  if (auto fresh = nonces.Consume(nonce); !fresh) return Fail(fresh.error().Wrap("challenge"));
  auto evidence = EvidenceFromProto(frame.evidence());
  if (!evidence) return Fail(evidence.error());
  if (!peer_spki) return Fail(peer_spki.error());
  auto verified = verifier.Verify(*evidence, SessionReportData(peer_role, *peer_spki, nonce), reference_values);
  if (!verified) return Fail(verified.error().Wrap("attestation of the " + std::string(RoleName(peer_role))));
  return verified;
}

Result<Bytes> SpkiOf(const std::shared_ptr<const grpc::AuthContext>& auth) {
  if (!auth) return Fail(ErrorCode::kCertificateInvalid, "the connection has no TLS peer (not a TLS channel)");
  return PeerSpkiDer(*auth);
}

// The one table between our error codes and gRPC's, read both ways: a
// handler's Error becomes the first status listed for its code, and a status
// without our code in its details becomes the first ErrorCode listed for it.
// Attestation verdicts (IsAttestationVerdict) are all PERMISSION_DENIED;
// codes not listed are INTERNAL (kIo, kInternal, kCrypto, kHttpStatus: our
// failures, not the request's).
struct CodePair {
  ErrorCode error;
  grpc::StatusCode status;
};
constexpr CodePair kCodeTable[] = {
    {ErrorCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {ErrorCode::kParse, grpc::StatusCode::INVALID_ARGUMENT},
    {ErrorCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {ErrorCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {ErrorCode::kConflict, grpc::StatusCode::ABORTED},
    {ErrorCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {ErrorCode::kUnsupported, grpc::StatusCode::UNIMPLEMENTED},
    {ErrorCode::kTimeout, grpc::StatusCode::DEADLINE_EXCEEDED},
    {ErrorCode::kNetwork, grpc::StatusCode::UNAVAILABLE},
    {ErrorCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {ErrorCode::kValidationFailed, grpc::StatusCode::PERMISSION_DENIED},
    {ErrorCode::kValidationFailed, grpc::StatusCode::UNAUTHENTICATED},
    {ErrorCode::kInternal, grpc::StatusCode::INTERNAL},
    {ErrorCode::kInternal, grpc::StatusCode::UNKNOWN},
    {ErrorCode::kInternal, grpc::StatusCode::DATA_LOSS},
};

// A status of a call that carried none of our codes: the transport's own
// (CANCELLED, UNAVAILABLE, ...) or another server's.
ErrorCode ErrorCodeForGrpc(grpc::StatusCode code) {
  for (const CodePair& pair : kCodeTable) {
    if (pair.status == code) return pair.error;
  }
  return ErrorCode::kNetwork;
}

}  // namespace

grpc::StatusCode GrpcCodeFor(ErrorCode code) {
  if (IsAttestationVerdict(code)) return grpc::StatusCode::PERMISSION_DENIED;
  for (const CodePair& pair : kCodeTable) {
    if (pair.error == code) return pair.status;
  }
  return grpc::StatusCode::INTERNAL;
}

std::string_view GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

// ---- Server side -------------------------------------------------------

Result<attest::VerifiedEvidence> AttestPeerOnServer(ServerStream* stream, const grpc::ServerContext& context,
                                                    Role peer_role, const attest::Verifier& verifier,
                                                    const attest::AcceptableReferenceValues& reference_values,
                                                    NonceTracker& nonces, const SessionOptions& options) {
  const StepDeadline deadline(context, options.step_timeout);
  auto nonce = nonces.Issue();
  if (!nonce) return Fail(nonce.error());
  auto frame = ServerWrite(stream, deadline, ChallengeFrame(*nonce)).and_then([&] {
    return ServerRead(stream, deadline, SessionFrame::kEvidence);
  });
  if (!frame) {
    (void)nonces.Consume(*nonce);  // spent either way
    return Fail(frame.error());
  }
  auto verified =
      VerifyFrame(*frame, SpkiOf(context.auth_context()), peer_role, *nonce, verifier, reference_values, nonces);
  if (verified) MarkCallAttested(context);
  return verified;
}

Status AttestSelfOnServer(ServerStream* stream, const grpc::ServerContext& context, Role own_role,
                          attest::Issuer& issuer, ByteView own_spki, const SessionOptions& options) {
  const StepDeadline deadline(context, options.step_timeout);
  auto frame = ServerRead(stream, deadline, SessionFrame::kChallenge);
  if (!frame) return Fail(frame.error());
  auto nonce = NonceOf(*frame);
  if (!nonce) return Fail(nonce.error());
  auto evidence = EvidenceFrame(own_role, issuer, own_spki, *nonce);
  if (!evidence) return Fail(evidence.error());
  if (auto written = ServerWrite(stream, deadline, *evidence); !written) return written;
  NoteServerAttested(context);
  return {};
}

Status ReadMessage(ServerStream* stream, const grpc::ServerContext& context, google::protobuf::MessageLite* message,
                   const SessionOptions& options) {
  const StepDeadline deadline(context, options.step_timeout);
  auto frame = ServerRead(stream, deadline, SessionFrame::kMessage);
  if (!frame) return Fail(frame.error());
  Status parsed = ParseMessage(*frame, message);
  WipeMessage(*frame);
  if (!parsed) return parsed;
  NoteRequestRead(context);
  return {};
}

Status WriteMessage(ServerStream* stream, const grpc::ServerContext& context,
                    const google::protobuf::MessageLite& message, const SessionOptions& options) {
  const StepDeadline deadline(context, options.step_timeout);
  SessionFrame frame = MessageFrame(message);
  Status written = ServerWrite(stream, deadline, frame);
  WipeMessage(frame);
  return written;
}

grpc::Status ToGrpcStatus(const Error& error) {
  return grpc::Status(GrpcCodeFor(error.code), error.message, std::string(ErrorCodeName(error.code)));
}

Error FromGrpcStatus(const grpc::Status& status) {
  const std::optional<ErrorCode> named = ErrorCodeFromName(status.error_details());
  const ErrorCode code = named ? *named : ErrorCodeForGrpc(status.error_code());
  return Error{code, "server: " + std::string(GrpcCodeName(status.error_code())) + ": " + status.error_message()};
}

// ---- Client side -------------------------------------------------------

Result<attest::VerifiedEvidence> AttestPeerOnClient(ClientStream* stream, const grpc::ClientContext& context,
                                                    Role peer_role, const attest::Verifier& verifier,
                                                    const attest::AcceptableReferenceValues& reference_values,
                                                    NonceTracker& nonces) {
  auto nonce = nonces.Issue();
  if (!nonce) return Fail(nonce.error());
  if (auto sent = ClientWrite(stream, ChallengeFrame(*nonce)); !sent) return Fail(sent.error());
  auto frame = ClientRead(stream, SessionFrame::kEvidence);
  if (!frame) {
    (void)nonces.Consume(*nonce);
    return Fail(frame.error());
  }
  // The call is connected now: its auth context names the server's certificate.
  return VerifyFrame(*frame, SpkiOf(context.auth_context()), peer_role, *nonce, verifier, reference_values, nonces);
}

Status AttestSelfOnClient(ClientStream* stream, Role own_role, attest::Issuer& issuer, ByteView own_spki) {
  auto frame = ClientRead(stream, SessionFrame::kChallenge);
  if (!frame) return Fail(frame.error());
  auto nonce = NonceOf(*frame);
  if (!nonce) return Fail(nonce.error());
  auto evidence = EvidenceFrame(own_role, issuer, own_spki, *nonce);
  if (!evidence) return Fail(evidence.error());
  return ClientWrite(stream, *evidence);
}

Status ReadMessage(ClientStream* stream, google::protobuf::MessageLite* message) {
  auto frame = ClientRead(stream, SessionFrame::kMessage);
  if (!frame) return Fail(frame.error());
  Status parsed = ParseMessage(*frame, message);
  WipeMessage(*frame);
  return parsed;
}

Status WriteMessage(ClientStream* stream, const google::protobuf::MessageLite& message) {
  SessionFrame frame = MessageFrame(message);
  Status written = ClientWrite(stream, frame);
  WipeMessage(frame);
  return written;
}

ClientSession::ClientSession(const Starter& start, std::chrono::milliseconds deadline)
    : context_(std::make_unique<grpc::ClientContext>()) {
  context_->set_deadline(std::chrono::system_clock::now() + deadline);
  stream_ = start(context_.get());
  if (!stream_) {
    finished_ = true;
    final_status_ = Fail(ErrorCode::kInternal, "the stub did not start a stream");
  }
}

ClientSession::~ClientSession() {
  if (finished_) return;
  context_->TryCancel();
  (void)stream_->Finish();
}

Error ClientSession::Failed(Error local) {
  if (finished_) {
    return final_status_ ? local : final_status_.error();
  }
  if (local.code == ErrorCode::kNetwork) {
    // The server ended the call: its status says why.
    const Status final_status = Finish();
    return final_status ? local : final_status.error();
  }
  // Our own check failed: stop the call; the local error is the reason.
  context_->TryCancel();
  (void)Finish();
  return local;
}

Result<attest::VerifiedEvidence> ClientSession::AttestPeer(Role peer_role, const attest::Verifier& verifier,
                                                           const attest::AcceptableReferenceValues& reference_values,
                                                           NonceTracker& nonces) {
  if (finished_) return Fail(Failed(Error{ErrorCode::kNetwork, "the call has ended"}));
  auto verified = AttestPeerOnClient(stream_.get(), *context_, peer_role, verifier, reference_values, nonces);
  if (!verified) return Fail(Failed(verified.error()));
  return verified;
}

Status ClientSession::AttestSelf(Role own_role, attest::Issuer& issuer, ByteView own_spki) {
  if (finished_) return Fail(Failed(Error{ErrorCode::kNetwork, "the call has ended"}));
  if (auto ok = AttestSelfOnClient(stream_.get(), own_role, issuer, own_spki); !ok) return Fail(Failed(ok.error()));
  return {};
}

Status ClientSession::Send(const google::protobuf::MessageLite& message) {
  if (finished_) return Fail(Failed(Error{ErrorCode::kNetwork, "the call has ended"}));
  if (auto ok = WriteMessage(stream_.get(), message); !ok) return Fail(Failed(ok.error()));
  return {};
}

Status ClientSession::Receive(google::protobuf::MessageLite* message) {
  if (finished_) return Fail(Failed(Error{ErrorCode::kNetwork, "the call has ended"}));
  if (auto ok = ReadMessage(stream_.get(), message); !ok) return Fail(Failed(ok.error()));
  return {};
}

Status ClientSession::Finish() {
  if (finished_) return final_status_;
  finished_ = true;
  (void)stream_->WritesDone();
  const grpc::Status status = stream_->Finish();
  if (status.ok()) {
    final_status_ = {};
  } else {
    final_status_ = Fail(FromGrpcStatus(status));
  }
  return final_status_;
}

}  // namespace contrast::session
