// Setting and reading the manifest (UserAPI.SetManifest, GetLatestTransition,
// GetManifests, GetPolicies), as library calls on plain types; services.h
// adapts them to gRPC.
//
// SetManifest, in order:
//   1. the Coordinator must not be stale                 FAILED_PRECONDITION
//   2. the manifest parses and validates                 INVALID_ARGUMENT, every
//                                                        problem on its own line
//   3. every policy hash has its document in `policies`  INVALID_ARGUMENT naming
//      (key = SHA-256 of the document; extras ignored)   the missing hashes;
//      at most manifest::kMaxPolicies documents, each at
//      most kMaxPolicyDocumentSize, together at most
//      kMaxPolicyBytes                                    INVALID_ARGUMENT
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
//   5. first manifest: a new seed (seed::SeedEngine) and, from it, the
//      history key and the root CA key; the seed is encrypted to every
//      seed-share owner (returned once, never stored). Every manifest: a new
//      mesh CA key. The CA and the sealed CA state (seed/sealed.h, bound to
//      the new transition) are made before anything is stored, then
//      History::Append (the sealed state first, then compare-and-swap on the
//      latest transition), then the new state is published. A crash at any
//      point leaves the store at the old or at the new transition, each with
//      its sealed state. Updates in this process are serialised, so a failed
//      compare-and-swap means another writer changed the store first. A
//      replica of this deployment (its latest record verifies with the same
//      key and extends this Coordinator's history): this Coordinator
//      catches up (Reload) and the update fails with "concurrent update"
//      (ABORTED); nothing of it is stored. Anyone else: the Coordinator
//      turns stale (kDivergedHistoryReason, FAILED_PRECONDITION).
//   Before step 1, SetManifest catches up with the store (Reload), so an
//   update signed on top of what another replica set is authorized against
//   that. GetLatestTransition and the first page of GetManifests catch up
//   too, and turn the Coordinator stale when the stored latest transition no
//   longer verifies or does not extend this Coordinator's history (a fork,
//   or a rollback to an older signed record).
// The manifest is stored and served as the exact bytes received.
//
// Recover (a restarted Coordinator, or one whose store was changed by another
// writer), in order; nothing changes unless every step passes:
//   1. ready and not force                               FAILED_PRECONDITION
//   2. seed and salt sizes                               INVALID_ARGUMENT
//   3. the store has a latest transition                 FAILED_PRECONDITION
//   4. its signature verifies with the history key
//      derived from the seed (wrong seed, or a forged
//      or altered transitions/latest)                    PERMISSION_DENIED
//   5. the whole chain: every transition, manifest and
//      policy document matches its hash                  FAILED_PRECONDITION
//   6. the caller signed RecoverAuthorizationMessage
//      with a SeedshareOwnerPubKeys key of the latest
//      manifest                                          PERMISSION_DENIED
//   7. the sealed CA state of the latest transition
//      opens with the seed's sealing key and holds a
//      consistent CA                                     FAILED_PRECONDITION
// Then the state (same root, same mesh CA, same seed) is published.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "coordinator/metrics.h"
#include "coordinator/state.h"
#include "history/history.h"
#include "manifest/manifest.h"
#include "seed/shares.h"

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
  // First manifest with seed-share owners only.
  std::optional<seed::SeedShareDocument> seed_shares;
};

struct RecoverInput {
  Bytes seed;  // secret
  Bytes salt;
  bool force = false;
  Bytes owner_public_key;  // PKCS#1 DER RSA
  Bytes owner_signature;   // over seed::RecoverAuthorizationMessage
  Bytes coordinator_spki;  // this Coordinator's session TLS key
};

struct RecoverOutput {
  std::string root_ca_pem;
  std::string mesh_ca_pem;
  history::TransitionHash latest_transition{};
  uint64_t generation = 0;
};

// What an update is signed on top of (GetLatestTransition).
struct LatestTransitionInfo {
  // Unset when no manifest is set.
  std::optional<history::TransitionHash> latest_transition;
  history::ManifestHash manifest_hash{};
  std::string root_ca_pem;  // empty without a manifest and while awaiting recovery
  std::string mesh_ca_pem;
  bool awaiting_recovery = false;
  std::string reason;
};

// One page of the history (GetManifests).
struct ManifestPage {
  std::vector<history::HistoryEntry> entries;  // newest first
  bool more = false;                           // older manifests follow
  std::string root_ca_pem;                     // empty while awaiting recovery
  std::string mesh_ca_pem;                     // empty while awaiting recovery
  history::TransitionHash latest_transition{};
  // The Coordinator cannot check the history's signature (no seed); every
  // entry was still checked against the hashes that name it.
  bool awaiting_recovery = false;
  std::string reason;
};

