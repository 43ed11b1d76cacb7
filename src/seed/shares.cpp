#include "seed/shares.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/rsa.h>

#include <climits>
#include <exception>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "crypto/hash.h"
#include "seed/engine.h"

namespace contrast::seed {
namespace {

using crypto::ClearOpensslErrors;
using crypto::EvpMdCtxPtr;
using crypto::EvpPkeyCtxPtr;
using crypto::EvpPkeyPtr;
using crypto::OpensslError;
using DecoderCtxPtr = crypto::Owned<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>;

constexpr int kMinOwnerKeyBits = 2048;
constexpr int kMaxOwnerKeyBits = 8192;
// A public key of 8192 bits is about 1 KiB of DER; anything far beyond is
// not a key we would accept anyway.
constexpr size_t kMaxPublicKeyDer = 16 * 1024;
constexpr size_t kMaxPemSize = 64 * 1024;
constexpr int kPssSaltLength = 32;
constexpr int kMaxJsonDepth = 4;
constexpr std::string_view kRecoverContext = "contrast-recover-v1";

// An RSA public key from PKCS#1 DER (RSAPublicKey), all bytes used.
Result<EvpPkeyPtr> DecodeRsaPublicKey(ByteView der) {
  if (der.empty() || der.size() > kMaxPublicKeyDer) {
    return Fail(ErrorCode::kParse, "an RSA public key of " + std::to_string(der.size()) + " bytes");
  }
  const unsigned char* cursor = der.data();
  EvpPkeyPtr key(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &cursor, static_cast<long>(der.size())));
  // The decoders tried on the way leave errors behind, even on success.
  ClearOpensslErrors();
  if (!key) return Fail(ErrorCode::kParse, "not an RSA public key in PKCS#1 DER");
  if (const auto used = static_cast<size_t>(cursor - der.data()); used != der.size()) {
    return Fail(ErrorCode::kParse, std::to_string(der.size() - used) + " bytes after the PKCS#1 DER key");
  }
  return key;
}

Result<Bytes> EncodeRsaPublicKey(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PublicKey(key, &der);
  if (length <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "encoding the RSA public key (PKCS#1)"));
  crypto::OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

// RSA-OAEP with SHA-256 for hash and MGF1, label "seedshare", on `ctx`
// (already initialised for encryption or decryption).
Status ConfigureOaep(EVP_PKEY_CTX* ctx) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "configuring RSA-OAEP"));
  }
  // set0 takes ownership of the label, which must come from OPENSSL_malloc.
  auto* label = static_cast<unsigned char*>(OPENSSL_malloc(kSeedShareLabel.size()));
  if (label == nullptr) return Fail(OpensslError(ErrorCode::kCrypto, "allocating the OAEP label"));
  std::copy(kSeedShareLabel.begin(), kSeedShareLabel.end(), label);
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, static_cast<int>(kSeedShareLabel.size())) != 1) {
    OPENSSL_free(label);
    return Fail(OpensslError(ErrorCode::kCrypto, "setting the OAEP label"));
  }
  return {};
}

Result<Bytes> EncryptToKey(EVP_PKEY* key, ByteView seed) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "preparing RSA-OAEP encryption"));
  }
  if (auto ok = ConfigureOaep(ctx.get()); !ok) return Fail(ok.error());
  size_t length = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &length, seed.data(), seed.size()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "RSA-OAEP encryption"));
  }
  Bytes out(length);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &length, seed.data(), seed.size()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "RSA-OAEP encryption"));
  }
  out.resize(length);
  return out;
}

// --- JSON --------------------------------------------------------------------

using nlohmann::json;

// Thrown from the parser callback; caught in ParseJson.
struct JsonShapeError {
  std::string message;
};

// Stops deep nesting early and rejects duplicate keys, which nlohmann would
// otherwise resolve silently to the last one.
class JsonGuard {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) throw JsonShapeError{"JSON nested deeper than expected"};
        keys_.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second) {
          throw JsonShapeError{"duplicate key \"" + PrintableExcerpt(parsed.get<std::string>()) + "\""};
        }
        break;
      case json::parse_event_t::value: break;
    }
    return true;
  }

 private:
  std::vector<std::set<std::string>> keys_;
};

