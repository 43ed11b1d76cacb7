#include "attest/detect.h"

#include <cstdlib>
#include <string_view>
#include <system_error>
#include <utility>

#include "attest/emulated/daemon.h"
#include "attest/emulated/issuer.h"
#include "attest/tsm/configfs_tsm.h"
#include "attest/tsm/sev_guest.h"

namespace contrast::attest {
namespace {

namespace emulated = attest::emulated;

// The value of `name`, empty when unset.
std::string Env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  return value == nullptr ? std::string() : std::string(value);
}

bool Exists(const std::filesystem::path& path) {
  std::error_code ignored;
  return std::filesystem::exists(path, ignored);
}

// The provider name behind a configfs-tsm platform tag (one provider each).
std::string_view ProviderOf(std::string_view platform) {
  if (platform == kPlatformSnp) return tsm::kProviderSevGuest;
  if (platform == kPlatformTdx) return tsm::kProviderTdxGuest;
  return tsm::kProviderInsecureEmulated;
}

// "snp" or "emulated-snp (INSECURE)".
std::string Label(std::string_view platform) {
  std::string label(platform);
  if (platform == kPlatformInsecureEmulatedSnp) label += " (INSECURE)";
  return label;
}

Result<DetectedIssuer> FromConfigfsTsm(const std::filesystem::path& tsm_dir, std::string_view origin) {
  tsm::ConfigfsTsmOptions tsm_options;
  tsm_options.tsm_dir = tsm_dir;
  auto opened = tsm::ConfigfsTsmIssuer::Open(std::move(tsm_options));
  if (!opened) return Fail(opened.error().Wrap(std::string(origin)));
  const std::string_view platform = (*opened)->platform();
  DetectedIssuer out;
  out.description = "attestation: " + Label(platform) + " evidence from configfs-tsm " + tsm_dir.string() +
                    " (provider " + std::string(ProviderOf(platform)) + ")";
  out.issuer = std::move(*opened);
  return out;
}

}  // namespace

Result<DetectedIssuer> DetectIssuer(const DetectOptions& options) {
  if (!options.tsm_dir.empty()) return FromConfigfsTsm(options.tsm_dir, "--tsm-dir " + options.tsm_dir.string());
  if (const std::string env_dir = Env(tsm::kTsmDirEnv); !env_dir.empty()) {
    return FromConfigfsTsm(env_dir, std::string(tsm::kTsmDirEnv) + "=" + env_dir);
  }
  if (Exists(options.default_tsm_dir / "report")) return FromConfigfsTsm(options.default_tsm_dir, "configfs-tsm");
  if (Exists(options.sev_guest_device)) {
    auto opened = tsm::SevGuestIssuer::Open(options.sev_guest_device);
    if (!opened) return Fail(opened.error());
    DetectedIssuer out;
    out.description =
        "attestation: " + Label((*opened)->platform()) + " evidence from " + options.sev_guest_device.string();
    out.issuer = std::move(*opened);
    return out;
  }

  const std::string socket = Env(emulated::kSocketEnv);
  const bool has_socket = !socket.empty();
  const bool has_token = !Env(emulated::kVmTokenEnv).empty();
  if (has_socket != has_token) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(has_socket ? emulated::kSocketEnv : emulated::kVmTokenEnv) + " is set but " +
                    (has_socket ? emulated::kVmTokenEnv : emulated::kSocketEnv) +
                    " is not: set both (as `contrast emulate run` does) for the emulated platform, or neither");
  }
  if (has_socket) {
    auto client = emulated::GuestClient::FromEnvironment();
    if (!client) return Fail(client.error());
    DetectedIssuer out;
    out.issuer = std::make_unique<emulated::InsecureEmulatedIssuer>(
        emulated::InsecureEmulatedIssuer::ForGuest(std::move(*client)));
    out.description =
        "attestation: " + Label(kPlatformInsecureEmulatedSnp) + " evidence from the emulator daemon at " + socket;
    return out;
  }

  return Fail(ErrorCode::kNotFound,
              "no source of attestation evidence: tried --tsm-dir and " + std::string(tsm::kTsmDirEnv) +
                  " (not set), " + (options.default_tsm_dir / "report").string() + " (absent), " +
                  options.sev_guest_device.string() + " (absent), " + emulated::kSocketEnv + " and " +
                  emulated::kVmTokenEnv +
                  " (not set); run in a confidential VM, or under `contrast emulate run` for the emulated platform");
}

}  // namespace contrast::attest
