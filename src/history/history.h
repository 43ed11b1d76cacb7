// The Coordinator's manifest history: content-addressed manifests and
// policies, a hash chain of transitions, and a signed pointer to the newest
// transition, all kept in an untrusted Store (store.h).
//
// Format (compatible with upstream Contrast's history):
//   manifests/<hex SHA-256>    the exact manifest bytes
//   policies/<hex SHA-256>     the exact policy documents
//   transitions/<hex T>        64 bytes: SHA-256(manifest) ‖ previous T
//                              (32 zero bytes for the first transition);
//                              T = SHA-256 of these 64 bytes
//   transitions/latest         T (32 bytes) ‖ signature (the rest, 1 to 256
//                              bytes): ECDSA P-384, DER (ASN.1
//                              ECDSA-Sig-Value), with T itself as the signed
//                              digest, by the Coordinator's history key. T is a
//                              SHA-256, so this equals ECDSA-with-SHA-256 over
//                              the 64-byte transition record.
//   sealed/<hex B>             the Coordinator's state for the latest record
//                              whose SHA-256 is B (B = SealedStateBinding:
//                              one per signed attempt, so two writers racing
//                              for the same transition never share a slot),
//                              sealed under a seed-derived key (seed/sealed.h;
//                              opaque here). Ours, not upstream's.
//
// Everything read back is checked: a blob against the hash that names it, a
// transition record against its hash, the latest pointer against the
// Coordinator's public key. The only way to a LatestTransition or a
// HistoryEntry is through those checks.
//
// Workload-owner authorization of an update (DESIGN §5.4) is an ECDSA
// signature (SHA-256, DER) over TransitionSigningMessage: a domain-separation
// label, the SHA-256 of the Coordinator's root CA public key (DER
// SubjectPublicKeyInfo) and T, as one line of text (`contrast sign --prepare`
// writes exactly these bytes for an HSM to sign). The root key names one
// deployment: it comes from the deployment's seed, so it stays the same
// across updates and recovery, and differs between Coordinators. A signature
// is therefore good for one transition at one deployment only, not at another
// Coordinator that happens to be at the same transition (same manifests).
//
// The history is served in pages (ReadHistoryPage), newest first, each at
// most kMaxPageBytes of manifests, so that a history of any length crosses
// sessions whose frames are capped (session/credentials.h kMaxFrameSize).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/openssl.h"
#include "crypto/x509.h"
#include "history/store.h"

namespace contrast::history {

using ManifestHash = crypto::Sha256Digest;
using PolicyHash = crypto::Sha256Digest;
using TransitionHash = crypto::Sha256Digest;

// The "previous transition" of the first transition.
inline constexpr TransitionHash kNoPreviousTransition{};

inline constexpr size_t kTransitionRecordSize = 64;
inline constexpr size_t kMaxLatestSignatureSize = 256;
inline constexpr size_t kDefaultMaxChainLength = 100000;
// Payload budget of one page of the served history (manifests, or policy
// documents): half the 4 MiB session frame cap, leaving ample room for the
// CA certificates and protobuf framing. A page holds at least one item even
// above the budget; manifest::kMaxManifestSize and kMaxPolicyDocumentSize
// keep every single item well below the frame cap.
inline constexpr size_t kMaxPageBytes = size_t{2} << 20;
// Policy hashes in one request for documents (manifest::kMaxPolicies: one
// manifest's worth).
inline constexpr size_t kMaxPolicyHashesPerRequest = 1024;

// One step of the history: "the manifest with this hash follows that
// transition". Parsed, not yet tied to anything.
struct Transition {
  ManifestHash manifest_hash{};
  TransitionHash previous_transition_hash{};

  Bytes Encode() const;  // the 64-byte record
  TransitionHash Hash() const;
};

// Exactly 64 bytes, else kParse.
Result<Transition> ParseTransition(ByteView record);

// SHA-256(manifest_hash ‖ previous): the transition a workload owner signs
// (with the Coordinator's root key, TransitionSigningMessage) and
// `--latest-transition` names.
TransitionHash ComputeTransitionHash(const ManifestHash& manifest_hash, const TransitionHash& previous);

// transitions/latest as stored, before its signature is checked.
struct UnverifiedLatest {
  TransitionHash transition_hash{};
  Bytes signature;
};

// kParse unless 32 bytes of hash followed by 1 to kMaxLatestSignatureSize
// bytes of signature.
Result<UnverifiedLatest> ParseLatestRecord(ByteView record);

// transitions/latest after its signature verified with the Coordinator's key.
struct LatestTransition {
  TransitionHash transition_hash{};
  Bytes signature;  // DER ECDSA P-384 (see the format above)

