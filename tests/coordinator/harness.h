// Shared pieces of the Coordinator tests: an emulated platform, manifests
// that trust it, a Coordinator on loopback ports picked at run time, and
// user / mesh API clients that speak the real session protocol.
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/issuer.h"
#include "attest/emulated/secure_processor.h"
#include "attest/evidence_verifier.h"
#include "attestation_policy/reference_values.h"
#include "common/files.h"
#include "contrast/meshapi.grpc.pb.h"
#include "contrast/userapi.grpc.pb.h"
#include "coordinator/coordinator.h"
#include "coordinator/manifest_updater.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "history/history.h"
#include "manifest/manifest.h"
#include "seed/engine.h"
#include "seed/shares.h"
#include "session/credentials.h"
#include "session/nonce.h"
#include "session/protocol.h"
#include "support/memory_store.h"

namespace contrast::coordinator::testing {

using attest::emulated::SecureProcessor;

template <typename T>
T Must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().message);
  return std::move(*result);
}

// A call the server refused with gRPC status `code` ("PERMISSION_DENIED").
MATCHER_P(RefusedWith, code, "") {
  if (arg) {
    *result_listener << "the call succeeded";
    return false;
  }
  *result_listener << "the call failed with: " << arg.error().message;
  return arg.error().message.find(std::string("server: ") + code + ":") == 0;
}

inline Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(ByteView b) { return std::string(AsChars(b)); }

// A directory removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "contrast-coordinator-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- The emulated platform ---------------------------------------------

inline const attest::emulated::Measurement kMeasurement = [] {
  attest::emulated::Measurement m;
  m.fill(0x4D);
  return m;
}();

inline const SecureProcessor& MakeEmulator(std::optional<SecureProcessor>& slot, std::once_flag& once) {
  std::call_once(once, [&] {
    attest::emulated::SecureProcessorOptions options;
    options.ca_key_type_for_test = crypto::KeyType::kRsa2048;  // fast; the shape is the same
    slot.emplace(Must(SecureProcessor::CreateInMemory(options)));
  });
  return *slot;
}
// The emulator the test manifests pin.
inline const SecureProcessor& Emulator() {
  static std::optional<SecureProcessor> slot;
  static std::once_flag once;
  return MakeEmulator(slot, once);
}
// One nobody pins.
inline const SecureProcessor& OtherEmulator() {
  static std::optional<SecureProcessor> slot;
  static std::once_flag once;
  return MakeEmulator(slot, once);
}

// Policy documents; their SHA-256 is the VM's HOST_DATA.
inline const std::string kCoordinatorPolicy = "package agent_policy\n# coordinator\n";
inline const std::string kWebPolicy = "package agent_policy\n# web\n";
inline const std::string kDbPolicy = "package agent_policy\n# db\n";
inline const std::string kUnlistedPolicy = "package agent_policy\n# not in any manifest\n";
// Only in SecretsManifest: a workload without a WorkloadSecretID.
inline const std::string kCachePolicy = "package agent_policy\n# cache\n";

inline manifest::PolicyHash HashOf(const std::string& policy) { return manifest::PolicyHashOf(AsBytes(policy)); }

// Evidence of a VM launched with `policy` on `sp`.
inline std::shared_ptr<attest::emulated::InsecureEmulatedIssuer> IssuerFor(const std::string& policy,
                                                                           const SecureProcessor& sp = Emulator()) {
  auto vm = Must(sp.RegisterVm(kMeasurement, HashOf(policy).bytes));
  return std::make_shared<attest::emulated::InsecureEmulatedIssuer>(
      attest::emulated::InsecureEmulatedIssuer::ForVm(sp, vm));
}

// ---- Keys and manifests -------------------------------------------------

struct OwnerKey {
  crypto::PrivateKey key;
  Bytes spki;
};
inline OwnerKey MakeOwnerKey() {
  auto key = Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384));
  Bytes spki = Must(key.PublicKeyDer());
  return OwnerKey{std::move(key), std::move(spki)};
}
inline const OwnerKey& Owner() {
  static const OwnerKey owner = MakeOwnerKey();
  return owner;
}
inline const OwnerKey& Stranger() {
  static const OwnerKey stranger = MakeOwnerKey();
  return stranger;
}

