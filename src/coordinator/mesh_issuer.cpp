#include "coordinator/mesh_issuer.h"

#include <vector>

#include "ca/snp_claims.h"

namespace contrast::coordinator {

ApiResult<MeshCertificateBundle> IssueMeshCertificate(const State& state, const session::VerifiedEvidence& evidence,
                                                      ByteView peer_spki) {
  const manifest::PolicyHash policy_hash{evidence.host_data()};
  const manifest::PolicyEntry* entry = state.manifest.FindPolicy(policy_hash);
  if (entry == nullptr) {
    return RefusePermission(ErrorCode::kValidationFailed,
                            "policy hash " + policy_hash.Hex() + " is not in the manifest");
  }
  auto claims = ca::SnpClaimExtensions(evidence.report(), evidence.verified_report().product());
  if (!claims) return RefuseInternal(claims.error().Wrap("report claims"));
  if (!entry->workload_secret_id.empty()) {
    auto secret_id = ca::WorkloadSecretIdExtension(entry->workload_secret_id);
    if (!secret_id) return RefuseInternal(secret_id.error().Wrap("WorkloadSecretID extension"));
    claims->push_back(std::move(*secret_id));
  }
  auto certificate = state.ca.IssueMeshCertificate(peer_spki, entry->sans, *claims);
  if (!certificate) return Refuse(certificate.error().Wrap("issuing the mesh certificate"));
  return MeshCertificateBundle{state.ca.mesh_ca_pem(), certificate->chain_pem, state.ca.root_pem()};
}

}  // namespace contrast::coordinator
