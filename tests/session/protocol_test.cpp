// The session protocol over real gRPC TLS on loopback: both directions,
// replay and binding attacks, expiry, malformed frames, concurrency.
#include "session/protocol.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/evidence_verifier.h"
#include "contrast/meshapi.grpc.pb.h"
#include "contrast/userapi.grpc.pb.h"
#include "fixtures.h"
#include "session/admission.h"
#include "session/credentials.h"

namespace contrast::session {
namespace {

using ::testing::HasSubstr;
using namespace contrast::session::testing;
using v1::SessionFrame;

template <typename T>
T Must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().message);
  return std::move(*result);
}

// Mesh API as the Coordinator serves it: the client attests as a workload.
class TestMeshService final : public v1::MeshAPI::Service {
 public:
  TestMeshService(const attest::EvidenceVerifier& verifier, attest::AcceptableReferenceValues reference_values,
                  NonceTracker& nonces, SessionOptions options = {})
      : verifier_(verifier), reference_values_(std::move(reference_values)), nonces_(nonces), options_(options) {}

  grpc::Status NewMeshCert(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<SessionFrame, SessionFrame>* stream) override {
    std::optional<AdmissionTicket> ticket;
    if (admission != nullptr) {
      auto admitted = admission->Admit(*context);
      if (!admitted) return Record(admitted.error());
      ticket.emplace(std::move(*admitted));
    }
    v1::NewMeshCertRequest request;
    if (auto read = ReadMessage(stream, *context, &request, options_); !read) return Record(read.error());
    auto peer = AttestPeerOnServer(stream, *context, Role::kWorkload, verifier_, reference_values_, nonces_, options_);
    if (!peer) return Record(peer.error());
    std::this_thread::sleep_for(pause_after_attestation);
    v1::NewMeshCertResponse response;
    response.set_cert_chain("certificate for " + HexEncode(peer->host_data()));
    accepted_++;
    if (auto written = WriteMessage(stream, *context, response); !written) return Record(written.error());
    return grpc::Status::OK;
  }

  std::optional<Error> last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }
  // The handler may still be unwinding when the client sees the call end.
  std::optional<Error> WaitForError() const {
    std::unique_lock lock(mutex_);
    recorded_.wait_for(lock, std::chrono::seconds(30), [&] { return last_error_.has_value(); });
    return last_error_;
  }
  int accepted() const { return accepted_.load(); }

  // When set, every call takes a ticket first (as the Coordinator's do).
  AdmissionControl* admission = nullptr;
  std::chrono::milliseconds pause_after_attestation{0};

 private:
  grpc::Status Record(const Error& error) {
    {
      std::lock_guard lock(mutex_);
      last_error_ = error;
    }
    recorded_.notify_all();
    return ToGrpcStatus(error);
  }

  const attest::EvidenceVerifier& verifier_;
  attest::AcceptableReferenceValues reference_values_;
  NonceTracker& nonces_;
  SessionOptions options_;
  mutable std::mutex mutex_;
  mutable std::condition_variable recorded_;
  std::optional<Error> last_error_;
  std::atomic<int> accepted_{0};
};

// User API as the Coordinator serves it: the server attests as the coordinator.
class TestUserService final : public v1::UserAPI::Service {
 public:
  TestUserService(attest::Issuer& issuer, Bytes bound_spki) : issuer_(issuer), bound_spki_(std::move(bound_spki)) {}

  grpc::Status GetVersion(grpc::ServerContext* /*context*/, const v1::VersionRequest* /*request*/,
                          v1::VersionResponse* response) override {
    response->set_version("test");
    return grpc::Status::OK;
  }

  grpc::Status SetManifest(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<SessionFrame, SessionFrame>* stream) override {
    if (auto attested = AttestSelfOnServer(stream, *context, Role::kCoordinator, issuer_, bound_spki_); !attested) {
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
  Bytes bound_spki_;
};

class TestServer {
 public:
  TestServer(const SessionIdentity& identity, std::vector<grpc::Service*> services) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", Must(SessionServerCredentials(identity)), &port_);
    ConfigureSessionServer(builder);
    for (grpc::Service* service : services) builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error("test server did not start");
  }
  ~TestServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); }

  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A workload client of the mesh API.
