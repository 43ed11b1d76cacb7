#include <gtest/gtest.h>

#include "image/image.h"

namespace contrast::image {
namespace {

constexpr const char* kHex = "2642c7b07713df6897fa88cbe6db85170690cf3650018ceb2ab16cfa0b4f8d48";

struct Valid {
  std::string text;
  std::string domain, repository, tag, digest;
  std::string string;  // String()
};

TEST(ImageReference, ParsesAndNormalises) {
  const std::string d = std::string("sha256:") + kHex;
  const std::vector<Valid> cases = {
      {"nginx", "docker.io", "library/nginx", "", "", "docker.io/library/nginx"},
      {"nginx:1.27", "docker.io", "library/nginx", "1.27", "", "docker.io/library/nginx:1.27"},
      {"docker.io/nginx", "docker.io", "library/nginx", "", "", "docker.io/library/nginx"},
      {"index.docker.io/library/nginx", "docker.io", "library/nginx", "", "", "docker.io/library/nginx"},
      {"prometheus/busybox:latest", "docker.io", "prometheus/busybox", "latest", "",
       "docker.io/prometheus/busybox:latest"},
      {"registry.k8s.io/pause:3.6", "registry.k8s.io", "pause", "3.6", "", "registry.k8s.io/pause:3.6"},
      {"localhost/app", "localhost", "app", "", "", "localhost/app"},
      {"localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", "", "localhost:5000/a/b:v1"},
      {"127.0.0.1:5000/app@" + d, "127.0.0.1:5000", "app", "", d, "127.0.0.1:5000/app@" + d},
      {"ghcr.io/acme/app:v1@" + d, "ghcr.io", "acme/app", "v1", d, "ghcr.io/acme/app:v1@" + d},
      {"quay.io/kata-containers/test-images/opstree/redis:sha256-" + std::string(kHex), "quay.io",
       "kata-containers/test-images/opstree/redis", "sha256-" + std::string(kHex), "",
       "quay.io/kata-containers/test-images/opstree/redis:sha256-" + std::string(kHex)},
      {"a__b/c-d---e/f.g_h:_T.a-g", "docker.io", "a__b/c-d---e/f.g_h", "_T.a-g", "",
       "docker.io/a__b/c-d---e/f.g_h:_T.a-g"},
      {"[::1]:5000/app", "[::1]:5000", "app", "", "", "[::1]:5000/app"},
      {"Registry.Example/app", "Registry.Example", "app", "", "", "Registry.Example/app"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto ref = ImageReference::Parse(c.text);
    ASSERT_TRUE(ref) << ref.error().message;
    EXPECT_EQ(ref->domain, c.domain);
    EXPECT_EQ(ref->repository, c.repository);
    EXPECT_EQ(ref->tag, c.tag);
    EXPECT_EQ(ref->digest, c.digest);
    EXPECT_EQ(ref->String(), c.string);
    EXPECT_EQ(ref->Name(), c.domain + "/" + c.repository);
    // The normalised form parses to the same reference.
    auto again = ImageReference::Parse(ref->String());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *ref);
  }
}

TEST(ImageReference, RejectsWithReason) {
  const std::string long_tag(129, 'a');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"Nginx", "lower-case"},
      {"docker.io/Library/nginx", "lower-case"},
      {"nginx:", "tag"},
      {"nginx:-bad", "tag"},
      {"nginx:a/b", "registry host"},
      {"nginx:" + long_tag, "tag"},
      {"nginx@sha256:abc", "64"},
      {"nginx@sha256:" + std::string(64, 'A'), "64"},
      {"nginx@sha512:" + std::string(128, 'a'), "sha256"},
      {"nginx@", "sha256"},
      {"a//b", "path component"},
      {"a/b/", "path component"},
      {"-a/b", "path component"},
      {"a..b", "path component"},
      {"a_-b", "path component"},
      {"exa mple.com/app", "registry host"},
      {"host-.com/app", "registry host"},
      {"host:port/app", "registry host"},
      {":tag", "no repository"},
      {"example.com/", "no repository"},
      {std::string(kHex), "image ID"},
      {"example.com/" + std::string(250, 'a'), "longer than 255"},
  };
  for (const auto& [text, reason] : cases) {
    SCOPED_TRACE(text);
    auto ref = ImageReference::Parse(text);
    ASSERT_FALSE(ref) << ref->String();
    EXPECT_EQ(ref.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(ref.error().message.find(reason), std::string::npos) << ref.error().message;
  }
}

TEST(ImageReference, CriNameAddsLatestOnlyWhenUnqualified) {
  EXPECT_EQ(ImageReference::Parse("nginx")->CriName(), "docker.io/library/nginx:latest");
  EXPECT_EQ(ImageReference::Parse("nginx:1")->CriName(), "docker.io/library/nginx:1");
  const std::string pinned = std::string("nginx@sha256:") + kHex;
  EXPECT_EQ(ImageReference::Parse(pinned)->CriName(), std::string("docker.io/library/nginx@sha256:") + kHex);
}

TEST(ResolvedImage, PinnedKeepsTagAndSetsDigest) {
  ResolvedImage image;
  image.reference = *ImageReference::Parse("registry.k8s.io/pause:3.6");
  image.digest = std::string("sha256:") + kHex;
  EXPECT_EQ(image.Pinned().String(), std::string("registry.k8s.io/pause:3.6@sha256:") + kHex);
}

}  // namespace
}  // namespace contrast::image
