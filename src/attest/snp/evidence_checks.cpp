#include "attest/snp/evidence_checks.h"

#include <string>
#include <utility>

#include "attest/snp/abi.h"
#include "attest/snp/validate.h"

namespace contrast::attest::snp {
namespace {

// Every mismatch, with the entry named as in the manifest
// ("ReferenceValues.emulated[2]: MEASUREMENT: expected ..., got ...").
Error ValidationError(const ValidationResult& result, const CandidateEntries& candidates) {
  ErrorCode code = result.mismatches.empty() ? ErrorCode::kValidationFailed : result.mismatches.front().code;
  std::string message = "evidence does not match the reference values: ";
  for (size_t i = 0; i < result.mismatches.size(); ++i) {
    const Mismatch& m = result.mismatches[i];
    if (m.code != code) code = ErrorCode::kValidationFailed;
    if (i > 0) message += "; ";
    if (m.entry && *m.entry < candidates.manifest_index.size()) {
      message += "ReferenceValues." + std::string(candidates.list) + "[" +
                 std::to_string(candidates.manifest_index[*m.entry]) + "]: ";
    }
    message += m.field + ": expected " + m.expected + ", got " + m.actual;
  }
  return Error{code, std::move(message)};
}

}  // namespace

Status CheckReportBinding(const Evidence& evidence, const ReportData& expected_report_data) {
  // The binding is in the signed report, so checking it before the
  // signature decides nothing early that the signature could change.
  auto report = ParseReport(evidence.report);
  if (!report) return Fail(report.error().Wrap("evidence (" + evidence.platform + ")"));
  if (report->report_data == expected_report_data) return {};
  return Fail(ErrorCode::kValidationFailed,
              "REPORT_DATA: expected " + HexEncode(expected_report_data) + ", got " + HexEncode(report->report_data) +
                  ": the evidence is not bound to this session (nonce, role and TLS key)");
}

Result<Bytes> EndorsementKeyFor(const Evidence& evidence, const CollateralSource* collateral) {
  if (!evidence.endorsement_key.empty()) return evidence.endorsement_key;
  if (collateral == nullptr) {
    return Fail(ErrorCode::kNotFound, "evidence (" + evidence.platform +
                                          ") has no endorsement key (VCEK) and no key server (KDS) is configured");
  }
  auto report = ParseReport(evidence.report);
  if (!report) return Fail(report.error().Wrap("evidence (" + evidence.platform + ")"));
  // Only reports whose binding was checked get here (see the verifiers), so
  // a peer cannot make this process fetch for reports of its choosing
  // without a session; the source caches VCEKs and backs off after failures.
  auto vcek = collateral->VcekForReport(*report);
  if (!vcek) {
    return Fail(vcek.error().Wrap("evidence (" + evidence.platform + ") has no endorsement key, and the KDS failed"));
  }
  return std::move(*vcek);
}

Result<MatchedReport> VerifyAndMatch(const Verifier& verifier, const Evidence& evidence, ByteView endorsement_key,
                                     const VerifyOptions& options, const CandidateEntries& candidates,
                                     const ReportData& expected_report_data,
                                     const std::vector<ByteArray<32>>& allowed_host_data, bool insecure_root) {
  auto verified = verifier.Verify(evidence.report, endorsement_key, options);
  if (!verified) return Fail(verified.error().Wrap("evidence (" + evidence.platform + ")"));

  ValidateOptions validate_options;
  validate_options.expected_report_data = expected_report_data;
  validate_options.allowed_host_data = allowed_host_data;
  validate_options.insecure_accept_non_amd_root = insecure_root;
  const ValidationResult result = ValidateAgainstAny(*verified, candidates.entries, validate_options);
  if (!result.ok() || !result.matched_entry) return Fail(ValidationError(result, candidates));
  return MatchedReport{std::move(*verified), candidates.manifest_index[*result.matched_entry]};
}

}  // namespace contrast::attest::snp
