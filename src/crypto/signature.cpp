#include "crypto/signature.h"

#include <climits>

#include "crypto/openssl.h"

namespace contrast::crypto {
namespace {

// Far above any curve we use (P-521 needs 66 bytes); bounds work on garbage.
constexpr size_t kMaxIntegerBytes = 1024;

const char* DigestName(DigestAlgorithm digest) { return digest == DigestAlgorithm::kSha256 ? "SHA256" : "SHA384"; }

Result<BignumPtr> ToBignum(ByteView bytes, bool little_endian, std::string_view what) {
  if (bytes.empty() || bytes.size() > kMaxIntegerBytes) {
    return Fail(ErrorCode::kSignatureInvalid, "ECDSA " + std::string(what) + " is " + std::to_string(bytes.size()) +
                                                  " bytes (expected 1 to " + std::to_string(kMaxIntegerBytes) + ")");
  }
  const int length = static_cast<int>(bytes.size());
  BignumPtr bn(little_endian ? BN_lebin2bn(bytes.data(), length, nullptr) : BN_bin2bn(bytes.data(), length, nullptr));
  if (!bn) return Fail(OpensslError(ErrorCode::kCrypto, "decoding ECDSA " + std::string(what)));
  return bn;
}

Status VerifyIntegers(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView r_bytes, ByteView s_bytes,
                      bool little_endian) {
  auto r = ToBignum(r_bytes, little_endian, "r");
  if (!r) return Fail(r.error());
  auto s = ToBignum(s_bytes, little_endian, "s");
  if (!s) return Fail(s.error());
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!sig) return Fail(OpensslError(ErrorCode::kCrypto, "allocating ECDSA_SIG"));
  if (ECDSA_SIG_set0(sig.get(), r->get(), s->get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "building ECDSA_SIG"));
  }
  // The signature owns r and s now.
  (void)r->release();
  (void)s->release();
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_length <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "encoding ECDSA_SIG"));
  OpensslBytesPtr der_owner(der);
  return VerifyEcdsaDer(key, digest, message, ByteView(der, static_cast<size_t>(der_length)));
}

}  // namespace

Status VerifyEcdsa(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView r, ByteView s) {
  return VerifyIntegers(key, digest, message, r, s, /*little_endian=*/false);
}

Status VerifyEcdsaLittleEndian(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView r_le, ByteView s_le) {
  return VerifyIntegers(key, digest, message, r_le, s_le, /*little_endian=*/true);
}

Status VerifyEcdsaDer(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView signature_der) {
  if (key == nullptr) return Fail(ErrorCode::kInvalidArgument, "no public key for ECDSA verification");
  if (EVP_PKEY_is_a(key, "EC") != 1) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kInvalidArgument, "ECDSA verification needs an EC key");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating digest context"));
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, DigestName(digest), nullptr, nullptr, key, nullptr) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "initialising ECDSA verification"));
  }
  if (EVP_DigestVerify(ctx.get(), signature_der.data(), signature_der.size(), message.data(), message.size()) == 1) {
    return {};
  }
  // 0 (mismatch) and negative (malformed signature) both mean "not authentic".
  ClearOpensslErrors();
  return Fail(ErrorCode::kSignatureInvalid, std::string("ECDSA signature does not verify (") + DigestName(digest) +
                                                " over " + std::to_string(message.size()) + " bytes)");
}

}  // namespace contrast::crypto
