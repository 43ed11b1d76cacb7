#include "history/history.h"

#include <algorithm>
#include <climits>
#include <set>
#include <string>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "crypto/signature.h"

namespace contrast::history {
namespace {

constexpr std::string_view kManifestsPrefix = "manifests/";
constexpr std::string_view kPoliciesPrefix = "policies/";
constexpr std::string_view kTransitionsPrefix = "transitions/";
constexpr size_t kMaxPublicKeySize = 16 * 1024;

std::string Key(std::string_view prefix, const crypto::Sha256Digest& hash) {
  return std::string(prefix) + HexEncode(hash);
}

bool IsZero(const TransitionHash& hash) { return hash == kNoPreviousTransition; }

std::string Describe(const std::optional<TransitionHash>& hash) {
  return hash && !IsZero(*hash) ? HexEncode(*hash) : std::string("none (no history)");
}

tl::unexpected<Error> ConcurrentUpdate(const std::optional<TransitionHash>& expected,
                                       const std::optional<TransitionHash>& actual) {
  return Fail(ErrorCode::kConflict, "concurrent update: the latest transition changed (expected " + Describe(expected) +
                                        ", found " + Describe(actual) + ")");
}

// Only EC keys on the named curves.
Status RequireEcCurve(EVP_PKEY* key, std::initializer_list<std::string_view> curves, std::string_view what) {
  if (EVP_PKEY_is_a(key, "EC") != 1) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kUnsupported,
                std::string(what) + " is a " + EVP_PKEY_get0_type_name(key) + " key, expected an EC key");
  }
  char group[64] = {};
  size_t group_length = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &group_length) != 1) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kUnsupported, std::string(what) + " has no named EC curve");
  }
  const std::string_view name(group, group_length);
  for (std::string_view curve : curves) {
    if (name == curve) return {};
  }
  std::string expected;
  for (std::string_view curve : curves) expected += (expected.empty() ? "" : " or ") + std::string(curve);
  return Fail(ErrorCode::kUnsupported,
              std::string(what) + " is on curve " + std::string(name) + ", expected " + expected);
}

// Exactly one DER SubjectPublicKeyInfo, no trailing bytes.
Result<crypto::EvpPkeyPtr> ParsePublicKey(ByteView der, std::string_view what) {
  if (der.empty() || der.size() > kMaxPublicKeySize) {
    return Fail(ErrorCode::kParse, std::string(what) + " is " + std::to_string(der.size()) +
                                       " bytes, expected a DER SubjectPublicKeyInfo of 1 to " +
                                       std::to_string(kMaxPublicKeySize) + " bytes");
  }
  const unsigned char* cursor = der.data();
  crypto::EvpPkeyPtr key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  if (!key) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse, std::string(what) + " is not a DER SubjectPublicKeyInfo");
  }
  const auto consumed = static_cast<size_t>(cursor - der.data());
  if (consumed != der.size()) {
    return Fail(ErrorCode::kParse, std::string(what) + " has " + std::to_string(der.size() - consumed) +
                                       " trailing bytes after the SubjectPublicKeyInfo");
  }
  return key;
}

// ECDSA with `digest` as the already-hashed input (SHA-256 sized): the
// Coordinator's signature on transitions/latest.
Result<Bytes> SignDigest(EVP_PKEY* key, const crypto::Sha256Digest& digest) {
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "allocating a signing context"));
  if (auto ok = crypto::Check(EVP_PKEY_sign_init(ctx.get()), "ECDSA sign init"); !ok) return Fail(ok.error());
  if (auto ok = crypto::Check(EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()), "setting the digest"); !ok) {
    return Fail(ok.error());
  }
  size_t length = 0;
  if (auto ok = crypto::Check(EVP_PKEY_sign(ctx.get(), nullptr, &length, digest.data(), digest.size()), "ECDSA sign");
      !ok) {
    return Fail(ok.error());
  }
  Bytes signature(length);
  if (auto ok = crypto::Check(EVP_PKEY_sign(ctx.get(), signature.data(), &length, digest.data(), digest.size()),
                              "ECDSA sign");
      !ok) {
    return Fail(ok.error());
  }
  signature.resize(length);
  return signature;
}

