// `contrast emulate serve / run / tsm / root-hash / guest-report` as
// processes: the real contrast binary, a real daemon on Unix sockets in a
// temp dir. `run` and `tsm` mount the emulated configfs-tsm (FUSE).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/snp/abi.h"
#include "attest/snp/verify.h"
#include "common/files.h"
#include "crypto/hash.h"
#include "session/fixtures.h"
#include "support/fuse.h"

namespace contrast {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
namespace emulated = attest::emulated;
using session::testing::Emulator;

const char* const kContrast = CONTRAST_BINARY;

// A child process with stdout and stderr in files.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& output_dir, const std::string& name)
      : out_(output_dir / (name + ".out")), err_(output_dir / (name + ".err")) {
    std::vector<std::string> storage = args;
    std::vector<char*> argv;
    for (std::string& arg : storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot spawn " + args[0]);
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code, or 1000 + signal when it died of one.
  int Wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  }
  std::string out() const { return ReadTextFile(out_).value_or(""); }
  std::string err() const { return ReadTextFile(err_).value_or(""); }

 private:
  pid_t pid_ = 0;
  fs::path out_;
  fs::path err_;
};

// Polls `condition` (up to 60 s; the condition, not the time, is the test).
// A FUSE mount that is going away answers stat with ENOTCONN or
// ECONNABORTED for a moment: that is neither "there" nor "gone".
bool Present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec) && !ec;
}
bool Gone(const fs::path& path) {
  std::error_code ec;
  return !fs::exists(path, ec) && !ec;
}

template <typename F>
bool Eventually(F condition) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

const std::string kHostDataHex(64, '7');

class EmulateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "ctr-emulate-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    socket_ = dir_ / "sp.sock";
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  // Every VM `emulate run` starts gets an emulated configfs-tsm (FUSE).
  void StartDaemon() {
    CONTRAST_REQUIRE_FUSE();
    auto daemon = emulated::Daemon::Start(Emulator(), socket_);
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
  }

  // `contrast emulate run --socket S <flags> -- <command>`, to completion.
  std::unique_ptr<Process> Run(std::vector<std::string> flags, std::vector<std::string> command) {
    std::vector<std::string> args{kContrast, "emulate", "run", "--socket", socket_.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    return std::make_unique<Process>(args, dir_, "run" + std::to_string(runs_++));
  }

  fs::path dir_;
  fs::path socket_;
  std::unique_ptr<emulated::Daemon> daemon_;
  int runs_ = 0;
};

// The VM sees a configfs-tsm and not the daemon: its evidence comes through
// the kernel interface, with the launcher's MEASUREMENT and HOST_DATA.
TEST_F(EmulateCommandTest, RunGivesTheVmAConfigfsTsmInsteadOfTheDaemonAndPropagatesTheExitStatus) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  const std::string measurement(96, 'a');
  const fs::path tsm_file = dir_ / "tsm";
  const fs::path daemon_env_file = dir_ / "daemon-env";
  const fs::path report_file = dir_ / "report.bin";
  auto run = Run({"--host-data", kHostDataHex, "--measurement", measurement},
                 {"/bin/sh", "-c",
                  "printf %s \"$CONTRAST_TSM_DIR\" > " + tsm_file.string() +
                      "; printf %s \"${CONTRAST_EMULATED_SOCKET-unset} ${CONTRAST_EMULATED_VM_TOKEN-unset}\" > " +
                      daemon_env_file.string() +
                      "; e=\"$CONTRAST_TSM_DIR/report/e\"; mkdir \"$e\" && printf c0ffee > \"$e/inblob\" && "
                      "cat \"$e/outblob\" > " +
                      report_file.string() + " && rmdir \"$e\"; exit 3"});
  ASSERT_EQ(run->Wait(), 3) << run->err();
  EXPECT_EQ(ReadTextFile(daemon_env_file).value_or(""), "unset unset");
  const fs::path tsm_dir = ReadTextFile(tsm_file).value_or("");
  ASSERT_FALSE(tsm_dir.empty());
  // Unmounted and removed once the command exited.
  EXPECT_TRUE(Gone(tsm_dir)) << tsm_dir;

  auto bytes = ReadFile(report_file);
  ASSERT_TRUE(bytes);
  auto report = attest::snp::ParseReport(*bytes);
  ASSERT_TRUE(report) << report.error().message << "\n" << run->err();
  EXPECT_EQ(HexEncode(report->host_data), kHostDataHex);
  EXPECT_EQ(HexEncode(report->measurement), measurement);
  EXPECT_EQ(std::string(report->report_data.begin(), report->report_data.begin() + 6), "c0ffee");
}

