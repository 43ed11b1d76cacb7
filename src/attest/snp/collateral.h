// SEV-SNP collateral for verifiers: the VCEK of a report whose evidence came
// without one, and the ARK's CRL for revocation checks, fetched from AMD's
// Key Distribution Service (kds.h) or from a collateral proxy.
//
// One CollateralSource serves every verification of a process:
//   - VCEKs are immutable: fetched once, kept in memory and (with cache_dir)
//     on disk through the KDS client's cache.
//   - CRLs are the verifier's own: fetched by this source (never taken from
//     the evidence), accepted only when signed by the anchored ARK the
//     verifier names and current, kept in memory and on disk, refreshed when
//     older than crl_max_age or past their nextUpdate. When a refresh fails, a
//     cached CRL that is still current is used.
//   - Every fetch is bounded by fetch_deadline (all attempts included), so a
//     KDS outage with a cold cache fails within a known time, with the reason.
//     After a failure the same item is not fetched again for
//     failure_cooldown: callers get the failure at once.
//   - Concurrent requests for the same item share one fetch.
//
// What the network returns is untrusted: VCEKs are checked by the verifier
// (chain to the pinned ARK), CRLs here and again by the verifier.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "attest/snp/abi.h"
#include "attest/snp/kds.h"
#include "attest/snp/verify.h"
#include "common/bytes.h"
#include "common/time.h"

namespace contrast::attest::snp {

struct CollateralOptions {
  // The key server (scheme, host, optional port and path prefix).
  std::string kds_base_url = std::string(kAmdKdsBaseUrl);
  // For air-gapped clusters: a mirror that answers the KDS paths below this
  // URL (<proxy><path>?<query>, e.g. http://proxy:8080/vcek/v1/Milan/...). When
  // set it replaces kds_base_url. The same proxy serves Intel PCS paths for TDX.
  std::string collateral_proxy_url;
  // Persistent cache of VCEKs and CRLs (created when missing); empty: memory
  // only. Shareable between processes (files are replaced atomically).
  std::filesystem::path cache_dir;
  // Upper bound on one fetch of one item, retries and back-off included.
  std::chrono::milliseconds fetch_deadline{std::chrono::seconds(5)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  int max_attempts = 3;  // per fetch, within fetch_deadline
  // A CRL fetched longer ago than this is refreshed (also after nextUpdate).
  std::chrono::seconds crl_max_age{std::chrono::hours(12)};
  // After a failed fetch, requests for the same item fail at once (with that
  // failure) for this long instead of waiting for the network again.
  std::chrono::milliseconds failure_cooldown{std::chrono::seconds(10)};
  size_t max_response_size = 1024 * 1024;
  // The wall clock (CRL age and currency); tests replace it.
  std::function<TimePoint()> clock = Now;
};

// Number of network fetches started (one per item per coalesced request,
// retries not counted separately), for tests and metrics.
struct CollateralFetchCounts {
  uint64_t vcek = 0;
  uint64_t crl = 0;
  uint64_t failed = 0;  // of the above, how many ended without a usable body
};

// Thread-safe.
class CollateralSource final : public CrlSource {
 public:
  explicit CollateralSource(CollateralOptions options = {});
  ~CollateralSource() override;
  CollateralSource(const CollateralSource&) = delete;
  CollateralSource& operator=(const CollateralSource&) = delete;

  // The VCEK (DER) for a parsed, unverified report (for evidence without
  // one); the verifier checks it. `product` as in KdsClient::FetchVcekForReport.
  // Errors as there (kUnsupported for VLEK-signed reports and masked chip
  // ids, kNotFound, kTimeout, kNetwork, kHttpStatus, kParse, kIo), with
  // "fetching the VCEK from <url>" in the message.
  Result<Bytes> VcekForReport(const Report& report, Product product = Product::kUnknown) const;

  // CrlSource: the ARK's CRL for product/kind, signed by `ark` and current.
  Result<crypto::Crl> CurrentCrl(Product product, SigningKey kind, const crypto::Certificate& ark) const override;

  CollateralFetchCounts fetch_counts() const;
  // The URL requests go to (the proxy when configured).
  const std::string& base_url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace contrast::attest::snp
