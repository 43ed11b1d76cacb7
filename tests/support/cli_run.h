// Runs the `contrast` command line in-process (cli::Main) and captures its
// exit code and output, for CLI tests. Header-only: test binaries that
// include it link contrast_cli.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"

namespace contrast::testing {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

// `contrast ARGS...`
inline CliRun Contrast(std::vector<std::string> args) {
  args.insert(args.begin(), "contrast");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = cli::Main(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

}  // namespace contrast::testing
