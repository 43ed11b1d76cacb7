// The Initializer against a small test Coordinator (mesh API only) on
// loopback: attested session, certificate from a real CA, files on disk,
// retries while the Coordinator is away or rejects the pod.
#include "initializer/initializer.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/evidence_verifier.h"
#include "attest/tsm/configfs_tsm.h"
#include "ca/ca.h"
#include "common/files.h"
#include "contrast/meshapi.grpc.pb.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "session/credentials.h"
#include "session/fixtures.h"
#include "session/protocol.h"

namespace contrast::initializer {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace contrast::session::testing;
using std::chrono::milliseconds;

// The evidence source is never an outer environment's.
const std::string kTsmDirEnv(attest::tsm::kTsmDirEnv);

// The policy of a Coordinator that is not the expected one.
const attest::emulated::HostData kFakeCoordinatorHostData = Filled<32>(0xFA);

// The expected Coordinator: kCoordinatorHostData on the pinned emulator.
ExpectedCoordinator ExpectTheCoordinator() {
  ExpectedCoordinator expected;
  expected.policy_hashes = {manifest::PolicyHash{kCoordinatorHostData}};
  expected.reference_values = AcceptEmulated(kCoordinatorHostData);
  expected.insecure = true;
  return expected;
}

template <typename T>
T Must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().message);
  return std::move(*result);
}

unsigned ModeOf(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// A loopback port nobody listens on (yet).
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot pick a port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// How a TestCoordinator misbehaves in its first attempts.
enum class Misbehaviour {
  kIssueForAnotherKey,  // a certificate for some other key than the caller's
  kAnotherPolicy,       // attests with kFakeCoordinatorHostData
  kUnpinnedPlatform,    // attests from a VM of an emulator nobody pinned
  kNoAttestation,       // sends the answer without attesting itself
};

// The Coordinator's NewMeshCert, reduced to what the Initializer sees:
// verify the workload (rejecting the first `deny_first` attempts as if its
// policy were not in the manifest yet), attest itself as the Coordinator
// (kCoordinatorHostData), then issue for the workload's TLS key. After
// Misbehave(n, how) its next n answers are wrong in that way, and issued by
// another CA (fake_ca()), so a test sees whose answer was kept.
class TestCoordinator final : public v1::MeshAPI::Service {
 public:
  explicit TestCoordinator(int deny_first = 0) : deny_(deny_first) {}

  grpc::Status NewMeshCert(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<v1::SessionFrame, v1::SessionFrame>* stream) override {
    v1::NewMeshCertRequest request;
    if (auto read = session::ReadMessage(stream, *context, &request); !read) return session::ToGrpcStatus(read.error());
    const bool deny = deny_.fetch_sub(1) > 0;
    const attest::AcceptableReferenceValues accepted = AcceptEmulated(deny ? kCoordinatorHostData : kWorkloadHostData);
    auto peer = session::AttestPeerOnServer(stream, *context, session::Role::kWorkload, verifier_, accepted, nonces_);
    if (!peer) return session::ToGrpcStatus(peer.error());
    const std::optional<Misbehaviour> misbehaviour =
        misbehave_.fetch_sub(1) > 0 ? std::optional<Misbehaviour>(how_) : std::nullopt;
    if (misbehaviour != Misbehaviour::kNoAttestation) {
      attest::Issuer& issuer = misbehaviour == Misbehaviour::kAnotherPolicy      ? fake_issuer_
                               : misbehaviour == Misbehaviour::kUnpinnedPlatform ? unpinned_issuer_
                                                                                 : issuer_;
      if (auto attested =
              session::AttestSelfOnServer(stream, *context, session::Role::kCoordinator, issuer, identity_.spki_der());
          !attested) {
        return session::ToGrpcStatus(attested.error());
      }
    }
    auto spki = session::PeerSpkiDer(*context->auth_context());
    if (!spki) return session::ToGrpcStatus(spki.error());
    if (misbehaviour == Misbehaviour::kIssueForAnotherKey) {
      spki = Must(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384)).PublicKeyDer());
    }
    const ca::CertificateAuthority& ca = misbehaviour ? fake_ca_ : ca_;
    const std::vector<std::string> sans{"web", "web.default.svc"};
    auto certificate = ca.IssueMeshCertificate(*spki, sans);
    if (!certificate) return session::ToGrpcStatus(certificate.error());
    v1::NewMeshCertResponse response;
    response.set_mesh_ca(ca.mesh_ca_pem());
    response.set_cert_chain(certificate->chain_pem);
    response.set_root_ca(ca.root_pem());
    issued_++;
    if (auto written = session::WriteMessage(stream, *context, response); !written) {
      return session::ToGrpcStatus(written.error());
    }
    return grpc::Status::OK;
  }

  const ca::CertificateAuthority& ca() const { return ca_; }
  const ca::CertificateAuthority& fake_ca() const { return fake_ca_; }
  const session::SessionIdentity& identity() const { return identity_; }
  int issued() const { return issued_.load(); }
  // Set before the server starts.
  void Misbehave(int attempts, Misbehaviour how) {
    how_ = how;
    misbehave_ = attempts;
  }

 private:
  ca::CertificateAuthority ca_ = Must(ca::CertificateAuthority::Generate());
  ca::CertificateAuthority fake_ca_ = Must(ca::CertificateAuthority::Generate());
  session::SessionIdentity identity_ = Must(session::SessionIdentity::Generate());
  attest::emulated::InsecureEmulatedIssuer issuer_ = IssuerFor(kCoordinatorHostData);
  attest::emulated::InsecureEmulatedIssuer fake_issuer_ = IssuerFor(kFakeCoordinatorHostData);
  attest::emulated::InsecureEmulatedIssuer unpinned_issuer_ =
      IssuerFor(kCoordinatorHostData, kMeasurement, OtherEmulator());
  attest::EvidenceVerifier verifier_;
  session::NonceTracker nonces_;
  std::atomic<int> deny_;
  std::atomic<int> misbehave_{0};
  Misbehaviour how_ = Misbehaviour::kAnotherPolicy;
  std::atomic<int> issued_{0};
};

