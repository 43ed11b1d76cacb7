#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/pem.h>

#include <cstring>
#include <limits>

namespace contrast::crypto {
namespace {

using DecoderCtxPtr = Owned<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;

// The KeyType of a loaded key, or kUnsupported for anything else.
Result<KeyType> ClassifyKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) == 1 &&
        std::string_view(group, group_len) == "secp384r1") {
      return KeyType::kEcP384;
    }
    ClearOpensslErrors();
    return Fail(ErrorCode::kUnsupported, std::string("EC key on curve \"") + group + "\", expected P-384");
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits == 2048) return KeyType::kRsa2048;
    if (bits == 4096) return KeyType::kRsa4096;
    return Fail(ErrorCode::kUnsupported, "RSA key of " + std::to_string(bits) + " bits, expected 2048 or 4096");
  }
  return Fail(ErrorCode::kUnsupported,
              std::string("key type ") + EVP_PKEY_get0_type_name(key) + " is not supported (expected EC P-384 or RSA)");
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcP384: return "EC P-384";
    case KeyType::kRsa2048: return "RSA-2048";
    case KeyType::kRsa4096: return "RSA-4096";
  }
  return "unknown";
}

Result<PrivateKey> PrivateKey::Generate(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::kEcP384: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::kRsa2048: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
    case KeyType::kRsa4096: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}); break;
  }
  if (raw == nullptr) {
    return Fail(OpensslError(ErrorCode::kCrypto, "generating " + std::string(KeyTypeName(type)) + " key"));
  }
  return PrivateKey(EvpPkeyPtr(raw), type);
}

Result<PrivateKey> PrivateKey::FromPkcs8Pem(std::string_view pem) {
  // OpenSSL's decoders also take the legacy per-algorithm PEM types, so the
  // label is checked here: the first PEM block must be PKCS#8.
  const size_t begin = pem.find("-----BEGIN ");
  if (begin == std::string_view::npos || pem.substr(begin).rfind("-----BEGIN PRIVATE KEY-----", 0) != 0) {
    return Fail(ErrorCode::kParse, "not an unencrypted PKCS#8 PEM private key (\"BEGIN PRIVATE KEY\")");
  }
  EVP_PKEY* raw = nullptr;
  // "PrivateKeyInfo" admits only unencrypted PKCS#8; no passphrase callback is
  // installed, so nothing ever prompts.
  DecoderCtxPtr decoder(
      OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", "PrivateKeyInfo", nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!decoder) return Fail(OpensslError(ErrorCode::kCrypto, "creating a private key decoder"));
  const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
  size_t length = pem.size();
  if (OSSL_DECODER_from_data(decoder.get(), &data, &length) != 1 || raw == nullptr) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "not an unencrypted PKCS#8 PEM private key (\"BEGIN PRIVATE KEY\")");
  }
  EvpPkeyPtr key(raw);
  auto type = ClassifyKey(key.get());
  if (!type) return Fail(type.error());
  return PrivateKey(std::move(key), *type);
}

Result<std::string> PrivateKey::ToPkcs8Pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a memory BIO"));
  if (auto ok = Check(PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr),
                      "encoding a PKCS#8 private key");
      !ok) {
    return Fail(ok.error());
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "reading the encoded private key"));
  std::string pem(data, static_cast<size_t>(length));
  OPENSSL_cleanse(data, static_cast<size_t>(length));
  return pem;
}

Result<Bytes> PrivateKey::PublicKeyDer() const {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key_.get(), &der);
  if (length <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "encoding the public key"));
  OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

bool PrivateKey::Matches(const EVP_PKEY* public_key) const {
  if (public_key == nullptr) return false;
  const bool equal = EVP_PKEY_eq(key_.get(), public_key) == 1;
  ClearOpensslErrors();  // a type mismatch leaves an error behind
  return equal;
}

Result<EcdsaP384Signature> SignEcdsaP384Sha384(const PrivateKey& key, ByteView data) {
  if (key.type() != KeyType::kEcP384) {
    return Fail(ErrorCode::kInvalidArgument,
                "ECDSA P-384 signing needs an EC P-384 key, got " + std::string(KeyTypeName(key.type())));
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a digest context"));
  if (auto ok = Check(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key.get()), "ECDSA sign init");
      !ok) {
    return Fail(ok.error());
  }
  size_t der_length = 0;
  if (auto ok = Check(EVP_DigestSign(ctx.get(), nullptr, &der_length, data.data(), data.size()), "ECDSA sign"); !ok) {
    return Fail(ok.error());
  }
  Bytes der(der_length);
  if (auto ok = Check(EVP_DigestSign(ctx.get(), der.data(), &der_length, data.data(), data.size()), "ECDSA sign");
      !ok) {
    return Fail(ok.error());
  }
  if (der_length > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return Fail(ErrorCode::kInternal, "ECDSA signature too long");
  }
  const unsigned char* cursor = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length)));
  if (!sig) return Fail(OpensslError(ErrorCode::kCrypto, "decoding the ECDSA signature"));
  EcdsaP384Signature out;
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (BN_bn2binpad(r, out.r.data(), static_cast<int>(out.r.size())) < 0 ||
      BN_bn2binpad(s, out.s.data(), static_cast<int>(out.s.size())) < 0) {
    return Fail(OpensslError(ErrorCode::kInternal, "ECDSA signature component wider than 48 bytes"));
  }
  return out;
}

}  // namespace contrast::crypto
