// Intel TDX reference values: what an acceptable TD looks like. One
// TdxReferenceValues is one entry of the manifest's `ReferenceValues.tdx[]`;
// a TD is acceptable if it matches any entry.
//
// JSON keys are upstream Contrast's, so manifests move between the two:
//
//   Platform                    string, optional marker ("Metal-QEMU-TDX")
//   MinTCBEvaluationDataNumber  optional integer >= 0 (0: no minimum): the
//                               collateral's tcbEvaluationDataNumber
//   MrTd                        hex, 48 bytes, required (MRTD)
//   MrSeam                      hex, 48 bytes, required (MRSEAM: SHA-384 of
//                               the TDX module)
//   Rtmrs                       array of exactly 4 hex strings, 48 bytes each,
//                               required (RTMR0..3). Upstream's older
//                               manifests spell the key "Rtrms"; it is read
//                               too (never both), and written as "Rtmrs".
//   Xfam                        hex, 8 bytes, required (XFAM, exact)
//   AllowedPIIDs                optional array of hex, 16 bytes each: the PCK
//                               certificate's platform instance id must be
//                               one of them (empty: any)
//   MemoryIntegrity             optional bool: require SGX type "scalable
//                               with integrity" in the PCK certificate
//   SMTDisabled                 optional bool: require SMT disabled (PCK)
//   StaticPlatform              optional bool: require a static platform (PCK)
//   CPUs                        optional integer, informative only
//   AcceptedTcbStatuses         optional array of Intel TCB status names
//                               ("UpToDate", "SWHardeningNeeded",
//                               "ConfigurationNeeded", "OutOfDate", ...):
//                               the converged TCB status of the platform,
//                               TDX module and QE must be one of them.
//                               Absent or empty: ["UpToDate"] only. "Revoked"
//                               is refused. (Ours; upstream has no such key.)
// Upstream's older TDX fields (read and written back when set):
//   MinimumQeSvn, MinimumPceSvn integers 0..65535
//   MinimumTeeTcbSvn            hex, 16 bytes: TEE_TCB_SVN component-wise >=
//   TdAttributes                hex, 8 bytes: TDATTRIBUTES exact. When absent
//                               TDATTRIBUTES must be exactly SEPT_VE_DISABLE
//                               (bit 28) alone, as upstream hard-codes. A
//                               value with DEBUG (bit 0) is refused.
//
// Parsing is strict: unknown keys, wrong types, bad hex and wrong lengths are
// rejected, every problem reported at once with its JSON path:
//   ReferenceValues.tdx[0].MrTd: expected 48 bytes of hex, got 47
// The JSON is untrusted: no exception escapes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "attest/tdx/collateral.h"
#include "common/result.h"

namespace contrast::attest::tdx {

struct TdxReferenceValues {
  std::string platform;                                        // Platform
  uint32_t min_tcb_evaluation_data_number = 0;                 // MinTCBEvaluationDataNumber (0: none)
  std::array<uint8_t, 48> mr_td{};                             // MrTd
  std::array<uint8_t, 48> mr_seam{};                           // MrSeam
  std::array<std::array<uint8_t, 48>, 4> rtmrs{};              // Rtmrs
  std::array<uint8_t, 8> xfam{};                               // Xfam
  std::vector<std::array<uint8_t, 16>> allowed_piids;          // AllowedPIIDs (empty: any)
  bool memory_integrity = false;                               // MemoryIntegrity
  bool smt_disabled = false;                                   // SMTDisabled
  bool static_platform = false;                                // StaticPlatform
  uint64_t cpus = 0;                                           // CPUs (informative, 0: unset)
  std::optional<uint16_t> minimum_qe_svn;                      // MinimumQeSvn
  std::optional<uint16_t> minimum_pce_svn;                     // MinimumPceSvn
  std::optional<std::array<uint8_t, 16>> minimum_tee_tcb_svn;  // MinimumTeeTcbSvn
  std::optional<std::array<uint8_t, 8>> td_attributes;         // TdAttributes (unset: SEPT_VE_DISABLE only)
  std::vector<TcbStatus> accepted_tcb_statuses;                // AcceptedTcbStatuses (empty: UpToDate only)

