// A real OCI registry for tests: Debian's `docker-registry` (the CNCF
// distribution server) on a loopback port, with images built in memory.
//
//   TestRegistry registry;                     // starts it; waits for GET /v2/
//   if (!registry.ok()) return;                // a test failure was recorded
//   TestImage image;
//   image.config.cmd = {"nginx", "-g", "daemon off;"};
//   TestLayer layer;
//   layer.files.emplace_back("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
//   image.layers.push_back(layer);
//   std::string digest = registry.PushImage("library/nginx", "1.27", image);
//   // → "sha256:…" of the manifest; reachable as registry.Reference("library/nginx", "1.27")
//   //   ("127.0.0.1:<port>/library/nginx:1.27"), over plain HTTP (loopback).
//
// To serve an image under another registry's name (e.g. "registry.k8s.io/
// pause:3.6"), push it as "pause" and resolve with the mirror
// `registry.k8s.io` → registry.Host().
//
// Images are deterministic: the same TestImage gives the same digests. Each
// layer is a ustar archive (gzip-compressed unless `gzip` is false) holding
// the files, their parent directories and the whiteouts. Failures to start or
// push are recorded as test failures (ADD_FAILURE) and return ""/empty
// values, so a test can simply `ASSERT_FALSE(digest.empty())`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "image/image.h"

namespace contrast::testing {

struct TestFile {
  TestFile(std::string file_path, std::string file_content, unsigned file_mode = 0644)
      : path(std::move(file_path)), content(std::move(file_content)), mode(file_mode) {}
  static TestFile Symlink(std::string link_path, std::string target) {
    TestFile file(std::move(link_path), "", 0777);
    file.symlink_target = std::move(target);
    return file;
  }

  std::string path;  // "etc/passwd" (no leading '/')
  std::string content;
  unsigned mode = 0644;
  std::string symlink_target;  // non-empty: a symlink instead of a file
};

struct TestLayer {
  // How entry names are written: plain ustar (name + prefix), every entry
  // with a GNU long-name record, or every entry with a PAX path record (in
  // both of the latter the ustar name field holds a decoy).
  enum class Names { kUstar, kGnuLongName, kPax };

  std::vector<TestFile> files;
  std::vector<std::string> whiteouts;    // paths removed from lower layers ("etc/passwd")
  std::vector<std::string> opaque_dirs;  // directories whose lower content is hidden ("etc")
  Names names = Names::kUstar;
  bool gzip = true;
};

struct TestImage {
  image::ImageConfig config;
  std::vector<TestLayer> layers;  // bottom first
  // Push an image index with linux/arm64 (listed first; its config adds the
  // env "CONTRAST_TEST_PLATFORM=linux/arm64") and linux/amd64 manifests.
  bool multi_platform = false;
};

struct BuiltBlob {
  std::string digest;
  std::string media_type;
  Bytes data;
};

// An image as blobs: `document` is the top-level manifest (or index) whose
// digest is `digest`.
struct BuiltImage {
  std::string digest;
  std::string media_type;
  Bytes document;
  std::vector<BuiltBlob> platform_manifests;  // with multi_platform
  std::string config_digest;                  // linux/amd64's
  std::vector<std::string> layer_digests;     // linux/amd64's, bottom first
  std::vector<BuiltBlob> blobs;               // configs and layers
};

BuiltImage BuildImage(const TestImage& image);
// One layer's uncompressed tar.
Bytes BuildTar(const TestLayer& layer);
// gzip of `data` (mtime 0, so deterministic).
Bytes Gzip(ByteView data);

// Writes `image` as an OCI image-layout directory (oci-layout, index.json,
// blobs/sha256/…) whose index entry is annotated with
// org.opencontainers.image.ref.name = `ref_name`. Returns the image digest.
std::string WriteImageLayout(const std::filesystem::path& dir, const std::string& ref_name, const TestImage& image);

class TestRegistry {
 public:
  struct Options {
    // Require HTTP basic auth (htpasswd) for this user; `bcrypt_hash` is the
    // password's bcrypt hash ("$2y$…"), `password` the password itself (used
    // for pushing).
    std::string user;
    std::string password;
    std::string bcrypt_hash;
  };

  // Starts docker-registry and waits until GET /v2/ answers.
  TestRegistry();
  explicit TestRegistry(Options options);
  ~TestRegistry();
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  // Whether /usr/bin/docker-registry is installed.
  static bool Available();

  bool ok() const { return ok_; }
  // "127.0.0.1:<port>".
  std::string Host() const;
  // "127.0.0.1:<port>/<repository>:<tag>".
  std::string Reference(const std::string& repository, const std::string& tag) const;

  // Pushes blobs and manifest(s); returns the digest of what `tag` names
  // (the index with multi_platform), or "" after recording a failure.
  std::string PushImage(const std::string& repository, const std::string& tag, const TestImage& image);
  // The same, returning everything that was pushed (empty digest on failure).
  BuiltImage PushImageDetailed(const std::string& repository, const std::string& tag, const TestImage& image);

  // Where the registry stores a blob's bytes (to tamper with in tests).
  std::filesystem::path BlobDataPath(const std::string& digest) const;

  // Stops the server (the destructor does too); later requests are refused.
  void Stop();

 private:
  struct Server;
  bool ok_ = false;
  uint16_t port_ = 0;
  Options options_;
  std::filesystem::path dir_;
  std::unique_ptr<Server> server_;
};

}  // namespace contrast::testing
