// `contrast sign`: a workload owner's signature over a manifest transition at
// one Coordinator (history::TransitionSigningMessage), made offline. With
// --prepare it only writes the message, for a signer that holds the key
// elsewhere (an HSM signs SHA-256 of those bytes).
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
  std::optional<std::string> latest_transition;             // hex; default: verify/latest-transition
  // PEM; default: <workspace>/verify/coordinator-root-ca.pem
  std::optional<std::filesystem::path> coordinator_root_ca;
  bool prepare = false;
  std::filesystem::path out;
  std::filesystem::path workspace = ".";
};

int RunSign(const SignCommand& command, std::ostream& out, std::ostream& err);

// Registers `sign` on `app`.
void AddSignCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
