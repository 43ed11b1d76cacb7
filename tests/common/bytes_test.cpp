#include <gtest/gtest.h>

#include "common/bytes.h"

namespace contrast {
namespace {

TEST(Hex, RoundTrip) {
  const Bytes data = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(data), "0001abff");
  EXPECT_EQ(*HexDecode("0001ABff"), data);
  EXPECT_EQ(*HexDecode(""), Bytes{});
}

TEST(Hex, RejectsMalformed) {
  EXPECT_EQ(HexDecode("abc").error().code, ErrorCode::kParse);
  auto bad = HexDecode("zz");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("offset 0"), std::string::npos);
  EXPECT_FALSE(HexDecode("0g"));
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> cases[] = {{"", ""},
                                                       {"f", "Zg=="},
                                                       {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},
                                                       {"foob", "Zm9vYg=="},
                                                       {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), plain);
  }
}

TEST(Base64, RejectsMalformed) {
  EXPECT_FALSE(Base64Decode("Zg="));       // length
  EXPECT_FALSE(Base64Decode("Z*=="));      // alphabet
  EXPECT_FALSE(Base64Decode("Zh=="));      // non-canonical trailing bits
  EXPECT_FALSE(Base64Decode("=Zg="));      // padding in the middle
  EXPECT_FALSE(Base64Decode("Zg==Zg=="));  // padding before the end
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  const Bytes a = {1, 2, 3};
  EXPECT_TRUE(ConstantTimeEqual(a, Bytes{1, 2, 3}));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{1, 2, 4}));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{1, 2}));
}

}  // namespace
}  // namespace contrast
