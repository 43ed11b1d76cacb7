// The `contrast-initializer` command line.
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <ostream>
#include <tuple>

#include <CLI/CLI.hpp>

#include "attest/collateral_flags.h"
#include "attest/detect.h"
#include "common/time.h"
#include "initializer/initializer.h"

namespace contrast::initializer {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Where a hand-added Initializer's volume is mounted (2024 README).
constexpr std::string_view kLegacyTlsDir = "/tls-config";

struct Flags {
  std::string coordinator_host;
  // The Coordinator's expected identity: unset when neither the flag nor
  // the variable is given (an empty variable is set, and malformed).
  std::optional<std::string> coordinator_policy_hashes;
  std::optional<std::string> coordinator_reference_values;
  bool require_coordinator_attestation = false;
  std::string root_dir = "/contrast";
  std::string retry_initial = "1s";
  std::string retry_max = "10s";
  std::string timeout = "0";
  std::string tsm_dir;  // empty: CONTRAST_TSM_DIR, else detected
  attest::CollateralFlags collateral;
};

Error Usage(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

// The value of a flag, else of its variable (set even when empty).
std::optional<std::string> FlagOrEnvironment(const CLI::Option* option, const std::string& flag_value,
                                             const char* variable) {
  if (option->count() > 0) return flag_value;
  if (const char* value = std::getenv(variable)) return std::string(value);
  return std::nullopt;
}

// Both values or neither; neither only when the command line does not
// require them.
Result<std::optional<ExpectedCoordinator>> ExpectedCoordinatorFrom(const Flags& flags) {
  const bool hashes = flags.coordinator_policy_hashes.has_value();
  const bool values = flags.coordinator_reference_values.has_value();
  if (!hashes && !values) {
    if (!flags.require_coordinator_attestation) return std::optional<ExpectedCoordinator>();
    return Fail(Usage(std::string(kRequireCoordinatorAttestationFlag) + " is given, but " +
                      kCoordinatorPolicyHashesEnv + " and " + kCoordinatorReferenceValuesEnv +
                      " are not set: the pod's policy requires attesting the Coordinator, and something (the host?) "
                      "dropped the values `contrast generate` pinned"));
  }
  if (hashes != values) {
    return Fail(Usage(std::string(hashes ? kCoordinatorReferenceValuesEnv : kCoordinatorPolicyHashesEnv) +
                      " is not set, but " + (hashes ? kCoordinatorPolicyHashesEnv : kCoordinatorReferenceValuesEnv) +
                      " is: the Coordinator's expected identity needs both"));
  }
  auto parsed = ParseExpectedCoordinator(*flags.coordinator_policy_hashes, *flags.coordinator_reference_values);
  if (!parsed) return Fail(parsed.error());
  return std::optional<ExpectedCoordinator>(std::move(*parsed));
}

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
  auto expected = ExpectedCoordinatorFrom(flags);
  if (!expected) return Fail(expected.error());
  config.expected_coordinator = std::move(*expected);
  // One run per pod: a disk cache would not outlive it.
  auto verifier = attest::VerifierOptionsFrom(flags.collateral, /*default_cache_dir=*/{});
  if (!verifier) return Fail(verifier.error());
  config.verifier = std::move(*verifier);
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
  app.add_option("--tsm-dir", flags.tsm_dir,
                 "configfs-tsm root to take evidence from (default: $CONTRAST_TSM_DIR, else detected: "
                 "/sys/kernel/config/tsm, /dev/sev-guest, `contrast emulate run`)");
  attest::AddCollateralFlags(app, flags.collateral, "none: memory only");
  std::string policy_hashes;
  std::string reference_values;
  auto* policy_hashes_option =
      app.add_option("--coordinator-policy-hashes", policy_hashes,
                     std::string("The Coordinator's policy digests (HOST_DATA), comma-separated hex; or ") +
                         kCoordinatorPolicyHashesEnv + ". `contrast generate` sets it");
  auto* reference_values_option =
      app.add_option("--coordinator-reference-values", reference_values,
                     std::string("The reference values the Coordinator's platform must match (the manifest's "
                                 "ReferenceValues, JSON); or ") +
                         kCoordinatorReferenceValuesEnv + ". `contrast generate` sets it");
  app.add_flag(kRequireCoordinatorAttestationFlag, flags.require_coordinator_attestation,
               "Refuse to start unless the Coordinator's expected identity is given (`contrast generate` passes "
               "it: the pod's policy pins the command line, but would not notice missing variables)");
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
  flags.coordinator_policy_hashes = FlagOrEnvironment(policy_hashes_option, policy_hashes, kCoordinatorPolicyHashesEnv);
  flags.coordinator_reference_values =
      FlagOrEnvironment(reference_values_option, reference_values, kCoordinatorReferenceValuesEnv);
  auto config = ConfigFrom(flags);
  if (!config) {
    err << "contrast-initializer: error: " << config.error().message << "\n";
    return kExitUsage;
  }
  config->log = [&err](std::string_view line) {
    err << FormatRfc3339(Now()) << " contrast-initializer: " << line << std::endl;
  };
  attest::DetectOptions detect;
  detect.tsm_dir = flags.tsm_dir;
  auto issuer = attest::DetectIssuer(detect);
  if (!issuer) {
    err << "contrast-initializer: error: " << issuer.error().message << "\n";
    return issuer.error().code == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  config->log(issuer->description);
  config->log("collateral for verifying the Coordinator: " + attest::DescribeCollateral(config->verifier));
  if (auto done = RunInitializer(*config, *issuer->issuer); !done) {
    err << "contrast-initializer: error: " << done.error().message << "\n";
    return done.error().code == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  return kExitOk;
}

}  // namespace contrast::initializer
