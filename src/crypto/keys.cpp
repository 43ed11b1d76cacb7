#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <limits>

namespace contrast::crypto {
namespace {

using DecoderCtxPtr = Owned<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;
using Pkcs8InfoPtr = Owned<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>;

// The KeyType of a loaded key, or kUnsupported for anything else.
Result<KeyType> ClassifyKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t group_len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) == 1) {
      const std::string_view name(group, group_len);
      if (name == "secp384r1") return KeyType::kEcP384;
      if (name == "prime256v1") return KeyType::kEcP256;
    }
    ClearOpensslErrors();
    return Fail(ErrorCode::kUnsupported, std::string("EC key on curve \"") + group + "\", expected P-384 or P-256");
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
    case KeyType::kEcP256: return "EC P-256";
    case KeyType::kRsa2048: return "RSA-2048";
    case KeyType::kRsa4096: return "RSA-4096";
    case KeyType::kRsaOther: return "RSA";
  }
  return "unknown";
}

Result<PrivateKey> PrivateKey::Generate(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::kEcP384: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::kEcP256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::kRsa2048: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
    case KeyType::kRsa4096: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}); break;
    case KeyType::kRsaOther: return Fail(ErrorCode::kInvalidArgument, "generating RSA needs a size (2048 or 4096)");
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

Result<PrivateKey> PrivateKey::FromPkcs8Der(ByteView der) {
  if (der.empty() || der.size() > 64 * 1024) {
    return Fail(ErrorCode::kParse, "PKCS#8 private key of " + std::to_string(der.size()) + " bytes");
  }
  const unsigned char* cursor = der.data();
  Pkcs8InfoPtr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &cursor, static_cast<long>(der.size())));
  if (!info || cursor != der.data() + der.size()) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "not an unencrypted DER PKCS#8 private key");
  }
  EvpPkeyPtr key(EVP_PKCS82PKEY(info.get()));
  if (!key) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "the PKCS#8 structure holds no usable private key");
  }
  auto type = ClassifyKey(key.get());
  if (!type) return Fail(type.error());
  return PrivateKey(std::move(key), *type);
}

Result<Bytes> PrivateKey::ToPkcs8Der() const {
  Pkcs8InfoPtr info(EVP_PKEY2PKCS8(key_.get()));
  if (!info) return Fail(OpensslError(ErrorCode::kCrypto, "encoding a PKCS#8 private key"));
  unsigned char* der = nullptr;
  const int length = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &der);
  if (length <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "encoding a PKCS#8 private key"));
  Bytes out(der, der + length);
  OPENSSL_clear_free(der, static_cast<size_t>(length));
  return out;
}

Result<PrivateKey> PrivateKey::FromEcP384Scalar(ByteView scalar) {
  if (scalar.size() != 48) {
    return Fail(ErrorCode::kInvalidArgument,
                "an EC P-384 private scalar is 48 bytes, got " + std::to_string(scalar.size()));
  }
  using EcGroupPtr = Owned<EC_GROUP, EC_GROUP_free>;
  using EcPointPtr = Owned<EC_POINT, EC_POINT_free>;
  using SecretBignumPtr = Owned<BIGNUM, BN_clear_free>;
  using ParamBuildPtr = Owned<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
  using ParamsPtr = Owned<OSSL_PARAM, OSSL_PARAM_free>;
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp384r1));
  // Secure memory: OSSL_PARAM_BLD then keeps its copy of the scalar there and
  // OSSL_PARAM_free wipes it.
  SecretBignumPtr d(BN_secure_new());
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  if (!group || !d || !bn_ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating EC P-384 key parts"));
  if (BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), d.get()) == nullptr) {
    return Fail(OpensslError(ErrorCode::kCrypto, "reading the private scalar"));
  }
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return Fail(ErrorCode::kInvalidArgument, "the private scalar is not in [1, n-1] of P-384");
  }
  EcPointPtr q(EC_POINT_new(group.get()));
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "computing the public point"));
  }
  unsigned char point[97];  // uncompressed: 0x04 || x || y
  if (EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point, sizeof point, bn_ctx.get()) !=
      sizeof point) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding the public point"));
  }
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "building EC key parameters"));
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(build.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "preparing an EC key import"));
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1 || raw == nullptr) {
    return Fail(OpensslError(ErrorCode::kCrypto, "importing the EC P-384 key"));
  }
  return PrivateKey(EvpPkeyPtr(raw), KeyType::kEcP384);
}

