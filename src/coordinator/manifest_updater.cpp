#include "coordinator/manifest_updater.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "attestation_policy/reference_values.h"
#include "coordinator/log.h"
#include "crypto/hash.h"
#include "seed/sealed.h"

namespace contrast::coordinator {
namespace {

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

bool IsZero(ByteView bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Result<manifest::Manifest> ParseNewManifest(const Bytes& bytes) {
  auto parsed = manifest::ParseManifestReportingProblems(AsChars(bytes));
  if (!parsed) return Fail(ErrorCode::kInvalidArgument, "invalid manifest:\n" + Join(parsed.error(), "\n"));
  return std::move(*parsed);
}

// As StateGuard::Require.
tl::unexpected<Error> NoManifest() { return Fail(ErrorCode::kFailedPrecondition, std::string(kNoManifestReason)); }

// How many transitions `descendant` is ahead of `ancestor`, walking back
// through the store (bounded by the longest history); nullopt when it does
// not descend from it. The store's error when a record cannot be read.
Result<std::optional<uint64_t>> StepsBack(history::Store& store, const history::TransitionHash& ancestor,
                                          const history::TransitionHash& descendant) {
  uint64_t steps = 0;
  for (history::TransitionHash at = descendant; at != ancestor; ++steps) {
    if (at == history::kNoPreviousTransition || steps >= history::kDefaultMaxChainLength) {
      return std::optional<uint64_t>();
    }
    auto transition = history::ReadTransition(store, at);
    if (!transition) return Fail(transition.error());
    at = transition->previous_transition_hash;
  }
  return std::optional<uint64_t>(steps);
}

// A first manifest builds on nothing: it may not claim a predecessor.
Result<void> CheckFirstManifest(const SetManifestInput& input) {
  if (IsZero(input.previous_transition_hash)) return {};
  return Fail(ErrorCode::kFailedPrecondition, "previous_transition_hash is " +
                                                  HexEncode(input.previous_transition_hash) +
                                                  ", but no manifest has been set yet");
}

}  // namespace

Result<std::vector<Bytes>> SelectPolicyDocuments(const manifest::Manifest& manifest,
                                                 const std::vector<Bytes>& documents) {
  std::map<crypto::Sha256Digest, const Bytes*> by_hash;
  for (const Bytes& document : documents) by_hash.emplace(crypto::Sha256(document), &document);
  std::vector<Bytes> selected;
  std::vector<std::string> missing;
  for (const auto& [hash, entry] : manifest.policies) {
    const auto it = by_hash.find(hash.bytes);
    if (it == by_hash.end()) {
      missing.push_back(hash.Hex());
    } else {
      selected.push_back(*it->second);
    }
  }
  if (!missing.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "policies: no document for the manifest's policy hash(es) " +
                                                 Join(missing, ", ") + " (a document is found by its SHA-256)");
  }
  return selected;
}

Result<void> CheckPolicyDocumentBounds(const std::vector<Bytes>& documents) {
  if (documents.size() > manifest::kMaxPolicies) {
    return Fail(ErrorCode::kInvalidArgument, "policies: " + std::to_string(documents.size()) + " documents, at most " +
                                                 std::to_string(manifest::kMaxPolicies) + " are allowed");
  }
  size_t total = 0;
  for (const Bytes& document : documents) {
    if (document.size() > manifest::kMaxPolicyDocumentSize) {
      return Fail(ErrorCode::kInvalidArgument, "policies: the document with SHA-256 " +
                                                   HexEncode(crypto::Sha256(document)) + " is " +
                                                   std::to_string(document.size()) + " bytes, at most " +
                                                   std::to_string(manifest::kMaxPolicyDocumentSize) + " are allowed");
    }
    total += document.size();
  }
  if (total > manifest::kMaxPolicyBytes) {
    return Fail(ErrorCode::kInvalidArgument, "policies: " + std::to_string(total) + " bytes of documents, at most " +
                                                 std::to_string(manifest::kMaxPolicyBytes) +
                                                 " are allowed in one update");
  }
  return {};
}

bool RetriesLatestUpdate(const State& current, const SetManifestInput& input) {
  if (input.owner_signature.empty() || input.manifest != current.manifest_bytes) return false;
  if (!input.previous_transition_hash.empty()) {
    // --atomic: the update named the transition it replaced.
    history::TransitionHash previous{};
    if (input.previous_transition_hash.size() != previous.size()) return false;
    std::copy(input.previous_transition_hash.begin(), input.previous_transition_hash.end(), previous.begin());
    if (history::ComputeTransitionHash(manifest::ManifestHash(input.manifest), previous) != current.latest_transition) {
      return false;
    }
  }
  auto root_key = history::RootKeyDigestOf(current.ca.root());
  return root_key && history::VerifyTransitionSignature(input.owner_public_key, *root_key, current.latest_transition,
                                                        input.owner_signature);
}

Result<void> AuthorizeUpdate(const State& current, const manifest::Manifest& next, const SetManifestInput& input) {
  const manifest::Manifest& in_force = current.manifest;
  if (in_force.workload_owner_key_digests.empty()) {
    return Fail(ErrorCode::kPolicyViolation,
                "manifest updates are disabled: the current manifest lists no workload owner keys");
  }
  if (!input.previous_transition_hash.empty() &&
      !std::equal(input.previous_transition_hash.begin(), input.previous_transition_hash.end(),
                  current.latest_transition.begin(), current.latest_transition.end())) {
    return Fail(ErrorCode::kFailedPrecondition,
                "concurrent update: previous_transition_hash " + HexEncode(input.previous_transition_hash) +
                    " is not the latest transition " + HexEncode(current.latest_transition) +
                    ": the manifest changed since this update was prepared");
  }
  if (input.owner_public_key.empty() || input.owner_signature.empty()) {
    return Fail(ErrorCode::kSignatureInvalid,
                "the manifest update is not signed: owner_public_key and owner_signature are required "
                "to replace the current manifest");
  }
  if (!in_force.HasWorkloadOwnerKey(input.owner_public_key)) {
    return Fail(ErrorCode::kSignatureInvalid, "owner_public_key (SHA-256 " +
                                                  HexEncode(crypto::Sha256(input.owner_public_key)) +
                                                  ") is not a workload owner key of the current manifest");
  }
  const history::TransitionHash transition =
      history::ComputeTransitionHash(manifest::ManifestHash(input.manifest), current.latest_transition);
  // The signature names this deployment (its root key), so one made for
  // another Coordinator at the same transition does not authorize anything
  // here.
  auto root_key = history::RootKeyDigestOf(current.ca.root());
  if (!root_key) return Fail(ErrorCode::kInternal, (root_key.error()).message);
  if (auto ok =
          history::VerifyTransitionSignature(input.owner_public_key, *root_key, transition, input.owner_signature);
      !ok) {
    return Fail(ErrorCode::kSignatureInvalid,
                "owner_signature does not authorize the transition " + HexEncode(transition) +
                    " (from the latest transition " + HexEncode(current.latest_transition) +
                    ") at this Coordinator; if the manifest changed after the update was signed (a concurrent "
                    "update), sign it again: " +
                    ok.error().message);
  }
  if (next.seedshare_owner_pub_keys != in_force.seedshare_owner_pub_keys) {
    return Fail(ErrorCode::kPolicyViolation, "SeedshareOwnerPubKeys cannot change after the first manifest");
  }
  return {};
}

namespace {

// The mesh CA key and the CA certificates, sealed to the signed latest
// record they are stored with (history::SealedStateBinding).
Result<Bytes> SealCaState(const seed::SeedEngine& engine, const history::LatestTransition& latest,
                          const ca::CertificateAuthority& ca) {
  auto key = ca.mesh_ca_key().ToPkcs8Der();
  if (!key) return Fail(key.error());
  seed::SealedCaState state{std::move(*key), ca.root().Der(), ca.intermediate().Der(), ca.mesh_ca().Der()};
  Bytes plaintext = seed::EncodeSealedCaState(state);
  auto sealed =
      seed::Seal(engine.sealing_key(), seed::kSealedCaPurpose, history::SealedStateBinding(latest), plaintext);
  OPENSSL_cleanse(plaintext.data(), plaintext.size());
  OPENSSL_cleanse(state.mesh_ca_key_pkcs8.data(), state.mesh_ca_key_pkcs8.size());
  return sealed;
}

// The CA stored with `latest` (verified by the caller), from its sealed state.
Result<ca::CertificateAuthority> OpenCaState(history::Store& store, const seed::SeedEngine& engine,
                                             const history::LatestTransition& latest) {
  const crypto::Sha256Digest binding = history::SealedStateBinding(latest);
  const std::string key = history::SealedStateKey(binding);
  auto record = history::ReadSealed(store, binding);
  if (!record) return Fail(record.error());
  if (!record->has_value()) return Fail(ErrorCode::kNotFound, key + " is missing from the history store");
  auto plaintext = seed::Open(engine.sealing_key(), seed::kSealedCaPurpose, binding, **record);
  if (!plaintext) return Fail(plaintext.error().Wrap(key));
  auto state = seed::DecodeSealedCaState(*plaintext);
  OPENSSL_cleanse(plaintext->data(), plaintext->size());
  if (!state) return Fail(state.error().Wrap(key));
  auto mesh_ca_key = crypto::PrivateKey::FromPkcs8Der(state->mesh_ca_key_pkcs8);
  OPENSSL_cleanse(state->mesh_ca_key_pkcs8.data(), state->mesh_ca_key_pkcs8.size());
  if (!mesh_ca_key) return Fail(mesh_ca_key.error().Wrap(key + ": the mesh CA key"));
  auto restored =
      ca::CertificateAuthority::Restore(engine.root_ca_key().Share(), state->root_certificate, std::move(*mesh_ca_key),
                                        state->intermediate_certificate, state->mesh_ca_certificate);
  if (!restored) return Fail(restored.error().Wrap(key));
  return restored;
}

// Every policy document the manifests of `entries` reference, each once,
// checked against its hash.
Result<std::vector<Bytes>> ReferencedPolicies(history::Store& store,
                                              const std::vector<history::HistoryEntry>& entries) {
  std::vector<Bytes> policies;
  std::set<manifest::PolicyHash> seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto parsed = manifest::ParseManifest(AsChars(entries[i].manifest));
    if (!parsed) return Fail(parsed.error().Wrap("manifest " + std::to_string(i) + " of the history"));
    for (const auto& [hash, policy] : parsed->policies) {
      if (!seen.insert(hash).second) continue;
      auto document = history::ReadPolicy(store, hash.bytes);
      if (!document) return Fail(document.error());
      policies.push_back(std::move(*document));
    }
  }
  return policies;
}

}  // namespace