  Bytes Encode() const;  // the stored record: hash ‖ signature
};

// One manifest of the history, verified back to the signed latest pointer.
struct HistoryEntry {
  TransitionHash transition_hash{};
  Transition transition;
  Bytes manifest;
};

struct HistoryOptions {
  // Walk refuses longer chains (an untrusted store must not make it run
  // unbounded).
  size_t max_chain_length = kDefaultMaxChainLength;
};

// Reads that need no key, for a Coordinator that has not got its seed back
// yet (and for the keyed reader below). Every value is still checked against
// the hash that names it; only the signature on transitions/latest is not.
Result<std::optional<UnverifiedLatest>> ReadLatestUnverified(Store& store);
// kNotFound when absent, kValidationFailed ("hash mismatch") when the stored
// bytes differ.
Result<Bytes> ReadManifest(Store& store, const ManifestHash& hash);
Result<Bytes> ReadPolicy(Store& store, const PolicyHash& hash);
Result<Transition> ReadTransition(Store& store, const TransitionHash& hash);
// Every manifest from the first to the one of `latest` (oldest first), each
// checked against its transition and each transition against the hash that
// links it. Whether `latest` itself is authentic is the caller's business.
Result<std::vector<HistoryEntry>> WalkChain(Store& store, const TransitionHash& latest,
                                            const HistoryOptions& options = {});
// One page of the history: the manifest of `from` and of its predecessors,
// newest first, each checked against its transition record and each record
// against the hash that names it, until the manifests would exceed
// `max_bytes` (at least one entry) or the first manifest is reached.
struct HistoryPage {
  std::vector<HistoryEntry> entries;  // newest first
  // True when older manifests follow: the next page starts at
  // entries.back().transition.previous_transition_hash.
  bool more = false;
};
// kNotFound when transitions/<from> or a manifest is missing,
// kValidationFailed on a hash mismatch, kInvalidArgument for a zero `from`.
Result<HistoryPage> ReadHistoryPage(Store& store, const TransitionHash& from, size_t max_bytes = kMaxPageBytes);
// What a sealed state is bound to and stored under: SHA-256 of the latest
// record (transition hash ‖ signature) it was written with.
crypto::Sha256Digest SealedStateBinding(const LatestTransition& latest);
// The store key of a sealed state: "sealed/<hex binding>".
std::string SealedStateKey(const crypto::Sha256Digest& binding);
// sealed/<binding>: nullopt when absent. Opaque bytes, authenticated by
// whoever opens them (seed::Open).
Result<std::optional<Bytes>> ReadSealed(Store& store, const crypto::Sha256Digest& binding);

// Verification-only access: for whoever holds the Coordinator's public key.
// Safe to use from several threads when the Store is.
class HistoryReader {
 public:
  // `coordinator_public_key` is the DER SubjectPublicKeyInfo of the history
  // key (EC P-384).
  static Result<HistoryReader> Create(std::shared_ptr<Store> store, ByteView coordinator_public_key,
                                      HistoryOptions options = {});

  // True when transitions/latest exists, whether or not it verifies. Together
  // with Latest() this tells three states apart: no history (false), history
  // of this key (Latest() ok), history this key cannot verify (Latest() fails
  // with kSignatureInvalid: another key wrote it, or it was tampered with;
  // recovery is needed).
  Result<bool> HasHistory() const;

  // nullopt: no history yet. kParse: the record is malformed.
  // kSignatureInvalid: not signed by this key.
  Result<std::optional<LatestTransition>> Latest() const;
  // The record without the signature check (recovery: find the manifest whose
  // seed derives the key that then verifies it).
  Result<std::optional<UnverifiedLatest>> LatestUnverified() const;

  // Every manifest from the first to the latest (oldest first), each checked
  // against its transition and each transition against the hash that links
  // it. Empty when there is no history.
  Result<std::vector<HistoryEntry>> Walk() const;

  // Content-addressed reads, checked against `hash`: kNotFound when absent,
  // kValidationFailed ("hash mismatch") when the stored bytes differ.
  Result<Bytes> GetManifest(const ManifestHash& hash) const;
  Result<Bytes> GetPolicy(const PolicyHash& hash) const;
  Result<Transition> GetTransition(const TransitionHash& hash) const;

