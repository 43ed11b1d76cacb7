#include "seed/sealed.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <string>

#include "crypto/openssl.h"

namespace contrast::seed {
namespace {

using crypto::OpensslError;
using CipherCtxPtr = crypto::Owned<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;

constexpr std::string_view kMagic = "CSR1";
constexpr std::string_view kAadContext = "contrast sealed state v1";
constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kOverhead = 4 + kNonceSize + kTagSize;

Status CheckKeyAndPurpose(ByteView key, std::string_view purpose) {
  if (key.size() != kKeySize) {
    return Fail(ErrorCode::kInvalidArgument,
                "a sealing key of " + std::to_string(key.size()) + " bytes, expected " + std::to_string(kKeySize));
  }
  // The purpose ends at the 0x00 in the associated data; one inside it would
  // make two purposes share an encoding.
  if (purpose.find('\0') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "a sealing purpose must not contain a NUL byte");
  }
  return {};
}

// "contrast sealed state v1" || purpose || 0x00 || binding.
Bytes AssociatedData(std::string_view purpose, const SealBinding& binding) {
  // Sized once: g++ 12 misreads the growth of a vector built by inserts as
  // an out-of-bounds copy (-Warray-bounds).
  Bytes aad(kAadContext.size() + purpose.size() + 1 + binding.size());
  auto next = std::copy(kAadContext.begin(), kAadContext.end(), aad.begin());
  next = std::copy(purpose.begin(), purpose.end(), next);
  *next++ = 0x00;
  std::copy(binding.begin(), binding.end(), next);
  return aad;
}

void AppendBigEndian32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

// Reads one length-prefixed field of DecodeSealedCaState from `rest`.
Result<Bytes> ReadField(ByteView& rest, std::string_view name) {
  if (rest.size() < 4)
    return Fail(ErrorCode::kParse, "sealed CA state: truncated before the length of " + std::string(name));
  const uint32_t length = (uint32_t{rest[0]} << 24) | (uint32_t{rest[1]} << 16) | (uint32_t{rest[2]} << 8) | rest[3];
  rest = rest.subspan(4);
  if (length > kMaxSealedRecordSize) {
    return Fail(ErrorCode::kParse, "sealed CA state: " + std::string(name) + " of " + std::to_string(length) +
                                       " bytes, at most " + std::to_string(kMaxSealedRecordSize));
  }
  if (rest.size() < length) {
    return Fail(ErrorCode::kParse, "sealed CA state: " + std::string(name) + " truncated (" +
                                       std::to_string(rest.size()) + " of " + std::to_string(length) + " bytes)");
  }
  Bytes field(rest.begin(), rest.begin() + length);
  rest = rest.subspan(length);
  return field;
}

}  // namespace

Result<Bytes> Seal(ByteView key, std::string_view purpose, const SealBinding& binding, ByteView plaintext) {
  if (auto ok = CheckKeyAndPurpose(key, purpose); !ok) return Fail(ok.error());
  if (plaintext.size() > kMaxSealedRecordSize - kOverhead) {
    return Fail(ErrorCode::kInvalidArgument, "a sealed record holds at most " +
                                                 std::to_string(kMaxSealedRecordSize - kOverhead) + " bytes, got " +
                                                 std::to_string(plaintext.size()));
  }
  Bytes record(kMagic.begin(), kMagic.end());
  record.resize(kOverhead + plaintext.size());
  uint8_t* nonce = record.data() + kMagic.size();
  uint8_t* ciphertext = nonce + kNonceSize;
  uint8_t* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "drawing a nonce"));
  }
  const Bytes aad = AssociatedData(purpose, binding);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int written = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &written, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ciphertext, &written, plaintext.data(), static_cast<int>(plaintext.size())) != 1 ||
      static_cast<size_t>(written) != plaintext.size() ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + written, &written) != 1 || written != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "AES-256-GCM sealing"));
  }
  return record;
}

Result<Bytes> Open(ByteView key, std::string_view purpose, const SealBinding& binding, ByteView record) {
  if (auto ok = CheckKeyAndPurpose(key, purpose); !ok) return Fail(ok.error());
  const std::string what = "the sealed record (" + std::string(purpose) + ")";
  if (record.size() < kOverhead) {
    return Fail(ErrorCode::kParse, what + " of " + std::to_string(record.size()) + " bytes is too short (at least " +
                                       std::to_string(kOverhead) + ")");
  }
  if (record.size() > kMaxSealedRecordSize) {
    return Fail(ErrorCode::kParse, what + " of " + std::to_string(record.size()) + " bytes is too long (at most " +
                                       std::to_string(kMaxSealedRecordSize) + ")");
  }
  if (AsChars(record.first(kMagic.size())) != kMagic) {
    return Fail(ErrorCode::kParse, what + " does not start with \"" + std::string(kMagic) + "\"");
  }
  const ByteView nonce = record.subspan(kMagic.size(), kNonceSize);
  const ByteView ciphertext = record.subspan(kMagic.size() + kNonceSize, record.size() - kOverhead);
  Bytes tag(record.end() - kTagSize, record.end());  // SET_TAG wants a mutable pointer
  const Bytes aad = AssociatedData(purpose, binding);
  Bytes plaintext(ciphertext.size());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int written = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &written, aad.data(), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plaintext.data(), &written, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag.data()) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Fail(OpensslError(ErrorCode::kCrypto, "AES-256-GCM opening"));
  }
  int final_written = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + written, &final_written) != 1) {
    crypto::ClearOpensslErrors();
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Fail(ErrorCode::kValidationFailed,
                what + " does not authenticate: a wrong key, another binding or purpose, or altered bytes");
  }
  return plaintext;
}

Bytes EncodeSealedCaState(const SealedCaState& state) {
  Bytes out;
  out.reserve(16 + state.mesh_ca_key_pkcs8.size() + state.root_certificate.size() +
              state.intermediate_certificate.size() + state.mesh_ca_certificate.size());
  for (const Bytes* field : {&state.mesh_ca_key_pkcs8, &state.root_certificate, &state.intermediate_certificate,
                             &state.mesh_ca_certificate}) {
    AppendBigEndian32(out, static_cast<uint32_t>(field->size()));
    out.insert(out.end(), field->begin(), field->end());
  }
  return out;
}

Result<SealedCaState> DecodeSealedCaState(ByteView bytes) {
  SealedCaState state;
  ByteView rest = bytes;
  struct Field {
    Bytes* target;
    std::string_view name;
  };
  for (const Field& field :
       {Field{&state.mesh_ca_key_pkcs8, "the mesh CA key"}, Field{&state.root_certificate, "the root certificate"},
        Field{&state.intermediate_certificate, "the intermediate certificate"},
        Field{&state.mesh_ca_certificate, "the mesh CA certificate"}}) {
    auto value = ReadField(rest, field.name);
    if (!value) {
      if (!state.mesh_ca_key_pkcs8.empty())
        OPENSSL_cleanse(state.mesh_ca_key_pkcs8.data(), state.mesh_ca_key_pkcs8.size());
      return Fail(value.error());
    }
    *field.target = std::move(*value);
  }
  if (!rest.empty()) {
    OPENSSL_cleanse(state.mesh_ca_key_pkcs8.data(), state.mesh_ca_key_pkcs8.size());
    return Fail(ErrorCode::kParse, "sealed CA state: " + std::to_string(rest.size()) + " bytes after the last field");
  }
  return state;
}

}  // namespace contrast::seed