  bool operator==(const TdxReferenceValues&) const = default;
};

// What validation needs from a verified quote and its collateral, as plain
// values (byte strings exactly as they appear in the TD report). The
// verifier fills it; nothing here is checked for authenticity.
struct TdMeasurements {
  std::array<uint8_t, 48> mrtd{};
  std::array<std::array<uint8_t, 48>, 4> rtmr{};
  std::array<uint8_t, 48> mrseam{};
  std::array<uint8_t, 8> xfam{};
  std::array<uint8_t, 8> td_attributes{};  // little-endian u64, bit 0 = DEBUG
  std::array<uint8_t, 48> mrconfigid{};
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 16> tee_tcb_svn{};
  // From the QE report / PCK certificate / collateral. Unset: the verifier
  // did not provide it, and a reference value that needs it fails (never
  // passes silently).
  std::optional<uint16_t> qe_svn;                               // QE report ISVSVN
  std::optional<uint16_t> pce_svn;                              // PCK certificate PCESVN
  std::optional<uint32_t> tcb_evaluation_data_number;           // of the tcbInfo used
  std::optional<std::array<uint8_t, 16>> platform_instance_id;  // PCK SGX extension
  std::optional<bool> memory_integrity;                         // PCK SGX type is "scalable with integrity"
  std::optional<bool> smt_enabled;                              // PCK configuration
  std::optional<bool> dynamic_platform;                         // PCK configuration
  // The converged TCB status (tdx::TcbEvaluation::status). When set, every
  // entry's AcceptedTcbStatuses (default UpToDate) is checked; when unset,
  // only entries that list AcceptedTcbStatuses are, and they fail.
  std::optional<TcbStatus> tcb_status;
};

// SHA-256 of a policy document: what the Kata runtime puts into MRCONFIGID
// (zero-padded to 48 bytes).
using PolicyDigest = std::array<uint8_t, 32>;

// The policy digest MRCONFIGID carries: its first 32 bytes, when the last 16
// are zero (the binding Kata makes); nullopt otherwise.
std::optional<PolicyDigest> PolicyDigestFromMrConfigId(const std::array<uint8_t, 48>& mrconfigid);

// One field that did not match.
struct TdxMismatch {
  // kMeasurementMismatch, kTcbTooLow, kPolicyViolation or kValidationFailed.
  ErrorCode code = ErrorCode::kValidationFailed;
  // Intel spelling: "MRTD", "RTMR2", "TDATTRIBUTES.DEBUG", "MRCONFIGID",
  // "TEE_TCB_SVN", "PCK.PlatformInstanceID", ...
  std::string field;
  std::string expected;
  std::string actual;
  // Index into the entries given to ValidateAgainstAny; unset otherwise and
  // for baseline mismatches (which no entry can lift).
  std::optional<size_t> entry;

  // "MRTD: expected 7a1e..., got 8922..." (prefixed with
  // "ReferenceValues.tdx[i]: " when `entry` is set).
  std::string Message() const;
};

struct TdxValidationResult {
  std::vector<TdxMismatch> mismatches;
  // ValidateAgainstAny: the first entry that accepted the TD.
  std::optional<size_t> matched_entry;

  bool ok() const { return mismatches.empty(); }
  // Every mismatch's Message(), one per line.
  std::string Message() const;
  // Success, or an Error whose code is the mismatches' common code
  // (kValidationFailed when they differ) and whose message lists them all.
  Status ToStatus() const;
};

struct TdxValidateOptions {
  // The REPORTDATA the verifier expects (the session binding). Not checked
  // when unset.
  std::optional<std::array<uint8_t, 64>> expected_report_data;
};

// Rules for every deployment, without reference values: TDATTRIBUTES.DEBUG
// clear (a debuggable TD's memory is readable by the host).
TdxValidationResult ValidateBaseline(const TdMeasurements& td);

// Baseline, then every field of `reference_values`; MRCONFIGID must equal one
// of `allowed_policy_digests` zero-padded to 48 bytes (an empty list accepts
// nothing). Every mismatch is reported.
TdxValidationResult Validate(const TdxReferenceValues& reference_values, const TdMeasurements& td,
                             std::span<const PolicyDigest> allowed_policy_digests,
                             const TdxValidateOptions& options = {});

// Accepts if ANY entry accepts (matched_entry names the first); otherwise the
// baseline mismatches and every entry's mismatches, tagged with the entry
// index. No entries at all is a mismatch.
TdxValidationResult ValidateAgainstAny(std::span<const TdxReferenceValues> entries, const TdMeasurements& td,
                                       std::span<const PolicyDigest> allowed_policy_digests,
                                       const TdxValidateOptions& options = {});

// --- JSON -------------------------------------------------------------------

// Reads one entry; `path` e.g. "ReferenceValues.tdx[0]". Appends one
// "<path>: <problem>" per problem to `problems` (at most 100 lines in all,
// then one line counting the rest) and returns a value that is meaningful
// only if nothing was appended. Never throws.
TdxReferenceValues ReadTdxReferenceValues(const nlohmann::json& entry, const std::string& path,
                                          std::vector<std::string>& problems);

// One entry from JSON text (an object); problems are reported under
// `path`. Errors: kParse, every problem one per line.
Result<TdxReferenceValues> ParseTdxReferenceValues(std::string_view json_text,
                                                   const std::string& path = "ReferenceValues.tdx[0]");

// The entry with upstream's keys (all of upstream's current fields always;
// the older ones and CPUs only when set). ReadTdxReferenceValues
// round-trips it.
nlohmann::json TdxReferenceValuesToJson(const TdxReferenceValues& rv);

}  // namespace contrast::attest::tdx
