#include "ca/ca.h"

#include <arpa/inet.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/time.h"

namespace contrast::ca {
namespace {

using crypto::Certificate;
using crypto::KeyType;
using crypto::PrivateKey;
using crypto::SubjectAltName;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// These throw (failing the test) rather than return something unusable.
PrivateKey MustGenerate(KeyType type) {
  auto key = PrivateKey::Generate(type);
  if (!key) throw std::runtime_error("key generation failed: " + key.error().message);
  return std::move(*key);
}

Bytes MustSpki(const PrivateKey& key) {
  auto der = key.PublicKeyDer();
  if (!der) throw std::runtime_error("public key: " + der.error().message);
  return *der;
}

CertificateAuthority MustGenerateCa() {
  auto ca = CertificateAuthority::Generate();
  if (!ca) throw std::runtime_error("CA: " + ca.error().message);
  return *ca;
}

Certificate MustIssue(const CertificateAuthority& ca, const std::vector<std::string>& sans,
                      const std::vector<crypto::Extension>& claims = {}) {
  const PrivateKey workload_key = MustGenerate(KeyType::kEcP384);
  auto issued = ca.IssueMeshCertificate(MustSpki(workload_key), sans, claims);
  if (!issued) throw std::runtime_error("issuing: " + issued.error().message);
  auto cert = Certificate::ParseDer(issued->der);
  if (!cert) throw std::runtime_error("parsing: " + cert.error().message);
  return *cert;
}

template <typename T>
std::optional<ErrorCode> CodeOf(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

// The SANs of a certificate as "DNS:web", "IP:10.0.0.1", "URI:spiffe://x".
std::vector<std::string> SansOf(const Certificate& cert) {
  std::vector<std::string> out;
  crypto::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    const auto* data = ASN1_STRING_get0_data(value);
    const int length = ASN1_STRING_length(value);
    if (type == GEN_DNS) out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(data), length));
    if (type == GEN_URI) out.push_back("URI:" + std::string(reinterpret_cast<const char*>(data), length));
    if (type == GEN_IPADD) {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(length == 4 ? AF_INET : AF_INET6, data, text, sizeof text);
      out.push_back("IP:" + std::string(text));
    }
  }
  return out;
}

const crypto::Extension* FindExtension(const std::vector<crypto::Extension>& extensions, std::string_view oid) {
  for (const auto& extension : extensions) {
    if (extension.oid == oid) return &extension;
  }
  return nullptr;
}

Bytes Copy(const ASN1_OCTET_STRING* octets) {
  if (octets == nullptr) return {};
  const unsigned char* data = ASN1_STRING_get0_data(octets);
  return Bytes(data, data + ASN1_STRING_length(octets));
}

// X509_verify_cert with an explicit store, purpose and RFC 5280 strictness.
int VerifyWithStore(const Certificate& leaf, const std::vector<Certificate>& untrusted,
                    const std::vector<Certificate>& trusted, int purpose) {
  crypto::X509StorePtr store(X509_STORE_new());
  crypto::X509StackPtr chain(sk_X509_new_null());
  crypto::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  for (const auto& cert : trusted) X509_STORE_add_cert(store.get(), cert.get());
  for (const auto& cert : untrusted) {
    X509_up_ref(cert.get());
    sk_X509_push(chain.get(), cert.get());
  }
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain.get());
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_X509_STRICT);
  const int rc = X509_verify_cert(ctx.get());
  const int error = rc == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
  crypto::ClearOpensslErrors();
  return error;
}

class CaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ca_ = new CertificateAuthority(MustGenerateCa()); }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }
  static const CertificateAuthority& ca() { return *ca_; }

 private:
  static CertificateAuthority* ca_;
};

CertificateAuthority* CaTest::ca_ = nullptr;

void ExpectCaExtensions(const Certificate& cert, long path_length) {
  SCOPED_TRACE(cert.SubjectText());
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_pathlen(cert.get()), path_length);
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  const auto extensions = cert.Extensions();
  const auto* basic = FindExtension(extensions, "2.5.29.19");
  const auto* usage = FindExtension(extensions, "2.5.29.15");
  ASSERT_NE(basic, nullptr);
  ASSERT_NE(usage, nullptr);
  EXPECT_TRUE(basic->critical);
  EXPECT_TRUE(usage->critical);
  // Our SKI is RFC 5280 method 1, the one OpenSSL computes.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ASSERT_EQ(X509_pubkey_digest(cert.get(), EVP_sha1(), digest, &length), 1);
  EXPECT_EQ(Copy(X509_get0_subject_key_id(cert.get())), Bytes(digest, digest + length));
  EVP_PKEY* key = cert.PublicKey();
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key), 384);
}

