// Verification (authentic?) and validation (acceptable?) of attestation
// evidence (evidence.h), for every platform behind one interface.
//
// A Verifier checks that the evidence is signed by a trusted root, that its
// report data is the expected binding, that the peer's HOST_DATA is one of
// the allowed policy hashes and that the report matches an entry of the
// reference values for its platform. Reference values without an entry for
// the evidence's platform reject it.
//
// Implementations: attest::snp::SnpEvidenceVerifier (snp/evidence_verifier.h),
// attest::tdx::TdxEvidenceVerifier (tdx/evidence_verifier.h),
// attest::emulated::InsecureEmulatedVerifier (emulated/evidence_verifier.h),
// and attest::EvidenceVerifier (evidence_verifier.h), which picks one of them
// by the evidence's platform tag: the one programs use.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "attest/emulated/reference_values.h"
#include "attest/evidence.h"
#include "attest/snp/abi.h"
#include "attest/snp/reference_values.h"
#include "attest/snp/verify.h"
#include "attest/tdx/reference_values.h"
#include "attest/tdx/verify.h"
#include "common/result.h"
#include "common/time.h"

namespace contrast::attest {

// What a verifier accepts, taken from the manifest by the caller.
struct AcceptableReferenceValues {
  std::vector<snp::SnpReferenceValues> snp;                         // ReferenceValues.snp
  std::vector<tdx::TdxReferenceValues> tdx;                         // ReferenceValues.tdx
  std::vector<emulated::InsecureEmulatedReferenceValues> emulated;  // ReferenceValues.emulated
  // HOST_DATA must be one of these: the policy hashes the peer may run with
  // (for the Coordinator: its policies with role "coordinator"; for
  // workloads: every policy of the manifest). Must not be empty.
  std::vector<snp::ByteArray<32>> allowed_host_data;
};

// Evidence that passed a Verifier. The only way to get one is through a
// Verifier implementation.
class VerifiedEvidence {
 public:
  // The evidence's platform tag (kPlatform*).
  const std::string& platform() const { return platform_; }
  // The peer's policy hash: SNP HOST_DATA (on TDX, MRCONFIGID[0:32]). Its key
  // into the manifest's Policies.
  const snp::ByteArray<32>& host_data() const { return host_data_; }
  // True for the emulated platform: NOT a security boundary.
  bool insecure() const { return insecure_; }
  // The accepting entry's index in the reference values list of the
  // evidence's platform (AcceptableReferenceValues::snp, ::tdx or
  // ::emulated).
  size_t matched_entry() const { return matched_entry_; }

  // The verified SEV-SNP report with its product, TCB and endorsement key:
  // for "snp" and "emulated-snp" evidence; nullptr on other platforms.
  const snp::VerifiedReport* snp() const { return snp_ ? &*snp_ : nullptr; }
  // The verified TDX quote with its TCB evaluation and PCK certificate: for
  // "tdx" evidence; nullptr on other platforms.
  const tdx::VerifiedQuote* tdx() const { return tdx_ ? &*tdx_ : nullptr; }

 private:
  friend class Verifier;
  VerifiedEvidence() = default;
  std::string platform_;
  snp::ByteArray<32> host_data_{};
  bool insecure_ = false;
  size_t matched_entry_ = 0;
  std::optional<snp::VerifiedReport> snp_;
  std::optional<tdx::VerifiedQuote> tdx_;
};

// Thread-safe: one verifier serves every session of a process.
class Verifier {
 public:
  // The time certificates must be valid at (tests pin it); empty: now.
  using Clock = std::function<TimePoint()>;

  virtual ~Verifier() = default;

  // Failure codes: kParse (malformed evidence; unknown platform),
  // kUnsupported (a platform this verifier does not verify),
  // kInvalidArgument (no allowed HOST_DATA given; emulated evidence against
  // reference values that also hold real platforms), kUntrustedRoot, the
  // verification codes of the platform (kSignatureInvalid,
  // kCertificateInvalid, kCertificateExpired, ...), kValidationFailed
  // (report data not the expected binding; no entry for the platform) and
  // the validation codes (kMeasurementMismatch, kTcbTooLow,
  // kPolicyViolation, kValidationFailed) with every mismatch of every entry
  // in the message.
  virtual Result<VerifiedEvidence> Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                          const AcceptableReferenceValues& reference_values) const = 0;

 protected:
  // For implementations: evidence whose claims are an SEV-SNP report.
  static VerifiedEvidence VerifiedSnpEvidence(std::string platform, snp::VerifiedReport report, bool insecure,
                                              size_t matched_entry);
  // For implementations: evidence whose claims are a TDX quote; HOST_DATA is
  // `policy_digest` (MRCONFIGID[0:32], the rest checked zero by the caller).
  static VerifiedEvidence VerifiedTdxEvidence(std::string platform, tdx::VerifiedQuote quote,
                                              const snp::ByteArray<32>& policy_digest, bool insecure,
                                              size_t matched_entry);
};

}  // namespace contrast::attest
