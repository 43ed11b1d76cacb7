// Issuing a workload's mesh certificate (MeshAPI.NewMeshCert) once its
// evidence has been verified against the state's manifest.
#pragma once

#include <string>

#include "attest/verifier.h"
#include "common/bytes.h"
#include "coordinator/state.h"

namespace contrast::coordinator {

struct MeshCertificateBundle {
  std::string mesh_ca_pem;     // what workloads trust
  std::string cert_chain_pem;  // leaf, then the intermediate
  std::string root_ca_pem;
  Bytes workload_secret;  // 64 bytes when the entry has a WorkloadSecretID; secret
};

// A certificate for `peer_spki` (the workload's TLS key on the attested
// connection) under `state`'s mesh CA, with the SANs of the policy entry for
// the evidence's HOST_DATA and the claims of the evidence (plus the
// WorkloadSecretID extension when the entry has one), and the workload secret
// for that ID. PERMISSION_DENIED when
// the policy hash is not in the manifest (the verifier normally refuses such
// evidence first).
Result<MeshCertificateBundle> IssueMeshCertificate(const State& state, const attest::VerifiedEvidence& evidence,
                                                   ByteView peer_spki);

}  // namespace contrast::coordinator