ManifestUpdater::ManifestUpdater(std::shared_ptr<history::Store> store, StateGuard& guard, CoordinatorMetrics& metrics,
                                 std::shared_ptr<spdlog::logger> logger)
    : store_(std::move(store)), guard_(guard), metrics_(metrics), logger_(std::move(logger)) {}

Result<std::unique_ptr<ManifestUpdater>> ManifestUpdater::Open(std::shared_ptr<history::Store> store, StateGuard& guard,
                                                               CoordinatorMetrics& metrics,
                                                               std::shared_ptr<spdlog::logger> logger) {
  if (!store) return Fail(ErrorCode::kInvalidArgument, "history store is null");
  auto exists = store->Has(history::kLatestKey);
  if (!exists && exists.error().code != ErrorCode::kUnavailable) {
    return Fail(exists.error().Wrap("looking for a history"));
  }
  std::unique_ptr<ManifestUpdater> updater(new ManifestUpdater(std::move(store), guard, metrics, std::move(logger)));
  if (!exists) {
    updater->unreachable_at_open_ = exists.error().Wrap("looking for a history");
  } else if (*exists) {
    guard.MarkStale(std::string(kAwaitingRecoveryReason));
    metrics.awaiting_recovery.Set(1);
    updater->logger_->warn("event=awaiting_recovery msg={}",
                           LogValue(std::string(kAwaitingRecoveryReason) + "; the history is left untouched"));
  }
  return updater;
}

