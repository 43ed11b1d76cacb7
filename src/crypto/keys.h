// Private keys: generation, PKCS#8 PEM storage, public-key export and ECDSA
// signing in the (r, s) form SEV-SNP reports carry.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "crypto/openssl.h"

namespace contrast::crypto {

enum class KeyType {
  kEcP384,   // report signing (VCEK), mesh keys
  kEcP256,   // Intel SGX/TDX shapes (PCK, attestation and TCB-signing keys)
  kRsa2048,  // fast RSA for tests
  kRsa4096,  // AMD-shaped roots (ARK, ASK)
  // RSA of another size from 2048 to 8192 bits (e.g. 3072): seed-share owner
  // keys, which users bring in whatever size they use. Not for Generate.
  kRsaOther,
};

std::string_view KeyTypeName(KeyType type);

// An owned private key (EVP_PKEY). Move-only.
class PrivateKey {
 public:
  static Result<PrivateKey> Generate(KeyType type);
  // Unencrypted PKCS#8 ("BEGIN PRIVATE KEY") only; encrypted or legacy
  // ("BEGIN RSA PRIVATE KEY") encodings are rejected, never prompted for.
  static Result<PrivateKey> FromPkcs8Pem(std::string_view pem);

  KeyType type() const { return type_; }
  EVP_PKEY* get() const { return key_.get(); }

  // Unencrypted PKCS#8 DER (PrivateKeyInfo), as ToPkcs8Der writes it.
  static Result<PrivateKey> FromPkcs8Der(ByteView der);
  // The EC P-384 key with private scalar `scalar` (48 bytes, big-endian, in
  // [1, n-1]; kInvalidArgument otherwise); the public point is computed.
  static Result<PrivateKey> FromEcP384Scalar(ByteView scalar);
  // An already decoded RSA private key of 2048 to 8192 bits (kUnsupported
  // otherwise); 2048 and 4096 bits keep their own KeyType.
  static Result<PrivateKey> FromRsaKey(EvpPkeyPtr key);

  // Unencrypted PKCS#8 PEM. Secret: store with mode 0400.
  Result<std::string> ToPkcs8Pem() const;
  // Unencrypted PKCS#8 DER. Secret.
  Result<Bytes> ToPkcs8Der() const;
  // Another owner of the same key (EVP_PKEY is reference counted and not
  // modified after construction).
  PrivateKey Share() const;
  // DER SubjectPublicKeyInfo of the public half.
  Result<Bytes> PublicKeyDer() const;
  // True when `public_key` is the public half of this key.
  bool Matches(const EVP_PKEY* public_key) const;

 private:
  PrivateKey(EvpPkeyPtr key, KeyType type) : key_(std::move(key)), type_(type) {}
  EvpPkeyPtr key_;
  KeyType type_;
};

// An ECDSA P-384 signature as two big-endian 48-byte integers.
struct EcdsaP384Signature {
  std::array<uint8_t, 48> r{};
  std::array<uint8_t, 48> s{};
};

// ECDSA with SHA-384 over `data`; the key must be an EC P-384 key.
Result<EcdsaP384Signature> SignEcdsaP384Sha384(const PrivateKey& key, ByteView data);

// An ECDSA P-256 signature as two big-endian 32-byte integers (the r || s of
// TDX quotes and Intel collateral).
struct EcdsaP256Signature {
  std::array<uint8_t, 32> r{};
  std::array<uint8_t, 32> s{};
};

// ECDSA with SHA-256 over `data`; the key must be an EC P-256 key.
Result<EcdsaP256Signature> SignEcdsaP256Sha256(const PrivateKey& key, ByteView data);

}  // namespace contrast::crypto