// `emulate tsm` on its own: serves the VM of the daemon variables until
// SIGTERM, or until its mount goes away.
TEST_F(EmulateCommandTest, TsmServesUntilSigtermOrUnmount) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  auto token = emulated::RegisterVmWithDaemon(socket_, emulated::Measurement{}, emulated::HostData{});
  ASSERT_TRUE(token) << token.error().message;
  const fs::path mount = dir_ / "tsm";
  fs::create_directories(mount);
  const std::vector<std::string> args = {"/usr/bin/env",
                                         "CONTRAST_EMULATED_SOCKET=" + socket_.string(),
                                         "CONTRAST_EMULATED_VM_TOKEN=" + *token,
                                         kContrast,
                                         "emulate",
                                         "tsm",
                                         "--mount",
                                         mount.string()};
  {
    Process tsm(args, dir_, "tsm-sigterm");
    ASSERT_TRUE(Eventually([&] { return Present(mount / "report"); })) << tsm.err();
    ::kill(tsm.pid(), SIGTERM);
    EXPECT_EQ(tsm.Wait(), 0) << tsm.err();
    EXPECT_THAT(tsm.out(), HasSubstr("received SIGTERM; unmounted"));
    EXPECT_TRUE(Gone(mount / "report"));
  }
  if (::geteuid() != 0) return;  // unmounting from outside needs root here
  Process tsm(args, dir_, "tsm-unmount");
  ASSERT_TRUE(Eventually([&] { return Present(mount / "report"); })) << tsm.err();
  ASSERT_EQ(::umount2(mount.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  EXPECT_EQ(tsm.Wait(), 0) << tsm.err();
  EXPECT_THAT(tsm.out(), HasSubstr("was unmounted; stopped"));
}

// A killed launcher leaves no mount behind: its tsm follows it.
TEST_F(EmulateCommandTest, TsmUnmountsWhenItsLauncherIsKilled) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  const fs::path tsm_file = dir_ / "tsm";
  auto run = Run({"--host-data", kHostDataHex},
                 {"/bin/sh", "-c", "printf %s \"$CONTRAST_TSM_DIR\" > " + tsm_file.string() + "; exec sleep 60"});
  ASSERT_TRUE(Eventually([&] { return !ReadTextFile(tsm_file).value_or("").empty(); })) << run->err();
  const fs::path tsm_dir = ReadTextFile(tsm_file).value_or("");
  ASSERT_TRUE(Present(tsm_dir / "report"));
  // The command (sleep) is ours to stop; the tsm must go by itself.
  std::vector<pid_t> children;
  std::ifstream list("/proc/" + std::to_string(run->pid()) + "/task/" + std::to_string(run->pid()) + "/children");
  for (pid_t child = 0; list >> child;) children.push_back(child);
  ::kill(run->pid(), SIGKILL);
  EXPECT_EQ(run->Wait(), 1000 + SIGKILL);
  for (const pid_t child : children) {
    std::ifstream comm("/proc/" + std::to_string(child) + "/comm");
    std::string name;
    comm >> name;
    if (name == "sleep") ::kill(child, SIGKILL);
  }
  EXPECT_TRUE(Eventually([&] { return Gone(tsm_dir); })) << tsm_dir;
}

TEST_F(EmulateCommandTest, TsmFailsClearlyWithoutMountPointOrVm) {
  const fs::path missing = dir_ / "no-such-dir";
  Process no_dir(
      {"/usr/bin/env", "CONTRAST_EMULATED_SOCKET=" + socket_.string(),
       "CONTRAST_EMULATED_VM_TOKEN=" + std::string(64, 'a'), kContrast, "emulate", "tsm", "--mount", missing.string()},
      dir_, "tsm-no-dir");
  const int code = no_dir.Wait();
  if (!testing::FuseUnavailableReason().empty()) {
    EXPECT_EQ(code, 1);
    EXPECT_THAT(no_dir.err(), HasSubstr("/dev/fuse"));
  } else {
    EXPECT_EQ(code, 1) << no_dir.err();
    EXPECT_THAT(no_dir.err(), HasSubstr(missing.string() + ": No such file or directory (errno 2)"));
  }
  Process no_vm({"/usr/bin/env", "-u", "CONTRAST_EMULATED_SOCKET", "-u", "CONTRAST_EMULATED_VM_TOKEN", kContrast,
                 "emulate", "tsm", "--mount", dir_.string()},
                dir_, "tsm-no-vm");
  EXPECT_EQ(no_vm.Wait(), 2);
  EXPECT_THAT(no_vm.err(), HasSubstr("CONTRAST_EMULATED_"));
}