struct MeshClient {
  explicit MeshClient(const std::string& target)
      : identity(Must(SessionIdentity::Generate())),
        stub(v1::MeshAPI::NewStub(Must(CreateSessionChannel(target, identity)))) {}

  // The whole NewMeshCert exchange; `spki` is what the evidence binds.
  Result<v1::NewMeshCertResponse> NewMeshCert(attest::Issuer& issuer, std::optional<Bytes> spki = std::nullopt) {
    ClientSession call([&](grpc::ClientContext* c) { return stub->NewMeshCert(c); });
    if (auto sent = call.Send(v1::NewMeshCertRequest{}); !sent) return Fail(sent.error());
    if (auto attested = call.AttestSelf(Role::kWorkload, issuer, spki ? *spki : identity.spki_der()); !attested) {
      return Fail(attested.error());
    }
    v1::NewMeshCertResponse response;
    if (auto received = call.Receive(&response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return response;
  }

  SessionIdentity identity;
  std::unique_ptr<v1::MeshAPI::Stub> stub;
};

class MeshSession : public ::testing::Test {
 protected:
  MeshSession() : server_identity_(Must(SessionIdentity::Generate())) {}

  void Start(attest::AcceptableReferenceValues reference_values, SessionOptions options = {}) {
    service_.emplace(verifier_, std::move(reference_values), nonces_, options);
    server_.emplace(server_identity_, std::vector<grpc::Service*>{&*service_});
  }

  // A raw stream to the mesh API, for sending what no proper client sends.
  struct RawCall {
    grpc::ClientContext context;
    std::unique_ptr<ClientStream> stream;
  };
  std::unique_ptr<RawCall> Raw(const grpc::ChannelArguments& args = SessionChannelArguments()) {
    auto identity = Must(SessionIdentity::Generate());
    auto channel = grpc::CreateCustomChannel(server_->target(), Must(SessionChannelCredentials(identity)), args);
    raw_stub_ = v1::MeshAPI::NewStub(channel);
    auto call = std::make_unique<RawCall>();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->stream = raw_stub_->NewMeshCert(&call->context);
    return call;
  }

  static SessionFrame MessageFrame() {
    SessionFrame frame;
    frame.set_message(v1::NewMeshCertRequest{}.SerializeAsString());
    return frame;
  }

  // Every call takes a ticket from an AdmissionControl with `limits`.
  void Admit(AdmissionLimits limits) {
    admission_.emplace(limits, [this](std::string_view reason) {
      std::lock_guard lock(refusals_mutex_);
      ++refusals_[std::string(reason)];
    });
    service_->admission = &*admission_;
  }
  std::map<std::string, int> Refusals() {
    std::lock_guard lock(refusals_mutex_);
    return refusals_;
  }

  attest::EvidenceVerifier verifier_;
  FakeClock clock_;
  NonceTracker nonces_{NonceTracker::kMaxLifetime, clock_.AsClock()};
  SessionIdentity server_identity_;
  // Before the service and server: handlers hold tickets until they return.
  std::mutex refusals_mutex_;
  std::map<std::string, int> refusals_;
  std::optional<AdmissionControl> admission_;
  std::optional<TestMeshService> service_;
  std::optional<TestServer> server_;
  std::unique_ptr<v1::MeshAPI::Stub> raw_stub_;
};

TEST_F(MeshSession, ServerAcceptsAnAttestedWorkload) {
  Start(AcceptEmulated(kWorkloadHostData));
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  auto response = client.NewMeshCert(issuer);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->cert_chain(), "certificate for " + HexEncode(kWorkloadHostData));
  EXPECT_EQ(service_->accepted(), 1);
  EXPECT_EQ(nonces_.outstanding(), 0u);
}

TEST_F(MeshSession, ReplayedEvidenceIsRejected) {
  Start(AcceptEmulated(kWorkloadHostData));
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  RecordingIssuer recorder(issuer);
  ASSERT_TRUE(client.NewMeshCert(recorder));
  ASSERT_TRUE(recorder.last());

  // Same client key, same VM: only the nonce differs.
  ReplayIssuer replay(*recorder.last());
  auto replayed = client.NewMeshCert(replay);
  ASSERT_FALSE(replayed);
  EXPECT_EQ(replayed.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(replayed.error().message, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(replayed.error().message, HasSubstr("not bound to this session"));
  EXPECT_EQ(service_->accepted(), 1);
}

TEST_F(MeshSession, EvidenceBoundToAnotherTlsKeyIsRejected) {
  Start(AcceptEmulated(kWorkloadHostData));
  MeshClient client(server_->target());
  const SessionIdentity other = Must(SessionIdentity::Generate());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  auto rejected = client.NewMeshCert(issuer, other.spki_der());
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(rejected.error().message, HasSubstr("REPORT_DATA"));
  ASSERT_TRUE(service_->last_error());
  EXPECT_THAT(service_->last_error()->message, HasSubstr("attestation of the workload"));
}

TEST_F(MeshSession, EvidenceAfterTheNonceExpiredIsRejected) {
  Start(AcceptEmulated(kWorkloadHostData));
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  SlowIssuer slow(issuer, clock_, std::chrono::seconds(61));
  auto rejected = client.NewMeshCert(slow);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kTimeout);
  EXPECT_THAT(rejected.error().message, HasSubstr("nonce expired"));
}

TEST_F(MeshSession, WrongMeasurementOrHostDataIsRejectedWithTheValidationMessage) {
  attest::AcceptableReferenceValues rv = AcceptEmulated(kWorkloadHostData);
  rv.emulated[0].snp.trusted_measurement = Filled<48>(0x11);
  Start(rv);
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer right_host_data = IssuerFor(kWorkloadHostData);
  auto measurement = client.NewMeshCert(right_host_data);
  ASSERT_FALSE(measurement);
  EXPECT_EQ(measurement.error().code, ErrorCode::kMeasurementMismatch);
  EXPECT_THAT(measurement.error().message,
              HasSubstr("ReferenceValues.emulated[0]: MEASUREMENT: expected " + HexEncode(Filled<48>(0x11))));

  attest::emulated::InsecureEmulatedIssuer other_host_data = IssuerFor(Filled<32>(0x99), Filled<48>(0x11));
  auto host_data = client.NewMeshCert(other_host_data);
  ASSERT_FALSE(host_data);
  EXPECT_THAT(host_data.error().message, HasSubstr("HOST_DATA"));
  EXPECT_THAT(host_data.error().message, HasSubstr(HexEncode(Filled<32>(0x99))));
  EXPECT_EQ(service_->accepted(), 0);
}

TEST_F(MeshSession, UnpinnedEmulatedRootIsRejected) {
  Start(AcceptEmulated(kWorkloadHostData));
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer foreign = IssuerFor(kWorkloadHostData, kMeasurement, OtherEmulator());
  auto rejected = client.NewMeshCert(foreign);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kUntrustedRoot);
  EXPECT_THAT(rejected.error().message, HasSubstr("not pinned"));
}

TEST_F(MeshSession, FramesOutOfOrderOrEmptyGiveInvalidArgument) {
  Start(AcceptEmulated(kWorkloadHostData));
  {  // Evidence before the request.
    auto call = Raw();
    SessionFrame evidence;
    evidence.mutable_evidence()->set_platform("emulated-snp");
    ASSERT_TRUE(call->stream->Write(evidence));
    const grpc::Status status = call->stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("expected message, received evidence"));
  }
  {  // An empty frame where evidence belongs.
    auto call = Raw();
    ASSERT_TRUE(call->stream->Write(MessageFrame()));
    SessionFrame challenge;
    ASSERT_TRUE(call->stream->Read(&challenge));
    EXPECT_EQ(challenge.challenge().nonce().size(), kNonceSize);
    ASSERT_TRUE(call->stream->Write(SessionFrame{}));
    const grpc::Status status = call->stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("empty frame"));
  }
  {  // A request that is not a NewMeshCertRequest.
    auto call = Raw();
    SessionFrame bad;
    bad.set_message("\xff\xff\xff");
    ASSERT_TRUE(call->stream->Write(bad));
    const grpc::Status status = call->stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("not a valid contrast.v1.NewMeshCertRequest"));
  }
  EXPECT_EQ(nonces_.outstanding(), 0u);
}