// Step 3's bounds on the documents of one SetManifest, so far: the count,
// each document's size and the total. INVALID_ARGUMENT naming the bound.
Result<void> CheckPolicyDocumentBounds(const std::vector<Bytes>& documents);

// The documents for `manifest`'s policies, one per policy hash in hash order,
// picked from `documents` by their SHA-256.
Result<std::vector<Bytes>> SelectPolicyDocuments(const manifest::Manifest& manifest,
                                                 const std::vector<Bytes>& documents);

// Whether `input` is the signed update that made `current` (its manifest,
// signed for current's latest transition): a client retrying an update whose
// answer it lost, which is answered as the update was, not refused as a
// concurrent one. What it gets back is public (GetLatestTransition's).
bool RetriesLatestUpdate(const State& current, const SetManifestInput& input);

// Step 4 for an update from `current` to `next` (parsed from input.manifest).
Result<void> AuthorizeUpdate(const State& current, const manifest::Manifest& next, const SetManifestInput& input);

class ManifestUpdater {
 public:
  // All references must outlive the updater.
  // Starts awaiting recovery when `store` holds a history. A store that
  // cannot be reached (kUnavailable) is no reason not to start: the updater
  // then knows nothing yet (unreachable_at_open) and the first Reload that
  // reads the store finds out, as it does for a first manifest another
  // replica set.
  static Result<std::unique_ptr<ManifestUpdater>> Open(std::shared_ptr<history::Store> store, StateGuard& guard,
                                                       CoordinatorMetrics& metrics,
                                                       std::shared_ptr<spdlog::logger> logger);

  // Why Open could not read the store, if it could not.
  const std::optional<Error>& unreachable_at_open() const { return unreachable_at_open_; }

  Result<SetManifestOutput> SetManifest(const SetManifestInput& input);

  // Steps 1, 2 and 4 for a request whose policy documents are still to
  // come: refuses an unparsable manifest and an unauthorized update before
  // the Coordinator buffers any more of it. SetManifest checks it all again.
  Result<void> CheckBeforePolicies(const SetManifestInput& input) const;

  // The latest transition, its manifest's hash and the CA certificates. No
  // manifest: an empty answer. While awaiting recovery: the stored latest
  // transition (its signature unchecked) without certificates.
  // FAILED_PRECONDITION when the store no longer ends at this Coordinator's
  // latest transition (the Coordinator turns stale, as below).
  Result<LatestTransitionInfo> GetLatestTransition();

  // One page of the history (history::ReadHistoryPage): from `from`, else
  // from the latest transition, which must then still be this
  // Coordinator's and verify with its key. While awaiting recovery: the
  // stored history, without CA certificates. FAILED_PRECONDITION without a
  // manifest or when the store is inconsistent; NOT_FOUND for a `from` the
  // store does not hold.
  Result<ManifestPage> GetManifests(const std::optional<history::TransitionHash>& from = std::nullopt);

  // The documents of the first `hashes` (32 bytes each, at most
  // history::kMaxPolicyHashesPerRequest), in order, as many as fit
  // history::kMaxPageBytes (at least one). Any document the store holds
  // under its hash: they are public parts of the manifests that were set.
  // NOT_FOUND naming a hash the store does not hold.
  Result<std::vector<Bytes>> GetPolicies(const std::vector<Bytes>& hashes) const;

  Result<RecoverOutput> Recover(const RecoverInput& input);

  // Peer recovery (peer_recovery.h): the seed and salt a ready replica handed
  // over on a session on which both replicas attested. Recover's steps 2 to 5
  // and 7; the peer's attestation stands in for the owner signature (step 6).
  // `peer_latest`, the peer's latest transition: the store must be at it or
  // beyond (FAILED_PRECONDITION otherwise: an older history put back).
  // FAILED_PRECONDITION when this Coordinator is not awaiting recovery.
  Result<RecoverOutput> RecoverFromPeer(ByteView seed, ByteView salt,
                                        const std::optional<history::TransitionHash>& peer_latest = std::nullopt);

