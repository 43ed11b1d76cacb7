#include "attest/collateral_flags.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include <CLI/CLI.hpp>

namespace contrast::attest {
namespace {

// Where in a cache directory each source keeps its files.
constexpr const char* kKdsCacheSubdir = "amd-kds";
constexpr const char* kPcsCacheSubdir = "intel-pcs";

// A URL flag: http or https, a host, nothing else checked here (the HTTP
// client refuses the rest when it is used).
Status CheckUrl(const std::string& flag, const std::string& url) {
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    const size_t host = url.find("://") + 3;
    if (host < url.size() && url[host] != '/') return {};
  }
  return Fail(ErrorCode::kInvalidArgument, flag + " \"" + url + "\": expected an http:// or https:// URL with a host");
}

// The URL without user info ("https://user:secret@host/" -> "https://host/"):
// a proxy URL may carry credentials, which never go to logs.
std::string WithoutUserInfo(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host = scheme + 3;
  const size_t end = url.find_first_of("/?#", host);
  const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

std::string FormatMilliseconds(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
}

}  // namespace

void AddCollateralFlags(CLI::App& app, CollateralFlags& flags, const std::string& cache_default) {
  app.add_option("--kds-url", flags.kds_url, "AMD Key Distribution Service: SEV-SNP VCEKs and ARK CRLs")
      ->envname("CONTRAST_KDS_URL")
      ->capture_default_str();
  app.add_option("--pcs-url", flags.pcs_url, "Intel Provisioning Certification Service: TDX collateral")
      ->envname("CONTRAST_PCS_URL")
      ->capture_default_str();
  app.add_option("--collateral-proxy", flags.collateral_proxy,
                 "A mirror answering the KDS and PCS paths (air-gapped clusters); overrides --kds-url and --pcs-url")
      ->envname("CONTRAST_COLLATERAL_PROXY");
  app.add_option("--collateral-cache-dir", flags.cache_dir,
                 "Where fetched certificates, CRLs and TDX collateral are cached (default: " + cache_default + ")")
      ->envname("CONTRAST_COLLATERAL_CACHE_DIR");
  app.add_option("--collateral-timeout", flags.timeout,
                 "Bound of one collateral fetch, retries included (e.g. 10s, 500ms)")
      ->envname("CONTRAST_COLLATERAL_TIMEOUT")
      ->capture_default_str();
  app.add_option("--insecure-emulated-kds-url", flags.insecure_emulated_kds_url,
                 "INSECURE, tests and development: a key server for the emulated platform's VCEK and CRL")
      ->envname("CONTRAST_INSECURE_EMULATED_KDS_URL");
}

Result<std::chrono::milliseconds> ParseCollateralTimeout(const std::string& text) {
  uint64_t number = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(begin, end, number);
  const std::string_view unit(rest, static_cast<size_t>(end - rest));
  uint64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "ms") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60'000;
  }
  constexpr uint64_t kMaxMilliseconds = uint64_t{24} * 3'600'000;  // a day: anything longer is a typo
  if (text.empty() || ec != std::errc() || rest == begin || factor == 0 || number == 0 ||
      number > kMaxMilliseconds / factor) {
    return Fail(ErrorCode::kInvalidArgument,
                "--collateral-timeout \"" + text + "\": expected a positive duration with ms, s or m (e.g. 10s)");
  }
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(number * factor));
}

Result<EvidenceVerifierOptions> VerifierOptionsFrom(const CollateralFlags& flags,
                                                    const std::filesystem::path& default_cache_dir) {
  for (const auto& [flag, url] :
       {std::pair<std::string, const std::string*>{"--kds-url", &flags.kds_url}, {"--pcs-url", &flags.pcs_url}}) {
    if (auto ok = CheckUrl(flag, *url); !ok) return Fail(ok.error());
  }
  if (!flags.collateral_proxy.empty()) {
    if (auto ok = CheckUrl("--collateral-proxy", flags.collateral_proxy); !ok) return Fail(ok.error());
  }
  if (!flags.insecure_emulated_kds_url.empty()) {
    if (auto ok = CheckUrl("--insecure-emulated-kds-url", flags.insecure_emulated_kds_url); !ok) {
      return Fail(ok.error());
    }
  }
  auto timeout = ParseCollateralTimeout(flags.timeout);
  if (!timeout) return Fail(timeout.error());
  const std::filesystem::path cache_dir =
      flags.cache_dir.empty() ? default_cache_dir : std::filesystem::path(flags.cache_dir);

  EvidenceVerifierOptions options;
  snp::CollateralOptions& snp = options.snp_collateral;
  snp.kds_base_url = flags.kds_url;
  snp.collateral_proxy_url = flags.collateral_proxy;
  snp.fetch_deadline = *timeout;
  snp.connect_timeout = std::min(snp.connect_timeout, *timeout);
  if (!cache_dir.empty()) snp.cache_dir = cache_dir / kKdsCacheSubdir;

  tdx::PcsOptions& pcs = options.pcs;
  pcs.base_url = flags.pcs_url;
  pcs.collateral_proxy_url = flags.collateral_proxy;
  pcs.deadline = *timeout;
  pcs.timeout = std::min(pcs.timeout, *timeout);
  pcs.connect_timeout = std::min(pcs.connect_timeout, *timeout);
  if (!cache_dir.empty()) pcs.cache_dir = cache_dir / kPcsCacheSubdir;

  options.insecure_emulated_kds_url = flags.insecure_emulated_kds_url;
  return options;
}

std::string DescribeCollateral(const EvidenceVerifierOptions& options) {
  const snp::CollateralOptions& snp = options.snp_collateral;
  std::string line;
  if (!snp.collateral_proxy_url.empty()) {
    line = "collateral_proxy=" + WithoutUserInfo(snp.collateral_proxy_url);
  } else {
    line = "kds=" + WithoutUserInfo(snp.kds_base_url) + " pcs=" + WithoutUserInfo(options.pcs.base_url);
  }
  line += " cache=" + (snp.cache_dir.empty() ? std::string("memory") : snp.cache_dir.string());
  line += " timeout=" + FormatMilliseconds(snp.fetch_deadline);
  if (!options.insecure_emulated_kds_url.empty()) {
    line += " insecure_emulated_kds=" + WithoutUserInfo(options.insecure_emulated_kds_url);
  }
  return line;
}

}  // namespace contrast::attest
