#include "coordinator/manifest_updater.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "attestation_policy/reference_values.h"
#include "coordinator/log.h"
#include "crypto/hash.h"

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

ApiResult<manifest::Manifest> ParseNewManifest(const Bytes& bytes) {
  auto parsed = manifest::ParseManifestReportingProblems(AsChars(bytes));
  if (!parsed) return RefuseArgument("invalid manifest:\n" + Join(parsed.error(), "\n"));
  return std::move(*parsed);
}

// A first manifest builds on nothing: it may not claim a predecessor.
ApiResult<void> CheckFirstManifest(const SetManifestInput& input) {
  if (IsZero(input.previous_transition_hash)) return {};
  return RefusePrecondition("previous_transition_hash is " + HexEncode(input.previous_transition_hash) +
                            ", but no manifest has been set yet");
}

}  // namespace

ApiResult<std::vector<Bytes>> SelectPolicyDocuments(const manifest::Manifest& manifest,
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
    return RefuseArgument("policies: no document for the manifest's policy hash(es) " + Join(missing, ", ") +
                          " (a document is found by its SHA-256)");
  }
  return selected;
}

ApiResult<void> AuthorizeUpdate(const State& current, const manifest::Manifest& next, const SetManifestInput& input) {
  const manifest::Manifest& in_force = current.manifest;
  if (in_force.workload_owner_key_digests.empty()) {
    return RefusePermission(ErrorCode::kPolicyViolation,
                            "manifest updates are disabled: the current manifest lists no workload owner keys");
  }
  if (!input.previous_transition_hash.empty() &&
      !std::equal(input.previous_transition_hash.begin(), input.previous_transition_hash.end(),
                  current.latest_transition.begin(), current.latest_transition.end())) {
    return RefusePrecondition("previous_transition_hash " + HexEncode(input.previous_transition_hash) +
                              " is not the latest transition " + HexEncode(current.latest_transition) +
                              ": the manifest changed since this update was prepared");
  }
  if (input.owner_public_key.empty() || input.owner_signature.empty()) {
    return RefusePermission(ErrorCode::kSignatureInvalid,
                            "the manifest update is not signed: owner_public_key and owner_signature are required "
                            "to replace the current manifest");
  }
  if (!in_force.HasWorkloadOwnerKey(input.owner_public_key)) {
    return RefusePermission(ErrorCode::kSignatureInvalid, "owner_public_key (SHA-256 " +
                                                              HexEncode(crypto::Sha256(input.owner_public_key)) +
                                                              ") is not a workload owner key of the current manifest");
  }
  const history::TransitionHash transition =
      history::ComputeTransitionHash(manifest::ManifestHash(input.manifest), current.latest_transition);
  if (auto ok = history::VerifyTransitionSignature(input.owner_public_key, transition, input.owner_signature); !ok) {
    return RefusePermission(ErrorCode::kSignatureInvalid, "owner_signature does not authorize the transition " +
                                                              HexEncode(transition) + ": " + ok.error().message);
  }
  if (next.seedshare_owner_pub_keys != in_force.seedshare_owner_pub_keys) {
    return RefusePermission(ErrorCode::kPolicyViolation,
                            "SeedshareOwnerPubKeys cannot change after the first manifest");
  }
  return {};
}

ManifestUpdater::ManifestUpdater(history::History& history, StateGuard& guard, CoordinatorMetrics& metrics,
                                 std::shared_ptr<spdlog::logger> logger)
    : history_(history), guard_(guard), metrics_(metrics), logger_(std::move(logger)) {}

ApiResult<SetManifestOutput> ManifestUpdater::SetManifest(const SetManifestInput& input) {
  std::unique_lock lock(update_mutex_);
  const std::shared_ptr<const State> current = guard_.Current();
  auto accepted = Accept(current.get(), input);
  if (!accepted) return tl::unexpected(accepted.error());
  auto state = Commit(current, input, std::move(*accepted));
  if (!state) return tl::unexpected(state.error());
  return SetManifestOutput{(*state)->ca.root_pem(), (*state)->ca.mesh_ca_pem(), (*state)->latest_transition};
}

