// The Coordinator's state: the manifest in force and the CA for it, as an
// immutable snapshot that is replaced, never modified (DESIGN.md section 7).
//
// Handlers take one snapshot at the start of a call and use only it, so a
// call never mixes the manifest of one generation with the CA of another,
// and a concurrent SetManifest cannot change what a running call sees.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "attest/verifier.h"
#include "ca/ca.h"
#include "common/bytes.h"
#include "history/history.h"
#include "manifest/manifest.h"
#include "seed/engine.h"

namespace contrast::coordinator {

// Why a Coordinator that found history in its store at startup refuses to
// serve: its keys come from the seed, which only a seed-share owner can give
// back.
inline constexpr std::string_view kAwaitingRecoveryReason =
    "awaiting recovery: the Coordinator restarted and holds the history of a previous run, but not its seed; a "
    "seed-share owner must run `contrast recover`";
// Why a Coordinator without a manifest stops waiting for one: another replica
// on the same store set it, under a seed only a peer or an owner can hand over.
inline constexpr std::string_view kReplicaNeedsSeedReason =
    "awaiting recovery: another Coordinator replica set the manifest; this one needs the deployment's seed from a "
    "ready peer (--peers, --peers-dns) or from a seed-share owner (`contrast recover`)";
// Why a Coordinator stops serving when the store changes under it.
inline constexpr std::string_view kDivergedHistoryReason =
    "awaiting recovery: the history was changed by another writer; run `contrast recover` to continue from the "
    "stored history";
inline constexpr std::string_view kNoManifestReason = "no manifest set";
// Why a Coordinator stops serving while it cannot see its history store (a
// replica must not certify under a manifest another replica may have
// replaced); it serves again once it has caught up.
inline constexpr std::string_view kStoreUnavailableReason = "the history store is unreachable";

// One manifest generation.
struct State {
  Bytes manifest_bytes;  // exactly as the owner sent them
  manifest::Manifest manifest;
  // What a workload must attest to under this manifest (derived once here
  // rather than in every NewMeshCert call).
  attest::AcceptableReferenceValues workload_reference_values;
  ca::CertificateAuthority ca;
  history::TransitionHash latest_transition{};
  uint64_t generation = 0;  // 1 for the first manifest
  // Every key of this deployment comes from it (the same across manifests).
  std::shared_ptr<const seed::SeedEngine> seed;
};

struct Readiness {
  bool ready = false;
  std::string reason;  // empty when ready
};

// Holds the current snapshot. Thread-safe.
class StateGuard {
 public:
  // The current state: nullptr before the first manifest. Never stale-checked;
  // see Require.
  std::shared_ptr<const State> Current() const;

  // The current state for a call that needs a manifest: FAILED_PRECONDITION
  // with the reason when stale or when no manifest is set.
  Result<std::shared_ptr<const State>> Require() const;

  // Publishes `next` if the current state is still `expected` (nullptr: none
  // yet). False when another update came first.
  bool Publish(const std::shared_ptr<const State>& expected, std::shared_ptr<const State> next);

  // From now on the Coordinator refuses to serve, for `reason`, until
  // Recovered.
  void MarkStale(std::string reason);
  // Serves `state` from now on, whatever was there (recovery).
  void Recovered(std::shared_ptr<const State> state);
  std::optional<std::string> stale_reason() const;

  // The store watch lost the store (`problem`: why) or, with nullopt, caught
  // up again. While lost, Require fails with kUnavailable and the
  // Coordinator is not ready; unlike MarkStale this clears by itself.
  void SetStoreProblem(std::optional<std::string> problem);

  Readiness readiness() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const State> state_;
  std::optional<std::string> stale_reason_;
  std::optional<std::string> store_problem_;
};

}  // namespace contrast::coordinator
