#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "crypto/keys.h"
#include "crypto/x509_builder.h"

namespace contrast::crypto {
namespace {

// The error code of a result, or nullopt on success.
template <typename T>
std::optional<ErrorCode> CodeOf(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

using std::chrono::days;

const TimePoint kNotBefore = *ParseRfc3339("2024-01-01T00:00:00Z");
const TimePoint kNotAfter = *ParseRfc3339("2030-01-01T00:00:00Z");
const TimePoint kDuring = *ParseRfc3339("2025-06-01T00:00:00Z");

DistinguishedName Name(const std::string& cn) {
  return {{"OU", "Engineering"}, {"C", "US"}, {"O", "Builder Test"}, {"CN", cn}};
}

// These throw (failing the test) on error rather than return something unusable.
PrivateKey MustGenerate(KeyType type) {
  auto key = PrivateKey::Generate(type);
  if (!key) throw std::runtime_error("key generation failed: " + key.error().message);
  return std::move(*key);
}

X509Ptr MustParse(const Bytes& der) {
  const unsigned char* cursor = der.data();
  X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cert) throw std::runtime_error("cannot parse certificate: " + DrainOpensslErrors());
  return cert;
}

// A root -> intermediate -> EC leaf chain with the shape of AMD's ARK -> ASK
// -> VCEK (RSA-2048 instead of 4096 to keep the test fast).
struct Chain {
  PrivateKey root_key = MustGenerate(KeyType::kRsa2048);
  PrivateKey intermediate_key = MustGenerate(KeyType::kRsa2048);
  PrivateKey leaf_key = MustGenerate(KeyType::kEcP384);
  Bytes root;
  Bytes intermediate;
  Bytes leaf;
  Bytes raw_extension_value = Bytes(64, 0xAB);
};

class BuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    chain_ = new Chain();
    Chain& c = *chain_;
    auto root = CertificateBuilder()
                    .SetSubject(Name("Root"))
                    .SetIssuer(Name("Root"))
                    .SetSerial({0x01, 0x00, 0x00})
                    .SetValidity(kNotBefore, kNotAfter)
                    .SetPublicKey(c.root_key)
                    .AddKeyUsage(kKeyUsageKeyCertSign | kKeyUsageCrlSign)
                    .AddBasicConstraints(true)
                    .AddCrlDistributionPoint("https://example.invalid/crl")
                    .SignDer(c.root_key);
    ASSERT_TRUE(root) << root.error().message;
    auto intermediate = CertificateBuilder()
                            .SetSubject(Name("Intermediate"))
                            .SetIssuer(Name("Root"))
                            .SetSerial({0x01, 0x00, 0x01})
                            .SetValidity(kNotBefore, kNotAfter)
                            .SetPublicKey(c.intermediate_key)
                            .AddBasicConstraints(true, 0)
                            .AddKeyUsage(kKeyUsageKeyCertSign)
                            .SignDer(c.root_key);
    ASSERT_TRUE(intermediate) << intermediate.error().message;
    auto leaf = CertificateBuilder()
                    .SetSubject(Name("Leaf"))
                    .SetIssuer(Name("Intermediate"))
                    .SetSerial({0x00})
                    .SetValidity(kNotBefore, kNotBefore + days(365))
                    .SetPublicKey(c.leaf_key)
                    .AddExtension("1.3.6.1.4.1.3704.1.4", c.raw_extension_value)
                    .AddExtension("1.3.6.1.4.1.3704.1.3.8", *EncodeDerInteger(217))
                    .SignDer(c.intermediate_key);
    ASSERT_TRUE(leaf) << leaf.error().message;
    c.root = *root;
    c.intermediate = *intermediate;
    c.leaf = *leaf;
  }
  static void TearDownTestSuite() {
    delete chain_;
    chain_ = nullptr;
  }

  // X509_verify_cert of `leaf` via `intermediate` to `root` at `at`; returns
  // the OpenSSL verify error (X509_V_OK on success).
  // `intermediate` may be empty; with a `crl` (of the leaf's issuer) the
  // leaf's revocation is checked.
  static int VerifyChain(const Bytes& root, const Bytes& intermediate, const Bytes& leaf, TimePoint at,
                         const Bytes* crl = nullptr) {
    X509StorePtr store(X509_STORE_new());
    X509Ptr root_cert = MustParse(root);
    X509_STORE_add_cert(store.get(), root_cert.get());
    X509CrlPtr crl_object;
    if (crl != nullptr) {
      const unsigned char* cursor = crl->data();
      crl_object.reset(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(crl->size())));
      X509_STORE_add_crl(store.get(), crl_object.get());
      X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
    }
    X509StackPtr untrusted(sk_X509_new_null());
    if (!intermediate.empty()) sk_X509_push(untrusted.get(), MustParse(intermediate).release());
    X509Ptr leaf_cert = MustParse(leaf);
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf_cert.get(), untrusted.get());
    X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(at.time_since_epoch().count()));
    const int ok = X509_verify_cert(ctx.get());
    const int error = X509_STORE_CTX_get_error(ctx.get());
    ClearOpensslErrors();
    return ok == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
  }

  static Chain* chain_;
};

