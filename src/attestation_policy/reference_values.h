// What the manifest accepts, in the form the attested-session verifier takes:
// the bridge between manifest::Manifest and session::AcceptableReferenceValues.
#pragma once

#include "manifest/manifest.h"
#include "session/verifier.h"

namespace contrast::attestation_policy {

// For attesting the Coordinator: the manifest's reference values, and
// HOST_DATA must be a policy with Role "coordinator".
session::AcceptableReferenceValues CoordinatorReferenceValues(const manifest::Manifest& manifest);

// For attesting a workload: the manifest's reference values, and HOST_DATA
// must be one of the manifest's policies (any role).
session::AcceptableReferenceValues WorkloadReferenceValues(const manifest::Manifest& manifest);

}  // namespace contrast::attestation_policy
