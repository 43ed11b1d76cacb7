// Attestation evidence as sessions carry it, and who produces it.
//
// Evidence here is untrusted data: platform tag, raw report, endorsement key
// and optional chain / CRL. Only EvidenceVerifier (verifier.h) turns it into
// VerifiedEvidence.
#pragma once

#include <string>
#include <string_view>

#include "attest/emulated/secure_processor.h"
#include "common/bytes.h"
#include "common/result.h"
#include "session/binding.h"

namespace contrast::v1 {
class Evidence;
}  // namespace contrast::v1

namespace contrast::session {

// Platform tags of Evidence::platform.
inline constexpr std::string_view kPlatformSnp = "snp";
inline constexpr std::string_view kPlatformEmulatedSnp = "emulated-snp";

// Size limits per field of evidence received from a peer. A report is 0x4A0
// bytes; certificates and CRLs a few KiB.
inline constexpr size_t kMaxReportSize = 4096;
inline constexpr size_t kMaxEndorsementKeySize = 64 * 1024;
inline constexpr size_t kMaxCertChainSize = 256 * 1024;
inline constexpr size_t kMaxCrlSize = 2 * 1024 * 1024;

struct Evidence {
  std::string platform;    // kPlatformSnp or kPlatformEmulatedSnp
  Bytes report;            // raw SEV-SNP report
  Bytes endorsement_key;   // VCEK or VLEK, DER (PEM accepted)
  std::string cert_chain;  // PEM: ASK (or ASVK) then ARK
  Bytes crl;               // optional CRL by the ARK, DER or PEM
};

// Conversion to and from the wire message (contrast.v1.Evidence). FromProto
// checks the platform tag and the field size limits; kParse on violation.
void EvidenceToProto(const Evidence& evidence, v1::Evidence* out);
Result<Evidence> EvidenceFromProto(const v1::Evidence& proto);

// Produces evidence of the VM this program runs in, for a given REPORT_DATA.
// Implementations are thread-safe: servers issue for many sessions at once.
class EvidenceIssuer {
 public:
  virtual ~EvidenceIssuer() = default;
  virtual Result<Evidence> Issue(const ReportData& report_data) = 0;
};

// Evidence from the emulated secure processor ("emulated-snp"): the report of
// a registered VM, the emulator's VCEK and its ASK/ARK chain. INSECURE:
// development, CI and the local demo only.
class EmulatedEvidenceIssuer final : public EvidenceIssuer {
 public:
  // `cert_chain_pem`: the emulator's ASK then ARK.
  EmulatedEvidenceIssuer(attest::emulated::VmHandle vm, Bytes vcek_der, std::string cert_chain_pem);
  // For a VM registered with `processor`.
  static EmulatedEvidenceIssuer ForVm(const attest::emulated::SecureProcessor& processor,
                                      attest::emulated::VmHandle vm);

  Result<Evidence> Issue(const ReportData& report_data) override;

 private:
  attest::emulated::VmHandle vm_;
  Bytes vcek_der_;
  std::string cert_chain_pem_;
};

// Real SEV-SNP evidence ("snp") from configfs-tsm. Not implemented yet:
// Issue returns kUnsupported.
class SnpEvidenceIssuer final : public EvidenceIssuer {
 public:
  Result<Evidence> Issue(const ReportData& report_data) override;
};

}  // namespace contrast::session