TEST_F(MeshSession, GarbageEvidenceGivesACleanError) {
  Start(AcceptEmulated(kWorkloadHostData));
  struct Case {
    const char* name;
    std::string platform;
    std::string report;
    std::string chain;
  };
  const std::string chain = Emulator().ask_pem() + Emulator().ark_pem();
  const Case cases[] = {
      {"unknown platform", "sev-es", "", ""},
      {"garbage report", "emulated-snp", std::string(0x4A0, '\x5A'), chain},
      {"garbage chain", "emulated-snp", std::string(0x4A0, '\x5A'), "-----BEGIN CERTIFICATE-----\nAAAA\n"},
  };
  for (const Case& c : cases) {
    auto call = Raw();
    ASSERT_TRUE(call->stream->Write(MessageFrame()));
    SessionFrame challenge;
    ASSERT_TRUE(call->stream->Read(&challenge));
    SessionFrame evidence;
    evidence.mutable_evidence()->set_platform(c.platform);
    evidence.mutable_evidence()->set_report(c.report);
    evidence.mutable_evidence()->set_cert_chain(c.chain);
    ASSERT_TRUE(call->stream->Write(evidence));
    const grpc::Status status = call->stream->Finish();
    EXPECT_FALSE(status.ok()) << c.name;
    EXPECT_EQ(status.error_details(), "parse") << c.name << ": " << status.error_message();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
  }
}

