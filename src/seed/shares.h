// Seed shares: the seed encrypted to each seed-share owner, so that the owner
// can bring a restarted Coordinator back (`contrast recover`).
//
// Each share is RSA-OAEP (SHA-256 for the hash and MGF1, label "seedshare")
// of the seed to one RSA public key of the manifest's SeedshareOwnerPubKeys.
// The salt is not secret and travels in the clear beside the shares.
//
// seed-shares.json, upstream Contrast's shape:
//   {"SeedShares":[{"PublicKey":"<hex PKCS#1 DER>","EncryptedSeed":"<base64>"}],
//    "salt":"<base64>"}
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/keys.h"

namespace contrast::seed {

inline constexpr std::string_view kSeedShareLabel = "seedshare";
inline constexpr size_t kMaxSeedShareDocumentSize = 1024 * 1024;
inline constexpr size_t kMaxSeedShares = 256;

struct SeedShare {
  Bytes public_key;      // PKCS#1 DER RSAPublicKey of the owner
  Bytes encrypted_seed;  // RSA-OAEP ciphertext
  bool operator==(const SeedShare&) const = default;
};

struct SeedShareDocument {
  std::vector<SeedShare> shares;
  Bytes salt;
  bool operator==(const SeedShareDocument&) const = default;
};

// One share per key (hex-decoded PKCS#1 DER RSA public keys of at least 2048
// bits, as in the manifest). kInvalidArgument naming the index of a bad key.
Result<SeedShareDocument> EncryptSeedShares(ByteView seed, ByteView salt, const std::vector<Bytes>& owner_public_keys);

// The seed from the share of `owner_key`'s public key. kNotFound when the
// document holds no share for this key; kCrypto (message without any secret)
// when decryption fails.
Result<Bytes> DecryptSeedShare(const SeedShareDocument& document, const crypto::PrivateKey& owner_key);

// Stable JSON (the shape above, 2-space indent, trailing newline).
std::string SerializeSeedShareDocument(const SeedShareDocument& document);
// Strict: kParse for malformed JSON, missing or mistyped fields, bad hex or
// base64, a salt that is not 32 bytes, more than kMaxSeedShares shares, or
// more than kMaxSeedShareDocumentSize bytes. Unknown fields are ignored.
Result<SeedShareDocument> ParseSeedShareDocument(std::string_view json);

// The PKCS#1 DER RSAPublicKey of an RSA key (what SeedshareOwnerPubKeys
// lists, hex-encoded). kInvalidArgument for a non-RSA key.
Result<Bytes> RsaPublicKeyPkcs1Der(const crypto::PrivateKey& key);

// A seed-share owner key from PEM: unencrypted PKCS#8 ("BEGIN PRIVATE KEY")
// or PKCS#1 ("BEGIN RSA PRIVATE KEY"); RSA of 2048 to 8192 bits only.
Result<crypto::PrivateKey> LoadSeedShareOwnerKey(std::string_view pem);

// Signature by a seed-share owner key (RSA-PSS, SHA-256, salt length 32) and
// its check against a PKCS#1 DER public key: how `contrast recover` proves
// the request comes from a seed-share owner. kSignatureInvalid when it does
// not verify.
Result<Bytes> SignWithOwnerKey(const crypto::PrivateKey& owner_key, ByteView message);
Status VerifyOwnerSignature(ByteView owner_public_key_pkcs1, ByteView message, ByteView signature);

// What a seed-share owner signs to recover a Coordinator:
//   "contrast-recover-v1" ‖ 0x00 ‖ SHA-256(coordinator_spki) ‖
//   SHA-256(seed ‖ salt) ‖ force (one byte, 0 or 1)
// coordinator_spki is the Coordinator's attested session TLS key on this
// connection (fresh per process), so a signature is good for one process
// only.
Bytes RecoverAuthorizationMessage(ByteView coordinator_spki, ByteView seed, ByteView salt, bool force);

}  // namespace contrast::seed
