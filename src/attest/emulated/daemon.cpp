#include "attest/emulated/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <openssl/rand.h>

#include "contrast/emulated.grpc.pb.h"
#include "crypto/openssl.h"

namespace contrast::attest::emulated {
namespace {

namespace fs = std::filesystem;

constexpr size_t kTokenSize = 32;
constexpr int kMaxMessage = 64 * 1024;
constexpr auto kClientDeadline = std::chrono::seconds(10);
// In-flight requests take milliseconds; past this, calls are cancelled and
// connected clients (which keep their channels open) are disconnected.
constexpr auto kShutdownGrace = std::chrono::milliseconds(250);

std::string ToString(ByteView bytes) { return std::string(AsChars(bytes)); }

std::string ErrnoText(int error) { return std::strerror(error); }

template <size_t N>
Result<snp::ByteArray<N>> Exact(const std::string& bytes, const char* field) {
  if (bytes.size() != N) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(field) + ": expected " + std::to_string(N) + " bytes, got " + std::to_string(bytes.size()));
  }
  snp::ByteArray<N> out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

grpc::Status ToStatus(const Error& error) {
  return grpc::Status(
      error.code == ErrorCode::kInvalidArgument ? grpc::StatusCode::INVALID_ARGUMENT : grpc::StatusCode::INTERNAL,
      error.message);
}

// The VMs registered so far, by token. Tokens are random: whoever holds one
// speaks for its VM.
class VmTable {
 public:
  Result<std::string> Add(VmHandle vm) {
    std::string token(kTokenSize, '\0');
    if (auto drawn =
            crypto::Check(RAND_bytes(reinterpret_cast<unsigned char*>(token.data()), static_cast<int>(kTokenSize)),
                          "drawing a VM token");
        !drawn) {
      return Fail(drawn.error());
    }
    std::lock_guard lock(mutex_);
    if (vms_.size() >= kMaxRegisteredVms) {
      return Fail(ErrorCode::kUnsupported,
                  "too many registered VMs (" + std::to_string(kMaxRegisteredVms) + "); restart the daemon");
    }
    vms_.emplace(token, std::move(vm));
    return token;
  }
  std::optional<VmHandle> Find(const std::string& token) const {
    std::lock_guard lock(mutex_);
    const auto it = vms_.find(token);
    if (it == vms_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, VmHandle> vms_;
};

// Host side: registers VMs.
class LauncherService final : public v1::EmulatedLauncher::Service {
 public:
  LauncherService(const SecureProcessor& processor, VmTable& vms) : processor_(processor), vms_(vms) {}
  grpc::Status RegisterVm(grpc::ServerContext* /*context*/, const v1::RegisterVmRequest* request,
                          v1::RegisterVmResponse* response) override {
    auto measurement = Exact<48>(request->measurement(), "measurement");
    if (!measurement) return ToStatus(measurement.error());
    auto host_data = Exact<32>(request->host_data(), "host_data");
    if (!host_data) return ToStatus(host_data.error());
    auto vm = processor_.RegisterVm(*measurement, *host_data);
    if (!vm) return ToStatus(vm.error());
    auto token = vms_.Add(std::move(*vm));
    if (!token) {
      return token.error().code == ErrorCode::kUnsupported
                 ? grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, token.error().message)
                 : ToStatus(token.error());
    }
    response->set_vm_token(*token);
    return grpc::Status::OK;
  }

 private:
  const SecureProcessor& processor_;
  VmTable& vms_;
};

// Guest side: reports for registered VMs, REPORT_DATA chosen by the caller.
class GuestService final : public v1::EmulatedGuest::Service {
 public:
  GuestService(const SecureProcessor& processor, const VmTable& vms)
      : vms_(vms), vcek_der_(ToString(processor.vcek_der())), chain_pem_(processor.ask_pem() + processor.ark_pem()) {}
  grpc::Status GetReport(grpc::ServerContext* /*context*/, const v1::GetReportRequest* request,
                         v1::GetReportResponse* response) override {
    const auto vm = vms_.Find(request->vm_token());
    if (!vm) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "unknown VM token");
    auto report = vm->GetReport(AsBytes(request->report_data()));
    if (!report) return ToStatus(report.error());
    response->set_report(ToString(*report));
    response->set_vcek(vcek_der_);
    response->set_cert_chain(chain_pem_);
    return grpc::Status::OK;
  }

