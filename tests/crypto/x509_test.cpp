#include "crypto/x509.h"

#include <gtest/gtest.h>

#include <openssl/pem.h>

#include <stdexcept>

#include "support/testdata.h"

namespace contrast::crypto {
namespace {

using contrast::testing::ReadTestdata;

TimePoint At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

Certificate MustParse(const std::string& file) {
  auto cert = Certificate::ParseAuto(ReadTestdata(file));
  // GoogleTest reports the exception as a failure of the calling test.
  if (!cert) throw std::runtime_error(file + ": " + cert.error().message);
  return *cert;
}

// --- A small test PKI built with OpenSSL directly (EC P-256, SHA-256). ---

EvpPkeyPtr NewKey() { return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

X509NamePtr Name(const std::string& cn) {
  X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Contrast Test"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  return name;
}

constexpr time_t kBase = 1893456000;  // 2030-01-01T00:00:00Z
constexpr time_t kDay = 86400;

TimePoint FromEpoch(time_t t) { return TimePoint(std::chrono::seconds(t)); }

Certificate MakeCert(const std::string& cn, EVP_PKEY* key, const X509_NAME* issuer, EVP_PKEY* issuer_key, long serial,
                     bool ca) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_set_subject_name(x.get(), Name(cn).get());
  X509_set_issuer_name(x.get(), issuer != nullptr ? issuer : X509_get_subject_name(x.get()));
  ASN1_TIME_set(X509_getm_notBefore(x.get()), kBase - 365 * kDay);
  ASN1_TIME_set(X509_getm_notAfter(x.get()), kBase + 365 * kDay);
  X509_set_pubkey(x.get(), key);
  if (ca) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
    X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    X509_add_ext(x.get(), ext.get(), -1);
  }
  EXPECT_GT(X509_sign(x.get(), issuer_key, EVP_sha256()), 0);
  auto cert = Certificate::FromX509(std::move(x));
  EXPECT_TRUE(cert);
  return *cert;
}

// A DER CRL from `issuer` revoking `revoked`, current from kBase - 1 day to kBase + 30 days.
Bytes MakeCrl(const X509_NAME* issuer, EVP_PKEY* key, const std::vector<long>& revoked) {
  X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), issuer);
  Asn1TimePtr this_update(ASN1_TIME_set(nullptr, kBase - kDay));
  Asn1TimePtr next_update(ASN1_TIME_set(nullptr, kBase + 30 * kDay));
  X509_CRL_set1_lastUpdate(crl.get(), this_update.get());
  X509_CRL_set1_nextUpdate(crl.get(), next_update.get());
  for (long serial : revoked) {
    X509_REVOKED* entry = X509_REVOKED_new();
    Asn1IntegerPtr number(ASN1_INTEGER_new());
    ASN1_INTEGER_set(number.get(), serial);
    X509_REVOKED_set_serialNumber(entry, number.get());
    X509_REVOKED_set_revocationDate(entry, this_update.get());
    X509_CRL_add0_revoked(crl.get(), entry);
  }
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), key, EVP_sha256()), 0);
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &der);
  OpensslBytesPtr owner(der);
  return Bytes(der, der + length);
}

struct TestPki {
  EvpPkeyPtr ca_key = NewKey();
  Certificate ca = MakeCert("Test CA", ca_key.get(), nullptr, ca_key.get(), 1, true);
  EvpPkeyPtr leaf_key = NewKey();
  Certificate revoked =
      MakeCert("revoked leaf", leaf_key.get(), X509_get_subject_name(ca.get()), ca_key.get(), 10, false);
  Certificate good = MakeCert("good leaf", leaf_key.get(), X509_get_subject_name(ca.get()), ca_key.get(), 11, false);
  Bytes crl_der = MakeCrl(X509_get_subject_name(ca.get()), ca_key.get(), {10});
};

// --- Parsing real AMD certificates ---

