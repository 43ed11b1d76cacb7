// Client for Intel's Provisioning Certification Service (PCS, API v4): the
// collateral a TDX quote is verified with.
//
//   TCB info      GET <base>/tdx/certification/v4/tcb?fmspc=<12 hex>
//                 issuer chain: header TCB-Info-Issuer-Chain
//   QE identity   GET <base>/tdx/certification/v4/qe/identity
//                 issuer chain: header SGX-Enclave-Identity-Issuer-Chain
//   PCK CRL       GET <base>/sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
//                 issuer chain: header SGX-PCK-CRL-Issuer-Chain
//   root CA CRL   GET https://certificates.trustedservices.intel.com/IntelSGXRootCA.der
// The issuer chains come URL-encoded (percent-encoding) and are returned as
// PEM. With a collateral proxy (air-gapped clusters) every request goes to
// <proxy><path>?<query> instead, the root CA CRL included.
//
// What PCS (or a proxy) returns is untrusted: the client only checks its
// shape (a JSON object with tcbInfo / enclaveIdentity, of the right id, and a
// 64-byte hex signature; one DER CRL; an issuer chain of PEM certificates) so
// that an error page is never cached, and reads nextUpdate. The quote
// verifier checks the signatures against the pinned Intel root.
//
// Cache: in memory, and on disk when cache_dir is set (one JSON file per
// request, named by the SHA-256 of its path and query, so a proxy and Intel
// share it; written atomically; a malformed file is ignored). A cached answer
// is used while now < its nextUpdate and it is younger than max_age; then it
// is fetched again. When that refresh fails and the cached copy's nextUpdate
// has not passed, the cached copy is returned (refresh_error says why it was
// not refreshed). Otherwise the fetch fails with the reason, and never takes
// longer than `deadline`.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/time.h"

namespace contrast::attest::tdx {

inline constexpr std::string_view kIntelPcsBaseUrl = "https://api.trustedservices.intel.com";
inline constexpr std::string_view kIntelSgxRootCaCrlUrl =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

enum class PcsCollateralKind { kTcbInfo, kQeIdentity, kPckCrl, kRootCaCrl };
std::string_view PcsCollateralKindName(PcsCollateralKind kind);  // "TDX TCB info", ...

// Which CA's PCK CRL: the PCK certificate's issuer ("Intel SGX PCK Platform
// CA" or "Intel SGX PCK Processor CA").
enum class PckCa { kPlatform, kProcessor };

struct PcsCollateral {
  PcsCollateralKind kind = PcsCollateralKind::kTcbInfo;
  // Exactly as served: JSON for TCB info and QE identity (the signature is
  // over the bytes of its tcbInfo / enclaveIdentity value), DER for CRLs.
  Bytes body;
  // PEM certificates, the signer first, Intel's root last, as PCS sent them.
  // Empty for the root CA CRL (signed by the root itself).
  std::string issuer_chain_pem;
  TimePoint next_update;  // the body's nextUpdate
  TimePoint fetched_at;   // when this copy was downloaded
  bool from_cache = false;
  // Set when a refresh was due but failed, and this cached copy (still
  // before its nextUpdate) was returned instead.
  std::optional<Error> refresh_error;
};

struct PcsOptions {
  // Scheme, host, optional port and path prefix; a trailing '/' is ignored.
  std::string base_url = std::string(kIntelPcsBaseUrl);
  std::string root_ca_crl_url = std::string(kIntelSgxRootCaCrlUrl);
  // Non-empty: every request goes to <collateral_proxy_url><path>?<query>
  // (base_url and the root CRL's host are not used).
  std::string collateral_proxy_url;
  // Persistent cache; empty = memory only.
  std::filesystem::path cache_dir;
  // Per attempt.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{10000};
  // Whole fetch, retries and waits included.
  std::chrono::milliseconds deadline{30000};
  // Retried: network errors, timeouts, HTTP 429 and 5xx (as KdsClient).
  int max_attempts = 3;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{5000};
  // A cached answer older than this is fetched again even before its
  // nextUpdate (Intel publishes new TCB evaluations before then).
  std::chrono::seconds max_age{std::chrono::hours(24)};
  size_t max_response_size = 1024 * 1024;
  // The clock freshness is judged by; unset = the system clock.
  std::function<TimePoint()> now;
};

// Safe to use from several threads at once. Not copyable (it owns the
// memory cache).
class PcsClient {
 public:
  explicit PcsClient(PcsOptions options);
  PcsClient(const PcsClient&) = delete;
  PcsClient& operator=(const PcsClient&) = delete;

  // TCB info for a platform (FMSPC: 6 bytes, from the PCK certificate).
  // Errors (all fetches): kInvalidArgument (bad FMSPC or URL), kNotFound
  // (HTTP 404), kHttpStatus, kNetwork, kTimeout (deadline passed), kParse
  // (body or issuer chain of the wrong shape, missing issuer chain header,
  // too large), kIo (cache directory unusable).
  Result<PcsCollateral> FetchTcbInfo(ByteView fmspc);
  Result<PcsCollateral> FetchQeIdentity();
  Result<PcsCollateral> FetchPckCrl(PckCa ca);
  Result<PcsCollateral> FetchRootCaCrl();

  // The URL each fetch asks (the proxy applied).
  Result<std::string> TcbInfoUrl(ByteView fmspc) const;
  std::string QeIdentityUrl() const;
  std::string PckCrlUrl(PckCa ca) const;
  Result<std::string> RootCaCrlUrl() const;

  const PcsOptions& options() const { return options_; }

 private:
  struct Request {
    PcsCollateralKind kind;
    std::string origin;               // scheme://host[:port][/prefix]
    std::string path_and_query;       // the cache key
    std::string issuer_chain_header;  // empty: none expected
    std::string fmspc_hex;            // TCB info: the FMSPC asked for (upper case)
  };

  Result<Request> TcbInfoRequest(ByteView fmspc) const;
  Request QeIdentityRequest() const;
  Request PckCrlRequest(PckCa ca) const;
  Result<Request> RootCaCrlRequest() const;
  std::string UrlOf(const Request& request) const;

  Result<PcsCollateral> Fetch(const Request& request);
  Result<PcsCollateral> Download(const Request& request, TimePoint now) const;
  std::optional<PcsCollateral> Cached(const Request& request);
  Status Store(const Request& request, const PcsCollateral& collateral);
  std::filesystem::path CachePath(const Request& request) const;
  TimePoint CurrentTime() const;

  PcsOptions options_;
  std::mutex mu_;
  std::map<std::string, PcsCollateral> memory_;  // by path and query
};

}  // namespace contrast::attest::tdx
