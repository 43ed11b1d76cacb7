// ImageResolver against a real registry (Debian's docker-registry on a
// loopback port), image-layout directories and the disk cache.
#include <stdlib.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/files.h"
#include "crypto/hash.h"
#include "image/image.h"
#include "support/http_server.h"
#include "support/process.h"
#include "support/registry.h"

namespace contrast::image {
namespace {

using testing::BuiltImage;
using testing::TestFile;
using testing::TestImage;
using testing::TestLayer;
using testing::TestRegistry;

const std::string kPasswd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
const std::string kPasswd2 = "root:x:0:0:root:/root:/bin/sh\nredis:x:999:1000::/data:/bin/sh\n";
const std::string kGroup = "root:x:0:\napp:x:1000:\n";

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/contrast-image-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TestLayer Files(std::vector<TestFile> files) {
  TestLayer layer;
  layer.files = std::move(files);
  return layer;
}

TestImage BasicImage() {
  TestImage image;
  image.config.entrypoint = {"/entrypoint.sh"};
  image.config.cmd = {"serve", "--port", "8080"};
  image.config.env = {"PATH=/usr/local/bin:/usr/bin", "APP=1"};
  image.config.working_dir = "/srv";
  image.config.user = "app";
  image.config.volumes = {"/data", "/var/cache"};
  image.layers = {Files({{"etc/passwd", kPasswd}, {"etc/group", kGroup}, {"bin/sh", "#!"}}),
                  Files({{"srv/app", "binary"}})};
  return image;
}

Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

void FlipByte(const std::filesystem::path& file, size_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << "cannot open " << file;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x55));
}

class ResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (TestRegistry::Available()) registry_ = new TestRegistry();
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    if (registry_ == nullptr) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string_view(ci) == "true") FAIL() << "docker-registry is not installed (scripts/setup)";
      GTEST_SKIP() << "docker-registry is not installed (scripts/setup installs it)";
    }
    ASSERT_TRUE(registry_->ok());
  }

  ResolverOptions Options() const {
    ResolverOptions options;
    options.cache_dir = cache_.path();
    // Hermetic: never the developer's own ~/.docker/config.json.
    options.docker_config = cache_.path() / "docker-config.json";
    if (!std::filesystem::exists(*options.docker_config)) {
      EXPECT_TRUE(WriteFileAtomic(*options.docker_config, std::string_view("{}")));
    }
    return options;
  }

  static TestRegistry* registry_;
  TempDir cache_;
};

TestRegistry* ResolverTest::registry_ = nullptr;

TEST_F(ResolverTest, TagResolvesToManifestDigestWithConfigAndFiles) {
  const TestImage image = BasicImage();
  const std::string digest = registry_->PushImage("tag/app", "v1", image);
  ASSERT_FALSE(digest.empty());
  ImageResolver resolver(Options());
  auto resolved = resolver.Resolve(registry_->Reference("tag/app", "v1"));
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->digest, digest);
  EXPECT_EQ(resolved->config, image.config);
  EXPECT_EQ(resolved->files.passwd, kPasswd);
  EXPECT_EQ(resolved->files.group, kGroup);
  EXPECT_EQ(resolved->Pinned().String(), registry_->Reference("tag/app", "v1") + "@" + digest);
  const ResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.tag_lookups, 1u);
  EXPECT_EQ(stats.manifests_fetched, 1u);
  EXPECT_EQ(stats.blobs_fetched, 3u);  // config and both layers (the top one has no /etc)
  EXPECT_EQ(stats.layers_fetched, 2u);
  EXPECT_GT(stats.bytes_fetched, 0u);
}

TEST_F(ResolverTest, PinnedDigestNeedsNoTagLookup) {
  const std::string digest = registry_->PushImage("pinned/app", "v1", BasicImage());
  ASSERT_FALSE(digest.empty());
  ImageResolver resolver(Options());
  auto resolved = resolver.Resolve(registry_->Host() + "/pinned/app@" + digest);
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->digest, digest);
  EXPECT_EQ(resolver.stats().tag_lookups, 0u);
  // A digest the registry does not have.
  auto missing = resolver.Resolve(registry_->Host() + "/pinned/app@sha256:" + std::string(64, '0'));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(ResolverTest, ImageIndexSelectsLinuxAmd64) {
  TestImage image = BasicImage();
  image.multi_platform = true;
  const BuiltImage pushed = registry_->PushImageDetailed("multi/app", "v1", image);
  ASSERT_FALSE(pushed.digest.empty());
  ImageResolver resolver(Options());
  auto resolved = resolver.Resolve(registry_->Reference("multi/app", "v1"));
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->digest, pushed.digest);  // the index, as the runtime pins it
  EXPECT_EQ(resolved->config, image.config);   // not arm64's, which has an extra env
  EXPECT_EQ(resolver.stats().manifests_fetched, 2u);
}

