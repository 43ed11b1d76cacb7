#include "crypto/signature.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "crypto/openssl.h"
#include "crypto/x509.h"
#include "support/testdata.h"

namespace contrast::crypto {
namespace {

using contrast::testing::ReadTestdata;

struct RawSignature {
  Bytes r;  // big-endian, fixed width
  Bytes s;
};

// Signs with OpenSSL and splits the DER signature into fixed-width r and s.
RawSignature Sign(EVP_PKEY* key, const char* digest, ByteView message, int width) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EXPECT_EQ(EVP_DigestSignInit_ex(ctx.get(), nullptr, digest, nullptr, nullptr, key, nullptr), 1);
  size_t length = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()), 1);
  Bytes der(length);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), der.data(), &length, message.data(), message.size()), 1);
  der.resize(length);
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  RawSignature out{Bytes(static_cast<size_t>(width)), Bytes(static_cast<size_t>(width))};
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.r.data(), width);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.s.data(), width);
  return out;
}

// Little-endian in a zero-padded 72-byte field, as in an SEV-SNP report.
Bytes ToSnpField(const Bytes& big_endian) {
  Bytes field(72, 0);
  std::reverse_copy(big_endian.begin(), big_endian.end(), field.begin());
  return field;
}

class EcdsaTest : public ::testing::Test {
 protected:
  EvpPkeyPtr p384_{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")};
  EvpPkeyPtr p256_{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  Bytes message_ = Bytes{'a', 't', 't', 'e', 's', 't', 'e', 'd'};
};

TEST_F(EcdsaTest, VerifiesBigEndianIntegers) {
  const RawSignature sig = Sign(p384_.get(), "SHA384", message_, 48);
  EXPECT_TRUE(VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha384, message_, sig.r, sig.s));

  Bytes other = message_;
  other[0] ^= 1;
  auto changed = VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha384, other, sig.r, sig.s);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, ErrorCode::kSignatureInvalid);

  Bytes r = sig.r;
  r[10] ^= 0x40;
  EXPECT_FALSE(VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha384, message_, r, sig.s));
  EXPECT_FALSE(VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha384, message_, sig.s, sig.r));
  EXPECT_FALSE(VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha256, message_, sig.r, sig.s));
}

TEST_F(EcdsaTest, VerifiesSha256) {
  const RawSignature sig = Sign(p256_.get(), "SHA256", message_, 32);
  EXPECT_TRUE(VerifyEcdsa(p256_.get(), DigestAlgorithm::kSha256, message_, sig.r, sig.s));
  EXPECT_FALSE(VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha256, message_, sig.r, sig.s));
}

TEST_F(EcdsaTest, VerifiesLittleEndianSnpFields) {
  const RawSignature sig = Sign(p384_.get(), "SHA384", message_, 48);
  const Bytes r = ToSnpField(sig.r);
  const Bytes s = ToSnpField(sig.s);
  EXPECT_TRUE(VerifyEcdsaLittleEndian(p384_.get(), DigestAlgorithm::kSha384, message_, r, s));
  // Read as big-endian the same bytes are a different (and too large) integer.
  EXPECT_FALSE(VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha384, message_, r, s));
}

TEST_F(EcdsaTest, RejectsMalformedSignaturesAndKeys) {
  const RawSignature sig = Sign(p384_.get(), "SHA384", message_, 48);
  for (const Bytes& r : {Bytes{}, Bytes(2000, 0xFF), Bytes(48, 0)}) {
    auto result = VerifyEcdsa(p384_.get(), DigestAlgorithm::kSha384, message_, r, sig.s);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kSignatureInvalid);
  }
  auto garbage = VerifyEcdsaDer(p384_.get(), DigestAlgorithm::kSha384, message_, Bytes{0x30, 0x03, 0x02, 0x01});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kSignatureInvalid);

  auto no_key = VerifyEcdsa(nullptr, DigestAlgorithm::kSha384, message_, sig.r, sig.s);
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, ErrorCode::kInvalidArgument);
  EvpPkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  auto wrong_type = VerifyEcdsa(rsa.get(), DigestAlgorithm::kSha384, message_, sig.r, sig.s);
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().code, ErrorCode::kInvalidArgument);
}

TEST(EcdsaRealVector, MilanReportSignature) {
  CONTRAST_REQUIRE_TESTDATA();
  auto vcek = Certificate::ParseDer(ReadTestdata("snp/virtee_vcek_milan.der"));
  ASSERT_TRUE(vcek);
  for (const auto& [file, valid] : {std::pair{"snp/virtee_report_milan.bin", true},
                                    std::pair{"snp/negative/virtee_report_milan_byte21_xor80.bin", false}}) {
    const Bytes report = ReadTestdata(file);
    ASSERT_EQ(report.size(), 0x4A0u);
    const ByteView view(report);
    auto result = VerifyEcdsaLittleEndian(vcek->PublicKey(), DigestAlgorithm::kSha384, view.first(0x2A0),
                                          view.subspan(0x2A0, 72), view.subspan(0x2E8, 72));
    EXPECT_EQ(result.has_value(), valid) << file;
  }
}

}  // namespace
}  // namespace contrast::crypto
