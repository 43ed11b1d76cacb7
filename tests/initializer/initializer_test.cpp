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
using ::testing::StartsWith;
using namespace contrast::session::testing;
using std::chrono::milliseconds;

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

// The Coordinator's NewMeshCert, reduced to what the Initializer sees:
// verify the workload (rejecting the first `deny_first` attempts as if its
// policy were not in the manifest yet), then issue for its TLS key.
class TestCoordinator final : public v1::MeshAPI::Service {
 public:
  explicit TestCoordinator(int deny_first = 0) : ca_(Must(ca::CertificateAuthority::Generate())), deny_(deny_first) {}

  grpc::Status NewMeshCert(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<v1::SessionFrame, v1::SessionFrame>* stream) override {
    v1::NewMeshCertRequest request;
    if (auto read = session::ReadMessage(stream, *context, &request); !read) return session::ToGrpcStatus(read.error());
    const bool deny = deny_.fetch_sub(1) > 0;
    const session::AcceptableReferenceValues accepted = AcceptEmulated(deny ? kCoordinatorHostData : kWorkloadHostData);
    auto peer = session::AttestPeerOnServer(stream, *context, session::Role::kWorkload, verifier_, accepted, nonces_);
    if (!peer) return session::ToGrpcStatus(peer.error());
    auto spki = session::PeerSpkiDer(*context->auth_context());
    if (!spki) return session::ToGrpcStatus(spki.error());
    if (wrong_key_) spki = Must(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384)).PublicKeyDer());
    const std::vector<std::string> sans{"web", "web.default.svc"};
    auto certificate = ca_.IssueMeshCertificate(*spki, sans);
    if (!certificate) return session::ToGrpcStatus(certificate.error());
    v1::NewMeshCertResponse response;
    response.set_mesh_ca(ca_.mesh_ca_pem());
    response.set_cert_chain(certificate->chain_pem);
    response.set_root_ca(ca_.root_pem());
    issued_++;
    if (auto written = session::WriteMessage(stream, *context, response); !written) {
      return session::ToGrpcStatus(written.error());
    }
    return grpc::Status::OK;
  }

  const ca::CertificateAuthority& ca() const { return ca_; }
  int issued() const { return issued_.load(); }
  void IssueForWrongKey() { wrong_key_ = true; }

 private:
  ca::CertificateAuthority ca_;
  session::EvidenceVerifier verifier_;
  session::NonceTracker nonces_;
  std::atomic<int> deny_;
  std::atomic<int> issued_{0};
  std::atomic<bool> wrong_key_{false};
};

class TestServer {
 public:
  TestServer(grpc::Service& service, int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             Must(session::SessionServerCredentials(Must(session::SessionIdentity::Generate()))),
                             &port_);
    session::ConfigureSessionServer(builder);
    builder.RegisterService(&service);
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
  session::EmulatedEvidenceIssuer issuer_ = IssuerFor(kWorkloadHostData);
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
  coordinator.IssueForWrongKey();
  TestServer server(coordinator);
  InitializerConfig config = Config(server.target());
  config.timeout = milliseconds(300);
  auto done = RunInitializer(config, issuer_);
  ASSERT_FALSE(done);
  EXPECT_GE(log_.Count("not for this Initializer's key"), 1u) << log_.All();
  EXPECT_FALSE(fs::exists(TlsConfig("key.pem")));
  EXPECT_FALSE(fs::exists(TlsConfig("certChain.pem")));
}

TEST_F(InitializerTest, APlatformThatCannotAttestIsFatal) {
  TestCoordinator coordinator;
  TestServer server(coordinator);
  session::SnpEvidenceIssuer snp;  // not implemented yet: kUnsupported
  auto done = RunInitializer(Config(server.target()), snp);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(log_.Count("giving up"), 1u);
  EXPECT_EQ(log_.Count("retrying"), 0u);
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
    for (const char* name : {kCoordinatorHostEnv, attest::emulated::kSocketEnv, attest::emulated::kVmTokenEnv}) {
      ::unsetenv(name);
    }
  }
  void TearDown() override {
    for (const char* name : {kCoordinatorHostEnv, attest::emulated::kSocketEnv, attest::emulated::kVmTokenEnv}) {
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
  EXPECT_THAT(run.err, HasSubstr("evidence from emulated-snp (INSECURE)"));
  EXPECT_THAT(run.err, HasSubstr("received a mesh certificate"));
  EXPECT_EQ(*ReadTextFile(TlsConfig("mesh-ca.pem")), coordinator.ca().mesh_ca_pem());
  EXPECT_EQ(ModeOf(TlsConfig("key.pem")), 0400u);
}

}  // namespace
}  // namespace contrast::initializer