 private:
  const VmTable& vms_;
  const std::string vcek_der_;
  const std::string chain_pem_;
};

Status CheckSocketPathLength(const fs::path& path) {
  constexpr size_t kMax = sizeof(sockaddr_un{}.sun_path) - 1;
  if (path.native().size() > kMax) {
    return Fail(ErrorCode::kInvalidArgument, "socket path " + path.string() + " is " +
                                                 std::to_string(path.native().size()) +
                                                 " bytes long; Unix sockets allow at most " + std::to_string(kMax));
  }
  return {};
}

// True when something accepts connections on the Unix socket `path`.
bool SomeoneListens(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

// May a socket be put at `path`? Missing or a stale socket: yes.
Status CheckReplaceable(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Fail(ErrorCode::kIo, "cannot inspect " + path.string() + ": " + ErrnoText(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, path.string() + " exists and is not a socket; refusing to replace it");
  }
  if (SomeoneListens(path)) {
    return Fail(ErrorCode::kInvalidArgument,
                "another emulated secure processor is already serving on " + path.string() + " (stop it first)");
  }
  return {};
}

// A socket we serve on: the server and the file's identity, so we remove only
// our own file.
struct Listener {
  std::unique_ptr<grpc::Server> server;
  fs::path path;
  dev_t device = 0;
  ino_t inode = 0;
};

// Binds in a fresh private directory (mode 0700), restricts the socket to
// 0600 and only then renames it to `path`: the socket is never reachable
// with the permissions of the process umask.
Result<Listener> Listen(const fs::path& path, grpc::Service& service) {
  if (auto ok = CheckSocketPathLength(path); !ok) return Fail(ok.error());
  if (auto ok = CheckReplaceable(path); !ok) return Fail(ok.error());
  const fs::path parent = path.parent_path();
  std::string private_dir = (parent / ".contrast-sock-XXXXXX").string();
  if (::mkdtemp(private_dir.data()) == nullptr) {
    return Fail(ErrorCode::kIo, "cannot create a directory in " + parent.string() + ": " + ErrnoText(errno));
  }
  const fs::path staging = fs::path(private_dir) / "s";
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove(staging, ignored);
    fs::remove(private_dir, ignored);
  };
  if (auto ok = CheckSocketPathLength(staging); !ok) {
    cleanup();
    return Fail(ok.error());
  }

  Listener listener;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + staging.string(), grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(kMaxMessage);
  builder.RegisterService(&service);
  listener.server = builder.BuildAndStart();
  if (!listener.server) {
    cleanup();
    return Fail(ErrorCode::kIo, "cannot listen on a Unix socket in " + parent.string());
  }
  struct stat st {};
  if (::chmod(staging.c_str(), 0600) != 0 || ::lstat(staging.c_str(), &st) != 0 ||
      ::rename(staging.c_str(), path.c_str()) != 0) {
    const int error = errno;
    listener.server->Shutdown(std::chrono::system_clock::now());
    cleanup();
    return Fail(ErrorCode::kIo, "cannot put the socket at " + path.string() + ": " + ErrnoText(error));
  }
  cleanup();
  listener.path = path;
  listener.device = st.st_dev;
  listener.inode = st.st_ino;
  return listener;
}

void StopListening(Listener& listener) {
  if (!listener.server) return;
  listener.server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  listener.server->Wait();
  listener.server.reset();
  struct stat st {};
  if (::lstat(listener.path.c_str(), &st) == 0 && st.st_dev == listener.device && st.st_ino == listener.inode) {
    ::unlink(listener.path.c_str());
  }
}

std::shared_ptr<grpc::Channel> Dial(const fs::path& path) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessage);
  // A local socket is cheap to retry: a fresh client must not inherit the
  // reconnect backoff of an earlier one (global subchannel pool), and a
  // long-lived one reconnects within a second once the daemon is back.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel("unix:" + path.string(), grpc::InsecureChannelCredentials(), args);
}

