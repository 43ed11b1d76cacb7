// Parsers of untrusted image data: manifests, configs, auth challenges,
// Docker configs, and the layer scanner (tar/gzip, whiteouts).
#include <gtest/gtest.h>

#include "image/internal.h"
#include "support/registry.h"

namespace contrast::image::internal {
namespace {

using testing::BuildTar;
using testing::Gzip;
using testing::TestFile;
using testing::TestLayer;

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

TEST(ManifestDocument, ParsesOciManifest) {
  const std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                           kD1 + R"(","size":7},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                           kD2 + R"(","size":100},
              {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
                           kD3 + R"(","size":0}]})";
  auto doc = ParseManifestDocument(json);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->kind, ManifestDocument::Kind::kManifest);
  EXPECT_EQ(doc->config.digest, kD1);
  ASSERT_EQ(doc->layers.size(), 2u);
  EXPECT_EQ(doc->layers[0].digest, kD2);
  EXPECT_EQ(doc->layers[0].size, 100);
  EXPECT_EQ(doc->layers[1].digest, kD3);
}

TEST(ManifestDocument, ParsesDockerManifestListAndSelectsAmd64) {
  const std::string json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
      kD1 + R"(","size":1,
       "platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
      {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" +
      kD2 + R"(","size":1,
       "platform":{"architecture":"amd64","os":"linux"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kD3 + R"(","size":1,
       "platform":{"architecture":"unknown","os":"unknown"}}]})";
  auto doc = ParseManifestDocument(json);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->kind, ManifestDocument::Kind::kIndex);
  ASSERT_EQ(doc->manifests.size(), 3u);
  auto amd64 = SelectPlatform(*doc);
  ASSERT_TRUE(amd64) << amd64.error().message;
  EXPECT_EQ(amd64->digest, kD2);
  auto s390x = SelectPlatform(*doc, "linux", "s390x");
  ASSERT_FALSE(s390x);
  EXPECT_NE(s390x.error().message.find("linux/arm64"), std::string::npos) << s390x.error().message;
}

TEST(ManifestDocument, KindFromShapeWithoutMediaType) {
  auto index = ParseManifestDocument(R"({"schemaVersion":2,"manifests":[]})");
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(index->kind, ManifestDocument::Kind::kIndex);
  auto manifest =
      ParseManifestDocument(R"({"schemaVersion":2,"config":{"digest":")" + kD1 + R"(","size":1},"layers":[]})");
  ASSERT_TRUE(manifest) << manifest.error().message;
  EXPECT_EQ(manifest->kind, ManifestDocument::Kind::kManifest);
}

TEST(ManifestDocument, RejectsMalformed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"schemaVersion":1,"fsLayers":[]})", "schema 1"},
      {R"({"schemaVersion":3})", "schemaVersion"},
      {R"({"schemaVersion":2})", "neither"},
      {R"({"schemaVersion":2,"mediaType":"text/plain"})", "not supported"},
      {R"({"schemaVersion":2,"manifests":{}})", "not an array"},
      {R"({"schemaVersion":2,"manifests":[{"digest":"sha512:00","size":1}]})", "sha256"},
      {R"({"schemaVersion":2,"manifests":[{"digest":")" + kD1 + R"(","size":-1}]})", "size"},
      {R"({"schemaVersion":2,"manifests":[{"digest":")" + kD1 + R"(","size":"1"}]})", "size"},
      {R"({"schemaVersion":2,"manifests":[{"digest":")" + kD1 + R"(","size":1,"platform":"linux"}]})", "platform"},
      {R"({"schemaVersion":2,"config":{"digest":")" + kD1 + R"(","size":1}})", "layers"},
      {R"({"schemaVersion":2,"layers":[]})", "config"},
      {R"({"schemaVersion":2,"config":{"digest":7,"size":1},"layers":[]})", "not a string"},
  };
  for (const auto& [json, reason] : cases) {
    SCOPED_TRACE(json);
    auto doc = ParseManifestDocument(json);
    ASSERT_FALSE(doc);
    EXPECT_NE(doc.error().message.find(reason), std::string::npos) << doc.error().message;
  }
  EXPECT_FALSE(ParseManifestDocument(std::string(kMaxDocumentSize + 1, ' ')));
}