// notBefore = issuance - 1h; notAfter = the same calendar day `years` later
// (give or take a leap day).
void ExpectValidity(const Certificate& cert, TimePoint before, TimePoint after, int years) {
  EXPECT_GE(cert.NotBefore(), before - std::chrono::hours(1));
  EXPECT_LE(cert.NotBefore(), after - std::chrono::hours(1));
  const auto days = std::chrono::floor<std::chrono::days>(cert.NotAfter() - cert.NotBefore() - std::chrono::hours(1));
  EXPECT_GE(days.count(), 365 * years + years / 4 - 1);
  EXPECT_LE(days.count(), 365 * years + (years + 3) / 4);
  EXPECT_EQ(cert.NotAfter().time_since_epoch() % std::chrono::days(1),
            (cert.NotBefore() + std::chrono::hours(1)).time_since_epoch() % std::chrono::days(1));
}

TEST(CertificateAuthority, RootIsASelfSignedP384CaValidForTenYears) {
  const TimePoint before = Now();
  const CertificateAuthority ca = MustGenerateCa();
  const TimePoint after = Now();
  const Certificate& root = ca.root();
  EXPECT_EQ(root.SubjectText(), "CN=system:coordinator:root");
  EXPECT_TRUE(root.SelfIssued());
  EXPECT_TRUE(root.VerifySignedBy(root));
  ExpectCaExtensions(root, -1);
  EXPECT_EQ(X509_get0_authority_key_id(root.get()), nullptr);
  ExpectValidity(root, before, after, 10);
  // Random positive serial of up to 128 bits.
  EXPECT_LE(root.Serial().size(), 16u);
  EXPECT_FALSE(root.Serial().empty());
  EXPECT_NE(X509_get0_serialNumber(root.get())->type, V_ASN1_NEG_INTEGER);
}

TEST(CertificateAuthority, CreateUsesTheGivenRootKey) {
  PrivateKey root_key = MustGenerate(KeyType::kEcP384);
  const Bytes root_spki = MustSpki(root_key);
  PrivateKey mesh_key = MustGenerate(KeyType::kEcP384);
  const Bytes mesh_spki = MustSpki(mesh_key);
  auto ca = CertificateAuthority::Create(std::move(root_key), std::move(mesh_key));
  ASSERT_TRUE(ca) << ca.error().message;
  EXPECT_TRUE(crypto::PrivateKey::FromPkcs8Pem(*ca->mesh_ca_key().ToPkcs8Pem()));
  EXPECT_EQ(MustSpki(ca->mesh_ca_key()), mesh_spki);
  auto root_key_of_cert = crypto::KeyIdentifier(root_spki);
  ASSERT_TRUE(root_key_of_cert);
  EXPECT_EQ(Copy(X509_get0_subject_key_id(ca->root().get())), *root_key_of_cert);
  EXPECT_TRUE(ca->mesh_ca_key().Matches(ca->mesh_ca().PublicKey()));
}

TEST(CertificateAuthority, RejectsKeysThatAreNotP384) {
  auto root = CertificateAuthority::Create(MustGenerate(KeyType::kRsa2048));
  EXPECT_EQ(CodeOf(root), ErrorCode::kInvalidArgument);
  EXPECT_THAT(root.error().message, HasSubstr("root CA key: expected EC P-384"));
  auto mesh = CertificateAuthority::Create(MustGenerate(KeyType::kEcP384), MustGenerate(KeyType::kRsa2048));
  EXPECT_EQ(CodeOf(mesh), ErrorCode::kInvalidArgument);
  EXPECT_THAT(mesh.error().message, HasSubstr("mesh CA key"));
}

