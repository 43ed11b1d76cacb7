#include "history/store_url.h"

#include <gtest/gtest.h>

namespace contrast::history {
namespace {

TEST(StoreUrlTest, DirIsTheDirectoryStore) {
  auto location = ParseStoreUrl("dir");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->kind, StoreLocation::Kind::kDirectory);
  EXPECT_TRUE(location->endpoints.empty());
}

TEST(StoreUrlTest, EtcdEndpointsAndDefaultPrefix) {
  auto location = ParseStoreUrl("etcd://10.0.0.1:2379,etcd-2.example.com:2379,[fd00::1]:1");
  ASSERT_TRUE(location) << location.error().message;
  EXPECT_EQ(location->kind, StoreLocation::Kind::kEtcd);
  EXPECT_EQ(location->endpoints, (std::vector<std::string>{"10.0.0.1:2379", "etcd-2.example.com:2379", "[fd00::1]:1"}));
  EXPECT_EQ(location->prefix, "/contrast/");
}

TEST(StoreUrlTest, PrefixIsNormalised) {
  EXPECT_EQ(ParseStoreUrl("etcd://h:2379/prod")->prefix, "/prod/");
  EXPECT_EQ(ParseStoreUrl("etcd://h:2379/prod/")->prefix, "/prod/");
  EXPECT_EQ(ParseStoreUrl("etcd://h:2379/a.b_c-d/e")->prefix, "/a.b_c-d/e/");
  EXPECT_EQ(ParseStoreUrl("etcd://h:65535")->endpoints[0], "h:65535");
}

TEST(StoreUrlTest, RejectsMalformedUrlsWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "neither"},
      {"directory", "neither"},
      {"http://h:2379", "neither"},
      {"etcd://", "without endpoints"},
      {"etcd:///prefix", "without endpoints"},
      {"etcd://h", "needs a port"},
      {"etcd://h:", "port from 1 to 65535"},
      {"etcd://h:0", "port from 1 to 65535"},
      {"etcd://h:65536", "port from 1 to 65535"},
      {"etcd://h:+1", "port from 1 to 65535"},
      {"etcd://h:123456", "port from 1 to 65535"},
      {"etcd://h:2379,", "is empty"},
      {"etcd://h:2379,,h:1", "is empty"},
      {"etcd://:2379", "empty host"},
      {"etcd://h_x:2379", "invalid character"},
      {"etcd://::1:2379", "in brackets"},
      {"etcd://[::1]", "needs a port"},
      {"etcd://[::1:2379", "closing ']'"},
      {"etcd://[]:2379", "empty IPv6"},
      {"etcd://[zz]:2379", "invalid character"},
      {"etcd://h:2379/", "is empty"},
      {"etcd://h:2379/a/../b", "\"..\""},
      {"etcd://h:2379/a..b", "\"..\""},
      {"etcd://h:2379/a//b", "empty segment"},
      {"etcd://h:2379/a b", "may only contain"},
      {"etcd://h:2379/a\n", "may only contain"},
  };
  for (const auto& [url, reason] : cases) {
    auto location = ParseStoreUrl(url);
    ASSERT_FALSE(location) << url;
    EXPECT_EQ(location.error().code, ErrorCode::kInvalidArgument) << url;
    EXPECT_NE(location.error().message.find(reason), std::string::npos) << url << ": " << location.error().message;
  }
}

TEST(StoreUrlTest, AtMostSixteenEndpoints) {
  std::string url = "etcd://";
  for (int i = 0; i < 16; ++i) url += (i ? "," : "") + std::string("h") + std::to_string(i) + ":2379";
  auto sixteen = ParseStoreUrl(url);
  ASSERT_TRUE(sixteen) << sixteen.error().message;
  EXPECT_EQ(sixteen->endpoints.size(), 16u);
  auto seventeen = ParseStoreUrl(url + ",h16:2379");
  ASSERT_FALSE(seventeen);
  EXPECT_NE(seventeen.error().message.find("more than 16"), std::string::npos);
}

TEST(StoreUrlTest, HostileBytesAreShownSafely) {
  auto location = ParseStoreUrl(std::string("etcd://h\x01\xff:1", 12));
  ASSERT_FALSE(location);
  for (char c : location.error().message) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << location.error().message;
  }
}

}  // namespace
}  // namespace contrast::history
