#include "cli/coordinator_commands.h"

#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <set>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/attached_policies.h"
#include "cli/coordinator_client.h"
#include "cli/history_check.h"
#include "cli/output.h"
#include "cli/owner_keys.h"
#include "cli/seed_shares_file.h"
#include "common/files.h"
#include "crypto/keys.h"
#include "history/history.h"
#include "manifest/manifest.h"

namespace contrast::cli {
namespace {

// What the Coordinator accepts in one update (manifest/manifest.h), checked
// here so that the owner hears it before anything is sent.
Status CheckPolicyBounds(const std::vector<Bytes>& documents) {
  size_t total = 0;
  for (const Bytes& document : documents) {
    if (document.size() > manifest::kMaxPolicyDocumentSize) {
      return Fail(ErrorCode::kInvalidArgument, "the policy document with SHA-256 " +
                                                   manifest::PolicyHashOf(document).Hex() + " is " +
                                                   std::to_string(document.size()) + " bytes; at most " +
                                                   std::to_string(manifest::kMaxPolicyDocumentSize) + " are allowed");
    }
    total += document.size();
  }
  if (total > manifest::kMaxPolicyBytes) {
    return Fail(ErrorCode::kInvalidArgument,
                "the manifest's policy documents are " + std::to_string(total) + " bytes together; at most " +
                    std::to_string(manifest::kMaxPolicyBytes) + " are allowed in one update (split the deployment)");
  }
  return {};
}

// The policy documents named by the manifest: from Kubernetes resources
// (files and directories whose workloads carry policy annotations, as
// `generate` wrote them) and from plain policy documents. The resources'
// policies must be exactly the manifest's; every difference is listed.
Result<std::vector<Bytes>> LoadPolicies(const std::vector<std::filesystem::path>& paths,
                                        const manifest::Manifest& manifest) {
  std::vector<Bytes> documents;
  std::set<std::string> have;
  std::vector<std::filesystem::path> resources;
  for (const auto& path : paths) {
    if (IsResourcePath(path)) {
      resources.push_back(path);
      continue;
    }
    auto document = ReadFile(path, manifest::kMaxPolicyDocumentSize);
    if (!document) return Fail(document.error().Wrap("a policy document is at most 1 MiB"));
    have.insert(manifest::PolicyHashOf(*document).Hex());
    documents.push_back(std::move(*document));
  }
  std::string differences;
  if (!resources.empty()) {
    auto attached = FindAttachedPolicies(resources);
    if (!attached) return Fail(attached.error());
    if (attached->empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "no workload in the given resources carries a policy annotation (run `contrast generate` on them "
                  "first)");
    }
    for (AttachedPolicy& policy : *attached) {
      if (manifest.FindPolicy(policy.hash) == nullptr) {
        differences += "\n  not in the manifest: " + policy.hash.Hex() + " of " + policy.Describe();
        continue;
      }
      if (have.insert(policy.hash.Hex()).second) {
        documents.emplace_back(policy.hashed_document.begin(), policy.hashed_document.end());
      }
    }
  }
  for (const auto& [hash, entry] : manifest.policies) {
    if (!have.contains(hash.Hex())) {
      differences += "\n  in the manifest but not in the " +
                     std::string(resources.empty() ? "given policy documents" : "resources") + ": " + hash.Hex() +
                     (entry.sans.empty() ? "" : " (" + entry.sans.front() + ")");
    }
  }
  if (!differences.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "the policies do not match the manifest (run `contrast generate` again, or pass every resource "
                "file):" +
                    differences);
  }
  if (auto bounded = CheckPolicyBounds(documents); !bounded) return Fail(bounded.error());
  return documents;
}

Status WritePem(const std::filesystem::path& path, const std::string& pem) { return WriteFileAtomic(path, pem, 0644); }

bool IsZero(const history::TransitionHash& hash) {
  return std::all_of(hash.begin(), hash.end(), [](uint8_t b) { return b == 0; });
}