TEST_F(CaTest, IntermediateAndMeshCaShareKeyAndSubject) {
  const Certificate& intermediate = ca().intermediate();
  const Certificate& mesh_ca = ca().mesh_ca();
  EXPECT_EQ(intermediate.SubjectText(), "CN=system:coordinator:intermediate");
  EXPECT_EQ(mesh_ca.SubjectText(), "CN=system:coordinator:intermediate");
  EXPECT_EQ(intermediate.IssuerText(), "CN=system:coordinator:root");
  EXPECT_TRUE(mesh_ca.SelfIssued());
  EXPECT_EQ(EVP_PKEY_eq(intermediate.PublicKey(), mesh_ca.PublicKey()), 1);
  EXPECT_TRUE(ca().mesh_ca_key().Matches(mesh_ca.PublicKey()));
  EXPECT_NE(intermediate.SerialHex(), mesh_ca.SerialHex());
  EXPECT_TRUE(intermediate.VerifySignedBy(ca().root()));
  EXPECT_TRUE(mesh_ca.VerifySignedBy(mesh_ca));
  ExpectCaExtensions(intermediate, 0);
  ExpectCaExtensions(mesh_ca, 0);
  EXPECT_EQ(Copy(X509_get0_authority_key_id(intermediate.get())), Copy(X509_get0_subject_key_id(ca().root().get())));
}

TEST_F(CaTest, PemOutputsRoundTrip) {
  for (const auto& [pem, cert] :
       {std::pair{&ca().root_pem(), &ca().root()}, std::pair{&ca().intermediate_pem(), &ca().intermediate()},
        std::pair{&ca().mesh_ca_pem(), &ca().mesh_ca()}}) {
    EXPECT_THAT(*pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
    auto parsed = Certificate::ParsePem(*pem);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->Der(), cert->Der());
  }
  const PrivateKey workload_key = MustGenerate(KeyType::kEcP384);
  auto issued = ca().IssueMeshCertificate(MustSpki(workload_key), std::vector<std::string>{"web"});
  ASSERT_TRUE(issued) << issued.error().message;
  auto chain = Certificate::ParsePemChain(issued->chain_pem);
  ASSERT_TRUE(chain) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].Der(), issued->der);
  EXPECT_EQ((*chain)[1].Der(), ca().intermediate().Der());
  EXPECT_EQ(Certificate::ParsePem(issued->pem)->Der(), issued->der);
}

TEST_F(CaTest, LeafShape) {
  const TimePoint before = Now();
  const Certificate leaf = MustIssue(ca(), {"web", "*"});
  const TimePoint after = Now();
  EXPECT_EQ(leaf.SubjectText(), "CN=web");
  EXPECT_EQ(leaf.IssuerText(), "CN=system:coordinator:intermediate");
  ExpectValidity(leaf, before, after, 1);
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  const auto extensions = leaf.Extensions();
  ASSERT_NE(FindExtension(extensions, "2.5.29.15"), nullptr);
  EXPECT_TRUE(FindExtension(extensions, "2.5.29.15")->critical);
  ASSERT_NE(FindExtension(extensions, "2.5.29.37"), nullptr);
  EXPECT_FALSE(FindExtension(extensions, "2.5.29.37")->critical);
  ASSERT_NE(FindExtension(extensions, "2.5.29.17"), nullptr);
  EXPECT_FALSE(FindExtension(extensions, "2.5.29.17")->critical);
  EXPECT_EQ(Copy(X509_get0_authority_key_id(leaf.get())), Copy(X509_get0_subject_key_id(ca().mesh_ca().get())));
  EXPECT_THAT(SansOf(leaf), ElementsAre("DNS:web", "DNS:*"));
}

TEST_F(CaTest, ChainsVerifyInProcess) {
  const Certificate leaf = MustIssue(ca(), {"web", "*", "10.1.2.3"});
  const TimePoint now = Now();
  const Certificate& root = ca().root();
  const Certificate& intermediate = ca().intermediate();
  const Certificate& mesh_ca = ca().mesh_ca();
  EXPECT_TRUE(crypto::VerifyChain(leaf, {}, std::span(&mesh_ca, 1), now));
  EXPECT_TRUE(crypto::VerifyChain(leaf, std::span(&intermediate, 1), std::span(&root, 1), now));
  EXPECT_TRUE(crypto::VerifyChain(intermediate, {}, std::span(&root, 1), now));
  EXPECT_FALSE(crypto::VerifyChain(leaf, {}, std::span(&root, 1), now));

  for (const int purpose : {X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT}) {
    SCOPED_TRACE(purpose);
    EXPECT_EQ(VerifyWithStore(leaf, {}, {mesh_ca}, purpose), X509_V_OK);
    EXPECT_EQ(VerifyWithStore(leaf, {intermediate}, {root}, purpose), X509_V_OK);
    EXPECT_NE(VerifyWithStore(leaf, {}, {root}, purpose), X509_V_OK);
  }
}

