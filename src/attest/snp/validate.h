// Acceptability of an SEV-SNP report: does a (verified) report match the
// manifest's reference values?
//
// Validation compares every field and returns every mismatch at once, each
// naming the report field, the expected and the actual value. It says nothing
// about authenticity: that is verify.h. The core works on the report fields
// (ValidateReport), so it is testable without signatures; the overloads
// taking a VerifiedReport forward to it and additionally refuse non-AMD roots
// unless explicitly allowed, and reports whose revocation was not checked
// (VerifiedReport::revocation) unless the entry has
// AllowMissingRevocationCheck (mismatch field "REVOCATION").
//
// Rules, in the order they are checked:
//   baseline (every deployment, ValidateBaseline): POLICY.DEBUG and
//     POLICY.MIGRATE_MA must be clear; SIGNER_INFO.SIGNING_KEY is VCEK or VLEK.
//   PRODUCT == ProductName; VERSION >= MinimumReportVersion;
//   MEASUREMENT == TrustedMeasurement; HOST_DATA == TrustedHostData and in
//   ValidateOptions::allowed_host_data (each when set); REPORT_DATA ==
//   ValidateOptions::expected_report_data (when set); ID_KEY_DIGEST in
//   TrustedIDKeyDigests (when non-empty); VMPL == RequiredVMPL;
//   POLICY: ABI major.minor >= GuestPolicy's, SMT / CXL_ALLOW only if
//     GuestPolicy allows them, SINGLE_SOCKET / MEM_AES_256_XTS / RAPL_DIS /
//     CIPHERTEXT_HIDING_DRAM / PAGE_SWAP_DISABLE set if GuestPolicy requires;
//   PLATFORM_INFO: SMT_EN / TSME_EN / TIO_EN only if PlatformInfo allows
//     them, ECC_EN / RAPL_DIS / CIPHERTEXT_HIDING_DRAM_EN /
//     ALIAS_CHECK_COMPLETE set if PlatformInfo requires;
//   MinimumTCB <= REPORTED_TCB, CURRENT_TCB, COMMITTED_TCB and LAUNCH_TCB,
//     component-wise, decoded for the product (Turin layout includes FMC);
//   COMMITTED_TCB <= CURRENT_TCB always; == CURRENT_TCB, and the committed
//     firmware version == the current one, unless PermitProvisionalFirmware;
//   MinimumMitigationVector bits all set in LAUNCH_MIT_VECTOR and
//     CURRENT_MIT_VECTOR (a report before version 5 has none: fails when the
//     minimum is non-zero);
//   CHIP_ID in AllowedChipIDs (when non-empty).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attest/snp/abi.h"
#include "attest/snp/reference_values.h"
#include "attest/snp/verify.h"
#include "common/result.h"

namespace contrast::attest::snp {

// One field that did not match.
struct Mismatch {
  // kMeasurementMismatch, kTcbTooLow, kPolicyViolation, kProductMismatch,
  // kUntrustedRoot or kValidationFailed (anything else).
  ErrorCode code = ErrorCode::kValidationFailed;
  // The report field, AMD spelling: "MEASUREMENT", "POLICY.SMT",
  // "LAUNCH_TCB.snp", "PLATFORM_INFO.TSME_EN", ...
  std::string field;
  std::string expected;
  std::string actual;
  // Index into the entries given to ValidateAgainstAny; unset otherwise and
  // for baseline mismatches (which no entry can lift).
  std::optional<size_t> entry;

  // "MEASUREMENT: expected 7a1e..., got 8922..." (prefixed with
  // "ReferenceValues.snp[i]: " when `entry` is set).
  std::string Message() const;
};

struct ValidationResult {
  std::vector<Mismatch> mismatches;
  // ValidateAgainstAny: the first entry that accepted the report.
  std::optional<size_t> matched_entry;

  bool ok() const { return mismatches.empty(); }
  // Every mismatch's Message(), one per line.
  std::string Message() const;
  // Success, or an Error whose code is the mismatches' common code
  // (kValidationFailed when they differ) and whose message lists them all.
  Status ToStatus() const;
};

struct ValidateOptions {
  // The REPORT_DATA the verifier expects (the session binding). Not checked
  // when unset.
  std::optional<ByteArray<64>> expected_report_data;
  // HOST_DATA must be one of these (e.g. the manifest's coordinator policy
  // hashes). Not checked when empty.
  std::vector<ByteArray<32>> allowed_host_data;
  // Accept a VerifiedReport whose chain ends at a non-AMD root (emulated
  // secure processor). Only for manifests that explicitly name that root.
  bool insecure_accept_non_amd_root = false;
};

// The rules that hold for every deployment, without reference values.
ValidationResult ValidateBaseline(const Report& report);

// `product`: the product line the report was verified for.
ValidationResult ValidateReport(const Report& report, Product product, const SnpReferenceValues& reference_values,
                                const ValidateOptions& options = {});
ValidationResult Validate(const VerifiedReport& report, const SnpReferenceValues& reference_values,
                          const ValidateOptions& options = {});

// Accepts if ANY entry accepts (matched_entry names the first); otherwise
// returns the baseline mismatches and every entry's mismatches, tagged with
// the entry index. No entries at all is a mismatch.
ValidationResult ValidateAgainstAny(const Report& report, Product product, std::span<const SnpReferenceValues> entries,
                                    const ValidateOptions& options = {});
ValidationResult ValidateAgainstAny(const VerifiedReport& report, std::span<const SnpReferenceValues> entries,
                                    const ValidateOptions& options = {});

}  // namespace contrast::attest::snp
