#include "ca/snp_claims.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "crypto/x509_builder.h"

namespace contrast::ca {
namespace {

using attest::snp::Product;
using attest::snp::TcbParts;

// Accumulates extensions and remembers the first encoding failure.
class ClaimList {
 public:
  void Integer(SnpClaim claim, int64_t value) { Add(claim, crypto::EncodeDerInteger(value)); }
  void Boolean(SnpClaim claim, bool value) { Add(claim, crypto::EncodeDerBoolean(value)); }
  void Octets(SnpClaim claim, ByteView value) { Add(claim, crypto::EncodeDerOctetString(value)); }
  // Bootloader, SNP, TEE, microcode: the upstream OID order.
  void Tcb(SnpClaim bootloader, const TcbParts& tcb) {
    const int first = static_cast<int>(bootloader);
    Integer(bootloader, tcb.bootloader);
    Integer(static_cast<SnpClaim>(first + 1), tcb.snp);
    Integer(static_cast<SnpClaim>(first + 2), tcb.tee);
    Integer(static_cast<SnpClaim>(first + 3), tcb.microcode);
  }

  Result<std::vector<crypto::Extension>> Take() {
    if (error_) return Fail(*error_);
    std::sort(extensions_.begin(), extensions_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<crypto::Extension> out;
    out.reserve(extensions_.size());
    for (auto& [claim, extension] : extensions_) out.push_back(std::move(extension));
    return out;
  }

 private:
  void Add(SnpClaim claim, Result<Bytes> value) {
    if (!value) {
      if (!error_) error_ = value.error().Wrap("encoding SNP claim " + SnpClaimOid(claim));
      return;
    }
    extensions_.emplace_back(
        static_cast<int>(claim),
        crypto::Extension{.oid = SnpClaimOid(claim), .critical = false, .value = std::move(*value)});
  }

  std::vector<std::pair<int, crypto::Extension>> extensions_;
  std::optional<Error> error_;
};

}  // namespace

std::string SnpClaimOid(SnpClaim claim) {
  return std::string(kSnpClaimsArc) + "." + std::to_string(static_cast<int>(claim));
}

Result<std::vector<crypto::Extension>> SnpClaimExtensions(const attest::snp::Report& report, Product product) {
  if (product == Product::kUnknown) product = report.ProductFromCpuid();
  const attest::snp::GuestPolicy policy = report.Policy();
  const attest::snp::PlatformInfo platform = report.Platform();
  const attest::snp::SignerInfo signer = report.Signer();

  ClaimList claims;
  claims.Integer(SnpClaim::kVersion, report.version);
  claims.Integer(SnpClaim::kGuestSvn, report.guest_svn);
  claims.Integer(SnpClaim::kPolicyAbiMajor, policy.abi_major);
  claims.Integer(SnpClaim::kPolicyAbiMinor, policy.abi_minor);
  claims.Boolean(SnpClaim::kPolicyDebug, policy.debug);
  claims.Boolean(SnpClaim::kPolicyMigrateMa, policy.migrate_ma);
  claims.Boolean(SnpClaim::kPolicySmt, policy.smt);
  claims.Boolean(SnpClaim::kPolicySingleSocket, policy.single_socket);
  claims.Octets(SnpClaim::kFamilyId, report.family_id);
  claims.Octets(SnpClaim::kImageId, report.image_id);
  claims.Integer(SnpClaim::kVmpl, report.vmpl);
  claims.Tcb(SnpClaim::kCurrentTcbBootloader, attest::snp::DecodeTcb(report.current_tcb, product));
  claims.Boolean(SnpClaim::kPlatformSmtEnabled, platform.smt_enabled);
  claims.Boolean(SnpClaim::kPlatformTsmeEnabled, platform.tsme_enabled);
  claims.Boolean(SnpClaim::kSignerAuthorKeyEn, signer.author_key_en);
  claims.Boolean(SnpClaim::kSignerMaskChipKey, signer.mask_chip_key);
  claims.Integer(SnpClaim::kSignerSigningKey, static_cast<int64_t>(signer.signing_key));
  claims.Octets(SnpClaim::kReportData, report.report_data);
  claims.Octets(SnpClaim::kMeasurement, report.measurement);
  claims.Octets(SnpClaim::kHostData, report.host_data);
  claims.Octets(SnpClaim::kIdKeyDigest, report.id_key_digest);
  claims.Octets(SnpClaim::kAuthorKeyDigest, report.author_key_digest);
  claims.Octets(SnpClaim::kReportId, report.report_id);
  claims.Octets(SnpClaim::kReportIdMa, report.report_id_ma);
  claims.Tcb(SnpClaim::kReportedTcbBootloader, attest::snp::DecodeTcb(report.reported_tcb, product));
  claims.Octets(SnpClaim::kChipId, report.chip_id);
  claims.Tcb(SnpClaim::kCommittedTcbBootloader, attest::snp::DecodeTcb(report.committed_tcb, product));
  claims.Integer(SnpClaim::kCurrentBuild, report.current_build);
  claims.Integer(SnpClaim::kCurrentMinor, report.current_minor);
  claims.Integer(SnpClaim::kCurrentMajor, report.current_major);
  claims.Integer(SnpClaim::kCommittedBuild, report.committed_build);
  claims.Integer(SnpClaim::kCommittedMinor, report.committed_minor);
  claims.Integer(SnpClaim::kCommittedMajor, report.committed_major);
  claims.Tcb(SnpClaim::kLaunchTcbBootloader, attest::snp::DecodeTcb(report.launch_tcb, product));
  return claims.Take();
}

}  // namespace contrast::ca
