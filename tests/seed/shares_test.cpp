#include "seed/shares.h"

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/files.h"
#include "crypto/hash.h"
#include "openssl_cli.h"
#include "seed/engine.h"

namespace contrast::seed {
namespace {

using crypto::KeyType;
using crypto::PrivateKey;
using testing::RunOpenssl;
using testing::TempDir;

const Bytes kSeed = [] {
  Bytes seed(kSeedSize);
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(0x11 * (i % 13) + i);
  return seed;
}();
const Bytes kSalt(kSaltSize, 0x5A);

// RSA key generation is slow; the suite shares a few keys.
class SeedSharesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (int i = 0; i < 3; ++i) {
      auto key = PrivateKey::Generate(KeyType::kRsa2048);
      ASSERT_TRUE(key) << key.error().message;
      owners_.push_back(std::make_unique<PrivateKey>(std::move(*key)));
    }
  }
  static void TearDownTestSuite() { owners_.clear(); }

  static const PrivateKey& Owner(size_t i) { return *owners_.at(i); }
  static Bytes PublicKey(size_t i) {
    auto der = RsaPublicKeyPkcs1Der(Owner(i));
    EXPECT_TRUE(der) << der.error().message;
    return der ? *der : Bytes{};
  }
  static SeedShareDocument MustEncrypt(const std::vector<Bytes>& keys) {
    auto document = EncryptSeedShares(kSeed, kSalt, keys);
    EXPECT_TRUE(document) << document.error().message;
    return document ? *document : SeedShareDocument{};
  }

  static std::vector<std::unique_ptr<PrivateKey>> owners_;
};

std::vector<std::unique_ptr<PrivateKey>> SeedSharesTest::owners_;

// --- Encryption ------------------------------------------------------------------

TEST_F(SeedSharesTest, EveryOwnerDecryptsTheSeed) {
  const SeedShareDocument document = MustEncrypt({PublicKey(0), PublicKey(1)});
  ASSERT_EQ(document.shares.size(), 2u);
  EXPECT_EQ(document.salt, kSalt);
  EXPECT_EQ(document.shares[0].public_key, PublicKey(0));
  EXPECT_EQ(document.shares[1].public_key, PublicKey(1));
  EXPECT_EQ(document.shares[0].encrypted_seed.size(), 256u);
  for (size_t i : {0u, 1u}) {
    auto seed = DecryptSeedShare(document, Owner(i));
    ASSERT_TRUE(seed) << seed.error().message;
    EXPECT_EQ(*seed, kSeed);
  }
}

TEST_F(SeedSharesTest, EncryptionIsRandomized) {
  const SeedShareDocument a = MustEncrypt({PublicKey(0)});
  const SeedShareDocument b = MustEncrypt({PublicKey(0)});
  ASSERT_EQ(a.shares.size(), 1u);
  ASSERT_EQ(b.shares.size(), 1u);
  EXPECT_NE(a.shares[0].encrypted_seed, b.shares[0].encrypted_seed);
}

TEST_F(SeedSharesTest, NoSharesWithoutOwners) {
  const SeedShareDocument document = MustEncrypt({});
  EXPECT_TRUE(document.shares.empty());
  auto seed = DecryptSeedShare(document, Owner(0));
  ASSERT_FALSE(seed);
  EXPECT_EQ(seed.error().code, ErrorCode::kNotFound);
}

TEST_F(SeedSharesTest, KeyOfAnotherOwnerIsNotFound) {
  const SeedShareDocument document = MustEncrypt({PublicKey(0), PublicKey(1)});
  auto seed = DecryptSeedShare(document, Owner(2));
  ASSERT_FALSE(seed);
  EXPECT_EQ(seed.error().code, ErrorCode::kNotFound);
}