// Who authorizes an update: a private key that signs here, or a signature
// made elsewhere (`contrast sign`) with the signer's public key.
struct OwnerAuthority {
  std::filesystem::path key_path;
  Bytes spki;                             // DER SubjectPublicKeyInfo
  std::optional<crypto::PrivateKey> key;  // signs locally
  std::optional<Bytes> signature;         // detached, DER
  std::filesystem::path signature_path;

  bool present() const { return key || signature; }
};

Result<OwnerAuthority> LoadOwnerAuthority(const SetCommand& command) {
  OwnerAuthority authority;
  authority.key_path = command.workload_owner_key.value_or(command.workspace / "workload-owner.pem");
  std::error_code ec;
  const bool key_exists = std::filesystem::exists(authority.key_path, ec);
  if (command.signature) {
    if (!command.workload_owner_key && !key_exists) {
      return Fail(ErrorCode::kInvalidArgument,
                  "--signature needs the signer's public key: --workload-owner-key FILE (a public key PEM or the "
                  "PKCS#8 private key)");
    }
    auto spki = LoadWorkloadOwnerPublicKey(authority.key_path);
    if (!spki) return Fail(spki.error());
    auto signature = ReadFile(*command.signature, 4096);
    if (!signature) return Fail(signature.error().Wrap("--signature"));
    if (signature->empty())
      return Fail(ErrorCode::kInvalidArgument, "--signature: " + command.signature->string() + " is empty");
    authority.spki = std::move(*spki);
    authority.signature = std::move(*signature);
    authority.signature_path = *command.signature;
  } else if (command.workload_owner_key || key_exists) {
    auto key = LoadWorkloadOwnerKey(authority.key_path);
    if (!key) return Fail(key.error());
    auto spki = key->PublicKeyDer();
    if (!spki) return Fail(spki.error());
    authority.spki = std::move(*spki);
    authority.key = std::move(*key);
  }
  return authority;
}

// The owner's signature over `transition` at the Coordinator with
// `root_key`: made here, or the detached one checked here first, so a
// signature for another transition or another Coordinator is named before
// anything is sent.
Result<Bytes> AuthorizeTransition(const OwnerAuthority& authority, const history::RootKeyDigest& root_key,
                                  const history::TransitionHash& transition, const history::TransitionHash& previous) {
  if (authority.key) return history::SignTransition(*authority.key, root_key, transition);
  if (auto valid = history::VerifyTransitionSignature(authority.spki, root_key, transition, *authority.signature);
      !valid) {
    return Fail(ErrorCode::kSignatureInvalid,
                "the signature in " + authority.signature_path.string() + " does not sign transition " +
                    HexEncode(transition) + " (this manifest on top of " + HexEncode(previous) +
                    ") at this Coordinator (root CA key SHA-256 " + HexEncode(root_key) + ") with the key " +
                    authority.key_path.string() + ": " + valid.error().message +
                    ". Run `contrast verify` against this Coordinator, review the history, then sign again with "
                    "`contrast sign` (it signs for verify/coordinator-root-ca.pem and verify/latest-transition)");
  }
  return *authority.signature;
}

// What the Coordinator's GetLatestTransition said an update builds on.
struct CoordinatorBase {
  history::TransitionHash latest{};  // zero: no manifest yet
  history::ManifestHash manifest_hash{};
  std::string root_ca_pem;
};

Result<CoordinatorBase> FetchBase(CoordinatorClient& coordinator, std::ostream& out) {
  v1::GetLatestTransitionResponse current;
  auto attested = coordinator.Call(StartGetLatestTransition, v1::GetLatestTransitionRequest{}, &current);
  if (!attested) return Fail(attested.error());
  PrintAttested(out, coordinator.target(), *attested);
  if (current.awaiting_recovery()) {
    return Fail(ErrorCode::kFailedPrecondition, "the Coordinator awaits recovery (" + current.reason() +
                                                    "): a seed-share owner must run `contrast recover` first");
  }
  CoordinatorBase base;
  if (current.latest_transition_hash().empty()) return base;
  if (current.latest_transition_hash().size() != base.latest.size() ||
      current.manifest_hash().size() != base.manifest_hash.size()) {
    return Fail(ErrorCode::kParse, "the Coordinator sent a malformed latest transition or manifest hash");
  }
  std::copy(current.latest_transition_hash().begin(), current.latest_transition_hash().end(), base.latest.begin());
  std::copy(current.manifest_hash().begin(), current.manifest_hash().end(), base.manifest_hash.begin());
  base.root_ca_pem = current.root_ca();
  return base;
}

