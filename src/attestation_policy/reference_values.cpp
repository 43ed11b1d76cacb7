#include "attestation_policy/reference_values.h"

namespace contrast::attestation_policy {
namespace {

session::AcceptableReferenceValues Platforms(const manifest::Manifest& manifest) {
  session::AcceptableReferenceValues out;
  out.snp = manifest.reference_values.snp;
  for (const manifest::EmulatedReferenceValues& e : manifest.reference_values.emulated) {
    out.emulated.push_back(session::EmulatedReferenceValues{e.snp, e.root_sha256});
  }
  return out;
}

}  // namespace

session::AcceptableReferenceValues CoordinatorReferenceValues(const manifest::Manifest& manifest) {
  session::AcceptableReferenceValues out = Platforms(manifest);
  for (const manifest::PolicyHash& hash : manifest.CoordinatorPolicyHashes())
    out.allowed_host_data.push_back(hash.bytes);
  return out;
}

session::AcceptableReferenceValues WorkloadReferenceValues(const manifest::Manifest& manifest) {
  session::AcceptableReferenceValues out = Platforms(manifest);
  for (const auto& [hash, entry] : manifest.policies) out.allowed_host_data.push_back(hash.bytes);
  return out;
}

}  // namespace contrast::attestation_policy