TEST_F(SeedSharesTest, TamperedCiphertextFailsWithoutSecrets) {
  const SeedShareDocument original = MustEncrypt({PublicKey(0)});
  const Bytes& ciphertext = original.shares[0].encrypted_seed;
  for (size_t i = 0; i < ciphertext.size(); i += 17) {
    SeedShareDocument tampered = original;
    tampered.shares[0].encrypted_seed[i] ^= 0x01;
    auto seed = DecryptSeedShare(tampered, Owner(0));
    ASSERT_FALSE(seed) << "byte " << i;
    EXPECT_EQ(seed.error().code, ErrorCode::kCrypto);
    EXPECT_EQ(seed.error().message.find(HexEncode(kSeed).substr(0, 8)), std::string::npos);
  }
  // Truncated, empty and overlong ciphertexts.
  for (Bytes bad : {Bytes(ciphertext.begin(), ciphertext.end() - 1), Bytes{}, Bytes(ciphertext.size() + 1, 0x01)}) {
    SeedShareDocument tampered = original;
    tampered.shares[0].encrypted_seed = bad;
    auto seed = DecryptSeedShare(tampered, Owner(0));
    ASSERT_FALSE(seed) << bad.size();
    EXPECT_EQ(seed.error().code, ErrorCode::kCrypto);
  }
}

TEST_F(SeedSharesTest, ShareEncryptedWithoutTheLabelIsRejected) {
  // Plain OAEP-SHA256 without "seedshare": same key, different label.
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, Owner(0).get(), nullptr));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(EVP_PKEY_encrypt_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()), 1);
  size_t length = 256;
  Bytes ciphertext(length);
  ASSERT_EQ(EVP_PKEY_encrypt(ctx.get(), ciphertext.data(), &length, kSeed.data(), kSeed.size()), 1);
  SeedShareDocument document{{SeedShare{PublicKey(0), ciphertext}}, kSalt};
  auto seed = DecryptSeedShare(document, Owner(0));
  ASSERT_FALSE(seed);
  EXPECT_EQ(seed.error().code, ErrorCode::kCrypto);
}

