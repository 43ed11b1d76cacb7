// Attestation evidence as it travels between peers, and the interface of
// whatever produces it inside a confidential VM (DESIGN.md section 4).
//
// Evidence is untrusted data: a platform tag, the raw report or quote, and
// optionally the endorsement certificates the platform handed out with it.
// Only an attest::Verifier turns it into verified claims.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace contrast::attest {

// Platform tags (Evidence::platform, and the wire's contrast.v1.Evidence).
inline constexpr std::string_view kPlatformSnp = "snp";  // AMD SEV-SNP report
inline constexpr std::string_view kPlatformTdx = "tdx";  // Intel TDX DCAP quote (v4 or v5)
// A report of the emulated secure processor: same format as "snp", signed by
// a key the emulator made up. INSECURE: development, CI and the demo only.
inline constexpr std::string_view kPlatformInsecureEmulatedSnp = "emulated-snp";

// What the attester binds into its evidence: SNP REPORT_DATA, TDX REPORTDATA.
inline constexpr size_t kReportDataSize = 64;
using ReportData = std::array<uint8_t, kReportDataSize>;

// Size limits per field of evidence received from a peer. An SNP report is
// 0x4A0 bytes and a TDX quote about 5 KiB (with its PCK chain); certificates
// and CRLs a few KiB.
inline constexpr size_t kMaxReportSize = 64 * 1024;
inline constexpr size_t kMaxEndorsementKeySize = 64 * 1024;
inline constexpr size_t kMaxCertChainSize = 256 * 1024;
inline constexpr size_t kMaxCrlSize = 2 * 1024 * 1024;

struct Evidence {
  std::string platform;    // one of the kPlatform* tags
  Bytes report;            // SNP report, or TDX quote (with its embedded PCK chain)
  Bytes endorsement_key;   // SNP: VCEK or VLEK (DER or PEM) when the platform supplied it; else empty
  std::string cert_chain;  // SNP: PEM, ASK (or ASVK) then ARK, when supplied; else empty
  Bytes crl;               // ignored by verifiers: they check revocation against CRLs they fetched themselves
};

// Produces evidence of the VM this program runs in, for a given REPORT_DATA.
// Implementations are thread-safe: servers issue for many sessions at once.
class Issuer {
 public:
  virtual ~Issuer() = default;
  // The tag of the evidence this issuer produces.
  virtual std::string_view platform() const = 0;
  virtual Result<Evidence> Issue(const ReportData& report_data) = 0;
};

}  // namespace contrast::attest