TEST(SubjectAltNames, Classification) {
  const std::vector<std::string> sans = {"web",
                                         "*",
                                         "*.default.svc.cluster.local",
                                         "10.0.0.1",
                                         "::1",
                                         "2001:db8::1",
                                         "::ffff:192.0.2.1",
                                         "spiffe://acme.com/web",
                                         "urn:example:web",
                                         "db:5432",
                                         "1.2.3",
                                         "256.1.1.1",
                                         "3com:x",
                                         "web.default"};
  auto classified = ClassifySubjectAltNames(sans);
  ASSERT_TRUE(classified) << classified.error().message;
  using Kind = SubjectAltName::Kind;
  const std::vector<Kind> expected = {
      Kind::kDns, Kind::kDns, Kind::kDns, Kind::kIpAddress, Kind::kIpAddress, Kind::kIpAddress, Kind::kIpAddress,
      Kind::kUri, Kind::kUri, Kind::kUri, Kind::kDns,       Kind::kDns,       Kind::kDns,       Kind::kDns};
  ASSERT_EQ(classified->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*classified)[i].kind, expected[i]) << sans[i];
    EXPECT_EQ((*classified)[i].value, sans[i]);
  }
}

TEST(SubjectAltNames, RejectsEmptyListEmptyNamesAndControlCharacters) {
  auto none = ClassifySubjectAltNames(std::vector<std::string>{});
  EXPECT_EQ(CodeOf(none), ErrorCode::kInvalidArgument);
  EXPECT_THAT(none.error().message, HasSubstr("at least one"));
  struct Case {
    std::string san;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "SANs[1] is empty"},           {std::string("we\0b", 4), "byte 0x00 at offset 2"},
      {"web\n", "byte 0x0a at offset 3"}, {"we b", "byte 0x20 at offset 2"},
      {"w\x7f", "byte 0x7f at offset 1"}, {"w\xc3\xa9", "byte 0xc3 at offset 1"},
  };
  for (const Case& c : cases) {
    auto result = ClassifySubjectAltNames(std::vector<std::string>{"ok", c.san});
    EXPECT_EQ(CodeOf(result), ErrorCode::kInvalidArgument) << c.message;
    if (!result) {
      EXPECT_THAT(result.error().message, HasSubstr(c.message));
      EXPECT_THAT(result.error().message, HasSubstr("SANs[1]"));
    }
  }
}

TEST_F(CaTest, LeafCarriesEverySanKind) {
  const Certificate leaf = MustIssue(
      ca(), {"10.0.0.1", "web", "*", "2001:db8::1", "spiffe://acme.com/web", "web.default.svc.cluster.local"});
  EXPECT_THAT(SansOf(leaf), ElementsAre("IP:10.0.0.1", "DNS:web", "DNS:*", "IP:2001:db8::1",
                                        "URI:spiffe://acme.com/web", "DNS:web.default.svc.cluster.local"));
  // The CN is the first DNS SAN, not the first SAN.
  EXPECT_EQ(leaf.SubjectCommonName(), "web");
}

TEST_F(CaTest, CommonNameFallsBackToFirstSanThatFits) {
  EXPECT_EQ(MustIssue(ca(), {"192.0.2.7"}).SubjectCommonName(), "192.0.2.7");
  EXPECT_EQ(MustIssue(ca(), {"spiffe://x/y", "10.0.0.1"}).SubjectCommonName(), "spiffe://x/y");
  const std::string long_name(70, 'a');
  const Certificate leaf = MustIssue(ca(), {long_name, "short"});
  EXPECT_EQ(leaf.SubjectCommonName(), "short");
  EXPECT_THAT(SansOf(leaf), ElementsAre("DNS:" + long_name, "DNS:short"));
  const PrivateKey key = MustGenerate(KeyType::kEcP384);
  auto too_long = ca().IssueMeshCertificate(MustSpki(key), std::vector<std::string>{long_name});
  EXPECT_EQ(CodeOf(too_long), ErrorCode::kInvalidArgument);
}

