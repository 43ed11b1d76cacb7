// `contrast sign`: a workload owner's signature over a manifest transition,
// made offline. With --prepare it only writes the transition hash, for a
// signer that holds the key elsewhere (an HSM signs SHA-256 of that text).
// `contrast set --signature` sends the result.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace contrast::cli {

struct SignCommand {
  std::filesystem::path manifest = "manifest.json";
  std::optional<std::filesystem::path> workload_owner_key;  // default: <workspace>/workload-owner.pem
  std::optional<std::string> latest_transition;             // hex; default: verify/latest-transition, else zeros
  bool prepare = false;
  std::filesystem::path out;
  std::filesystem::path workspace = ".";
};

int RunSign(const SignCommand& command, std::ostream& out, std::ostream& err);

// Registers `sign` on `app`.
void AddSignCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