Status VerifyDigest(EVP_PKEY* key, const crypto::Sha256Digest& digest, ByteView signature) {
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "allocating a verification context"));
  if (auto ok = crypto::Check(EVP_PKEY_verify_init(ctx.get()), "ECDSA verify init"); !ok) return Fail(ok.error());
  if (auto ok = crypto::Check(EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()), "setting the digest"); !ok) {
    return Fail(ok.error());
  }
  if (EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(), digest.size()) == 1) return {};
  // 0 (mismatch) and negative (malformed DER) both mean "not authentic".
  crypto::ClearOpensslErrors();
  return Fail(ErrorCode::kSignatureInvalid, "signature does not verify");
}

// A new reference to the same key object (EVP_PKEY is reference counted and
// immutable once built).
crypto::EvpPkeyPtr ShareKey(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return crypto::EvpPkeyPtr(key);
}

// Writes a content-addressed value unless the store already holds exactly
// it (a damaged copy is replaced).
Status PutContentAddressed(Store& store, const std::string& key, ByteView value) {
  auto existing = store.Get(key);
  if (existing && existing->has_value() &&
      std::equal((*existing)->begin(), (*existing)->end(), value.begin(), value.end())) {
    return {};
  }
  if (auto stored = store.Set(key, value); !stored) return Fail(stored.error().Wrap("storing " + key));
  return {};
}

}  // namespace

Bytes Transition::Encode() const {
  Bytes record;
  record.reserve(kTransitionRecordSize);
  record.insert(record.end(), manifest_hash.begin(), manifest_hash.end());
  record.insert(record.end(), previous_transition_hash.begin(), previous_transition_hash.end());
  return record;
}

TransitionHash Transition::Hash() const { return crypto::Sha256(Encode()); }

Result<Transition> ParseTransition(ByteView record) {
  if (record.size() != kTransitionRecordSize) {
    return Fail(ErrorCode::kParse, "transition record is " + std::to_string(record.size()) + " bytes, expected " +
                                       std::to_string(kTransitionRecordSize) +
                                       " (manifest hash ‖ previous transition hash)");
  }
  Transition transition;
  std::copy_n(record.begin(), 32, transition.manifest_hash.begin());
  std::copy_n(record.begin() + 32, 32, transition.previous_transition_hash.begin());
  return transition;
}

TransitionHash ComputeTransitionHash(const ManifestHash& manifest_hash, const TransitionHash& previous) {
  return Transition{manifest_hash, previous}.Hash();
}

Result<UnverifiedLatest> ParseLatestRecord(ByteView record) {
  constexpr size_t kHashSize = sizeof(TransitionHash);
  if (record.size() <= kHashSize || record.size() > kHashSize + kMaxLatestSignatureSize) {
    return Fail(ErrorCode::kParse, "transitions/latest is " + std::to_string(record.size()) + " bytes, expected " +
                                       std::to_string(kHashSize) + " bytes of transition hash followed by 1 to " +
                                       std::to_string(kMaxLatestSignatureSize) + " bytes of signature");
  }
  UnverifiedLatest latest;
  std::copy_n(record.begin(), kHashSize, latest.transition_hash.begin());
  latest.signature.assign(record.begin() + kHashSize, record.end());
  return latest;
}

Bytes LatestTransition::Encode() const {
  Bytes record(transition_hash.begin(), transition_hash.end());
  record.insert(record.end(), signature.begin(), signature.end());
  return record;
}

// ---- Keyless reads -----------------------------------------------------------

namespace {

constexpr std::string_view kSealedPrefix = "sealed/";

Result<Bytes> ReadContentAddressed(Store& store, std::string_view prefix, const crypto::Sha256Digest& hash) {
  const std::string key = Key(prefix, hash);
  auto value = store.Get(key);
  if (!value) return Fail(value.error().Wrap("reading " + key));
  if (!value->has_value()) return Fail(ErrorCode::kNotFound, key + " is missing from the history store");
  const crypto::Sha256Digest actual = crypto::Sha256(**value);
  if (actual != hash) {
    return Fail(ErrorCode::kValidationFailed, "hash mismatch: " + key + " holds " + std::to_string((*value)->size()) +
                                                  " bytes with SHA-256 " + HexEncode(actual) + ", expected " +
                                                  HexEncode(hash));
  }
  return std::move(**value);
}

}  // namespace

Result<std::optional<UnverifiedLatest>> ReadLatestUnverified(Store& store) {
  auto record = store.Get(kLatestKey);
  if (!record) return Fail(record.error().Wrap("reading transitions/latest"));
  if (!record->has_value()) return std::optional<UnverifiedLatest>();
  auto latest = ParseLatestRecord(**record);
  if (!latest) return Fail(latest.error());
  return std::optional<UnverifiedLatest>(std::move(*latest));
}

