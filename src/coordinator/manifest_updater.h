// Setting and reading the manifest (UserAPI.SetManifest / GetManifests), as
// library calls on plain types; services.h adapts them to gRPC.
//
// SetManifest, in order:
//   1. the Coordinator must not be stale                 FAILED_PRECONDITION
//   2. the manifest parses and validates                 INVALID_ARGUMENT, every
//                                                        problem on its own line
//   3. every policy hash has its document in `policies`  INVALID_ARGUMENT naming
//      (key = SHA-256 of the document; extras ignored)   the missing hashes
//   4. first manifest: accepted from anyone (whoever reaches the Coordinator
//      first; the owner checks with `verify` afterwards, as upstream).
//      An update (AuthorizeUpdate):
//      - the current manifest lists owner keys          PERMISSION_DENIED
//      - previous_transition_hash, when given, is the
//        current latest transition                       FAILED_PRECONDITION
//      - owner_public_key is listed in the CURRENT
//        manifest and owner_signature verifies over
//        ComputeTransitionHash(ManifestHash(new bytes),
//        current latest transition)                      PERMISSION_DENIED
//      - SeedshareOwnerPubKeys are unchanged             PERMISSION_DENIED
//   5. the new CA (first: a new root and mesh CA; update: the same root with
//      a new mesh CA) is made before anything is stored, then History::Append
//      (compare-and-swap on the latest transition), then the new state is
//      published. Updates in this process are serialised, so a failed
//      compare-and-swap means another writer changed the store: the
//      Coordinator turns stale (kDivergedHistoryReason, FAILED_PRECONDITION).
//      GetManifests does the same when the stored history no longer verifies
//      or no longer ends at this Coordinator's latest transition.
// The manifest is stored and served as the exact bytes received.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "coordinator/api_error.h"
#include "coordinator/metrics.h"
#include "coordinator/state.h"
#include "history/history.h"
#include "manifest/manifest.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace contrast::coordinator {

struct SetManifestInput {
  Bytes manifest;                  // the JSON, exactly as it is to be stored
  std::vector<Bytes> policies;     // policy documents
  Bytes previous_transition_hash;  // empty, or 32 bytes
  Bytes owner_public_key;          // SubjectPublicKeyInfo DER; updates only
  Bytes owner_signature;           // history::SignTransition's format
};

struct SetManifestOutput {
  std::string root_ca_pem;
  std::string mesh_ca_pem;
  history::TransitionHash transition_hash{};
};

struct ManifestHistory {
  std::vector<Bytes> manifests;  // oldest first, exact bytes
  std::vector<Bytes> policies;   // every document referenced by any manifest
  std::string root_ca_pem;
  std::string mesh_ca_pem;
  history::TransitionHash latest_transition{};
};

// The documents for `manifest`'s policies, one per policy hash in hash order,
// picked from `documents` by their SHA-256.
ApiResult<std::vector<Bytes>> SelectPolicyDocuments(const manifest::Manifest& manifest,
                                                    const std::vector<Bytes>& documents);

// Step 4 for an update from `current` to `next` (parsed from input.manifest).
ApiResult<void> AuthorizeUpdate(const State& current, const manifest::Manifest& next, const SetManifestInput& input);

class ManifestUpdater {
 public:
  // All references must outlive the updater.
  ManifestUpdater(history::History& history, StateGuard& guard, CoordinatorMetrics& metrics,
                  std::shared_ptr<spdlog::logger> logger);

  ApiResult<SetManifestOutput> SetManifest(const SetManifestInput& input);

  // The verified history up to the current state, its policies and CA
  // certificates. FAILED_PRECONDITION when stale or without a manifest.
  ApiResult<ManifestHistory> GetManifests() const;

 private:
  // A manifest that passed steps 1 to 4, with its policy documents.
  struct Accepted {
    manifest::Manifest manifest;
    std::vector<Bytes> documents;
  };
  ApiResult<Accepted> Accept(const State* current, const SetManifestInput& input) const;
  // Step 5: new CA, history append, publish.
  ApiResult<std::shared_ptr<const State>> Commit(const std::shared_ptr<const State>& current,
                                                 const SetManifestInput& input, Accepted accepted);
  void Published(const State& state, size_t policy_count) const;
  // The store no longer holds the history this process wrote: stop serving
  // (kDivergedHistoryReason) rather than certify under an outdated manifest.
  tl::unexpected<ApiError> Diverged(const std::string& detail) const;

  history::History& history_;
  StateGuard& guard_;
  CoordinatorMetrics& metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  // Updates are rare: one at a time keeps "read state, append, publish"
  // atomic within this process. Readers of the history (GetManifests) share
  // it so that the history they walk ends at the state they report.
  mutable std::shared_mutex update_mutex_;
};

}  // namespace contrast::coordinator
