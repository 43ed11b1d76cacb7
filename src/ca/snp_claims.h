// The claims of a validated SEV-SNP report as X.509 extensions for the
// workload's mesh certificate, so that a relying workload can read what its
// peer's hardware attested (upstream contrast-upstream.md section 4.4).
//
// OIDs (upstream's, kept for compatibility): 1.3.9901.2.1.<n>, where the arc
// 1.3.9901.2.1 itself is the raw-report OID and never used for a claim.
// Values: integers as DER INTEGER, booleans as DER BOOLEAN, bytes as DER
// OCTET STRING. TCB triples are decomposed per product (Milan/Genoa layout
// unless the product is Turin); Turin's FMC component has no OID and is left
// out, as are fields upstream does not export (signature, CPUID, mitigation
// vectors, other policy / platform-info bits).
//
// Kept in its own library (contrast_ca_claims) so that contrast_ca stays a
// pure X.509 module without attestation dependencies; the Coordinator links
// both.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attest/snp/abi.h"
#include "crypto/x509.h"

namespace contrast::ca {

inline constexpr std::string_view kSnpClaimsArc = "1.3.9901.2.1";

// The last arc of each claim's OID.
enum class SnpClaim : int {
  kVersion = 1,
  kGuestSvn = 2,
  kPolicyAbiMajor = 3,
  kPolicyAbiMinor = 4,
  kPolicyDebug = 5,
  kPolicyMigrateMa = 6,
  kPolicySmt = 7,
  kPolicySingleSocket = 8,
  kFamilyId = 9,
  kImageId = 10,
  kVmpl = 11,
  kCurrentTcbBootloader = 12,
  kCurrentTcbSnp = 13,
  kCurrentTcbTee = 14,
  kCurrentTcbMicrocode = 15,
  kPlatformSmtEnabled = 16,
  kPlatformTsmeEnabled = 17,
  kSignerAuthorKeyEn = 18,
  kSignerMaskChipKey = 19,
  kSignerSigningKey = 20,
  kReportData = 21,
  kMeasurement = 22,
  kHostData = 23,
  kIdKeyDigest = 24,
  kAuthorKeyDigest = 25,
  kReportId = 26,
  kReportIdMa = 27,
  kReportedTcbBootloader = 28,
  kReportedTcbSnp = 29,
  kReportedTcbTee = 30,
  kReportedTcbMicrocode = 31,
  kChipId = 32,
  kCommittedTcbBootloader = 33,
  kCommittedTcbSnp = 34,
  kCommittedTcbTee = 35,
  kCommittedTcbMicrocode = 36,
  kCurrentBuild = 37,
  kCurrentMinor = 38,
  kCurrentMajor = 39,
  kCommittedBuild = 40,
  kCommittedMinor = 41,
  kCommittedMajor = 42,
  kLaunchTcbBootloader = 43,
  kLaunchTcbSnp = 44,
  kLaunchTcbTee = 45,
  kLaunchTcbMicrocode = 46,
};

// "1.3.9901.2.1.<n>".
std::string SnpClaimOid(SnpClaim claim);

// All 46 claims of `report`, in OID order, non-critical. `product` selects
// the TCB layout; kUnknown takes it from the report's CPUID fields (v3+) and
// falls back to the Milan/Genoa layout. Pass VerifiedReport::product().
Result<std::vector<crypto::Extension>> SnpClaimExtensions(
    const attest::snp::Report& report, attest::snp::Product product = attest::snp::Product::kUnknown);

}  // namespace contrast::ca