  // Replica sync: makes this Coordinator serve the store's latest transition
  // when another replica (same seed) advanced it. kUnchanged when the store
  // ends where this Coordinator is; kReloaded after publishing the store's
  // state (its manifest, policies and sealed CA). A latest transition that
  // does not verify with this deployment's key, or a history that does not
  // extend this Coordinator's (a fork), turns it stale (Diverged). Without a
  // seed (awaiting recovery) nothing is reloaded: kAwaitingRecovery.
  enum class ReloadOutcome { kUnchanged, kReloaded, kAwaitingRecovery };
  Result<ReloadOutcome> Reload();
  // Reload for a request: a store that cannot be reached is also reported to
  // the OnStoreUnreachable handler.
  Result<ReloadOutcome> CatchUp();

  // Called (with the update lock held: it must not call back into the
  // updater) whenever a request finds the store unreachable, which the
  // Coordinator's watch may not have noticed yet (etcd without quorum keeps
  // its watch streams open). Set before serving.
  void OnStoreUnreachable(std::function<void(const Error&)> handler) { on_unreachable_ = std::move(handler); }

 private:
  // A manifest that passed steps 1 to 4, with its policy documents.
  struct Accepted {
    manifest::Manifest manifest;
    std::vector<Bytes> documents;
  };
  Result<Accepted> Accept(const State* current, const SetManifestInput& input) const;
  // Step 5: new CA, history append, publish.
  Result<std::shared_ptr<const State>> Commit(const std::shared_ptr<const State>& current,
                                              const SetManifestInput& input, Accepted accepted,
                                              std::optional<seed::SeedShareDocument>& shares);
  // The latest transition GetManifests and GetLatestTransition serve from:
  // the state's, checked against the store; or, while awaiting recovery, the
  // store's.
  Result<history::TransitionHash> ServedLatest(const State* state) const;
  Result<RecoverOutput> RecoverLocked(const RecoverInput& input);
  // Recover's steps 2 to 5 and 7 with `authorize` as step 6 (given the
  // latest stored manifest), then publishes the state.
  using AuthorizeRecovery =
      std::function<Result<void>(const manifest::Manifest& latest, const history::TransitionHash& transition)>;
  Result<RecoverOutput> RestoreFromStore(ByteView seed, ByteView salt, const AuthorizeRecovery& authorize);
  Result<ReloadOutcome> ReloadLocked();
  // `error`, after telling on_unreachable_ if it is kUnavailable.
  tl::unexpected<Error> Unreachable(const Error& error) const;
  // After a recovery: ReloadLocked, logging a failure (the recovery stands).
  void CatchUpAfterRecovery();
  // How many transitions `descendant` is ahead of `ancestor`, walking back
  // through the store; Diverged when it does not descend from it (a fork, or
  // a rollback to an older record).
  Result<uint64_t> StepsFrom(const history::TransitionHash& ancestor, const history::TransitionHash& descendant) const;
  // A compare-and-swap on transitions/latest lost: catch up, then kConflict.
  tl::unexpected<Error> ConcurrentUpdate();
  void Published(const State& state, size_t policy_count) const;
  // Metrics (and the insecure warning) for a state that is now served.
  void Serving(const State& state) const;
  // The store no longer holds the history this process wrote: stop serving
  // (kDivergedHistoryReason) rather than certify under an outdated manifest.
  tl::unexpected<Error> Diverged(const std::string& detail) const;
  // A failed read of the store: kUnavailable when the store could not be
  // reached or read (try again), Diverged when what it holds does not verify
  // (a missing or altered record).
  tl::unexpected<Error> StoreProblemOrDiverged(const Error& error) const;

  ManifestUpdater(std::shared_ptr<history::Store> store, StateGuard& guard, CoordinatorMetrics& metrics,
                  std::shared_ptr<spdlog::logger> logger);

  std::shared_ptr<history::Store> store_;
  // Signs with the seed's history key: none before the first manifest and
  // while awaiting recovery.
  std::optional<history::History> history_;
  StateGuard& guard_;
  CoordinatorMetrics& metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  // Updates are rare: one at a time keeps "read state, append, publish"
  // atomic within this process. Readers of the history (GetManifests) share
  // it so that the history they walk ends at the state they report.
  mutable std::shared_mutex update_mutex_;
  // A first manifest whose store write had no definite outcome (kUnavailable):
  // the seed it was made under, so that the history it may have started is
  // adopted rather than stranded (ReloadLocked), and its seed shares, for
  // the owner's retry of the same first manifest (SetManifest).
  struct PendingFirst {
    std::shared_ptr<const seed::SeedEngine> engine;
    std::optional<seed::SeedShareDocument> shares;
    Bytes manifest;
  };
  std::optional<PendingFirst> pending_first_;
  std::optional<Error> unreachable_at_open_;
  std::function<void(const Error&)> on_unreachable_;
};

}  // namespace contrast::coordinator