TEST(Certificate, ParsesMilanArk) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate ark = MustParse("snp/ark_milan.pem");
  EXPECT_EQ(ark.SubjectCommonName(), "ARK-Milan");
  EXPECT_EQ(ark.IssuerCommonName(), "ARK-Milan");
  EXPECT_TRUE(ark.SelfIssued());
  EXPECT_EQ(ark.SerialHex(), "010000");
  EXPECT_EQ(FormatRfc3339(ark.NotBefore()), "2020-10-22T17:23:05Z");
  EXPECT_EQ(FormatRfc3339(ark.NotAfter()), "2045-10-22T17:23:05Z");
  EXPECT_EQ(HexEncode(ark.Sha256Fingerprint()), "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd");
  EXPECT_NE(ark.SubjectText().find("Advanced Micro Devices"), std::string::npos);
  ASSERT_NE(ark.PublicKey(), nullptr);
  EXPECT_EQ(EVP_PKEY_get_bits(ark.PublicKey()), 4096);
  // Self-signature with RSASSA-PSS parameters taken from the certificate.
  EXPECT_TRUE(ark.VerifySignedBy(ark));
}

TEST(Certificate, DerAndPemAgree) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate from_pem = MustParse("snp/ask_genoa.pem");
  auto from_der = Certificate::ParseDer(from_pem.Der());
  ASSERT_TRUE(from_der);
  EXPECT_EQ(from_der->Der(), from_pem.Der());
  auto again = Certificate::ParseAuto(from_pem.Der());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->SubjectCommonName(), "SEV-Genoa");
  // Copies share the certificate and stay usable after the original is gone.
  std::optional<Certificate> copy;
  {
    const Certificate original = *from_der;
    copy = original;
  }
  EXPECT_EQ(copy->SubjectCommonName(), "SEV-Genoa");
}

TEST(Certificate, ParsesKdsChainInOrder) {
  CONTRAST_REQUIRE_TESTDATA();
  const Bytes pem = ReadTestdata("snp/ask_ark_turin_vcek.pem");  // CRLF line ends
  auto chain = Certificate::ParsePemChain(AsChars(pem));
  ASSERT_TRUE(chain) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].SubjectCommonName(), "SEV-Turin");
  EXPECT_EQ((*chain)[1].SubjectCommonName(), "ARK-Turin");
  EXPECT_TRUE((*chain)[0].VerifySignedBy((*chain)[1]));
}

TEST(Certificate, IntermediateDoesNotVerifyUnderAnotherProductsArk) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate ask = MustParse("snp/ask_milan.pem");
  const Certificate genoa_ark = MustParse("snp/ark_genoa.pem");
  auto by_name = ask.VerifySignedBy(genoa_ark);
  ASSERT_FALSE(by_name);
  EXPECT_EQ(by_name.error().code, ErrorCode::kUntrustedRoot);
  EXPECT_NE(by_name.error().message.find("ARK-Milan"), std::string::npos);
  auto by_key = ask.VerifySignatureWith(genoa_ark.PublicKey());
  ASSERT_FALSE(by_key);
  EXPECT_EQ(by_key.error().code, ErrorCode::kSignatureInvalid);
}

TEST(Certificate, ValidityWindow) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate vlek = MustParse("snp/trustee_test-vlek.der");
  EXPECT_TRUE(vlek.ValidAt(At("2025-06-01T00:00:00Z")));
  EXPECT_FALSE(vlek.ValidAt(At("2026-11-28T00:00:00Z")));
  EXPECT_FALSE(vlek.ValidAt(At("2024-01-01T00:00:00Z")));
  auto expired = vlek.CheckValidAt(At("2026-11-28T00:00:00Z"), "VLEK");
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kCertificateExpired);
  EXPECT_NE(expired.error().message.find("VLEK is expired"), std::string::npos);
  EXPECT_NE(expired.error().message.find("2025-12-10"), std::string::npos);
  auto early = vlek.CheckValidAt(At("2024-01-01T00:00:00Z"), "VLEK");
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message.find("not yet valid"), std::string::npos);
}

TEST(Certificate, ExtensionLookup) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate vcek = MustParse("snp/gosevguest_vcek.der");
  auto product = vcek.ExtensionValue("1.3.6.1.4.1.3704.1.2");
  ASSERT_TRUE(product);
  ASSERT_TRUE(product->has_value());
  // IA5String "Milan-B0".
  EXPECT_EQ(HexEncode(**product), "16084d696c616e2d4230");
  auto absent = vcek.ExtensionValue("1.3.6.1.4.1.3704.1.5");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
  auto malformed = vcek.ExtensionValue("not an oid");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);
  bool saw_hwid = false;
  for (const Extension& e : vcek.Extensions()) {
    if (e.oid == "1.3.6.1.4.1.3704.1.4") {
      saw_hwid = true;
      EXPECT_EQ(e.value.size(), 64u);
      EXPECT_FALSE(e.critical);
    }
  }
  EXPECT_TRUE(saw_hwid);
}

