// The command-line flags of every program that verifies evidence
// (contrast-coordinator, contrast-initializer, the CLI's set, verify and
// recover): where collateral (SNP VCEKs and ARK CRLs, TDX collateral) comes
// from, how long a fetch may take and where it is cached
// (docs/attestation.md, "Collateral for verifiers").
//
//   --kds-url URL                    AMD KDS (default https://kdsintf.amd.com)
//   --pcs-url URL                    Intel PCS (default https://api.trustedservices.intel.com)
//   --collateral-proxy URL           a mirror of both (air-gapped clusters); overrides them
//   --collateral-cache-dir DIR       persistent cache (default: the program's)
//   --collateral-timeout DURATION    bound of one fetch, retries included (default 10s)
//   --insecure-emulated-kds-url URL  key server of the emulated platform (tests, development)
//
// Each flag also reads an environment variable (CONTRAST_KDS_URL, ...).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "attest/evidence_verifier.h"
#include "common/result.h"

namespace CLI {
class App;
}  // namespace CLI

namespace contrast::attest {

inline constexpr std::chrono::seconds kDefaultCollateralTimeout{10};

struct CollateralFlags {
  std::string kds_url = std::string(snp::kAmdKdsBaseUrl);
  std::string pcs_url = std::string(tdx::kIntelPcsBaseUrl);
  std::string collateral_proxy;
  std::string cache_dir;  // empty: the default the program passes to VerifierOptionsFrom
  std::string timeout = "10s";
  std::string insecure_emulated_kds_url;
};

// Adds the flags above to `app`; `cache_default` describes the program's
// default cache directory in --help.
void AddCollateralFlags(CLI::App& app, CollateralFlags& flags, const std::string& cache_default);

// The verifier's options from the flags; `default_cache_dir` is used when
// --collateral-cache-dir is not given (empty: memory only). kInvalidArgument
// for a malformed duration or URL.
Result<EvidenceVerifierOptions> VerifierOptionsFrom(const CollateralFlags& flags,
                                                    const std::filesystem::path& default_cache_dir);

// One line for the startup log: where collateral comes from, the cache and
// the deadline ("kds=https://... pcs=... cache=... timeout=10s"). URLs are
// printed without user info (no credentials in logs).
std::string DescribeCollateral(const EvidenceVerifierOptions& options);

// "10s", "500ms", "2m" or a plain number of seconds (kInvalidArgument
// otherwise; zero is refused).
Result<std::chrono::milliseconds> ParseCollateralTimeout(const std::string& text);

}  // namespace contrast::attest