TEST(ImageConfig, ParsesConfigObject) {
  auto config = ParseImageConfig(R"({"architecture":"amd64","config":{
      "Entrypoint":["/docker-entrypoint.sh"],"Cmd":["nginx","-g","daemon off;"],
      "Env":["PATH=/usr/bin","A=b=c"],"WorkingDir":"/srv","User":"101:101",
      "Volumes":{"/var/cache":{},"/data":{}}}})");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->entrypoint, std::vector<std::string>{"/docker-entrypoint.sh"});
  EXPECT_EQ(config->cmd, (std::vector<std::string>{"nginx", "-g", "daemon off;"}));
  EXPECT_EQ(config->env, (std::vector<std::string>{"PATH=/usr/bin", "A=b=c"}));
  EXPECT_EQ(config->working_dir, "/srv");
  EXPECT_EQ(config->user, "101:101");
  EXPECT_EQ(config->volumes, (std::vector<std::string>{"/data", "/var/cache"}));
}

TEST(ImageConfig, NullsAndAbsenceAreEmpty) {
  auto config = ParseImageConfig(R"({"config":{"Entrypoint":null,"Cmd":null,"Env":null,"Volumes":null}})");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(*config, ImageConfig{});
  auto none = ParseImageConfig(R"({"architecture":"amd64"})");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, ImageConfig{});
}

TEST(ImageConfig, RejectsWrongTypes) {
  for (const std::string& json : std::vector<std::string>{
           R"({"config":{"Cmd":"sh"}})", R"({"config":{"Env":[1]}})", R"({"config":{"User":0}})", R"({"config":[]})",
           R"({"config":{"Volumes":[]}})", std::string("[]"), std::string("{")}) {
    SCOPED_TRACE(json);
    EXPECT_FALSE(ParseImageConfig(json));
  }
}

TEST(WwwAuthenticate, ParsesBearerChallenge) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->scheme, "Bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c->params["service"], "registry.docker.io");
  EXPECT_EQ(c->params["scope"], "repository:library/nginx:pull");
}

TEST(WwwAuthenticate, TokensSpacesEscapesAndCase) {
  auto c = ParseWwwAuthenticate(R"(  Basic  Realm = "a \"quoted\" realm" , charset=UTF-8)");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->scheme, "Basic");
  EXPECT_EQ(c->params["realm"], R"(a "quoted" realm)");
  EXPECT_EQ(c->params["charset"], "UTF-8");
  auto bare = ParseWwwAuthenticate("Basic");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->params.empty());
}

TEST(WwwAuthenticate, RejectsMalformed) {
  EXPECT_FALSE(ParseWwwAuthenticate(""));
  EXPECT_FALSE(ParseWwwAuthenticate("Bearer realm"));
  EXPECT_FALSE(ParseWwwAuthenticate(R"(Bearer realm="unterminated)"));
}

TEST(DockerConfig, ReadsAuthUsernamePasswordAndIdentityToken) {
  // "alice:pa:ss" in base64: a password may contain ':'.
  auto creds = ParseDockerConfig(R"({"auths":{
      "https://index.docker.io/v1/":{"auth":"YWxpY2U6cGE6c3M="},
      "ghcr.io":{"username":"bob","password":"secret"},
      "https://registry.example.com:5000/v2/":{"identitytoken":"refresh-me"},
      "empty.example":{}},
      "credsStore":"desktop"})");
  ASSERT_TRUE(creds) << creds.error().message;
  EXPECT_EQ(creds->size(), 3u);
  EXPECT_EQ(creds->at("docker.io").username, "alice");
  EXPECT_EQ(creds->at("docker.io").password, "pa:ss");
  EXPECT_EQ(creds->at("ghcr.io").username, "bob");
  EXPECT_EQ(creds->at("ghcr.io").password, "secret");
  EXPECT_EQ(creds->at("registry.example.com:5000").identity_token, "refresh-me");
  auto none = ParseDockerConfig("{}");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(DockerConfig, RejectsMalformed) {
  for (const std::string& json : std::vector<std::string>{R"({"auths":[]})", R"({"auths":{"h":{"auth":"!!"}}})",
                                                          R"({"auths":{"h":{"auth":"bm9jb2xvbg=="}}})",
                                                          R"({"auths":{"h":{"username":1}}})", std::string("nope")}) {
    SCOPED_TRACE(json);
    EXPECT_FALSE(ParseDockerConfig(json));
  }
}

