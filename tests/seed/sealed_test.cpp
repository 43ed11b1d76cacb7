#include "seed/sealed.h"

#include <string>

#include <gtest/gtest.h>

namespace contrast::seed {
namespace {

const Bytes kKey(32, 0x42);
const SealBinding kTransition = [] {
  SealBinding hash{};
  for (size_t i = 0; i < hash.size(); ++i) hash[i] = static_cast<uint8_t>(i);
  return hash;
}();
constexpr size_t kOverhead = 4 + 12 + 16;

Bytes MustSeal(ByteView plaintext, std::string_view purpose = kSealedCaPurpose) {
  auto record = Seal(kKey, purpose, kTransition, plaintext);
  EXPECT_TRUE(record) << record.error().message;
  return record ? *record : Bytes{};
}

TEST(Sealed, RoundTripAndLayout) {
  const std::string secret = "the mesh CA key";
  const Bytes record = MustSeal(AsBytes(secret));
  ASSERT_EQ(record.size(), kOverhead + secret.size());
  EXPECT_EQ(AsChars(ByteView(record).first(4)), "CSR1");
  EXPECT_EQ(AsChars(record).find(secret), std::string_view::npos);
  auto opened = Open(kKey, kSealedCaPurpose, kTransition, record);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(AsChars(*opened), secret);
}

// A record made by another AES-GCM implementation (Python's `cryptography`)
// from the layout in sealed.h: key 0x42 * 32, transition 00..1f, purpose
// "mesh ca", nonce c0..cb.
TEST(Sealed, OpensARecordSealedElsewhere) {
  auto record =
      HexDecode("43535231c0c1c2c3c4c5c6c7c8c9cacb69b2e07a59eff559fb0f4b9582152b788125af3daa58ece4b7b0f93960130a1a");
  ASSERT_TRUE(record);
  auto opened = Open(kKey, kSealedCaPurpose, kTransition, *record);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(AsChars(*opened), "sealed elsewhere");
}

TEST(Sealed, EmptyPlaintextAndFreshNonces) {
  const Bytes a = MustSeal({});
  const Bytes b = MustSeal({});
  EXPECT_EQ(a.size(), kOverhead);
  EXPECT_NE(a, b);  // random nonces
  auto opened = Open(kKey, kSealedCaPurpose, kTransition, a);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(opened->empty());
}

TEST(Sealed, EverySingleByteFlipIsRejected) {
  const Bytes record = MustSeal(AsBytes("0123456789abcdef0123456789"));
  for (size_t i = 0; i < record.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes tampered = record;
      tampered[i] ^= flip;
      auto opened = Open(kKey, kSealedCaPurpose, kTransition, tampered);
      ASSERT_FALSE(opened) << "byte " << i;
      const ErrorCode expected = i < 4 ? ErrorCode::kParse : ErrorCode::kValidationFailed;
      EXPECT_EQ(opened.error().code, expected) << "byte " << i << ": " << opened.error().message;
    }
  }
}

TEST(Sealed, BoundToKeyTransitionAndPurpose) {
  const Bytes record = MustSeal(AsBytes("state"));
  SealBinding other_transition = kTransition;
  other_transition[31] ^= 1;
  Bytes other_key = kKey;
  other_key[0] ^= 1;
  const auto expect_rejected = [](const Result<Bytes>& opened, const char* what) {
    ASSERT_FALSE(opened) << what;
    EXPECT_EQ(opened.error().code, ErrorCode::kValidationFailed) << what;
    EXPECT_NE(opened.error().message.find("does not authenticate"), std::string::npos) << opened.error().message;
  };
  expect_rejected(Open(kKey, kSealedCaPurpose, other_transition, record), "another transition");
  expect_rejected(Open(kKey, "mesh ca2", kTransition, record), "another purpose");
  expect_rejected(Open(kKey, "mesh c", kTransition, record), "a prefix of the purpose");
  expect_rejected(Open(kKey, "", kTransition, record), "empty purpose");
  expect_rejected(Open(other_key, kSealedCaPurpose, kTransition, record), "another key");
}

TEST(Sealed, TruncatedAndOversizeRecords) {
  const Bytes record = MustSeal(AsBytes("state"));
  for (size_t length = 0; length < record.size(); ++length) {
    auto opened = Open(kKey, kSealedCaPurpose, kTransition, ByteView(record).first(length));
    ASSERT_FALSE(opened) << length;
    const ErrorCode expected = length < kOverhead ? ErrorCode::kParse : ErrorCode::kValidationFailed;
    EXPECT_EQ(opened.error().code, expected) << length << ": " << opened.error().message;
  }
  Bytes extended = record;
  extended.push_back(0);
  EXPECT_EQ(Open(kKey, kSealedCaPurpose, kTransition, extended).error().code, ErrorCode::kValidationFailed);

  Bytes huge(kMaxSealedRecordSize + 1, 0);
  std::copy_n("CSR1", 4, huge.begin());
  auto opened = Open(kKey, kSealedCaPurpose, kTransition, huge);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kParse);
  EXPECT_NE(opened.error().message.find("too long"), std::string::npos) << opened.error().message;

