// Real child processes for end-to-end tests: started with fork/exec, output
// captured to a file, stopped and reaped when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace contrast::testing {

class ChildProcess {
 public:
  // Starts `argv` with the current environment plus `env`; stdout and stderr
  // go to `log`. Records a test failure if the process cannot be started.
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log, std::map<std::string, std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for the exit; nullopt on timeout. The exit code, or 128+signal.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `grace`; returns the exit code.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL to the whole process group at once (a crash: nothing gets to
  // clean up); returns 128+9 once it is gone.
  int Kill();
  bool running();
  // Polls `ready` until it holds (true), the process exits or `timeout`
  // passes (false). The condition, not the time, is what a test checks.
  bool WaitUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout = std::chrono::minutes(2));
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_;
};

// Runs to completion; returns {exit code, combined output}.
struct Completed {
  int code;
  std::string output;
};
Completed RunProcess(std::vector<std::string> argv, const std::filesystem::path& log,
                     std::map<std::string, std::string> env = {},
                     std::chrono::milliseconds timeout = std::chrono::minutes(2));

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t FreeLoopbackPort();

// Number of open file descriptors and threads of a process (from /proc).
size_t OpenFileDescriptors(pid_t pid);
size_t Threads(pid_t pid);

}  // namespace contrast::testing
