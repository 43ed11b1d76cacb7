#include "cli/emulate.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ostream>
#include <sstream>
#include <thread>

#include "attest/emulated/daemon.h"
#include "attest/emulated/secure_processor.h"
#include "attest/emulated/tsm_fs.h"
#include "attest/tsm/configfs_tsm.h"
#include "cli/app.h"
#include "cli/attached_policies.h"
#include "cli/output.h"
#include "common/files.h"
#include "crypto/hash.h"
#include "crypto/x509.h"
#include "crypto/x509_builder.h"
#include "initializer/expected_coordinator.h"

namespace contrast::cli {
namespace {

using attest::emulated::Daemon;
using attest::emulated::GuestClient;
using attest::emulated::SecureProcessor;
using attest::emulated::SecureProcessorOptions;
namespace snp = attest::snp;

int UsageError(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitUsage;
}

int Failed(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitFailed;
}

// "bootloader=3,tee=0,snp=8,microcode=115" (fmc= for Turin).
Result<snp::TcbParts> ParseTcbFlag(const std::string& text, snp::TcbParts tcb) {
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return Fail(ErrorCode::kInvalidArgument, "--tcb: expected NAME=VALUE, got " + item);
    const std::string name = item.substr(0, eq);
    int value = -1;
    try {
      size_t used = 0;
      value = std::stoi(item.substr(eq + 1), &used);
      if (used != item.size() - eq - 1) value = -1;
    } catch (const std::exception&) {
      value = -1;
    }
    if (value < 0 || value > 255) return Fail(ErrorCode::kInvalidArgument, "--tcb: " + name + " must be 0..255");
    const auto v = static_cast<uint8_t>(value);
    if (name == "bootloader") {
      tcb.bootloader = v;
    } else if (name == "tee") {
      tcb.tee = v;
    } else if (name == "snp") {
      tcb.snp = v;
    } else if (name == "microcode") {
      tcb.microcode = v;
    } else if (name == "fmc") {
      tcb.fmc = v;
    } else {
      return Fail(ErrorCode::kInvalidArgument,
                  "--tcb: unknown component " + name + " (bootloader, tee, snp, microcode, fmc)");
    }
  }
  return tcb;
}

template <size_t N>
Result<snp::ByteArray<N>> FixedHex(const std::string& flag, const std::string& hex, bool allow_shorter = false) {
  snp::ByteArray<N> out{};
  if (hex.empty()) return out;
  auto bytes = HexDecode(hex);
  if (!bytes) return Fail(bytes.error().Wrap(flag));
  if (bytes->size() > N || (!allow_shorter && bytes->size() != N)) {
    return Fail(ErrorCode::kInvalidArgument, flag + ": expected " + std::string(allow_shorter ? "at most " : "") +
                                                 std::to_string(N) + " bytes of hex, got " +
                                                 std::to_string(bytes->size()));
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

int RunEmulateInit(const EmulateInitCommand& command, std::ostream& out, std::ostream& err) {
  SecureProcessorOptions options;
  auto product = snp::ParseProduct(command.product);
  if (!product) return UsageError(err, product.error());
  options.product = *product;
  if (!command.tcb.empty()) {
    auto tcb = ParseTcbFlag(command.tcb, options.tcb);
    if (!tcb) return UsageError(err, tcb.error());
    options.tcb = *tcb;
  }
  auto sp = SecureProcessor::Create(command.state_dir, options);
  if (!sp) return UsageError(err, sp.error());
  PrintInsecureWarning(err);
  out << "emulated secure processor created in " << command.state_dir.string() << "\n"
      << "  product  " << snp::ProductName(sp->product()) << "\n"
      << "  chip id  " << HexEncode(sp->chip_id()) << "\n"
      << "  TCB      " << snp::FormatTcb(sp->tcb(), sp->product()) << "\n"
      << "  root     sha256:" << HexEncode(crypto::Sha256(sp->ark_der())) << "\n";
  return kExitOk;
}

int RunEmulateReport(const EmulateReportCommand& command, std::ostream& out, std::ostream& err) {
  auto sp = SecureProcessor::Load(command.state_dir);
  if (!sp) return UsageError(err, sp.error());
  auto measurement = FixedHex<48>("--measurement", command.measurement);
  if (!measurement) return UsageError(err, measurement.error());
  if (command.policy && !command.host_data.empty()) {
    return UsageError(err, Error{ErrorCode::kInvalidArgument, "--host-data and --policy exclude each other"});
  }
  snp::ByteArray<32> host_data{};
  if (command.policy) {
    auto policy = ReadFile(*command.policy);
    if (!policy) return UsageError(err, policy.error());
    host_data = crypto::Sha256(*policy);
  } else {
    auto parsed = FixedHex<32>("--host-data", command.host_data);
    if (!parsed) return UsageError(err, parsed.error());
    host_data = *parsed;
  }
  auto report_data = HexDecode(command.report_data);
  if (!report_data) return UsageError(err, report_data.error().Wrap("--report-data"));

  // The launcher's part: register the VM with what it measured and the
  // policy hash. The guest's part: ask for a report with its REPORT_DATA.
  auto vm = sp->RegisterVm(*measurement, host_data);
  if (!vm) return UsageError(err, vm.error());
  auto report = vm->GetReport(*report_data);
  if (!report) return UsageError(err, report.error());

  if (auto written = WriteFileAtomic(command.out, *report); !written) return UsageError(err, written.error());
  if (command.vcek_out) {
    if (auto written = WriteFileAtomic(*command.vcek_out, sp->vcek_pem()); !written) {
      return UsageError(err, written.error());
    }
  }
  if (command.chain_out) {
    if (auto written = WriteFileAtomic(*command.chain_out, sp->ask_pem() + sp->ark_pem()); !written) {
      return UsageError(err, written.error());
    }
  }
  out << "wrote emulated SEV-SNP report to " << command.out.string() << " (HOST_DATA " << HexEncode(host_data) << ")\n";
  return kExitOk;
}

// ---- serve / root-hash ------------------------------------------------------

namespace {

// Signal handling without blocking masks: gRPC starts threads of its own,
// and a handler runs on whichever thread the kernel picks. The handlers only
// do async-signal-safe things (write to a pipe, kill).
std::atomic<int> g_wake_fd{-1};
std::atomic<pid_t> g_child{0};
std::atomic<int> g_pending_signal{0};

extern "C" void WakeOnSignal(int signal) {
  const int fd = g_wake_fd.load();
  if (fd < 0) return;
  const auto byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] const ssize_t written = ::write(fd, &byte, 1);
}

extern "C" void ForwardSignal(int signal) {
  const pid_t child = g_child.load();
  if (child > 0) {
    ::kill(child, signal);
  } else {
    g_pending_signal.store(signal);
  }
}

// Installs `handler` for SIGTERM and SIGINT; restores the previous ones.
class SignalHandlers {
 public:
  explicit SignalHandlers(void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGTERM, &action, &old_term_);
    ::sigaction(SIGINT, &action, &old_int_);
  }
  ~SignalHandlers() {
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
  }
  SignalHandlers(const SignalHandlers&) = delete;
  SignalHandlers& operator=(const SignalHandlers&) = delete;

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

Result<SecureProcessor> LoadOrCreate(const std::filesystem::path& state_dir, bool init, bool& created) {
  created = false;
  std::error_code error;
  if (init && !std::filesystem::exists(state_dir / "state.json", error)) {
    created = true;
    return SecureProcessor::Create(state_dir);
  }
  auto sp = SecureProcessor::Load(state_dir);
  if (!sp && sp.error().code == ErrorCode::kNotFound) {
    return Fail(sp.error().Wrap("no emulator state in " + state_dir.string() +
                                " (create it with `contrast emulate init` or pass --init)"));
  }
  return sp;
}

std::string SignalName(int signal) {
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGINT) return "SIGINT";
  return "signal " + std::to_string(signal);
}

}  // namespace

int RunEmulateServe(const EmulateServeCommand& command, std::ostream& out, std::ostream& err) {
  bool created = false;
  auto sp = LoadOrCreate(command.state_dir, command.init, created);
  if (!sp) return UsageError(err, sp.error());

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Failed(err, Error{ErrorCode::kIo, std::string("cannot create a pipe: ") + std::strerror(errno)});
  }
  g_wake_fd.store(pipe_fds[1]);
  int received = 0;
  {
    const SignalHandlers handlers(WakeOnSignal);
    auto daemon = Daemon::Start(*sp, command.socket);
    if (!daemon) {
      g_wake_fd.store(-1);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      return Failed(err, daemon.error());
    }
    PrintInsecureWarning(err);
    out << "emulated secure processor " << (created ? "created in " : "loaded from ") << command.state_dir.string()
        << "\n"
        << "  guest socket     " << (*daemon)->guest_socket().string() << "\n"
        << "  launcher socket  " << (*daemon)->launcher_socket().string() << "\n"
        << "  root sha256      " << HexEncode(crypto::Sha256(sp->ark_der())) << "  (EmulatedRootSHA256)\n"
        << "serving until SIGTERM or SIGINT" << std::endl;
    unsigned char byte = 0;
    while (true) {
      const ssize_t n = ::read(pipe_fds[0], &byte, 1);
      if (n == 1) break;
      if (n < 0 && errno == EINTR) continue;
      break;  // cannot happen: we hold the write end
    }
    received = byte;
    g_wake_fd.store(-1);
  }  // the daemon stops and removes its sockets here
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  out << "received " << SignalName(received) << "; stopped, sockets removed" << std::endl;
  return kExitOk;
}

