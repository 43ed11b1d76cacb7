// Private to contrast_attest_tsm: SNP evidence from what the kernel returned
// (a report and, optionally, the host's certificate table), shared by the
// configfs-tsm and /dev/sev-guest issuers.
#pragma once

#include <string>
#include <string_view>

#include "attest/evidence.h"

namespace contrast::attest::tsm {

// Checks that `report` is an SNP report carrying `report_data`, and attaches
// the endorsement key the report says signed it (VCEK or VLEK, DER) and the
// ASK/ASVK and ARK (PEM) from `cert_table` when present. An empty table
// leaves them empty: the verifier then fetches the VCEK from AMD's KDS.
// `source` names where the bytes came from, for messages.
Result<Evidence> MakeSnpEvidence(std::string_view platform, Bytes report, ByteView cert_table,
                                 const ReportData& report_data, std::string_view source);

}  // namespace contrast::attest::tsm