Result<SetManifestOutput> ManifestUpdater::SetManifest(const SetManifestInput& input) {
  std::unique_lock lock(update_mutex_);
  // Another replica may have moved on since the watch last looked: an update
  // is authorized against the store's latest manifest, not an older one.
  if (auto caught_up = ReloadLocked(); !caught_up) return Unreachable(caught_up.error());
  const std::shared_ptr<const State> current = guard_.Current();
  if (pending_first_ && current) {
    // The owner retries the first manifest whose answer was lost, and the
    // store has it: answer as the first attempt would have (seed shares
    // included, which are only ever returned here).
    const bool retried = current->generation == 1 && current->manifest_bytes == input.manifest &&
                         pending_first_->manifest == input.manifest && input.owner_signature.empty();
    std::optional<seed::SeedShareDocument> shares = pending_first_->shares;
    pending_first_.reset();
    if (retried) {
      return SetManifestOutput{current->ca.root_pem(), current->ca.mesh_ca_pem(), current->latest_transition,
                               std::move(shares)};
    }
  }
  if (current && RetriesLatestUpdate(*current, input)) {
    // The client lost the answer (and retried) to an update the store took.
    logger_->info("event=set_manifest_retry_answered transition={}", HexEncode(current->latest_transition));
    return SetManifestOutput{current->ca.root_pem(), current->ca.mesh_ca_pem(), current->latest_transition,
                             std::nullopt};
  }
  auto accepted = Accept(current.get(), input);
  if (!accepted) return tl::unexpected(accepted.error());
  std::optional<seed::SeedShareDocument> shares;
  auto state = Commit(current, input, std::move(*accepted), shares);
  if (!state) return tl::unexpected(state.error());
  return SetManifestOutput{(*state)->ca.root_pem(), (*state)->ca.mesh_ca_pem(), (*state)->latest_transition,
                           std::move(shares)};
}

Result<ManifestUpdater::Accepted> ManifestUpdater::Accept(const State* current, const SetManifestInput& input) const {
  if (auto stale = guard_.stale_reason()) return Fail(ErrorCode::kFailedPrecondition, *stale);
  if (!input.previous_transition_hash.empty() && input.previous_transition_hash.size() != 32) {
    return Fail(ErrorCode::kInvalidArgument, "previous_transition_hash: expected 32 bytes or none, got " +
                                                 std::to_string(input.previous_transition_hash.size()));
  }
  auto next = ParseNewManifest(input.manifest);
  if (!next) return tl::unexpected(next.error());
  if (auto bounded = CheckPolicyDocumentBounds(input.policies); !bounded) return tl::unexpected(bounded.error());
  auto documents = SelectPolicyDocuments(*next, input.policies);
  if (!documents) return tl::unexpected(documents.error());
  auto authorized = current ? AuthorizeUpdate(*current, *next, input) : CheckFirstManifest(input);
  if (!authorized) return tl::unexpected(authorized.error());
  return Accepted{std::move(*next), std::move(*documents)};
}