// The base the owner last verified (or named): nullopt when this workspace
// has seen none.
Result<std::optional<PreviousTransition>> ExpectedBase(const SetCommand& command) {
  if (command.atomic) {
    auto previous = ResolvePreviousTransition(command.latest_transition, command.workspace);
    if (!previous) return Fail(previous.error());
    return std::optional<PreviousTransition>(std::move(*previous));
  }
  auto saved = ReadSavedLatestTransition(command.workspace);
  if (!saved) return Fail(saved.error());
  if (!*saved) return std::optional<PreviousTransition>();
  return std::optional<PreviousTransition>(
      PreviousTransition{**saved, SavedLatestTransitionPath(command.workspace).string()});
}

// `set` signs only on top of what the owner has seen: the Coordinator's
// latest transition must be the one verify (or the last set) saved, and its
// root CA the one verify saved. An empty Coordinator and an empty workspace
// have nothing to compare.
Status CheckVerifiedBase(const SetCommand& command, const CoordinatorBase& base,
                         const std::optional<PreviousTransition>& expected) {
  const std::string current = IsZero(base.latest) ? "no manifest"
                                                  : "manifest SHA-256 " + HexEncode(base.manifest_hash) +
                                                        " (transition " + HexEncode(base.latest) + ")";
  const std::string hint =
      ". Run `contrast verify` and review the manifests it writes to verify/, or pass --allow-unverified-base to "
      "build on the Coordinator's current state anyway";
  if (!expected || IsZero(expected->hash)) {
    if (IsZero(base.latest)) return {};
    return Fail(ErrorCode::kValidationFailed, "the Coordinator has " + current +
                                                  ", which this workspace has not verified (no " +
                                                  SavedLatestTransitionPath(command.workspace).string() + ")" + hint);
  }
  if (expected->hash != base.latest) {
    return Fail(ErrorCode::kValidationFailed, "the Coordinator has " + current + ", not transition " +
                                                  HexEncode(expected->hash) + " that you last verified (" +
                                                  expected->source + ")" + hint);
  }
  const std::filesystem::path verified_root = command.workspace / "verify" / "coordinator-root-ca.pem";
  std::error_code ec;
  if (!base.root_ca_pem.empty() && std::filesystem::exists(verified_root, ec)) {
    auto pem = ReadTextFile(verified_root, 64 * 1024);
    auto saved = pem ? history::RootKeyDigestOfPem(*pem) : Result<history::RootKeyDigest>(Fail(pem.error()));
    auto attested = history::RootKeyDigestOfPem(base.root_ca_pem);
    if (!saved || !attested || *saved != *attested) {
      return Fail(ErrorCode::kValidationFailed, "the Coordinator's root CA differs from " + verified_root.string() +
                                                    ": it is another deployment at the same transition" + hint);
    }
  }
  return {};
}

// Splits the policy documents so that no frame exceeds the session limit:
// the request carries what fits next to the manifest, each follow-up at
// most history::kMaxPageBytes (and at least one document).
std::vector<v1::SetManifestPolicies> SplitPolicies(v1::SetManifestRequest& request,
                                                   const std::vector<Bytes>& documents) {
  std::vector<v1::SetManifestPolicies> follow_ups;
  size_t used = request.manifest().size();  // the request's frame carries the manifest too
  for (const Bytes& document : documents) {
    if (used > 0 && used + document.size() > history::kMaxPageBytes) {
      follow_ups.emplace_back();
      used = 0;
    }
    std::string* slot = follow_ups.empty() ? request.add_policies() : follow_ups.back().add_policies();
    slot->assign(AsChars(document));
    used += document.size();
  }
  request.set_more_policies(!follow_ups.empty());
  for (size_t i = 0; i + 1 < follow_ups.size(); ++i) follow_ups[i].set_more_policies(true);
  return follow_ups;
}

}  // namespace

