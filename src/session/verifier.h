// Verification (authentic?) and validation (acceptable?) of session evidence.
//
//   "snp"           the report must verify to the pinned AMD roots with the
//                   VCEK/VLEK from the evidence, then match an entry of
//                   AcceptableReferenceValues::snp.
//   "emulated-snp"  the ASK/ARK chain in the evidence becomes a (insecure)
//                   trust anchor only if SHA-256 of the ARK's DER equals the
//                   pinned root of an entry of AcceptableReferenceValues::
//                   emulated; the report must then verify to it and match
//                   one of those entries.
// In both cases REPORT_DATA must equal the expected session binding
// (binding.h) and HOST_DATA must be one of the allowed policy hashes.
// Reference values without an entry for the evidence's platform reject it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "attest/snp/reference_values.h"
#include "attest/snp/trust.h"
#include "attest/snp/verify.h"
#include "common/time.h"
#include "crypto/hash.h"
#include "session/evidence.h"

namespace contrast::session {

// One `ReferenceValues.emulated[]` entry of the manifest: the fields of an SNP
// entry plus the emulated secure processor's root it trusts.
struct EmulatedReferenceValues {
  attest::snp::SnpReferenceValues snp;
  crypto::Sha256Digest root_sha256{};  // EmulatedRootSHA256: SHA-256 of the ARK's DER
};

// What a verifier accepts, taken from the manifest by the caller.
struct AcceptableReferenceValues {
  std::vector<attest::snp::SnpReferenceValues> snp;  // ReferenceValues.snp
  std::vector<EmulatedReferenceValues> emulated;     // ReferenceValues.emulated
  // HOST_DATA must be one of these: the policy hashes the peer may run with
  // (for the Coordinator: its policies with role "coordinator"; for
  // workloads: every policy of the manifest). Must not be empty.
  std::vector<attest::snp::ByteArray<32>> allowed_host_data;
};

// Evidence that passed EvidenceVerifier::Verify. The only way to get one.
class VerifiedEvidence {
 public:
  const std::string& platform() const { return platform_; }
  // The verified report with its product, TCB and endorsement key.
  const attest::snp::VerifiedReport& verified_report() const { return verified_report_; }
  const attest::snp::Report& report() const { return verified_report_.report(); }
  // The peer's policy hash (HOST_DATA): its key into the manifest's Policies.
  const attest::snp::ByteArray<32>& host_data() const { return verified_report_.report().host_data; }
  // True for the emulated platform: NOT a security boundary.
  bool insecure() const { return insecure_; }
  // The accepting entry's index in AcceptableReferenceValues::snp or
  // ::emulated (by platform).
  size_t matched_entry() const { return matched_entry_; }

 private:
  friend class EvidenceVerifier;
  VerifiedEvidence() = default;
  std::string platform_;
  attest::snp::VerifiedReport verified_report_;
  bool insecure_ = false;
  size_t matched_entry_ = 0;
};

// Thread-safe; keeps chain-verification caches, so share one per process.
class EvidenceVerifier {
 public:
  using Clock = std::function<TimePoint()>;

  // With the pinned AMD roots and the current time.
  EvidenceVerifier();
  // `clock` gives the time certificates must be valid at (tests pin it).
  explicit EvidenceVerifier(Clock clock);
  // Other anchors for "snp" (tests).
  EvidenceVerifier(attest::snp::TrustAnchors amd_anchors, Clock clock);
  ~EvidenceVerifier();
  EvidenceVerifier(const EvidenceVerifier&) = delete;
  EvidenceVerifier& operator=(const EvidenceVerifier&) = delete;

  // Failure codes: kParse (malformed evidence), kInvalidArgument (no allowed
  // HOST_DATA given; emulated evidence against reference values that also
  // hold real platforms), kUntrustedRoot (emulated root not pinned), the
  // verification codes of snp::Verifier (kSignatureInvalid,
  // kCertificateInvalid, kCertificateExpired, ...), kValidationFailed
  // (REPORT_DATA not the expected binding; no entry for the platform) and the
  // validation codes (kMeasurementMismatch, kTcbTooLow, kPolicyViolation,
  // kValidationFailed) with every mismatch of every entry in the message.
  Result<VerifiedEvidence> Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                  const AcceptableReferenceValues& reference_values) const;

 private:
  Result<std::shared_ptr<const attest::snp::Verifier>> EmulatedVerifier(const Bytes& ark_der,
                                                                        const Bytes& ask_der) const;

  Clock clock_;
  attest::snp::Verifier amd_;
  mutable std::mutex mutex_;
  // Emulated chains seen so far (pinned roots only), by SHA-256(ARK || ASK).
  mutable std::unordered_map<std::string, std::shared_ptr<const attest::snp::Verifier>> emulated_;
};

}  // namespace contrast::session