  // The largest plaintext that fits, and one byte more.
  const Bytes largest(kMaxSealedRecordSize - kOverhead, 0x33);
  const Bytes sealed = MustSeal(largest);
  EXPECT_EQ(sealed.size(), kMaxSealedRecordSize);
  EXPECT_TRUE(Open(kKey, kSealedCaPurpose, kTransition, sealed));
  EXPECT_EQ(Seal(kKey, kSealedCaPurpose, kTransition, Bytes(largest.size() + 1, 0)).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(Sealed, BadKeysAndPurposes) {
  for (size_t size : {0u, 16u, 31u, 33u}) {
    EXPECT_EQ(Seal(Bytes(size, 1), kSealedCaPurpose, kTransition, AsBytes("x")).error().code,
              ErrorCode::kInvalidArgument);
    EXPECT_EQ(Open(Bytes(size, 1), kSealedCaPurpose, kTransition, MustSeal(AsBytes("x"))).error().code,
              ErrorCode::kInvalidArgument);
  }
  const std::string with_nul("mesh\0ca", 7);
  EXPECT_EQ(Seal(kKey, with_nul, kTransition, AsBytes("x")).error().code, ErrorCode::kInvalidArgument);
}

// --- SealedCaState -------------------------------------------------------------------

SealedCaState ExampleState() { return SealedCaState{Bytes{1, 2, 3}, Bytes(300, 0xAA), Bytes{}, Bytes{9}}; }

bool Equal(const SealedCaState& a, const SealedCaState& b) {
  return a.mesh_ca_key_pkcs8 == b.mesh_ca_key_pkcs8 && a.root_certificate == b.root_certificate &&
         a.intermediate_certificate == b.intermediate_certificate && a.mesh_ca_certificate == b.mesh_ca_certificate;
}

TEST(SealedCaState, EncodingRoundTripAndLayout) {
  const SealedCaState state = ExampleState();
  const Bytes encoded = EncodeSealedCaState(state);
  EXPECT_EQ(encoded.size(), 16u + 3 + 300 + 0 + 1);
  EXPECT_EQ((Bytes(encoded.begin(), encoded.begin() + 7)), (Bytes{0, 0, 0, 3, 1, 2, 3}));
  EXPECT_EQ((Bytes(encoded.begin() + 7, encoded.begin() + 11)), (Bytes{0, 0, 1, 0x2C}));
  auto decoded = DecodeSealedCaState(encoded);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_TRUE(Equal(*decoded, state));
}

TEST(SealedCaState, StrictDecode) {
  const Bytes encoded = EncodeSealedCaState(ExampleState());
  for (size_t length = 0; length < encoded.size(); ++length) {
    auto decoded = DecodeSealedCaState(ByteView(encoded).first(length));
    ASSERT_FALSE(decoded) << length;
    EXPECT_EQ(decoded.error().code, ErrorCode::kParse);
  }
  Bytes trailing = encoded;
  trailing.push_back(0);
  auto decoded = DecodeSealedCaState(trailing);
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("after the last field"), std::string::npos) << decoded.error().message;

  // A length beyond the limit is refused without allocating it.
  const Bytes huge_length = {0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3};
  decoded = DecodeSealedCaState(huge_length);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kParse);
  EXPECT_NE(decoded.error().message.find("at most"), std::string::npos) << decoded.error().message;
}

TEST(SealedCaState, SealedAndOpened) {
  const SealedCaState state = ExampleState();
  const Bytes record = MustSeal(EncodeSealedCaState(state));
  auto opened = Open(kKey, kSealedCaPurpose, kTransition, record);
  ASSERT_TRUE(opened);
  auto decoded = DecodeSealedCaState(*opened);
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(Equal(*decoded, state));
}

}  // namespace
}  // namespace contrast::seed
