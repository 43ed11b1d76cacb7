// The checks the "snp" and "emulated-snp" evidence verifiers share: both
// carry an SEV-SNP report and differ only in the roots they trust and the
// reference values list they match against. Internal to the verifiers.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "attest/evidence.h"
#include "attest/snp/collateral.h"
#include "attest/snp/reference_values.h"
#include "attest/snp/verify.h"
#include "common/result.h"

namespace contrast::attest::snp {

// Parses the report and compares its REPORT_DATA with the expected binding:
// the cheap checks that refuse replays and junk before any certificate or
// signature work. kParse, or kValidationFailed when not bound to this session.
Status CheckReportBinding(const Evidence& evidence, const ReportData& expected_report_data);

// The endorsement key to verify the report with: the evidence's own, or when
// it came without one, the VCEK `collateral` fetches (or has cached) for the
// report. kNotFound when there is neither a key nor a collateral source;
// otherwise CollateralSource::VcekForReport's errors, naming the key server
// and the reason.
Result<Bytes> EndorsementKeyFor(const Evidence& evidence, const CollateralSource* collateral);

// Which reference values entries a report may match, and how they are named.
struct CandidateEntries {
  std::vector<SnpReferenceValues> entries;
  std::vector<size_t> manifest_index;  // entries[i] is ReferenceValues.<list>[manifest_index[i]]
  std::string_view list;               // "snp" or "emulated"
};

struct MatchedReport {
  VerifiedReport report;
  size_t manifest_index = 0;  // of the accepting entry
};

// Verifies the report with `verifier` and `endorsement_key` (see
// EndorsementKeyFor) and validates it against the candidates; errors name
// every mismatch of every entry by its manifest path.
Result<MatchedReport> VerifyAndMatch(const Verifier& verifier, const Evidence& evidence, ByteView endorsement_key,
                                     const VerifyOptions& options, const CandidateEntries& candidates,
                                     const ReportData& expected_report_data,
                                     const std::vector<ByteArray<32>>& allowed_host_data, bool insecure_root);

}  // namespace contrast::attest::snp