Result<Bytes> ReadManifest(Store& store, const ManifestHash& hash) {
  return ReadContentAddressed(store, kManifestsPrefix, hash);
}

Result<Bytes> ReadPolicy(Store& store, const PolicyHash& hash) {
  return ReadContentAddressed(store, kPoliciesPrefix, hash);
}

Result<Transition> ReadTransition(Store& store, const TransitionHash& hash) {
  auto record = ReadContentAddressed(store, kTransitionsPrefix, hash);
  if (!record) return Fail(record.error());
  auto transition = ParseTransition(*record);
  if (!transition) return Fail(transition.error().Wrap("transitions/" + HexEncode(hash)));
  return transition;
}

Result<std::vector<HistoryEntry>> WalkChain(Store& store, const TransitionHash& latest, const HistoryOptions& options) {
  // Newest to oldest along the hash links. A cycle would need a SHA-256
  // collision once every record is checked against its hash; the visited set
  // and the length bound keep a broken store from making this loop forever.
  std::vector<HistoryEntry> entries;
  std::set<TransitionHash> visited;
  TransitionHash current = latest;
  while (!IsZero(current)) {
    if (entries.size() >= options.max_chain_length) {
      return Fail(ErrorCode::kValidationFailed,
                  "the history has more than " + std::to_string(options.max_chain_length) + " transitions (the limit)");
    }
    if (!visited.insert(current).second) {
      return Fail(ErrorCode::kValidationFailed, "the history contains a cycle at transition " + HexEncode(current));
    }
    auto transition = ReadTransition(store, current);
    if (!transition) return Fail(transition.error());
    entries.push_back(HistoryEntry{current, *transition, {}});
    current = transition->previous_transition_hash;
  }
  std::reverse(entries.begin(), entries.end());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto manifest = ReadManifest(store, entries[i].transition.manifest_hash);
    if (!manifest) return Fail(manifest.error().Wrap("manifest " + std::to_string(i) + " of the history"));
    entries[i].manifest = std::move(*manifest);
  }
  return entries;
}

Result<HistoryPage> ReadHistoryPage(Store& store, const TransitionHash& from, size_t max_bytes) {
  if (IsZero(from)) return Fail(ErrorCode::kInvalidArgument, "a history page cannot start before the first manifest");
  // Each step reads one record and one manifest, both checked against the
  // hash that names them, so a page costs what it returns whatever the
  // length of the history behind it.
  HistoryPage page;
  size_t bytes = 0;
  TransitionHash current = from;
  while (!IsZero(current)) {
    auto transition = ReadTransition(store, current);
    if (!transition) return Fail(transition.error());
    auto manifest = ReadManifest(store, transition->manifest_hash);
    if (!manifest) return Fail(manifest.error().Wrap("the manifest of transition " + HexEncode(current)));
    if (!page.entries.empty() && bytes + manifest->size() > max_bytes) {
      page.more = true;
      return page;
    }
    bytes += manifest->size();
    page.entries.push_back(HistoryEntry{current, *transition, std::move(*manifest)});
    current = transition->previous_transition_hash;
  }
  return page;
}

crypto::Sha256Digest SealedStateBinding(const LatestTransition& latest) { return crypto::Sha256(latest.Encode()); }

std::string SealedStateKey(const crypto::Sha256Digest& binding) { return Key(kSealedPrefix, binding); }

Result<std::optional<Bytes>> ReadSealed(Store& store, const crypto::Sha256Digest& binding) {
  const std::string key = SealedStateKey(binding);
  auto value = store.Get(key);
  if (!value) return Fail(value.error().Wrap("reading " + key));
  return std::move(*value);
}

// ---- HistoryReader ---------------------------------------------------------

Result<HistoryReader> HistoryReader::Create(std::shared_ptr<Store> store, ByteView coordinator_public_key,
                                            HistoryOptions options) {
  if (!store) return Fail(ErrorCode::kInvalidArgument, "history store is null");
  auto key = ParsePublicKey(coordinator_public_key, "Coordinator history public key");
  if (!key) return Fail(key.error());
  if (auto curve = RequireEcCurve(key->get(), {"secp384r1"}, "Coordinator history public key"); !curve) {
    return Fail(curve.error());
  }
  return HistoryReader(std::move(store), std::move(*key), options);
}

Result<bool> HistoryReader::HasHistory() const {
  auto has = store_->Has(kLatestKey);
  if (!has) return Fail(has.error().Wrap("looking for transitions/latest"));
  return *has;
}