TEST_F(CaTest, ClaimsAreReadableBack) {
  auto secret_id = WorkloadSecretIdExtension("apps/v1/Deployment/default/web");
  ASSERT_TRUE(secret_id);
  const crypto::Extension custom{.oid = "1.3.9901.2.1.22", .critical = false, .value = Bytes{0x04, 0x02, 0xAB, 0xCD}};
  const Certificate leaf = MustIssue(ca(), {"web"}, {*secret_id, custom});

  auto value = leaf.ExtensionValue(kWorkloadSecretIdOid);
  ASSERT_TRUE(value && value->has_value());
  const unsigned char* cursor = (*value)->data();
  crypto::Asn1OctetStringPtr octets(d2i_ASN1_OCTET_STRING(nullptr, &cursor, static_cast<long>((*value)->size())));
  ASSERT_TRUE(octets);
  const Bytes id = Copy(octets.get());
  EXPECT_EQ(std::string(id.begin(), id.end()), "apps/v1/Deployment/default/web");

  auto raw = leaf.ExtensionValue("1.3.9901.2.1.22");
  ASSERT_TRUE(raw && raw->has_value());
  EXPECT_EQ(**raw, custom.value);
  for (const auto& extension : leaf.Extensions()) {
    if (extension.oid.rfind("1.3.9901.", 0) == 0) {
      EXPECT_FALSE(extension.critical) << extension.oid;
    }
  }
}

TEST_F(CaTest, RejectsBadClaims) {
  const Bytes spki = MustSpki(MustGenerate(KeyType::kEcP384));
  const std::vector<std::string> sans = {"web"};
  const Bytes value = {0x05, 0x00};
  struct Case {
    std::vector<crypto::Extension> claims;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{.oid = "1.2.3.4", .critical = true, .value = value}}, "non-critical"},
      {{{.oid = "not-an-oid", .critical = false, .value = value}}, "malformed OID"},
      {{{.oid = "", .critical = false, .value = value}}, "malformed OID"},
      {{{.oid = "2.5.29.17", .critical = false, .value = value}}, "set by the CA"},
      {{{.oid = "1.2.3.4", .critical = false, .value = value}, {.oid = "1.2.3.4", .critical = false, .value = value}},
       "claims[1] (1.2.3.4): duplicate OID"},
  };
  for (const Case& c : cases) {
    auto result = ca().IssueMeshCertificate(spki, sans, c.claims);
    EXPECT_EQ(CodeOf(result), ErrorCode::kInvalidArgument) << c.message;
    if (!result) {
      EXPECT_THAT(result.error().message, HasSubstr(c.message));
    }
  }
}

TEST_F(CaTest, RejectsBadSubjectPublicKeys) {
  const std::vector<std::string> sans = {"web"};
  const Bytes garbage = {0x30, 0x03, 0x02, 0x01, 0x01};
  auto result = ca().IssueMeshCertificate(garbage, sans);
  EXPECT_EQ(CodeOf(result), ErrorCode::kParse);
  EXPECT_THAT(result.error().message, HasSubstr("subject public key: not a single DER SubjectPublicKeyInfo"));
  EXPECT_EQ(CodeOf(ca().IssueMeshCertificate(Bytes{}, sans)), ErrorCode::kParse);

  Bytes trailing = MustSpki(MustGenerate(KeyType::kEcP384));
  trailing.push_back(0x00);
  EXPECT_EQ(CodeOf(ca().IssueMeshCertificate(trailing, sans)), ErrorCode::kParse);
  Bytes truncated = MustSpki(MustGenerate(KeyType::kEcP384));
  truncated.resize(truncated.size() - 1);
  EXPECT_EQ(CodeOf(ca().IssueMeshCertificate(truncated, sans)), ErrorCode::kParse);

  crypto::EvpPkeyPtr weak(EVP_RSA_gen(1024));
  ASSERT_TRUE(weak);
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(weak.get(), &der);
  ASSERT_GT(length, 0);
  const Bytes weak_spki(der, der + length);
  OPENSSL_free(der);
  auto weak_result = ca().IssueMeshCertificate(weak_spki, sans);
  EXPECT_EQ(CodeOf(weak_result), ErrorCode::kUnsupported);
  EXPECT_THAT(weak_result.error().message, HasSubstr("1024 bits"));

  // RSA 2048 workload keys are fine.
  EXPECT_TRUE(ca().IssueMeshCertificate(MustSpki(MustGenerate(KeyType::kRsa2048)), sans));
  // Bad SANs fail before anything is signed.
  auto bad_san = ca().IssueMeshCertificate(MustSpki(MustGenerate(KeyType::kEcP384)),
                                           std::vector<std::string>{"web", std::string("a\0b", 3)});
  EXPECT_EQ(CodeOf(bad_san), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(ca().IssueMeshCertificate(MustSpki(MustGenerate(KeyType::kEcP384)), std::vector<std::string>{})),
            ErrorCode::kInvalidArgument);
}