Result<void> ManifestUpdater::CheckBeforePolicies(const SetManifestInput& input) const {
  if (auto stale = guard_.stale_reason()) return Fail(ErrorCode::kFailedPrecondition, *stale);
  auto next = ParseNewManifest(input.manifest);
  if (!next) return tl::unexpected(next.error());
  if (auto bounded = CheckPolicyDocumentBounds(input.policies); !bounded) return tl::unexpected(bounded.error());
  const std::shared_ptr<const State> current = guard_.Current();
  if (current && RetriesLatestUpdate(*current, input)) return {};
  return current ? AuthorizeUpdate(*current, *next, input) : CheckFirstManifest(input);
}

Result<std::shared_ptr<const State>> ManifestUpdater::Commit(const std::shared_ptr<const State>& current,
                                                             const SetManifestInput& input, Accepted accepted,
                                                             std::optional<seed::SeedShareDocument>& shares) {
  // Keys, CA, seed shares and sealed state first: if any cannot be made,
  // nothing has been stored yet.
  std::shared_ptr<const seed::SeedEngine> engine = current ? current->seed : nullptr;
  std::optional<history::History> first_history;
  if (!engine) {
    auto generated = seed::SeedEngine::Generate();
    if (!generated) return Fail(ErrorCode::kInternal, (generated.error().Wrap("drawing the seed")).message);
    engine = std::move(*generated);
    auto created = history::History::Create(store_, engine->history_signing_key().Share());
    if (!created) return Fail(ErrorCode::kInternal, (created.error().Wrap("opening the history")).message);
    first_history.emplace(std::move(*created));
    if (!accepted.manifest.seedshare_owner_pub_keys.empty()) {
      auto document =
          seed::EncryptSeedShares(engine->seed(), engine->salt(), accepted.manifest.seedshare_owner_pub_keys);
      if (!document) return Fail(document.error().Wrap("encrypting the seed to the seed-share owners"));
      shares = std::move(*document);
    }
  }
  auto ca = current ? current->ca.Rotate() : ca::CertificateAuthority::Create(engine->root_ca_key().Share());
  if (!ca) return Fail(ErrorCode::kInternal, (ca.error().Wrap("creating the mesh CA")).message);
  const history::TransitionHash previous = current ? current->latest_transition : history::kNoPreviousTransition;
  const history::SealState seal = [&](const history::LatestTransition& record) {
    return SealCaState(*engine, record, *ca);
  };
  history::History& history = first_history ? *first_history : *history_;
  auto latest =
      history.Append(input.manifest, accepted.documents, current ? std::optional(previous) : std::nullopt, seal);
  if (!latest) {
    // update_mutex_ rules out a writer in this process: another replica
    // moved the history first. Catch up with it (or, if it is not a replica
    // of this deployment, stop serving) and let the owner decide again.
    if (history::IsConcurrentUpdate(latest.error())) return ConcurrentUpdate();
    if (first_history && latest.error().code == ErrorCode::kUnavailable) {
      // The store may have taken the first manifest without our hearing of
      // it. Its seed exists only here: keep it, so that the history it
      // signed is adopted once the store answers (ReloadLocked) instead of
      // being left to a seed nobody has.
      pending_first_ = PendingFirst{engine, shares, input.manifest};
    }
    // The store could not be reached (etcd without quorum, a cut link): the
    // owner may try again; nothing was published.
    if (latest.error().code == ErrorCode::kUnavailable) return Unreachable(latest.error().Wrap("storing the manifest"));
    return Fail(ErrorCode::kInternal, (latest.error().Wrap("storing the manifest")).message);
  }
  if (first_history) history_.emplace(std::move(*first_history));
  attest::AcceptableReferenceValues workloads = attestation_policy::WorkloadReferenceValues(accepted.manifest);
  auto state = std::make_shared<const State>(State{input.manifest, std::move(accepted.manifest), std::move(workloads),
                                                   std::move(*ca), latest->transition_hash,
                                                   current ? current->generation + 1 : 1, engine});
  // Cannot fail while update_mutex_ is held: only SetManifest publishes.
  if (!guard_.Publish(current, state))
    return Fail(ErrorCode::kFailedPrecondition, "the state changed during the update");
  Published(*state, accepted.documents.size());
  return state;
}

void ManifestUpdater::Published(const State& state, size_t policy_count) const {
  logger_->info("event=manifest_set generation={} transition={} manifest_sha256={} policies={} insecure={}",
                state.generation, HexEncode(state.latest_transition),
                HexEncode(manifest::ManifestHash(state.manifest_bytes)), policy_count, state.manifest.insecure());
  Serving(state);
}

void ManifestUpdater::Serving(const State& state) const {
  metrics_.manifest_generation.Set(static_cast<int64_t>(state.generation));
  metrics_.ready.Set(1);
  metrics_.awaiting_recovery.Set(0);
  if (state.manifest.insecure()) {
    logger_->warn("event=insecure_manifest generation={} msg={}", state.generation,
                  LogValue("INSECURE: the manifest trusts the emulated secure processor; attestation under it "
                           "proves nothing. For development, CI and demos only."));
  }
}

