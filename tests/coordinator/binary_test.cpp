// The contrast-coordinator program: flags and environment variables reach the
// library, it serves, and SIGTERM / SIGINT stop it with exit status 0.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "common/http.h"
#include "harness.h"

#ifndef CONTRAST_COORDINATOR_BINARY
#error "CONTRAST_COORDINATOR_BINARY must name the contrast-coordinator executable"
#endif

namespace contrast::coordinator::testing {
namespace {

using ::testing::HasSubstr;

// A running contrast-coordinator whose stderr the test reads.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    std::vector<std::string> argv_storage{CONTRAST_COORDINATOR_BINARY};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage = env;
    std::vector<char*> envp;
    for (std::string& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    stderr_fd_ = pipe_fds[0];
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stderr_fd_);
  }

  // Reads stderr until a line matches `pattern` (bounded wait, so a broken
  // program fails the test instead of hanging it); the first capture group.
  std::optional<std::string> WaitForLog(const std::regex& pattern) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      std::smatch match;
      if (std::regex_search(log_, match, pattern)) return match.size() > 1 ? match[1].str() : match[0].str();
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stderr_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buffer[4096];
      const ssize_t n = ::read(stderr_fd_, buffer, sizeof buffer);
      if (n <= 0) return std::nullopt;
      log_.append(buffer, static_cast<size_t>(n));
    }
  }

  // Sends `signal` (0: none, the program is expected to exit by itself) and
  // returns the exit status; -1 when it did not exit normally within 30 s.
  int StopWith(int signal) {
    if (signal != 0) ::kill(pid_, signal);
    int status = 0;
    for (int i = 0; i < 600; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;  // the destructor kills it
  }

  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string log_;
};

// The environment `contrast emulate run` gives a program: a VM of an
// emulator daemon (one per test process) running the Coordinator's policy.
std::vector<std::string> EmulatorEnvironment() {
  static TempDir dir;
  // Serves until the process exits (never destroyed: gRPC may already be
  // shut down by then).
  static attest::emulated::Daemon* daemon =
      Must(attest::emulated::Daemon::Start(Emulator(), dir.path() / "sp.sock")).release();
  const std::string token =
      Must(attest::emulated::RegisterVmWithDaemon(daemon->guest_socket(), kMeasurement, HashOf("binary").bytes));
  return {std::string(attest::emulated::kSocketEnv) + "=" + daemon->guest_socket().string(),
          std::string(attest::emulated::kVmTokenEnv) + "=" + token};
}

std::vector<std::string> With(std::vector<std::string> env, const std::vector<std::string>& more) {
  env.insert(env.end(), more.begin(), more.end());
  return env;
}

class Binary : public ::testing::TestWithParam<int> {
 protected:
  TempDir dir_;
};

TEST_P(Binary, ServesAndStopsOnSignalWithExitZero) {
  Process process({"--user-api-address", "127.0.0.1:0", "--mesh-api-address", "127.0.0.1:0", "--state-dir",
                   (dir_.path() / "history").string(), "--shutdown-timeout", "2"},
                  With(EmulatorEnvironment(), {"CONTRAST_PROBE_ADDRESS=127.0.0.1:0", "CONTRAST_LOG_LEVEL=debug"}));
  const auto port = process.WaitForLog(std::regex("event=coordinator_started .*probe_port=([0-9]+)"));
  ASSERT_TRUE(port.has_value()) << process.log();
  // Where its evidence comes from, once at startup.
  EXPECT_THAT(process.log(), HasSubstr("attestation: emulated-snp (INSECURE) evidence from the emulator daemon"));
  auto live = http::Get("http://127.0.0.1:" + *port + "/probe/liveness");
  ASSERT_TRUE(live) << live.error().message;
  EXPECT_EQ(live->status, 200);
  auto ready = Must(http::Get("http://127.0.0.1:" + *port + "/probe/readiness"));
  EXPECT_EQ(ready.status, 503);
  EXPECT_TRUE(std::filesystem::is_directory(dir_.path() / "history" / "transitions"));

  EXPECT_EQ(process.StopWith(GetParam()), 0);
  process.WaitForLog(std::regex("event=coordinator_stopped"));
  EXPECT_THAT(process.log(), HasSubstr("event=coordinator_stopped"));
}

INSTANTIATE_TEST_SUITE_P(Signals, Binary, ::testing::Values(SIGTERM, SIGINT));

TEST(BinaryFlags, BadValuesAreUsageErrors) {
  TempDir dir;
  Process bad_level({"--state-dir", dir.path().string()}, {"CONTRAST_LOG_LEVEL=loud"});
  bad_level.WaitForLog(std::regex("loud"));
  EXPECT_THAT(bad_level.log(), HasSubstr("--log-level"));
  EXPECT_NE(bad_level.StopWith(0), 0);

  Process bad_address({"--state-dir", dir.path().string(), "--probe-address", "nowhere"}, EmulatorEnvironment());
  bad_address.WaitForLog(std::regex("startup_failed"));
  EXPECT_THAT(bad_address.log(), HasSubstr("event=startup_failed"));
  EXPECT_EQ(bad_address.StopWith(0), 1);
}

// Without a source of evidence (no configfs-tsm, no /dev/sev-guest, not under
// `contrast emulate run`) the Coordinator does not start.
TEST(BinaryFlags, NoEvidenceSourceOrABadTsmDirIsAStartupFailure) {
  TempDir dir;
  Process nothing({"--state-dir", dir.path().string()}, {});
  nothing.WaitForLog(std::regex("startup_failed"));
  EXPECT_THAT(nothing.log(), HasSubstr("no source of attestation evidence"));
  EXPECT_EQ(nothing.StopWith(0), 1);

  // An explicit configfs-tsm root wins over the emulator environment.
  const std::string missing = (dir.path() / "no-tsm").string();
  Process bad_tsm({"--state-dir", dir.path().string(), "--tsm-dir", missing}, EmulatorEnvironment());
  bad_tsm.WaitForLog(std::regex("startup_failed"));
  EXPECT_THAT(bad_tsm.log(), HasSubstr("--tsm-dir " + missing));
  EXPECT_EQ(bad_tsm.StopWith(0), 1);
}

// Peer recovery flags (issue #17): the list, the DNS name and the interval
// reach the Coordinator; a malformed peer stops the start.
TEST(BinaryFlags, PeerRecoveryFlags) {
  TempDir dir;
  Process peers({"--user-api-address", "127.0.0.1:0", "--mesh-api-address", "127.0.0.1:0", "--state-dir",
                 (dir.path() / "history").string(), "--peers", "127.0.0.1:1,127.0.0.1:2", "--peers-dns", "localhost:3",
                 "--peer-recovery-interval", "2", "--shutdown-timeout", "1"},
                With(EmulatorEnvironment(), {"CONTRAST_PROBE_ADDRESS=127.0.0.1:0"}));
  ASSERT_TRUE(peers.WaitForLog(std::regex("event=coordinator_started")).has_value()) << peers.log();
  EXPECT_THAT(peers.log(), HasSubstr("event=peer_recovery_enabled peers=2 peers_dns=localhost:3 interval_ms=2000"));
  EXPECT_EQ(peers.StopWith(SIGTERM), 0);

  Process bad({"--state-dir", dir.path().string(), "--peers", "replica-0"}, EmulatorEnvironment());
  bad.WaitForLog(std::regex("startup_failed"));
  EXPECT_THAT(bad.log(), HasSubstr("replica-0"));
  EXPECT_EQ(bad.StopWith(0), 1);
}

}  // namespace
}  // namespace contrast::coordinator::testing