TEST(CertificateAuthority, RotationKeepsTheRootAndReplacesTheMeshCa) {
  const CertificateAuthority first = MustGenerateCa();
  auto second = first.Rotate();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->root().Der(), first.root().Der());
  EXPECT_EQ(second->root_pem(), first.root_pem());
  EXPECT_NE(EVP_PKEY_eq(first.mesh_ca().PublicKey(), second->mesh_ca().PublicKey()), 1);
  EXPECT_FALSE(second->mesh_ca_key().Matches(first.mesh_ca().PublicKey()));
  EXPECT_EQ(second->mesh_ca().SubjectText(), first.mesh_ca().SubjectText());

  const Certificate old_leaf = MustIssue(first, {"web"});
  const Certificate new_leaf = MustIssue(*second, {"web"});
  const TimePoint now = Now();
  const Certificate& root = first.root();
  const Certificate& old_mesh = first.mesh_ca();
  const Certificate& new_mesh = second->mesh_ca();
  const Certificate& old_intermediate = first.intermediate();
  const Certificate& new_intermediate = second->intermediate();

  EXPECT_TRUE(crypto::VerifyChain(old_leaf, {}, std::span(&old_mesh, 1), now));
  EXPECT_TRUE(crypto::VerifyChain(new_leaf, {}, std::span(&new_mesh, 1), now));
  auto stale = crypto::VerifyChain(old_leaf, {}, std::span(&new_mesh, 1), now);
  ASSERT_FALSE(stale);
  EXPECT_THAT(stale.error().code, ::testing::AnyOf(ErrorCode::kSignatureInvalid, ErrorCode::kUntrustedRoot));
  EXPECT_FALSE(crypto::VerifyChain(new_leaf, {}, std::span(&old_mesh, 1), now));

  EXPECT_TRUE(crypto::VerifyChain(old_intermediate, {}, std::span(&root, 1), now));
  EXPECT_TRUE(crypto::VerifyChain(new_intermediate, {}, std::span(&root, 1), now));
  EXPECT_TRUE(crypto::VerifyChain(old_leaf, std::span(&old_intermediate, 1), std::span(&root, 1), now));
  EXPECT_TRUE(crypto::VerifyChain(new_leaf, std::span(&new_intermediate, 1), std::span(&root, 1), now));
  EXPECT_FALSE(crypto::VerifyChain(old_leaf, std::span(&new_intermediate, 1), std::span(&root, 1), now));
}

TEST(CertificateAuthority, RotateWithAGivenKeyUsesIt) {
  const CertificateAuthority first = MustGenerateCa();
  PrivateKey recovered = MustGenerate(KeyType::kEcP384);
  const Bytes spki = MustSpki(recovered);
  auto second = first.Rotate(std::move(recovered));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(MustSpki(second->mesh_ca_key()), spki);
  EXPECT_TRUE(second->mesh_ca_key().Matches(second->intermediate().PublicKey()));
  EXPECT_EQ(CodeOf(first.Rotate(MustGenerate(KeyType::kRsa2048))), ErrorCode::kInvalidArgument);
}