Result<std::optional<UnverifiedLatest>> HistoryReader::LatestUnverified() const {
  return ReadLatestUnverified(*store_);
}

Status HistoryReader::VerifyLatest(const UnverifiedLatest& latest) const {
  if (auto ok = VerifyDigest(verification_key_.get(), latest.transition_hash, latest.signature); !ok) {
    if (ok.error().code != ErrorCode::kSignatureInvalid) return ok;
    return Fail(ErrorCode::kSignatureInvalid,
                "the signature on transitions/latest (transition " + HexEncode(latest.transition_hash) +
                    ") does not verify with this Coordinator's history key: the history exists but was written "
                    "under another key or altered; recovery is needed");
  }
  return {};
}

Result<std::optional<LatestTransition>> HistoryReader::Latest() const {
  auto latest = LatestUnverified();
  if (!latest) return Fail(latest.error());
  if (!latest->has_value()) return std::optional<LatestTransition>();
  if (auto ok = VerifyLatest(**latest); !ok) return Fail(ok.error());
  return std::optional<LatestTransition>(LatestTransition{(*latest)->transition_hash, std::move((*latest)->signature)});
}

Result<Bytes> HistoryReader::GetManifest(const ManifestHash& hash) const { return ReadManifest(*store_, hash); }

Result<Bytes> HistoryReader::GetPolicy(const PolicyHash& hash) const { return ReadPolicy(*store_, hash); }

Result<Transition> HistoryReader::GetTransition(const TransitionHash& hash) const {
  return ReadTransition(*store_, hash);
}

Result<std::vector<HistoryEntry>> HistoryReader::Walk() const {
  auto latest = Latest();
  if (!latest) return Fail(latest.error());
  if (!latest->has_value()) return std::vector<HistoryEntry>();
  return WalkChain(*store_, (*latest)->transition_hash, options_);
}

// ---- History ---------------------------------------------------------------

Result<History> History::Create(std::shared_ptr<Store> store, crypto::PrivateKey signing_key, HistoryOptions options) {
  if (!store) return Fail(ErrorCode::kInvalidArgument, "history store is null");
  if (signing_key.type() != crypto::KeyType::kEcP384) {
    return Fail(ErrorCode::kInvalidArgument, "the history signing key must be EC P-384, got " +
                                                 std::string(crypto::KeyTypeName(signing_key.type())));
  }
  crypto::EvpPkeyPtr verification_key = ShareKey(signing_key.get());
  return History(std::move(store), std::move(verification_key), std::move(signing_key), options);
}

Result<LatestTransition> History::Append(ByteView manifest, const std::vector<Bytes>& policies,
                                         const std::optional<TransitionHash>& expected_previous,
                                         const SealState& seal) {
  const bool expect_none = !expected_previous || IsZero(*expected_previous);

  // The caller's view must still be current, and the current pointer ours.
  auto current = LatestUnverified();
  if (!current) return Fail(current.error());
  std::optional<Bytes> current_record;
  if (current->has_value()) {
    const TransitionHash& found = (*current)->transition_hash;
    if (expect_none || found != *expected_previous) return ConcurrentUpdate(expected_previous, found);
    if (auto ok = VerifyLatest(**current); !ok) return Fail(ok.error());
    current_record = LatestTransition{found, (*current)->signature}.Encode();
  } else if (!expect_none) {
    return ConcurrentUpdate(expected_previous, std::nullopt);
  }

  for (const Bytes& policy : policies) {
    if (auto ok = PutContentAddressed(*store_, Key(kPoliciesPrefix, crypto::Sha256(policy)), policy); !ok) {
      return Fail(ok.error());
    }
  }
  const ManifestHash manifest_hash = crypto::Sha256(manifest);
  if (auto ok = PutContentAddressed(*store_, Key(kManifestsPrefix, manifest_hash), manifest); !ok) {
    return Fail(ok.error());
  }
  const Transition transition{manifest_hash, expect_none ? kNoPreviousTransition : *expected_previous};
  const TransitionHash transition_hash = transition.Hash();
  if (auto ok = PutContentAddressed(*store_, Key(kTransitionsPrefix, transition_hash), transition.Encode()); !ok) {
    return Fail(ok.error());
  }

  auto signature = SignDigest(signing_key_.get(), transition_hash);
  if (!signature) return Fail(signature.error().Wrap("signing the latest transition"));
  LatestTransition latest{transition_hash, std::move(*signature)};
  if (seal) {
    auto sealed = seal(latest);
    if (!sealed) return Fail(sealed.error().Wrap("sealing the state"));
    const std::string key = SealedStateKey(SealedStateBinding(latest));
    if (auto ok = store_->Set(key, *sealed); !ok) return Fail(ok.error().Wrap("storing " + key));
  }
  const Bytes record = latest.Encode();
  auto swapped = store_->CompareAndSwap(
      kLatestKey, current_record ? std::optional<ByteView>(*current_record) : std::nullopt, record);
  if (!swapped) return Fail(swapped.error().Wrap("updating transitions/latest"));
  if (!*swapped) {
    // Someone else moved the pointer after we read it; report what it is now.
    auto now = LatestUnverified();
    std::optional<TransitionHash> found;
    if (now && now->has_value()) found = (*now)->transition_hash;
    return ConcurrentUpdate(expected_previous, found);
  }
  return latest;
}