Error FromStatus(const grpc::Status& status, const fs::path& socket) {
  const std::string where = "emulated secure processor at " + socket.string() + ": ";
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return Error{ErrorCode::kNetwork,
                   where + "not reachable (is `contrast emulate serve` running?): " + status.error_message()};
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Error{ErrorCode::kTimeout, where + "no answer in time"};
    case grpc::StatusCode::PERMISSION_DENIED:
      return Error{ErrorCode::kNotFound,
                   where + status.error_message() + " (was the daemon restarted since the VM was registered?)"};
    case grpc::StatusCode::INVALID_ARGUMENT: return Error{ErrorCode::kInvalidArgument, where + status.error_message()};
    case grpc::StatusCode::UNIMPLEMENTED:
      return Error{ErrorCode::kUnsupported,
                   where + "the socket does not offer this service (the guest and launcher sockets differ)"};
    default: return Error{ErrorCode::kInternal, where + status.error_message()};
  }
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kClientDeadline);
}

Result<Bytes> DecodeToken(std::string_view hex) {
  auto token = HexDecode(hex);
  if (!token || token->size() != kTokenSize) {
    return Fail(ErrorCode::kInvalidArgument, std::string("VM token: expected ") + std::to_string(2 * kTokenSize) +
                                                 " hex digits, got \"" +
                                                 std::string(hex.substr(0, 2 * kTokenSize + 8)) +
                                                 (hex.size() > 2 * kTokenSize + 8 ? "...\"" : "\""));
  }
  return *token;
}

}  // namespace

fs::path LauncherSocketPath(const fs::path& socket) { return socket.string() + ".launcher"; }

struct Daemon::Impl {
  explicit Impl(SecureProcessor p) : processor(std::move(p)), launcher(processor, vms), guest(processor, vms) {}
  SecureProcessor processor;
  VmTable vms;
  LauncherService launcher;
  GuestService guest;
  Listener guest_listener;
  Listener launcher_listener;
  fs::path guest_socket;
  fs::path launcher_socket;
  std::mutex mutex;
  std::condition_variable cv;
  bool shutdown = false;
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() {
  Shutdown();
  StopListening(impl_->launcher_listener);
  StopListening(impl_->guest_listener);
}

Result<std::unique_ptr<Daemon>> Daemon::Start(SecureProcessor processor, const fs::path& socket) {
  std::error_code error;
  const fs::path guest_socket = fs::absolute(socket, error);
  if (error || socket.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "socket path \"" + socket.string() + "\" is not usable");
  }
  auto impl = std::make_unique<Impl>(std::move(processor));
  impl->guest_socket = guest_socket;
  impl->launcher_socket = LauncherSocketPath(guest_socket);
  // Check both before taking either.
  for (const fs::path& path : {impl->guest_socket, impl->launcher_socket}) {
    if (auto ok = CheckSocketPathLength(path); !ok) return Fail(ok.error());
    if (auto ok = CheckReplaceable(path); !ok) return Fail(ok.error());
  }
  auto guest = Listen(impl->guest_socket, impl->guest);
  if (!guest) return Fail(guest.error());
  impl->guest_listener = std::move(*guest);
  auto launcher = Listen(impl->launcher_socket, impl->launcher);
  if (!launcher) {
    StopListening(impl->guest_listener);
    return Fail(launcher.error());
  }
  impl->launcher_listener = std::move(*launcher);
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

const fs::path& Daemon::guest_socket() const { return impl_->guest_socket; }
const fs::path& Daemon::launcher_socket() const { return impl_->launcher_socket; }
const SecureProcessor& Daemon::processor() const { return impl_->processor; }

void Daemon::Wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->cv.wait(lock, [&] { return impl_->shutdown; });
}