int RunEmulateRootHash(const EmulateRootHashCommand& command, std::ostream& out, std::ostream& err) {
  auto sp = SecureProcessor::Load(command.state_dir);
  if (!sp) return UsageError(err, sp.error());
  out << HexEncode(crypto::Sha256(sp->ark_der())) << "\n";
  return kExitOk;
}

// ---- tsm ---------------------------------------------------------------------

int RunEmulateTsm(const EmulateTsmCommand& command, std::ostream& out, std::ostream& err) {
  if (command.parent_pid > 0) {
    // Started by `emulate run`: go when it goes, even if it was killed.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != command.parent_pid) {
      return Failed(err, Error{ErrorCode::kFailedPrecondition, "the launching process is gone"});
    }
  }
  auto client = GuestClient::FromEnvironment();
  if (!client) return UsageError(err, client.error());

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Failed(err, Error{ErrorCode::kIo, std::string("cannot create a pipe: ") + std::strerror(errno)});
  }
  g_wake_fd.store(pipe_fds[1]);
  int received = 0;
  {
    const SignalHandlers handlers(WakeOnSignal);
    auto fs = attest::emulated::TsmFileSystem::Mount(command.mount, *client);
    if (!fs) {
      g_wake_fd.store(-1);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      return Failed(err, fs.error());
    }
    // Under `emulate run` it is part of the VM: quiet unless something fails.
    const bool standalone = command.parent_pid == 0;
    if (standalone) PrintInsecureWarning(err);
    if (standalone) {
      out << "emulated configfs-tsm (provider " << attest::tsm::kProviderInsecureEmulated << ") mounted on "
          << command.mount.string() << ", reports from " << client->socket().string() << "\n"
          << "serving until SIGTERM or SIGINT, or until unmounted" << std::endl;
    }
    // An unmount from outside ends serving too: it wakes us like a signal
    // (byte 0).
    std::thread watcher([&] {
      (*fs)->Wait();
      const unsigned char zero = 0;
      [[maybe_unused]] const ssize_t written = ::write(pipe_fds[1], &zero, 1);
    });
    unsigned char byte = 0;
    while (true) {
      const ssize_t n = ::read(pipe_fds[0], &byte, 1);
      if (n == 1) break;
      if (n < 0 && errno == EINTR) continue;
      break;  // cannot happen: we hold the write end
    }
    received = byte;
    g_wake_fd.store(-1);
    (*fs)->Unmount();
    watcher.join();
  }  // unmounted here
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  // `emulate run`'s private directory: gone with us, even when the launcher
  // was killed and cannot remove it.
  if (command.parent_pid > 0) {
    ::rmdir(command.mount.c_str());
    return kExitOk;
  }
  if (received == 0) {
    out << command.mount.string() << " was unmounted; stopped" << std::endl;
  } else {
    out << "received " << SignalName(received) << "; unmounted " << command.mount.string() << std::endl;
  }
  return kExitOk;
}

