// Runs the real `openssl` binary from a test, as an implementation that shares
// no code with ours. A missing binary skips the test, except under CI=true,
// where it fails: the independent check must not silently disappear.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace contrast::seed::testing {

inline bool OpensslCliAvailable() { return std::system("openssl version >/dev/null 2>&1") == 0; }

inline bool RunningInCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

#define REQUIRE_OPENSSL_CLI()                                                          \
  do {                                                                                 \
    if (!::contrast::seed::testing::OpensslCliAvailable()) {                           \
      if (::contrast::seed::testing::RunningInCi()) {                                  \
        FAIL() << "the openssl binary is required for this check under CI=true";       \
      }                                                                                \
      GTEST_SKIP() << "the openssl binary is not installed; the independent check of " \
                      "our output against it cannot run";                              \
    }                                                                                  \
  } while (0)

// Shell-quotes one argument ('...' with embedded quotes escaped).
inline std::string Quote(std::string_view arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `openssl args...` and returns its standard output, or nullopt when it
// exits with a non-zero status (its stderr then goes to the test log).
inline std::optional<std::string> RunOpenssl(const std::vector<std::string>& args) {
  std::string command = "openssl";
  for (const std::string& arg : args) command += " " + Quote(arg);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

// A fresh directory below the system's temp directory, removed at the end of
// the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "contrast-seed-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace contrast::seed::testing
