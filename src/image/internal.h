// Internals of the image module that unit tests and fuzz targets reach
// directly: the parsers of everything a registry, a cache or an image-layout
// directory hands us. Not part of the public API.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "common/bytes.h"
#include "common/result.h"
#include "image/image.h"

namespace contrast::image::internal {

// Manifests, indexes and configs larger than this are refused.
inline constexpr size_t kMaxDocumentSize = 4 * 1024 * 1024;
// /etc/passwd and /etc/group larger than this are refused.
inline constexpr size_t kMaxImageFileSize = 1024 * 1024;

// Media types we ask for and recognise.
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

// "sha256:<64 lower-case hex>"; the only digest algorithm we accept.
bool IsSha256Digest(std::string_view digest);
// The 64 hex characters of a digest IsSha256Digest accepts.
std::string_view DigestHex(std::string_view digest);
// "sha256:<hex>" of `data`.
std::string DigestOf(ByteView data);
// Fails (naming `what`) unless `data` hashes to `digest`.
Status VerifyDigest(ByteView data, std::string_view digest, std::string_view what);

// Incremental SHA-256 for streamed layers.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(ByteView data);
  std::string FinishDigest();  // "sha256:<hex>"

 private:
  EVP_MD_CTX* ctx_;
};

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

// An image index / Docker manifest list, or an image manifest.
struct ManifestDocument {
  enum class Kind { kIndex, kManifest } kind = Kind::kManifest;
  std::string media_type;
  std::vector<Descriptor> manifests;  // kIndex
  Descriptor config;                  // kManifest
  std::vector<Descriptor> layers;     // kManifest, bottom first
};

// Parses a manifest or an index; the kind comes from the document's
// mediaType, else its shape ("manifests" vs "config"/"layers"). Docker
// schema 1 manifests and descriptors with other digest algorithms are
// rejected.
Result<ManifestDocument> ParseManifestDocument(std::string_view json);

// The index entry for linux/amd64 (variant ignored), or an error listing the
// platforms the index has.
Result<Descriptor> SelectPlatform(const ManifestDocument& index, std::string_view os = "linux",
                                  std::string_view architecture = "amd64");

// The `config` object of an image configuration.
Result<ImageConfig> ParseImageConfig(std::string_view json);

// One `WWW-Authenticate` challenge: scheme ("Bearer", "Basic") and its
// parameters (keys lower-cased).
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
Result<AuthChallenge> ParseWwwAuthenticate(std::string_view header);

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // OAuth2 refresh token (docker login with a token)
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// Registry host → credentials from a Docker client config (`auths.<key>`:
// `auth` = base64 "user:password", or `username`/`password`, or
// `identitytoken`). Keys are normalised to the host ("https://index.docker.io/v1/"
// → "docker.io"). Credential helpers (credsStore/credHelpers) are not run.
Result<std::map<std::string, Credentials>> ParseDockerConfig(std::string_view json);
// The key under which a registry host's credentials are stored.
std::string NormaliseRegistryHost(std::string_view key);

// What one layer says about a file: it has it (content; nullopt when it is
// not a regular file we can read, e.g. a symlink), it hides lower layers'
// copy (whiteout, opaque parent, replaced parent), or nothing.
struct LayerEntry {
  enum class State { kAbsent, kFound, kWhiteout } state = State::kAbsent;
  std::optional<std::string> content;
  bool operator==(const LayerEntry&) const = default;
};

struct LayerSummary {
  LayerEntry passwd;
  LayerEntry group;
  bool operator==(const LayerSummary&) const = default;
};

// A streaming reader of a layer: gzip (detected by its magic, several
// members allowed) or plain tar; ustar, GNU long names and PAX path/size
// records. Feed it bytes as they arrive; Finish checks the stream ended
// properly. Only etc/passwd, etc/group and the whiteouts that concern them
// are kept.
class LayerScanner {
 public:
  LayerScanner();
  ~LayerScanner();
  LayerScanner(const LayerScanner&) = delete;
  LayerScanner& operator=(const LayerScanner&) = delete;

  Status Feed(ByteView data);
  Status Finish();
  const LayerSummary& summary() const { return summary_; }

 private:
  enum class Compression { kUnknown, kGzip, kNone };
  Status FeedTar(ByteView data);
  Status HandleHeader();
  Status HandleEntryData();
  void Note(const std::string& path, char type);

  Compression compression_ = Compression::kUnknown;
  Bytes magic_;  // first bytes until the compression is known
  std::unique_ptr<z_stream> zstream_;
  bool gzip_member_ended_ = false;

  // Tar state.
  Bytes block_;             // the header being assembled (512 bytes)
  Bytes entry_data_;        // data of an entry we keep (bounded)
  uint64_t remaining_ = 0;  // data bytes left in the current entry
  uint64_t padding_ = 0;    // padding bytes after it
  bool in_data_ = false;
  bool keep_data_ = false;
  bool ended_ = false;  // zero block seen
  char entry_type_ = 0;
  std::string entry_path_;
  std::optional<std::string> next_path_;  // from GNU 'L' or PAX 'x'
  std::optional<uint64_t> next_size_;     // from PAX 'x'
  LayerSummary summary_;
};

// Scans a whole layer held in memory.
Result<LayerSummary> ScanLayer(ByteView layer);

// Layer summaries as the cache stores them.
std::string SerializeLayerSummary(const LayerSummary& summary);
Result<LayerSummary> ParseLayerSummary(std::string_view json);

// The file name for a reference in the cache's refs/ directory.
std::string EscapeReference(std::string_view reference);

// True for 127.0.0.0/8, ::1 and "localhost", with or without a port.
bool IsLoopbackHost(std::string_view host_and_port);

}  // namespace contrast::image::internal
