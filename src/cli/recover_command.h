// `contrast recover`: gives a restarted Coordinator its seed back. The
// seed-share owner attests the Coordinator against the manifest, decrypts
// its share of seed-shares.json, and sends seed and salt with a signature by
// its seed-share owner key bound to this attested connection.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "attest/collateral_flags.h"

namespace CLI {
class App;
}  // namespace CLI

namespace contrast::cli {

struct RecoverCommand {
  std::string coordinator;  // HOST:PORT
  std::filesystem::path manifest = "manifest.json";
  std::optional<std::filesystem::path> seedshare_owner_key;  // default: <workspace>/seedshare-owner.pem
  std::optional<std::filesystem::path> seed_shares;          // default: <workspace>/seed-shares.json
  bool force = false;
  std::filesystem::path workspace = ".";
  std::chrono::seconds timeout{120};   // how long to retry an unavailable Coordinator
  attest::CollateralFlags collateral;  // where the Coordinator's collateral comes from
};

int RunRecover(const RecoverCommand& command, std::ostream& out, std::ostream& err);

// Registers `recover` on `app`.
void AddRecoverCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