class TestServer {
 public:
  TestServer(TestCoordinator& coordinator, int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             Must(session::SessionServerCredentials(coordinator.identity())), &port_);
    session::ConfigureSessionServer(builder);
    builder.RegisterService(&coordinator);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error("test server did not start");
  }
  ~TestServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5)); }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Collects log lines; lets a test wait for one.
class LogRecorder {
 public:
  Logger AsLogger() {
    return [this](std::string_view line) {
      {
        std::lock_guard lock(mutex_);
        lines_.emplace_back(line);
      }
      changed_.notify_all();
    };
  }
  bool WaitFor(std::string_view needle) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(60), [&] { return CountLocked(needle) > 0; });
  }
  size_t Count(std::string_view needle) const {
    std::lock_guard lock(mutex_);
    return CountLocked(needle);
  }
  std::string All() const {
    std::lock_guard lock(mutex_);
    std::string all;
    for (const auto& line : lines_) all += line + "\n";
    return all;
  }

 private:
  size_t CountLocked(std::string_view needle) const {
    size_t n = 0;
    for (const auto& line : lines_) n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
};

class InitializerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "ctr-init-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override { fs::remove_all(dir_); }

  InitializerConfig Config(const std::string& target) {
    InitializerConfig config;
    config.coordinator = target;
    config.root_dir = dir_ / "contrast";
    config.retry_initial = milliseconds(20);
    config.retry_max = milliseconds(100);
    config.log = log_.AsLogger();
    return config;
  }
  fs::path TlsConfig(const std::string& name) const { return dir_ / "contrast" / "tls-config" / name; }

  fs::path dir_;
  LogRecorder log_;
  attest::emulated::InsecureEmulatedIssuer issuer_ = IssuerFor(kWorkloadHostData);
};