TEST_F(ResolverTest, TopmostLayerWinsAndWhiteoutsRemove) {
  TestImage image;
  TestLayer override_passwd = Files({{"etc/passwd", kPasswd2}});
  override_passwd.names = TestLayer::Names::kPax;
  image.layers = {Files({{"etc/passwd", kPasswd}, {"etc/group", kGroup}}), override_passwd};
  ASSERT_FALSE(registry_->PushImage("layers/override", "v1", image).empty());

  TestImage removed;
  TestLayer whiteout;
  whiteout.whiteouts = {"etc/passwd"};
  removed.layers = {Files({{"etc/passwd", kPasswd}, {"etc/group", kGroup}}), whiteout};
  ASSERT_FALSE(registry_->PushImage("layers/whiteout", "v1", removed).empty());

  TestImage opaque;
  TestLayer opaque_etc = Files({{"etc/group", "other:x:5:\n"}});
  opaque_etc.opaque_dirs = {"etc"};
  opaque_etc.gzip = false;
  opaque.layers = {Files({{"etc/passwd", kPasswd}, {"etc/group", kGroup}}), opaque_etc};
  ASSERT_FALSE(registry_->PushImage("layers/opaque", "v1", opaque).empty());

  ImageResolver resolver(Options());
  auto a = resolver.Resolve(registry_->Reference("layers/override", "v1"));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->files.passwd, kPasswd2);
  EXPECT_EQ(a->files.group, kGroup);

  auto b = resolver.Resolve(registry_->Reference("layers/whiteout", "v1"));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->files.passwd, std::nullopt);
  EXPECT_EQ(b->files.group, kGroup);

  auto c = resolver.Resolve(registry_->Reference("layers/opaque", "v1"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->files.passwd, std::nullopt);
  EXPECT_EQ(c->files.group, "other:x:5:\n");
}

TEST_F(ResolverTest, LayersBelowTheDecidingOnesAreNeverFetched) {
  TestImage image;
  image.layers = {Files({{"usr/lib/base", std::string(100000, 'b')}}),
                  Files({{"etc/passwd", kPasswd}, {"etc/group", kGroup}}), Files({{"srv/app", "top"}})};
  const BuiltImage pushed = registry_->PushImageDetailed("early/stop", "v1", image);
  ASSERT_FALSE(pushed.digest.empty());
  // Were the bottom layer fetched, its digest check would fail.
  FlipByte(registry_->BlobDataPath(pushed.layer_digests[0]), 10);
  ImageResolver resolver(Options());
  auto resolved = resolver.Resolve(registry_->Reference("early/stop", "v1"));
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->files.passwd, kPasswd);
  EXPECT_EQ(resolver.stats().layers_fetched, 2u);

  ResolverOptions no_files = Options();
  no_files.read_files = false;
  no_files.cache_dir.clear();
  ImageResolver config_only(no_files);
  auto config = config_only.Resolve(registry_->Reference("early/stop", "v1"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config_only.stats().layers_fetched, 0u);
  EXPECT_EQ(config->files, ImageFiles{});
}