tl::unexpected<Error> ManifestUpdater::ConcurrentUpdate() {
  auto reloaded = ReloadLocked();
  if (!reloaded) return tl::unexpected(reloaded.error());
  const std::shared_ptr<const State> now = guard_.Current();
  return Fail(ErrorCode::kConflict,
              "concurrent update: another Coordinator replica changed the manifest first (the latest transition is "
              "now " +
                  (now ? HexEncode(now->latest_transition) : std::string("unknown")) +
                  "); nothing was stored. Review the current manifest and sign the update again");
}

tl::unexpected<Error> ManifestUpdater::StoreProblemOrDiverged(const Error& error) const {
  switch (error.code) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
    case ErrorCode::kIo: return Fail(ErrorCode::kUnavailable, error.message);
    default: return Diverged(error.message);
  }
}

tl::unexpected<Error> ManifestUpdater::Diverged(const std::string& detail) const {
  guard_.MarkStale(std::string(kDivergedHistoryReason));
  metrics_.awaiting_recovery.Set(1);
  logger_->error("event=history_diverged msg={} detail={}", LogValue(kDivergedHistoryReason), LogValue(detail));
  return Fail(ErrorCode::kFailedPrecondition, std::string(kDivergedHistoryReason) + ": " + detail);
}

Result<history::TransitionHash> ManifestUpdater::ServedLatest(const State* state) const {
  if (const auto reason = guard_.stale_reason(); reason || !state) {
    if (!reason) return NoManifest();
    auto latest = history::ReadLatestUnverified(*store_);
    if (!latest)
      return Fail(ErrorCode::kFailedPrecondition,
                  *reason + "; the stored history cannot be read: " + latest.error().message);
    if (!latest->has_value()) return Fail(ErrorCode::kFailedPrecondition, *reason + "; the store holds no history");
    return (*latest)->transition_hash;
  }
  auto latest = history_->Latest();
  if (!latest && latest.error().code == ErrorCode::kSignatureInvalid) return Diverged(latest.error().message);
  if (!latest) return StoreProblemOrDiverged(latest.error().Wrap("reading the latest transition"));
  if (!latest->has_value()) return Diverged("transitions/latest disappeared from the store");
  if ((*latest)->transition_hash != state->latest_transition) {
    // Another replica moved on after this call caught up: serve this
    // Coordinator's consistent view (the watch reloads), but never one the
    // store does not extend.
    if (auto steps = StepsFrom(state->latest_transition, (*latest)->transition_hash); !steps) {
      return tl::unexpected(steps.error());
    }
  }
  return state->latest_transition;
}

Result<LatestTransitionInfo> ManifestUpdater::GetLatestTransition() {
  if (auto caught_up = CatchUp(); !caught_up) return tl::unexpected(caught_up.error());
  std::shared_lock lock(update_mutex_);
  const std::shared_ptr<const State> state = guard_.Current();
  const std::optional<std::string> stale = guard_.stale_reason();
  if (!state && !stale) return LatestTransitionInfo{};
  auto latest = ServedLatest(stale ? nullptr : state.get());
  if (!latest) return tl::unexpected(latest.error());
  LatestTransitionInfo out;
  out.latest_transition = *latest;
  if (stale) {
    auto transition = history::ReadTransition(*store_, *latest);
    if (!transition)
      return Fail(ErrorCode::kFailedPrecondition,
                  *stale + "; the stored history is inconsistent: " + transition.error().message);
    out.manifest_hash = transition->manifest_hash;
    out.awaiting_recovery = true;
    out.reason = *stale;
    return out;
  }
  out.manifest_hash = manifest::ManifestHash(state->manifest_bytes);
  out.root_ca_pem = state->ca.root_pem();
  out.mesh_ca_pem = state->ca.mesh_ca_pem();
  return out;
}

Result<ManifestPage> ManifestUpdater::GetManifests(const std::optional<history::TransitionHash>& from) {
  if (!from) {
    if (auto caught_up = CatchUp(); !caught_up) return tl::unexpected(caught_up.error());
  }
  std::shared_lock lock(update_mutex_);
  const std::optional<std::string> stale = guard_.stale_reason();
  const std::shared_ptr<const State> state = stale ? nullptr : guard_.Current();
  if (!stale && !state) return NoManifest();
  auto latest = ServedLatest(state.get());
  if (!latest) return tl::unexpected(latest.error());
  // A later page starts wherever the client's walk has got to: any
  // transition the store holds, read as the first page is, against the hash
  // that names it. The client checks the whole chain against the latest
  // transition of its first page.
  auto page = history::ReadHistoryPage(*store_, from.value_or(*latest));
  if (!page) {
    const std::string where = from ? "the history from transition " + HexEncode(*from) : "the history";
    if (page.error().code == ErrorCode::kNotFound && from) return Fail(page.error().Wrap(where));
    if (stale)
      return Fail(ErrorCode::kFailedPrecondition,
                  *stale + "; the stored history is inconsistent: " + page.error().message);
    return Fail(ErrorCode::kInternal, (page.error().Wrap("reading " + where)).message);
  }
  ManifestPage out;
  out.entries = std::move(page->entries);
  out.more = page->more;
  out.latest_transition = *latest;
  if (stale) {
    out.awaiting_recovery = true;
    out.reason = *stale;
  } else {
    out.root_ca_pem = state->ca.root_pem();
    out.mesh_ca_pem = state->ca.mesh_ca_pem();
  }
  return out;
}