TEST_F(SeedSharesTest, BadOwnerKeysAreNamedByIndex) {
  Bytes truncated = PublicKey(1);
  truncated.pop_back();
  Bytes trailing = PublicKey(1);
  trailing.push_back(0);
  auto ec = PrivateKey::Generate(KeyType::kEcP384);
  ASSERT_TRUE(ec);
  auto spki = ec->PublicKeyDer();
  ASSERT_TRUE(spki);
  for (const Bytes& bad : {truncated, trailing, Bytes{}, Bytes{0x30, 0x00}, *spki}) {
    auto document = EncryptSeedShares(kSeed, kSalt, {PublicKey(0), bad});
    ASSERT_FALSE(document);
    EXPECT_EQ(document.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(document.error().message.find("key 1"), std::string::npos) << document.error().message;
  }
  // RSA-1024 is too small for a seed share.
  crypto::EvpPkeyPtr small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  ASSERT_TRUE(small);
  unsigned char* der = nullptr;
  const int length = i2d_PublicKey(small.get(), &der);
  ASSERT_GT(length, 0);
  Bytes small_der(der, der + length);
  OPENSSL_free(der);
  auto document = EncryptSeedShares(kSeed, kSalt, {small_der});
  ASSERT_FALSE(document);
  EXPECT_EQ(document.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(document.error().message.find("1024"), std::string::npos) << document.error().message;
}

TEST_F(SeedSharesTest, BadSeedOrSaltSizes) {
  EXPECT_EQ(EncryptSeedShares(Bytes(31, 1), kSalt, {PublicKey(0)}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(EncryptSeedShares(Bytes(65, 1), kSalt, {PublicKey(0)}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(EncryptSeedShares(kSeed, Bytes(31, 1), {PublicKey(0)}).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SeedSharesTest, DecryptWithNonRsaKeyIsInvalidArgument) {
  const SeedShareDocument document = MustEncrypt({PublicKey(0)});
  auto ec = PrivateKey::Generate(KeyType::kEcP384);
  ASSERT_TRUE(ec);
  auto seed = DecryptSeedShare(document, *ec);
  ASSERT_FALSE(seed);
  EXPECT_EQ(seed.error().code, ErrorCode::kInvalidArgument);
}

TEST(SeedShares, Rsa4096RoundTrip) {
  auto owner = PrivateKey::Generate(KeyType::kRsa4096);
  ASSERT_TRUE(owner) << owner.error().message;
  auto der = RsaPublicKeyPkcs1Der(*owner);
  ASSERT_TRUE(der);
  auto document = EncryptSeedShares(kSeed, kSalt, {*der});
  ASSERT_TRUE(document) << document.error().message;
  EXPECT_EQ(document->shares.at(0).encrypted_seed.size(), 512u);
  auto seed = DecryptSeedShare(*document, *owner);
  ASSERT_TRUE(seed) << seed.error().message;
  EXPECT_EQ(*seed, kSeed);
}

// The openssl binary decrypts our share with OAEP, SHA-256 and the label.
TEST_F(SeedSharesTest, OpensslBinaryDecryptsTheShare) {
  REQUIRE_OPENSSL_CLI();
  const SeedShareDocument document = MustEncrypt({PublicKey(0)});
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto pem = Owner(0).ToPkcs8Pem();
  ASSERT_TRUE(pem);
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "key.pem", *pem, 0600));
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "ct.bin", document.shares[0].encrypted_seed));
  auto out = RunOpenssl({"pkeyutl", "-decrypt", "-inkey", (dir.path() / "key.pem").string(), "-in",
                         (dir.path() / "ct.bin").string(), "-out", (dir.path() / "seed.bin").string(), "-pkeyopt",
                         "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
                         "-pkeyopt", "rsa_oaep_label:" + HexEncode(AsBytes(kSeedShareLabel))});
  ASSERT_TRUE(out) << "openssl pkeyutl -decrypt failed";
  auto seed = ReadFile(dir.path() / "seed.bin");
  ASSERT_TRUE(seed);
  EXPECT_EQ(*seed, kSeed);

  // And the label is checked: without it, openssl refuses the share.
  EXPECT_FALSE(
      RunOpenssl({"pkeyutl", "-decrypt", "-inkey", (dir.path() / "key.pem").string(), "-in",
                  (dir.path() / "ct.bin").string(), "-out", (dir.path() / "none.bin").string(), "-pkeyopt",
                  "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"}));
}

// The other direction: a share the openssl binary made, for a PKCS#1 key
// file that openssl wrote.
TEST_F(SeedSharesTest, WeDecryptAShareFromTheOpensslBinary) {
  REQUIRE_OPENSSL_CLI();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto key_path = (dir.path() / "owner.pem").string();
  ASSERT_TRUE(RunOpenssl({"genrsa", "-traditional", "-out", key_path, "3072"}));
  auto pem = ReadTextFile(key_path);
  ASSERT_TRUE(pem);
  ASSERT_NE(pem->find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  auto owner = LoadSeedShareOwnerKey(*pem);
  ASSERT_TRUE(owner) << owner.error().message;
  EXPECT_EQ(owner->type(), KeyType::kRsaOther);
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "seed.bin", kSeed));
  ASSERT_TRUE(RunOpenssl({"pkeyutl", "-encrypt", "-inkey", key_path, "-in", (dir.path() / "seed.bin").string(), "-out",
                          (dir.path() / "ct.bin").string(), "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt",
                          "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", "-pkeyopt",
                          "rsa_oaep_label:" + HexEncode(AsBytes(kSeedShareLabel))}));
  // The PKCS#1 public key as the manifest carries it, from openssl.
  ASSERT_TRUE(RunOpenssl(
      {"rsa", "-in", key_path, "-RSAPublicKey_out", "-outform", "DER", "-out", (dir.path() / "pub.der").string()}));
  auto public_key = ReadFile(dir.path() / "pub.der");
  auto ciphertext = ReadFile(dir.path() / "ct.bin");
  ASSERT_TRUE(public_key && ciphertext);
  EXPECT_EQ(*public_key, *RsaPublicKeyPkcs1Der(*owner));
  SeedShareDocument document{{SeedShare{*public_key, *ciphertext}}, kSalt};
  auto seed = DecryptSeedShare(document, *owner);
  ASSERT_TRUE(seed) << seed.error().message;
  EXPECT_EQ(*seed, kSeed);
}

// --- JSON ----------------------------------------------------------------------

TEST_F(SeedSharesTest, JsonRoundTripAndShape) {
  const SeedShareDocument document = MustEncrypt({PublicKey(0), PublicKey(1)});
  const std::string json = SerializeSeedShareDocument(document);
  EXPECT_EQ(json.rfind("{\n  \"SeedShares\": [\n    {\n      \"PublicKey\": \"", 0), 0u) << json;
  EXPECT_NE(json.find("\"EncryptedSeed\": \""), std::string::npos);
  EXPECT_NE(json.find("\"salt\": \"" + Base64Encode(kSalt) + "\""), std::string::npos);
  EXPECT_NE(json.find(HexEncode(PublicKey(1))), std::string::npos);
  EXPECT_EQ(json.back(), '\n');
  auto parsed = ParseSeedShareDocument(json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, document);
  EXPECT_EQ(SerializeSeedShareDocument(*parsed), json);
  auto seed = DecryptSeedShare(*parsed, Owner(1));
  ASSERT_TRUE(seed);
  EXPECT_EQ(*seed, kSeed);
}

const std::string kSaltB64 = Base64Encode(Bytes(kSaltSize, 0x5A));

TEST(SeedShareJson, AcceptsUpstreamShapeUpperCaseHexAndUnknownFields) {
  const std::string json = R"({"SeedShares":[{"PublicKey":"3082ABcd","EncryptedSeed":"AAEC","Extra":1}],"salt":")" +
                           kSaltB64 + R"(","more":{"x":[1,2]}})";
  auto parsed = ParseSeedShareDocument(json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->shares.size(), 1u);
  EXPECT_EQ(parsed->shares[0].public_key, (Bytes{0x30, 0x82, 0xAB, 0xCD}));
  EXPECT_EQ(parsed->shares[0].encrypted_seed, (Bytes{0x00, 0x01, 0x02}));
  EXPECT_EQ(parsed->salt, Bytes(kSaltSize, 0x5A));
}