Result<json> ParseJson(std::string_view text) {
  try {
    JsonGuard guard;
    return json::parse(text.begin(), text.end(), [&guard](int depth, json::parse_event_t event, json& parsed) {
      return guard(depth, event, parsed);
    });
  } catch (const JsonShapeError& e) {
    return Fail(ErrorCode::kParse, "seed-shares.json: " + e.message);
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kParse, std::string("seed-shares.json is not valid JSON: ") + e.what());
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kParse, std::string("seed-shares.json: ") + e.what());
  }
}

std::string Describe(const json& v) { return v.type_name(); }

Result<const std::string*> StringField(const json& object, std::string_view field, const std::string& where) {
  const auto it = object.find(field);
  if (it == object.end()) return Fail(ErrorCode::kParse, where + ": missing field \"" + std::string(field) + "\"");
  if (!it->is_string()) {
    return Fail(ErrorCode::kParse, where + "." + std::string(field) + ": expected a string, got " + Describe(*it));
  }
  return &it->get_ref<const std::string&>();
}

Result<Bytes> Base64Field(const json& object, std::string_view field, const std::string& where) {
  auto text = StringField(object, field, where);
  if (!text) return Fail(text.error());
  auto bytes = Base64Decode(**text);
  if (!bytes) {
    return Fail(ErrorCode::kParse, where + "." + std::string(field) + ": not base64 (" + bytes.error().message + ")");
  }
  return bytes;
}

Result<SeedShare> ReadShare(const json& entry, const std::string& where) {
  if (!entry.is_object()) return Fail(ErrorCode::kParse, where + ": expected an object, got " + Describe(entry));
  auto key_hex = StringField(entry, "PublicKey", where);
  if (!key_hex) return Fail(key_hex.error());
  auto key = HexDecode(**key_hex);
  if (!key) return Fail(ErrorCode::kParse, where + ".PublicKey: not hex (" + key.error().message + ")");
  if (key->empty()) return Fail(ErrorCode::kParse, where + ".PublicKey: empty");
  auto encrypted = Base64Field(entry, "EncryptedSeed", where);
  if (!encrypted) return Fail(encrypted.error());
  if (encrypted->empty()) return Fail(ErrorCode::kParse, where + ".EncryptedSeed: empty");
  return SeedShare{std::move(*key), std::move(*encrypted)};
}

}  // namespace

Result<SeedShareDocument> EncryptSeedShares(ByteView seed, ByteView salt, const std::vector<Bytes>& owner_public_keys) {
  if (auto ok = CheckSeedAndSalt(seed, salt); !ok) return Fail(ok.error());
  if (owner_public_keys.size() > kMaxSeedShares) {
    return Fail(ErrorCode::kInvalidArgument, std::to_string(owner_public_keys.size()) + " seed-share owners, at most " +
                                                 std::to_string(kMaxSeedShares));
  }
  SeedShareDocument document;
  document.salt.assign(salt.begin(), salt.end());
  for (size_t i = 0; i < owner_public_keys.size(); ++i) {
    const std::string which = "seed-share owner key " + std::to_string(i);
    auto key = DecodeRsaPublicKey(owner_public_keys[i]);
    if (!key) return Fail(ErrorCode::kInvalidArgument, which + ": " + key.error().message);
    // The range LoadSeedShareOwnerKey accepts: a share for a larger key could
    // never be opened with our tools.
    if (const int bits = EVP_PKEY_get_bits(key->get()); bits < kMinOwnerKeyBits || bits > kMaxOwnerKeyBits) {
      return Fail(ErrorCode::kInvalidArgument, which + ": RSA key of " + std::to_string(bits) + " bits, expected " +
                                                   std::to_string(kMinOwnerKeyBits) + " to " +
                                                   std::to_string(kMaxOwnerKeyBits));
    }
    // The canonical encoding, which is what DecryptSeedShare looks for (the
    // same bytes as the manifest's for any DER key).
    auto canonical = EncodeRsaPublicKey(key->get());
    if (!canonical) return Fail(canonical.error().Wrap(which));
    auto encrypted = EncryptToKey(key->get(), seed);
    if (!encrypted) return Fail(encrypted.error().Wrap(which));
    document.shares.push_back(SeedShare{std::move(*canonical), std::move(*encrypted)});
  }
  return document;
}

