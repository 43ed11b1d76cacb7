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
  const history::ManifestHash manifest_hash = manifest::ManifestHash(local->bytes);
  const history::TransitionHash transition = history::ComputeTransitionHash(manifest_hash, previous->hash);
  const std::string transition_hex = HexEncode(transition);
  out << "Transition " << transition_hex << ": manifest " << command.manifest.string() << " (SHA-256 "
      << HexEncode(manifest_hash) << ") on top of " << HexEncode(previous->hash) << " (" << previous->source << ")\n";

  if (command.prepare) {
    // No newline: the signer hashes exactly these 64 characters.
    if (auto written = WriteFileAtomic(command.out, transition_hex, 0644); !written) {
      return Failed(err, written.error());
    }
    out << "Wrote the transition hash to " << command.out.string()
        << ". Sign SHA-256 of its 64 characters with the workload owner key (ECDSA, DER signature), then send it "
           "with `contrast set --atomic --latest-transition "
        << HexEncode(previous->hash) << " --signature SIGNATURE --workload-owner-key PUBLIC_KEY ...`\n";
    return kExitOk;
  }

  const std::filesystem::path key_path = command.workload_owner_key.value_or(command.workspace / "workload-owner.pem");
  auto key = LoadWorkloadOwnerKey(key_path);
  if (!key) return Usage(err, key.error());
  auto signature = history::SignTransition(*key, transition);
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
      "the hash in <workspace>/verify/latest-transition (written by `contrast verify`), else 32 zero bytes (no\n"
      "manifest set yet). Writes --out: the ECDSA signature (DER) over SHA-256 of the lower-case hex of T, or with\n"
      "--prepare the 64 hex characters of T themselves (no newline), for a signer that holds the key elsewhere\n"
      "(an HSM signs SHA-256 of that text). Reads the manifest and the workload owner key; contacts nobody.\n"
      "The signature is only good on top of that previous transition: send it with `contrast set --atomic`.");
  cmd->add_option("-m,--manifest", sign->manifest, "The new manifest")->capture_default_str();
  cmd->add_option("--workload-owner-key", sign->workload_owner_key,
                  "PKCS#8 PEM EC P-384 key listed in the current manifest's WorkloadOwnerKeyDigests (default: "
                  "<workspace>/workload-owner.pem; not read with --prepare)");
  cmd->add_option("--latest-transition", sign->latest_transition,
                  "The transition the update builds on, 64 hex characters (default: <workspace>/verify/"
                  "latest-transition, else none)");
  cmd->add_flag("--prepare", sign->prepare, "Write the transition hash instead of a signature");
  cmd->add_option("-o,--out", sign->out, "Where to write the signature (or the transition hash)")->required();
  cmd->add_option("--workspace-dir", sign->workspace, "Where workload-owner.pem and verify/ are")
      ->capture_default_str();
  cmd->callback([&run, sign, &out, &err] { run = [sign, &out, &err] { return RunSign(*sign, out, err); }; });
}

}  // namespace contrast::cli