int RunSet(const SetCommand& command, std::ostream& out, std::ostream& err) {
  // Everything local is checked before any network traffic.
  if (command.latest_transition && !command.atomic) {
    return Usage(err, Error{ErrorCode::kInvalidArgument,
                            "--latest-transition needs --atomic (it names the transition the update is "
                            "conditional on)"});
  }
  auto local = LoadManifest(command.manifest, err);
  if (!local) return kExitUsage;
  auto policies = LoadPolicies(command.policies, local->parsed);
  if (!policies) return Usage(err, policies.error());
  auto authority = LoadOwnerAuthority(command);
  if (!authority) return Usage(err, authority.error());
  auto expected = ExpectedBase(command);
  if (!expected) return Usage(err, expected.error());
  if (command.atomic && !IsZero((*expected)->hash) && !authority->present()) {
    return Usage(err, Error{ErrorCode::kInvalidArgument,
                            "an update (on top of transition " + HexEncode((*expected)->hash) +
                                ") must be signed: pass --workload-owner-key, or --signature from `contrast sign`"});
  }
  auto verifier_options = CommandVerifierOptions(command.collateral);
  if (!verifier_options) return Usage(err, verifier_options.error());
  if (local->parsed.insecure()) PrintInsecureWarning(err);

  // What the update builds on, as the attested Coordinator tells it.
  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, *verifier_options, out);
  auto base = FetchBase(coordinator, out);
  if (!base) return Failed(err, base.error());
  if (IsZero(base->latest)) {
    out << "The Coordinator has no manifest yet: this is the first one.\n";
  } else {
    out << "The Coordinator's current manifest has SHA-256 " << HexEncode(base->manifest_hash) << " (transition "
        << HexEncode(base->latest) << "); the update builds on it.\n";
  }
  if (command.atomic && (*expected)->hash != base->latest) {
    Failed(err, Error{ErrorCode::kFailedPrecondition,
                      "the update is conditional on transition " + HexEncode((*expected)->hash) + " (" +
                          (*expected)->source + "), but the Coordinator's latest transition is " +
                          (IsZero(base->latest) ? std::string("none") : HexEncode(base->latest))});
    err << "hint: its history has moved on. Run `contrast verify`, review the manifests it writes, then prepare the "
           "update again on top of the new latest transition.\n";
    return kExitFailed;
  }
  if (auto verified = CheckVerifiedBase(command, *base, *expected); !verified) {
    if (!command.allow_unverified_base) return Failed(err, verified.error());
    err << "warning: --allow-unverified-base: " << verified.error().message << "\n";
  }

  v1::SetManifestRequest request;
  request.set_manifest(std::string(AsChars(local->bytes)));
  const history::TransitionHash transition =
      history::ComputeTransitionHash(manifest::ManifestHash(local->bytes), base->latest);
  if (!IsZero(base->latest)) {
    // An update is signed over the transition it makes at this Coordinator
    // (its root key), and conditional on the base shown above.
    if (!authority->present()) {
      return Failed(err, Error{ErrorCode::kInvalidArgument,
                               "the Coordinator already has a manifest: an update must be signed with a workload "
                               "owner key of it: pass --workload-owner-key, or --signature from `contrast sign`"});
    }
    auto root_key = history::RootKeyDigestOfPem(base->root_ca_pem);
    if (!root_key) return Failed(err, root_key.error());
    auto signature = AuthorizeTransition(*authority, *root_key, transition, base->latest);
    if (!signature) return Failed(err, signature.error());
    request.set_previous_transition_hash(std::string(AsChars(base->latest)));
    request.set_owner_public_key(std::string(AsChars(authority->spki)));
    request.set_owner_signature(std::string(AsChars(*signature)));
  }
  const std::vector<v1::SetManifestPolicies> follow_ups = SplitPolicies(request, *policies);
  std::vector<const google::protobuf::MessageLite*> follow_up_messages;
  for (const v1::SetManifestPolicies& follow_up : follow_ups) follow_up_messages.push_back(&follow_up);

  v1::SetManifestResponse response;
  auto attested = coordinator.CallWithFollowUps(StartSetManifest, request, follow_up_messages, &response);
  if (!attested) {
    const int code = Failed(err, attested.error());
    if (attested.error().code == ErrorCode::kFailedPrecondition) {
      err << "hint: the update was made on top of transition " << HexEncode(base->latest)
          << " and the Coordinator refused it: its history has moved on since (or it awaits recovery). Run "
             "`contrast verify`, review the manifests it writes, then try again.\n";
    }
    return code;
  }
  int code = kExitOk;
  if (local->parsed.seedshare_owner_pub_keys.empty()) {
    err << "warning: the manifest names no seed-share owners (SeedshareOwnerPubKeys): if the Coordinator restarts, "
           "nobody can recover it and the deployment must be set up anew. Owners can only be named in the first "
           "manifest (`contrast generate --add-seedshare-owner-key`).\n";
  }
  if (response.has_seed_share_document()) {
    if (auto written = SaveSeedShares(response.seed_share_document(), command.workspace, out, err); !written) {
      code = Failed(err, written.error());
    }
  }
  if (auto s = WritePem(command.workspace / "coordinator-root-ca.pem", response.root_ca()); !s) {
    return Failed(err, s.error());
  }
  if (auto s = WritePem(command.workspace / "mesh-ca.pem", response.mesh_ca()); !s) return Failed(err, s.error());
  if (AsBytes(response.transition_hash()).size() != transition.size() ||
      !std::equal(transition.begin(), transition.end(), AsBytes(response.transition_hash()).begin())) {
    return Failed(
        err, Error{ErrorCode::kValidationFailed,
                   "the Coordinator reports transition " + HexEncode(AsBytes(response.transition_hash())) +
                       ", but this manifest on top of " + HexEncode(base->latest) + " is " + HexEncode(transition)});
  }
  // The owner knows this history: what they verified (or accepted) plus
  // their own manifest. The next set builds on it without another verify.
  std::error_code ec;
  std::filesystem::create_directories(SavedLatestTransitionPath(command.workspace).parent_path(), ec);
  if (auto saved =
          WriteFileAtomic(SavedLatestTransitionPath(command.workspace), FormatSavedTransition(transition), 0644);
      !saved) {
    return Failed(err, saved.error());
  }
  out << "Manifest set (transition " << HexEncode(transition) << ").\n"
      << "Wrote " << (command.workspace / "coordinator-root-ca.pem").string() << ", "
      << (command.workspace / "mesh-ca.pem").string() << " and "
      << SavedLatestTransitionPath(command.workspace).string() << "\n";
  return code;
}