Chain* BuilderTest::chain_ = nullptr;

TEST_F(BuilderTest, RsaPssChainVerifiesWithOpenssl) {
  const Chain& c = *chain_;
  EXPECT_EQ(VerifyChain(c.root, c.intermediate, c.leaf, kNotBefore + days(30)), X509_V_OK);
}

TEST_F(BuilderTest, ChainFailsOutsideValidityAndUnderAnotherRoot) {
  const Chain& c = *chain_;
  EXPECT_EQ(VerifyChain(c.root, c.intermediate, c.leaf, kDuring), X509_V_ERR_CERT_HAS_EXPIRED);  // leaf: 1 year
  EXPECT_EQ(VerifyChain(c.root, c.intermediate, c.leaf, kNotBefore - days(1)), X509_V_ERR_CERT_NOT_YET_VALID);

  // A root with the same name but another key.
  PrivateKey other_key = MustGenerate(KeyType::kRsa2048);
  auto other_root = CertificateBuilder()
                        .SetSubject(Name("Root"))
                        .SetIssuer(Name("Root"))
                        .SetSerial({0x01, 0x00, 0x00})
                        .SetValidity(kNotBefore, kNotAfter)
                        .SetPublicKey(other_key)
                        .AddKeyUsage(kKeyUsageKeyCertSign | kKeyUsageCrlSign)
                        .AddBasicConstraints(true)
                        .SignDer(other_key);
  ASSERT_TRUE(other_root);
  EXPECT_EQ(VerifyChain(*other_root, c.intermediate, c.leaf, kNotBefore + days(30)), X509_V_ERR_CERT_SIGNATURE_FAILURE);
}

TEST_F(BuilderTest, SignatureIsRsassaPssSha384Mgf1Sha384Salt48) {
  X509Ptr cert = MustParse(chain_->intermediate);
  ASSERT_EQ(X509_get_signature_nid(cert.get()), NID_rsassaPss);

  const X509_ALGOR* algorithm = nullptr;
  X509_get0_signature(nullptr, &algorithm, cert.get());
  const ASN1_OBJECT* oid = nullptr;
  int parameter_type = 0;
  const void* parameter = nullptr;
  X509_ALGOR_get0(&oid, &parameter_type, &parameter, algorithm);
  ASSERT_EQ(parameter_type, V_ASN1_SEQUENCE);
  const auto* sequence = static_cast<const ASN1_STRING*>(parameter);
  const unsigned char* cursor = ASN1_STRING_get0_data(sequence);
  Owned<RSA_PSS_PARAMS, RSA_PSS_PARAMS_free> pss(d2i_RSA_PSS_PARAMS(nullptr, &cursor, ASN1_STRING_length(sequence)));
  ASSERT_TRUE(pss);
  ASSERT_NE(pss->hashAlgorithm, nullptr);
  EXPECT_EQ(OBJ_obj2nid(pss->hashAlgorithm->algorithm), NID_sha384);
  ASSERT_NE(pss->maskGenAlgorithm, nullptr);
  EXPECT_EQ(OBJ_obj2nid(pss->maskGenAlgorithm->algorithm), NID_mgf1);
  Owned<X509_ALGOR, X509_ALGOR_free> mask_hash(static_cast<X509_ALGOR*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR), pss->maskGenAlgorithm->parameter)));
  ASSERT_TRUE(mask_hash);
  EXPECT_EQ(OBJ_obj2nid(mask_hash->algorithm), NID_sha384);
  ASSERT_NE(pss->saltLength, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(pss->saltLength), 48);

  // And as `openssl x509 -text` shows it.
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_print(bio.get(), cert.get());
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  const std::string text(data, static_cast<size_t>(length));
  EXPECT_NE(text.find("Signature Algorithm: rsassaPss"), std::string::npos) << text;
  EXPECT_NE(text.find("Hash Algorithm: sha384"), std::string::npos);
  EXPECT_NE(text.find("Mask Algorithm: mgf1 with sha384"), std::string::npos);
  EXPECT_NE(text.find("Salt Length: 0x30"), std::string::npos);
}

