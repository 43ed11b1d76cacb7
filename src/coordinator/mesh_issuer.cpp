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
  Bytes workload_secret;
  if (!entry->workload_secret_id.empty()) {
    auto secret_id = ca::WorkloadSecretIdExtension(entry->workload_secret_id);
    if (!secret_id) return RefuseInternal(secret_id.error().Wrap("WorkloadSecretID extension"));
    claims->push_back(std::move(*secret_id));
    if (!state.seed) return RefuseInternal(Error{ErrorCode::kInternal, "the state has no seed"});
    auto secret = state.seed->WorkloadSecret(entry->workload_secret_id);
    if (!secret) return RefuseInternal(secret.error().Wrap("deriving the workload secret"));
    workload_secret = std::move(*secret);
  }
  auto certificate = state.ca.IssueMeshCertificate(peer_spki, entry->sans, *claims);
  if (!certificate) return Refuse(certificate.error().Wrap("issuing the mesh certificate"));
  return MeshCertificateBundle{state.ca.mesh_ca_pem(), certificate->chain_pem, state.ca.root_pem(),
                               std::move(workload_secret)};
}

}  // namespace contrast::coordinator
