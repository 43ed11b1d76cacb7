#include "session/verifier.h"

#include <algorithm>
#include <span>
#include <utility>

#include "attest/snp/abi.h"
#include "attest/snp/validate.h"
#include "crypto/x509.h"

namespace contrast::session {
namespace {

using attest::snp::Product;
using attest::snp::SnpReferenceValues;
using attest::snp::ValidationResult;

// Distinct emulated chains kept verified; beyond this the cache starts over.
constexpr size_t kMaxEmulatedVerifiers = 16;

Status CheckBinding(const attest::snp::Report& report, const ReportData& expected) {
  if (report.report_data == expected) return {};
  return Fail(ErrorCode::kValidationFailed,
              "REPORT_DATA: expected " + HexEncode(expected) + ", got " + HexEncode(report.report_data) +
                  ": the evidence is not bound to this session (nonce, role and TLS key)");
}

// Every mismatch, with the entry named as in the manifest
// ("ReferenceValues.emulated[2]: MEASUREMENT: expected ..., got ...").
// `entry_index` maps an index into the validated span to the manifest index.
Error ValidationError(const ValidationResult& result, std::string_view list, const std::vector<size_t>& entry_index) {
  ErrorCode code = result.mismatches.empty() ? ErrorCode::kValidationFailed : result.mismatches.front().code;
  std::string message = "evidence does not match the reference values: ";
  for (size_t i = 0; i < result.mismatches.size(); ++i) {
    const attest::snp::Mismatch& m = result.mismatches[i];
    if (m.code != code) code = ErrorCode::kValidationFailed;
    if (i > 0) message += "; ";
    if (m.entry && *m.entry < entry_index.size()) {
      message += "ReferenceValues." + std::string(list) + "[" + std::to_string(entry_index[*m.entry]) + "]: ";
    }
    message += m.field + ": expected " + m.expected + ", got " + m.actual;
  }
  return Error{code, std::move(message)};
}

}  // namespace

EvidenceVerifier::EvidenceVerifier() : EvidenceVerifier(Clock{}) {}

EvidenceVerifier::EvidenceVerifier(Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })), amd_() {}

EvidenceVerifier::EvidenceVerifier(attest::snp::TrustAnchors amd_anchors, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })), amd_(std::move(amd_anchors)) {}

EvidenceVerifier::~EvidenceVerifier() = default;

Result<std::shared_ptr<const attest::snp::Verifier>> EvidenceVerifier::EmulatedVerifier(const Bytes& ark_der,
                                                                                        const Bytes& ask_der) const {
  Bytes both = ark_der;
  both.insert(both.end(), ask_der.begin(), ask_der.end());
  const std::string key = HexEncode(crypto::Sha256(both));
  std::lock_guard lock(mutex_);
  if (auto it = emulated_.find(key); it != emulated_.end()) return it->second;
  // The emulator serves one product; its chain anchors any product line, and
  // the verifier's name and CPUID checks pick the right one.
  attest::snp::TrustAnchors anchors;
  for (Product product : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    anchors.products.push_back(attest::snp::ProductAnchors{product, ark_der, ask_der, {}, /*insecure=*/true});
  }
  auto verifier = std::make_shared<const attest::snp::Verifier>(std::move(anchors));
  if (emulated_.size() >= kMaxEmulatedVerifiers) emulated_.clear();
  emulated_.emplace(key, verifier);
  return verifier;
}

Result<VerifiedEvidence> EvidenceVerifier::Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                                  const AcceptableReferenceValues& reference_values) const {
  const bool emulated = evidence.platform == kPlatformEmulatedSnp;
  if (!emulated && evidence.platform != kPlatformSnp) {
    return Fail(ErrorCode::kParse, "evidence.platform: unknown platform \"" + evidence.platform + "\"");
  }
  if (reference_values.allowed_host_data.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no allowed HOST_DATA (policy hashes) given to the verifier");
  }
  if (!emulated && reference_values.snp.empty()) {
    return Fail(ErrorCode::kValidationFailed, "the reference values have no entry for platform \"snp\"");
  }
  if (emulated && reference_values.emulated.empty()) {
    return Fail(ErrorCode::kValidationFailed, "the reference values have no entry for platform \"emulated-snp\"");
  }
  if (emulated && !reference_values.snp.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "reference values that hold real platforms never accept emulated evidence");
  }
  // The cheap checks first: evidence that is not bound to this session (a
  // replay, junk, the wrong nonce or TLS key) is refused after a parse and a
  // compare, before any certificate or signature work, so junk costs the
  // sender as much as it costs us. The binding is in the signed report, so
  // checking it before the signature decides nothing early that the
  // signature could change.
  auto report = attest::snp::ParseReport(evidence.report);
  if (!report) return Fail(report.error().Wrap("evidence (" + evidence.platform + ")"));
  if (auto bound = CheckBinding(*report, expected_report_data); !bound) return Fail(bound.error());

  // Which entries can accept this platform at all.
  std::vector<SnpReferenceValues> entries;
  std::vector<size_t> entry_index;  // into reference_values.snp or .emulated
  attest::snp::VerifyOptions options;
  options.at = clock_();
  if (!evidence.crl.empty()) options.crl = evidence.crl;
  const attest::snp::Verifier* verifier = &amd_;
  std::shared_ptr<const attest::snp::Verifier> emulated_verifier;

  if (!emulated) {
    entries = reference_values.snp;
    for (size_t i = 0; i < entries.size(); ++i) entry_index.push_back(i);
  } else {
    auto chain = crypto::Certificate::ParsePemChain(evidence.cert_chain);
    if (!chain) return Fail(ErrorCode::kParse, "evidence.cert_chain: " + chain.error().message);
    if (chain->size() != 2) {
      return Fail(ErrorCode::kParse,
                  "evidence.cert_chain: expected 2 certificates (ASK then ARK), got " + std::to_string(chain->size()));
    }
    const crypto::Sha256Digest root = (*chain)[1].Sha256Fingerprint();
    for (size_t i = 0; i < reference_values.emulated.size(); ++i) {
      if (reference_values.emulated[i].root_sha256 == root) {
        entries.push_back(reference_values.emulated[i].snp);
        entry_index.push_back(i);
      }
    }
    if (entries.empty()) {
      return Fail(ErrorCode::kUntrustedRoot, "emulated root \"" + (*chain)[1].SubjectText() + "\" (SHA-256 " +
                                                 HexEncode(root) +
                                                 ") is not pinned by any ReferenceValues.emulated entry");
    }
    auto found = EmulatedVerifier((*chain)[1].Der(), (*chain)[0].Der());
    if (!found) return Fail(found.error());
    emulated_verifier = std::move(*found);
    verifier = emulated_verifier.get();
  }

  auto verified = verifier->Verify(evidence.report, evidence.endorsement_key, options);
  if (!verified) return Fail(verified.error().Wrap("evidence (" + evidence.platform + ")"));

  attest::snp::ValidateOptions validate_options;
  validate_options.expected_report_data = expected_report_data;
  validate_options.allowed_host_data = reference_values.allowed_host_data;
  validate_options.insecure_accept_non_amd_root = emulated;
  const ValidationResult result = attest::snp::ValidateAgainstAny(*verified, entries, validate_options);
  if (!result.ok() || !result.matched_entry) {
    return Fail(ValidationError(result, emulated ? "emulated" : "snp", entry_index));
  }

  VerifiedEvidence out;
  out.platform_ = evidence.platform;
  out.verified_report_ = std::move(*verified);
  out.insecure_ = emulated;
  out.matched_entry_ = entry_index[*result.matched_entry];
  return out;
}

}  // namespace contrast::session