TEST_F(ResolverTest, WarmCacheFetchesNoBlobsAndCorruptEntriesAreRefetched) {
  const BuiltImage pushed = registry_->PushImageDetailed("cache/app", "v1", BasicImage());
  ASSERT_FALSE(pushed.digest.empty());
  const std::string ref = registry_->Reference("cache/app", "v1");
  Result<ResolvedImage> first = Fail(ErrorCode::kInternal, "unset");
  {
    ImageResolver resolver(Options());
    first = resolver.Resolve(ref);
    ASSERT_TRUE(first) << first.error().message;
  }
  {
    ImageResolver resolver(Options());
    auto again = resolver.Resolve(ref);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->digest, first->digest);
    EXPECT_EQ(again->config, first->config);
    EXPECT_EQ(again->files, first->files);
    const ResolverStats stats = resolver.stats();
    EXPECT_EQ(stats.tag_lookups, 1u);  // online: the tag is asked again
    EXPECT_EQ(stats.manifests_fetched, 0u);
    EXPECT_EQ(stats.blobs_fetched, 0u);
    EXPECT_EQ(stats.cache_hits, 4u);  // manifest, config, two layer summaries
  }
  // A corrupt cache entry is discarded and fetched again.
  const auto config_file = cache_.path() / "blobs" / "sha256" / pushed.config_digest.substr(7);
  ASSERT_TRUE(std::filesystem::exists(config_file));
  ASSERT_TRUE(WriteFileAtomic(config_file, std::string_view("{\"config\":{\"Cmd\":[\"evil\"]}}")));
  {
    ImageResolver resolver(Options());
    auto again = resolver.Resolve(ref);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->config, first->config);
    EXPECT_EQ(resolver.stats().blobs_fetched, 1u);
  }
  auto repaired = ReadFile(config_file);
  ASSERT_TRUE(repaired);
  EXPECT_EQ("sha256:" + HexEncode(crypto::Sha256(*repaired)), pushed.config_digest);
}

TEST_F(ResolverTest, OfflineUsesTheCacheOnlyAndSaysWhatIsMissing) {
  TestRegistry own;
  ASSERT_TRUE(own.ok());
  const std::string digest = own.PushImage("offline/app", "v1", BasicImage());
  ASSERT_FALSE(digest.empty());
  const std::string ref = own.Reference("offline/app", "v1");
  Result<ResolvedImage> online = Fail(ErrorCode::kInternal, "unset");
  {
    ImageResolver resolver(Options());
    online = resolver.Resolve(ref);
    ASSERT_TRUE(online) << online.error().message;
  }
  own.Stop();  // offline must not need the registry
  ResolverOptions offline = Options();
  offline.offline = true;
  ImageResolver resolver(offline);
  auto cached = resolver.Resolve(ref);
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_EQ(cached->digest, digest);
  EXPECT_EQ(cached->config, online->config);
  EXPECT_EQ(cached->files, online->files);
  auto pinned = resolver.Resolve(own.Host() + "/offline/app@" + digest);
  ASSERT_TRUE(pinned) << pinned.error().message;

  auto unknown = resolver.Resolve(own.Reference("offline/app", "v2"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find(own.Reference("offline/app", "v2") + ": "), std::string::npos);
  EXPECT_NE(unknown.error().message.find("not in the cache (run once without --offline)"), std::string::npos)
      << unknown.error().message;

  TempDir empty;
  offline.cache_dir = empty.path();
  ImageResolver cold(offline);
  auto miss = cold.Resolve(own.Host() + "/offline/app@" + digest);
  ASSERT_FALSE(miss);
  EXPECT_NE(miss.error().message.find("not in the cache (run once without --offline)"), std::string::npos)
      << miss.error().message;
}

TEST_F(ResolverTest, MirrorServesContentUnderTheOriginalName) {
  const TestImage image = BasicImage();
  const std::string digest = registry_->PushImage("pause", "3.6", image);
  ASSERT_FALSE(digest.empty());
  ASSERT_EQ(registry_->PushImage("mirror/k8s/pause", "3.6", image), digest);

  for (const std::string& mirror : {registry_->Host(), registry_->Host() + "/mirror/k8s/"}) {
    SCOPED_TRACE(mirror);
    ResolverOptions options = Options();
    options.mirrors["registry.k8s.io"] = mirror;
    ImageResolver resolver(options);
    auto resolved = resolver.Resolve("registry.k8s.io/pause:3.6");
    ASSERT_TRUE(resolved) << resolved.error().message;
    EXPECT_EQ(resolved->reference.String(), "registry.k8s.io/pause:3.6");
    EXPECT_EQ(resolved->digest, digest);
    EXPECT_EQ(resolved->Pinned().String(), "registry.k8s.io/pause:3.6@" + digest);
    EXPECT_EQ(resolved->files.passwd, kPasswd);
  }
  // A tag the mirror does not have: the error names the image and the request.
  ResolverOptions options = Options();
  options.mirrors["registry.k8s.io"] = registry_->Host();
  ImageResolver resolver(options);
  auto missing = resolver.Resolve("registry.k8s.io/pause:9.9");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  const std::string expected_prefix =
      "registry.k8s.io/pause:9.9: HEAD http://" + registry_->Host() + "/v2/pause/manifests/9.9: HTTP 404";
  EXPECT_EQ(missing.error().message.substr(0, expected_prefix.size()), expected_prefix) << missing.error().message;
}

TEST_F(ResolverTest, ImageLayoutDirectoryIsASource) {
  TempDir layout;
  TestImage image = BasicImage();
  image.multi_platform = true;
  const std::string digest = testing::WriteImageLayout(layout.path(), "example.com/team/app:v1", image);
  TempDir tag_only;
  const std::string digest2 = testing::WriteImageLayout(tag_only.path(), "v2", BasicImage());

  ResolverOptions options = Options();
  options.layout_dirs = {layout.path(), tag_only.path()};
  options.offline = true;  // no registry for example.com: the layout must do
  ImageResolver resolver(options);
  auto resolved = resolver.Resolve("example.com/team/app:v1");
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->digest, digest);
  EXPECT_EQ(resolved->config, image.config);
  EXPECT_EQ(resolved->files.passwd, kPasswd);
  auto by_tag = resolver.Resolve("example.com/other:v2");
  ASSERT_TRUE(by_tag) << by_tag.error().message;
  EXPECT_EQ(by_tag->digest, digest2);
  auto by_digest = resolver.Resolve("example.com/anything@" + digest);
  ASSERT_TRUE(by_digest) << by_digest.error().message;
  EXPECT_EQ(resolver.stats().manifests_fetched + resolver.stats().blobs_fetched, 0u);

  // A tampered layout blob is rejected.
  TempDir cold;
  options.cache_dir = cold.path();
  ImageResolver fresh(options);
  const BuiltImage built = testing::BuildImage(image);
  FlipByte(layout.path() / "blobs" / "sha256" / built.config_digest.substr(7), 3);
  auto tampered = fresh.Resolve("example.com/team/app:v1");
  ASSERT_FALSE(tampered);
  EXPECT_NE(tampered.error().message.find("digest mismatch"), std::string::npos) << tampered.error().message;
}