Result<Bytes> DecryptSeedShare(const SeedShareDocument& document, const crypto::PrivateKey& owner_key) {
  auto public_key = RsaPublicKeyPkcs1Der(owner_key);
  if (!public_key) return Fail(public_key.error());
  const SeedShare* share = nullptr;
  for (const SeedShare& candidate : document.shares) {
    if (candidate.public_key == *public_key) {
      share = &candidate;
      break;
    }
  }
  if (share == nullptr) {
    return Fail(ErrorCode::kNotFound, "seed-shares.json holds no share for this seed-share owner key");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, owner_key.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "preparing RSA-OAEP decryption"));
  }
  if (auto ok = ConfigureOaep(ctx.get()); !ok) return Fail(ok.error());
  size_t length = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &length, share->encrypted_seed.data(), share->encrypted_seed.size()) != 1) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kCrypto, "the seed share does not decrypt with this key");
  }
  Bytes seed(length);
  const int rc =
      EVP_PKEY_decrypt(ctx.get(), seed.data(), &length, share->encrypted_seed.data(), share->encrypted_seed.size());
  // The queue may name the OAEP check that failed; not worth passing on.
  ClearOpensslErrors();
  if (rc != 1) {
    OPENSSL_cleanse(seed.data(), seed.size());
    return Fail(ErrorCode::kCrypto, "the seed share does not decrypt with this key (corrupted or for another key)");
  }
  if (length < seed.size()) OPENSSL_cleanse(seed.data() + length, seed.size() - length);
  seed.resize(length);
  if (length < kMinSeedSize || length > kSeedSize) {
    OPENSSL_cleanse(seed.data(), seed.size());
    return Fail(ErrorCode::kCrypto, "the decrypted seed has " + std::to_string(length) + " bytes, expected " +
                                        std::to_string(kMinSeedSize) + " to " + std::to_string(kSeedSize));
  }
  return seed;
}

std::string SerializeSeedShareDocument(const SeedShareDocument& document) {
  // ordered_json keeps the field order of upstream's files.
  nlohmann::ordered_json shares = nlohmann::ordered_json::array();
  for (const SeedShare& share : document.shares) {
    nlohmann::ordered_json entry;
    entry["PublicKey"] = HexEncode(share.public_key);
    entry["EncryptedSeed"] = Base64Encode(share.encrypted_seed);
    shares.push_back(std::move(entry));
  }
  nlohmann::ordered_json root;
  root["SeedShares"] = std::move(shares);
  root["salt"] = Base64Encode(document.salt);
  return root.dump(2) + "\n";
}

Result<SeedShareDocument> ParseSeedShareDocument(std::string_view text) {
  if (text.size() > kMaxSeedShareDocumentSize) {
    return Fail(ErrorCode::kParse, "seed-shares.json of " + std::to_string(text.size()) + " bytes, at most " +
                                       std::to_string(kMaxSeedShareDocumentSize));
  }
  auto root = ParseJson(text);
  if (!root) return Fail(root.error());
  if (!root->is_object()) {
    return Fail(ErrorCode::kParse, "seed-shares.json: expected an object, got " + Describe(*root));
  }
  const auto shares = root->find("SeedShares");
  if (shares == root->end()) return Fail(ErrorCode::kParse, "seed-shares.json: missing field \"SeedShares\"");
  if (!shares->is_array()) {
    return Fail(ErrorCode::kParse, "seed-shares.json: SeedShares: expected an array, got " + Describe(*shares));
  }
  if (shares->size() > kMaxSeedShares) {
    return Fail(ErrorCode::kParse, "seed-shares.json: " + std::to_string(shares->size()) + " shares, at most " +
                                       std::to_string(kMaxSeedShares));
  }
  SeedShareDocument document;
  auto salt = Base64Field(*root, "salt", "seed-shares.json");
  if (!salt) return Fail(salt.error());
  if (salt->size() != kSaltSize) {
    return Fail(ErrorCode::kParse, "seed-shares.json: salt of " + std::to_string(salt->size()) + " bytes, expected " +
                                       std::to_string(kSaltSize));
  }
  document.salt = std::move(*salt);
  for (size_t i = 0; i < shares->size(); ++i) {
    auto share = ReadShare((*shares)[i], "seed-shares.json: SeedShares[" + std::to_string(i) + "]");
    if (!share) return Fail(share.error());
    document.shares.push_back(std::move(*share));
  }
  return document;
}

Result<Bytes> RsaPublicKeyPkcs1Der(const crypto::PrivateKey& key) {
  if (!EVP_PKEY_is_a(key.get(), "RSA")) {
    return Fail(ErrorCode::kInvalidArgument,
                "a seed-share owner key must be RSA, got " + std::string(crypto::KeyTypeName(key.type())));
  }
  return EncodeRsaPublicKey(key.get());
}

