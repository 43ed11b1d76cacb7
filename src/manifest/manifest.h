// The manifest: which pods (by policy hash) may join the deployment, on which
// platforms (reference values), and who may change it (owner keys).
//
// JSON keys are upstream Contrast's, so manifests move between the two:
//
//   {
//     "Policies": {
//       "<64 hex: SHA-256 of the policy document>": {
//         "SANs": ["web", "*", "10.0.0.1", "spiffe://acme.com/web"],
//         "WorkloadSecretID": "apps/v1/Deployment/default/web",  (omitted if empty)
//         "Role": "coordinator"                                   (omitted if empty)
//       }
//     },
//     "ReferenceValues": {
//       "snp": [ SNP entries, attest/snp/reference_values.h ],
//       "tdx": [ TDX entries, attest/tdx/reference_values.h ],
//       "emulated": [ SNP entry + "EmulatedRootSHA256" ]   (ours: emulated-snp)
//     },
//     "WorkloadOwnerKeyDigests": ["<64 hex: SHA-256 of an owner key's SPKI DER>"],
//     "SeedshareOwnerPubKeys": ["<hex: RSA public key, PKCS#1 DER>"]
//   }
//
// Parsing is strict and untrusted-input safe: bad JSON, duplicate keys,
// unknown keys, wrong types and every rule below are reported all at once,
// one "<json path>: <problem>" per problem, e.g.
//   Policies.3c1f...: key must be 64 hex characters, got 63
//   ReferenceValues.snp[0].MinimumTCB.SNPVersion: missing
//
// Bytes, not models, are authoritative: the Coordinator stores and returns
// the exact bytes it was given (`verify` compares bytes, and ManifestHash is
// over those bytes); it never re-serialises a parsed Manifest. SerializeManifest
// is for producing a manifest (`contrast generate`): its output is canonical,
// so the same Manifest always gives the same bytes.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "attest/emulated/reference_values.h"
#include "attest/snp/reference_values.h"
#include "attest/tdx/reference_values.h"
#include "common/bytes.h"
#include "common/result.h"
#include "crypto/hash.h"

namespace contrast::manifest {

// Bounds that keep every message of the user API under the session frame cap
// (4 MiB, session/credentials.h) however long the history grows: the history
// is served a page at a time, but one manifest and one policy document must
// each fit a page (history::kMaxPageBytes, 2 MiB) on their own.
inline constexpr size_t kMaxManifestSize = size_t{1} << 20;
// Entries of "Policies" in one manifest (also bounds the policy documents a
// SetManifest carries).
inline constexpr size_t kMaxPolicies = 1024;
// One policy document (the agent policy or initdata TOML); generated ones
// are tens to a few hundred KiB.
inline constexpr size_t kMaxPolicyDocumentSize = size_t{1} << 20;
// All policy documents of one SetManifest together: what the Coordinator
// holds in memory for one update (sent in several frames).
inline constexpr size_t kMaxPolicyBytes = size_t{64} << 20;
inline constexpr int kMaxManifestJsonDepth = 64;
// Seed shares are RSA-OAEP encrypted to these keys; smaller keys are refused.
inline constexpr int kMinSeedshareKeyBits = 2048;
// A WorkloadSecretID becomes HKDF info ("WORKLOAD SECRET ID: " + ID), which
// OpenSSL 3.0 bounds at 1024 bytes; well below that, and plenty for a name.
inline constexpr size_t kMaxWorkloadSecretIdLength = 512;

// SHA-256 of a policy document (the Kata agent policy text, DESIGN.md §8). It
// is what the platform reports as SNP HOST_DATA / TDX MRCONFIGID[0:32], so
// `PolicyHash{report.host_data}` looks a pod up in the manifest.
struct PolicyHash {
  crypto::Sha256Digest bytes{};

  // Exactly 64 hex characters, either case.
  static Result<PolicyHash> FromHex(std::string_view hex);
  // Lower-case hex, as the manifest's keys are written.
  std::string Hex() const;

  auto operator<=>(const PolicyHash&) const = default;
};

PolicyHash PolicyHashOf(ByteView policy_document);

// SHA-256 of a manifest's exact bytes: the name it is stored under
// (`manifests/<hex>`) and what transitions refer to.
crypto::Sha256Digest ManifestHash(ByteView manifest_bytes);

enum class Role {
  kNone,         // "" (omitted): an ordinary workload
  kCoordinator,  // "coordinator": the CLI accepts this policy for the Coordinator
};

struct PolicyEntry {
  // Subject alternative names of the pod's mesh certificate (ClassifySan).
  std::vector<std::string> sans;
  // Label for the workload secret; empty: no secret is issued.
  std::string workload_secret_id;
  Role role = Role::kNone;

  bool operator==(const PolicyEntry&) const = default;
};

struct ReferenceValues {
  std::vector<attest::snp::SnpReferenceValues> snp;
  std::vector<attest::tdx::TdxReferenceValues> tdx;
  // Platform "emulated-snp" (DESIGN.md §4). A manifest holding one is insecure.
  std::vector<attest::emulated::InsecureEmulatedReferenceValues> emulated;
};

struct Manifest {
  std::map<PolicyHash, PolicyEntry> policies;  // sorted by hash
  ReferenceValues reference_values;
  // SHA-256 of each workload owner's public key (SPKI DER); empty: the
  // manifest cannot be updated.
  std::vector<crypto::Sha256Digest> workload_owner_key_digests;
  // RSA public keys (PKCS#1 DER) that receive a share of the secret seed.
  std::vector<Bytes> seedshare_owner_pub_keys;

  // True when the manifest trusts an emulated platform. Every command that
  // uses such a manifest must say so loudly.
  bool insecure() const { return !reference_values.emulated.empty(); }
  // The entry for `hash`, or nullptr.
  const PolicyEntry* FindPolicy(const PolicyHash& hash) const;
  // Hashes of the policies with Role "coordinator", sorted.
  std::vector<PolicyHash> CoordinatorPolicyHashes() const;
  // True when SHA-256(spki_der) is one of workload_owner_key_digests.
  bool HasWorkloadOwnerKey(ByteView spki_der) const;
};

// Semantic equality (what ParseManifest(SerializeManifest(m)) preserves).
bool operator==(const Manifest& a, const Manifest& b);
bool operator==(const ReferenceValues& a, const ReferenceValues& b);

// Every problem found, one "<json path>: <problem>" each. Past 100 problems
// the rest are counted in one final line.
using ManifestProblems = std::vector<std::string>;

// Parses and validates manifest JSON. On failure: every problem.
tl::expected<Manifest, ManifestProblems> ParseManifestReportingProblems(std::string_view json);

// The same; on failure an Error (kParse) whose message is every problem, one
// per line.
Result<Manifest> ParseManifest(std::string_view json);

// Canonical JSON: keys in schema order, policies sorted by hash, lower-case
// hex, empty optional fields omitted, 2-space indent, trailing newline.
// Deterministic: equal manifests give identical bytes.
std::string SerializeManifest(const Manifest& manifest);

// Checks a Manifest built in code against every rule ParseManifest enforces
// (by parsing its serialisation), e.g. before `generate` writes it.
Status ValidateManifest(const Manifest& manifest);

// How a SAN string goes into a certificate: an IP address if it parses as
// IPv4 or IPv6 (inet_pton), a URI if it starts with a scheme and "://"
// ("spiffe://acme.com/web"), a DNS name otherwise ("web", "*").
enum class SanKind { kDns, kIp, kUri };
SanKind ClassifySan(std::string_view san);

}  // namespace contrast::manifest