TEST_F(MeshSession, RealPlatformEvidenceNeedsAnEntryForIt) {
  Start(AcceptEmulated(kWorkloadHostData));
  auto call = Raw();
  ASSERT_TRUE(call->stream->Write(MessageFrame()));
  SessionFrame challenge;
  ASSERT_TRUE(call->stream->Read(&challenge));
  SessionFrame evidence;
  evidence.mutable_evidence()->set_platform("snp");
  evidence.mutable_evidence()->set_report("\x01\x02");
  ASSERT_TRUE(call->stream->Write(evidence));
  const grpc::Status status = call->stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("no entry for platform \"snp\""));
}

TEST_F(MeshSession, OversizedFramesAreRefusedAndTheServerCarriesOn) {
  Start(AcceptEmulated(kWorkloadHostData));
  {
    grpc::ChannelArguments unlimited = SessionChannelArguments();  // the client would refuse to send it otherwise
    unlimited.SetMaxSendMessageSize(-1);
    auto call = Raw(unlimited);
    SessionFrame huge;
    huge.set_message(std::string(kMaxFrameSize + 1024, 'x'));
    call->stream->Write(huge);  // may or may not report the failure
    const grpc::Status status = call->stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  auto response = client.NewMeshCert(issuer);
  EXPECT_TRUE(response) << response.error().message;
}

TEST_F(MeshSession, SilentClientsAreCutOffByTheServer) {
  SessionOptions options;
  options.step_timeout = std::chrono::milliseconds(200);
  Start(AcceptEmulated(kWorkloadHostData), options);
  auto call = Raw();
  ASSERT_TRUE(call->stream->Write(MessageFrame()));
  SessionFrame challenge;
  ASSERT_TRUE(call->stream->Read(&challenge));
  // ... and never answer.
  SessionFrame none;
  EXPECT_FALSE(call->stream->Read(&none));
  // The server cancels the call.
  EXPECT_EQ(call->stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const std::optional<Error> error = service_->WaitForError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kTimeout);
  EXPECT_THAT(error->message, HasSubstr("no evidence from the client within 200 ms"));
}

// An admitted session must be attested within its opening deadline, however
// long each step may take.
TEST_F(MeshSession, AdmittedSessionsAreCutOffAtTheOpeningDeadline) {
  Start(AcceptEmulated(kWorkloadHostData));  // 30 s per step
  Admit({.opening_timeout = std::chrono::milliseconds(300)});
  auto call = Raw();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(call->stream->Write(MessageFrame()));
  SessionFrame challenge;
  ASSERT_TRUE(call->stream->Read(&challenge));
  SessionFrame none;
  EXPECT_FALSE(call->stream->Read(&none));  // the evidence never comes
  EXPECT_EQ(call->stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  const std::optional<Error> error = service_->WaitForError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kTimeout);
  EXPECT_THAT(error->message, HasSubstr("no evidence from the client by the session's opening deadline"));
  EXPECT_EQ(Refusals(), (std::map<std::string, int>{{"opening-timeout", 1}}));
}

// Once attested, the session has the ordinary step timeout again and leaves
// the unattested count.
TEST_F(MeshSession, TheOpeningDeadlineEndsWithAttestation) {
  Start(AcceptEmulated(kWorkloadHostData));
  Admit({.opening_timeout = std::chrono::milliseconds(300)});
  service_->pause_after_attestation = std::chrono::milliseconds(800);
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  auto response = client.NewMeshCert(issuer);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(service_->accepted(), 1);
  EXPECT_TRUE(Refusals().empty());
}

// A refused session costs the server no crypto: it ends before a frame is
// read or a nonce drawn, and the client learns why.
TEST_F(MeshSession, RefusedSessionsEndAtOnceWithResourceExhausted) {
  Start(AcceptEmulated(kWorkloadHostData));
  Admit({.max_sessions_per_peer = 1});
  auto holder = Raw();
  ASSERT_TRUE(holder->stream->Write(MessageFrame()));
  SessionFrame challenge;
  ASSERT_TRUE(holder->stream->Read(&challenge));  // admitted, now attesting
  ASSERT_EQ(nonces_.outstanding(), 1u);
  MeshClient client(server_->target());
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  auto refused = client.NewMeshCert(issuer);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted) << refused.error().message;
  EXPECT_THAT(refused.error().message, HasSubstr("RESOURCE_EXHAUSTED: too many sessions from 127.0.0.1"));
  EXPECT_EQ(nonces_.outstanding(), 1u);
  EXPECT_EQ(Refusals(), (std::map<std::string, int>{{"peer-limit", 1}}));
}