namespace {

constexpr const char* kCertificateFiles[] = {"coordinator-root-ca.pem", "mesh-root.pem", "mesh-ca.pem"};

// What WriteVerifyDirectory did with the CA certificates of a Coordinator
// that awaits recovery and sends none.
struct CertificateFallback {
  std::vector<std::string> kept;     // copied from the previous verify/
  std::vector<std::string> missing;  // neither sent nor saved before
};

// Writes verify/ next to it first, then swaps it into place, so a reader
// never sees a mix of two runs.
Result<CertificateFallback> WriteVerifyDirectory(const std::filesystem::path& dir, const CoordinatorHistory& response,
                                                 const history::TransitionHash& latest) {
  const std::filesystem::path staging = dir.string() + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  std::filesystem::create_directories(staging / "policies", ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + staging.string() + ": " + ec.message());
  auto write = [&](const std::filesystem::path& name, std::string_view content) {
    return WriteFileAtomic(staging / name, content, 0644);
  };
  CertificateFallback fallback;
  Status status;
  for (const char* name : kCertificateFiles) {
    const std::string& pem = std::string_view(name) == "mesh-ca.pem" ? response.mesh_ca : response.root_ca;
    if (!pem.empty() || !response.awaiting_recovery) {
      status = status.and_then([&] { return write(name, pem); });
      continue;
    }
    // A Coordinator awaiting recovery has no CA yet: the certificates an
    // earlier verify saw stay what an auditor trusts.
    if (std::filesystem::exists(dir / name, ec)) {
      status = status.and_then([&]() -> Status {
        auto previous = ReadTextFile(dir / name);
        if (!previous) return Fail(previous.error());
        return write(name, *previous);
      });
      fallback.kept.push_back(name);
    } else {
      fallback.missing.push_back(name);
    }
  }
  for (size_t i = 0; i < response.manifests.size() && status; ++i) {
    status = write("manifest." + std::to_string(i) + ".json", response.manifests[i]);
  }
  for (const std::string& policy : response.policies) {
    if (!status) break;
    status = write(std::filesystem::path("policies") / manifest::PolicyHashOf(AsBytes(policy)).Hex(), policy);
  }
  status = status.and_then([&] { return write("latest-transition", FormatSavedTransition(latest)); });
  if (!status) {
    std::filesystem::remove_all(staging, ec);
    return Fail(status.error());
  }
  const std::filesystem::path old = dir.string() + ".old-" + std::to_string(::getpid());
  if (std::filesystem::exists(dir)) std::filesystem::rename(dir, old, ec);
  std::filesystem::rename(staging, dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot move " + staging.string() + " to " + dir.string() + ": " + ec.message());
  std::filesystem::remove_all(old, ec);
  return fallback;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

int RunVerify(const VerifyCommand& command, std::ostream& out, std::ostream& err) {
  auto local = LoadManifest(command.manifest, err);
  if (!local) return kExitUsage;
  auto verifier_options = CommandVerifierOptions(command.collateral);
  if (!verifier_options) return Usage(err, verifier_options.error());
  if (local->parsed.insecure()) PrintInsecureWarning(err);
  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, *verifier_options, out);
  // A page (and a batch of policy documents) per attested call: no message
  // grows with the history.
  std::optional<Attested> attested;
  auto fetch_page = [&](const v1::GetManifestsRequest& request) -> Result<v1::GetManifestsResponse> {
    v1::GetManifestsResponse page;
    auto call = coordinator.Call(StartGetManifests, request, &page);
    if (!call) return Fail(call.error());
    if (!attested) attested = *call;
    return page;
  };
  auto fetch_policies = [&](const v1::GetPoliciesRequest& request) -> Result<v1::GetPoliciesResponse> {
    v1::GetPoliciesResponse documents;
    auto call = coordinator.Call(StartGetPolicies, request, &documents);
    if (!call) return Fail(call.error());
    return documents;
  };
  auto fetched = FetchHistory(fetch_page, fetch_policies);
  if (attested) PrintAttested(out, command.coordinator, *attested);
  if (!fetched) return Failed(err, fetched.error());
  const CoordinatorHistory& response = *fetched;

  // Our own checks come before anything is written: the chain links up, and
  // it still holds what the last verify saw.
  const std::filesystem::path dir = command.workspace / "verify";
  auto chain = LinkHistory(response);
  if (!chain) return Failed(err, chain.error());
  auto saved = ReadSavedLatestTransition(command.workspace);
  if (!saved) {
    return Failed(err, saved.error().Wrap("the transition the last verify saved (remove the file to start over)"));
  }
  if (*saved) {
    if (auto extends = CheckHistoryExtends(*chain, **saved); !extends) {
      Failed(err, extends.error());
      err << dir.string()
          << "/ was left as the last verify wrote it. If this workspace deliberately points at a new deployment, "
             "remove "
          << SavedLatestTransitionPath(command.workspace).string() << ".\n";
      return kExitFailed;
    }
  }
  const history::TransitionHash latest = chain->empty() ? history::kNoPreviousTransition : chain->back();

  if (response.awaiting_recovery) {
    err << "\nThe Coordinator AWAITS RECOVERY" << (response.reason.empty() ? std::string() : ": " + response.reason)
        << "\n"
        << "Its history is shown as stored: the hash chain links up (checked here), but only a Coordinator holding "
           "the seed can check the signature on it. A seed-share owner brings it back with `contrast recover`.\n\n";
  }
  auto written = WriteVerifyDirectory(dir, response, latest);
  if (!written) return Failed(err, written.error());
  out << "Wrote " << dir.string() << "/: coordinator-root-ca.pem, mesh-root.pem, mesh-ca.pem, "
      << response.manifests.size() << " manifest(s) oldest first, " << response.policies.size()
      << " policy document(s), latest-transition (" << HexEncode(latest) << ")\n";
  if (!written->kept.empty()) {
    err << "The Coordinator sent no CA certificates (it awaits recovery): kept " << JoinNames(written->kept)
        << " from the previous verify.\n";
  }
  if (!written->missing.empty()) {
    err << "The Coordinator sent no CA certificates (it awaits recovery) and no earlier verify saved them: "
        << JoinNames(written->missing) << " are missing from " << dir.string() << "/.\n";
  }
  if (response.manifests.empty() || response.manifests.back().empty()) {
    return Failed(err, Error{ErrorCode::kValidationFailed, "the Coordinator has no manifest"});
  }
  const std::string& active = response.manifests.back();
  if (active != AsChars(local->bytes)) {
    return Failed(
        err, Error{ErrorCode::kValidationFailed,
                   "the Coordinator's active manifest differs from " + command.manifest.string() + " (see " +
                       (dir / ("manifest." + std::to_string(response.manifests.size() - 1) + ".json")).string() + ")"});
  }
  out << "The active manifest equals " << command.manifest.string() << ": the deployment runs what it names.\n";
  return kExitOk;
}

void AddCoordinatorCommands(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  auto set = std::make_shared<SetCommand>();
  CLI::App* set_cmd = app.add_subcommand("set", "Attest the Coordinator against the manifest, then set the manifest");
  set_cmd->footer(
      "Nothing is sent before the Coordinator's evidence matches the manifest (its Role \"coordinator\" policy\n"
      "and the reference values). set first asks the Coordinator for its latest transition and shows the manifest\n"
      "(SHA-256) the update builds on. It refuses to build on any other transition than the one this workspace last\n"
      "saw: <workspace>/verify/latest-transition, written by `contrast verify` and by every successful set (and on\n"
      "a Coordinator whose root CA differs from verify/coordinator-root-ca.pem); --allow-unverified-base overrides\n"
      "that. An empty Coordinator with no saved transition needs no such check. The first manifest needs no\n"
      "signature; an update is signed with a workload owner key listed in the current manifest, over\n"
      "\"contrast-manifest-transition-v1 <SHA-256 of the Coordinator root CA key> <transition>\", where the\n"
      "transition is the new manifest on top of the latest one: the signature is good at this Coordinator only.\n"
      "--atomic: the update is conditional on the latest transition being --latest-transition, else the one in\n"
      "<workspace>/verify/latest-transition, else none (no manifest set yet); set stops if the Coordinator is\n"
      "elsewhere, and the Coordinator refuses it if its history moves on meanwhile, so no update is lost unseen.\n"
      "--signature: send a signature made by `contrast sign` (e.g. with an HSM) instead of signing here;\n"
      "--workload-owner-key then names the signer's key (a public key PEM is enough).\n"
      "Policy documents travel in several frames when they do not fit one; at most 1 MiB each, 1024 policies and\n"
      "64 MiB in all per manifest.\n"
      "Reads the manifest, the policies, the owner key, verify/latest-transition. Writes coordinator-root-ca.pem and\n"
      "mesh-ca.pem to the workspace, the new transition to verify/latest-transition, and on the first manifest of a\n"
      "manifest with SeedshareOwnerPubKeys seed-shares.json (mode 0600; an existing different file is never\n"
      "overwritten: the new shares then go to seed-shares.<time>.json). Back seed-shares.json up: `contrast\n"
      "recover` needs it.");
  set_cmd->add_option("-c,--coordinator", set->coordinator, "Coordinator user API, HOST:PORT (port 1313)")->required();
  set_cmd->add_option("-m,--manifest", set->manifest, "Manifest file")->capture_default_str();
  set_cmd->add_option("PATHS", set->policies,
                      "Kubernetes resources annotated by `contrast generate` (files or directories; their policies "
                      "must be exactly the manifest's), or policy documents (SHA-256 = policy hash)");
  set_cmd->add_option("--workload-owner-key", set->workload_owner_key,
                      "PKCS#8 PEM EC P-384 key listed in the current manifest's WorkloadOwnerKeyDigests (default: "
                      "workload-owner.pem in the workspace, if present); with --signature also a public key PEM");
  set_cmd->add_flag("--atomic", set->atomic, "Make the update conditional on the latest transition (see below)");
  set_cmd->add_option("--latest-transition", set->latest_transition,
                      "With --atomic: the transition the update builds on, 64 hex characters (default: "
                      "<workspace>/verify/latest-transition, else none)");
  set_cmd->add_option("-s,--signature", set->signature,
                      "Detached transition signature (DER) from `contrast sign`, sent instead of signing here");
  set_cmd->add_flag("--allow-unverified-base", set->allow_unverified_base,
                    "Build on the Coordinator's latest transition even if this workspace has not verified it");
  set_cmd
      ->add_option("--workspace-dir", set->workspace,
                   "Where workload-owner.pem and verify/ are read, and the certificates and seed shares go")
      ->capture_default_str();
  set_cmd->add_option_function<int>(
      "--timeout", [set](int seconds) { set->timeout = std::chrono::seconds(seconds); },
      "Seconds to keep retrying while the Coordinator is unavailable (default 120)");
  attest::AddCollateralFlags(*set_cmd, set->collateral, kCollateralCacheDefault);
  set_cmd->callback([&run, set, &out, &err] { run = [set, &out, &err] { return RunSet(*set, out, err); }; });

  auto verify = std::make_shared<VerifyCommand>();
  CLI::App* verify_cmd =
      app.add_subcommand("verify", "Attest the Coordinator and write its manifest history into verify/");
  verify_cmd->footer(
      "verify fetches the history a page at a time (newest first) and the policy documents by hash, so a history of\n"
      "any length works. Before writing anything, it recomputes the hash chain (T_i = SHA-256(SHA-256(manifest_i) ||\n"
      "T_i-1), T_0 = zero) and requires it to end at the Coordinator's latest transition, and requires the\n"
      "transition the previous verify saved in verify/latest-transition to still be in the history: a Coordinator\n"
      "whose store was rolled back to an older signed state, or replaced, fails here and verify/ is left as it was.\n"
      "verify/ then holds coordinator-root-ca.pem (also as mesh-root.pem), mesh-ca.pem, manifest.<i>.json oldest\n"
      "first, the policy documents by hash (policies/), and latest-transition (hex; `contrast set --atomic` and\n"
      "`contrast sign` build on it). A Coordinator that awaits recovery is reported as such; its history is still\n"
      "written, and the CA certificates of the previous verify are kept since it has none. Fails if the active\n"
      "manifest differs from the local one.");
  verify_cmd->add_option("-c,--coordinator", verify->coordinator, "Coordinator user API, HOST:PORT (port 1313)")
      ->required();
  verify_cmd->add_option("-m,--manifest", verify->manifest, "Manifest file")->capture_default_str();
  verify_cmd->add_option("--workspace-dir", verify->workspace, "Where verify/ goes")->capture_default_str();
  verify_cmd->add_option_function<int>(
      "--timeout", [verify](int seconds) { verify->timeout = std::chrono::seconds(seconds); },
      "Seconds to keep retrying while the Coordinator is unavailable (default 120)");
  attest::AddCollateralFlags(*verify_cmd, verify->collateral, kCollateralCacheDefault);
  verify_cmd->callback(
      [&run, verify, &out, &err] { run = [verify, &out, &err] { return RunVerify(*verify, out, err); }; });
}

}  // namespace contrast::cli
