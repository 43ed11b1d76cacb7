// rego_conformance [--skips FILE] [--divergences FILE] [--filter SUBSTR] [--isolate] [-v] PATH...
// rego_conformance --list-builtins
//
// Runs every case of the OPA-format YAML files at PATH (files, or folders
// searched recursively for *.yaml) on our Rego engine. Prints one line per
// failed case, then "N passed, N failed, N skipped". Exits 0 only when no
// case failed and every file could be read.
//
//   --skips FILE     cases to skip: "note<TAB>reason" per line
//   --divergences FILE  query variables whose expected value contradicts OPA:
//                    "note<TAB>variable<TAB>OPA's value<TAB>reason"; OPA's
//                    value (JSON) is expected instead of the data's;
//                    variable "-": OPA's answer is undefined, and so must ours be
//   --filter SUBSTR  only cases whose note contains SUBSTR
//   --isolate        run each case in a child process, so a crash or hang
//                    fails that case instead of the whole run
//   -v               print every case with its verdict, and failures in full
//   --list-builtins  print the names of the builtins we ship, one per line
//                    (for docs/rego.md), and exit
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "policy/conformance/case_runner.h"
#include "policy/rego/builtins.h"

namespace {

using contrast::policy::rego::conformance::Outcome;
using contrast::policy::rego::conformance::SkipList;
using contrast::policy::rego::conformance::TestCase;
using contrast::policy::rego::conformance::Verdict;

// A child that runs longer than this is hung (the engine's own limit is
// 20 s per case).
constexpr unsigned kChildTimeLimitSeconds = 40;
// Failure details beyond this are cut unless -v: some ACI results are large.
constexpr size_t kShortDetail = 2000;

struct Options {
  std::filesystem::path skips;
  std::filesystem::path divergences;
  std::string filter;
  bool isolate = false;
  bool verbose = false;
  std::vector<std::filesystem::path> paths;
};

struct Tally {
  int passed = 0;
  int diverged = 0;  // passed with OPA's answer from the divergence list
  int failed = 0;
  int skipped = 0;
};

int Usage(const char* message) {
  std::cerr
      << "rego_conformance: " << message << "\n"
      << "usage: rego_conformance [--skips FILE] [--divergences FILE] [--filter SUBSTR] [--isolate] [-v] PATH...\n";
  return 2;
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

// Runs the case in a child; the verdict comes back through a pipe as one
// digit followed by the detail text.
Outcome RunIsolated(const TestCase& test_case) {
  int fds[2];
  if (pipe(fds) != 0) return {Verdict::kFailed, std::string("pipe: ") + std::strerror(errno)};
  std::cout.flush();
  std::cerr.flush();
  const pid_t child = fork();
  if (child < 0) return {Verdict::kFailed, std::string("fork: ") + std::strerror(errno)};
  if (child == 0) {
    close(fds[0]);
    alarm(kChildTimeLimitSeconds);
    const Outcome outcome = contrast::policy::rego::conformance::RunCase(test_case);
    const bool ok = WriteAll(fds[1], std::to_string(static_cast<int>(outcome.verdict)) + outcome.detail);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  std::string bytes;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return {Verdict::kFailed, signal == SIGALRM
                                  ? "hung: no verdict after " + std::to_string(kChildTimeLimitSeconds) + " s"
                                  : "crashed with signal " + std::to_string(signal) + " (" + strsignal(signal) + ")"};
  }
  if (bytes.empty() || bytes[0] < '0' || bytes[0] > '2') {
    return {Verdict::kFailed, "the child process gave no verdict (exit status " + std::to_string(status) + ")"};
  }
  return {static_cast<Verdict>(bytes[0] - '0'), bytes.substr(1)};
}

std::string Shortened(const std::string& detail, bool verbose) {
  if (verbose || detail.size() <= kShortDetail) return detail;
  return detail.substr(0, kShortDetail) + " ... (" + std::to_string(detail.size() - kShortDetail) +
         " more characters; -v shows all)";
}

int Run(const Options& options) {
  contrast::policy::rego::conformance::DivergenceList divergences;
  if (!options.divergences.empty()) {
    auto loaded = contrast::policy::rego::conformance::LoadDivergenceList(options.divergences);
    if (!loaded) {
      std::cerr << "rego_conformance: " << loaded.error().message << "\n";
      return 2;
    }
    divergences = std::move(*loaded);
  }
  SkipList skips;
  if (!options.skips.empty()) {
    auto loaded = contrast::policy::rego::conformance::LoadSkipList(options.skips);
    if (!loaded) {
      std::cerr << "rego_conformance: " << loaded.error().message << "\n";
      return 2;
    }
    skips = std::move(*loaded);
  }
  auto files = contrast::policy::rego::conformance::CollectCaseFiles(options.paths);
  if (!files) {
    std::cerr << "rego_conformance: " << files.error().message << "\n";
    return 2;
  }
  Tally total;
  int unreadable = 0;
  for (const auto& file : *files) {
    auto cases = contrast::policy::rego::conformance::LoadCaseFile(file);
    if (!cases) {
      std::cout << "ERROR " << cases.error().message << "\n";
      ++unreadable;
      continue;
    }
    Tally tally;
    for (auto& test_case : *cases) {
      if (!options.filter.empty() && test_case.note.find(options.filter) == std::string::npos) continue;
      const contrast::Status corrected = contrast::policy::rego::conformance::ApplyDivergences(test_case, divergences);
      Outcome outcome;
      if (!corrected) {
        outcome = {Verdict::kFailed, "divergence list: " + corrected.error().message};
      } else if (const auto skip = skips.find(test_case.note); skip != skips.end()) {
        outcome = {Verdict::kSkipped, skip->second};
      } else {
        outcome = options.isolate ? RunIsolated(test_case) : contrast::policy::rego::conformance::RunCase(test_case);
      }
      switch (outcome.verdict) {
        case Verdict::kPassed:
          ++tally.passed;
          if (!test_case.diverging_bindings.empty()) ++tally.diverged;
          if (options.verbose) std::cout << "PASS " << test_case.note << "\n";
          break;
        case Verdict::kSkipped:
          ++tally.skipped;
          if (options.verbose) std::cout << "SKIP " << test_case.note << ": " << outcome.detail << "\n";
          break;
        case Verdict::kFailed:
          ++tally.failed;
          std::cout << "FAIL " << test_case.note << " (" << file.filename().string()
                    << "): " << Shortened(outcome.detail, options.verbose) << "\n";
          break;
      }
    }
    if (files->size() > 1) {
      std::cout << file.string() << ": " << tally.passed << " passed, " << tally.failed << " failed, " << tally.skipped
                << " skipped\n";
    }
    total.passed += tally.passed;
    total.diverged += tally.diverged;
    total.failed += tally.failed;
    total.skipped += tally.skipped;
  }
  std::cout << total.passed << " passed, " << total.failed << " failed, " << total.skipped << " skipped";
  if (total.diverged > 0) {
    std::cout << " (" << total.diverged
              << " passed with OPA's answer in place of the data's, from the divergence list)";
  }
  if (unreadable > 0) std::cout << " (" << unreadable << " files could not be read)";
  std::cout << "\n";
  return total.failed == 0 && unreadable == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--skips" || arg == "--filter" || arg == "--divergences") {
      if (i + 1 >= argc) return Usage((arg + " needs a value").c_str());
      if (arg == "--skips") {
        options.skips = argv[++i];
      } else if (arg == "--divergences") {
        options.divergences = argv[++i];
      } else {
        options.filter = argv[++i];
      }
    } else if (arg == "--list-builtins") {
      for (const auto& name : contrast::policy::rego::BuiltinRegistry::Default().Names()) std::cout << name << "\n";
      return 0;
    } else if (arg == "--isolate") {
      options.isolate = true;
    } else if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
    } else if (arg.starts_with("-")) {
      return Usage(("unknown option " + arg).c_str());
    } else {
      options.paths.emplace_back(arg);
    }
  }
  if (options.paths.empty()) return Usage("no case file or folder given");
  return Run(options);
}
