// Client for the AMD Key Distribution Service (KDS): VCEK certificates, the
// ASK/ASVK + ARK chains and the CRLs, by the URL formats of ATTESTATION-NOTES
// section 8.
//
// What KDS returns is untrusted like any other evidence: the client only
// checks its shape (a VCEK is one DER X.509 certificate, a chain is two PEM
// certificates, a CRL is one DER CRL) so that an error page is never cached;
// snp::Verify checks the signatures. VCEKs and chains are immutable and, with
// a cache directory, fetched once per machine; CRLs are re-fetched when the
// cached copy is older than crl_max_age.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "attest/snp/abi.h"
#include "common/bytes.h"

namespace contrast::attest::snp {

inline constexpr std::string_view kAmdKdsBaseUrl = "https://kdsintf.amd.com";

struct KdsOptions {
  // Scheme, host and optional port (and path prefix) of the key server; a
  // trailing '/' is ignored.
  std::string base_url = std::string(kAmdKdsBaseUrl);
  // Persistent cache; empty = no disk cache (every call asks the server).
  // Files are named "<what>-<Product>-<SHA-256 hex of the request path and
  // query>.{der,pem}" (the base URL is not part of the key, so a mirror shares
  // the cache), written atomically. A cache that cannot be written fails the
  // fetch with kIo.
  std::filesystem::path cache_dir;
  // Per attempt.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{10000};
  // Attempts per fetch (>= 1). Retried: network errors, timeouts, HTTP 429
  // and 5xx. Never retried: 404 and other 4xx, malformed or oversized bodies.
  int max_attempts = 4;
  // Delay before the second attempt; doubles per attempt (with up to 25%
  // random jitter), capped at max_backoff. A Retry-After header replaces the
  // computed delay, also capped at max_backoff.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{10000};
  // Upper bound on one fetch, every attempt and back-off included; zero = no
  // bound beyond the per-attempt timeouts. Attempts are cut short to fit, and
  // no attempt starts once it has passed (the fetch fails with kTimeout and
  // the last attempt's error).
  std::chrono::milliseconds total_deadline{0};
  // A cached CRL older than this (by file modification time) is re-fetched.
  std::chrono::seconds crl_max_age{std::chrono::hours(24)};
  size_t max_response_size = 1024 * 1024;
};

// For FetchCrl: use a fresh-enough cached CRL, or always ask the server (and
// refresh the cache).
enum class CrlCache { kUseIfFresh, kRefresh };

// Safe to use from several threads at once (no mutable state; concurrent
// writers of one cache entry each replace it atomically).
class KdsClient {
 public:
  explicit KdsClient(KdsOptions options);

  // The VCEK (DER) for a chip at a TCB; reported_tcb is the report's
  // REPORTED_TCB decoded for `product`. chip_id is the report's 64-byte
  // CHIP_ID (Turin also accepts just the 8-byte hardware id).
  // Errors: kInvalidArgument (unknown product, chip id length), kUnsupported
  // (masked chip id), kNotFound (KDS has no such VCEK: HTTP 404), kHttpStatus,
  // kNetwork, kTimeout, kParse (body is not one DER certificate, or too large),
  // kIo (cache directory unusable).
  Result<Bytes> FetchVcek(Product product, ByteView chip_id, const TcbParts& reported_tcb) const;

  // The VCEK for a parsed (unverified) report. `product` may be kUnknown for
  // v3+ reports, whose CPUID names it. VLEK-signed reports fail with
  // kUnsupported: VLEKs come from the cloud provider, not from public KDS.
  Result<Bytes> FetchVcekForReport(const Report& report, Product product = Product::kUnknown) const;

  // ASK then ARK (kVcek) or ASVK then ARK (kVlek), as two PEM certificates.
  Result<Bytes> FetchCertChain(Product product, SigningKey kind) const;

  // The CRL (DER) signed by the ARK, for the VCEK or VLEK side.
  Result<Bytes> FetchCrl(Product product, SigningKey kind, CrlCache cache = CrlCache::kUseIfFresh) const;

  // URL builders (pure; base_url as in KdsOptions).
  static Result<std::string> VcekUrl(std::string_view base_url, Product product, ByteView chip_id,
                                     const TcbParts& reported_tcb);
  static Result<std::string> CertChainUrl(std::string_view base_url, Product product, SigningKey kind);
  static Result<std::string> CrlUrl(std::string_view base_url, Product product, SigningKey kind);

  const KdsOptions& options() const { return options_; }

 private:
  enum class Kind { kVcek, kCertChain, kCrl };
  // `relative` is the path and query below base_url; `cache_name` a readable
  // prefix of the cache file's name.
  Result<Bytes> Fetch(Kind kind, const std::string& relative, const std::string& cache_name,
                      bool use_fresh_cache) const;
  // GET with retries; the body has the shape of `kind`.
  Result<Bytes> Download(Kind kind, const std::string& url) const;
  static Status CheckShape(Kind kind, ByteView body);
  static std::string_view KindName(Kind kind);

  KdsOptions options_;
};

}  // namespace contrast::attest::snp