bool IsConcurrentUpdate(const Error& error) { return error.code == ErrorCode::kConflict; }

// ---- Workload-owner signatures ----------------------------------------------

Result<RootKeyDigest> RootKeyDigestOf(const crypto::Certificate& root_ca) {
  EVP_PKEY* key = root_ca.PublicKey();
  if (key == nullptr) return Fail(ErrorCode::kParse, "the root CA certificate's public key cannot be decoded");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "encoding the root CA public key"));
  const RootKeyDigest digest = crypto::Sha256(ByteView(der, static_cast<size_t>(length)));
  OPENSSL_free(der);
  return digest;
}

Result<RootKeyDigest> RootKeyDigestOfPem(std::string_view root_ca_pem) {
  auto certificate = crypto::Certificate::ParsePem(root_ca_pem);
  if (!certificate) return Fail(certificate.error().Wrap("the Coordinator root CA certificate"));
  return RootKeyDigestOf(*certificate);
}

std::string TransitionSigningMessage(const RootKeyDigest& root_key, const TransitionHash& transition) {
  return std::string(kTransitionSignatureLabel) + " " + HexEncode(root_key) + " " + HexEncode(transition);
}

Result<Bytes> SignTransition(const crypto::PrivateKey& owner_key, const RootKeyDigest& root_key,
                             const TransitionHash& transition) {
  if (EVP_PKEY_is_a(owner_key.get(), "EC") != 1) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kInvalidArgument,
                "signing a transition needs an EC key, got " + std::string(crypto::KeyTypeName(owner_key.type())));
  }
  const std::string message = TransitionSigningMessage(root_key, transition);
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "allocating a digest context"));
  if (auto ok =
          crypto::Check(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, owner_key.get(), nullptr),
                        "ECDSA sign init");
      !ok) {
    return Fail(ok.error());
  }
  const ByteView data = AsBytes(message);
  size_t length = 0;
  if (auto ok = crypto::Check(EVP_DigestSign(ctx.get(), nullptr, &length, data.data(), data.size()), "ECDSA sign");
      !ok) {
    return Fail(ok.error());
  }
  Bytes signature(length);
  if (auto ok =
          crypto::Check(EVP_DigestSign(ctx.get(), signature.data(), &length, data.data(), data.size()), "ECDSA sign");
      !ok) {
    return Fail(ok.error());
  }
  signature.resize(length);
  return signature;
}

Status VerifyTransitionSignature(ByteView owner_public_key, const RootKeyDigest& root_key,
                                 const TransitionHash& transition, ByteView signature) {
  auto key = ParsePublicKey(owner_public_key, "workload owner public key");
  if (!key) return Fail(key.error());
  if (auto curve = RequireEcCurve(key->get(), {"prime256v1", "secp384r1"}, "workload owner public key"); !curve) {
    return Fail(curve.error());
  }
  if (signature.empty() || signature.size() > kMaxLatestSignatureSize) {
    return Fail(ErrorCode::kSignatureInvalid, "transition signature is " + std::to_string(signature.size()) +
                                                  " bytes, expected a DER ECDSA signature of 1 to " +
                                                  std::to_string(kMaxLatestSignatureSize) + " bytes");
  }
  const std::string message = TransitionSigningMessage(root_key, transition);
  if (auto ok = crypto::VerifyEcdsaDer(key->get(), crypto::DigestAlgorithm::kSha256, AsBytes(message), signature);
      !ok) {
    return Fail(ok.error().code, "workload owner signature over transition " + HexEncode(transition) +
                                     " for the Coordinator whose root CA key has SHA-256 " + HexEncode(root_key) +
                                     " does not verify: " + ok.error().message);
  }
  return {};
}

}  // namespace contrast::history
