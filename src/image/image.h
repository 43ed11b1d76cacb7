// Container images as `contrast generate` needs them: a reference resolved to
// the digest that pins it, the image's config (entrypoint, command, env, …)
// and its /etc/passwd and /etc/group (for user and group names).
//
//   ImageResolver resolver(options);
//   auto images = resolver.ResolveAll({"nginx:1.27", "ghcr.io/acme/app@sha256:…"});
//   for (auto& image : images) if (image) use(image->Pinned().String(), image->config);
//
// Everything a registry, a cache file or an image-layout directory returns is
// untrusted: digests are verified on every blob and manifest read, sizes are
// bounded, and a malformed manifest, config or layer is an error naming the
// image, never a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace contrast::image {

// An image reference as Kubernetes and containerd read it:
//   [domain[:port]/]path[:tag][@sha256:<64 hex>]
// A first component without '.' or ':' (and not "localhost") is part of the
// path and the domain is docker.io; docker.io images of one component get
// "library/". Parse rejects anything the reference grammar does not allow
// (upper-case repository, bad tag characters, a digest that is not sha256 of
// 64 lower-case hex), naming the problem.
struct ImageReference {
  std::string domain;      // "docker.io", "registry.k8s.io", "127.0.0.1:5000"
  std::string repository;  // "library/nginx", "pause", "prometheus/busybox"
  std::string tag;         // "" when absent
  std::string digest;      // "sha256:<64 hex>" or ""

  static Result<ImageReference> Parse(std::string_view text);

  // domain/repository (docker.io spelled out).
  std::string Name() const;
  // domain/repository[:tag][@digest]: the fully qualified reference.
  std::string String() const;
  // The same with the tag ":latest" added when neither tag nor digest is
  // given, as the CRI names the image ("io.kubernetes.cri.image-name").
  std::string CriName() const;
  bool operator==(const ImageReference&) const = default;
};

// The image configuration's `config` object (OCI image-spec config.json).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "NAME=value", in order
  std::string working_dir;
  std::string user;                  // "", "1000", "1000:1000", "redis", "redis:redis"
  std::vector<std::string> volumes;  // keys of config.Volumes, sorted

  bool operator==(const ImageConfig&) const = default;
};

// /etc/passwd and /etc/group as the container sees them: the topmost layer
// that has the file wins, whiteouts (".wh.<name>", opaque ".wh..wh..opq")
// remove it. nullopt when the image has no such file.
struct ImageFiles {
  std::optional<std::string> passwd;
  std::optional<std::string> group;

  bool operator==(const ImageFiles&) const = default;
};

struct ResolvedImage {
  ImageReference reference;  // as written in the workload (normalised)
  // Digest the reference resolved to: the manifest or image index the
  // registry serves for it ("sha256:…"). Equal to reference.digest when the
  // reference was pinned.
  std::string digest;
  ImageConfig config;
  ImageFiles files;

  // The reference pinned: tag kept, digest set ("name:tag@sha256:…").
  ImageReference Pinned() const;
};

struct ResolverOptions {
  // Content-addressed cache (manifests, configs, what each layer holds of
  // /etc/passwd and /etc/group, tag → digest). Empty: no disk cache.
  std::filesystem::path cache_dir;
  // Use the cache only; an image not in it is an error that says so.
  bool offline = false;
  // Registries reached over plain HTTP besides loopback addresses.
  std::vector<std::string> insecure_registries;
  // Registry host → mirror ("host[:port][/path-prefix]"): content is fetched
  // from the mirror while references keep the original names. The mirror is
  // reached like a registry of that host (plain HTTP on loopback or when
  // listed in insecure_registries); an "http://" or "https://" prefix sets the
  // scheme explicitly. Credentials are those of the mirror's host.
  std::map<std::string, std::string> mirrors;
  // OCI image-layout directories searched before any registry, by the
  // annotation "org.opencontainers.image.ref.name" of their index entries
  // (the full reference or just the tag).
  std::vector<std::filesystem::path> layout_dirs;
  // Docker client config with registry credentials; default
  // $DOCKER_CONFIG/config.json, else ~/.docker/config.json (a missing default
  // file means no credentials; a missing explicit one is an error).
  // Credential helpers (credsStore, credHelpers) are not run.
  std::optional<std::filesystem::path> docker_config;
  // Images resolved at once.
  int concurrency = 8;
  // Whether /etc/passwd and /etc/group are read (downloads layers).
  bool read_files = true;
  // Per-request timeout.
  int timeout_seconds = 60;
};

// What a resolver fetched, for progress output, tests and benchmarks.
struct ResolverStats {
  uint64_t manifests_fetched = 0;  // manifests and indexes from a registry
  uint64_t blobs_fetched = 0;      // configs and layers from a registry
  uint64_t layers_fetched = 0;     // of which layers
  uint64_t cache_hits = 0;         // answers from the disk cache
  uint64_t tag_lookups = 0;        // HEAD requests resolving a tag to a digest
  uint64_t bytes_fetched = 0;
};

class ImageResolver {
 public:
  explicit ImageResolver(ResolverOptions options);
  ~ImageResolver();
  ImageResolver(const ImageResolver&) = delete;
  ImageResolver& operator=(const ImageResolver&) = delete;

  // Resolves one reference: the index (for linux/amd64) or manifest, the
  // config, and (with read_files) /etc/passwd and /etc/group.
  Result<ResolvedImage> Resolve(std::string_view reference);
  // Resolves distinct references concurrently; results in input order.
  // Each distinct image and each layer is fetched once.
  std::vector<Result<ResolvedImage>> ResolveAll(const std::vector<std::string>& references);

  ResolverStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The default cache directory: $CONTRAST_CACHE_DIR, else
// $XDG_CACHE_HOME/contrast, else ~/.cache/contrast.
std::filesystem::path DefaultCacheDir();

}  // namespace contrast::image
