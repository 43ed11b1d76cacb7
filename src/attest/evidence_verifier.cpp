#include "attest/evidence_verifier.h"

#include <utility>

namespace contrast::attest {
namespace {

// The emulated key server: the KDS client and cache of the real one, at
// another URL, never through the collateral proxy (which serves AMD's KDS).
std::shared_ptr<const snp::CollateralSource> EmulatedCollateral(const EvidenceVerifierOptions& options) {
  if (options.insecure_emulated_kds_url.empty()) return nullptr;
  snp::CollateralOptions emulated = options.snp_collateral;
  emulated.kds_base_url = options.insecure_emulated_kds_url;
  emulated.collateral_proxy_url.clear();
  // Its own cache directory: emulated VCEKs and CRLs never mix with AMD's.
  if (!emulated.cache_dir.empty()) emulated.cache_dir /= "insecure-emulated";
  return std::make_shared<const snp::CollateralSource>(std::move(emulated));
}

}  // namespace

EvidenceVerifier::EvidenceVerifier(EvidenceVerifierOptions options)
    : emulated_collateral_(EmulatedCollateral(options)),
      snp_(std::make_shared<const snp::CollateralSource>(options.snp_collateral), options.clock),
      emulated_(options.clock, emulated_collateral_),
      tdx_(std::make_unique<tdx::TdxEvidenceVerifier>(options.pcs, options.clock)) {}

EvidenceVerifier::EvidenceVerifier(Clock clock) : snp_(clock), emulated_(std::move(clock)) {}

EvidenceVerifier::EvidenceVerifier(snp::TrustAnchors amd_anchors, Clock clock)
    : snp_(std::move(amd_anchors), clock), emulated_(std::move(clock)) {}

Result<VerifiedEvidence> EvidenceVerifier::Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                                  const AcceptableReferenceValues& reference_values) const {
  if (evidence.platform == kPlatformSnp) return snp_.Verify(evidence, expected_report_data, reference_values);
  if (evidence.platform == kPlatformInsecureEmulatedSnp) {
    return emulated_.Verify(evidence, expected_report_data, reference_values);
  }
  if (evidence.platform == kPlatformTdx) {
    if (!tdx_) {
      return Fail(ErrorCode::kUnsupported,
                  "TDX evidence needs Intel PCS collateral, and this verifier was made without a collateral source");
    }
    return tdx_->Verify(evidence, expected_report_data, reference_values);
  }
  return Fail(ErrorCode::kParse, "evidence.platform: unknown platform \"" + evidence.platform + "\"");
}

}  // namespace contrast::attest