TEST_F(InitializerTest, WritesTheMeshCredentialsWithTheirModes) {
  TestCoordinator coordinator;
  TestServer server(coordinator);
  auto done = RunInitializer(Config(server.target()), issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();

  EXPECT_EQ(ModeOf(TlsConfig("mesh-ca.pem")), 0444u);
  EXPECT_EQ(ModeOf(TlsConfig("certChain.pem")), 0444u);
  EXPECT_EQ(ModeOf(TlsConfig("key.pem")), 0400u);
  EXPECT_EQ(ModeOf(TlsConfig("coordinator-root-ca.pem")), 0444u);

  const ca::CertificateAuthority& ca = coordinator.ca();
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), ca.mesh_ca_pem());
  EXPECT_EQ(*ReadTextFile(TlsConfig("coordinator-root-ca.pem")), ca.root_pem());
  auto chain = Must(crypto::Certificate::ParsePemChain(*ReadTextFile(TlsConfig("certChain.pem"))));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[1].Der(), ca.intermediate().Der());
  const crypto::Certificate& leaf = chain[0];

  // key.pem is the leaf's key, PKCS#8.
  const std::string key_pem = *ReadTextFile(TlsConfig("key.pem"));
  EXPECT_THAT(key_pem, StartsWith("-----BEGIN PRIVATE KEY-----"));
  auto key = crypto::PrivateKey::FromPkcs8Pem(key_pem);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_TRUE(key->Matches(leaf.PublicKey()));

  // The leaf verifies to mesh-ca.pem directly, and through the intermediate
  // to the root.
  const std::vector<crypto::Certificate> mesh_ca{ca.mesh_ca()};
  EXPECT_TRUE(crypto::VerifyChain(leaf, {}, mesh_ca, Now()));
  const std::vector<crypto::Certificate> intermediates{chain[1]};
  const std::vector<crypto::Certificate> root{ca.root()};
  EXPECT_TRUE(crypto::VerifyChain(leaf, intermediates, root, Now()));
  EXPECT_EQ(leaf.SubjectCommonName(), "web");
  EXPECT_EQ(log_.Count("wrote mesh-ca.pem"), 1u);

  // A second run (a restarted init container) replaces the read-only files.
  ASSERT_TRUE(RunInitializer(Config(server.target()), issuer_));
  EXPECT_NE(*ReadTextFile(TlsConfig("key.pem")), key_pem);
  EXPECT_EQ(coordinator.issued(), 2);
}

TEST_F(InitializerTest, RetriesUntilTheCoordinatorIsUp) {
  const int port = UnusedPort();
  const std::string target = "127.0.0.1:" + std::to_string(port);
  std::optional<Status> result;
  std::thread initializer([&] { result = RunInitializer(Config(target), issuer_); });
  // Start the Coordinator only after the Initializer has seen it missing.
  ASSERT_TRUE(log_.WaitFor("not reachable")) << log_.All();
  TestCoordinator coordinator;
  std::optional<TestServer> server;
  server.emplace(coordinator, port);
  initializer.join();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(*result) << result->error().message << "\n" << log_.All();
  EXPECT_GE(log_.Count("retrying in"), 1u);
  EXPECT_TRUE(fs::exists(TlsConfig("certChain.pem")));
}

