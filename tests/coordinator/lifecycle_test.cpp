// The Coordinator as a process: probes and metrics over real HTTP, startup
// errors, graceful stop, and no threads or descriptors left behind.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http.h"
#include "harness.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class Lifecycle : public CoordinatorTest {
 protected:
  http::Response Get(const std::string& path) { return Must(http::Get(ProbeUrl(path))); }
};

TEST_F(Lifecycle, BindsThreeDistinctPorts) {
  EXPECT_NE(coordinator_->user_api_port(), 0);
  EXPECT_NE(coordinator_->mesh_api_port(), 0);
  EXPECT_NE(coordinator_->probe_port(), 0);
  EXPECT_NE(coordinator_->user_api_port(), coordinator_->mesh_api_port());
  EXPECT_NE(coordinator_->user_api_port(), coordinator_->probe_port());
}

TEST_F(Lifecycle, ProbesFollowTheState) {
  EXPECT_EQ(Get("/probe/startup").status, 200);
  EXPECT_EQ(Get("/probe/liveness").status, 200);
  const http::Response not_ready = Get("/probe/readiness");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(ToString(not_ready.body), "no manifest set\n");
  EXPECT_EQ(Get("/no/such/path").status, 404);

  SetFirstManifest();
  EXPECT_EQ(Get("/probe/readiness").status, 200);
  EXPECT_TRUE(coordinator_->readiness().ready);
}

TEST_F(Lifecycle, MetricsCountWhatHappened) {
  std::string metrics = ToString(Get("/metrics").body);
  EXPECT_THAT(metrics, AllOf(HasSubstr("# TYPE contrast_sessions_total counter\ncontrast_sessions_total 0\n"),
                             HasSubstr("contrast_mesh_certificates_issued_total 0\n"),
                             HasSubstr("# TYPE contrast_manifest_generation gauge\ncontrast_manifest_generation 0\n"),
                             HasSubstr("contrast_ready 0\n"),
                             HasSubstr("# TYPE contrast_attestation_failures_total counter\n")));

  const v1::SetManifestResponse first = SetFirstManifest();
  ASSERT_TRUE(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kWebPolicy)));
  EXPECT_FALSE(MeshClient(MeshTarget()).NewMeshCert(*IssuerFor(kUnlistedPolicy)));
  manifest::Manifest next = BaseManifest();
  next.policies.erase(HashOf(kDbPolicy));
  ASSERT_TRUE(UserClient(UserTarget())
                  .SetManifest(Signed(Request(manifest::SerializeManifest(next)), Owner(),
                                      HashFromBytes(first.transition_hash()), first.root_ca()),
                               next));

  const http::Response response = Get("/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.content_type, HasSubstr("text/plain"));
  metrics = ToString(response.body);
  EXPECT_THAT(metrics,
              AllOf(HasSubstr("contrast_sessions_total 3\n"), HasSubstr("contrast_mesh_certificates_issued_total 1\n"),
                    HasSubstr("contrast_manifest_generation 2\n"), HasSubstr("contrast_ready 1\n"),
                    HasSubstr("contrast_attestation_failures_total{reason=\"")))
      << metrics;
}

TEST_F(Lifecycle, PortInUseIsAStartupError) {
  CoordinatorOptions options = Options();
  options.state_dir = dir_.path() / "second";
  options.mesh_api_address = "127.0.0.1:" + std::to_string(coordinator_->mesh_api_port());
  auto second = Coordinator::Start(options, coordinator_issuer_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kIo);
  EXPECT_THAT(second.error().message, HasSubstr("mesh API"));

  options = Options();
  options.state_dir = dir_.path() / "third";
  options.probe_address = "127.0.0.1:" + std::to_string(coordinator_->probe_port());
  second = Coordinator::Start(options, coordinator_issuer_);
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr("probe server"));
}