Result<std::vector<Bytes>> ManifestUpdater::GetPolicies(const std::vector<Bytes>& hashes) const {
  if (hashes.size() > history::kMaxPolicyHashesPerRequest) {
    return Fail(ErrorCode::kInvalidArgument, "policy_hashes: " + std::to_string(hashes.size()) + " hashes, at most " +
                                                 std::to_string(history::kMaxPolicyHashesPerRequest) + " per request");
  }
  std::vector<Bytes> documents;
  size_t bytes = 0;
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (hashes[i].size() != sizeof(history::PolicyHash)) {
      return Fail(ErrorCode::kInvalidArgument, "policy_hashes[" + std::to_string(i) + "]: expected 32 bytes, got " +
                                                   std::to_string(hashes[i].size()));
    }
    history::PolicyHash hash{};
    std::copy(hashes[i].begin(), hashes[i].end(), hash.begin());
    auto document = history::ReadPolicy(*store_, hash);
    if (!document && document.error().code == ErrorCode::kNotFound) return Fail(document.error());
    if (!document) return Fail(ErrorCode::kInternal, (document.error()).message);
    if (!documents.empty() && bytes + document->size() > history::kMaxPageBytes) break;
    bytes += document->size();
    documents.push_back(std::move(*document));
  }
  return documents;
}

Result<RecoverOutput> ManifestUpdater::Recover(const RecoverInput& input) {
  std::unique_lock lock(update_mutex_);
  auto recovered = RecoverLocked(input);
  if (recovered) CatchUpAfterRecovery();
  if (recovered) {
    metrics_.recoveries.Increment("ok");
    logger_->info("event=recovered generation={} transition={} force={}", recovered->generation,
                  HexEncode(recovered->latest_transition), input.force);
    Serving(*guard_.Current());
  } else {
    metrics_.recoveries.Increment(std::string(ErrorCodeName(recovered.error().code)));
    logger_->warn("event=recovery_refused reason={} error={}", ErrorCodeName(recovered.error().code),
                  LogValue(recovered.error().message));
  }
  return recovered;
}

Result<RecoverOutput> ManifestUpdater::RecoverLocked(const RecoverInput& input) {
  const std::shared_ptr<const State> current = guard_.Current();
  if (current && !guard_.stale_reason() && !input.force) {
    return Fail(ErrorCode::kFailedPrecondition,
                "the Coordinator is ready (manifest generation " + std::to_string(current->generation) +
                    ", transition " + HexEncode(current->latest_transition) +
                    "); recovering would replace its state with the stored history's: use --force");
  }
  const AuthorizeRecovery authorize = [&](const manifest::Manifest& latest,
                                          const history::TransitionHash&) -> Result<void> {
    const auto& owners = latest.seedshare_owner_pub_keys;
    if (owners.empty()) {
      return Fail(ErrorCode::kPolicyViolation,
                  "the latest manifest names no seed-share owners (SeedshareOwnerPubKeys is empty)");
    }
    if (std::find(owners.begin(), owners.end(), input.owner_public_key) == owners.end()) {
      return Fail(ErrorCode::kPolicyViolation,
                  "owner_public_key is not one of the latest manifest's SeedshareOwnerPubKeys");
    }
    const Bytes message =
        seed::RecoverAuthorizationMessage(input.coordinator_spki, input.seed, input.salt, input.force);
    if (auto ok = seed::VerifyOwnerSignature(input.owner_public_key, message, input.owner_signature); !ok) {
      return Fail(ErrorCode::kSignatureInvalid,
                  "owner_signature does not authorize this recovery: " + ok.error().message);
    }
    return {};
  };
  return RestoreFromStore(input.seed, input.salt, authorize);
}