TEST_F(ResolverTest, UnreachableRegistryIsAClearError) {
  const uint16_t port = testing::FreeLoopbackPort();
  ResolverOptions options = Options();
  options.timeout_seconds = 10;
  ImageResolver resolver(options);
  const std::string ref = "127.0.0.1:" + std::to_string(port) + "/app:v1";
  auto resolved = resolver.Resolve(ref);
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().code, ErrorCode::kNetwork);
  EXPECT_EQ(resolved.error().message.rfind(ref + ": HEAD http://127.0.0.1:", 0), 0u) << resolved.error().message;
  EXPECT_NE(resolved.error().message.find("unreachable"), std::string::npos) << resolved.error().message;
}

TEST_F(ResolverTest, TamperedRegistryContentIsRejected) {
  // Blobs are stored once per registry: these are used by no other test.
  TestImage image = BasicImage();
  image.config.cmd = {"tamper"};
  image.layers = {Files({{"etc/passwd", "tamper:x:1:1::/:/bin/sh\n"}}), Files({{"srv/tamper", "layer"}})};
  const BuiltImage pushed = registry_->PushImageDetailed("tamper/app", "v1", image);
  ASSERT_FALSE(pushed.digest.empty());
  FlipByte(registry_->BlobDataPath(pushed.config_digest), 5);
  ResolverOptions options = Options();
  ImageResolver resolver(options);
  auto config = resolver.Resolve(registry_->Reference("tamper/app", "v1"));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ErrorCode::kValidationFailed);
  EXPECT_NE(config.error().message.find("digest mismatch"), std::string::npos) << config.error().message;
  EXPECT_NE(config.error().message.find(pushed.config_digest), std::string::npos) << config.error().message;

  image.config.cmd = {"tamper", "layer"};
  const BuiltImage second = registry_->PushImageDetailed("tamper/layer", "v1", image);
  ASSERT_FALSE(second.digest.empty());
  FlipByte(registry_->BlobDataPath(second.layer_digests[1]), 40);
  TempDir cold;
  options.cache_dir = cold.path();
  ImageResolver fresh(options);
  auto layer = fresh.Resolve(registry_->Reference("tamper/layer", "v1"));
  ASSERT_FALSE(layer);
  EXPECT_NE(layer.error().message.find(second.layer_digests[1]), std::string::npos) << layer.error().message;
  // Nothing unverified was cached.
  EXPECT_FALSE(
      std::filesystem::exists(cold.path() / "layers" / "sha256" / (second.layer_digests[1].substr(7) + ".json")));
}

