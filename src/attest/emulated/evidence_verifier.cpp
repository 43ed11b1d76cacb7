#include "attest/emulated/evidence_verifier.h"

#include <utility>
#include <vector>

#include "attest/snp/evidence_checks.h"
#include "attest/snp/trust.h"
#include "crypto/hash.h"
#include "crypto/x509.h"

namespace contrast::attest::emulated {
namespace {

// Distinct emulated chains kept verified; beyond this the cache starts over.
constexpr size_t kMaxChainVerifiers = 16;

}  // namespace

InsecureEmulatedVerifier::InsecureEmulatedVerifier(Clock clock, std::shared_ptr<const snp::CollateralSource> collateral)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })), collateral_(std::move(collateral)) {}

InsecureEmulatedVerifier::~InsecureEmulatedVerifier() = default;

Result<std::shared_ptr<const snp::Verifier>> InsecureEmulatedVerifier::ChainVerifier(const Bytes& ark_der,
                                                                                     const Bytes& ask_der) const {
  Bytes both = ark_der;
  both.insert(both.end(), ask_der.begin(), ask_der.end());
  const std::string key = HexEncode(crypto::Sha256(both));
  std::lock_guard lock(mutex_);
  if (auto it = chains_.find(key); it != chains_.end()) return it->second;
  // The emulator serves one product; its chain anchors any product line, and
  // the verifier's name and CPUID checks pick the right one.
  snp::TrustAnchors anchors;
  for (snp::Product product : {snp::Product::kMilan, snp::Product::kGenoa, snp::Product::kTurin}) {
    anchors.products.push_back(snp::ProductAnchors{product, ark_der, ask_der, {}, /*insecure=*/true});
  }
  auto verifier = std::make_shared<const snp::Verifier>(std::move(anchors));
  if (chains_.size() >= kMaxChainVerifiers) chains_.clear();
  chains_.emplace(key, verifier);
  return verifier;
}

Result<VerifiedEvidence> InsecureEmulatedVerifier::Verify(const Evidence& evidence,
                                                          const ReportData& expected_report_data,
                                                          const AcceptableReferenceValues& reference_values) const {
  if (evidence.platform != kPlatformInsecureEmulatedSnp) {
    return Fail(ErrorCode::kInvalidArgument,
                "the emulated verifier got evidence of platform \"" + evidence.platform + "\"");
  }
  if (reference_values.allowed_host_data.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no allowed HOST_DATA (policy hashes) given to the verifier");
  }
  if (reference_values.emulated.empty()) {
    return Fail(ErrorCode::kValidationFailed, "the reference values have no entry for platform \"emulated-snp\"");
  }
  if (!reference_values.snp.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "reference values that hold real platforms never accept emulated evidence");
  }
  // The cheap checks first (see SnpEvidenceVerifier::Verify).
  if (auto bound = snp::CheckReportBinding(evidence, expected_report_data); !bound) return Fail(bound.error());

  auto chain = crypto::Certificate::ParsePemChain(evidence.cert_chain);
  if (!chain) return Fail(ErrorCode::kParse, "evidence.cert_chain: " + chain.error().message);
  if (chain->size() != 2) {
    return Fail(ErrorCode::kParse,
                "evidence.cert_chain: expected 2 certificates (ASK then ARK), got " + std::to_string(chain->size()));
  }
  const crypto::Sha256Digest root = (*chain)[1].Sha256Fingerprint();
  snp::CandidateEntries candidates;
  candidates.list = "emulated";
  for (size_t i = 0; i < reference_values.emulated.size(); ++i) {
    if (reference_values.emulated[i].root_sha256 == root) {
      candidates.entries.push_back(reference_values.emulated[i].snp);
      candidates.manifest_index.push_back(i);
    }
  }
  if (candidates.entries.empty()) {
    return Fail(ErrorCode::kUntrustedRoot, "emulated root \"" + (*chain)[1].SubjectText() + "\" (SHA-256 " +
                                               HexEncode(root) +
                                               ") is not pinned by any ReferenceValues.emulated entry");
  }
  auto verifier = ChainVerifier((*chain)[1].Der(), (*chain)[0].Der());
  if (!verifier) return Fail(verifier.error());

  // After the root is known to be pinned: no fetch for an unpinned chain.
  auto endorsement_key = snp::EndorsementKeyFor(evidence, collateral_.get());
  if (!endorsement_key) return Fail(endorsement_key.error());

  snp::VerifyOptions options;
  options.at = clock_();
  options.crl_source = collateral_.get();  // never Evidence::crl
  auto matched = snp::VerifyAndMatch(**verifier, evidence, *endorsement_key, options, candidates, expected_report_data,
                                     reference_values.allowed_host_data, /*insecure_root=*/true);
  if (!matched) return Fail(matched.error());
  return VerifiedSnpEvidence(evidence.platform, std::move(matched->report), /*insecure=*/true, matched->manifest_index);
}

}  // namespace contrast::attest::emulated