inline attest::emulated::InsecureEmulatedReferenceValues EmulatedEntry(const SecureProcessor& sp = Emulator()) {
  attest::emulated::InsecureEmulatedReferenceValues entry;
  entry.snp.platform = "Emulated-SNP";
  entry.snp.product = sp.product();
  entry.snp.trusted_measurement = kMeasurement;
  entry.snp.minimum_tcb = sp.tcb();
  entry.snp.guest_policy.smt = true;
  entry.snp.platform_info.smt_enabled = true;
  // The emulator publishes no CRL (`contrast generate` writes this for
  // emulated entries too).
  entry.snp.allow_missing_revocation_check = true;
  entry.root_sha256 = crypto::Sha256(sp.ark_der());
  return entry;
}

// Coordinator, web (with a workload secret id) and db; owned by Owner().
inline manifest::Manifest BaseManifest() {
  manifest::Manifest m;
  m.policies[HashOf(kCoordinatorPolicy)] = {{"coordinator"}, "", manifest::Role::kCoordinator};
  m.policies[HashOf(kWebPolicy)] = {
      {"web", "*", "203.0.113.34", "spiffe://acme.com/web"}, "apps/v1/Deployment/default/web", manifest::Role::kNone};
  m.policies[HashOf(kDbPolicy)] = {{"db"}, "", manifest::Role::kNone};
  m.reference_values.emulated.push_back(EmulatedEntry());
  m.workload_owner_key_digests.push_back(crypto::Sha256(Owner().spki));
  return m;
}

inline std::vector<std::string> AllPolicies() { return {kCoordinatorPolicy, kWebPolicy, kDbPolicy}; }

// ---- Seed-share owners and workload secrets ---------------------------------

// RSA-2048 seed-share owner keys: 0 and 1 are listed by SeededManifest, 2 is
// listed nowhere. Made once per process (RSA key generation is slow).
inline const crypto::PrivateKey& SeedshareOwnerKey(size_t index) {
  static const std::vector<crypto::PrivateKey> keys = [] {
    std::vector<crypto::PrivateKey> made;
    for (int i = 0; i < 3; ++i) made.push_back(Must(crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048)));
    return made;
  }();
  return keys.at(index);
}
// What SeedshareOwnerPubKeys lists for `key`: PKCS#1 DER (hex in the JSON).
inline Bytes SeedsharePublicKey(const crypto::PrivateKey& key) { return Must(seed::RsaPublicKeyPkcs1Der(key)); }

// BaseManifest with seed-share owners 0 and 1.
inline manifest::Manifest SeededManifest() {
  manifest::Manifest m = BaseManifest();
  m.seedshare_owner_pub_keys = {SeedsharePublicKey(SeedshareOwnerKey(0)), SeedsharePublicKey(SeedshareOwnerKey(1))};
  return m;
}

// SeededManifest with workload secrets: web "web", db "db", and cache (a
// fourth policy) without a WorkloadSecretID.
inline manifest::Manifest SecretsManifest() {
  manifest::Manifest m = SeededManifest();
  m.policies[HashOf(kWebPolicy)].workload_secret_id = "web";
  m.policies[HashOf(kDbPolicy)].workload_secret_id = "db";
  m.policies[HashOf(kCachePolicy)] = {{"cache"}, "", manifest::Role::kNone};
  return m;
}

// The seed and salt a seed-share owner holds.
struct SeedAndSalt {
  Bytes seed;
  Bytes salt;
};

inline seed::SeedShareDocument FromProto(const v1::SeedShareDocument& proto) {
  seed::SeedShareDocument document;
  for (const v1::SeedShare& share : proto.seed_shares()) {
    document.shares.push_back({ToBytes(share.public_key()), ToBytes(share.encrypted_seed())});
  }
  document.salt = ToBytes(proto.salt());
  return document;
}

// The seed from `owner`'s share of a SetManifest response's document.
inline SeedAndSalt DecryptShare(const v1::SeedShareDocument& proto, const crypto::PrivateKey& owner) {
  const seed::SeedShareDocument document = FromProto(proto);
  return SeedAndSalt{Must(seed::DecryptSeedShare(document, owner)), document.salt};
}

