// The `contrast-initializer` command line.
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <tuple>

#include <CLI/CLI.hpp>

#include "common/time.h"
#include "initializer/initializer.h"
#include "platform/issuer.h"

namespace contrast::initializer {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Where a hand-added Initializer's volume is mounted (2024 README).
constexpr std::string_view kLegacyTlsDir = "/tls-config";

struct Flags {
  std::string coordinator_host;
  std::string root_dir = "/contrast";
  std::string retry_initial = "1s";
  std::string retry_max = "10s";
  std::string timeout = "0";
};

Result<InitializerConfig> ConfigFrom(const Flags& flags) {
  InitializerConfig config;
  auto target = ParseCoordinatorHost(flags.coordinator_host);
  if (!target) return Fail(target.error());
  config.coordinator = *target;
  config.root_dir = flags.root_dir;
  for (const auto& [text, field, name] : {std::tuple{&flags.retry_initial, &config.retry_initial, "--retry-initial"},
                                          std::tuple{&flags.retry_max, &config.retry_max, "--retry-max"},
                                          std::tuple{&flags.timeout, &config.timeout, "--timeout"}}) {
    auto parsed = ParseDuration(*text);
    if (!parsed) return Fail(parsed.error().Wrap(name));
    *field = *parsed;
  }
  return config;
}

}  // namespace

int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "contrast-initializer: attests this pod to the Coordinator and writes its mesh certificate, key and CA "
      "certificates to <root-dir>/tls-config",
      "contrast-initializer"};
  Flags flags;
  app.add_option("--coordinator-host", flags.coordinator_host, "The Coordinator: host or host:port (default port 7777)")
      ->envname(kCoordinatorHostEnv);
  auto* root_dir = app.add_option("--root-dir", flags.root_dir,
                                  "Where tls-config/ is written (default /contrast; in a pod whose Initializer was "
                                  "added by hand with a volume at /tls-config, as in 2024, the files go there)")
                       ->envname("CONTRAST_INITIALIZER_ROOT_DIR")
                       ->capture_default_str();
  app.add_option("--retry-initial", flags.retry_initial, "First wait between attempts (doubles each time)")
      ->envname("CONTRAST_INITIALIZER_RETRY_INITIAL")
      ->capture_default_str();
  app.add_option("--retry-max", flags.retry_max, "Longest wait between attempts")
      ->envname("CONTRAST_INITIALIZER_RETRY_MAX")
      ->capture_default_str();
  app.add_option("--timeout", flags.timeout, "Give up after this long (0: never)")
      ->envname("CONTRAST_INITIALIZER_TIMEOUT")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }

  // A pod that carries a hand-added Initializer (the 2024 way) mounts its
  // volume at /tls-config and has no /contrast: write where it is mounted.
  if (root_dir->count() == 0 && !std::filesystem::exists(flags.root_dir) &&
      std::filesystem::is_directory(std::string(kLegacyTlsDir))) {
    flags.root_dir = "/";
  }
  auto config = ConfigFrom(flags);
  if (!config) {
    err << "contrast-initializer: error: " << config.error().message << "\n";
    return kExitUsage;
  }
  config->log = [&err](std::string_view line) {
    err << FormatRfc3339(Now()) << " contrast-initializer: " << line << std::endl;
  };
  auto issuer = platform::IssuerFromEnvironment();
  if (!issuer) {
    err << "contrast-initializer: error: " << issuer.error().message << "\n";
    return kExitUsage;
  }
  config->log("evidence from " + platform::DescribeIssuerEnvironment());
  if (auto done = RunInitializer(*config, **issuer); !done) {
    err << "contrast-initializer: error: " << done.error().message << "\n";
    return done.error().code == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  return kExitOk;
}

}  // namespace contrast::initializer
