#include "cli/coordinator_client.h"

#include <cstdlib>

#include "cli/app.h"
#include "common/files.h"

namespace contrast::cli {

std::filesystem::path DefaultCollateralCacheDir() {
  // Relative values are ignored, as the XDG base directory spec says.
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
    return std::filesystem::path(xdg) / "contrast";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return std::filesystem::path(home) / ".cache" / "contrast";
  }
  return {};
}

Result<attest::EvidenceVerifierOptions> CommandVerifierOptions(const attest::CollateralFlags& flags) {
  return attest::VerifierOptionsFrom(flags, DefaultCollateralCacheDir());
}

std::optional<LocalManifest> LoadManifest(const std::filesystem::path& path, std::ostream& err) {
  auto bytes = ReadFile(path, manifest::kMaxManifestSize);
  if (!bytes) {
    err << "error: " << bytes.error().message << "\n";
    return std::nullopt;
  }
  auto parsed = manifest::ParseManifestReportingProblems(AsChars(*bytes));
  if (!parsed) {
    err << "error: " << path.string() << " is not a valid manifest:\n";
    for (const std::string& problem : parsed.error()) err << "  " << problem << "\n";
    return std::nullopt;
  }
  return LocalManifest{std::move(*bytes), std::move(*parsed)};
}

void PrintAttested(std::ostream& out, const std::string& target, const Attested& attested) {
  out << "Coordinator at " << target << " attested: platform " << attested.platform << ", policy "
      << attested.policy_hash << ", measurement " << attested.measurement << "\n";
}

int Failed(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitFailed;
}

int Usage(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitUsage;
}

}  // namespace contrast::cli
