#include "coordinator/mesh_issuer.h"

#include <vector>

#include "ca/snp_claims.h"

namespace contrast::coordinator {

Result<MeshCertificateBundle> IssueMeshCertificate(const State& state, const attest::VerifiedEvidence& evidence,
                                                   ByteView peer_spki) {
  const manifest::PolicyHash policy_hash{evidence.host_data()};
  const manifest::PolicyEntry* entry = state.manifest.FindPolicy(policy_hash);
  if (entry == nullptr) {
    return Fail(ErrorCode::kValidationFailed, "policy hash " + policy_hash.Hex() + " is not in the manifest");
  }
  // SEV-SNP evidence: its report's claims as extensions (upstream's OIDs).
  // TDX evidence: no platform claims (upstream defines no TDX claim OIDs);
  // the certificate still names the attested policy through its SANs.
  Result<std::vector<crypto::Extension>> claims = std::vector<crypto::Extension>{};
  if (const attest::snp::VerifiedReport* snp = evidence.snp(); snp != nullptr) {
    claims = ca::SnpClaimExtensions(snp->report(), snp->product());
  } else if (evidence.tdx() == nullptr) {
    return Fail(ErrorCode::kUnsupported,
                "mesh certificates for platform \"" + evidence.platform() + "\" are not supported yet");
  }
  if (!claims) return Fail(ErrorCode::kInternal, (claims.error().Wrap("report claims")).message);
  Bytes workload_secret;
  if (!entry->workload_secret_id.empty()) {
    auto secret_id = ca::WorkloadSecretIdExtension(entry->workload_secret_id);
    if (!secret_id) return Fail(ErrorCode::kInternal, (secret_id.error().Wrap("WorkloadSecretID extension")).message);
    claims->push_back(std::move(*secret_id));
    if (!state.seed) return Fail(ErrorCode::kInternal, (Error{ErrorCode::kInternal, "the state has no seed"}).message);
    auto secret = state.seed->WorkloadSecret(entry->workload_secret_id);
    if (!secret) return Fail(ErrorCode::kInternal, (secret.error().Wrap("deriving the workload secret")).message);
    workload_secret = std::move(*secret);
  }
  auto certificate = state.ca.IssueMeshCertificate(peer_spki, entry->sans, *claims);
  if (!certificate) return Fail(certificate.error().Wrap("issuing the mesh certificate"));
  return MeshCertificateBundle{state.ca.mesh_ca_pem(), certificate->chain_pem, state.ca.root_pem(),
                               std::move(workload_secret)};
}

}  // namespace contrast::coordinator
