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
    auto document = ReadFile(path, 16 * 1024 * 1024);
    if (!document) return Fail(document.error());
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

// The owner's signature over `transition`: made here, or the detached one
// checked here first, so a signature for another transition is named before
// anything is sent.
Result<Bytes> AuthorizeTransition(const OwnerAuthority& authority, const history::TransitionHash& transition,
                                  const history::TransitionHash& previous, const std::string& previous_source) {
  if (authority.key) return history::SignTransition(*authority.key, transition);
  if (auto valid = history::VerifyTransitionSignature(authority.spki, transition, *authority.signature); !valid) {
    return Fail(ErrorCode::kSignatureInvalid,
                "the signature in " + authority.signature_path.string() + " does not sign transition " +
                    HexEncode(transition) + " (this manifest on top of " + HexEncode(previous) + ", " +
                    previous_source + ") with the key " + authority.key_path.string() + ": " + valid.error().message +
                    ". Sign again with `contrast sign --latest-transition " + HexEncode(previous) +
                    "` (run `contrast verify` first to review the current history)");
  }
  return *authority.signature;
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
  std::optional<PreviousTransition> conditional;
  if (command.atomic) {
    auto previous = ResolvePreviousTransition(command.latest_transition, command.workspace);
    if (!previous) return Usage(err, previous.error());
    if (!IsZero(previous->hash) && !authority->present()) {
      return Usage(err, Error{ErrorCode::kInvalidArgument,
                              "an update (on top of transition " + HexEncode(previous->hash) +
                                  ") must be signed: pass --workload-owner-key, or --signature from `contrast sign`"});
    }
    conditional = std::move(*previous);
  }
  if (local->parsed.insecure()) PrintInsecureWarning(err);

  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, out);
  v1::SetManifestRequest request;
  request.set_manifest(std::string(AsChars(local->bytes)));
  for (const Bytes& document : *policies) request.add_policies(std::string(AsChars(document)));

  if (conditional || authority->present()) {
    // An update is signed over the transition it makes: the new manifest on
    // top of the latest transition, which --atomic names and otherwise the
    // Coordinator tells.
    history::TransitionHash previous{};
    std::string previous_source;
    if (conditional) {
      previous = conditional->hash;
      previous_source = conditional->source;
      out << "The update is conditional on the latest transition being " << HexEncode(previous) << " ("
          << previous_source << ").\n";
    } else {
      v1::GetManifestsResponse current;
      auto attested = coordinator.Call(StartGetManifests, v1::GetManifestsRequest{}, &current);
      if (attested) {
        if (current.awaiting_recovery()) {
          return Failed(err, Error{ErrorCode::kFailedPrecondition,
                                   "the Coordinator awaits recovery (" + current.reason() +
                                       "): a seed-share owner must run `contrast recover` first"});
        }
        if (current.latest_transition_hash().size() != previous.size()) {
          return Failed(err, Error{ErrorCode::kParse, "the Coordinator sent a malformed latest transition hash"});
        }
        std::copy(current.latest_transition_hash().begin(), current.latest_transition_hash().end(), previous.begin());
      } else if (attested.error().code != ErrorCode::kNotFound) {
        return Failed(err, attested.error());
      }
      previous_source = "the Coordinator's latest transition";
    }
    request.set_previous_transition_hash(std::string(AsChars(previous)));
    if (authority->present()) {
      const auto transition = history::ComputeTransitionHash(manifest::ManifestHash(local->bytes), previous);
      auto signature = AuthorizeTransition(*authority, transition, previous, previous_source);
      if (!signature) return conditional ? Usage(err, signature.error()) : Failed(err, signature.error());
      request.set_owner_public_key(std::string(AsChars(authority->spki)));
      request.set_owner_signature(std::string(AsChars(*signature)));
    }
  }

  v1::SetManifestResponse response;
  auto attested = coordinator.Call(StartSetManifest, request, &response);
  if (!attested) {
    const int code = Failed(err, attested.error());
    if (conditional && attested.error().code == ErrorCode::kFailedPrecondition) {
      err << "hint: the update was conditional on transition " << HexEncode(conditional->hash) << " ("
          << conditional->source
          << ") and the Coordinator refused it: its history has moved on (or it awaits recovery). Run `contrast "
             "verify`, review the manifests it writes, then prepare the update again on top of the new latest "
             "transition.\n";
    }
    return code;
  }
  PrintAttested(out, command.coordinator, *attested);
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
  out << "Manifest set (transition " << HexEncode(AsBytes(response.transition_hash())) << ").\n"
      << "Wrote " << (command.workspace / "coordinator-root-ca.pem").string() << " and "
      << (command.workspace / "mesh-ca.pem").string() << "\n";
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
Result<CertificateFallback> WriteVerifyDirectory(const std::filesystem::path& dir,
                                                 const v1::GetManifestsResponse& response,
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
    const std::string& pem = std::string_view(name) == "mesh-ca.pem" ? response.mesh_ca() : response.root_ca();
    if (!pem.empty() || !response.awaiting_recovery()) {
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
  for (int i = 0; i < response.manifests_size() && status; ++i) {
    status = write("manifest." + std::to_string(i) + ".json", response.manifests(i));
  }
  for (const std::string& policy : response.policies()) {
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
  if (local->parsed.insecure()) PrintInsecureWarning(err);
  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, out);
  v1::GetManifestsResponse response;
  auto attested = coordinator.Call(StartGetManifests, v1::GetManifestsRequest{}, &response);
  if (!attested) return Failed(err, attested.error());
  PrintAttested(out, command.coordinator, *attested);

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

  if (response.awaiting_recovery()) {
    err << "\nThe Coordinator AWAITS RECOVERY" << (response.reason().empty() ? std::string() : ": " + response.reason())
        << "\n"
        << "Its history is shown as stored: the hash chain links up (checked here), but only a Coordinator holding "
           "the seed can check the signature on it. A seed-share owner brings it back with `contrast recover`.\n\n";
  }
  auto written = WriteVerifyDirectory(dir, response, latest);
  if (!written) return Failed(err, written.error());
  out << "Wrote " << dir.string() << "/: coordinator-root-ca.pem, mesh-root.pem, mesh-ca.pem, "
      << response.manifests_size() << " manifest(s) oldest first, " << response.policies_size()
      << " policy document(s), latest-transition (" << HexEncode(latest) << ")\n";
  if (!written->kept.empty()) {
    err << "The Coordinator sent no CA certificates (it awaits recovery): kept " << JoinNames(written->kept)
        << " from the previous verify.\n";
  }
  if (!written->missing.empty()) {
    err << "The Coordinator sent no CA certificates (it awaits recovery) and no earlier verify saved them: "
        << JoinNames(written->missing) << " are missing from " << dir.string() << "/.\n";
  }
  if (response.manifests_size() == 0 || AsBytes(response.manifests(response.manifests_size() - 1)).size() == 0) {
    return Failed(err, Error{ErrorCode::kValidationFailed, "the Coordinator has no manifest"});
  }
  const std::string& active = response.manifests(response.manifests_size() - 1);
  if (active != AsChars(local->bytes)) {
    return Failed(
        err, Error{ErrorCode::kValidationFailed,
                   "the Coordinator's active manifest differs from " + command.manifest.string() + " (see " +
                       (dir / ("manifest." + std::to_string(response.manifests_size() - 1) + ".json")).string() + ")"});
  }
  out << "The active manifest equals " << command.manifest.string() << ": the deployment runs what it names.\n";
  return kExitOk;
}

void AddCoordinatorCommands(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  auto set = std::make_shared<SetCommand>();
  CLI::App* set_cmd = app.add_subcommand("set", "Attest the Coordinator against the manifest, then set the manifest");
  set_cmd->footer(
      "Nothing is sent before the Coordinator's evidence matches the manifest (its Role \"coordinator\" policy\n"
      "and the reference values). The first manifest needs no signature; an update is signed with a workload owner\n"
      "key listed in the current manifest, over the transition it makes (the new manifest on top of the latest\n"
      "transition, which the Coordinator tells, or with --atomic the one named locally).\n"
      "--atomic: the update is conditional on the latest transition being --latest-transition, else the one in\n"
      "<workspace>/verify/latest-transition (written by `contrast verify`), else none (no manifest set yet); the\n"
      "Coordinator refuses it if its history has moved on, so no update made by someone else is lost unseen.\n"
      "--signature: send a signature made by `contrast sign` (e.g. with an HSM) instead of signing here;\n"
      "--workload-owner-key then names the signer's key (a public key PEM is enough).\n"
      "Reads the manifest, the policies, the owner key, verify/latest-transition (--atomic). Writes\n"
      "coordinator-root-ca.pem and mesh-ca.pem to the workspace, and on the first manifest of a manifest with\n"
      "SeedshareOwnerPubKeys seed-shares.json (mode 0600; an existing different file is never overwritten: the new\n"
      "shares then go to seed-shares.<time>.json). Back seed-shares.json up: `contrast recover` needs it.");
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
  set_cmd
      ->add_option("--workspace-dir", set->workspace,
                   "Where workload-owner.pem and verify/ are read, and the certificates and seed shares go")
      ->capture_default_str();
  set_cmd->add_option_function<int>(
      "--timeout", [set](int seconds) { set->timeout = std::chrono::seconds(seconds); },
      "Seconds to keep retrying while the Coordinator is unavailable (default 120)");
  set_cmd->callback([&run, set, &out, &err] { run = [set, &out, &err] { return RunSet(*set, out, err); }; });

  auto verify = std::make_shared<VerifyCommand>();
  CLI::App* verify_cmd =
      app.add_subcommand("verify", "Attest the Coordinator and write its manifest history into verify/");
  verify_cmd->footer(
      "Before writing anything, verify recomputes the history's hash chain (T_i = SHA-256(SHA-256(manifest_i) ||\n"
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
  verify_cmd->callback(
      [&run, verify, &out, &err] { run = [verify, &out, &err] { return RunVerify(*verify, out, err); }; });
}

}  // namespace contrast::cli
