#include "attest/snp/validate.h"

#include <algorithm>
#include <cstdio>
#include <tuple>
#include <utility>

namespace contrast::attest::snp {
namespace {

std::string Hex64(uint64_t v) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

template <size_t N>
std::string OneOf(const std::vector<ByteArray<N>>& allowed) {
  constexpr size_t kListed = 4;
  std::string out = "one of [";
  for (size_t i = 0; i < allowed.size() && i < kListed; ++i) {
    if (i > 0) out += ", ";
    out += HexEncode(allowed[i]);
  }
  if (allowed.size() > kListed) out += ", ... (" + std::to_string(allowed.size()) + " in all)";
  return out + "]";
}

template <size_t N>
bool Contains(const std::vector<ByteArray<N>>& list, const ByteArray<N>& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Collects mismatches in check order.
class Checker {
 public:
  explicit Checker(ValidationResult& result) : result_(result) {}

  void Add(ErrorCode code, std::string field, std::string expected, std::string actual) {
    result_.mismatches.push_back(Mismatch{code, std::move(field), std::move(expected), std::move(actual), entry_});
  }

  void SetEntry(std::optional<size_t> entry) { entry_ = entry; }

 private:
  ValidationResult& result_;
  std::optional<size_t> entry_;
};

void CheckBaseline(const Report& report, Checker& c) {
  const GuestPolicy policy = report.Policy();
  if (policy.debug) c.Add(ErrorCode::kPolicyViolation, "POLICY.DEBUG", "false (debugging is never allowed)", "true");
  if (policy.migrate_ma) {
    c.Add(ErrorCode::kPolicyViolation, "POLICY.MIGRATE_MA", "false (migration agents are never allowed)", "true");
  }
  const SigningKey key = report.Signer().signing_key;
  if (key != SigningKey::kVcek && key != SigningKey::kVlek) {
    c.Add(ErrorCode::kValidationFailed, "SIGNER_INFO.SIGNING_KEY", "VCEK or VLEK", std::string(SigningKeyName(key)));
  }
}

// The allowed-at-most flags of the guest policy.
void CheckAllowedFlag(Checker& c, std::string_view name, bool reported, bool allowed) {
  if (reported && !allowed) c.Add(ErrorCode::kPolicyViolation, std::string(name), "false (not allowed)", "true");
}
// The required-at-least flags.
void CheckRequiredFlag(Checker& c, std::string_view name, bool reported, bool required) {
  if (required && !reported) c.Add(ErrorCode::kPolicyViolation, std::string(name), "true (required)", "false");
}

void CheckGuestPolicy(const GuestPolicy& reported, const GuestPolicy& reference, Checker& c) {
  // DEBUG and MIGRATE_MA are baseline rules: never allowed, whatever the
  // reference says.
  if (std::pair(reported.abi_major, reported.abi_minor) < std::pair(reference.abi_major, reference.abi_minor)) {
    c.Add(ErrorCode::kPolicyViolation, "POLICY.ABI",
          ">= " + std::to_string(reference.abi_major) + "." + std::to_string(reference.abi_minor),
          std::to_string(reported.abi_major) + "." + std::to_string(reported.abi_minor));
  }
  CheckAllowedFlag(c, "POLICY.SMT", reported.smt, reference.smt);
  CheckAllowedFlag(c, "POLICY.CXL_ALLOW", reported.cxl_allowed, reference.cxl_allowed);
  CheckRequiredFlag(c, "POLICY.SINGLE_SOCKET", reported.single_socket, reference.single_socket);
  CheckRequiredFlag(c, "POLICY.MEM_AES_256_XTS", reported.mem_aes_256_xts, reference.mem_aes_256_xts);
  CheckRequiredFlag(c, "POLICY.RAPL_DIS", reported.rapl_dis, reference.rapl_dis);
  CheckRequiredFlag(c, "POLICY.CIPHERTEXT_HIDING_DRAM", reported.ciphertext_hiding_dram,
                    reference.ciphertext_hiding_dram);
  CheckRequiredFlag(c, "POLICY.PAGE_SWAP_DISABLE", reported.page_swap_disable, reference.page_swap_disable);
}

void CheckPlatformInfo(const PlatformInfo& reported, const PlatformInfo& reference, Checker& c) {
  CheckAllowedFlag(c, "PLATFORM_INFO.SMT_EN", reported.smt_enabled, reference.smt_enabled);
  CheckAllowedFlag(c, "PLATFORM_INFO.TSME_EN", reported.tsme_enabled, reference.tsme_enabled);
  CheckAllowedFlag(c, "PLATFORM_INFO.TIO_EN", reported.tio_enabled, reference.tio_enabled);
  CheckRequiredFlag(c, "PLATFORM_INFO.ECC_EN", reported.ecc_enabled, reference.ecc_enabled);
  CheckRequiredFlag(c, "PLATFORM_INFO.RAPL_DIS", reported.rapl_disabled, reference.rapl_disabled);
  CheckRequiredFlag(c, "PLATFORM_INFO.CIPHERTEXT_HIDING_DRAM_EN", reported.ciphertext_hiding_dram_enabled,
                    reference.ciphertext_hiding_dram_enabled);
  CheckRequiredFlag(c, "PLATFORM_INFO.ALIAS_CHECK_COMPLETE", reported.alias_check_complete,
                    reference.alias_check_complete);
}

struct TcbComponent {
  std::string_view name;
  uint8_t TcbParts::*member;
};
constexpr TcbComponent kTcbComponents[] = {
    {"fmc", &TcbParts::fmc}, {"bootloader", &TcbParts::bootloader}, {"tee", &TcbParts::tee},
    {"snp", &TcbParts::snp}, {"microcode", &TcbParts::microcode},
};

// Every component of `tcb` >= `minimum`, one mismatch per component.
void CheckTcbAtLeast(Checker& c, std::string_view tcb_name, const TcbParts& tcb, const TcbParts& minimum,
                     ErrorCode code, std::string_view minimum_name = {}) {
  for (const TcbComponent& component : kTcbComponents) {
    const uint8_t want = minimum.*component.member;
    const uint8_t got = tcb.*component.member;
    if (got < want) {
      std::string expected = ">= " + std::to_string(want);
      if (!minimum_name.empty()) expected += " (" + std::string(minimum_name) + ")";
      c.Add(code, std::string(tcb_name) + "." + std::string(component.name), expected, std::to_string(got));
    }
  }
}

std::string FirmwareVersion(uint8_t major, uint8_t minor, uint8_t build) {
  return std::to_string(major) + "." + std::to_string(minor) + " build " + std::to_string(build);
}

void CheckTcb(const Report& report, Product product, const SnpReferenceValues& rv, Checker& c) {
  const TcbParts current = DecodeTcb(report.current_tcb, product);
  const TcbParts committed = DecodeTcb(report.committed_tcb, product);
  TcbParts minimum = rv.minimum_tcb;
  // Only Turin's TCB layout has an FMC component.
  if (product != Product::kTurin) minimum.fmc = 0;
  CheckTcbAtLeast(c, "REPORTED_TCB", DecodeTcb(report.reported_tcb, product), minimum, ErrorCode::kTcbTooLow);
  CheckTcbAtLeast(c, "CURRENT_TCB", current, minimum, ErrorCode::kTcbTooLow);
  CheckTcbAtLeast(c, "COMMITTED_TCB", committed, minimum, ErrorCode::kTcbTooLow);
  CheckTcbAtLeast(c, "LAUNCH_TCB", DecodeTcb(report.launch_tcb, product), minimum, ErrorCode::kTcbTooLow);

  // The committed TCB is the anti-rollback floor; it can never be above the
  // running one on genuine firmware.
  CheckTcbAtLeast(c, "CURRENT_TCB", current, committed, ErrorCode::kValidationFailed, "COMMITTED_TCB");
  if (!rv.permit_provisional_firmware) {
    if (report.committed_tcb != report.current_tcb) {
      c.Add(ErrorCode::kTcbTooLow, "COMMITTED_TCB",
            "== CURRENT_TCB " + FormatTcb(current, product) + " (provisional firmware not permitted)",
            FormatTcb(committed, product));
    }
    const auto current_version = std::tuple(report.current_major, report.current_minor, report.current_build);
    const auto committed_version = std::tuple(report.committed_major, report.committed_minor, report.committed_build);
    if (current_version != committed_version) {
      c.Add(ErrorCode::kTcbTooLow, "COMMITTED_VERSION",
            "== current firmware " + FirmwareVersion(report.current_major, report.current_minor, report.current_build) +
                " (provisional firmware not permitted)",
            FirmwareVersion(report.committed_major, report.committed_minor, report.committed_build));
    }
  }
}

void CheckMitigationVectors(const Report& report, uint64_t minimum, Checker& c) {
  if (minimum == 0) return;
  const std::string expected = "all bits of " + Hex64(minimum) + " set";
  if (report.version < 5) {
    // Reports before version 5 carry no mitigation vectors: nothing proves
    // the required mitigations are active.
    const std::string actual = "absent (report version " + std::to_string(report.version) + ")";
    c.Add(ErrorCode::kPolicyViolation, "LAUNCH_MIT_VECTOR", expected, actual);
    c.Add(ErrorCode::kPolicyViolation, "CURRENT_MIT_VECTOR", expected, actual);
    return;
  }
  if ((report.launch_mit_vector & minimum) != minimum) {
    c.Add(ErrorCode::kPolicyViolation, "LAUNCH_MIT_VECTOR", expected,
          Hex64(report.launch_mit_vector) + " (missing " + Hex64(minimum & ~report.launch_mit_vector) + ")");
  }
  if ((report.current_mit_vector & minimum) != minimum) {
    c.Add(ErrorCode::kPolicyViolation, "CURRENT_MIT_VECTOR", expected,
          Hex64(report.current_mit_vector) + " (missing " + Hex64(minimum & ~report.current_mit_vector) + ")");
  }
}

// Everything but the baseline.
void CheckReferenceValues(const Report& report, Product product, const SnpReferenceValues& rv,
                          const ValidateOptions& options, Checker& c) {
  if (product != rv.product) {
    c.Add(ErrorCode::kProductMismatch, "PRODUCT", std::string(ProductName(rv.product)),
          std::string(ProductName(product)));
  }
  if (report.version < rv.minimum_report_version) {
    c.Add(ErrorCode::kValidationFailed, "VERSION", ">= " + std::to_string(rv.minimum_report_version),
          std::to_string(report.version));
  }
  if (report.measurement != rv.trusted_measurement) {
    c.Add(ErrorCode::kMeasurementMismatch, "MEASUREMENT", HexEncode(rv.trusted_measurement),
          HexEncode(report.measurement));
  }
  if (rv.trusted_host_data && report.host_data != *rv.trusted_host_data) {
    c.Add(ErrorCode::kValidationFailed, "HOST_DATA", HexEncode(*rv.trusted_host_data), HexEncode(report.host_data));
  }
  if (!options.allowed_host_data.empty() && !Contains(options.allowed_host_data, report.host_data)) {
    c.Add(ErrorCode::kValidationFailed, "HOST_DATA", OneOf(options.allowed_host_data), HexEncode(report.host_data));
  }
  if (options.expected_report_data && report.report_data != *options.expected_report_data) {
    c.Add(ErrorCode::kValidationFailed, "REPORT_DATA", HexEncode(*options.expected_report_data),
          HexEncode(report.report_data));
  }
  if (!rv.trusted_id_key_digests.empty() && !Contains(rv.trusted_id_key_digests, report.id_key_digest)) {
    c.Add(ErrorCode::kValidationFailed, "ID_KEY_DIGEST", OneOf(rv.trusted_id_key_digests),
          HexEncode(report.id_key_digest));
  }
  if (report.vmpl != rv.required_vmpl) {
    c.Add(ErrorCode::kPolicyViolation, "VMPL", std::to_string(rv.required_vmpl), std::to_string(report.vmpl));
  }
  CheckGuestPolicy(report.Policy(), rv.guest_policy, c);
  CheckPlatformInfo(report.Platform(), rv.platform_info, c);
  // Decode with the verified product; if that is unknown (a mismatch is
  // already recorded), the reference's layout gives the most useful message.
  CheckTcb(report, product != Product::kUnknown ? product : rv.product, rv, c);
  CheckMitigationVectors(report, rv.minimum_mitigation_vector, c);
  if (!rv.allowed_chip_ids.empty() && !Contains(rv.allowed_chip_ids, report.chip_id)) {
    c.Add(ErrorCode::kValidationFailed, "CHIP_ID", OneOf(rv.allowed_chip_ids), HexEncode(report.chip_id));
  }
}

// A report whose revocation was not checked is acceptable only where the
// entry says so.
void CheckRevocation(const VerifiedReport& report, const SnpReferenceValues& rv, Checker& c) {
  const RevocationCheck& revocation = report.revocation();
  if (revocation.checked || rv.allow_missing_revocation_check) return;
  c.Add(ErrorCode::kValidationFailed, "REVOCATION",
        "checked against a current ARK CRL (or AllowMissingRevocationCheck: true)",
        "not checked (" + revocation.detail + ")");
}

void CheckRoot(const VerifiedReport& report, const ValidateOptions& options, Checker& c) {
  if (report.insecure_root() && !options.insecure_accept_non_amd_root) {
    c.Add(ErrorCode::kUntrustedRoot, "ROOT", "an AMD root", report.root_name() + " (not an AMD root)");
  }
}

}  // namespace

std::string Mismatch::Message() const {
  std::string out;
  if (entry) out = "ReferenceValues.snp[" + std::to_string(*entry) + "]: ";
  return out + field + ": expected " + expected + ", got " + actual;
}

std::string ValidationResult::Message() const {
  std::string out;
  for (const Mismatch& m : mismatches) {
    if (!out.empty()) out += '\n';
    out += m.Message();
  }
  return out;
}

Status ValidationResult::ToStatus() const {
  if (ok()) return {};
  ErrorCode code = mismatches.front().code;
  std::string message = "report does not match the reference values: ";
  for (size_t i = 0; i < mismatches.size(); ++i) {
    if (mismatches[i].code != code) code = ErrorCode::kValidationFailed;
    if (i > 0) message += "; ";
    message += mismatches[i].Message();
  }
  return Fail(code, std::move(message));
}

ValidationResult ValidateBaseline(const Report& report) {
  ValidationResult result;
  Checker c(result);
  CheckBaseline(report, c);
  return result;
}

ValidationResult ValidateReport(const Report& report, Product product, const SnpReferenceValues& reference_values,
                                const ValidateOptions& options) {
  ValidationResult result;
  Checker c(result);
  CheckBaseline(report, c);
  CheckReferenceValues(report, product, reference_values, options, c);
  return result;
}

ValidationResult Validate(const VerifiedReport& report, const SnpReferenceValues& reference_values,
                          const ValidateOptions& options) {
  ValidationResult result = ValidateReport(report.report(), report.product(), reference_values, options);
  Checker c(result);
  CheckRevocation(report, reference_values, c);
  CheckRoot(report, options, c);
  return result;
}

namespace {

// `verified`: when set, each entry also decides about an unchecked
// revocation.
ValidationResult ValidateAny(const Report& report, Product product, std::span<const SnpReferenceValues> entries,
                             const ValidateOptions& options, const VerifiedReport* verified) {
  ValidationResult result;
  Checker c(result);
  CheckBaseline(report, c);
  if (entries.empty()) {
    c.Add(ErrorCode::kValidationFailed, "ReferenceValues.snp", "at least one entry", "none");
    return result;
  }
  const bool baseline_ok = result.ok();
  ValidationResult rejected;
  for (size_t i = 0; i < entries.size(); ++i) {
    ValidationResult one;
    Checker entry_checker(one);
    entry_checker.SetEntry(i);
    CheckReferenceValues(report, product, entries[i], options, entry_checker);
    if (verified != nullptr) CheckRevocation(*verified, entries[i], entry_checker);
    if (one.ok() && baseline_ok) {
      one.matched_entry = i;
      return one;
    }
    rejected.mismatches.insert(rejected.mismatches.end(), one.mismatches.begin(), one.mismatches.end());
  }
  result.mismatches.insert(result.mismatches.end(), rejected.mismatches.begin(), rejected.mismatches.end());
  return result;
}

}  // namespace

ValidationResult ValidateAgainstAny(const Report& report, Product product, std::span<const SnpReferenceValues> entries,
                                    const ValidateOptions& options) {
  return ValidateAny(report, product, entries, options, nullptr);
}

ValidationResult ValidateAgainstAny(const VerifiedReport& report, std::span<const SnpReferenceValues> entries,
                                    const ValidateOptions& options) {
  ValidationResult root;
  Checker c(root);
  CheckRoot(report, options, c);
  ValidationResult result = ValidateAny(report.report(), report.product(), entries, options, &report);
  if (!root.ok()) {
    result.matched_entry.reset();
    result.mismatches.insert(result.mismatches.begin(), root.mismatches.begin(), root.mismatches.end());
  }
  return result;
}

}  // namespace contrast::attest::snp
