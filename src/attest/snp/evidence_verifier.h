// The verifier of "snp" evidence (attest/verifier.h): the report must verify
// to the pinned AMD roots with the VCEK or VLEK from the evidence (or, when
// the evidence has none, the VCEK fetched from the KDS), carry the expected
// REPORT_DATA, and match an entry of AcceptableReferenceValues::snp with an
// allowed HOST_DATA.
//
// Revocation: with a CollateralSource, against the ARK's CRL it fetched and
// cached (Evidence::crl is never used); whether a report whose revocation
// could not be checked is acceptable is the entry's
// AllowMissingRevocationCheck.
#pragma once

#include <memory>

#include "attest/snp/collateral.h"
#include "attest/snp/trust.h"
#include "attest/snp/verify.h"
#include "attest/verifier.h"

namespace contrast::attest::snp {

// Thread-safe; keeps chain-verification caches, so share one per process.
class SnpEvidenceVerifier final : public attest::Verifier {
 public:
  // With the pinned AMD roots; `clock` empty: the current time. Offline (no
  // collateral source): evidence must carry its VCEK, and revocation is "not
  // checked (no CRL source is configured)".
  explicit SnpEvidenceVerifier(Clock clock = {});
  // Other anchors (tests); `collateral` may be null (offline, as above).
  SnpEvidenceVerifier(TrustAnchors anchors, Clock clock, std::shared_ptr<const CollateralSource> collateral = nullptr);
  // With the pinned AMD roots and collateral (VCEKs, CRLs) from `collateral`.
  SnpEvidenceVerifier(std::shared_ptr<const CollateralSource> collateral, Clock clock);
  SnpEvidenceVerifier(const SnpEvidenceVerifier&) = delete;
  SnpEvidenceVerifier& operator=(const SnpEvidenceVerifier&) = delete;

  // kInvalidArgument for evidence of another platform; otherwise the codes
  // of attest::Verifier::Verify.
  Result<VerifiedEvidence> Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                  const AcceptableReferenceValues& reference_values) const override;

  // Null when offline.
  const CollateralSource* collateral() const { return collateral_.get(); }

 private:
  Clock clock_;
  snp::Verifier amd_;  // the pinned AMD roots
  std::shared_ptr<const CollateralSource> collateral_;
};

}  // namespace contrast::attest::snp