TEST_F(MeshSession, ManyConcurrentSessionsSucceed) {
  Start(AcceptEmulated(kWorkloadHostData));
  constexpr int kSessions = 32;
  std::vector<std::thread> threads;
  std::atomic<int> succeeded{0};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&] {
      attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
      // A connection attempt can fail transiently while 32 are made at once
      // on a loaded machine (UNAVAILABLE before any session step); real
      // clients retry those, and so does this one. Sessions must all succeed.
      auto response = MeshClient(server_->target()).NewMeshCert(issuer);
      for (int retry = 0; retry < 3 && !response && response.error().message.find("UNAVAILABLE") != std::string::npos;
           ++retry) {
        response = MeshClient(server_->target()).NewMeshCert(issuer);
      }
      if (response) {
        succeeded++;
      } else {
        std::lock_guard lock(errors_mutex);
        errors.push_back(response.error().message);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(succeeded.load(), kSessions) << (errors.empty() ? "" : errors.front());
  EXPECT_EQ(service_->accepted(), kSessions);
  EXPECT_EQ(nonces_.outstanding(), 0u);
}

// ---- Client verifies server (user API) ---------------------------------

class UserSession : public ::testing::Test {
 protected:
  UserSession()
      : server_identity_(Must(SessionIdentity::Generate())), client_identity_(Must(SessionIdentity::Generate())) {}

  void Start(attest::Issuer& issuer, std::optional<Bytes> bound_spki = std::nullopt) {
    service_.emplace(issuer, bound_spki ? *bound_spki : server_identity_.spki_der());
    server_.emplace(server_identity_, std::vector<grpc::Service*>{&*service_});
    stub_ = v1::UserAPI::NewStub(Must(CreateSessionChannel(server_->target(), client_identity_)));
  }

  // Attest the Coordinator, then set a manifest.
  Result<v1::SetManifestResponse> SetManifest(const attest::AcceptableReferenceValues& rv) {
    ClientSession call([&](grpc::ClientContext* c) { return stub_->SetManifest(c); });
    auto coordinator = call.AttestPeer(Role::kCoordinator, verifier_, rv, nonces_);
    if (!coordinator) return Fail(coordinator.error());
    if (coordinator->host_data() != kCoordinatorHostData) return Fail(ErrorCode::kInternal, "wrong host data");
    v1::SetManifestRequest request;
    request.set_manifest("{}");
    if (auto sent = call.Send(request); !sent) return Fail(sent.error());
    v1::SetManifestResponse response;
    if (auto received = call.Receive(&response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return response;
  }

  attest::EvidenceVerifier verifier_;
  NonceTracker nonces_;
  SessionIdentity server_identity_;
  SessionIdentity client_identity_;
  std::optional<TestUserService> service_;
  std::optional<TestServer> server_;
  std::unique_ptr<v1::UserAPI::Stub> stub_;
};

TEST_F(UserSession, ClientAcceptsAnAttestedCoordinator) {
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kCoordinatorHostData);
  Start(issuer);
  auto response = SetManifest(AcceptEmulated(kCoordinatorHostData));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->root_ca(), "root for {}");
  EXPECT_EQ(nonces_.outstanding(), 0u);

  grpc::ClientContext context;
  v1::VersionResponse version;
  ASSERT_TRUE(stub_->GetVersion(&context, v1::VersionRequest{}, &version).ok());
  EXPECT_EQ(version.version(), "test");
}

TEST_F(UserSession, ClientRejectsACoordinatorBoundToAnotherKey) {
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kCoordinatorHostData);
  const SessionIdentity elsewhere = Must(SessionIdentity::Generate());
  Start(issuer, elsewhere.spki_der());
  auto rejected = SetManifest(AcceptEmulated(kCoordinatorHostData));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(rejected.error().message, HasSubstr("attestation of the coordinator"));
  EXPECT_THAT(rejected.error().message, HasSubstr("not bound to this session"));
}

