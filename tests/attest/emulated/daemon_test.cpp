// The emulated secure processor daemon over real gRPC on Unix sockets in a
// temp dir: the launcher / guest split, error statuses, socket files.
#include "attest/emulated/daemon.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "attest/snp/verify.h"
#include "common/files.h"
#include "contrast/emulated.grpc.pb.h"

namespace contrast::attest::emulated {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

template <size_t N>
snp::ByteArray<N> Filled(uint8_t value) {
  snp::ByteArray<N> out;
  out.fill(value);
  return out;
}

const Measurement kMeasurement = Filled<48>(0x4D);
const HostData kHostData = Filled<32>(0x48);

template <typename T>
std::optional<ErrorCode> CodeOf(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

// One in-memory emulator with fast RSA-2048 CA keys for the whole binary.
const SecureProcessor& Emulator() {
  static const SecureProcessor sp = [] {
    SecureProcessorOptions options;
    options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
    auto created = SecureProcessor::CreateInMemory(options);
    if (!created) throw std::runtime_error(created.error().message);
    return std::move(*created);
  }();
  return sp;
}

unsigned ModeOf(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

bool IsSocket(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::shared_ptr<grpc::Channel> Dial(const fs::path& path) {
  return grpc::CreateChannel("unix:" + path.string(), grpc::InsecureChannelCredentials());
}

std::chrono::system_clock::time_point Soon() { return std::chrono::system_clock::now() + std::chrono::seconds(10); }

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: Unix socket paths are limited to 107 bytes.
    std::string dir = (fs::temp_directory_path() / "ctr-daemon-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    socket_ = dir_ / "sp.sock";
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  void StartDaemon() {
    auto daemon = Daemon::Start(Emulator(), socket_);
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
  }

  GuestClient Guest(const std::string& token) {
    auto client = GuestClient::Create(socket_, token);
    if (!client) throw std::runtime_error(client.error().message);
    return *client;
  }

  fs::path dir_;
  fs::path socket_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonTest, RegisteredVmGetsReportsThatVerifyWithTheEmulatorsAnchors) {
  StartDaemon();
  auto token = RegisterVmWithDaemon(socket_, kMeasurement, kHostData);
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->size(), 64u);

  const Bytes report_data(64, 0xAB);
  auto evidence = Guest(*token).GetReport(report_data);
  ASSERT_TRUE(evidence) << evidence.error().message;
  EXPECT_EQ(evidence->vcek_der, Emulator().vcek_der());
  EXPECT_EQ(evidence->cert_chain_pem, Emulator().ask_pem() + Emulator().ark_pem());

  snp::Verifier verifier(snp::TrustAnchors{{Emulator().TrustAnchor()}});
  auto verified = verifier.Verify(evidence->report, evidence->vcek_der, snp::VerifyOptions{});
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->insecure_root());
  EXPECT_EQ(verified->report().measurement, kMeasurement);
  EXPECT_EQ(verified->report().host_data, kHostData);
  EXPECT_TRUE(std::equal(report_data.begin(), report_data.end(), verified->report().report_data.begin()));

  // The same VM keeps its REPORT_ID; another registration is another VM.
  auto again = Guest(*token).GetReport(Bytes{});
  ASSERT_TRUE(again);
  auto other_token = RegisterVmWithDaemon(socket_, kMeasurement, kHostData);
  ASSERT_TRUE(other_token);
  EXPECT_NE(*other_token, *token);
  auto other = Guest(*other_token).GetReport(Bytes{});
  ASSERT_TRUE(other);
  auto first = snp::ParseReport(evidence->report);
  auto second = snp::ParseReport(again->report);
  auto third = snp::ParseReport(other->report);
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->report_id, second->report_id);
  EXPECT_NE(first->report_id, third->report_id);
}

TEST_F(DaemonTest, UnknownTokenIsPermissionDenied) {
  StartDaemon();
  auto stub = v1::EmulatedGuest::NewStub(Dial(socket_));
  v1::GetReportRequest request;
  request.set_vm_token(std::string(32, '\x01'));
  v1::GetReportResponse response;
  grpc::ClientContext context;
  context.set_deadline(Soon());
  EXPECT_EQ(stub->GetReport(&context, request, &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  auto evidence = Guest(std::string(64, '0')).GetReport(Bytes{});
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(evidence.error().message, HasSubstr("unknown VM token"));
}

TEST_F(DaemonTest, WrongSizedFieldsAreInvalidArgument) {
  StartDaemon();
  auto launcher = v1::EmulatedLauncher::NewStub(Dial(LauncherSocketPath(socket_)));
  for (const auto& [measurement, host_data] :
       {std::pair<std::string, std::string>{std::string(47, 'm'), std::string(32, 'h')},
        {std::string(48, 'm'), std::string(33, 'h')},
        {std::string(), std::string()}}) {
    v1::RegisterVmRequest request;
    request.set_measurement(measurement);
    request.set_host_data(host_data);
    v1::RegisterVmResponse response;
    grpc::ClientContext context;
    context.set_deadline(Soon());
    const grpc::Status status = launcher->RegisterVm(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << measurement.size();
    EXPECT_THAT(status.error_message(), HasSubstr("bytes, got"));
  }

  // REPORT_DATA longer than 64 bytes.
  auto token = RegisterVmWithDaemon(socket_, kMeasurement, kHostData);
  ASSERT_TRUE(token);
  auto evidence = Guest(*token).GetReport(Bytes(65, 0));
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(evidence.error().message, HasSubstr("at most 64"));
}

TEST_F(DaemonTest, GuestSocketDoesNotOfferRegistration) {
  StartDaemon();
  auto on_guest = v1::EmulatedLauncher::NewStub(Dial(socket_));
  v1::RegisterVmRequest request;
  request.set_measurement(std::string(48, 'm'));
  request.set_host_data(std::string(32, 'h'));
  v1::RegisterVmResponse response;
  grpc::ClientContext context;
  context.set_deadline(Soon());
  EXPECT_EQ(on_guest->RegisterVm(&context, request, &response).error_code(), grpc::StatusCode::UNIMPLEMENTED);

  // Nor does the launcher socket hand out reports.
  auto on_launcher = v1::EmulatedGuest::NewStub(Dial(LauncherSocketPath(socket_)));
  v1::GetReportRequest report_request;
  v1::GetReportResponse report_response;
  grpc::ClientContext report_context;
  report_context.set_deadline(Soon());
  EXPECT_EQ(on_launcher->GetReport(&report_context, report_request, &report_response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(DaemonTest, SocketsAreOwnerOnlyAndRemovedOnShutdown) {
  StartDaemon();
  EXPECT_EQ(daemon_->guest_socket(), socket_);
  EXPECT_EQ(daemon_->launcher_socket(), LauncherSocketPath(socket_));
  for (const fs::path& path : {socket_, LauncherSocketPath(socket_)}) {
    EXPECT_TRUE(IsSocket(path)) << path;
    EXPECT_EQ(ModeOf(path), 0600u) << path;
  }
  // Nothing but the two sockets is left in the directory (no staging dirs).
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 2u);

  daemon_.reset();
  EXPECT_FALSE(fs::exists(socket_));
  EXPECT_FALSE(fs::exists(LauncherSocketPath(socket_)));
}

TEST_F(DaemonTest, ReplacesStaleSocketsButNotLiveOnesOrOtherFiles) {
  // A stale socket: bound, then its owner went away without removing it.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    ::close(fd);
  }
  ASSERT_TRUE(IsSocket(socket_));
  StartDaemon();
  EXPECT_TRUE(RegisterVmWithDaemon(socket_, kMeasurement, kHostData));

  // A second daemon on the same path is refused; the first keeps working.
  auto second = Daemon::Start(Emulator(), socket_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(second.error().message, HasSubstr("already serving"));
  EXPECT_TRUE(RegisterVmWithDaemon(socket_, kMeasurement, kHostData));

  // A regular file is never replaced.
  const fs::path file = dir_ / "file";
  ASSERT_TRUE(WriteFileAtomic(file, std::string_view("keep me")));
  auto on_file = Daemon::Start(Emulator(), file);
  ASSERT_FALSE(on_file);
  EXPECT_THAT(on_file.error().message, HasSubstr("not a socket"));
  EXPECT_EQ(*ReadTextFile(file), "keep me");
}

TEST_F(DaemonTest, OverlongSocketPathIsAClearError) {
  auto daemon = Daemon::Start(Emulator(), dir_ / std::string(120, 's'));
  ASSERT_FALSE(daemon);
  EXPECT_EQ(daemon.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(daemon.error().message, HasSubstr("Unix sockets allow at most"));
}

TEST_F(DaemonTest, NoDaemonIsANetworkErrorWithAHint) {
  auto token = RegisterVmWithDaemon(socket_, kMeasurement, kHostData);
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kNetwork);
  EXPECT_THAT(token.error().message, HasSubstr("contrast emulate serve"));

  auto evidence = Guest(std::string(64, 'a')).GetReport(Bytes{});
  ASSERT_FALSE(evidence);
  EXPECT_EQ(evidence.error().code, ErrorCode::kNetwork);
}

TEST_F(DaemonTest, GuestClientRejectsMalformedTokensAndMissingEnvironment) {
  EXPECT_EQ(CodeOf(GuestClient::Create(socket_, "abc")), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(GuestClient::Create(socket_, std::string(64, 'x'))), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(GuestClient::Create("", std::string(64, 'a'))), ErrorCode::kInvalidArgument);

  ::unsetenv(kSocketEnv);
  ::unsetenv(kVmTokenEnv);
  auto missing = GuestClient::FromEnvironment();
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("contrast emulate run"));

  ::setenv(kSocketEnv, socket_.c_str(), 1);
  ::setenv(kVmTokenEnv, "not-hex", 1);
  auto malformed = GuestClient::FromEnvironment();
  ASSERT_FALSE(malformed);
  EXPECT_THAT(malformed.error().message, HasSubstr(kVmTokenEnv));

  StartDaemon();
  auto token = RegisterVmWithDaemon(socket_, kMeasurement, kHostData);
  ASSERT_TRUE(token);
  ::setenv(kVmTokenEnv, token->c_str(), 1);
  auto client = GuestClient::FromEnvironment();
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_TRUE(client->GetReport(Bytes{}));
  ::unsetenv(kSocketEnv);
  ::unsetenv(kVmTokenEnv);
}

}  // namespace
}  // namespace contrast::attest::emulated
