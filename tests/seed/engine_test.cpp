#include "seed/engine.h"

#include <openssl/core_names.h>

#include <algorithm>
#include <cctype>
#include <string>

#include <gtest/gtest.h>

#include "openssl_cli.h"

namespace contrast::seed {
namespace {

using testing::RunOpenssl;

Bytes Hex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes) << hex;
  return bytes ? *bytes : Bytes{};
}

Bytes Repeat(uint8_t byte, size_t n) { return Bytes(n, byte); }

std::string PrivateScalarHex(const crypto::PrivateKey& key) {
  BIGNUM* d = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) return "no private key";
  Bytes out(48);
  const int ok = BN_bn2binpad(d, out.data(), static_cast<int>(out.size()));
  BN_clear_free(d);
  return ok == 48 ? HexEncode(out) : "scalar too wide";
}

std::string PublicPointHex(const crypto::PrivateKey& key) {
  Bytes point(200);
  size_t length = 0;
  if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(),
                                      &length) != 1) {
    return "no public key";
  }
  point.resize(length);
  return HexEncode(point);
}

// The output of `openssl kdf` ("3C:B2:5F:...") as lower-case hex.
std::string NormalizeKdfOutput(std::string text) {
  std::string out;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

std::string OpensslHkdf(ByteView ikm, ByteView salt, std::string_view info, size_t length) {
  auto out = RunOpenssl({"kdf", "-keylen", std::to_string(length), "-kdfopt", "digest:SHA256", "-kdfopt",
                         "hexkey:" + HexEncode(ikm), "-kdfopt", "hexsalt:" + HexEncode(salt), "-kdfopt",
                         "info:" + std::string(info), "HKDF"});
  return out ? NormalizeKdfOutput(*out) : "openssl kdf failed";
}

// A fixed seed and salt, so that failures are reproducible.
const Bytes kSeed = [] {
  Bytes seed(kSeedSize);
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(i * 7 + 3);
  return seed;
}();
const Bytes kSalt = [] {
  Bytes salt(kSaltSize);
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<uint8_t>(0xA0 + i);
  return salt;
}();

std::shared_ptr<const SeedEngine> MustEngine(ByteView seed, ByteView salt) {
  auto engine = SeedEngine::FromSeed(seed, salt);
  EXPECT_TRUE(engine) << engine.error().message;
  return engine ? *engine : nullptr;
}

bool SameKey(const crypto::PrivateKey& a, const crypto::PrivateKey& b) { return a.Matches(b.get()); }

// --- HKDF ----------------------------------------------------------------------

TEST(HkdfSha256, Rfc5869TestCase1) {
  auto okm = HkdfSha256(Repeat(0x0b, 22), Hex("000102030405060708090a0b0c"), AsChars(Hex("f0f1f2f3f4f5f6f7f8f9")), 42);
  ASSERT_TRUE(okm) << okm.error().message;
  EXPECT_EQ(HexEncode(*okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(HkdfSha256, Rfc5869TestCase3WithoutSaltAndInfo) {
  auto okm = HkdfSha256(Repeat(0x0b, 22), {}, "", 42);
  ASSERT_TRUE(okm) << okm.error().message;
  EXPECT_EQ(HexEncode(*okm), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfSha256, RejectsLengthsOutsideRfc5869) {
  EXPECT_EQ(HkdfSha256(kSeed, kSalt, "x", 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(kSeed, kSalt, "x", 255 * 32 + 1).error().code, ErrorCode::kInvalidArgument);
  auto longest = HkdfSha256(kSeed, kSalt, "x", 255 * 32);
  ASSERT_TRUE(longest) << longest.error().message;
  EXPECT_EQ(longest->size(), 255u * 32u);
}

TEST(HkdfSha256, RejectsOverlongInfo) {
  EXPECT_TRUE(HkdfSha256(kSeed, kSalt, std::string(1024, 'i'), 32));
  auto result = HkdfSha256(kSeed, kSalt, std::string(1025, 'i'), 32);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(result.error().message.find("1025"), std::string::npos) << result.error().message;
}

TEST(HkdfSha256, MatchesTheOpensslBinaryForEveryLabel) {
  REQUIRE_OPENSSL_CLI();
  for (std::string_view label : {"POD STATE SECRET", "HISTORY SECRET", "TRANSACTION SIGNING SECRET", "ROOT CA SEED"}) {
    auto ours = HkdfSha256(kSeed, kSalt, label, 64);
    ASSERT_TRUE(ours) << ours.error().message;
    EXPECT_EQ(HexEncode(*ours), OpensslHkdf(kSeed, kSalt, label, 64)) << label;
  }
}

// --- det-keygen ------------------------------------------------------------------

// The P-384 vectors of c2sp.org/det-keygen (the seeds are repeated 'B'
// bytes), as published with Go's crypto/ecdsa (testdata/det-keygen.json,
// PKCS#8 there; scalar and uncompressed point here).
struct DetKeygenVector {
  size_t seed_length;
  std::string_view scalar;
  std::string_view point;
};

constexpr DetKeygenVector kDetKeygenP384[] = {
    {16, "3170cf870785cc87d9bb01366468347831f965608375a9a8d9c528ee64a9716c5736f77834cf36c54ea258117054e2be",
     "044a3103397c1bb1fed79084985dfc4a1849a0ef38de4aa717c5c494dd6ea719b65386eb7cf29034c14894dc87d9b0f3fe88e91e4e9f41"
     "973344264a78ecd182478ccbdcbde573932ac30c7de31d5f0a80d8969bd7bd39a41f3fb5540fd8fef9ed"},
    {21, "a058bb75f3e534f7265d5987980109f2dfee3b1498dcce6bdcdd37f171f1d9bb2a1dbf000ddb93416f8fb4d29fff5567",
     "043405600cabdb5d2e736d6a0c457a5e7c449ea1446c8928224da4a0f542b9e5b2424caef7a1c7badeab4ac232053cf98c3056259f0ed0"
     "ac2a1d52f953d9398ae3f8b0b87d1baa13b2a694b4058503a757126ba33a45d566a1dd9291a5e022ad21"},
    {24, "ffb39382dbb54e52594fc32c35e4c79e35662ff0baa489ee39cf5769cc6c1d062ec4c4e4309ea9190ec59d57510b4b18",
     "04005c523e2a92b136c8874ba4cff3ae0aef7dc8c369a783c02801ea56580b6b140a7a33e00d8c5b65465106778c3c486981676bc04ab8"
     "02e12247001bb03cd9982c4f43f8ae7ac6ece5ef798f21bbd0c0b719b3044357a87e8d0e6472dd8653c9"},
    {36, "dca571f155084f2d303d0d1ec63670a7d176b478e82619c409fcc972eec38aa4bf4252b1d03027c1d71ab1a9d6419648",
     "0403be0cfa65c206af3033965415b6b96242edd5ef9342c0f34034b2f1fde4fb5206ca1eb1bad06189a33d80c35693ee97d3b66cd676dd"
     "a19af74c3b10eae23c6c927633bf202cf940fe25ecaba8aed00acc4cedb07df6a93cd6080055a90ae952"},
    {48, "c88662d22bfd50c727add8c8a7967efb808434d07cfddc0c4bd0ccbd95c06f93ed3ce5e56032235f99f4bba742a11b8f",
     "04cdd87a13b8cbb9bc3267f97627d2d870220cca1c9ecccfab648be88c7711a1c444b8769c0f20282ecfd3c179904ad2c61ef362b3e60e"
     "bb222edd50567ee805cd16e5d3e54c54e708991d8e04e2818b80c47d325770de1c8c6c66578197320bc6"},
};

TEST(DeriveEcP384Key, C2spDetKeygenVectors) {
  for (const DetKeygenVector& vector : kDetKeygenP384) {
    SCOPED_TRACE("seed of " + std::to_string(vector.seed_length) + " 'B' bytes");
    auto key = DeriveEcP384Key(Repeat('B', vector.seed_length));
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ(key->type(), crypto::KeyType::kEcP384);
    EXPECT_EQ(PrivateScalarHex(*key), vector.scalar);
    EXPECT_EQ(PublicPointHex(*key), vector.point);
  }
}

TEST(DeriveEcP384Key, KeySignsAndVerifies) {
  auto key = DeriveEcP384Key(kSeed);
  ASSERT_TRUE(key) << key.error().message;
  const std::string message = "transition";
  auto signature = crypto::SignEcdsaP384Sha384(*key, AsBytes(message));
  ASSERT_TRUE(signature) << signature.error().message;
  // The derived key is a complete key pair: the PKCS#8 round trip keeps it.
  auto pem = key->ToPkcs8Pem();
  ASSERT_TRUE(pem) << pem.error().message;
  auto reloaded = crypto::PrivateKey::FromPkcs8Pem(*pem);
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_TRUE(SameKey(*key, *reloaded));
}

TEST(DeriveEcP384Key, RejectsShortSecrets) {
  auto key = DeriveEcP384Key(Repeat('B', 15));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
}

// --- PrivateKey::FromEcP384Scalar (added for det-keygen) ---------------------------

TEST(FromEcP384Scalar, RejectsScalarsOutsideTheGroup) {
  EXPECT_EQ(crypto::PrivateKey::FromEcP384Scalar(Bytes(48, 0)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(crypto::PrivateKey::FromEcP384Scalar(Bytes(48, 0xFF)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(crypto::PrivateKey::FromEcP384Scalar(Bytes(47, 1)).error().code, ErrorCode::kInvalidArgument);
  // n - 1 is the largest valid scalar, n the smallest invalid one.
  const std::string n =
      "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
  Bytes n_minus_1 = Hex(n);
  n_minus_1.back() -= 1;
  EXPECT_TRUE(crypto::PrivateKey::FromEcP384Scalar(n_minus_1));
  EXPECT_EQ(crypto::PrivateKey::FromEcP384Scalar(Hex(n)).error().code, ErrorCode::kInvalidArgument);
  Bytes one(48, 0);
  one.back() = 1;
  auto generator = crypto::PrivateKey::FromEcP384Scalar(one);
  ASSERT_TRUE(generator) << generator.error().message;
  // d = 1: the public key is the generator of P-384.
  EXPECT_EQ(
      PublicPointHex(*generator),
      "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a9"
      "6262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f");
}

// --- SeedEngine --------------------------------------------------------------------

TEST(SeedEngine, SameSeedSameKeysAndSecrets) {
  auto a = MustEngine(kSeed, kSalt);
  auto b = MustEngine(kSeed, kSalt);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(SameKey(a->root_ca_key(), b->root_ca_key()));
  EXPECT_TRUE(SameKey(a->history_signing_key(), b->history_signing_key()));
  EXPECT_EQ(a->sealing_key(), b->sealing_key());
  EXPECT_EQ(a->sealing_key().size(), kSealingKeySize);
  EXPECT_EQ(*a->WorkloadSecret("db"), *b->WorkloadSecret("db"));
  EXPECT_EQ(a->seed(), kSeed);
  EXPECT_EQ(a->salt(), kSalt);
  // The two keys are different keys.
  EXPECT_FALSE(SameKey(a->root_ca_key(), a->history_signing_key()));
  EXPECT_EQ(a->root_ca_key().type(), crypto::KeyType::kEcP384);
  EXPECT_EQ(a->history_signing_key().type(), crypto::KeyType::kEcP384);
}

TEST(SeedEngine, DifferentSeedOrSaltDifferentKeys) {
  Bytes other_seed = kSeed;
  other_seed[10] ^= 1;
  Bytes other_salt = kSalt;
  other_salt[0] ^= 1;
  auto base = MustEngine(kSeed, kSalt);
  ASSERT_TRUE(base);
  for (auto other : {MustEngine(other_seed, kSalt), MustEngine(kSeed, other_salt)}) {
    ASSERT_TRUE(other);
    EXPECT_FALSE(SameKey(base->root_ca_key(), other->root_ca_key()));
    EXPECT_FALSE(SameKey(base->history_signing_key(), other->history_signing_key()));
    EXPECT_NE(base->sealing_key(), other->sealing_key());
    EXPECT_NE(*base->WorkloadSecret("db"), *other->WorkloadSecret("db"));
  }
}

TEST(SeedEngine, WorkloadSecretDependsOnTheId) {
  auto engine = MustEngine(kSeed, kSalt);
  ASSERT_TRUE(engine);
  auto db = engine->WorkloadSecret("db");
  auto web = engine->WorkloadSecret("web");
  auto db2 = engine->WorkloadSecret("db ");
  ASSERT_TRUE(db && web && db2);
  EXPECT_EQ(db->size(), kSecretSize);
  EXPECT_NE(*db, *web);
  EXPECT_NE(*db, *db2);
  auto empty = engine->WorkloadSecret("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  // "WORKLOAD SECRET ID: " and the ID fill the 1024 bytes of HKDF info.
  EXPECT_TRUE(engine->WorkloadSecret(std::string(1004, 'x')));
  auto too_long = engine->WorkloadSecret(std::string(1005, 'x'));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
}

TEST(SeedEngine, SecretsAreAsLongAsTheSeed) {
  // Upstream's rule: a 32-byte seed derives 32-byte secrets.
  auto engine = MustEngine(Bytes(kMinSeedSize, 0x42), kSalt);
  ASSERT_TRUE(engine);
  auto secret = engine->WorkloadSecret("db");
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->size(), kMinSeedSize);
  EXPECT_EQ(engine->sealing_key().size(), kSealingKeySize);
}

TEST(SeedEngine, RejectsBadSizesNamingThem) {
  for (size_t size : {size_t{0}, kMinSeedSize - 1, kSeedSize + 1}) {
    auto engine = SeedEngine::FromSeed(Bytes(size, 1), kSalt);
    ASSERT_FALSE(engine) << size;
    EXPECT_EQ(engine.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(engine.error().message.find(std::to_string(size)), std::string::npos) << engine.error().message;
  }
  for (size_t size : {size_t{0}, kSaltSize - 1, kSaltSize + 1}) {
    auto engine = SeedEngine::FromSeed(kSeed, Bytes(size, 1));
    ASSERT_FALSE(engine) << size;
    EXPECT_EQ(engine.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(engine.error().message.find("salt"), std::string::npos) << engine.error().message;
  }
  EXPECT_TRUE(SeedEngine::FromSeed(Bytes(kMinSeedSize, 1), kSalt));
}

TEST(SeedEngine, GenerateDrawsFreshSeeds) {
  auto a = SeedEngine::Generate();
  auto b = SeedEngine::Generate();
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)->seed().size(), kSeedSize);
  EXPECT_EQ((*a)->salt().size(), kSaltSize);
  EXPECT_NE((*a)->seed(), (*b)->seed());
  EXPECT_NE((*a)->salt(), (*b)->salt());
  EXPECT_FALSE(SameKey((*a)->root_ca_key(), (*b)->root_ca_key()));
  // A generated engine is the engine of its seed (what recovery relies on).
  auto again = MustEngine((*a)->seed(), (*a)->salt());
  ASSERT_TRUE(again);
  EXPECT_TRUE(SameKey((*a)->root_ca_key(), again->root_ca_key()));
  EXPECT_EQ((*a)->sealing_key(), again->sealing_key());
}

// The whole hierarchy recomputed with the openssl binary (HKDF) and the det-keygen
// vectors' algorithm: labels, inputs and lengths are what engine.h documents.
TEST(SeedEngine, HierarchyMatchesTheOpensslBinary) {
  REQUIRE_OPENSSL_CLI();
  auto engine = MustEngine(kSeed, kSalt);
  ASSERT_TRUE(engine);
  const Bytes pod_state = Hex(OpensslHkdf(kSeed, kSalt, "POD STATE SECRET", 64));
  const Bytes history = Hex(OpensslHkdf(kSeed, kSalt, "HISTORY SECRET", 64));
  const Bytes signing = Hex(OpensslHkdf(kSeed, kSalt, "TRANSACTION SIGNING SECRET", 64));
  const Bytes root_ca = Hex(OpensslHkdf(kSeed, kSalt, "ROOT CA SEED", 64));
  ASSERT_EQ(pod_state.size(), 64u);
  ASSERT_EQ(history.size(), 64u);

  auto workload = engine->WorkloadSecret("my-db");
  ASSERT_TRUE(workload);
  EXPECT_EQ(HexEncode(*workload), OpensslHkdf(pod_state, kSalt, "WORKLOAD SECRET ID: my-db", 64));
  EXPECT_EQ(HexEncode(engine->sealing_key()), OpensslHkdf(history, kSalt, "CONTRAST STATE SEALING KEY", 32));

  auto expected_root = DeriveEcP384Key(root_ca);
  auto expected_signing = DeriveEcP384Key(signing);
  ASSERT_TRUE(expected_root && expected_signing);
  EXPECT_TRUE(SameKey(engine->root_ca_key(), *expected_root));
  EXPECT_TRUE(SameKey(engine->history_signing_key(), *expected_signing));
}

}  // namespace
}  // namespace contrast::seed
