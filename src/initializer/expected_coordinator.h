// Who the Initializer accepts as its Coordinator: the Coordinator's policy
// digests (its HOST_DATA) and the platform reference values, as `contrast
// generate` writes them into every Initializer it injects, and as the
// Initializer reads them back.
//
// They travel as environment variables of the Initializer container:
//
//   CONTRAST_COORDINATOR_POLICY_HASHES     comma-separated lower-case hex
//                                          SHA-256 policy digests, sorted
//   CONTRAST_COORDINATOR_REFERENCE_VALUES  the manifest's ReferenceValues
//                                          object as compact JSON
//
// The pod's runtime policy pins every variable of the container to its
// exact value, so the host cannot change them; but it only checks the
// variables that are present, so the host could drop them. That is why
// `generate` also puts --require-coordinator-attestation on the
// Initializer's command line (which the policy pins completely): with it,
// missing values are an error instead of an unattested Coordinator.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attest/verifier.h"
#include "common/result.h"
#include "manifest/manifest.h"

namespace contrast::initializer {

inline constexpr const char* kCoordinatorPolicyHashesEnv = "CONTRAST_COORDINATOR_POLICY_HASHES";
inline constexpr const char* kCoordinatorReferenceValuesEnv = "CONTRAST_COORDINATOR_REFERENCE_VALUES";
inline constexpr const char* kRequireCoordinatorAttestationFlag = "--require-coordinator-attestation";

// Bounds on what the variables may hold (they come from a pod spec).
inline constexpr size_t kMaxCoordinatorPolicyHashes = 64;
inline constexpr size_t kMaxCoordinatorReferenceValuesSize = 1 << 20;

struct ExpectedCoordinator {
  std::vector<manifest::PolicyHash> policy_hashes;  // sorted, no duplicates
  // What the Coordinator's evidence is verified against: the reference
  // values, and HOST_DATA one of policy_hashes.
  attest::AcceptableReferenceValues reference_values;
  // True when the reference values trust the emulated platform.
  bool insecure = false;
};

// The two variables for `hashes` (sorted and deduplicated here) and
// `reference_values`, in the order above. Deterministic: equal inputs give
// equal values.
std::vector<std::pair<std::string, std::string>> ExpectedCoordinatorEnv(
    std::vector<manifest::PolicyHash> hashes, const manifest::ReferenceValues& reference_values);

// Parses the two variables' values. The reference values are read by the
// manifest's own parser (the same rules as manifest.json) and turned into
// what the verifier takes by attestation_policy::CoordinatorReferenceValues,
// exactly as `contrast set` and `verify` check the Coordinator.
// kInvalidArgument, naming the variable and every problem: a value that is
// empty or too long, a digest that is not 64 hex characters or is listed
// twice, reference values that do not parse or have no snp or emulated
// entry (tdx cannot be verified yet).
Result<ExpectedCoordinator> ParseExpectedCoordinator(std::string_view policy_hashes, std::string_view reference_values);

// "<hash>, <hash>" for messages.
std::string DescribePolicyHashes(const std::vector<manifest::PolicyHash>& hashes);

}  // namespace contrast::initializer