Result<RecoverOutput> ManifestUpdater::RestoreFromStore(ByteView seed_bytes, ByteView salt,
                                                        const AuthorizeRecovery& authorize) {
  auto engine = seed::SeedEngine::FromSeed(seed_bytes, salt);
  if (!engine) return Fail(ErrorCode::kInvalidArgument, engine.error().message);

  auto stored = history::ReadLatestUnverified(*store_);
  if (!stored)
    return Fail(ErrorCode::kFailedPrecondition, "transitions/latest cannot be read: " + stored.error().message);
  if (!stored->has_value())
    return Fail(ErrorCode::kFailedPrecondition, "nothing to recover: the history store is empty");
  auto history = history::History::Create(store_, (*engine)->history_signing_key().Share());
  if (!history) return Fail(ErrorCode::kInternal, (history.error().Wrap("opening the history")).message);
  auto latest = history->Latest();
  if (!latest && latest.error().code == ErrorCode::kSignatureInvalid) {
    return Fail(ErrorCode::kSignatureInvalid,
                "the seed does not belong to this history: the signature on transitions/latest "
                "(transition " +
                    HexEncode((*stored)->transition_hash) +
                    ") does not verify with the history key derived from it (the seed of another "
                    "deployment, or transitions/latest was altered)");
  }
  if (!latest) return Fail(ErrorCode::kFailedPrecondition, "transitions/latest: " + latest.error().message);
  if (!latest->has_value())
    return Fail(ErrorCode::kFailedPrecondition, "nothing to recover: the history store is empty");
  const history::TransitionHash transition = (*latest)->transition_hash;

  auto entries = history::WalkChain(*store_, transition);
  if (!entries)
    return Fail(ErrorCode::kFailedPrecondition, "the stored history does not verify: " + entries.error().message);
  if (entries->empty()) return Fail(ErrorCode::kFailedPrecondition, "the stored history is empty");
  if (auto policies = ReferencedPolicies(*store_, *entries); !policies) {
    return Fail(ErrorCode::kFailedPrecondition, "the stored history does not verify: " + policies.error().message);
  }
  auto manifest = manifest::ParseManifest(AsChars(entries->back().manifest));
  if (!manifest) return Fail(ErrorCode::kFailedPrecondition, "the latest stored manifest: " + manifest.error().message);
  if (auto authorized = authorize(*manifest, transition); !authorized) return tl::unexpected(authorized.error());

  auto ca = OpenCaState(*store_, **engine, **latest);
  if (!ca) return Fail(ErrorCode::kFailedPrecondition, "the sealed CA state does not verify: " + ca.error().message);
  attest::AcceptableReferenceValues workloads = attestation_policy::WorkloadReferenceValues(*manifest);
  auto state = std::make_shared<const State>(State{std::move(entries->back().manifest), std::move(*manifest),
                                                   std::move(workloads), std::move(*ca), transition,
                                                   static_cast<uint64_t>(entries->size()), std::move(*engine)});
  history_.emplace(std::move(*history));
  guard_.Recovered(state);
  return RecoverOutput{state->ca.root_pem(), state->ca.mesh_ca_pem(), transition, state->generation};
}

Result<RecoverOutput> ManifestUpdater::RecoverFromPeer(ByteView seed_bytes, ByteView salt,
                                                       const std::optional<history::TransitionHash>& peer_latest) {
  std::unique_lock lock(update_mutex_);
  if (!guard_.stale_reason()) {
    return Fail(ErrorCode::kFailedPrecondition, guard_.Current()
                                                    ? "the Coordinator is ready: it needs no seed from a peer"
                                                    : "the Coordinator holds no history: there is nothing to recover");
  }
  // The peer's attestation authorizes the seed. Its latest transition is
  // authenticated too (same session): the store must be there or beyond,
  // never at an older signed record someone with write access put back.
  const AuthorizeRecovery authorize = [&](const manifest::Manifest&,
                                          const history::TransitionHash& latest) -> Result<void> {
    if (!peer_latest) return {};
    auto descends = StepsBack(*store_, *peer_latest, latest);
    if (!descends)
      return Fail(ErrorCode::kUnavailable, descends.error().Wrap("checking the peer's transition").message);
    if (!descends->has_value()) {
      return Fail(ErrorCode::kFailedPrecondition, "the store's latest transition " + HexEncode(latest) +
                                                      " does not extend the peer's " + HexEncode(*peer_latest) +
                                                      " (an older history put back, or a fork): not recovering");
    }
    return {};
  };
  auto recovered = RestoreFromStore(seed_bytes, salt, authorize);
  if (recovered) CatchUpAfterRecovery();
  if (recovered) {
    metrics_.recoveries.Increment("peer");
    logger_->info("event=recovered source=peer generation={} transition={}", recovered->generation,
                  HexEncode(recovered->latest_transition));
    Serving(*guard_.Current());
  } else {
    metrics_.recoveries.Increment(std::string(ErrorCodeName(recovered.error().code)));
    logger_->warn("event=peer_recovery_refused reason={} error={}", ErrorCodeName(recovered.error().code),
                  LogValue(recovered.error().message));
  }
  return recovered;
}

void ManifestUpdater::CatchUpAfterRecovery() {
  // Another replica may have moved on while the history was read, and the
  // watch skipped that change while this Coordinator had no seed.
  if (auto caught_up = ReloadLocked(); !caught_up) {
    logger_->warn("event=catch_up_after_recovery_failed error={}", LogValue(caught_up.error().message));
  }
}

Result<ManifestUpdater::ReloadOutcome> ManifestUpdater::Reload() {
  std::unique_lock lock(update_mutex_);
  return ReloadLocked();
}

Result<ManifestUpdater::ReloadOutcome> ManifestUpdater::CatchUp() {
  std::unique_lock lock(update_mutex_);
  auto outcome = ReloadLocked();
  if (!outcome) return Unreachable(outcome.error());
  return outcome;
}

