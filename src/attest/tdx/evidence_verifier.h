// The verifier of "tdx" evidence (attest/verifier.h): an Intel TDX DCAP quote
// that must verify to the pinned Intel SGX Root CA with Intel PCS collateral
// the verifier fetched itself (never collateral the attester sent), carry the
// expected REPORTDATA, name an allowed policy in MRCONFIGID and match an entry
// of AcceptableReferenceValues::tdx.
//
// Order of the checks (cheap ones first, so junk costs little):
//  1. the quote parses; REPORTDATA is the expected session binding;
//  2. MRCONFIGID is a policy digest zero-padded to 48 bytes (the binding the
//     Kata runtime makes) and that digest is an allowed HOST_DATA;
//  3. collateral for the quote's FMSPC and PCK CA (TCB info, QE identity,
//     PCK CRL, root CA CRL) from the collateral source, its signatures
//     verified once and the result reused until the earliest nextUpdate;
//  4. tdx::Verifier: quote, QE report, PCK chain with both CRLs, collateral
//     current now, TCB evaluation; the converged TCB status must be one that
//     some entry accepts (AcceptedTcbStatuses, default UpToDate);
//  5. tdx::ValidateAgainstAny: DEBUG clear, MRTD, RTMRs, MRSEAM, XFAM,
//     TDATTRIBUTES, the entry's own TCB statuses and minimums.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "attest/tdx/pcs.h"
#include "attest/tdx/reference_values.h"
#include "attest/tdx/verify.h"
#include "attest/verifier.h"

namespace contrast::attest::tdx {

// Where a verifier gets the Intel PCS collateral of a quote. The result is
// untrusted: the verifier checks its signatures against its pinned root.
class TdxCollateralSource {
 public:
  virtual ~TdxCollateralSource() = default;
  // Collateral for the platform with `fmspc` whose PCK certificate the CA
  // `ca` issued. Thread-safe.
  virtual Result<Collateral> Fetch(const std::array<uint8_t, 6>& fmspc, PckCa ca) = 0;
};

// From Intel PCS (or a collateral proxy) through a PcsClient, which caches in
// memory and on disk (pcs.h).
class PcsCollateralSource final : public TdxCollateralSource {
 public:
  explicit PcsCollateralSource(PcsOptions options) : client_(std::move(options)) {}
  Result<Collateral> Fetch(const std::array<uint8_t, 6>& fmspc, PckCa ca) override;

 private:
  PcsClient client_;
};

// Always the same collateral, whatever the platform (tests, and emulated
// platforms whose collateral is signed locally).
class FixedCollateralSource final : public TdxCollateralSource {
 public:
  explicit FixedCollateralSource(Collateral collateral) : collateral_(std::move(collateral)) {}
  Result<Collateral> Fetch(const std::array<uint8_t, 6>&, PckCa) override { return collateral_; }

 private:
  Collateral collateral_;
};

// What a VerifiedQuote says, in the form validation takes (reference_values.h).
TdMeasurements MeasurementsOf(const VerifiedQuote& verified);

// Thread-safe; caches verified collateral and verified PCK chains, so share
// one per process.
class TdxEvidenceVerifier final : public attest::Verifier {
 public:
  // The Intel SGX Root CA; collateral from Intel PCS with `pcs`.
  explicit TdxEvidenceVerifier(PcsOptions pcs = {}, Clock clock = {});
  // Another pinned root and collateral source (tests, emulated platforms).
  TdxEvidenceVerifier(crypto::Certificate pinned_root, std::shared_ptr<TdxCollateralSource> collateral, Clock clock);
  ~TdxEvidenceVerifier() override;
  TdxEvidenceVerifier(const TdxEvidenceVerifier&) = delete;
  TdxEvidenceVerifier& operator=(const TdxEvidenceVerifier&) = delete;

  // kInvalidArgument for evidence of another platform; otherwise the codes
  // of attest::Verifier::Verify, the collateral source's fetch errors, and
  // tdx::Verifier::Verify's (kTcbTooLow when no entry accepts the status).
  Result<VerifiedEvidence> Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                  const AcceptableReferenceValues& reference_values) const override;

  // Collateral fetched and verified (cache misses); for tests.
  size_t collateral_verifications() const;

 private:
  struct CachedCollateral {
    std::shared_ptr<const VerifiedCollateral> collateral;
    TimePoint valid_until;
  };
  Result<std::shared_ptr<const VerifiedCollateral>> CollateralFor(const Quote& quote, TimePoint now) const;

  Clock clock_;
  std::shared_ptr<TdxCollateralSource> source_;
  tdx::Verifier verifier_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, CachedCollateral> collateral_;  // by FMSPC and PCK CA
  mutable size_t collateral_verifications_ = 0;
};

}  // namespace contrast::attest::tdx