Result<PrivateKey> PrivateKey::FromRsaKey(EvpPkeyPtr key) {
  if (!key || !EVP_PKEY_is_a(key.get(), "RSA")) {
    return Fail(ErrorCode::kUnsupported, "not an RSA key");
  }
  const int bits = EVP_PKEY_get_bits(key.get());
  if (bits < 2048 || bits > 8192) {
    return Fail(ErrorCode::kUnsupported, "RSA key of " + std::to_string(bits) + " bits, expected 2048 to 8192");
  }
  const KeyType type = bits == 2048 ? KeyType::kRsa2048 : bits == 4096 ? KeyType::kRsa4096 : KeyType::kRsaOther;
  return PrivateKey(std::move(key), type);
}

PrivateKey PrivateKey::Share() const {
  EVP_PKEY_up_ref(key_.get());
  return PrivateKey(EvpPkeyPtr(key_.get()), type_);
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

namespace {

// ECDSA over `data` with `md`, as big-endian r and s of `width` bytes each.
Status SignEcdsaRaw(const PrivateKey& key, const EVP_MD* md, ByteView data, size_t width, uint8_t* r_out,
                    uint8_t* s_out) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a digest context"));
  if (auto ok = Check(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.get()), "ECDSA sign init"); !ok) {
    return ok;
  }
  size_t der_length = 0;
  if (auto ok = Check(EVP_DigestSign(ctx.get(), nullptr, &der_length, data.data(), data.size()), "ECDSA sign"); !ok) {
    return ok;
  }
  Bytes der(der_length);
  if (auto ok = Check(EVP_DigestSign(ctx.get(), der.data(), &der_length, data.data(), data.size()), "ECDSA sign");
      !ok) {
    return ok;
  }
  if (der_length > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return Fail(ErrorCode::kInternal, "ECDSA signature too long");
  }
  const unsigned char* cursor = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length)));
  if (!sig) return Fail(OpensslError(ErrorCode::kCrypto, "decoding the ECDSA signature"));
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (BN_bn2binpad(r, r_out, static_cast<int>(width)) < 0 || BN_bn2binpad(s, s_out, static_cast<int>(width)) < 0) {
    return Fail(
        OpensslError(ErrorCode::kInternal, "ECDSA signature component wider than " + std::to_string(width) + " bytes"));
  }
  return {};
}

}  // namespace

Result<EcdsaP384Signature> SignEcdsaP384Sha384(const PrivateKey& key, ByteView data) {
  if (key.type() != KeyType::kEcP384) {
    return Fail(ErrorCode::kInvalidArgument,
                "ECDSA P-384 signing needs an EC P-384 key, got " + std::string(KeyTypeName(key.type())));
  }
  EcdsaP384Signature out;
  if (auto ok = SignEcdsaRaw(key, EVP_sha384(), data, out.r.size(), out.r.data(), out.s.data()); !ok) {
    return Fail(ok.error());
  }
  return out;
}

Result<EcdsaP256Signature> SignEcdsaP256Sha256(const PrivateKey& key, ByteView data) {
  if (key.type() != KeyType::kEcP256) {
    return Fail(ErrorCode::kInvalidArgument,
                "ECDSA P-256 signing needs an EC P-256 key, got " + std::string(KeyTypeName(key.type())));
  }
  EcdsaP256Signature out;
  if (auto ok = SignEcdsaRaw(key, EVP_sha256(), data, out.r.size(), out.r.data(), out.s.data()); !ok) {
    return Fail(ok.error());
  }
  return out;
}

}  // namespace contrast::crypto
