#include "attestation_policy/reference_values.h"

namespace contrast::attestation_policy {
namespace {

attest::AcceptableReferenceValues Platforms(const manifest::Manifest& manifest) {
  attest::AcceptableReferenceValues out;
  out.snp = manifest.reference_values.snp;
  out.tdx = manifest.reference_values.tdx;
  out.emulated = manifest.reference_values.emulated;
  return out;
}

}  // namespace

attest::AcceptableReferenceValues CoordinatorReferenceValues(const manifest::Manifest& manifest) {
  attest::AcceptableReferenceValues out = Platforms(manifest);
  for (const manifest::PolicyHash& hash : manifest.CoordinatorPolicyHashes())
    out.allowed_host_data.push_back(hash.bytes);
  return out;
}

attest::AcceptableReferenceValues WorkloadReferenceValues(const manifest::Manifest& manifest) {
  attest::AcceptableReferenceValues out = Platforms(manifest);
  for (const auto& [hash, entry] : manifest.policies) out.allowed_host_data.push_back(hash.bytes);
  return out;
}

}  // namespace contrast::attestation_policy