Result<crypto::PrivateKey> LoadSeedShareOwnerKey(std::string_view pem) {
  const std::string expected =
      "not an unencrypted RSA private key in PEM (\"BEGIN PRIVATE KEY\" or \"BEGIN RSA PRIVATE KEY\")";
  if (pem.size() > kMaxPemSize) {
    return Fail(ErrorCode::kParse, "a PEM private key of " + std::to_string(pem.size()) + " bytes, at most " +
                                       std::to_string(kMaxPemSize));
  }
  // The label decides what we accept; OpenSSL's decoders would also take
  // encrypted keys and other types.
  const size_t begin = pem.find("-----BEGIN ");
  if (begin == std::string_view::npos) return Fail(ErrorCode::kParse, expected);
  const std::string_view block = pem.substr(begin);
  const bool pkcs8 = block.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0;
  const bool pkcs1 = block.rfind("-----BEGIN RSA PRIVATE KEY-----", 0) == 0;
  if (!pkcs8 && !pkcs1) return Fail(ErrorCode::kParse, expected);
  // Legacy PEM encryption is a header inside the block; never prompt for it.
  if (pkcs1 && block.find("Proc-Type:") != std::string_view::npos) {
    return Fail(ErrorCode::kParse, "the RSA private key is encrypted; an unencrypted key is required");
  }
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr decoder(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", pkcs8 ? "PrivateKeyInfo" : "type-specific", "RSA",
                                                      EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!decoder) return Fail(OpensslError(ErrorCode::kCrypto, "creating a private key decoder"));
  const auto* data = reinterpret_cast<const unsigned char*>(block.data());
  size_t length = block.size();
  if (OSSL_DECODER_from_data(decoder.get(), &data, &length) != 1 || raw == nullptr) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, expected);
  }
  ClearOpensslErrors();
  EvpPkeyPtr decoded(raw);
  // A damaged key file can still be valid DER; the pairwise check (n = pq,
  // d the inverse of e, the CRT values) says so before it fails decryption.
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, decoded.get(), nullptr));
  if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "the RSA private key is inconsistent (damaged key file?)");
  }
  auto key = crypto::PrivateKey::FromRsaKey(std::move(decoded));
  if (!key) return Fail(key.error().Wrap("seed-share owner key"));
  return key;
}

Result<Bytes> SignWithOwnerKey(const crypto::PrivateKey& owner_key, ByteView message) {
  if (!EVP_PKEY_is_a(owner_key.get(), "RSA")) {
    return Fail(ErrorCode::kInvalidArgument,
                "a seed-share owner key must be RSA, got " + std::string(crypto::KeyTypeName(owner_key.type())));
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, owner_key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kPssSaltLength) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "preparing an RSA-PSS signature"));
  }
  size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "RSA-PSS signing"));
  }
  Bytes signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, message.data(), message.size()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "RSA-PSS signing"));
  }
  signature.resize(length);
  return signature;
}

Status VerifyOwnerSignature(ByteView owner_public_key_pkcs1, ByteView message, ByteView signature) {
  auto key = DecodeRsaPublicKey(owner_public_key_pkcs1);
  if (!key) return Fail(key.error().Wrap("seed-share owner public key"));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key->get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, kPssSaltLength) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "preparing an RSA-PSS verification"));
  }
  const int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  ClearOpensslErrors();
  if (rc != 1) {
    return Fail(ErrorCode::kSignatureInvalid,
                "the signature does not verify with the seed-share owner key (RSA-PSS, SHA-256)");
  }
  return {};
}

Bytes RecoverAuthorizationMessage(ByteView coordinator_spki, ByteView seed, ByteView salt, bool force) {
  Bytes message(kRecoverContext.begin(), kRecoverContext.end());
  message.push_back(0x00);
  const crypto::Sha256Digest spki_digest = crypto::Sha256(coordinator_spki);
  message.insert(message.end(), spki_digest.begin(), spki_digest.end());
  Bytes seed_and_salt(seed.begin(), seed.end());
  seed_and_salt.insert(seed_and_salt.end(), salt.begin(), salt.end());
  const crypto::Sha256Digest secret_digest = crypto::Sha256(seed_and_salt);
  OPENSSL_cleanse(seed_and_salt.data(), seed_and_salt.size());
  message.insert(message.end(), secret_digest.begin(), secret_digest.end());
  message.push_back(force ? 0x01 : 0x00);
  return message;
}

}  // namespace contrast::seed