TEST_F(BuilderTest, StandardAndCustomExtensions) {
  X509Ptr root = MustParse(chain_->root);
  X509Ptr intermediate = MustParse(chain_->intermediate);
  X509Ptr leaf = MustParse(chain_->leaf);
  EXPECT_EQ(X509_get_version(leaf.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_key_usage(root.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_key_usage(intermediate.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN));
  EXPECT_NE(X509_get_extension_flags(intermediate.get()) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_pathlen(intermediate.get()), 0);
  EXPECT_EQ(X509_get_pathlen(root.get()), -1);
  const int bc = X509_get_ext_by_NID(intermediate.get(), NID_basic_constraints, -1);
  ASSERT_GE(bc, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(intermediate.get(), bc)), 1);
  EXPECT_GE(X509_get_ext_by_NID(root.get(), NID_crl_distribution_points, -1), 0);

  // The leaf carries exactly the two custom extensions, non-critical, with
  // the values as given (the raw one not wrapped in another OCTET STRING).
  EXPECT_EQ(X509_get_ext_count(leaf.get()), 2);
  Asn1ObjectPtr hwid_oid(OBJ_txt2obj("1.3.6.1.4.1.3704.1.4", 1));
  const int at = X509_get_ext_by_OBJ(leaf.get(), hwid_oid.get(), -1);
  ASSERT_GE(at, 0);
  X509_EXTENSION* hwid = X509_get_ext(leaf.get(), at);
  EXPECT_EQ(X509_EXTENSION_get_critical(hwid), 0);
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(hwid);
  EXPECT_EQ(Bytes(ASN1_STRING_get0_data(value), ASN1_STRING_get0_data(value) + ASN1_STRING_length(value)),
            chain_->raw_extension_value);
  EXPECT_TRUE(chain_->leaf_key.Matches(X509_get0_pubkey(leaf.get())));
  EXPECT_FALSE(chain_->root_key.Matches(X509_get0_pubkey(leaf.get())));
}

TEST_F(BuilderTest, CrlListsRevokedSerialAndRevokesInChainCheck) {
  const Chain& c = *chain_;
  auto crl = CrlBuilder()
                 .SetIssuer(Name("Root"))
                 .SetUpdateTimes(kNotBefore, kNotAfter)
                 .AddRevoked({0x01, 0x00, 0x01}, kNotBefore + days(10))
                 .SignDer(c.root_key);
  ASSERT_TRUE(crl) << crl.error().message;
  const unsigned char* cursor = crl->data();
  X509CrlPtr parsed(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(crl->size())));
  ASSERT_TRUE(parsed);
  X509Ptr root = MustParse(c.root);
  EXPECT_EQ(X509_CRL_verify(parsed.get(), X509_get0_pubkey(root.get())), 1);
  EXPECT_EQ(X509_CRL_get_signature_nid(parsed.get()), NID_rsassaPss);
  EXPECT_EQ(X509_CRL_get_version(parsed.get()), X509_CRL_VERSION_2);

  X509_REVOKED* entry = nullptr;
  X509Ptr intermediate = MustParse(c.intermediate);
  EXPECT_EQ(X509_CRL_get0_by_cert(parsed.get(), &entry, intermediate.get()), 1);
  X509Ptr leaf = MustParse(c.leaf);
  EXPECT_EQ(X509_CRL_get0_by_cert(parsed.get(), &entry, leaf.get()), 0);

  // The root revoked the intermediate (as AMD's ARK CRL would revoke an ASK).
  EXPECT_EQ(VerifyChain(c.root, {}, c.intermediate, kNotBefore + days(30), &*crl), X509_V_ERR_CERT_REVOKED);
  auto other_crl = CrlBuilder()
                       .SetIssuer(Name("Root"))
                       .SetUpdateTimes(kNotBefore, kNotAfter)
                       .AddRevoked({0x05}, kNotBefore)
                       .SignDer(c.root_key);
  ASSERT_TRUE(other_crl);
  EXPECT_EQ(VerifyChain(c.root, {}, c.intermediate, kNotBefore + days(30), &*other_crl), X509_V_OK);
  // CRL PEM encoding.
  auto pem = CrlPemFromDer(*crl);
  ASSERT_TRUE(pem);
  EXPECT_EQ(pem->rfind("-----BEGIN X509 CRL-----", 0), 0u);
}

TEST_F(BuilderTest, CertificatePem) {
  auto pem = CertificatePemFromDer(chain_->root);
  ASSERT_TRUE(pem);
  EXPECT_EQ(pem->rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_cmp(cert.get(), MustParse(chain_->root).get()), 0);

  Bytes trailing = chain_->root;
  trailing.push_back(0);
  EXPECT_EQ(CodeOf(CertificatePemFromDer(trailing)), ErrorCode::kParse);
  EXPECT_EQ(CodeOf(CertificatePemFromDer(Bytes{0x30, 0x03})), ErrorCode::kParse);
}

