#include "attest/snp/evidence_verifier.h"

#include <utility>

#include "attest/snp/evidence_checks.h"

namespace contrast::attest::snp {

SnpEvidenceVerifier::SnpEvidenceVerifier(Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })), amd_() {}

SnpEvidenceVerifier::SnpEvidenceVerifier(TrustAnchors anchors, Clock clock,
                                         std::shared_ptr<const CollateralSource> collateral)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })),
      amd_(std::move(anchors)),
      collateral_(std::move(collateral)) {}

SnpEvidenceVerifier::SnpEvidenceVerifier(std::shared_ptr<const CollateralSource> collateral, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })), amd_(), collateral_(std::move(collateral)) {}

Result<VerifiedEvidence> SnpEvidenceVerifier::Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                                     const AcceptableReferenceValues& reference_values) const {
  if (evidence.platform != kPlatformSnp) {
    return Fail(ErrorCode::kInvalidArgument,
                "the SEV-SNP verifier got evidence of platform \"" + evidence.platform + "\"");
  }
  if (reference_values.allowed_host_data.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no allowed HOST_DATA (policy hashes) given to the verifier");
  }
  if (reference_values.snp.empty()) {
    return Fail(ErrorCode::kValidationFailed, "the reference values have no entry for platform \"snp\"");
  }
  // The cheap checks first: evidence that is not bound to this session (a
  // replay, junk, the wrong nonce or TLS key) is refused after a parse and a
  // compare, before any certificate or signature work, so junk costs the
  // sender as much as it costs us.
  if (auto bound = CheckReportBinding(evidence, expected_report_data); !bound) return Fail(bound.error());

  CandidateEntries candidates;
  candidates.list = "snp";
  candidates.entries = reference_values.snp;
  for (size_t i = 0; i < candidates.entries.size(); ++i) candidates.manifest_index.push_back(i);

  auto endorsement_key = EndorsementKeyFor(evidence, collateral_.get());
  if (!endorsement_key) return Fail(endorsement_key.error());

  VerifyOptions options;
  options.at = clock_();
  // Revocation against the CRL this process fetched, never Evidence::crl:
  // the attester must not choose the list it is checked against.
  options.crl_source = collateral_.get();
  auto matched = VerifyAndMatch(amd_, evidence, *endorsement_key, options, candidates, expected_report_data,
                                reference_values.allowed_host_data, /*insecure_root=*/false);
  if (!matched) return Fail(matched.error());
  return VerifiedSnpEvidence(evidence.platform, std::move(matched->report), /*insecure=*/false,
                             matched->manifest_index);
}

}  // namespace contrast::attest::snp