 protected:
  HistoryReader(std::shared_ptr<Store> store, crypto::EvpPkeyPtr verification_key, HistoryOptions options)
      : store_(std::move(store)), verification_key_(std::move(verification_key)), options_(options) {}

  Status VerifyLatest(const UnverifiedLatest& latest) const;

  std::shared_ptr<Store> store_;
  crypto::EvpPkeyPtr verification_key_;
  HistoryOptions options_;
};

// Makes the sealed state for a latest record (History::Append).
using SealState = std::function<Result<Bytes>(const LatestTransition& latest)>;

// The Coordinator's read-write view: it signs new latest pointers.
class History : public HistoryReader {
 public:
  // `signing_key` must be EC P-384.
  static Result<History> Create(std::shared_ptr<Store> store, crypto::PrivateKey signing_key,
                                HistoryOptions options = {});

  // Stores the policies and the manifest, the transition from
  // `expected_previous` to the manifest, signs it and moves
  // transitions/latest to it with a compare-and-swap.
  //
  // `seal`, when given, is called with the signed record about to become
  // latest; what it returns is stored as sealed/<SealedStateBinding(record)>
  // before the pointer moves, so a reader who finds a latest record finds its
  // sealed state too. A writer that loses the race leaves its own sealed
  // record behind, unreferenced, and never touches the winner's.
  //
  // `expected_previous` is the caller's view of the latest transition;
  // nullopt (or kNoPreviousTransition) means "no history yet". When the
  // latest transition is a different one, or changes during the call, nothing
  // is published and the error has code kConflict (IsConcurrentUpdate). kSignatureInvalid when
  // the current latest pointer is not signed by this key.
  Result<LatestTransition> Append(ByteView manifest, const std::vector<Bytes>& policies,
                                  const std::optional<TransitionHash>& expected_previous,
                                  const SealState& seal = nullptr);

  // DER SubjectPublicKeyInfo of the signing key (for HistoryReader users).
  Result<Bytes> PublicKeyDer() const { return signing_key_.PublicKeyDer(); }

 private:
  History(std::shared_ptr<Store> store, crypto::EvpPkeyPtr verification_key, crypto::PrivateKey signing_key,
          HistoryOptions options)
      : HistoryReader(std::move(store), std::move(verification_key), options), signing_key_(std::move(signing_key)) {}

  crypto::PrivateKey signing_key_;
};

// True for Append's "latest changed" error.
bool IsConcurrentUpdate(const Error& error);

// ---- Workload-owner signatures ----------------------------------------------

// The label that makes an owner signature mean "this manifest transition at
// this Coordinator" and nothing else.
inline constexpr std::string_view kTransitionSignatureLabel = "contrast-manifest-transition-v1";

// SHA-256 of the DER SubjectPublicKeyInfo of the Coordinator's root CA key:
// names the deployment an owner signature is for.
using RootKeyDigest = crypto::Sha256Digest;

// The digest of the key in `root_ca` (a certificate, or the first one of PEM
// text). The certificate parser's error for a malformed certificate, kCrypto
// when its key cannot be encoded.
Result<RootKeyDigest> RootKeyDigestOf(const crypto::Certificate& root_ca);
Result<RootKeyDigest> RootKeyDigestOfPem(std::string_view root_ca_pem);

// The exact bytes an owner signs: "<label> <hex root key digest> <hex
// transition>", lower-case hex, single spaces, no newline (161 bytes).
std::string TransitionSigningMessage(const RootKeyDigest& root_key, const TransitionHash& transition);

// Workload-owner signature over TransitionSigningMessage: ECDSA with SHA-256,
// DER. The key must be an EC key.
Result<Bytes> SignTransition(const crypto::PrivateKey& owner_key, const RootKeyDigest& root_key,
                             const TransitionHash& transition);

// Checks such a signature with an owner public key given as DER
// SubjectPublicKeyInfo (EC P-256 or P-384). kSignatureInvalid when it does not
// verify (including malformed signatures, and a signature made for another
// Coordinator's root key or another transition), kParse for a malformed key,
// kUnsupported for another key type or curve.
Status VerifyTransitionSignature(ByteView owner_public_key, const RootKeyDigest& root_key,
                                 const TransitionHash& transition, ByteView signature);

}  // namespace contrast::history