// ---- run ---------------------------------------------------------------------

namespace {

// The current environment with `ours` set to our values and `removed` unset.
std::vector<std::string> Environment(const std::vector<std::pair<std::string, std::string>>& ours,
                                     const std::vector<std::string_view>& removed) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view item(*entry);
    const std::string_view name = item.substr(0, item.find('='));
    if (std::any_of(ours.begin(), ours.end(), [&](const auto& variable) { return variable.first == name; })) continue;
    if (std::find(removed.begin(), removed.end(), name) != removed.end()) continue;
    env.emplace_back(item);
  }
  for (const auto& [name, value] : ours) env.push_back(name + "=" + value);
  return env;
}

// The command's environment: the VM's configfs-tsm, and `pinned` (what the
// pod's spec sets). Not the daemon's socket and token: inside the VM, evidence
// comes only through the tsm, as on real hardware.
std::vector<std::string> ChildEnvironment(const std::filesystem::path& tsm_dir,
                                          const std::vector<std::pair<std::string, std::string>>& pinned) {
  std::vector<std::pair<std::string, std::string>> ours = pinned;
  ours.emplace_back(std::string(attest::tsm::kTsmDirEnv), tsm_dir.string());
  return Environment(ours, {attest::emulated::kSocketEnv, attest::emulated::kVmTokenEnv});
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitFailed;
}

}  // namespace

