// What the manifest accepts, in the form attestation verifiers take: the
// bridge between manifest::Manifest and attest::AcceptableReferenceValues.
#pragma once

#include "attest/verifier.h"
#include "manifest/manifest.h"

namespace contrast::attestation_policy {

// For attesting the Coordinator: the manifest's reference values, and
// HOST_DATA must be a policy with Role "coordinator".
attest::AcceptableReferenceValues CoordinatorReferenceValues(const manifest::Manifest& manifest);

// For attesting a workload: the manifest's reference values, and HOST_DATA
// must be one of the manifest's policies (any role).
attest::AcceptableReferenceValues WorkloadReferenceValues(const manifest::Manifest& manifest);

}  // namespace contrast::attestation_policy