ApiResult<ManifestUpdater::Accepted> ManifestUpdater::Accept(const State* current,
                                                             const SetManifestInput& input) const {
  if (auto stale = guard_.stale_reason()) return RefusePrecondition(*stale);
  if (!input.previous_transition_hash.empty() && input.previous_transition_hash.size() != 32) {
    return RefuseArgument("previous_transition_hash: expected 32 bytes or none, got " +
                          std::to_string(input.previous_transition_hash.size()));
  }
  auto next = ParseNewManifest(input.manifest);
  if (!next) return tl::unexpected(next.error());
  auto documents = SelectPolicyDocuments(*next, input.policies);
  if (!documents) return tl::unexpected(documents.error());
  auto authorized = current ? AuthorizeUpdate(*current, *next, input) : CheckFirstManifest(input);
  if (!authorized) return tl::unexpected(authorized.error());
  return Accepted{std::move(*next), std::move(*documents)};
}

ApiResult<std::shared_ptr<const State>> ManifestUpdater::Commit(const std::shared_ptr<const State>& current,
                                                                const SetManifestInput& input, Accepted accepted) {
  // The CA first: if it cannot be made, nothing has been stored yet.
  auto ca = current ? current->ca.Rotate() : ca::CertificateAuthority::Generate();
  if (!ca) return RefuseInternal(ca.error().Wrap("creating the mesh CA"));
  auto latest = history_.Append(input.manifest, accepted.documents,
                                current ? std::optional(current->latest_transition) : std::nullopt);
  if (!latest) {
    // update_mutex_ rules out a writer in this process: another one moved
    // the history (a second Coordinator on the same store).
    if (history::IsConcurrentUpdate(latest.error())) return Diverged(latest.error().message);
    return RefuseInternal(latest.error().Wrap("storing the manifest"));
  }
  session::AcceptableReferenceValues workloads = attestation_policy::WorkloadReferenceValues(accepted.manifest);
  auto state = std::make_shared<const State>(State{input.manifest, std::move(accepted.manifest), std::move(workloads),
                                                   std::move(*ca), latest->transition_hash,
                                                   current ? current->generation + 1 : 1});
  // Cannot fail while update_mutex_ is held: only SetManifest publishes.
  if (!guard_.Publish(current, state)) return RefusePrecondition("the state changed during the update");
  Published(*state, accepted.documents.size());
  return state;
}

void ManifestUpdater::Published(const State& state, size_t policy_count) const {
  metrics_.manifest_generation.Set(static_cast<int64_t>(state.generation));
  metrics_.ready.Set(1);
  logger_->info("event=manifest_set generation={} transition={} manifest_sha256={} policies={} insecure={}",
                state.generation, HexEncode(state.latest_transition),
                HexEncode(manifest::ManifestHash(state.manifest_bytes)), policy_count, state.manifest.insecure());
  if (state.manifest.insecure()) {
    logger_->warn("event=insecure_manifest generation={} msg={}", state.generation,
                  LogValue("INSECURE: the manifest trusts the emulated secure processor; attestation under it "
                           "proves nothing. For development, CI and demos only."));
  }
}

tl::unexpected<ApiError> ManifestUpdater::Diverged(const std::string& detail) const {
  guard_.MarkStale(std::string(kDivergedHistoryReason));
  logger_->error("event=history_diverged msg={} detail={}", LogValue(kDivergedHistoryReason), LogValue(detail));
  return RefusePrecondition(std::string(kDivergedHistoryReason) + ": " + detail);
}

ApiResult<ManifestHistory> ManifestUpdater::GetManifests() const {
  std::shared_lock lock(update_mutex_);
  auto state = guard_.Require();
  if (!state) return tl::unexpected(state.error());
  auto entries = history_.Walk();
  if (!entries && entries.error().code == ErrorCode::kSignatureInvalid) return Diverged(entries.error().message);
  if (!entries) return RefuseInternal(entries.error().Wrap("reading the manifest history"));
  if (entries->empty() || entries->back().transition_hash != (*state)->latest_transition) {
    return Diverged("the stored history does not end at this Coordinator's latest transition " +
                    HexEncode((*state)->latest_transition));
  }
  ManifestHistory out{{}, {}, (*state)->ca.root_pem(), (*state)->ca.mesh_ca_pem(), (*state)->latest_transition};
  std::set<manifest::PolicyHash> seen;
  for (history::HistoryEntry& entry : *entries) {
    auto parsed = manifest::ParseManifest(AsChars(entry.manifest));
    if (!parsed) return RefuseInternal(parsed.error().Wrap("a stored manifest"));
    for (const auto& [hash, policy] : parsed->policies) {
      if (!seen.insert(hash).second) continue;
      auto document = history_.GetPolicy(hash.bytes);
      if (!document) return RefuseInternal(document.error().Wrap("reading policy " + hash.Hex()));
      out.policies.push_back(std::move(*document));
    }
    out.manifests.push_back(std::move(entry.manifest));
  }
  return out;
}

}  // namespace contrast::coordinator