// Builds a Recover request once the Coordinator is attested, from the
// Coordinator's session TLS key on that very connection.
using RecoverRequestBuilder = std::function<v1::RecoverRequest(ByteView coordinator_spki)>;

// A request a seed-share owner would send: `owner` signs
// seed::RecoverAuthorizationMessage for the Coordinator's key.
inline v1::RecoverRequest SignedRecoverRequest(ByteView coordinator_spki, const SeedAndSalt& secret,
                                               const crypto::PrivateKey& owner, bool force) {
  v1::RecoverRequest request;
  request.set_seed(ToString(secret.seed));
  request.set_salt(ToString(secret.salt));
  request.set_force(force);
  request.set_owner_public_key(ToString(SeedsharePublicKey(owner)));
  const Bytes message = seed::RecoverAuthorizationMessage(coordinator_spki, secret.seed, secret.salt, force);
  request.set_owner_signature(ToString(Must(seed::SignWithOwnerKey(owner, message))));
  return request;
}
inline RecoverRequestBuilder SignedRecover(SeedAndSalt secret, const crypto::PrivateKey& owner, bool force = false) {
  return [secret = std::move(secret), &owner, force](ByteView spki) {
    return SignedRecoverRequest(spki, secret, owner, force);
  };
}

// A SetManifest request for `manifest_text` carrying `policies`.
inline v1::SetManifestRequest Request(const std::string& manifest_text,
                                      const std::vector<std::string>& policies = AllPolicies()) {
  v1::SetManifestRequest request;
  request.set_manifest(manifest_text);
  for (const std::string& policy : policies) request.add_policies(policy);
  return request;
}

// The digest of a Coordinator's root CA key (the SetManifest response's
// root_ca): what an owner signature is bound to.
inline history::RootKeyDigest RootKeyOf(const std::string& root_ca_pem) {
  return Must(history::RootKeyDigestOfPem(root_ca_pem));
}

// The same request, signed by `owner` as the transition from `previous` at
// the Coordinator whose root CA is `root_ca_pem`.
inline v1::SetManifestRequest Signed(v1::SetManifestRequest request, const OwnerKey& owner,
                                     const history::TransitionHash& previous, const std::string& root_ca_pem) {
  const history::TransitionHash transition =
      history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(request.manifest())), previous);
  request.set_owner_public_key(ToString(owner.spki));
  request.set_owner_signature(ToString(Must(history::SignTransition(owner.key, RootKeyOf(root_ca_pem), transition))));
  return request;
}

