// SEV-SNP reference values: what an acceptable report looks like. One
// SnpReferenceValues is one entry of the manifest's `ReferenceValues.snp[]`;
// a report is acceptable if it matches any entry (validate.h).
//
// JSON keys are upstream Contrast's, so manifests move between the two:
//
//   Platform                 string, optional marker ("Metal-QEMU-SNP")
//   ProductName              "Milan" | "Genoa" | "Turin" (exact spelling), required
//   TrustedMeasurement       hex, 48 bytes, required (launch MEASUREMENT)
//   MinimumTCB               required object: BootloaderVersion, TEEVersion,
//                            SNPVersion, MicrocodeVersion (all four required,
//                            0..255; null counts as missing), FMCVersion
//                            (optional, Turin only)
//   GuestPolicy              optional object (missing keys are false / 0):
//                            ABIMinor, ABIMajor, SMT, MigrateMA, Debug,
//                            SingleSocket, CXLAllowed, MemAES256XTS, RAPLDis,
//                            CipherTextHidingDRAM, PageSwapDisable.
//                            Debug and MigrateMA must be false: a debuggable or
//                            migratable guest is never acceptable.
//   PlatformInfo             optional object (missing keys are false):
//                            SMTEnabled, TSMEEnabled, ECCEnabled, RAPLDisabled,
//                            CiphertextHidingDRAMEnabled, AliasCheckComplete,
//                            TIOEnabled
//   MinimumMitigationVector  optional uint64 (default 0)
//   AllowedChipIDs           optional array of hex, 64 bytes each, not all zero
//
// Our additions (all optional; absent from upstream manifests):
//   TrustedHostData          hex, 32 bytes: required HOST_DATA. Usually set by
//                            the caller per role rather than in the manifest.
//   TrustedIDKeyDigests      array of hex, 48 bytes each: ID_KEY_DIGEST must be
//                            one of them when non-empty.
//   MinimumReportVersion     integer 2..5: minimum report VERSION.
//   RequiredVMPL             integer 0..3, default 0: required VMPL.
//   PermitProvisionalFirmware bool, default true (as upstream): when false,
//                            COMMITTED_TCB and the committed firmware version
//                            must equal the current ones.
//   AllowMissingRevocationCheck bool, default false: accept a report whose
//                            revocation could not be checked (no current ARK
//                            CRL was available to the verifier: KDS outage,
//                            no CRL source configured, the emulated platform).
//                            When false such a report is refused.
//
// Parsing is strict: unknown keys, duplicate keys, wrong types, bad hex, wrong
// lengths and out-of-range numbers are rejected, and every problem is reported
// at once, one per line, each with its JSON path:
//   ReferenceValues.snp[0].MinimumTCB.SNPVersion: missing
//   ReferenceValues.snp[1].TrustedMeasurement: expected 48 bytes of hex, got 47
// The JSON is untrusted: no exception escapes, size and nesting are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "attest/snp/abi.h"
#include "common/result.h"

namespace contrast::attest::snp {

struct SnpReferenceValues {
  std::string platform;                 // Platform
  Product product = Product::kUnknown;  // ProductName
  ByteArray<48> trusted_measurement{};  // TrustedMeasurement
  // MinimumTCB; `fmc` is only meaningful for Turin (0 = no requirement).
  TcbParts minimum_tcb;
  // GuestPolicy: the most the report's POLICY may allow (SMT, CXL) and the
  // least it must require (ABI, SINGLE_SOCKET, AES-256-XTS, RAPL_DIS,
  // ciphertext hiding, page-swap disable).
  GuestPolicy guest_policy;
  // PlatformInfo: features the platform may have enabled (SMT, TSME, TIO)
  // and features it must have (ECC, RAPL disabled, ciphertext hiding, alias
  // check).
  PlatformInfo platform_info;
  uint64_t minimum_mitigation_vector = 0;             // MinimumMitigationVector
  std::vector<ByteArray<64>> allowed_chip_ids;        // AllowedChipIDs (empty: any)
  std::optional<ByteArray<32>> trusted_host_data;     // TrustedHostData
  std::vector<ByteArray<48>> trusted_id_key_digests;  // TrustedIDKeyDigests (empty: any)
  uint32_t minimum_report_version = 0;                // MinimumReportVersion (0: none)
  uint32_t required_vmpl = 0;                         // RequiredVMPL
  bool permit_provisional_firmware = true;            // PermitProvisionalFirmware
  bool allow_missing_revocation_check = false;        // AllowMissingRevocationCheck
};

// The manifest's `ReferenceValues` object.
struct ReferenceValues {
  std::vector<SnpReferenceValues> snp;
  // `tdx` entries, kept as their JSON text (compact) so a caller can report
  // them: TDX validation is not implemented yet.
  std::vector<std::string> tdx;
};

// One problem per line: "<json path>: <what is wrong>".
using ParseProblems = std::vector<std::string>;

inline constexpr size_t kMaxReferenceValuesJsonSize = size_t{16} << 20;
inline constexpr int kMaxReferenceValuesJsonDepth = 64;
// Problems beyond this many are counted, not listed.
inline constexpr size_t kMaxReportedParseProblems = 100;

// Parses JSON text holding any of:
//   - the manifest's ReferenceValues object  {"snp": [...], "tdx": [...]}
//   - a whole manifest (an object with a "ReferenceValues" key; its other
//     keys are ignored here)
//   - a bare array of SNP entries, or a single bare SNP entry object.
// Paths in problems are always spelt as in the manifest
// ("ReferenceValues.snp[i]...") whichever form was given. At least one entry
// (snp or tdx) is required. Errors: kParse, message = every problem, one per
// line.
Result<ReferenceValues> ParseReferenceValues(std::string_view json_text);

// The same, for an already parsed JSON value (same accepted forms).
Result<ReferenceValues> ReferenceValuesFromJson(const nlohmann::json& value);

// Building blocks for the manifest parser, which aggregates problems across
// the whole manifest. They append to `problems` and return a value that is
// meaningful only if nothing was appended. Never throw.
//
// `value` must be the ReferenceValues object; `path` is its JSON path
// ("ReferenceValues").
ReferenceValues ReadReferenceValues(const nlohmann::json& value, const std::string& path, ParseProblems& problems);
// `entry` is one SNP entry; `path` e.g. "ReferenceValues.snp[0]".
SnpReferenceValues ReadSnpReferenceValues(const nlohmann::json& entry, const std::string& path,
                                          ParseProblems& problems);

// The entry as JSON with upstream's keys; our additions are written only when
// they differ from their defaults. ReadSnpReferenceValues round-trips it.
nlohmann::json SnpReferenceValuesToJson(const SnpReferenceValues& rv);

}  // namespace contrast::attest::snp