TEST_F(InitializerTest, RejectedAttestationIsRetriedAndLogged) {
  TestCoordinator coordinator(/*deny_first=*/2);
  TestServer server(coordinator);
  auto done = RunInitializer(Config(server.target()), issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
  EXPECT_EQ(log_.Count("the Coordinator rejected this pod's attestation"), 2u) << log_.All();
  EXPECT_EQ(log_.Count("PERMISSION_DENIED"), 2u) << log_.All();
  EXPECT_EQ(log_.Count("attempt 3: received a mesh certificate"), 1u) << log_.All();
}

TEST_F(InitializerTest, GivesUpAfterTheTimeoutWithTheLastReason) {
  InitializerConfig config = Config("127.0.0.1:" + std::to_string(UnusedPort()));
  config.timeout = milliseconds(300);
  auto done = RunInitializer(config, issuer_);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kTimeout);
  EXPECT_THAT(done.error().message, HasSubstr("last failure"));
  EXPECT_THAT(done.error().message, HasSubstr("not reachable"));
  EXPECT_FALSE(fs::exists(TlsConfig("key.pem")));
}

TEST_F(InitializerTest, CertificateForAnotherKeyIsNotWritten) {
  TestCoordinator coordinator;
  coordinator.Misbehave(1, Misbehaviour::kIssueForAnotherKey);
  TestServer server(coordinator);
  auto done = RunInitializer(Config(server.target()), issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
  EXPECT_EQ(log_.Count("not for this Initializer's key"), 1u) << log_.All();
  // What is on disk is the second answer's.
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
  EXPECT_EQ(coordinator.issued(), 2);
}

// An issuer on a platform that cannot produce evidence at all.
class UnsupportedIssuer final : public attest::Issuer {
 public:
  std::string_view platform() const override { return attest::kPlatformSnp; }
  Result<attest::Evidence> Issue(const attest::ReportData& /*report_data*/) override {
    return Fail(ErrorCode::kUnsupported, "this platform cannot issue evidence");
  }
};

TEST_F(InitializerTest, APlatformThatCannotAttestIsFatal) {
  TestCoordinator coordinator;
  TestServer server(coordinator);
  UnsupportedIssuer snp;
  auto done = RunInitializer(Config(server.target()), snp);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(log_.Count("giving up"), 1u);
  EXPECT_EQ(log_.Count("retrying"), 0u);
}

// ---- Attesting the Coordinator ----------------------------------------

TEST_F(InitializerTest, AcceptsTheExpectedCoordinator) {
  TestCoordinator coordinator;
  TestServer server(coordinator);
  InitializerConfig config = Config(server.target());
  config.expected_coordinator = ExpectTheCoordinator();
  auto done = RunInitializer(config, issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
  EXPECT_EQ(log_.Count("received a mesh certificate from the attested Coordinator at " + server.target() + " (policy " +
                       HexEncode(kCoordinatorHostData) + ")"),
            1u)
      << log_.All();
  EXPECT_EQ(log_.Count("NOT attested"), 0u) << log_.All();
}

// A fake Coordinator (valid evidence, another policy) answers first: its
// answer is not read; the real one that answers next is accepted.
TEST_F(InitializerTest, RefusesACoordinatorWithAnotherPolicyAndNamesBothDigests) {
  TestCoordinator coordinator;
  coordinator.Misbehave(2, Misbehaviour::kAnotherPolicy);
  TestServer server(coordinator);
  InitializerConfig config = Config(server.target());
  config.expected_coordinator = ExpectTheCoordinator();
  auto done = RunInitializer(config, issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
  EXPECT_EQ(log_.Count("the Coordinator at " + server.target() + " failed attestation, refusing it"), 2u) << log_.All();
  EXPECT_EQ(log_.Count("HOST_DATA: expected one of [" + HexEncode(kCoordinatorHostData) + "], got " +
                       HexEncode(kFakeCoordinatorHostData)),
            2u)
      << log_.All();
  EXPECT_EQ(log_.Count("retrying in"), 2u) << log_.All();
  EXPECT_EQ(log_.Count("the Coordinator rejected this pod"), 0u) << log_.All();
  EXPECT_EQ(log_.Count("attempt 3: received a mesh certificate from the attested Coordinator"), 1u) << log_.All();
  // Nothing the fake one handed out was kept.
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
  EXPECT_NE(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.fake_ca().mesh_ca_pem());
}

TEST_F(InitializerTest, RefusesACoordinatorOnAnUnpinnedPlatform) {
  TestCoordinator coordinator;
  // The right policy, but in a VM of an emulator nobody pinned.
  coordinator.Misbehave(1, Misbehaviour::kUnpinnedPlatform);
  TestServer server(coordinator);
  InitializerConfig config = Config(server.target());
  config.expected_coordinator = ExpectTheCoordinator();
  auto done = RunInitializer(config, issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
  EXPECT_EQ(log_.Count("failed attestation"), 1u) << log_.All();
  EXPECT_EQ(log_.Count("is not pinned"), 1u) << log_.All();
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
}

TEST_F(InitializerTest, WithoutAnExpectedCoordinatorItWarnsAndAccepts) {
  TestCoordinator coordinator;
  coordinator.Misbehave(1, Misbehaviour::kAnotherPolicy);
  TestServer server(coordinator);
  auto done = RunInitializer(Config(server.target()), issuer_);
  ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
  EXPECT_EQ(log_.Count("WARNING: the Coordinator is NOT attested"), 1u) << log_.All();
  EXPECT_EQ(log_.Count("attempt 1: received a mesh certificate from " + server.target() +
                       " (the Coordinator was NOT attested)"),
            1u)
      << log_.All();
  // It took the fake one's answer: that is what "not attested" means.
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.fake_ca().mesh_ca_pem());
}

// A server that answers without attesting (an older Coordinator, or a fake)
// breaks the protocol either way.
TEST_F(InitializerTest, ACoordinatorThatDoesNotAttestIsAProtocolError) {
  for (bool expected : {false, true}) {
    TestCoordinator coordinator;
    coordinator.Misbehave(1, Misbehaviour::kNoAttestation);
    TestServer server(coordinator);
    InitializerConfig config = Config(server.target());
    if (expected) config.expected_coordinator = ExpectTheCoordinator();
    auto done = RunInitializer(config, issuer_);
    ASSERT_TRUE(done) << done.error().message << "\n" << log_.All();
    EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
  }
  EXPECT_EQ(log_.Count("attempt 1 failed"), 2u) << log_.All();
  EXPECT_EQ(log_.Count("protocol violation"), 2u) << log_.All();
}

TEST_F(InitializerTest, RejectsBadConfiguration) {
  InitializerConfig config = Config("127.0.0.1:1");
  config.retry_max = milliseconds(1);
  EXPECT_EQ(RunInitializer(config, issuer_).error().code, ErrorCode::kInvalidArgument);
  config = Config("");
  EXPECT_EQ(RunInitializer(config, issuer_).error().code, ErrorCode::kInvalidArgument);
}

TEST(ParseCoordinatorHostTest, AcceptsHostsPortsAndIpv6) {
  EXPECT_EQ(ParseCoordinatorHost("coordinator-ready.default").value_or(""), "coordinator-ready.default:7777");
  EXPECT_EQ(ParseCoordinatorHost("coordinator:1234").value_or(""), "coordinator:1234");
  EXPECT_EQ(ParseCoordinatorHost("127.0.0.1").value_or(""), "127.0.0.1:7777");
  EXPECT_EQ(ParseCoordinatorHost("[::1]:9000").value_or(""), "[::1]:9000");
  EXPECT_EQ(ParseCoordinatorHost("[fd00::1]").value_or(""), "[fd00::1]:7777");
  EXPECT_EQ(ParseCoordinatorHost("fd00::1").value_or(""), "[fd00::1]:7777");
}

TEST(ParseCoordinatorHostTest, RejectsWhatIsNoHost) {
  for (const char* bad :
       {"", "http://coordinator", "coordinator:", "coordinator:0", "coordinator:65536", "coordinator:77x",
        "coord inator", "coordinator/path", "[::1", "[nothost]:1", "a:b:c", "-coordinator", "[::1]x"}) {
    auto parsed = ParseCoordinatorHost(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.error().message, HasSubstr("COORDINATOR_HOST")) << bad;
  }
}

TEST(ParseDurationTest, UnitsAndErrors) {
  EXPECT_EQ(ParseDuration("1s").value_or(milliseconds(-1)), milliseconds(1000));
  EXPECT_EQ(ParseDuration("10").value_or(milliseconds(-1)), milliseconds(10000));
  EXPECT_EQ(ParseDuration("250ms").value_or(milliseconds(-1)), milliseconds(250));
  EXPECT_EQ(ParseDuration("2m").value_or(milliseconds(-1)), milliseconds(120000));
  EXPECT_EQ(ParseDuration("1h").value_or(milliseconds(-1)), milliseconds(3600000));
  EXPECT_EQ(ParseDuration("0").value_or(milliseconds(-1)), milliseconds(0));
  for (const char* bad : {"", "s", "1x", "-1s", "1.5s", "99999999999999999999", "1 s"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

// ---- The program (Main), in-process ------------------------------------

struct MainRun {
  int code;
  std::string out;
  std::string err;
};

MainRun RunMain(std::vector<std::string> args) {
  args.insert(args.begin(), "contrast-initializer");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = Main(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

class InitializerMainTest : public InitializerTest {
 protected:
  void SetUp() override {
    InitializerTest::SetUp();
    for (const char* name : {kCoordinatorHostEnv, attest::emulated::kSocketEnv, attest::emulated::kVmTokenEnv,
                             kCoordinatorPolicyHashesEnv, kCoordinatorReferenceValuesEnv, kTsmDirEnv.c_str()}) {
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : {kCoordinatorHostEnv, attest::emulated::kSocketEnv, attest::emulated::kVmTokenEnv,
                             kCoordinatorPolicyHashesEnv, kCoordinatorReferenceValuesEnv, kTsmDirEnv.c_str()}) {
      ::unsetenv(name);
    }
    InitializerTest::TearDown();
  }
};

TEST_F(InitializerMainTest, BadOrMissingCoordinatorHostIsAUsageError) {
  const MainRun missing = RunMain({});
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("COORDINATOR_HOST is required"));

  ::setenv(kCoordinatorHostEnv, "https://coordinator:7777", 1);
  const MainRun url = RunMain({});
  EXPECT_EQ(url.code, 2);
  EXPECT_THAT(url.err, HasSubstr("not a URL"));

  ::setenv(kCoordinatorHostEnv, "coordinator:99999", 1);
  const MainRun port = RunMain({});
  EXPECT_EQ(port.code, 2);
  EXPECT_THAT(port.err, HasSubstr("1..65535"));

  ::setenv(kCoordinatorHostEnv, "coordinator", 1);
  const MainRun duration = RunMain({"--timeout", "soon"});
  EXPECT_EQ(duration.code, 2);
  EXPECT_THAT(duration.err, HasSubstr("--timeout"));

  EXPECT_EQ(RunMain({"--help"}).code, 0);
}

// The variables `contrast generate` writes, for the test Coordinator.
std::vector<std::pair<std::string, std::string>> ExpectedCoordinatorVariables() {
  manifest::ReferenceValues reference_values;
  reference_values.emulated.push_back(
      attest::emulated::InsecureEmulatedReferenceValues{EmulatedEntry(), crypto::Sha256(Emulator().ark_der())});
  return ExpectedCoordinatorEnv({manifest::PolicyHash{kCoordinatorHostData}}, reference_values);
}

TEST_F(InitializerMainTest, MalformedOrHalfAnExpectedCoordinatorIsAUsageError) {
  ::setenv(kCoordinatorHostEnv, "coordinator", 1);
  const auto variables = ExpectedCoordinatorVariables();
  const std::string& hashes = variables[0].second;
  const std::string& values = variables[1].second;
  const struct {
    std::optional<std::string> hashes;
    std::optional<std::string> values;
    std::vector<std::string> args;
    std::string names;
  } cases[] = {
      {"c0ffee", values, {}, kCoordinatorPolicyHashesEnv},
      {"", values, {}, kCoordinatorPolicyHashesEnv},
      {hashes + "," + hashes, values, {}, "listed twice"},
      {hashes, "{\"snp\": [", {}, kCoordinatorReferenceValuesEnv},
      {hashes, "", {}, kCoordinatorReferenceValuesEnv},
      {hashes, "{\"emulated\": [{}]}", {}, "ReferenceValues.emulated[0]"},
      {hashes, std::nullopt, {}, std::string(kCoordinatorReferenceValuesEnv) + " is not set"},
      {std::nullopt, values, {}, std::string(kCoordinatorPolicyHashesEnv) + " is not set"},
      // The pod's policy pins the command line, not the presence of variables.
      {std::nullopt, std::nullopt, {kRequireCoordinatorAttestationFlag}, kRequireCoordinatorAttestationFlag},
  };
  for (const auto& c : cases) {
    ::unsetenv(kCoordinatorPolicyHashesEnv);
    ::unsetenv(kCoordinatorReferenceValuesEnv);
    if (c.hashes) ::setenv(kCoordinatorPolicyHashesEnv, c.hashes->c_str(), 1);
    if (c.values) ::setenv(kCoordinatorReferenceValuesEnv, c.values->c_str(), 1);
    const MainRun run = RunMain(c.args);
    EXPECT_EQ(run.code, 2) << c.names << "\n" << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.names));
    EXPECT_THAT(run.err, Not(HasSubstr("requesting a mesh certificate")));
  }
}

TEST_F(InitializerMainTest, EndToEndWithTheEmulatorDaemon) {
  auto daemon = attest::emulated::Daemon::Start(Emulator(), dir_ / "sp.sock");
  ASSERT_TRUE(daemon) << daemon.error().message;
  // What `contrast emulate run --policy ...` does for the pod.
  auto token = attest::emulated::RegisterVmWithDaemon((*daemon)->guest_socket(), kMeasurement, kWorkloadHostData);
  ASSERT_TRUE(token) << token.error().message;
  ::setenv(attest::emulated::kSocketEnv, (*daemon)->guest_socket().c_str(), 1);
  ::setenv(attest::emulated::kVmTokenEnv, token->c_str(), 1);

  TestCoordinator coordinator;
  TestServer server(coordinator);
  ::setenv(kCoordinatorHostEnv, server.target().c_str(), 1);
  const MainRun run =
      RunMain({"--root-dir", (dir_ / "contrast").string(), "--retry-initial", "20ms", "--timeout", "60s"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.err, HasSubstr("attestation: emulated-snp (INSECURE) evidence from the emulator daemon at " +
                                 (*daemon)->guest_socket().string()));
  EXPECT_THAT(run.err, HasSubstr("received a mesh certificate"));
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
  EXPECT_EQ(ModeOf(TlsConfig("key.pem")), 0400u);
  EXPECT_THAT(run.err, HasSubstr("NOT attested"));

  // As `contrast generate` configures it: the Coordinator is attested.
  for (const auto& [name, value] : ExpectedCoordinatorVariables()) ::setenv(name.c_str(), value.c_str(), 1);
  const MainRun attested = RunMain({"--root-dir", (dir_ / "contrast").string(), "--retry-initial", "20ms", "--timeout",
                                    "60s", kRequireCoordinatorAttestationFlag});
  ASSERT_EQ(attested.code, 0) << attested.err;
  EXPECT_THAT(attested.err, HasSubstr("received a mesh certificate from the attested Coordinator"));
  EXPECT_THAT(attested.err, Not(HasSubstr("NOT attested")));
}

}  // namespace
}  // namespace contrast::initializer