TEST(Certificate, RejectsMalformedInput) {
  CONTRAST_REQUIRE_TESTDATA();
  const Bytes der = ReadTestdata("snp/virtee_vcek_milan.der");
  for (const Bytes& bad : {Bytes{}, Bytes{0x30}, Bytes(der.begin(), der.end() - 1), Bytes(100, 0xAB)}) {
    auto cert = Certificate::ParseDer(bad);
    ASSERT_FALSE(cert);
    EXPECT_EQ(cert.error().code, ErrorCode::kCertificateInvalid);
  }
  Bytes trailing = der;
  trailing.push_back(0);
  auto with_trailing = Certificate::ParseDer(trailing);
  ASSERT_FALSE(with_trailing);
  EXPECT_NE(with_trailing.error().message.find("trailing"), std::string::npos);
  EXPECT_FALSE(Certificate::ParsePem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  EXPECT_FALSE(Certificate::ParsePemChain("no pem here"));
  // A chain whose second block is corrupt is rejected, not cut short.
  const Bytes chain = ReadTestdata("snp/ask_ark_milan_vcek.pem");
  std::string broken(AsChars(chain));
  broken[broken.rfind("-----END") - 10] = '*';
  EXPECT_FALSE(Certificate::ParsePemChain(broken));
}

// --- Chains ---

TEST(VerifyChain, RealVcekChainsToPinnedArkOnly) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate vcek = MustParse("snp/virtee_vcek_milan.der");
  const std::vector<Certificate> ask{MustParse("snp/ask_milan.pem")};
  const std::vector<Certificate> milan{MustParse("snp/ark_milan.pem")};
  const std::vector<Certificate> genoa{MustParse("snp/ark_genoa.pem")};
  EXPECT_TRUE(VerifyChain(vcek, ask, milan, At("2025-01-01T00:00:00Z")));

  auto expired = VerifyChain(vcek, ask, milan, At("2031-01-01T00:00:00Z"));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kCertificateExpired);

  auto wrong_root = VerifyChain(vcek, ask, genoa, At("2025-01-01T00:00:00Z"));
  ASSERT_FALSE(wrong_root);
  EXPECT_EQ(wrong_root.error().code, ErrorCode::kUntrustedRoot);

  // The ARK travelling with the chain is not trusted by itself.
  std::vector<Certificate> with_ark = ask;
  with_ark.push_back(milan[0]);
  auto untrusted = VerifyChain(vcek, with_ark, genoa, At("2025-01-01T00:00:00Z"));
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, ErrorCode::kUntrustedRoot);

  auto no_anchor = VerifyChain(vcek, ask, {}, At("2025-01-01T00:00:00Z"));
  ASSERT_FALSE(no_anchor);
  EXPECT_EQ(no_anchor.error().code, ErrorCode::kUntrustedRoot);
}

TEST(VerifyChain, TamperedVcekFailsWithSignatureError) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate vcek = MustParse("snp/negative/virtee_vcek_milan_byte40_xorff.der");
  auto result = VerifyChain(vcek, std::vector<Certificate>{MustParse("snp/ask_milan.pem")},
                            std::vector<Certificate>{MustParse("snp/ark_milan.pem")}, At("2025-01-01T00:00:00Z"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kSignatureInvalid) << result.error().message;
}

TEST(VerifyChain, VlekNeedsTheAsvk) {
  CONTRAST_REQUIRE_TESTDATA();
  const Certificate vlek = MustParse("snp/trustee_test-vlek.der");
  const std::vector<Certificate> ark{MustParse("snp/ark_milan.pem")};
  EXPECT_TRUE(
      VerifyChain(vlek, std::vector<Certificate>{MustParse("snp/asvk_milan.pem")}, ark, At("2025-06-01T00:00:00Z")));
  auto with_ask =
      VerifyChain(vlek, std::vector<Certificate>{MustParse("snp/ask_milan.pem")}, ark, At("2025-06-01T00:00:00Z"));
  ASSERT_FALSE(with_ask);
  EXPECT_EQ(with_ask.error().code, ErrorCode::kUntrustedRoot);
}