TEST(CertificateBuilder, RejectsIncompleteOrMalformedInput) {
  PrivateKey key = MustGenerate(KeyType::kEcP384);
  auto base = [&] {
    CertificateBuilder b;
    b.SetSubject(Name("x")).SetIssuer(Name("x")).SetSerial({1}).SetValidity(kNotBefore, kNotAfter).SetPublicKey(key);
    return b;
  };
  ASSERT_TRUE(base().SignDer(key));  // ECDSA-signed self-issued certificate
  EXPECT_EQ(X509_get_signature_nid(MustParse(*base().SignDer(key)).get()), NID_ecdsa_with_SHA384);

  EXPECT_EQ(CodeOf(base().SetValidity(kNotAfter, kNotBefore).SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(base().SetSerial({}).SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(base().SetSubject({{"NoSuchField", "x"}}).SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(base().SetIssuer({}).SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(base().AddExtension("not an oid", {0x05, 0x00}).SignDer(key));
  EXPECT_EQ(CodeOf(base().AddBasicConstraints(false, 1).SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(base().AddKeyUsage(0).SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(base().AddCrlDistributionPoint("URI:a,URI:b").SignDer(key)), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(base().SetPublicKeyDer({0x30, 0x00}).SignDer(key)), ErrorCode::kInvalidArgument);

  CertificateBuilder missing;
  missing.SetSubject(Name("x")).SetIssuer(Name("x")).SetSerial({1}).SetPublicKey(key);
  EXPECT_EQ(CodeOf(missing.SignDer(key)), ErrorCode::kInvalidArgument);
}

TEST(Keys, Pkcs8RoundTripAndPublicKeyDer) {
  for (KeyType type : {KeyType::kEcP384, KeyType::kRsa2048}) {
    PrivateKey key = MustGenerate(type);
    auto pem = key.ToPkcs8Pem();
    ASSERT_TRUE(pem);
    EXPECT_EQ(pem->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << KeyTypeName(type);
    auto loaded = PrivateKey::FromPkcs8Pem(*pem);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->type(), type);
    EXPECT_TRUE(loaded->Matches(key.get()));
    EXPECT_EQ(*loaded->PublicKeyDer(), *key.PublicKeyDer());

    // The SPKI DER decodes to the same public key.
    const Bytes spki = *key.PublicKeyDer();
    const unsigned char* cursor = spki.data();
    EvpPkeyPtr public_key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(spki.size())));
    ASSERT_TRUE(public_key);
    EXPECT_TRUE(key.Matches(public_key.get()));
  }
  EXPECT_FALSE(MustGenerate(KeyType::kEcP384).Matches(MustGenerate(KeyType::kEcP384).get()));
  EXPECT_FALSE(MustGenerate(KeyType::kEcP384).Matches(MustGenerate(KeyType::kRsa2048).get()));
}

TEST(Keys, RejectsOtherEncodingsAndKeyTypes) {
  EXPECT_EQ(CodeOf(PrivateKey::FromPkcs8Pem("")), ErrorCode::kParse);
  EXPECT_EQ(CodeOf(PrivateKey::FromPkcs8Pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")),
            ErrorCode::kParse);

  // A legacy "BEGIN RSA PRIVATE KEY" encoding.
  PrivateKey rsa = MustGenerate(KeyType::kRsa2048);
  BioPtr legacy(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey_traditional(legacy.get(), rsa.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(legacy.get(), &data);
  const std::string legacy_pem(data, static_cast<size_t>(length));
  ASSERT_NE(legacy_pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(CodeOf(PrivateKey::FromPkcs8Pem(legacy_pem)), ErrorCode::kParse);

  // A public key is not a private key.
  BioPtr public_pem(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PUBKEY(public_pem.get(), rsa.get()), 1);
  const long public_length = BIO_get_mem_data(public_pem.get(), &data);
  EXPECT_EQ(CodeOf(PrivateKey::FromPkcs8Pem(std::string(data, static_cast<size_t>(public_length)))), ErrorCode::kParse);

  // PKCS#8, but a curve we do not use.
  EvpPkeyPtr p521(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
  ASSERT_TRUE(p521);
  BioPtr p521_pem(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(p521_pem.get(), p521.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  const long p521_length = BIO_get_mem_data(p521_pem.get(), &data);
  EXPECT_EQ(CodeOf(PrivateKey::FromPkcs8Pem(std::string(data, static_cast<size_t>(p521_length)))),
            ErrorCode::kUnsupported);
}

// DER of an ECDSA signature from the big-endian r and s.
Bytes EcdsaDer(const EcdsaP384Signature& signature) {
  EcdsaSigPtr sig(ECDSA_SIG_new());
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(signature.r.data(), 48, nullptr), BN_bin2bn(signature.s.data(), 48, nullptr));
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(sig.get(), &der);
  OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

bool VerifyWith(const PrivateKey& key, ByteView data, const Bytes& der_signature) {
  const Bytes spki = *key.PublicKeyDer();
  const unsigned char* cursor = spki.data();
  EvpPkeyPtr public_key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(spki.size())));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EXPECT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, public_key.get()), 1);
  const int ok = EVP_DigestVerify(ctx.get(), der_signature.data(), der_signature.size(), data.data(), data.size());
  ClearOpensslErrors();
  return ok == 1;
}

TEST(Keys, EcdsaP384SignatureVerifiesWithEvp) {
  PrivateKey key = MustGenerate(KeyType::kEcP384);
  const std::string message = "attestation report bytes";
  auto signature = SignEcdsaP384Sha384(key, AsBytes(message));
  ASSERT_TRUE(signature) << signature.error().message;
  const Bytes der = EcdsaDer(*signature);
  EXPECT_TRUE(VerifyWith(key, AsBytes(message), der));
  EXPECT_FALSE(VerifyWith(key, AsBytes("attestation report bytez"), der));
  EXPECT_FALSE(VerifyWith(MustGenerate(KeyType::kEcP384), AsBytes(message), der));

  EXPECT_EQ(CodeOf(SignEcdsaP384Sha384(MustGenerate(KeyType::kRsa2048), AsBytes(message))),
            ErrorCode::kInvalidArgument);
}

// P-256 keys (Intel's shapes): PKCS#8 round trip, raw r || s signatures
// with SHA-256, and certificates signed with ECDSA-SHA256.
TEST(Keys, EcdsaP256KeysSignWithSha256) {
  PrivateKey key = MustGenerate(KeyType::kEcP256);
  EXPECT_EQ(KeyTypeName(key.type()), "EC P-256");
  auto pem = key.ToPkcs8Pem();
  ASSERT_TRUE(pem) << pem.error().message;
  auto reloaded = PrivateKey::FromPkcs8Pem(*pem);
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ(reloaded->type(), KeyType::kEcP256);

  const std::string message = "quote header and body";
  auto signature = SignEcdsaP256Sha256(key, AsBytes(message));
  ASSERT_TRUE(signature) << signature.error().message;
  const Bytes spki = *key.PublicKeyDer();
  const unsigned char* cursor = spki.data();
  EvpPkeyPtr public_key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(spki.size())));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(signature->r.data(), 32, nullptr), BN_bin2bn(signature->s.data(), 32, nullptr));
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(sig.get(), &der);
  OpensslBytesPtr owned(der);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key.get()), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_length), AsBytes(message).data(), message.size()),
            1);
  EXPECT_EQ(CodeOf(SignEcdsaP256Sha256(MustGenerate(KeyType::kEcP384), AsBytes(message))), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(SignEcdsaP384Sha384(key, AsBytes(message))), ErrorCode::kInvalidArgument);

  auto cert = CertificateBuilder()
                  .SetSubject(Name("P-256 CA"))
                  .SetIssuer(Name("P-256 CA"))
                  .SetSerial({0x01})
                  .SetValidity(kNotBefore, kNotAfter)
                  .SetPublicKey(key)
                  .SignDer(key);
  ASSERT_TRUE(cert) << cert.error().message;
  const unsigned char* cert_cursor = cert->data();
  X509Ptr x509(d2i_X509(nullptr, &cert_cursor, static_cast<long>(cert->size())));
  ASSERT_TRUE(x509);
  EXPECT_EQ(X509_get_signature_nid(x509.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_verify(x509.get(), public_key.get()), 1);
}

TEST(DerEncoding, IntegersAndIa5Strings) {
  EXPECT_EQ(HexEncode(*EncodeDerInteger(0)), "020100");
  EXPECT_EQ(HexEncode(*EncodeDerInteger(115)), "020173");
  EXPECT_EQ(HexEncode(*EncodeDerInteger(217)), "020200d9");  // as in real VCEKs: a leading zero byte
  EXPECT_EQ(HexEncode(*EncodeDerIa5String("Milan-B0")), "16084d696c616e2d4230");
  EXPECT_EQ(CodeOf(EncodeDerIa5String("M\xC3\xA4")), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace contrast::crypto