TEST(RegistryHost, Normalisation) {
  EXPECT_EQ(NormaliseRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormaliseRegistryHost("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormaliseRegistryHost("http://Quay.IO"), "quay.io");
  EXPECT_EQ(NormaliseRegistryHost("127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.255.1.2"));
  EXPECT_TRUE(IsLoopbackHost("localhost:80"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.example.com"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.256"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("[::2]:5000"));
}

TEST(LayerSummaryJson, RoundTripsAnyBytes) {
  LayerSummary s;
  s.passwd = {LayerEntry::State::kFound, std::string("root:x:0:0\n\xff\x00 binary", 18)};
  s.group = {LayerEntry::State::kWhiteout, std::nullopt};
  auto back = ParseLayerSummary(SerializeLayerSummary(s));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(ParseLayerSummary(R"({"version":2})"));
  EXPECT_FALSE(ParseLayerSummary(R"({"version":1,"passwd":{"state":"maybe"},"group":{"state":"absent"}})"));
}

TEST(EscapeReference, IsAFileName) {
  const std::string escaped = EscapeReference("127.0.0.1:5000/a/b:v1@sha256:ab");
  EXPECT_EQ(escaped.find('/'), std::string::npos);
  EXPECT_EQ(escaped.find(':'), std::string::npos);
  EXPECT_NE(EscapeReference("a/b"), EscapeReference("a%2fb"));
}

// --- layers ------------------------------------------------------------------

const std::string kPasswd = "root:x:0:0:root:/root:/bin/sh\nredis:x:999:999::/data:/bin/sh\n";
const std::string kGroup = "root:x:0:\nredis:x:999:\n";

LayerSummary MustScan(const Bytes& layer) {
  auto s = ScanLayer(layer);
  EXPECT_TRUE(s) << s.error().message;
  return s ? *s : LayerSummary{};
}

TEST(LayerScanner, FindsFilesInEveryNameFormatAndCompression) {
  for (auto names : {TestLayer::Names::kUstar, TestLayer::Names::kGnuLongName, TestLayer::Names::kPax}) {
    for (bool gzip : {true, false}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(names)) + (gzip ? " gzip" : " tar"));
      TestLayer layer;
      layer.names = names;
      layer.files = {{"usr/bin/x", std::string(5000, 'x')}, {"etc/passwd", kPasswd}, {"etc/group", kGroup}};
      const Bytes tar = BuildTar(layer);
      const LayerSummary s = MustScan(gzip ? Gzip(tar) : tar);
      EXPECT_EQ(s.passwd.state, LayerEntry::State::kFound);
      EXPECT_EQ(s.passwd.content, kPasswd);
      EXPECT_EQ(s.group.state, LayerEntry::State::kFound);
      EXPECT_EQ(s.group.content, kGroup);
    }
  }
}

TEST(LayerScanner, DotSlashPathsAndLongUstarPrefix) {
  TestLayer layer;
  layer.files = {{"./etc/passwd", kPasswd}, {std::string(120, 'd') + "/f", "long"}};
  const LayerSummary s = MustScan(Gzip(BuildTar(layer)));
  EXPECT_EQ(s.passwd.content, kPasswd);
  EXPECT_EQ(s.group.state, LayerEntry::State::kAbsent);
}

TEST(LayerScanner, DecoyNameIsNotUsedWhenPaxOrGnuNameGiven) {
  // The ustar name field of these entries says "decoy-…": only the extended
  // name says etc/passwd.
  for (auto names : {TestLayer::Names::kGnuLongName, TestLayer::Names::kPax}) {
    TestLayer layer;
    layer.names = names;
    layer.files = {{"decoy-target", "x"}, {"etc/group", kGroup}};
    const LayerSummary s = MustScan(BuildTar(layer));
    EXPECT_EQ(s.passwd.state, LayerEntry::State::kAbsent);
    EXPECT_EQ(s.group.content, kGroup);
  }
}

TEST(LayerScanner, WhiteoutsAndOpaqueDirectories) {
  TestLayer whiteout;
  whiteout.whiteouts = {"etc/passwd"};
  LayerSummary s = MustScan(Gzip(BuildTar(whiteout)));
  EXPECT_EQ(s.passwd.state, LayerEntry::State::kWhiteout);
  EXPECT_EQ(s.group.state, LayerEntry::State::kAbsent);

  TestLayer opaque;
  opaque.opaque_dirs = {"etc"};
  opaque.files = {{"etc/group", kGroup}};
  s = MustScan(Gzip(BuildTar(opaque)));
  EXPECT_EQ(s.passwd.state, LayerEntry::State::kWhiteout);
  EXPECT_EQ(s.group.state, LayerEntry::State::kFound);  // the layer's own file stays
  EXPECT_EQ(s.group.content, kGroup);

  TestLayer whole_etc;
  whole_etc.whiteouts = {"etc"};
  s = MustScan(BuildTar(whole_etc));
  EXPECT_EQ(s.passwd.state, LayerEntry::State::kWhiteout);
  EXPECT_EQ(s.group.state, LayerEntry::State::kWhiteout);

  TestLayer other;
  other.whiteouts = {"etc/shadow", "usr/etc/passwd"};
  s = MustScan(BuildTar(other));
  EXPECT_EQ(s.passwd.state, LayerEntry::State::kAbsent);
  EXPECT_EQ(s.group.state, LayerEntry::State::kAbsent);
}

TEST(LayerScanner, LaterEntryWinsAndSymlinkHasNoContent) {
  TestLayer layer;
  layer.files = {
      {"etc/passwd", "old\n"}, {"etc/passwd", kPasswd}, TestFile::Symlink("etc/group", "../usr/share/group")};
  const LayerSummary s = MustScan(BuildTar(layer));
  EXPECT_EQ(s.passwd.content, kPasswd);
  EXPECT_EQ(s.group.state, LayerEntry::State::kFound);
  EXPECT_FALSE(s.group.content.has_value());
}

TEST(LayerScanner, StreamsInTinyChunks) {
  TestLayer layer;
  layer.names = TestLayer::Names::kPax;
  layer.files = {{"etc/passwd", kPasswd}, {"etc/group", kGroup}};
  const Bytes gz = Gzip(BuildTar(layer));
  LayerScanner scanner;
  for (size_t i = 0; i < gz.size(); i += 3) {
    ASSERT_TRUE(scanner.Feed(ByteView(gz).subspan(i, std::min<size_t>(3, gz.size() - i))));
  }
  ASSERT_TRUE(scanner.Finish());
  EXPECT_EQ(scanner.summary().passwd.content, kPasswd);
  EXPECT_EQ(scanner.summary().group.content, kGroup);
}

TEST(LayerScanner, ConcatenatedGzipMembers) {
  TestLayer layer;
  layer.files = {{"etc/passwd", kPasswd}};
  const Bytes tar = BuildTar(layer);
  // Split the tar after the first header block: two gzip members.
  const Bytes first = Gzip(ByteView(tar).subspan(0, 512));
  const Bytes second = Gzip(ByteView(tar).subspan(512));
  Bytes both = first;
  both.insert(both.end(), second.begin(), second.end());
  EXPECT_EQ(MustScan(both).passwd.content, kPasswd);
}

TEST(LayerScanner, EmptyLayerHoldsNothing) {
  const LayerSummary s = MustScan(Gzip(Bytes(1024, 0)));
  EXPECT_EQ(s, LayerSummary{});
  EXPECT_EQ(MustScan(Bytes{}), LayerSummary{});
}

TEST(LayerScanner, RejectsCorruptOrTruncatedInput) {
  TestLayer layer;
  layer.files = {{"etc/passwd", kPasswd}};
  const Bytes tar = BuildTar(layer);
  const Bytes gz = Gzip(tar);

  Bytes bad_checksum = tar;
  bad_checksum[0] ^= 1;
  auto r = ScanLayer(bad_checksum);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("checksum"), std::string::npos);

  r = ScanLayer(ByteView(gz).subspan(0, gz.size() / 2));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;

  r = ScanLayer(ByteView(tar).subspan(0, 700));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;

  Bytes corrupt_gzip = gz;
  corrupt_gzip[12] ^= 0xff;
  corrupt_gzip[13] ^= 0xff;
  EXPECT_FALSE(ScanLayer(corrupt_gzip));

  const Bytes zstd = {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0};
  r = ScanLayer(zstd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);

  EXPECT_FALSE(ScanLayer(AsBytes(std::string_view("not a tar archive at all, just some text"))));
}