TEST(SeedShareJson, StrictParseErrors) {
  const std::string salt = "\"salt\":\"" + kSaltB64 + "\"";
  const std::string share = R"({"PublicKey":"3082","EncryptedSeed":"AAEC"})";
  struct Case {
    std::string name;
    std::string json;
    std::string message;  // a part of the expected message
  };
  const std::vector<Case> cases = {
      {"not json", "{", "not valid JSON"},
      {"empty", "", "not valid JSON"},
      {"array root", "[]", "expected an object"},
      {"string root", "\"x\"", "expected an object"},
      {"missing shares", "{" + salt + "}", "SeedShares"},
      {"missing salt", R"({"SeedShares":[]})", "salt"},
      {"shares null", R"({"SeedShares":null,)" + salt + "}", "expected an array"},
      {"shares object", R"({"SeedShares":{},)" + salt + "}", "expected an array"},
      {"salt number", R"({"SeedShares":[],"salt":5})", "expected a string"},
      {"salt short", R"({"SeedShares":[],"salt":"AAAA"})", "salt of 3 bytes"},
      {"salt bad base64", R"({"SeedShares":[],"salt":"!!!!"})", "not base64"},
      {"salt unpadded", R"({"SeedShares":[],"salt":"AAA"})", "not base64"},
      {"share not object", R"({"SeedShares":[1],)" + salt + "}", "SeedShares[0]"},
      {"share missing key", R"({"SeedShares":[{"EncryptedSeed":"AAEC"}],)" + salt + "}", "PublicKey"},
      {"share missing seed", R"({"SeedShares":[{"PublicKey":"3082"}],)" + salt + "}", "EncryptedSeed"},
      {"bad hex", R"({"SeedShares":[{"PublicKey":"30g2","EncryptedSeed":"AAEC"}],)" + salt + "}", "not hex"},
      {"odd hex", R"({"SeedShares":[{"PublicKey":"308","EncryptedSeed":"AAEC"}],)" + salt + "}", "not hex"},
      {"empty key", R"({"SeedShares":[{"PublicKey":"","EncryptedSeed":"AAEC"}],)" + salt + "}", "empty"},
      {"key number", R"({"SeedShares":[{"PublicKey":3082,"EncryptedSeed":"AAEC"}],)" + salt + "}", "expected a string"},
      {"bad base64 seed", R"({"SeedShares":[{"PublicKey":"3082","EncryptedSeed":"AA=C"}],)" + salt + "}", "not base64"},
      {"second share bad",
       R"({"SeedShares":[)" + share + R"(,{"PublicKey":"zz","EncryptedSeed":"AAEC"}],)" + salt + "}", "SeedShares[1]"},
      {"duplicate key", R"({"SeedShares":[],"SeedShares":[],)" + salt + "}", "duplicate"},
      {"deep nesting", R"({"x":[[[[[[]]]]]],"SeedShares":[],)" + salt + "}", "nested"},
      {"trailing garbage", R"({"SeedShares":[],)" + salt + "} x", "not valid JSON"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseSeedShareDocument(c.json);
    ASSERT_FALSE(parsed) << c.name;
    EXPECT_EQ(parsed.error().code, ErrorCode::kParse) << c.name;
    EXPECT_NE(parsed.error().message.find(c.message), std::string::npos) << c.name << ": " << parsed.error().message;
  }
}

TEST(SeedShareJson, TooManyShares) {
  std::string json = R"({"SeedShares":[)";
  for (size_t i = 0; i <= kMaxSeedShares; ++i) {
    if (i > 0) json += ",";
    json += R"({"PublicKey":"3082","EncryptedSeed":"AAEC"})";
  }
  json += R"(],"salt":")" + kSaltB64 + "\"}";
  auto parsed = ParseSeedShareDocument(json);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
  EXPECT_NE(parsed.error().message.find("257 shares"), std::string::npos) << parsed.error().message;
}