TEST_F(EmulateCommandTest, PolicyHashIsTheHostDataTheGuestSees) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  const fs::path policy = dir_ / "policy.rego";
  ASSERT_TRUE(WriteFileAtomic(policy, std::string_view("package agent_policy\ndefault allow := true\n")));
  const fs::path report_path = dir_ / "report.bin";
  auto run = Run({"--policy", policy.string()},
                 {kContrast, "emulate", "guest-report", "--report-data", "c0ffee", "-o", report_path.string()});
  ASSERT_EQ(run->Wait(), 0) << run->err();
  EXPECT_THAT(run->out(), HasSubstr("wrote emulated SEV-SNP report"));

  auto bytes = ReadFile(report_path);
  ASSERT_TRUE(bytes);
  attest::snp::Verifier verifier(attest::snp::TrustAnchors{{Emulator().TrustAnchor()}});
  auto verified = verifier.Verify(*bytes, Emulator().vcek_der(), attest::snp::VerifyOptions{});
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->report().host_data, crypto::Sha256(*ReadFile(policy)));
  EXPECT_EQ(verified->report().report_data[0], 0xc0);
  EXPECT_EQ(verified->report().report_data[3], 0x00);
}

// As the runtime gives the Initializer container its env: `--pod` hands the
// command the Coordinator's expected identity generate pinned in the pod's
// Initializer, over whatever the caller's environment says, and nothing else
// of that container.
TEST_F(EmulateCommandTest, PodGivesTheCommandTheCoordinatorIdentityPinnedInItsInitializer) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  const std::string policy = "package agent_policy\n# web\n";
  const std::string hashes = std::string(64, 'c');
  const std::string values = "{\"emulated\": []}";
  const fs::path pod = dir_ / "web.yml";
  ASSERT_TRUE(WriteFileAtomic(
      pod,
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
      "    io.katacontainers.config.agent.policy: " +
          Base64Encode(AsBytes(policy)) +
          "\nspec:\n  initContainers:\n  - name: contrast-initializer\n    image: initializer\n    env:\n"
          "    - name: COORDINATOR_HOST\n      value: coordinator-ready.default\n"
          "    - name: CONTRAST_COORDINATOR_POLICY_HASHES\n      value: " +
          hashes + "\n    - name: CONTRAST_COORDINATOR_REFERENCE_VALUES\n      value: '" + values +
          "'\n  containers:\n  - name: web\n    image: web\n"));
  ::setenv("CONTRAST_COORDINATOR_POLICY_HASHES", "from-the-caller", 1);
  ::unsetenv("COORDINATOR_HOST");
  const fs::path seen = dir_ / "seen";
  auto run = Run({"--pod", pod.string() + ":web"},
                 {"/bin/sh", "-c",
                  "printf '%s|%s|%s' \"$CONTRAST_COORDINATOR_POLICY_HASHES\" "
                  "\"$CONTRAST_COORDINATOR_REFERENCE_VALUES\" \"${COORDINATOR_HOST-unset}\" > " +
                      seen.string()});
  ::unsetenv("CONTRAST_COORDINATOR_POLICY_HASHES");
  ASSERT_EQ(run->Wait(), 0) << run->err();
  EXPECT_EQ(ReadTextFile(seen).value_or(""), hashes + "|" + values + "|unset");
}