inline history::TransitionHash HashFromBytes(const std::string& bytes) {
  history::TransitionHash hash{};
  if (bytes.size() != hash.size()) throw std::runtime_error("not a 32-byte hash");
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

// ---- Clients -------------------------------------------------------------

// Client-side attestation state shared by all test clients.
inline const attest::EvidenceVerifier& ClientVerifier() {
  static const attest::EvidenceVerifier verifier;
  return verifier;
}
inline session::NonceTracker& ClientNonces() {
  static session::NonceTracker nonces;
  return nonces;
}

// The workload owner's side of the user API: verifies the Coordinator
// against `trusted` (a manifest) before sending anything.
class UserClient {
 public:
  explicit UserClient(const std::string& target)
      : identity_(Must(session::SessionIdentity::Generate())),
        stub_(v1::UserAPI::NewStub(Must(session::CreateSessionChannel(target, identity_)))) {}

  Result<v1::VersionResponse> GetVersion() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::VersionResponse response;
    const grpc::Status status = stub_->GetVersion(&context, v1::VersionRequest{}, &response);
    if (!status.ok()) return Fail(session::FromGrpcStatus(status));
    return response;
  }

  Result<v1::SetManifestResponse> SetManifest(const v1::SetManifestRequest& request,
                                              const manifest::Manifest& trusted) {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->SetManifest(c); });
    return Exchange<v1::SetManifestResponse>(call, request, trusted);
  }

  // One page: from `from` (32 bytes), else from the latest transition.
  Result<v1::GetManifestsResponse> GetManifests(const manifest::Manifest& trusted, const std::string& from = "") {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->GetManifests(c); });
    v1::GetManifestsRequest request;
    request.set_from_transition_hash(from);
    return Exchange<v1::GetManifestsResponse>(call, request, trusted);
  }

  // Every page, oldest manifest first, and the documents of every policy
  // they name; the CA certificates and the latest transition of the first
  // page. Checks nothing beyond what the paging needs (the CLI's checks are
  // tested with the CLI).
  struct History {
    std::vector<std::string> manifests;
    std::vector<std::string> policies;
    std::string root_ca;
    std::string mesh_ca;
    std::string latest_transition_hash;
    bool awaiting_recovery = false;
    std::string reason;
    size_t pages = 0;
  };
  Result<History> GetHistory(const manifest::Manifest& trusted) {
    History history;
    std::string from;
    for (bool more = true; more;) {
      auto page = GetManifests(trusted, from);
      if (!page) return Fail(page.error());
      if (history.pages++ == 0) {
        history.root_ca = page->root_ca();
        history.mesh_ca = page->mesh_ca();
        history.latest_transition_hash = page->latest_transition_hash();
        history.awaiting_recovery = page->awaiting_recovery();
        history.reason = page->reason();
      }
      if (page->entries_size() == 0) return Fail(ErrorCode::kValidationFailed, "an empty page");
      for (const v1::ManifestHistoryEntry& entry : page->entries()) history.manifests.push_back(entry.manifest());
      from = page->entries(page->entries_size() - 1).previous_transition_hash();
      more = page->more();
    }
    std::reverse(history.manifests.begin(), history.manifests.end());
    std::set<manifest::PolicyHash> seen;
    std::vector<std::string> wanted;
    for (const std::string& text : history.manifests) {
      auto parsed = manifest::ParseManifest(text);
      if (!parsed) return Fail(parsed.error());
      for (const auto& [hash, entry] : parsed->policies) {
        if (seen.insert(hash).second) wanted.push_back(ToString(hash.bytes));
      }
    }
    while (history.policies.size() < wanted.size()) {
      v1::GetPoliciesRequest request;
      for (size_t i = history.policies.size(); i < wanted.size() && request.policy_hashes_size() < 1024; ++i) {
        request.add_policy_hashes(wanted[i]);
      }
      auto documents = GetPolicies(request, trusted);
      if (!documents) return Fail(documents.error());
      if (documents->policies_size() == 0) return Fail(ErrorCode::kValidationFailed, "no documents");
      for (const std::string& document : documents->policies()) history.policies.push_back(document);
    }
    return history;
  }

  Result<v1::GetPoliciesResponse> GetPolicies(const v1::GetPoliciesRequest& request,
                                              const manifest::Manifest& trusted) {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->GetPolicies(c); });
    return Exchange<v1::GetPoliciesResponse>(call, request, trusted);
  }

  Result<v1::GetLatestTransitionResponse> GetLatestTransition(const manifest::Manifest& trusted) {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->GetLatestTransition(c); });
    return Exchange<v1::GetLatestTransitionResponse>(call, v1::GetLatestTransitionRequest{}, trusted);
  }

  // SetManifest with `follow_ups` sent after the request, a frame each.
  Result<v1::SetManifestResponse> SetManifestInFrames(const v1::SetManifestRequest& request,
                                                      const std::vector<v1::SetManifestPolicies>& follow_ups,
                                                      const manifest::Manifest& trusted) {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->SetManifest(c); });
    if (auto attested = AttestCoordinator(call, trusted); !attested) return Fail(attested.error());
    if (auto sent = call.Send(request); !sent) return Fail(sent.error());
    for (const v1::SetManifestPolicies& follow_up : follow_ups) {
      if (auto sent = call.Send(follow_up); !sent) return Fail(sent.error());
    }
    v1::SetManifestResponse response;
    if (auto received = call.Receive(&response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return response;
  }

  // `build` makes the request after the Coordinator is attested, from its
  // session TLS key on this connection (what a recovery signature binds).
  Result<v1::RecoverResponse> Recover(const RecoverRequestBuilder& build, const manifest::Manifest& trusted) {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->Recover(c); });
    auto spki = AttestCoordinator(call, trusted);
    if (!spki) return Fail(spki.error());
    return SendAndReceive<v1::RecoverResponse>(call, build(*spki));
  }

  v1::UserAPI::Stub& stub() { return *stub_; }

 private:
  template <typename Response>
  Result<Response> Exchange(session::ClientSession& call, const google::protobuf::MessageLite& request,
                            const manifest::Manifest& trusted) {
    if (auto attested = AttestCoordinator(call, trusted); !attested) return Fail(attested.error());
    return SendAndReceive<Response>(call, request);
  }

  // Verifies the Coordinator against `trusted`; its session TLS key (DER
  // SubjectPublicKeyInfo) as seen on this connection.
  static Result<Bytes> AttestCoordinator(session::ClientSession& call, const manifest::Manifest& trusted) {
    auto coordinator = call.AttestPeer(session::Role::kCoordinator, ClientVerifier(),
                                       attestation_policy::CoordinatorReferenceValues(trusted), ClientNonces());
    if (!coordinator) return Fail(coordinator.error());
    const std::shared_ptr<const grpc::AuthContext> auth = call.context().auth_context();
    if (!auth) return Fail(ErrorCode::kCertificateInvalid, "the call has no TLS peer");
    return session::PeerSpkiDer(*auth);
  }

  template <typename Response>
  static Result<Response> SendAndReceive(session::ClientSession& call, const google::protobuf::MessageLite& request) {
    if (auto sent = call.Send(request); !sent) return Fail(sent.error());
    Response response;
    if (auto received = call.Receive(&response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return response;
  }

  session::SessionIdentity identity_;
  std::unique_ptr<v1::UserAPI::Stub> stub_;
};

// A workload's Initializer on the mesh API.
class MeshClient {
 public:
  explicit MeshClient(const std::string& target)
      : identity_(Must(session::SessionIdentity::Generate())),
        stub_(v1::MeshAPI::NewStub(Must(session::CreateSessionChannel(target, identity_)))) {}

  // The whole exchange, as the Initializer runs it; the evidence binds
  // `bound_spki` (default: this client's TLS key). The Coordinator must
  // attest as BaseManifest()'s Coordinator.
  Result<v1::NewMeshCertResponse> NewMeshCert(attest::Issuer& issuer, std::optional<Bytes> bound_spki = std::nullopt) {
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->NewMeshCert(c); });
    if (auto sent = call.Send(v1::NewMeshCertRequest{}); !sent) return Fail(sent.error());
    if (auto attested =
            call.AttestSelf(session::Role::kWorkload, issuer, bound_spki ? *bound_spki : identity_.spki_der());
        !attested) {
      return Fail(attested.error());
    }
    if (auto coordinator =
            call.AttestPeer(session::Role::kCoordinator, ClientVerifier(),
                            attestation_policy::CoordinatorReferenceValues(BaseManifest()), ClientNonces());
        !coordinator) {
      return Fail(coordinator.error());
    }
    v1::NewMeshCertResponse response;
    if (auto received = call.Receive(&response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return response;
  }

  const session::SessionIdentity& identity() const { return identity_; }

 private:
  session::SessionIdentity identity_;
  std::unique_ptr<v1::MeshAPI::Stub> stub_;
};

// ---- The Coordinator under test -------------------------------------------

inline std::shared_ptr<spdlog::logger> QuietLogger() {
  // Refusals are expected in these tests; keep the output for real trouble.
  auto logger = std::make_shared<spdlog::logger>("coordinator-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  if (::getenv("CONTRAST_TEST_LOGS") != nullptr) logger = spdlog::default_logger();
  return logger;
}

// ---- Histories built in memory ---------------------------------------------

using contrast::testing::MemoryStore;

// One manifest of a history to build, with the policy documents it sends.
struct HistoryStep {
  manifest::Manifest manifest;
  std::vector<std::string> policies;
};

// What a history built by BuildHistory leaves for the test.
struct BuiltHistory {
  SeedAndSalt secret;  // seed-share owner 0's
  std::string root_ca;
  history::TransitionHash latest{};
};

// Sets `steps` (the first with SeedshareOwnerPubKeys, the rest signed by
// Owner()) through a ManifestUpdater on `store`, as a Coordinator would have:
// hundreds of updates in a second or two, where the API with its directory
// store spends its time in fsync. A Coordinator started on the store then
// awaits recovery with `secret`.
inline BuiltHistory BuildHistory(const std::shared_ptr<history::Store>& store, const std::vector<HistoryStep>& steps) {
  StateGuard guard;
  observability::Registry registry;
  CoordinatorMetrics metrics(registry);
  auto updater = Must(ManifestUpdater::Open(store, guard, metrics, QuietLogger()));
  BuiltHistory built;
  for (const HistoryStep& step : steps) {
    SetManifestInput input;
    input.manifest = ToBytes(manifest::SerializeManifest(step.manifest));
    for (const std::string& policy : step.policies) input.policies.push_back(ToBytes(policy));
    if (!built.root_ca.empty()) {
      const history::TransitionHash transition =
          history::ComputeTransitionHash(manifest::ManifestHash(input.manifest), built.latest);
      input.owner_public_key = Owner().spki;
      input.owner_signature =
          Must(history::SignTransition(Owner().key, Must(history::RootKeyDigestOfPem(built.root_ca)), transition));
    }
    auto set = updater->SetManifest(input);
    if (!set) throw std::runtime_error(set.error().message);
    if (built.root_ca.empty()) {
      if (!set->seed_shares) throw std::runtime_error("the first manifest names no seed-share owners");
      const seed::SeedShareDocument& document = *set->seed_shares;
      built.secret = SeedAndSalt{Must(seed::DecryptSeedShare(document, SeedshareOwnerKey(0))), document.salt};
      built.root_ca = set->root_ca_pem;
    }
    built.latest = set->transition_hash;
  }
  return built;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorTest() : coordinator_issuer_(IssuerFor(kCoordinatorPolicy)) {}

  CoordinatorOptions Options() const {
    CoordinatorOptions options;
    options.user_api_address = "127.0.0.1:0";
    options.mesh_api_address = "127.0.0.1:0";
    options.probe_address = "127.0.0.1:0";
    options.state_dir = dir_.path() / "history";
    options.shutdown_timeout = std::chrono::seconds(5);
    options.logger = QuietLogger();
    return options;
  }

  void StartCoordinator() { StartCoordinator(Options()); }
  void StartCoordinator(const CoordinatorOptions& options) {
    auto started = Coordinator::Start(options, coordinator_issuer_);
    ASSERT_TRUE(started) << started.error().message;
    coordinator_ = std::move(*started);
  }
  void StopCoordinator() {
    if (coordinator_) coordinator_->Stop();
    coordinator_.reset();
  }
  void SetUp() override { StartCoordinator(); }
  void TearDown() override { StopCoordinator(); }

  // The Coordinator watches its store (history::Store::Watch): a change
  // made under it is noticed within a poll interval, or by the next call
  // that reads the store, whichever comes first.
  bool BecomesNotReady(std::chrono::milliseconds within = std::chrono::seconds(5)) const {
    return ReadinessBecomes([](const Readiness& readiness) { return !readiness.ready; }, within);
  }
  // Waits until the Coordinator's readiness satisfies `condition`; false
  // when it still does not after `within`.
  bool ReadinessBecomes(const std::function<bool(const Readiness&)>& condition,
                        std::chrono::milliseconds within = std::chrono::seconds(5)) const {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!condition(coordinator_->readiness())) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::string UserTarget() const { return "127.0.0.1:" + std::to_string(coordinator_->user_api_port()); }
  std::string MeshTarget() const { return "127.0.0.1:" + std::to_string(coordinator_->mesh_api_port()); }
  std::string ProbeUrl(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(coordinator_->probe_port()) + path;
  }

  // Sets `m` (serialised canonically) as the first manifest.
  v1::SetManifestResponse SetFirstManifest(const manifest::Manifest& m = BaseManifest()) {
    return Must(UserClient(UserTarget()).SetManifest(Request(manifest::SerializeManifest(m)), m));
  }

  TempDir dir_;
  std::shared_ptr<attest::Issuer> coordinator_issuer_;
  std::unique_ptr<Coordinator> coordinator_;
};

}  // namespace contrast::coordinator::testing