tl::unexpected<Error> ManifestUpdater::Unreachable(const Error& error) const {
  if (error.code == ErrorCode::kUnavailable && on_unreachable_) on_unreachable_(error);
  return tl::unexpected(error);
}

Result<ManifestUpdater::ReloadOutcome> ManifestUpdater::ReloadLocked() {
  const std::shared_ptr<const State> current = guard_.Current();
  if (guard_.stale_reason()) return ReloadOutcome::kAwaitingRecovery;
  if (!current || !history_) {
    // No manifest yet here; a first one set through another replica has a
    // seed this process never saw: only a peer or an owner can hand it over.
    auto exists = store_->Has(history::kLatestKey);
    if (!exists) return Fail(ErrorCode::kUnavailable, exists.error().Wrap("reading transitions/latest").message);
    if (!*exists) return ReloadOutcome::kUnchanged;
    if (pending_first_) {
      const PendingFirst pending = *pending_first_;
      auto adopted = RestoreFromStore(
          pending.engine->seed(), pending.engine->salt(),
          [](const manifest::Manifest&, const history::TransitionHash&) -> Result<void> { return {}; });
      if (adopted) {
        logger_->info("event=first_manifest_adopted transition={} msg={}", HexEncode(adopted->latest_transition),
                      LogValue("the store took the first manifest although its answer was lost"));
        Serving(*guard_.Current());
        return ReloadOutcome::kReloaded;
      }
      if (adopted.error().code != ErrorCode::kSignatureInvalid) return StoreProblemOrDiverged(adopted.error());
      pending_first_.reset();  // another replica's first manifest won
    }
    // Not knowing the store at startup, this Coordinator cannot tell a
    // history of its own previous run from another replica's first manifest.
    const std::string_view reason = unreachable_at_open_ ? kAwaitingRecoveryReason : kReplicaNeedsSeedReason;
    guard_.MarkStale(std::string(reason));
    metrics_.awaiting_recovery.Set(1);
    logger_->warn("event=awaiting_recovery msg={}", LogValue(reason));
    return ReloadOutcome::kAwaitingRecovery;
  }
  auto latest = history_->Latest();
  if (!latest && latest.error().code == ErrorCode::kSignatureInvalid) return Diverged(latest.error().message);
  if (!latest) return StoreProblemOrDiverged(latest.error().Wrap("reading transitions/latest"));
  if (!latest->has_value()) return Diverged("transitions/latest disappeared from the store");
  const history::LatestTransition& stored = **latest;
  if (stored.transition_hash == current->latest_transition) return ReloadOutcome::kUnchanged;

  // The store moved on: it must have moved on from here (no fork, no
  // rollback to an older signed record). A read that fails because the
  // store cannot be reached is not evidence of anything: retry later.
  auto steps = StepsFrom(current->latest_transition, stored.transition_hash);
  if (!steps) return tl::unexpected(steps.error());
  auto manifest_hash = history::ReadTransition(*store_, stored.transition_hash);
  if (!manifest_hash) return StoreProblemOrDiverged(manifest_hash.error());
  auto manifest_bytes = history::ReadManifest(*store_, manifest_hash->manifest_hash);
  if (!manifest_bytes) return StoreProblemOrDiverged(manifest_bytes.error());
  auto manifest = manifest::ParseManifest(AsChars(*manifest_bytes));
  if (!manifest) return Diverged("the latest stored manifest: " + manifest.error().message);
  for (const auto& [hash, policy] : manifest->policies) {
    if (auto document = history::ReadPolicy(*store_, hash.bytes); !document) {
      return StoreProblemOrDiverged(document.error());
    }
  }
  auto ca = OpenCaState(*store_, *current->seed, stored);
  if (!ca) return StoreProblemOrDiverged(ca.error().Wrap("the sealed CA state"));
  attest::AcceptableReferenceValues workloads = attestation_policy::WorkloadReferenceValues(*manifest);
  auto next = std::make_shared<const State>(State{std::move(*manifest_bytes), std::move(*manifest),
                                                  std::move(workloads), std::move(*ca), stored.transition_hash,
                                                  current->generation + *steps, current->seed});
  if (!guard_.Publish(current, next)) return Fail(ErrorCode::kConflict, "the state changed during the reload");
  logger_->info("event=manifest_reloaded generation={} transition={} manifest_sha256={}", next->generation,
                HexEncode(next->latest_transition), HexEncode(manifest_hash->manifest_hash));
  Serving(*next);
  return ReloadOutcome::kReloaded;
}

Result<uint64_t> ManifestUpdater::StepsFrom(const history::TransitionHash& ancestor,
                                            const history::TransitionHash& descendant) const {
  auto steps = StepsBack(*store_, ancestor, descendant);
  if (!steps) return StoreProblemOrDiverged(steps.error());
  if (!*steps) {
    return Diverged("the stored history (latest transition " + HexEncode(descendant) +
                    ") does not extend this Coordinator's transition " + HexEncode(ancestor));
  }
  return **steps;
}

}  // namespace contrast::coordinator