TEST_F(EmulateCommandTest, ExitStatusOfACommandKilledBySignalIs128PlusTheSignal) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  auto run = Run({"--host-data", kHostDataHex}, {"/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(run->Wait(), 128 + SIGKILL) << run->err();
}

TEST_F(EmulateCommandTest, ForwardsSigtermToTheCommand) {
  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  const fs::path ready = dir_ / "ready";
  // The command turns SIGTERM into exit 7: had `run` died of the signal
  // itself, the status would be 143 or a signal death.
  auto run = Run({"--host-data", kHostDataHex},
                 {"/bin/sh", "-c", "trap 'exit 7' TERM; : > " + ready.string() + "; while :; do sleep 0.05; done"});
  ASSERT_TRUE(Eventually([&] { return fs::exists(ready); }));
  ASSERT_EQ(::kill(run->pid(), SIGTERM), 0);
  EXPECT_EQ(run->Wait(), 7) << run->err();
}

TEST_F(EmulateCommandTest, RunFailsClearlyWithoutDaemonOrCommand) {
  auto no_daemon = Run({"--host-data", kHostDataHex}, {"/bin/true"});
  EXPECT_EQ(no_daemon->Wait(), 1);
  EXPECT_THAT(no_daemon->err(), HasSubstr("is `contrast emulate serve` running?"));

  StartDaemon();
  if (HasFatalFailure() || IsSkipped()) return;
  auto missing = Run({"--host-data", kHostDataHex}, {"/nonexistent/command"});
  EXPECT_EQ(missing->Wait(), 127);
  EXPECT_THAT(missing->err(), HasSubstr("cannot run /nonexistent/command"));

  auto neither = Run({}, {"/bin/true"});
  EXPECT_EQ(neither->Wait(), 2);
  EXPECT_THAT(neither->err(), HasSubstr("exactly one of --policy, --host-data and --pod"));

  auto short_host_data = Run({"--host-data", "00"}, {"/bin/true"});
  EXPECT_EQ(short_host_data->Wait(), 2);
  EXPECT_THAT(short_host_data->err(), HasSubstr("--host-data"));

  Process no_command({kContrast, "emulate", "run", "--socket", socket_.string(), "--host-data", kHostDataHex}, dir_,
                     "no-command");
  EXPECT_EQ(no_command.Wait(), 2);
}

TEST_F(EmulateCommandTest, ServeUntilSigtermThenRemoveTheSockets) {
  // A state with fast RSA-2048 CA keys, as `emulate init` would write it.
  emulated::SecureProcessorOptions options;
  options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
  auto sp = emulated::SecureProcessor::Create(dir_ / "state", options);
  ASSERT_TRUE(sp) << sp.error().message;
  const std::string root_hash = HexEncode(crypto::Sha256(sp->ark_der()));

  Process root({kContrast, "emulate", "root-hash", "--state-dir", (dir_ / "state").string()}, dir_, "root-hash");
  EXPECT_EQ(root.Wait(), 0);
  EXPECT_EQ(root.out(), root_hash + "\n");

  Process serve({kContrast, "emulate", "serve", "--state-dir", (dir_ / "state").string(), "--socket", socket_.string()},
                dir_, "serve");
  std::optional<std::string> token;
  ASSERT_TRUE(Eventually([&] {
    auto registered =
        emulated::RegisterVmWithDaemon(socket_, session::testing::kMeasurement, session::testing::kWorkloadHostData);
    if (registered) token = *registered;
    return registered.has_value();
  })) << serve.err();
  EXPECT_THAT(serve.out(), HasSubstr(root_hash));
  EXPECT_THAT(serve.out(), HasSubstr(emulated::LauncherSocketPath(socket_).string()));
  EXPECT_THAT(serve.err(), HasSubstr("INSECURE"));

  auto client = emulated::GuestClient::Create(socket_, *token);
  ASSERT_TRUE(client);
  auto evidence = client->GetReport(Bytes(64, 1));
  ASSERT_TRUE(evidence) << evidence.error().message;
  EXPECT_EQ(evidence->vcek_der, sp->vcek_der());

  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  EXPECT_EQ(serve.Wait(), 0) << serve.err();
  EXPECT_THAT(serve.out(), HasSubstr("received SIGTERM"));
  EXPECT_FALSE(fs::exists(socket_));
  EXPECT_FALSE(fs::exists(emulated::LauncherSocketPath(socket_)));
}

TEST_F(EmulateCommandTest, ServeWithoutStateNeedsInit) {
  Process serve({kContrast, "emulate", "serve", "--state-dir", (dir_ / "none").string(), "--socket", socket_.string()},
                dir_, "serve");
  EXPECT_EQ(serve.Wait(), 2);
  EXPECT_THAT(serve.err(), HasSubstr("--init"));
  EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(EmulateCommandTest, ServeInitCreatesTheStateOnce) {
  // Real RSA-4096 CA keys: the slowest test here.
  Process serve(
      {kContrast, "emulate", "serve", "--state-dir", (dir_ / "state").string(), "--socket", socket_.string(), "--init"},
      dir_, "serve");
  ASSERT_TRUE(Eventually([&] { return serve.out().find("serving until") != std::string::npos; })) << serve.err();
  EXPECT_THAT(serve.out(), HasSubstr("created in"));
  ASSERT_EQ(::kill(serve.pid(), SIGINT), 0);
  EXPECT_EQ(serve.Wait(), 0) << serve.err();
  auto loaded = emulated::SecureProcessor::Load(dir_ / "state");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_THAT(serve.out(), HasSubstr(HexEncode(crypto::Sha256(loaded->ark_der()))));

  // Again with --init: the existing state is loaded, not replaced.
  Process again(
      {kContrast, "emulate", "serve", "--state-dir", (dir_ / "state").string(), "--socket", socket_.string(), "--init"},
      dir_, "again");
  ASSERT_TRUE(Eventually([&] { return again.out().find("serving until") != std::string::npos; })) << again.err();
  EXPECT_THAT(again.out(), HasSubstr("loaded from"));
  EXPECT_THAT(again.out(), HasSubstr(HexEncode(crypto::Sha256(loaded->ark_der()))));
  ASSERT_EQ(::kill(again.pid(), SIGTERM), 0);
  EXPECT_EQ(again.Wait(), 0);
}

}  // namespace
}  // namespace contrast
