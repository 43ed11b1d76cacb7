// Fuzz target: UserAPI.Recover on a restarted Coordinator (ManifestUpdater),
// with the request from the input.
//
// Set up once: an in-memory history made by a ManifestUpdater (one manifest
// with one seed-share owner, an RSA key made here). Each run opens a fresh
// ManifestUpdater on a COPY of that store (awaiting recovery, as after a
// restart) and calls Recover.
//
// Input: a serialized v1::RecoverRequest. Input that does not parse is taken
// as the seed itself, with the right salt. So that runs reach past the seed
// check, placeholders in a parsed request stand for the real values:
//   seed "real", salt "real"        the deployment's seed / salt
//   owner_public_key "owner"        the seed-share owner's PKCS#1 key
//   owner_signature "sign"          the owner's valid signature over
//                                   RecoverAuthorizationMessage for the final
//                                   seed, salt and force
// Invariants beyond "no crash":
//   - Recover succeeds only with the real seed and salt, and then recovers
//     exactly the stored transition and mesh CA and makes the state ready;
//   - a refused Recover leaves the store copy byte for byte unchanged and the
//     Coordinator awaiting recovery.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "../tests/support/memory_store.h"
#include "contrast/userapi.pb.h"
#include "coordinator/manifest_updater.h"
#include "crypto/keys.h"
#include "seed/shares.h"

namespace {

using contrast::Bytes;
using contrast::ByteView;
using contrast::testing::MemoryStore;
using namespace contrast::coordinator;

constexpr std::string_view kCoordinatorPolicy = "package agent_policy\n# coordinator\n";
constexpr std::string_view kWebPolicy = "package agent_policy\n# web\n";
// The Coordinator's session TLS key the signatures bind (any bytes do here).
constexpr std::string_view kCoordinatorSpki = "coordinator session key";

// A valid manifest whose SeedshareOwnerPubKeys lists `owner_hex`; the policy
// keys are the SHA-256 of the two documents above.
std::string ManifestJson(const std::string& owner_hex) {
  return R"({"Policies": {"7a9dcc4f9779040769e196a609287d84a1afa2db16bee093d2dc9c16984fb019": )"
         R"({"SANs": ["coordinator"], "Role": "coordinator"}, )"
         R"("b15e7b9a6e9dec3a87d621c8767c93e09c808bf67d91d92b23536c18a704f122": )"
         R"({"SANs": ["web"], "WorkloadSecretID": "web"}}, )"
         R"("ReferenceValues": {"emulated": [{"Platform": "Metal-QEMU-SNP", "ProductName": "Milan", )"
         R"("TrustedMeasurement": "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c6)"
         R"(0bd95b9c480cd81841f", "MinimumTCB": {"BootloaderVersion": 3, "TEEVersion": 0, "SNPVersion": 8, )"
         R"("MicrocodeVersion": 115}, "GuestPolicy": {"ABIMinor": 0, "ABIMajor": 0, "SMT": true}, )"
         R"("PlatformInfo": {"SMTEnabled": true}, "MinimumMitigationVector": 0, )"
         R"("EmulatedRootSHA256": "004b372cb547494db2f62d4b28602329781f2b358e5dbb14a62ad7e5767b3b4a"}]}, )"
         R"("WorkloadOwnerKeyDigests": ["abababababababababababababababababababababababababababababababab"], )"
         R"("SeedshareOwnerPubKeys": [")" +
         owner_hex + R"("]})";
}

Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

const std::shared_ptr<spdlog::logger>& NullLogger() {
  static const auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_st>());
  return logger;
}

template <typename T>
T MustHave(contrast::Result<T> result) {
  if (!result) std::abort();
  return std::move(*result);
}

// The stored history and what recovering it must give back.
struct Deployment {
  contrast::crypto::PrivateKey owner_key;
  Bytes owner_public_key;  // PKCS#1 DER
  Bytes seed;
  Bytes salt;
  MemoryStore store;
  SetManifestOutput first;
};

const Deployment& TheDeployment() {
  static const Deployment* deployment = [] {
    auto owner_key = MustHave(contrast::crypto::PrivateKey::Generate(contrast::crypto::KeyType::kRsa2048));
    Bytes owner_public_key = MustHave(contrast::seed::RsaPublicKeyPkcs1Der(owner_key));
    auto store = std::make_shared<MemoryStore>();
    StateGuard guard;
    contrast::observability::Registry registry;
    CoordinatorMetrics metrics(registry);
    auto updater = MustHave(ManifestUpdater::Open(store, guard, metrics, NullLogger()));
    SetManifestInput input;
    input.manifest = ToBytes(ManifestJson(contrast::HexEncode(owner_public_key)));
    input.policies = {ToBytes(kCoordinatorPolicy), ToBytes(kWebPolicy)};
    auto first = updater->SetManifest(input);
    if (!first || !first->seed_shares || first->seed_shares->shares.size() != 1) std::abort();
    Bytes seed = MustHave(contrast::seed::DecryptSeedShare(*first->seed_shares, owner_key));
    Bytes salt = first->seed_shares->salt;
    return new Deployment{std::move(owner_key), std::move(owner_public_key), std::move(seed), std::move(salt), *store,
                          std::move(*first)};
  }();
  return *deployment;
}

RecoverInput InputFrom(ByteView data, const Deployment& deployment) {
  RecoverInput input;
  input.coordinator_spki = ToBytes(kCoordinatorSpki);
  contrast::v1::RecoverRequest request;
  if (!request.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    input.seed.assign(data.begin(), data.end());
    input.salt = deployment.salt;
    return input;
  }
  input.seed = request.seed() == "real" ? deployment.seed : ToBytes(request.seed());
  input.salt = request.salt() == "real" ? deployment.salt : ToBytes(request.salt());
  input.force = request.force();
  input.owner_public_key =
      request.owner_public_key() == "owner" ? deployment.owner_public_key : ToBytes(request.owner_public_key());
  if (request.owner_signature() == "sign") {
    const Bytes message =
        contrast::seed::RecoverAuthorizationMessage(input.coordinator_spki, input.seed, input.salt, input.force);
    input.owner_signature = MustHave(contrast::seed::SignWithOwnerKey(deployment.owner_key, message));
  } else {
    input.owner_signature = ToBytes(request.owner_signature());
  }
  return input;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Deployment& deployment = TheDeployment();
  const RecoverInput input = InputFrom(ByteView(data, size), deployment);

  // A restarted Coordinator on its own copy of the store.
  auto store = std::make_shared<MemoryStore>(deployment.store);
  StateGuard guard;
  contrast::observability::Registry registry;
  CoordinatorMetrics metrics(registry);
  auto updater = MustHave(ManifestUpdater::Open(store, guard, metrics, NullLogger()));
  if (!guard.stale_reason()) std::abort();

  auto recovered = updater->Recover(input);
  if (recovered) {
    if (input.seed != deployment.seed || input.salt != deployment.salt) std::abort();
    if (recovered->latest_transition != deployment.first.transition_hash) std::abort();
    if (recovered->mesh_ca_pem != deployment.first.mesh_ca_pem) std::abort();
    if (recovered->root_ca_pem != deployment.first.root_ca_pem) std::abort();
    if (!guard.readiness().ready) std::abort();
  } else {
    if (store->values() != deployment.store.values()) std::abort();
    if (guard.readiness().ready || !guard.stale_reason()) std::abort();
  }
  return 0;
}