TEST_F(ResolverTest, ResolveAllFetchesEachSharedLayerOnce) {
  const TestLayer base = Files({{"etc/passwd", kPasswd}, {"etc/group", kGroup}});
  std::vector<std::string> refs;
  for (int i = 0; i < 6; ++i) {
    TestImage image;
    image.config.cmd = {"app" + std::to_string(i)};
    image.layers = {base, Files({{"srv/app", "app " + std::to_string(i)}})};
    const std::string repo = "shared/app" + std::to_string(i);
    ASSERT_FALSE(registry_->PushImage(repo, "v1", image).empty());
    refs.push_back(registry_->Reference(repo, "v1"));
  }
  refs.push_back(refs[0]);                                    // a duplicate
  refs.push_back("Not/A/Valid/Reference");                    // an error in its slot
  refs.push_back(registry_->Reference("shared/none", "v1"));  // not pushed
  ResolverOptions options = Options();
  options.concurrency = 4;
  ImageResolver resolver(options);
  auto results = resolver.ResolveAll(refs);
  ASSERT_EQ(results.size(), refs.size());
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().message;
    EXPECT_EQ(results[i]->config.cmd, std::vector<std::string>{"app" + std::to_string(i)});
    EXPECT_EQ(results[i]->files.passwd, kPasswd);
  }
  ASSERT_TRUE(results[6]);
  EXPECT_EQ(results[6]->digest, results[0]->digest);
  ASSERT_FALSE(results[7]);
  EXPECT_EQ(results[7].error().code, ErrorCode::kInvalidArgument);
  ASSERT_FALSE(results[8]);
  EXPECT_EQ(results[8].error().code, ErrorCode::kNotFound);
  const ResolverStats stats = resolver.stats();
  EXPECT_EQ(stats.tag_lookups, 7u);     // six images and the missing one
  EXPECT_EQ(stats.layers_fetched, 7u);  // six top layers and the shared base once
}

// docker-registry with htpasswd (basic) auth. The bcrypt hash of
// "contrast-pw" (cost 4) was made once with Python's crypt module.
constexpr const char* kBcryptHash = "$2b$04$nqcGP/8sHazCAqs0N3a88OieJHyKd5FMgynffh/nbOQetOYgFNQBm";