TEST_F(CaTest, ConcurrentIssuance) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 12;
  const Bytes spki = MustSpki(MustGenerate(KeyType::kEcP384));
  std::vector<std::vector<Bytes>> issued(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<std::string> sans = {"worker-" + std::to_string(t), "*"};
      for (int i = 0; i < kPerThread; ++i) {
        auto leaf = ca().IssueMeshCertificate(spki, sans);
        if (!leaf) {
          errors[t] = leaf.error().message;
          return;
        }
        issued[t].push_back(std::move(leaf->der));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> serials;
  const Certificate& mesh_ca = ca().mesh_ca();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    ASSERT_EQ(issued[t].size(), static_cast<size_t>(kPerThread));
    for (const Bytes& der : issued[t]) {
      auto leaf = Certificate::ParseDer(der);
      ASSERT_TRUE(leaf);
      EXPECT_EQ(leaf->SubjectCommonName(), "worker-" + std::to_string(t));
      EXPECT_TRUE(crypto::VerifyChain(*leaf, {}, std::span(&mesh_ca, 1), Now()));
      serials.insert(leaf->SerialHex());
    }
  }
  EXPECT_EQ(serials.size(), static_cast<size_t>(kThreads * kPerThread));
}

// --- The acceptance check with the real openssl command line -----------------

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "contrast-ca-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult RunShell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Quote(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

TEST_F(CaTest, OpensslCommandLineVerifiesTheChainsAndShowsTheSans) {
  if (RunShell("openssl version").exit_code != 0) GTEST_SKIP() << "no openssl command line tool";
  TempDir dir;
  const std::vector<std::string> sans = {"web", "*", "203.0.113.34", "2001:db8::1", "spiffe://acme.com/web"};
  const PrivateKey workload_key = MustGenerate(KeyType::kEcP384);
  auto issued = ca().IssueMeshCertificate(MustSpki(workload_key), sans);
  ASSERT_TRUE(issued) << issued.error().message;
  const auto root = dir.path() / "coordinator-root-ca.pem";
  const auto mesh = dir.path() / "mesh-ca.pem";
  const auto intermediate = dir.path() / "intermediate.pem";
  const auto leaf = dir.path() / "leaf.pem";
  const auto chain = dir.path() / "certChain.pem";
  ASSERT_TRUE(WriteFileAtomic(root, ca().root_pem()));
  ASSERT_TRUE(WriteFileAtomic(mesh, ca().mesh_ca_pem()));
  ASSERT_TRUE(WriteFileAtomic(intermediate, ca().intermediate_pem()));
  ASSERT_TRUE(WriteFileAtomic(leaf, issued->pem));
  ASSERT_TRUE(WriteFileAtomic(chain, issued->chain_pem));

  const std::vector<std::string> passing = {
      "openssl verify -x509_strict -CAfile " + Quote(mesh) + " " + Quote(leaf),
      "openssl verify -x509_strict -CAfile " + Quote(root) + " " + Quote(intermediate),
      "openssl verify -x509_strict -CAfile " + Quote(root) + " -untrusted " + Quote(intermediate) + " " + Quote(leaf),
      // certChain.pem as the Initializer writes it: leaf then intermediate.
      "openssl verify -CAfile " + Quote(root) + " -untrusted " + Quote(chain) + " " + Quote(leaf),
      "openssl verify -purpose sslserver -CAfile " + Quote(mesh) + " " + Quote(leaf),
      "openssl verify -purpose sslclient -CAfile " + Quote(mesh) + " " + Quote(leaf),
  };
  for (const std::string& command : passing) {
    const CommandResult result = RunShell(command);
    EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output;
    EXPECT_THAT(result.output, HasSubstr(": OK")) << command;
  }
  const std::vector<std::string> failing = {
      "openssl verify -CAfile " + Quote(root) + " " + Quote(leaf),
      "openssl verify -CAfile " + Quote(mesh) + " " + Quote(intermediate),
  };
  for (const std::string& command : failing) {
    const CommandResult result = RunShell(command);
    EXPECT_NE(result.exit_code, 0) << command << "\n" << result.output;
  }

  const CommandResult san = RunShell("openssl x509 -noout -ext subjectAltName -in " + Quote(leaf));
  ASSERT_EQ(san.exit_code, 0) << san.output;
  EXPECT_THAT(san.output, HasSubstr("DNS:web, DNS:*, IP Address:203.0.113.34, IP Address:2001:DB8:0:0:0:0:0:1, "
                                    "URI:spiffe://acme.com/web\n"));
  const CommandResult subject = RunShell("openssl x509 -noout -subject -issuer -in " + Quote(leaf));
  EXPECT_THAT(subject.output, HasSubstr("subject=CN = web"));
  EXPECT_THAT(subject.output, HasSubstr("issuer=CN = system:coordinator:intermediate"));
}

}  // namespace
}  // namespace contrast::ca