// --- CRLs (test PKI: the AMD ARK key is not available to sign one) ---

TEST(Crl, ParsesVerifiesAndLooksUpSerials) {
  TestPki pki;
  auto crl = Crl::Parse(pki.crl_der);
  ASSERT_TRUE(crl) << crl.error().message;
  EXPECT_EQ(crl->ThisUpdate(), FromEpoch((kBase - kDay)));
  ASSERT_TRUE(crl->NextUpdate());
  EXPECT_EQ(*crl->NextUpdate(), FromEpoch((kBase + 30 * kDay)));
  EXPECT_TRUE(crl->VerifySignedBy(pki.ca));
  EXPECT_TRUE(crl->IsRevoked(pki.revoked));
  EXPECT_FALSE(crl->IsRevoked(pki.good));
  EXPECT_TRUE(crl->CheckCurrentAt(FromEpoch((kBase))));
  auto early = crl->CheckCurrentAt(FromEpoch((kBase - 2 * kDay)));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kCertificateExpired);
  auto stale = crl->CheckCurrentAt(FromEpoch((kBase + 31 * kDay)));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kCertificateExpired);
  EXPECT_NE(stale.error().message.find("nextUpdate"), std::string::npos);
}

TEST(Crl, ParsesPem) {
  TestPki pki;
  auto der = Crl::Parse(pki.crl_der);
  ASSERT_TRUE(der);
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_CRL(bio.get(), der->get()), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  auto pem = Crl::Parse(AsBytes(std::string_view(data, static_cast<size_t>(length))));
  ASSERT_TRUE(pem) << pem.error().message;
  EXPECT_TRUE(pem->IsRevoked(pki.revoked));
}

TEST(Crl, RejectsOtherIssuers) {
  TestPki pki;
  auto crl = Crl::Parse(pki.crl_der);
  ASSERT_TRUE(crl);
  // A different CA: the names differ.
  EvpPkeyPtr other_key = NewKey();
  const Certificate other = MakeCert("Other CA", other_key.get(), nullptr, other_key.get(), 2, true);
  auto by_name = crl->VerifySignedBy(other);
  ASSERT_FALSE(by_name);
  EXPECT_EQ(by_name.error().code, ErrorCode::kUntrustedRoot);
  // An impostor with the CA's name but another key.
  const Certificate impostor = MakeCert("Test CA", other_key.get(), nullptr, other_key.get(), 3, true);
  auto by_key = crl->VerifySignedBy(impostor);
  ASSERT_FALSE(by_key);
  EXPECT_EQ(by_key.error().code, ErrorCode::kSignatureInvalid);
}

TEST(Crl, RejectsMalformedInput) {
  TestPki pki;
  for (const Bytes& bad :
       {Bytes{}, Bytes{0x30, 0x00}, Bytes(pki.crl_der.begin(), pki.crl_der.end() - 3), Bytes(64, 0x55)}) {
    auto crl = Crl::Parse(bad);
    ASSERT_FALSE(crl);
    EXPECT_EQ(crl.error().code, ErrorCode::kCertificateInvalid);
  }
}

TEST(VerifyChain, ChecksCrlsWhenGiven) {
  TestPki pki;
  auto crl = Crl::Parse(pki.crl_der);
  ASSERT_TRUE(crl);
  const std::vector<Certificate> anchors{pki.ca};
  const std::vector<Crl> crls{*crl};
  const TimePoint at = FromEpoch(kBase);
  EXPECT_TRUE(VerifyChain(pki.good, {}, anchors, at, crls));
  EXPECT_TRUE(VerifyChain(pki.revoked, {}, anchors, at));  // no CRL, no revocation check
  auto revoked = VerifyChain(pki.revoked, {}, anchors, at, crls);
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().code, ErrorCode::kCertificateRevoked);
  auto stale = VerifyChain(pki.good, {}, anchors, at + std::chrono::days(31), crls);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kCertificateExpired);
}

}  // namespace
}  // namespace contrast::crypto
