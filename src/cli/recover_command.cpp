#include "cli/recover_command.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/coordinator_client.h"
#include "cli/output.h"
#include "common/files.h"
#include "crypto/hash.h"
#include "history/history.h"
#include "seed/shares.h"
#include "session/credentials.h"

namespace contrast::cli {
namespace {

constexpr size_t kMaxKeyFileSize = 64 * 1024;

// Overwrites a secret (Bytes or std::string) when it goes out of scope, on
// every path.
template <typename Secret>
class WipeOnExit {
 public:
  explicit WipeOnExit(Secret& secret) : secret_(secret) {}
  ~WipeOnExit() { OPENSSL_cleanse(secret_.data(), secret_.size()); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  Secret& secret_;
};

// A short name for an RSA public key in messages.
std::string Fingerprint(ByteView pkcs1) { return "SHA-256 " + HexEncode(crypto::Sha256(pkcs1)).substr(0, 16) + "…"; }

struct OwnerShare {
  crypto::PrivateKey key;
  Bytes public_key;  // PKCS#1 DER
  Bytes seed;        // secret
  Bytes salt;
};

// Everything local, checked before any network traffic: the key is a
// seed-share owner of the manifest and the document holds its share.
Result<OwnerShare> LoadOwnerShare(const RecoverCommand& command, const manifest::Manifest& manifest) {
  const std::filesystem::path key_path =
      command.seedshare_owner_key.value_or(command.workspace / "seedshare-owner.pem");
  const std::filesystem::path shares_path = command.seed_shares.value_or(command.workspace / "seed-shares.json");
  auto pem = ReadTextFile(key_path, kMaxKeyFileSize);
  if (!pem) return Fail(pem.error().Wrap("seed-share owner key"));
  auto key = seed::LoadSeedShareOwnerKey(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key) return Fail(key.error().Wrap("seed-share owner key " + key_path.string()));
  auto public_key = seed::RsaPublicKeyPkcs1Der(*key);
  if (!public_key) return Fail(public_key.error().Wrap("seed-share owner key " + key_path.string()));
  const auto& owners = manifest.seedshare_owner_pub_keys;
  if (std::find(owners.begin(), owners.end(), *public_key) == owners.end()) {
    return Fail(ErrorCode::kInvalidArgument,
                "the seed-share owner key " + key_path.string() + " (public key " + Fingerprint(*public_key) +
                    ") is not among the manifest's SeedshareOwnerPubKeys (" + std::to_string(owners.size()) +
                    " key(s)): the Coordinator would not accept it");
  }

  auto text = ReadTextFile(shares_path, seed::kMaxSeedShareDocumentSize);
  if (!text) return Fail(text.error().Wrap("seed shares"));
  auto document = seed::ParseSeedShareDocument(*text);
  if (!document) return Fail(document.error().Wrap(shares_path.string()));
  auto seed = seed::DecryptSeedShare(*document, *key);
  if (!seed && seed.error().code == ErrorCode::kNotFound) {
    return Fail(ErrorCode::kNotFound, shares_path.string() + " has no share for this key (its public key " +
                                          Fingerprint(*public_key) + " is not among the " +
                                          std::to_string(document->shares.size()) +
                                          " public key(s) of the document): use the seed-shares.json that "
                                          "`contrast set` wrote for this deployment, or another owner's key");
  }
  // DecryptSeedShare only returns seeds of a valid size.
  if (!seed)
    return Fail(ErrorCode::kCrypto, "cannot decrypt the share of " + key_path.string() + " in " + shares_path.string() +
                                        ": " + seed.error().message);
  return OwnerShare{std::move(*key), std::move(*public_key), std::move(*seed), std::move(document->salt)};
}

}  // namespace

int RunRecover(const RecoverCommand& command, std::ostream& out, std::ostream& err) {
  auto local = LoadManifest(command.manifest, err);
  if (!local) return kExitUsage;
  auto verifier_options = CommandVerifierOptions(command.collateral);
  if (!verifier_options) return Usage(err, verifier_options.error());
  auto share = LoadOwnerShare(command, local->parsed);
  if (!share) {
    return share.error().code == ErrorCode::kCrypto ? Failed(err, share.error()) : Usage(err, share.error());
  }
  // The seed lives in the share and in the request; both are wiped on return.
  WipeOnExit wipe_seed(share->seed);
  if (local->parsed.insecure()) PrintInsecureWarning(err);

  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, *verifier_options, out);
  v1::RecoverRequest request;
  WipeOnExit wipe_request(*request.mutable_seed());
  v1::RecoverResponse response;
  // The signature binds this connection's attested Coordinator key: built
  // anew for every attempt.
  auto build = [&](session::ClientSession& call) -> Result<const google::protobuf::MessageLite*> {
    auto spki = session::PeerSpkiDer(*call.context().auth_context());
    if (!spki) return Fail(spki.error().Wrap("the Coordinator's session key"));
    const Bytes message = seed::RecoverAuthorizationMessage(*spki, share->seed, share->salt, command.force);
    auto signature = seed::SignWithOwnerKey(share->key, message);
    if (!signature) return Fail(signature.error().Wrap("signing the recovery request"));
    request.mutable_seed()->assign(AsChars(share->seed));
    request.set_salt(std::string(AsChars(share->salt)));
    request.set_force(command.force);
    request.set_owner_public_key(std::string(AsChars(share->public_key)));
    request.set_owner_signature(std::string(AsChars(*signature)));
    return &request;
  };
  auto attested = coordinator.CallBuilt(StartRecover, build, &response);
  if (!attested) {
    const int code = Failed(err, attested.error());
    if (attested.error().code == ErrorCode::kFailedPrecondition && !command.force) {
      err << "hint: a Coordinator that is ready already refuses recovery; `contrast recover --force` replaces its "
             "state with the stored history's (workloads keep their certificates only if the mesh CA is the "
             "stored one)\n";
    }
    return code;
  }
  PrintAttested(out, command.coordinator, *attested);
  if (response.latest_transition_hash().size() != history::TransitionHash{}.size()) {
    return Failed(err, Error{ErrorCode::kParse, "the Coordinator sent a malformed latest transition hash"});
  }
  const std::filesystem::path root = command.workspace / "coordinator-root-ca.pem";
  const std::filesystem::path mesh = command.workspace / "mesh-ca.pem";
  for (const auto& [path, pem] : {std::pair{root, &response.root_ca()}, std::pair{mesh, &response.mesh_ca()}}) {
    if (auto written = WriteFileAtomic(path, *pem, 0644); !written) return Failed(err, written.error());
  }
  out << "The Coordinator recovered its state at transition " << HexEncode(AsBytes(response.latest_transition_hash()))
      << " and is ready.\nWrote " << root.string() << " and " << mesh.string()
      << ". Run `contrast verify` to check the history.\n";
  return kExitOk;
}

void AddRecoverCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  auto recover = std::make_shared<RecoverCommand>();
  CLI::App* cmd = app.add_subcommand(
      "recover", "Give a restarted Coordinator its seed back (seed-share owner): it then serves the stored history");
  cmd->footer(
      "Reads the manifest, the seed-share owner key and seed-shares.json (as `contrast set` wrote it on the first\n"
      "manifest). The key must be one of the manifest's SeedshareOwnerPubKeys and have a share in the document.\n"
      "Nothing is sent before the Coordinator's evidence matches the manifest; the seed then goes to it with a\n"
      "signature by the seed-share owner key that binds this attested connection. The Coordinator checks the\n"
      "stored history with the keys the seed derives before it accepts anything. Writes coordinator-root-ca.pem\n"
      "and mesh-ca.pem to the workspace. The seed is never printed or logged.");
  cmd->add_option("-c,--coordinator", recover->coordinator, "Coordinator user API, HOST:PORT (port 1313)")->required();
  cmd->add_option("-m,--manifest", recover->manifest, "Manifest to attest the Coordinator against")
      ->capture_default_str();
  cmd->add_option("--seedshare-owner-key", recover->seedshare_owner_key,
                  "RSA private key (PKCS#8 or PKCS#1 PEM) listed in the manifest's SeedshareOwnerPubKeys (default: "
                  "<workspace>/seedshare-owner.pem)");
  cmd->add_option("--seed", recover->seed_shares,
                  "The seed shares `contrast set` wrote (default: <workspace>/seed-shares.json)");
  cmd->add_flag("--force", recover->force,
                "Recover even a Coordinator that is ready (replaces its state with the stored history's)");
  cmd->add_option("--workspace-dir", recover->workspace,
                  "Where the default key and seed shares are, and where the CA certificates go")
      ->capture_default_str();
  cmd->add_option_function<int>(
      "--timeout", [recover](int seconds) { recover->timeout = std::chrono::seconds(seconds); },
      "Seconds to keep retrying while the Coordinator is unavailable (default 120)");
  attest::AddCollateralFlags(*cmd, recover->collateral, kCollateralCacheDefault);
  cmd->callback(
      [&run, recover, &out, &err] { run = [recover, &out, &err] { return RunRecover(*recover, out, err); }; });
}

}  // namespace contrast::cli
