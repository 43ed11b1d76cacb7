// The verifier programs use (the Coordinator, the Initializer, the CLI): one
// attest::Verifier that hands evidence to the verifier of its platform tag.
//
//   "snp"           snp::SnpEvidenceVerifier (pinned AMD roots)
//   "emulated-snp"  emulated::InsecureEmulatedVerifier (INSECURE)
//   "tdx"           tdx::TdxEvidenceVerifier (pinned Intel SGX Root CA,
//                   collateral from Intel PCS as options.pcs says); the
//                   offline constructors refuse it (kUnsupported)
//   anything else   kParse
#pragma once

#include <memory>
#include <string>

#include "attest/emulated/evidence_verifier.h"
#include "attest/snp/collateral.h"
#include "attest/snp/evidence_verifier.h"
#include "attest/snp/trust.h"
#include "attest/tdx/evidence_verifier.h"
#include "attest/tdx/pcs.h"
#include "attest/verifier.h"

namespace contrast::attest {

// Where a program's verifier gets its collateral from (docs/attestation.md,
// "Collateral for verifiers").
struct EvidenceVerifierOptions {
  // The time certificates must be valid at; empty: now.
  Verifier::Clock clock;
  // "snp": VCEKs for evidence without one, and the ARK CRLs revocation is
  // checked against (AMD's KDS, or a collateral proxy; cache; deadline).
  snp::CollateralOptions snp_collateral;
  // "emulated-snp" (tests and development only): a key server that serves
  // the emulated VCEK and a CRL signed by the emulated ARK under the KDS
  // paths. Empty: none; emulated evidence must carry its VCEK and its
  // revocation is "not checked".
  std::string insecure_emulated_kds_url;
  // "tdx": Intel PCS (or the collateral proxy) for TCB info, QE identity and
  // CRLs.
  tdx::PcsOptions pcs;
};

// Thread-safe; keeps chain-verification caches, so share one per process.
class EvidenceVerifier final : public Verifier {
 public:
  // What programs use: collateral as `options` says.
  explicit EvidenceVerifier(EvidenceVerifierOptions options);
  // Offline (tests): the pinned AMD roots, no key server; evidence must carry
  // its VCEK and revocation is "not checked". `clock` empty: the current time.
  explicit EvidenceVerifier(Clock clock = {});
  // Other anchors for "snp", offline (tests).
  EvidenceVerifier(snp::TrustAnchors amd_anchors, Clock clock);
  EvidenceVerifier(const EvidenceVerifier&) = delete;
  EvidenceVerifier& operator=(const EvidenceVerifier&) = delete;

  Result<VerifiedEvidence> Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                  const AcceptableReferenceValues& reference_values) const override;

  // The collateral sources in use (null when offline / not configured), for
  // startup logs and tests.
  const snp::CollateralSource* snp_collateral() const { return snp_.collateral(); }
  const snp::CollateralSource* emulated_collateral() const { return emulated_collateral_.get(); }

 private:
  std::shared_ptr<const snp::CollateralSource> emulated_collateral_;
  snp::SnpEvidenceVerifier snp_;
  emulated::InsecureEmulatedVerifier emulated_;
  std::unique_ptr<tdx::TdxEvidenceVerifier> tdx_;  // null when offline
};

}  // namespace contrast::attest