namespace {

// A generated pod ("FILE[:NAME]"): its HOST_DATA is the digest of its
// policy annotation, as the Kata runtime would compute it.
Result<AttachedPolicy> FindPod(const std::string& spec) {
  std::filesystem::path file = spec;
  std::string name;
  if (const size_t colon = spec.rfind(':'); colon != std::string::npos && !IsResourcePath(spec)) {
    file = spec.substr(0, colon);
    name = spec.substr(colon + 1);
  }
  auto attached = FindAttachedPolicies({file});
  if (!attached) return Fail(attached.error());
  std::vector<const AttachedPolicy*> matches;
  std::string names;
  for (const AttachedPolicy& policy : *attached) {
    names += " " + policy.name;
    if (name.empty() || policy.name == name) matches.push_back(&policy);
  }
  if (matches.empty()) {
    return Fail(ErrorCode::kNotFound,
                file.string() + ": no annotated workload" + (name.empty() ? "" : " named " + name) +
                    (names.empty() ? " (run `contrast generate` first)" : " (found:" + names + ")"));
  }
  if (matches.size() > 1) {
    return Fail(ErrorCode::kInvalidArgument,
                file.string() + " holds several annotated workloads; name one as FILE:NAME (found:" + names + ")");
  }
  return *matches.front();
}

// The Coordinator's expected identity `generate` pinned in the pod's
// Initializer: the runtime gives the container these values.
std::vector<std::pair<std::string, std::string>> ExpectedCoordinatorOf(const AttachedPolicy& pod) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : pod.initializer_env) {
    if (name == initializer::kCoordinatorPolicyHashesEnv || name == initializer::kCoordinatorReferenceValuesEnv) {
      out.emplace_back(name, value);
    }
  }
  return out;
}

// The VM's configfs-tsm: a `contrast emulate tsm` child serving a private
// directory.
struct TsmProcess {
  pid_t pid = 0;
  std::filesystem::path dir;
};

// How long `emulate run` waits for the tsm to serve: mounting is quick, but a
// loaded CI machine can be slow to start a process.
constexpr auto kTsmStartTimeout = std::chrono::seconds(60);
constexpr auto kTsmStopGrace = std::chrono::seconds(10);