TEST_F(Lifecycle, InvalidOptionsAreRejected) {
  CoordinatorOptions options = Options();
  EXPECT_EQ(Coordinator::Start(options, nullptr).error().code, ErrorCode::kInvalidArgument);
  options.state_dir.clear();
  EXPECT_EQ(Coordinator::Start(options, coordinator_issuer_).error().code, ErrorCode::kInvalidArgument);
  options = Options();
  options.probe_address = "127.0.0.1";
  EXPECT_EQ(Coordinator::Start(options, coordinator_issuer_).error().code, ErrorCode::kInvalidArgument);
  options.probe_address = "127.0.0.1:99999";
  EXPECT_EQ(Coordinator::Start(options, coordinator_issuer_).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(Lifecycle, StateDirThatIsAFileIsAStartupError) {
  CoordinatorOptions options = Options();
  options.state_dir = dir_.path() / "file";
  ASSERT_TRUE(WriteFileAtomic(options.state_dir, std::string_view("x")));
  auto started = Coordinator::Start(options, coordinator_issuer_);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kIo);
}

TEST_F(Lifecycle, StopCancelsAStalledCallAndIsIdempotent) {
  StopCoordinator();
  CoordinatorOptions options = Options();
  options.shutdown_timeout = std::chrono::milliseconds(200);
  StartCoordinator(options);
  SetFirstManifest();

  // A client that opens a session and then never answers the challenge.
  auto identity = Must(session::SessionIdentity::Generate());
  auto stub = v1::MeshAPI::NewStub(Must(session::CreateSessionChannel(MeshTarget(), identity)));
  grpc::ClientContext context;
  auto stream = stub->NewMeshCert(&context);
  v1::SessionFrame request;
  request.set_message("");
  ASSERT_TRUE(stream->Write(request));
  v1::SessionFrame challenge;
  ASSERT_TRUE(stream->Read(&challenge));

  coordinator_->Stop();  // returns although the call is still open
  coordinator_->Stop();
  EXPECT_FALSE(coordinator_->readiness().ready);
  v1::SessionFrame ignored;
  EXPECT_FALSE(stream->Read(&ignored));
  EXPECT_FALSE(stream->Finish().ok());
  EXPECT_FALSE(http::Get(ProbeUrl("/probe/liveness")));
}

// ---- Nothing left behind ----------------------------------------------------

size_t CountEntries(const char* dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

// Runs a full cycle: start, set a manifest, issue a certificate, probe, stop.
void Cycle(const CoordinatorOptions& options, const std::shared_ptr<attest::Issuer>& issuer) {
  auto coordinator = Must(Coordinator::Start(options, issuer));
  const std::string user = "127.0.0.1:" + std::to_string(coordinator->user_api_port());
  const std::string mesh = "127.0.0.1:" + std::to_string(coordinator->mesh_api_port());
  {
    UserClient client(user);
    ASSERT_TRUE(client.SetManifest(Request(manifest::SerializeManifest(BaseManifest())), BaseManifest()));
    MeshClient workload(mesh);
    ASSERT_TRUE(workload.NewMeshCert(*IssuerFor(kWebPolicy)));
    ASSERT_TRUE(http::Get("http://127.0.0.1:" + std::to_string(coordinator->probe_port()) + "/metrics"));
  }
  coordinator->Stop();
}

// Channels close their connections asynchronously after the last
// reference goes; wait (bounded) for the counts to settle.
bool SettlesAtMost(size_t limit, const char* dir) {
  for (int i = 0; i < 200; ++i) {
    if (CountEntries(dir) <= limit) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST_F(Lifecycle, StopLeavesNoThreadsOrDescriptorsBehind) {
  StopCoordinator();
  // The first cycle creates what gRPC, OpenSSL and the session watchdog keep
  // for the whole process; only growth after that would be a leak.
  CoordinatorOptions options = Options();
  options.state_dir = dir_.path() / "warmup";
  ASSERT_NO_FATAL_FAILURE(Cycle(options, coordinator_issuer_));
  ASSERT_TRUE(SettlesAtMost(CountEntries("/proc/self/fd"), "/proc/self/fd"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const size_t fds = CountEntries("/proc/self/fd");
  const size_t threads = CountEntries("/proc/self/task");

  for (int i = 0; i < 3; ++i) {
    options.state_dir = dir_.path() / ("run" + std::to_string(i));
    ASSERT_NO_FATAL_FAILURE(Cycle(options, coordinator_issuer_));
  }
  EXPECT_TRUE(SettlesAtMost(fds, "/proc/self/fd")) << CountEntries("/proc/self/fd") << " > " << fds;
  EXPECT_TRUE(SettlesAtMost(threads, "/proc/self/task")) << CountEntries("/proc/self/task") << " > " << threads;
}

}  // namespace
}  // namespace contrast::coordinator::testing
