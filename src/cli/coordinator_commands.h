// `contrast set` and `contrast verify`: the workload owner's and the
// auditor's view of a Coordinator. Both attest the Coordinator against the
// local manifest (its Role "coordinator" policy hash and the reference
// values) before anything else crosses the connection.
//
// `verify` fetches the history a page at a time, checks its hash chain
// itself, refuses a history that no longer contains the transition the
// previous run saved (rollback), and saves the latest transition in
// verify/latest-transition. `set` shows the manifest it builds on and
// refuses any other base than that saved transition (unless
// --allow-unverified-base), signs for this Coordinator's root key, and saves
// the transition it made there; `set --atomic` and `contrast sign` build on
// it.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "attest/collateral_flags.h"

namespace CLI {
class App;
}  // namespace CLI

namespace contrast::cli {

struct SetCommand {
  std::string coordinator;  // HOST:PORT
  std::filesystem::path manifest = "manifest.json";
  std::vector<std::filesystem::path> policies;  // resources (YAML files, directories) or policy documents
  // PKCS#8 private key (signs locally); with `signature` also a public key PEM.
  std::optional<std::filesystem::path> workload_owner_key;
  // Conditional update: on --latest-transition, else verify/latest-transition,
  // else "no manifest yet".
  bool atomic = false;
  std::optional<std::string> latest_transition;    // hex; only with atomic
  std::optional<std::filesystem::path> signature;  // DER, from `contrast sign`
  // Build on the Coordinator's latest transition even when it is not the
  // one this workspace last verified (or set).
  bool allow_unverified_base = false;
  std::filesystem::path workspace = ".";
  std::chrono::seconds timeout{120};   // how long to retry an unavailable Coordinator
  attest::CollateralFlags collateral;  // where the Coordinator's collateral comes from
};

struct VerifyCommand {
  std::string coordinator;
  std::filesystem::path manifest = "manifest.json";
  std::filesystem::path workspace = ".";
  std::chrono::seconds timeout{120};
  attest::CollateralFlags collateral;
};

int RunSet(const SetCommand& command, std::ostream& out, std::ostream& err);
int RunVerify(const VerifyCommand& command, std::ostream& out, std::ostream& err);

// Registers `set` and `verify` on `app`; the selected command's runner is
// stored in `run`.
void AddCoordinatorCommands(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