TEST_F(UserSession, ClientRejectsAWorkloadPosingAsCoordinator) {
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kWorkloadHostData);
  Start(issuer);
  auto rejected = SetManifest(AcceptEmulated(kCoordinatorHostData));
  ASSERT_FALSE(rejected);
  EXPECT_THAT(rejected.error().message, HasSubstr("HOST_DATA"));
}

TEST_F(UserSession, ClientSurvivesAServerThatSendsGarbage) {
  ReplayIssuer garbage(Evidence{"snp", Bytes(0x4A0, 0x77), Bytes{1, 2, 3}, "", {}});
  Start(garbage);
  auto rejected = SetManifest(AcceptEmulated(kCoordinatorHostData));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kValidationFailed);  // no "snp" entry in the reference values
  attest::AcceptableReferenceValues snp;
  snp.snp.push_back(EmulatedEntry());
  snp.allowed_host_data.push_back(kCoordinatorHostData);
  auto parse = SetManifest(snp);
  ASSERT_FALSE(parse);
  EXPECT_EQ(parse.error().code, ErrorCode::kParse) << parse.error().message;
}

TEST_F(UserSession, ServerRejectsBadChallenges) {
  attest::emulated::InsecureEmulatedIssuer issuer = IssuerFor(kCoordinatorHostData);
  Start(issuer);
  {
    grpc::ClientContext context;
    auto stream = stub_->SetManifest(&context);
    SessionFrame frame;
    frame.mutable_challenge()->set_nonce("short");
    ASSERT_TRUE(stream->Write(frame));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("challenge.nonce: expected 32 bytes, got 5"));
  }
  {
    grpc::ClientContext context;
    auto stream = stub_->SetManifest(&context);
    SessionFrame frame;
    frame.set_message("hello");
    ASSERT_TRUE(stream->Write(frame));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("expected challenge, received message"));
  }
  {  // The client goes away right after its challenge: the server just ends.
    auto context = std::make_unique<grpc::ClientContext>();
    auto stream = stub_->SetManifest(context.get());
    SessionFrame frame;
    frame.mutable_challenge()->set_nonce(std::string(kNonceSize, '\0'));
    ASSERT_TRUE(stream->Write(frame));
    context->TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  auto response = SetManifest(AcceptEmulated(kCoordinatorHostData));
  EXPECT_TRUE(response) << response.error().message;
}

TEST(SessionStatus, ErrorCodesSurviveTheWire) {
  for (ErrorCode code : {ErrorCode::kMeasurementMismatch, ErrorCode::kParse, ErrorCode::kTimeout,
                         ErrorCode::kUntrustedRoot, ErrorCode::kInternal}) {
    const grpc::Status status = ToGrpcStatus(Error{code, "why"});
    const Error back = FromGrpcStatus(status);
    EXPECT_EQ(back.code, code);
    EXPECT_THAT(back.message, HasSubstr("why"));
  }
  EXPECT_EQ(ToGrpcStatus(Error{ErrorCode::kTcbTooLow, ""}).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ToGrpcStatus(Error{ErrorCode::kParse, ""}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const Error plain = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  EXPECT_EQ(plain.code, ErrorCode::kNetwork);
  EXPECT_EQ(plain.message, "server: UNAVAILABLE: down");
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "", "no-such-code")).code,
            ErrorCode::kTimeout);
}

}  // namespace
}  // namespace contrast::session