bool Serving(const std::filesystem::path& tsm_dir) {
  struct stat st {};
  return ::stat((tsm_dir / "report").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<TsmProcess> StartTsm(const std::filesystem::path& socket, const std::string& token) {
  std::string pattern = (std::filesystem::temp_directory_path() / "contrast-tsm-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Fail(ErrorCode::kIo,
                "creating a directory for the emulated configfs-tsm (" + pattern + "): " + std::strerror(errno));
  }
  TsmProcess tsm{.pid = 0, .dir = pattern};
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return Fail(ErrorCode::kIo, "/proc/self/exe: " + error.message());
  std::vector<std::string> args = {
      self.string(), "emulate", "tsm", "--mount", tsm.dir.string(), "--parent-pid", std::to_string(::getpid())};
  std::vector<std::string> env =
      Environment({{attest::emulated::kSocketEnv, socket.string()}, {attest::emulated::kVmTokenEnv, token}},
                  {attest::tsm::kTsmDirEnv});
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = Pointers(env);
  // Its messages go to our stderr: stdout stays the command's.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  // In a session of its own, so that a SIGKILL to our process group cannot
  // catch it (or the fusermount3 it starts) half-way through mounting; it
  // stops when we do (--parent-pid) and unmounts cleanly.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
  const int spawned = ::posix_spawn(&tsm.pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    ::rmdir(tsm.dir.c_str());
    return Fail(ErrorCode::kIo, "cannot run " + self.string() + " emulate tsm: " + std::strerror(spawned));
  }
  const auto deadline = std::chrono::steady_clock::now() + kTsmStartTimeout;
  while (!Serving(tsm.dir)) {
    int status = 0;
    if (::waitpid(tsm.pid, &status, WNOHANG) == tsm.pid) {
      ::rmdir(tsm.dir.c_str());
      return Fail(ErrorCode::kFailedPrecondition, "the emulated configfs-tsm for " + tsm.dir.string() +
                                                      " exited with status " + std::to_string(ExitCodeOf(status)) +
                                                      " before serving (its error is above)");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(tsm.pid, SIGKILL);
      ::waitpid(tsm.pid, &status, 0);
      ::rmdir(tsm.dir.c_str());
      return Fail(ErrorCode::kTimeout, "the emulated configfs-tsm did not serve " + tsm.dir.string() + " within " +
                                           std::to_string(kTsmStartTimeout.count()) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return tsm;
}

// SIGTERM: it unmounts and exits; then its directory goes.
void StopTsm(const TsmProcess& tsm, std::ostream& err) {
  ::kill(tsm.pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kTsmStopGrace;
  int status = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(tsm.pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (waited == 0) {
    err << "warning: the emulated configfs-tsm on " << tsm.dir.string() << " did not stop; killing it\n";
    ::kill(tsm.pid, SIGKILL);
    ::waitpid(tsm.pid, &status, 0);
  }
  if (::rmdir(tsm.dir.c_str()) != 0 && errno != ENOENT) {
    err << "warning: cannot remove " << tsm.dir.string() << ": " << std::strerror(errno) << "\n";
  }
}

}  // namespace

int RunEmulateRun(const EmulateRunCommand& command, std::ostream& /*out*/, std::ostream& err) {
  if (command.command.empty()) {
    return UsageError(err, Error{ErrorCode::kInvalidArgument, "no command given (usage: ... -- COMMAND [ARGS...])"});
  }
  auto measurement = FixedHex<48>("--measurement", command.measurement);
  if (!measurement) return UsageError(err, measurement.error());
  if (int(command.policy.has_value()) + int(!command.host_data.empty()) + int(!command.pod.empty()) != 1) {
    return UsageError(err,
                      Error{ErrorCode::kInvalidArgument, "exactly one of --policy, --host-data and --pod is required"});
  }
  snp::ByteArray<32> host_data{};
  std::vector<std::pair<std::string, std::string>> pinned_env;
  if (!command.pod.empty()) {
    auto pod = FindPod(command.pod);
    if (!pod) return UsageError(err, pod.error().Wrap("--pod"));
    host_data = pod->hash.bytes;
    pinned_env = ExpectedCoordinatorOf(*pod);
  } else if (command.policy) {
    auto policy = ReadFile(*command.policy);
    if (!policy) return UsageError(err, policy.error().Wrap("--policy"));
    host_data = crypto::Sha256(*policy);
  } else {
    auto parsed = FixedHex<32>("--host-data", command.host_data);
    if (!parsed) return UsageError(err, parsed.error());
    host_data = *parsed;
  }
  std::error_code error;
  const std::filesystem::path socket = std::filesystem::absolute(command.socket, error);
  if (error || command.socket.empty()) {
    return UsageError(err, Error{ErrorCode::kInvalidArgument, "--socket: not a usable path"});
  }

  // The launcher's part: the VM's MEASUREMENT and HOST_DATA are fixed here,
  // before the command runs; it only gets the token.
  auto token = attest::emulated::RegisterVmWithDaemon(socket, *measurement, host_data);
  if (!token) return Failed(err, token.error());
  // The VM's kernel interface: the command asks it, not the daemon.
  auto tsm = StartTsm(socket, *token);
  if (!tsm) return Failed(err, tsm.error());

  std::vector<std::string> args = command.command;
  std::vector<std::string> env = ChildEnvironment(tsm->dir, pinned_env);
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = Pointers(env);

  const SignalHandlers handlers(ForwardSignal);
  g_pending_signal.store(0);
  pid_t child = 0;
  const int spawned = ::posix_spawnp(&child, argv[0], nullptr, nullptr, argv.data(), envp.data());
  if (spawned != 0) {
    err << "error: cannot run " << command.command[0] << ": " << std::strerror(spawned) << "\n";
    StopTsm(*tsm, err);
    return spawned == ENOENT ? 127 : 126;
  }
  g_child.store(child);
  if (const int pending = g_pending_signal.exchange(0); pending != 0) ::kill(child, pending);

  int status = 0;
  pid_t waited = 0;
  do {
    waited = ::waitpid(child, &status, 0);
  } while (waited < 0 && errno == EINTR);
  g_child.store(0);
  StopTsm(*tsm, err);
  if (waited != child) {
    return Failed(err, Error{ErrorCode::kInternal, std::string("waiting for the command: ") + std::strerror(errno)});
  }
  return ExitCodeOf(status);
}

// ---- guest-report ------------------------------------------------------------

namespace {

// Inside `emulate run`: through the VM's configfs-tsm (CONTRAST_TSM_DIR);
// else, for a command given the daemon's variables by hand, the daemon.
Result<attest::emulated::EmulatedEvidence> GuestEvidence(const Bytes& report_data) {
  if (report_data.size() > attest::kReportDataSize) {
    return Fail(ErrorCode::kInvalidArgument, "--report-data: at most 64 bytes");
  }
  const char* tsm_dir = std::getenv(std::string(attest::tsm::kTsmDirEnv).c_str());
  if (tsm_dir == nullptr || *tsm_dir == '\0') {
    auto client = GuestClient::FromEnvironment();
    if (!client) return Fail(client.error());
    return client->GetReport(report_data);
  }
  auto issuer = attest::tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir});
  if (!issuer) return Fail(issuer.error());
  attest::ReportData padded{};
  std::copy(report_data.begin(), report_data.end(), padded.begin());
  auto evidence = (*issuer)->Issue(padded);
  if (!evidence) return Fail(evidence.error());
  if (evidence->platform != attest::kPlatformInsecureEmulatedSnp) {
    return Fail(ErrorCode::kUnsupported,
                std::string(tsm_dir) + " gives " + evidence->platform + " evidence, not the emulated platform's");
  }
  auto vcek = crypto::Certificate::ParseAuto(evidence->endorsement_key);
  if (!vcek) return Fail(vcek.error().Wrap("VCEK from " + std::string(tsm_dir)));
  return attest::emulated::EmulatedEvidence{std::move(evidence->report), vcek->Der(), evidence->cert_chain};
}

}  // namespace

int RunEmulateGuestReport(const EmulateGuestReportCommand& command, std::ostream& out, std::ostream& err) {
  auto report_data = HexDecode(command.report_data);
  if (!report_data) return UsageError(err, report_data.error().Wrap("--report-data"));
  auto evidence = GuestEvidence(*report_data);
  if (!evidence) {
    return evidence.error().code == ErrorCode::kInvalidArgument ? UsageError(err, evidence.error())
                                                                : Failed(err, evidence.error());
  }
  auto report = snp::ParseReport(evidence->report);
  if (!report) return Failed(err, report.error().Wrap("report from the daemon"));

  if (auto written = WriteFileAtomic(command.out, evidence->report); !written) return UsageError(err, written.error());
  if (command.vcek_out) {
    auto pem = crypto::CertificatePemFromDer(evidence->vcek_der);
    if (!pem) return Failed(err, pem.error().Wrap("VCEK from the daemon"));
    if (auto written = WriteFileAtomic(*command.vcek_out, *pem); !written) return UsageError(err, written.error());
  }
  if (command.chain_out) {
    if (auto written = WriteFileAtomic(*command.chain_out, evidence->cert_chain_pem); !written) {
      return UsageError(err, written.error());
    }
  }
  out << "wrote emulated SEV-SNP report to " << command.out.string() << " (HOST_DATA " << HexEncode(report->host_data)
      << ", MEASUREMENT " << HexEncode(report->measurement) << ")\n";
  return kExitOk;
}

}  // namespace contrast::cli
