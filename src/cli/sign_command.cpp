#include "cli/sign_command.h"

#include <ostream>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/coordinator_client.h"
#include "cli/history_check.h"
#include "cli/owner_keys.h"
#include "common/files.h"
#include "history/history.h"

namespace contrast::cli {

int RunSign(const SignCommand& command, std::ostream& out, std::ostream& err) {
  auto local = LoadManifest(command.manifest, err);
  if (!local) return kExitUsage;
  auto previous = ResolvePreviousTransition(command.latest_transition, command.workspace);
  if (!previous) return Usage(err, previous.error());
  if (previous->hash == history::kNoPreviousTransition) {
    return Usage(err, Error{ErrorCode::kInvalidArgument,
                            "no transition to build on (no --latest-transition, no " +
                                SavedLatestTransitionPath(command.workspace).string() +
                                "): the first manifest needs no signature. Run `contrast verify` first"});
  }
  const std::filesystem::path root_path =
      command.coordinator_root_ca.value_or(command.workspace / "verify" / "coordinator-root-ca.pem");
  auto root_pem = ReadTextFile(root_path, 64 * 1024);
  if (!root_pem) {
    return Usage(err, root_pem.error().Wrap("the Coordinator's root CA (a signature is good at one Coordinator only; "
                                            "run `contrast verify` or pass --coordinator-root-ca)"));
  }
  auto root_key = history::RootKeyDigestOfPem(*root_pem);
  if (!root_key) return Usage(err, root_key.error().Wrap(root_path.string()));
  const history::ManifestHash manifest_hash = manifest::ManifestHash(local->bytes);
  const history::TransitionHash transition = history::ComputeTransitionHash(manifest_hash, previous->hash);
  out << "Transition " << HexEncode(transition) << ": manifest " << command.manifest.string() << " (SHA-256 "
      << HexEncode(manifest_hash) << ") on top of " << HexEncode(previous->hash) << " (" << previous->source
      << "), at the Coordinator whose root CA key has SHA-256 " << HexEncode(*root_key) << " (" << root_path.string()
      << ")\n";

  if (command.prepare) {
    // No newline: the signer hashes exactly these bytes.
    if (auto written = WriteFileAtomic(command.out, history::TransitionSigningMessage(*root_key, transition), 0644);
        !written) {
      return Failed(err, written.error());
    }
    out << "Wrote the message to sign to " << command.out.string()
        << ". Sign SHA-256 of its bytes with the workload owner key (ECDSA, DER signature), then send it with "
           "`contrast set --atomic --latest-transition "
        << HexEncode(previous->hash) << " --signature SIGNATURE --workload-owner-key PUBLIC_KEY ...`\n";
    return kExitOk;
  }

  const std::filesystem::path key_path = command.workload_owner_key.value_or(command.workspace / "workload-owner.pem");
  auto key = LoadWorkloadOwnerKey(key_path);
  if (!key) return Usage(err, key.error());
  auto signature = history::SignTransition(*key, *root_key, transition);
  if (!signature) return Failed(err, signature.error());
  if (auto written = WriteFileAtomic(command.out, ByteView(*signature), 0644); !written) {
    return Failed(err, written.error());
  }
  out << "Wrote the signature (DER) to " << command.out.string() << ". Send it with `contrast set --atomic "
      << "--latest-transition " << HexEncode(previous->hash) << " --signature " << command.out.string()
      << " --workload-owner-key " << key_path.string() << " ...`\n";
  return kExitOk;
}

void AddSignCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  auto sign = std::make_shared<SignCommand>();
  CLI::App* cmd = app.add_subcommand("sign", "Sign a manifest transition offline, for `contrast set --signature`");
  cmd->footer(
      "The transition is T = SHA-256(SHA-256(manifest) || previous), where previous is --latest-transition, else\n"
      "the hash in <workspace>/verify/latest-transition (written by `contrast verify` and `contrast set`). The\n"
      "signed message is \"contrast-manifest-transition-v1 <R> <T>\" (lower-case hex, single spaces, no newline),\n"
      "where R is the SHA-256 of the public key (DER SubjectPublicKeyInfo) of the Coordinator's root CA from\n"
      "--coordinator-root-ca, else <workspace>/verify/coordinator-root-ca.pem: the signature is good at that\n"
      "Coordinator only. Writes --out: the ECDSA signature (SHA-256, DER) over that message, or with --prepare the\n"
      "message itself, for a signer that holds the key elsewhere (an HSM signs SHA-256 of those bytes). Reads the\n"
      "manifest, the root CA and the workload owner key; contacts nobody. The signature is only good on top of that\n"
      "previous transition: send it with `contrast set --atomic`.");
  cmd->add_option("-m,--manifest", sign->manifest, "The new manifest")->capture_default_str();
  cmd->add_option("--workload-owner-key", sign->workload_owner_key,
                  "PKCS#8 PEM EC P-384 key listed in the current manifest's WorkloadOwnerKeyDigests (default: "
                  "<workspace>/workload-owner.pem; not read with --prepare)");
  cmd->add_option("--latest-transition", sign->latest_transition,
                  "The transition the update builds on, 64 hex characters (default: <workspace>/verify/"
                  "latest-transition, else none)");
  cmd->add_option("--coordinator-root-ca", sign->coordinator_root_ca,
                  "PEM root CA of the Coordinator the update is for (default: <workspace>/verify/"
                  "coordinator-root-ca.pem)");
  cmd->add_flag("--prepare", sign->prepare, "Write the message to sign instead of a signature");
  cmd->add_option("-o,--out", sign->out, "Where to write the signature (or the message to sign)")->required();
  cmd->add_option("--workspace-dir", sign->workspace, "Where workload-owner.pem and verify/ are")
      ->capture_default_str();
  cmd->callback([&run, sign, &out, &err] { run = [sign, &out, &err] { return RunSign(*sign, out, err); }; });
}

}  // namespace contrast::cli
