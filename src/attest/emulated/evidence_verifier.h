// The verifier of "emulated-snp" evidence (attest/verifier.h). INSECURE: the
// ASK/ARK chain in the evidence becomes a trust anchor only if SHA-256 of the
// ARK's DER equals the pinned root of an entry of
// AcceptableReferenceValues::emulated; the report must then verify to it,
// carry the expected REPORT_DATA and match one of those entries with an
// allowed HOST_DATA. Reference values that also hold real platforms never
// accept emulated evidence.
//
// Collateral: with a CollateralSource (pointed at an emulated key server,
// tests and development only), evidence without its VCEK gets it from there
// and revocation is checked against that server's CRL, which must be signed
// by the evidence's pinned emulated ARK. Without one, evidence must carry its
// VCEK and revocation is "not checked".
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "attest/snp/collateral.h"
#include "attest/snp/verify.h"
#include "attest/verifier.h"

namespace contrast::attest::emulated {

// Thread-safe; caches the emulated chains it has verified, so share one per
// process.
class InsecureEmulatedVerifier final : public attest::Verifier {
 public:
  // `clock` empty: the current time. `collateral` may be null (see above).
  explicit InsecureEmulatedVerifier(Clock clock = {},
                                    std::shared_ptr<const snp::CollateralSource> collateral = nullptr);
  ~InsecureEmulatedVerifier() override;
  InsecureEmulatedVerifier(const InsecureEmulatedVerifier&) = delete;
  InsecureEmulatedVerifier& operator=(const InsecureEmulatedVerifier&) = delete;

  // kInvalidArgument for evidence of another platform; otherwise the codes
  // of attest::Verifier::Verify.
  Result<VerifiedEvidence> Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                  const AcceptableReferenceValues& reference_values) const override;

 private:
  Result<std::shared_ptr<const snp::Verifier>> ChainVerifier(const Bytes& ark_der, const Bytes& ask_der) const;

  Clock clock_;
  std::shared_ptr<const snp::CollateralSource> collateral_;
  mutable std::mutex mutex_;
  // Emulated chains seen so far (pinned roots only), by SHA-256(ARK || ASK).
  mutable std::unordered_map<std::string, std::shared_ptr<const snp::Verifier>> chains_;
};

}  // namespace contrast::attest::emulated
