#include "attest/snp/trust.h"

#include <gtest/gtest.h>

#include <map>

#include "common/files.h"
#include "crypto/hash.h"
#include "crypto/x509.h"
#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::ReadTestdata;

TimePoint At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

// VECTORS.md section A: SHA-256 of the DER encodings.
const std::map<std::pair<Product, std::string>, std::string>& ExpectedPins() {
  static const std::map<std::pair<Product, std::string>, std::string> pins = {
      {{Product::kMilan, "ARK"}, "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"},
      {{Product::kMilan, "ASK"}, "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b"},
      {{Product::kMilan, "ASVK"}, "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5"},
      {{Product::kGenoa, "ARK"}, "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1"},
      {{Product::kGenoa, "ASK"}, "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521"},
      {{Product::kGenoa, "ASVK"}, "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372"},
      {{Product::kTurin, "ARK"}, "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a"},
      {{Product::kTurin, "ASK"}, "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185"},
      {{Product::kTurin, "ASVK"}, "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c"},
  };
  return pins;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

TEST(SnpTrust, PinTableEqualsVectors) {
  const auto& pins = PinnedAmdCertificates();
  ASSERT_EQ(pins.size(), ExpectedPins().size());
  for (const PinnedCertificate& pin : pins) {
    const auto it = ExpectedPins().find({pin.product, std::string(pin.role)});
    ASSERT_NE(it, ExpectedPins().end()) << pin.role;
    EXPECT_EQ(pin.sha256_hex, it->second);
    const std::string kind = pin.role == "ASVK" ? "vlek" : "vcek";
    EXPECT_EQ(pin.source_url,
              "https://kdsintf.amd.com/" + kind + "/v1/" + std::string(ProductName(pin.product)) + "/cert_chain");
  }
}

// docs/attestation.md lists every pin; users compare against it.
TEST(SnpTrust, DocumentationListsEveryPin) {
  auto doc = ReadTextFile(std::string(CONTRAST_SOURCE_DIR) + "/docs/attestation.md");
  ASSERT_TRUE(doc) << doc.error().message;
  for (const PinnedCertificate& pin : PinnedAmdCertificates()) {
    const std::string row = "| " + std::string(ProductName(pin.product)) + " |";
    const size_t at = doc->find("`" + std::string(pin.sha256_hex) + "`");
    ASSERT_NE(at, std::string::npos) << pin.role << " " << pin.sha256_hex;
    const size_t line = doc->rfind('\n', at);
    EXPECT_EQ(doc->compare(line + 1, row.size(), row), 0) << "pin listed under the wrong product: " << pin.sha256_hex;
  }
}

TEST(SnpTrust, EmbeddedCertificatesHashToThePins) {
  const TrustAnchors& amd = TrustAnchors::Amd();
  ASSERT_EQ(amd.products.size(), 3u);
  for (const Product product : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    const ProductAnchors* anchors = amd.Find(product);
    ASSERT_NE(anchors, nullptr);
    EXPECT_FALSE(anchors->insecure);
    EXPECT_EQ(HexEncode(crypto::Sha256(anchors->ark_der)), ExpectedPins().at({product, "ARK"}));
    EXPECT_EQ(HexEncode(crypto::Sha256(anchors->ask_der)), ExpectedPins().at({product, "ASK"}));
    EXPECT_EQ(HexEncode(crypto::Sha256(anchors->asvk_der)), ExpectedPins().at({product, "ASVK"}));
    EXPECT_TRUE(IsPinnedAmdCertificate(product, "ARK", anchors->ark_der));
    EXPECT_FALSE(IsPinnedAmdCertificate(product, "ASK", anchors->ark_der));
  }
  EXPECT_EQ(amd.Find(Product::kUnknown), nullptr);
  EXPECT_FALSE(IsPinnedAmdCertificate(Product::kGenoa, "ARK", amd.Find(Product::kMilan)->ark_der));
}

TEST(SnpTrust, EmbeddedCertificatesEqualTheSharedFiles) {
  CONTRAST_REQUIRE_TESTDATA();
  for (const Product product : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    const ProductAnchors* anchors = TrustAnchors::Amd().Find(product);
    ASSERT_NE(anchors, nullptr);
    const std::string suffix = "_" + Lower(ProductName(product)) + ".pem";
    const std::pair<std::string, const Bytes*> files[] = {
        {"ark", &anchors->ark_der}, {"ask", &anchors->ask_der}, {"asvk", &anchors->asvk_der}};
    for (const auto& [role, der] : files) {
      auto cert = crypto::Certificate::ParsePem(AsChars(ReadTestdata("snp/" + role + suffix)));
      ASSERT_TRUE(cert) << role << suffix;
      EXPECT_EQ(cert->Der(), *der) << role << suffix;
    }
  }
}

TEST(SnpTrust, CommonNames) {
  EXPECT_EQ(ArkCommonName(Product::kGenoa), "ARK-Genoa");
  EXPECT_EQ(IntermediateCommonName(Product::kTurin, SigningKey::kVcek), "SEV-Turin");
  EXPECT_EQ(IntermediateCommonName(Product::kMilan, SigningKey::kVlek), "SEV-VLEK-Milan");
}

class AmdCertChain : public ::testing::Test {
 protected:
  void SetUp() override { CONTRAST_REQUIRE_TESTDATA(); }
  static std::string Text(const std::string& file) { return std::string(AsChars(ReadTestdata("snp/" + file))); }
  const TimePoint now_ = At("2026-11-28T00:00:00Z");
};

TEST_F(AmdCertChain, AcceptsEveryKdsChain) {
  for (const Product product : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    const std::string p = Lower(ProductName(product));
    EXPECT_TRUE(VerifyAmdCertChain(Text("ask_ark_" + p + "_vcek.pem"), product, SigningKey::kVcek, now_)) << p;
    EXPECT_TRUE(VerifyAmdCertChain(Text("asvk_ark_" + p + "_vlek.pem"), product, SigningKey::kVlek, now_)) << p;
  }
}

TEST_F(AmdCertChain, RejectsAnotherProductsChain) {
  auto result = VerifyAmdCertChain(Text("ask_ark_milan_vcek.pem"), Product::kGenoa, SigningKey::kVcek, now_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUntrustedRoot);
  EXPECT_NE(result.error().message.find("not the pinned ARK"), std::string::npos);
}

TEST_F(AmdCertChain, RejectsTheWrongIntermediateKind) {
  auto asvk_for_vcek = VerifyAmdCertChain(Text("asvk_ark_milan_vlek.pem"), Product::kMilan, SigningKey::kVcek, now_);
  ASSERT_FALSE(asvk_for_vcek);
  EXPECT_EQ(asvk_for_vcek.error().code, ErrorCode::kUntrustedRoot);
  EXPECT_NE(asvk_for_vcek.error().message.find("SEV-VLEK-Milan"), std::string::npos);
  auto ask_for_vlek = VerifyAmdCertChain(Text("ask_ark_genoa_vcek.pem"), Product::kGenoa, SigningKey::kVlek, now_);
  ASSERT_FALSE(ask_for_vlek);
  EXPECT_EQ(ask_for_vlek.error().code, ErrorCode::kUntrustedRoot);
}

TEST_F(AmdCertChain, RejectsAForeignIntermediateUnderThePinnedArk) {
  // Genoa's ASK presented with Milan's (genuine) ARK.
  auto result =
      VerifyAmdCertChain(Text("ask_genoa.pem") + Text("ark_milan.pem"), Product::kMilan, SigningKey::kVcek, now_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUntrustedRoot);
}

TEST_F(AmdCertChain, RejectsMalformedChains) {
  auto one = VerifyAmdCertChain(Text("ask_milan.pem"), Product::kMilan, SigningKey::kVcek, now_);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, ErrorCode::kCertificateInvalid);
  auto reversed =
      VerifyAmdCertChain(Text("ark_milan.pem") + Text("ask_milan.pem"), Product::kMilan, SigningKey::kVcek, now_);
  ASSERT_FALSE(reversed);
  EXPECT_EQ(reversed.error().code, ErrorCode::kUntrustedRoot);
  // One changed character inside the ARK's base64 body.
  std::string tampered = Text("ask_ark_milan_vcek.pem");
  const size_t ark_body = tampered.rfind("-----BEGIN CERTIFICATE-----") + 200;
  tampered[ark_body] = tampered[ark_body] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyAmdCertChain(tampered, Product::kMilan, SigningKey::kVcek, now_));
  EXPECT_FALSE(VerifyAmdCertChain("", Product::kMilan, SigningKey::kVcek, now_));
}

TEST_F(AmdCertChain, ChecksValidity) {
  auto result = VerifyAmdCertChain(Text("ask_ark_milan_vcek.pem"), Product::kMilan, SigningKey::kVcek,
                                   At("2046-01-01T00:00:00Z"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCertificateExpired);
}

}  // namespace
}  // namespace contrast::attest::snp