TEST(SeedShareJson, HugeInputIsRejectedBeforeParsing) {
  std::string json = R"({"SeedShares":[],"salt":")" + kSaltB64 + R"(","pad":")";
  json += std::string(kMaxSeedShareDocumentSize, 'a') + "\"}";
  auto parsed = ParseSeedShareDocument(json);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
  EXPECT_NE(parsed.error().message.find("at most"), std::string::npos) << parsed.error().message;
  // Deeply nested brackets within the size limit do not exhaust the stack.
  const std::string deep(kMaxSeedShareDocumentSize / 2, '[');
  EXPECT_EQ(ParseSeedShareDocument(deep).error().code, ErrorCode::kParse);
}

// --- Owner keys ------------------------------------------------------------------

std::string Pkcs1Pem(const PrivateKey& key) {
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  // The "type-specific" RSA structure in PEM is PKCS#1 (BEGIN RSA PRIVATE KEY).
  if (!bio || PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

TEST_F(SeedSharesTest, LoadsPkcs8AndPkcs1Pem) {
  auto pkcs8 = Owner(0).ToPkcs8Pem();
  ASSERT_TRUE(pkcs8);
  auto from_pkcs8 = LoadSeedShareOwnerKey(*pkcs8);
  ASSERT_TRUE(from_pkcs8) << from_pkcs8.error().message;
  EXPECT_TRUE(from_pkcs8->Matches(Owner(0).get()));
  EXPECT_EQ(from_pkcs8->type(), KeyType::kRsa2048);

  const std::string pkcs1 = Pkcs1Pem(Owner(1));
  ASSERT_NE(pkcs1.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  auto from_pkcs1 = LoadSeedShareOwnerKey(pkcs1);
  ASSERT_TRUE(from_pkcs1) << from_pkcs1.error().message;
  EXPECT_TRUE(from_pkcs1->Matches(Owner(1).get()));
}

TEST_F(SeedSharesTest, RejectsOtherKeysAndEncodings) {
  auto ec = PrivateKey::Generate(KeyType::kEcP384);
  ASSERT_TRUE(ec);
  auto ec_pem = ec->ToPkcs8Pem();
  ASSERT_TRUE(ec_pem);
  auto from_ec = LoadSeedShareOwnerKey(*ec_pem);
  ASSERT_FALSE(from_ec);
  EXPECT_NE(from_ec.error().code, ErrorCode::kInternal);

  const std::string pkcs1 = Pkcs1Pem(Owner(0));
  std::string encrypted_legacy = pkcs1;
  encrypted_legacy.insert(encrypted_legacy.find('\n') + 1,
                          "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n");
  std::string corrupted = pkcs1;
  corrupted[corrupted.size() / 2] = corrupted[corrupted.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {std::string(), std::string("not a key"),
        std::string("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        std::string("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
        encrypted_legacy, corrupted, pkcs1.substr(0, pkcs1.size() / 2), std::string(70 * 1024, 'A')}) {
    auto key = LoadSeedShareOwnerKey(bad);
    ASSERT_FALSE(key) << bad.substr(0, 60);
    EXPECT_EQ(key.error().code, ErrorCode::kParse) << key.error().message;
  }
  // RSA-1024 parses but is too small.
  crypto::EvpPkeyPtr small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  ASSERT_TRUE(small);
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), small.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  auto key = LoadSeedShareOwnerKey(std::string(data, static_cast<size_t>(length)));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(key.error().message.find("1024"), std::string::npos) << key.error().message;
}

TEST_F(SeedSharesTest, RsaPublicKeyPkcs1DerOfNonRsaKey) {
  auto ec = PrivateKey::Generate(KeyType::kEcP384);
  ASSERT_TRUE(ec);
  EXPECT_EQ(RsaPublicKeyPkcs1Der(*ec).error().code, ErrorCode::kInvalidArgument);
}

// --- Owner signatures --------------------------------------------------------------

TEST_F(SeedSharesTest, SignatureVerifiesOnlyForItsKeyAndMessage) {
  const Bytes message = RecoverAuthorizationMessage(AsBytes("spki"), kSeed, kSalt, false);
  auto signature = SignWithOwnerKey(Owner(0), message);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_EQ(signature->size(), 256u);
  EXPECT_TRUE(VerifyOwnerSignature(PublicKey(0), message, *signature));

  Bytes other_message = message;
  other_message.back() ^= 1;
  EXPECT_EQ(VerifyOwnerSignature(PublicKey(0), other_message, *signature).error().code, ErrorCode::kSignatureInvalid);
  EXPECT_EQ(VerifyOwnerSignature(PublicKey(1), message, *signature).error().code, ErrorCode::kSignatureInvalid);
  Bytes flipped = *signature;
  flipped[100] ^= 0x40;
  EXPECT_EQ(VerifyOwnerSignature(PublicKey(0), message, flipped).error().code, ErrorCode::kSignatureInvalid);
  EXPECT_EQ(VerifyOwnerSignature(PublicKey(0), message, {}).error().code, ErrorCode::kSignatureInvalid);
  EXPECT_EQ(VerifyOwnerSignature(Bytes{0x30, 0x00}, message, *signature).error().code, ErrorCode::kParse);
  auto ec = PrivateKey::Generate(KeyType::kEcP384);
  ASSERT_TRUE(ec);
  EXPECT_EQ(SignWithOwnerKey(*ec, message).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SeedSharesTest, SignatureIsPssWithSha256AndSalt32) {
  REQUIRE_OPENSSL_CLI();
  const Bytes message = RecoverAuthorizationMessage(AsBytes("spki"), kSeed, kSalt, true);
  auto signature = SignWithOwnerKey(Owner(0), message);
  ASSERT_TRUE(signature);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto pem = Owner(0).ToPkcs8Pem();
  ASSERT_TRUE(pem);
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "key.pem", *pem, 0600));
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "msg.bin", message));
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "sig.bin", *signature));
  const auto verify = [&](const std::string& saltlen) {
    return RunOpenssl({"dgst", "-sha256", "-prverify", (dir.path() / "key.pem").string(), "-sigopt",
                       "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:" + saltlen, "-sigopt", "rsa_mgf1_md:sha256",
                       "-signature", (dir.path() / "sig.bin").string(), (dir.path() / "msg.bin").string()})
        .has_value();
  };
  EXPECT_TRUE(verify("32"));
  EXPECT_FALSE(verify("20"));
}

TEST(RecoverAuthorizationMessage, LayoutAsDocumented) {
  const Bytes spki = {1, 2, 3};
  const Bytes seed(kSeedSize, 7);
  const Bytes salt(kSaltSize, 9);
  const Bytes message = RecoverAuthorizationMessage(spki, seed, salt, true);
  Bytes seed_and_salt = seed;
  seed_and_salt.insert(seed_and_salt.end(), salt.begin(), salt.end());
  const std::string expected = std::string("contrast-recover-v1") + '\0' + std::string(AsChars(crypto::Sha256(spki))) +
                               std::string(AsChars(crypto::Sha256(seed_and_salt))) + '\x01';
  EXPECT_EQ(AsChars(message), expected);
  EXPECT_EQ(message.size(), 19u + 1 + 32 + 32 + 1);
  EXPECT_EQ(RecoverAuthorizationMessage(spki, seed, salt, false).back(), 0);
  EXPECT_NE(RecoverAuthorizationMessage(Bytes{1, 2, 4}, seed, salt, true), message);
  EXPECT_NE(RecoverAuthorizationMessage(spki, seed, Bytes(kSaltSize, 8), true), message);
}

}  // namespace
}  // namespace contrast::seed