TEST(LayerScanner, BoundsFileSize) {
  TestLayer layer;
  layer.files = {{"etc/group", std::string(kMaxImageFileSize + 1, 'g')}};
  auto r = ScanLayer(Gzip(BuildTar(layer)));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/etc/group is larger than"), std::string::npos) << r.error().message;
  // Other large files are skipped, not buffered.
  layer.files = {{"usr/lib/big", std::string(3 * kMaxImageFileSize, 'b')}, {"etc/group", kGroup}};
  EXPECT_EQ(MustScan(Gzip(BuildTar(layer))).group.content, kGroup);
}

TEST(Digests, VerifyAndStream) {
  const Bytes data = {1, 2, 3};
  const std::string digest = DigestOf(data);
  EXPECT_TRUE(IsSha256Digest(digest));
  EXPECT_TRUE(VerifyDigest(data, digest, "x"));
  auto bad = VerifyDigest(Bytes{1, 2, 4}, digest, "blob");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("digest mismatch"), std::string::npos);
  Sha256Stream stream;
  stream.Update(ByteView(data).subspan(0, 1));
  stream.Update(ByteView(data).subspan(1));
  EXPECT_EQ(stream.FinishDigest(), digest);
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Digest("sha256:" + std::string(63, 'a')));
}

}  // namespace
}  // namespace contrast::image::internal