void Daemon::Shutdown() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->shutdown = true;
  }
  impl_->cv.notify_all();
}

Result<std::string> RegisterVmWithDaemon(const fs::path& socket, const Measurement& measurement,
                                         const HostData& host_data) {
  const fs::path path = LauncherSocketPath(socket);
  auto stub = v1::EmulatedLauncher::NewStub(Dial(path));
  v1::RegisterVmRequest request;
  request.set_measurement(ToString(measurement));
  request.set_host_data(ToString(host_data));
  v1::RegisterVmResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  if (auto status = stub->RegisterVm(&context, request, &response); !status.ok()) {
    return Fail(FromStatus(status, path));
  }
  if (response.vm_token().size() != kTokenSize) {
    return Fail(ErrorCode::kParse, "emulated secure processor at " + path.string() + ": VM token of " +
                                       std::to_string(response.vm_token().size()) + " bytes, expected " +
                                       std::to_string(kTokenSize));
  }
  return HexEncode(AsBytes(response.vm_token()));
}

GuestClient::GuestClient(fs::path socket, Bytes vm_token, std::shared_ptr<grpc::Channel> channel)
    : socket_(std::move(socket)), vm_token_(std::move(vm_token)), channel_(std::move(channel)) {}

Result<GuestClient> GuestClient::Create(fs::path socket, std::string_view vm_token_hex) {
  auto token = DecodeToken(vm_token_hex);
  if (!token) return Fail(token.error());
  if (socket.empty()) return Fail(ErrorCode::kInvalidArgument, "emulated secure processor socket: empty path");
  auto channel = Dial(socket);
  return GuestClient(std::move(socket), std::move(*token), std::move(channel));
}

Result<EmulatedEvidence> GuestClient::GetReport(ByteView report_data) const {
  auto stub = v1::EmulatedGuest::NewStub(channel_);
  v1::GetReportRequest request;
  request.set_vm_token(ToString(vm_token_));
  request.set_report_data(ToString(report_data));
  v1::GetReportResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  if (auto status = stub->GetReport(&context, request, &response); !status.ok()) {
    return Fail(FromStatus(status, socket_));
  }
  if (response.report().size() != snp::kReportSize || response.vcek().empty() || response.cert_chain().empty()) {
    return Fail(ErrorCode::kParse, "emulated secure processor at " + socket_.string() +
                                       ": incomplete answer (report of " + std::to_string(response.report().size()) +
                                       " bytes, expected " + std::to_string(snp::kReportSize) +
                                       "; VCEK and chain must not be empty)");
  }
  EmulatedEvidence evidence;
  evidence.report.assign(response.report().begin(), response.report().end());
  evidence.vcek_der.assign(response.vcek().begin(), response.vcek().end());
  evidence.cert_chain_pem = response.cert_chain();
  return evidence;
}

Result<GuestClient> GuestClient::FromEnvironment() {
  const char* socket = std::getenv(kSocketEnv);
  const char* token = std::getenv(kVmTokenEnv);
  if (socket == nullptr || token == nullptr || *socket == '\0' || *token == '\0') {
    return Fail(ErrorCode::kInvalidArgument, std::string("not running in an emulated VM: ") + kSocketEnv + " and " +
                                                 kVmTokenEnv +
                                                 " must be set (start the program with `contrast emulate run`)");
  }
  auto client = Create(socket, token);
  if (!client) return Fail(client.error().Wrap(kVmTokenEnv));
  return client;
}

}  // namespace contrast::attest::emulated