TEST_F(ResolverTest, BasicAuthWithDockerConfigCredentials) {
  TestRegistry::Options auth;
  auth.user = "alice";
  auth.password = "contrast-pw";
  auth.bcrypt_hash = kBcryptHash;
  TestRegistry secured(auth);
  ASSERT_TRUE(secured.ok());
  const std::string digest = secured.PushImage("private/app", "v1", BasicImage());
  ASSERT_FALSE(digest.empty());
  const std::string ref = secured.Reference("private/app", "v1");

  ImageResolver anonymous(Options());
  auto denied = anonymous.Resolve(ref);
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message.find("requires credentials"), std::string::npos) << denied.error().message;

  ResolverOptions options = Options();
  TempDir config_dir;
  options.docker_config = config_dir.path() / "config.json";
  const std::string config = R"({"auths":{")" + secured.Host() + R"(":{"auth":")" +
                             Base64Encode(AsBytes(std::string_view("alice:contrast-pw"))) + R"("}}})";
  ASSERT_TRUE(WriteFileAtomic(*options.docker_config, config));
  ImageResolver authorised(options);
  auto resolved = authorised.Resolve(ref);
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->digest, digest);
  EXPECT_EQ(resolved->files.passwd, kPasswd);

  const std::string wrong = R"({"auths":{")" + secured.Host() + R"(":{"username":"alice","password":"nope"}}})";
  ASSERT_TRUE(WriteFileAtomic(*options.docker_config, wrong));
  ImageResolver rejected(options);
  auto bad = rejected.Resolve(ref);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("HTTP 401"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace contrast::image

namespace contrast::image {
namespace {

// A registry double (GET only) for what docker-registry cannot do without a
// token server: the bearer-token flow, and a registry that never answers.
class FakeRegistryTest : public ::testing::Test {
 protected:
  ResolverOptions Options() {
    ResolverOptions options;
    options.docker_config = dir_.path() / "docker-config.json";
    EXPECT_TRUE(WriteFileAtomic(*options.docker_config, std::string_view("{}")));
    options.read_files = false;
    return options;
  }
  // Serves `image` (config only) as repository "repo"; returns the manifest digest.
  std::string ServeImage(const TestImage& image) {
    const BuiltImage built = testing::BuildImage(image);
    server_.Serve("/v2/repo/manifests/" + built.digest, {200, built.document, {}, true});
    for (const auto& blob : built.blobs) server_.Serve("/v2/repo/blobs/" + blob.digest, {200, blob.data, {}, true});
    return built.digest;
  }

  TempDir dir_;
  testing::HttpServer server_;
};

TEST_F(FakeRegistryTest, BearerChallengeFetchesATokenAndRetries) {
  ASSERT_TRUE(server_.ok());
  const std::string digest = ServeImage(BasicImage());
  const std::string realm = server_.BaseUrl() + "/token";
  server_.FailNext(
      "/v2/repo/manifests/" + digest, 1,
      {401,
       ToBytes(R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"),
       {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"fake\",scope=\"repository:repo:pull\""}},
       true});
  const std::string token_target = "/token?service=fake&scope=repository%3Arepo%3Apull";
  server_.Serve(token_target, {200, ToBytes(R"({"token":"opaque-token","expires_in":300})"), {}, true});

  ImageResolver resolver(Options());
  auto resolved = resolver.Resolve(server_.BaseUrl().substr(7) + "/repo@" + digest);
  ASSERT_TRUE(resolved) << resolved.error().message;
  EXPECT_EQ(resolved->config, BasicImage().config);
  EXPECT_EQ(server_.RequestCount(token_target), 1);
  EXPECT_EQ(server_.RequestCount("/v2/repo/manifests/" + digest), 2);
}

TEST_F(FakeRegistryTest, TokenEndpointFailureIsReported) {
  ASSERT_TRUE(server_.ok());
  const std::string digest = ServeImage(BasicImage());
  server_.FailNext("/v2/repo/manifests/" + digest, 5,
                   {401, Bytes{}, {{"WWW-Authenticate", "Bearer realm=\"" + server_.BaseUrl() + "/denied\""}}, true});
  ImageResolver resolver(Options());
  auto resolved = resolver.Resolve(server_.BaseUrl().substr(7) + "/repo@" + digest);
  ASSERT_FALSE(resolved);
  EXPECT_NE(resolved.error().message.find("fetching a registry token"), std::string::npos) << resolved.error().message;
  EXPECT_NE(resolved.error().message.find("HTTP 404"), std::string::npos) << resolved.error().message;
}

TEST_F(FakeRegistryTest, LayerLongerThanItsDescriptorIsCutOff) {
  ASSERT_TRUE(server_.ok());
  const BuiltImage built = testing::BuildImage(BasicImage());
  for (const auto& blob : built.blobs) server_.Serve("/v2/repo/blobs/" + blob.digest, {200, blob.data, {}, true});
  // The manifest announces 10 bytes for the top layer; the blob is longer.
  auto manifest = nlohmann::json::parse(built.document);
  ASSERT_EQ(manifest["layers"][1]["digest"], built.layer_digests[1]);
  manifest["layers"][1]["size"] = 10;
  const Bytes document = ToBytes(manifest.dump());
  const std::string digest = "sha256:" + HexEncode(crypto::Sha256(document));
  server_.Serve("/v2/repo/manifests/" + digest, {200, document, {}, true});
  ResolverOptions options = Options();
  options.read_files = true;
  ImageResolver resolver(options);
  auto resolved = resolver.Resolve(server_.BaseUrl().substr(7) + "/repo@" + digest);
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().code, ErrorCode::kValidationFailed);
  EXPECT_NE(resolved.error().message.find("larger than the 10 bytes"), std::string::npos) << resolved.error().message;
}

TEST_F(FakeRegistryTest, SilentRegistryTimesOut) {
  ASSERT_TRUE(server_.ok());
  const std::string digest = "sha256:" + std::string(64, 'a');
  server_.Hang("/v2/repo/manifests/" + digest);
  ResolverOptions options = Options();
  options.timeout_seconds = 1;
  ImageResolver resolver(options);
  auto resolved = resolver.Resolve(server_.BaseUrl().substr(7) + "/repo@" + digest);
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().code, ErrorCode::kTimeout) << resolved.error().message;
}

}  // namespace
}  // namespace contrast::image
