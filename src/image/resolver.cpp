// ImageResolver: reference → digest → manifest → config and /etc files, from
// the disk cache, image-layout directories or a registry, each distinct
// document and layer fetched once.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "common/files.h"
#include "common/text.h"
#include "image/image.h"
#include "image/internal.h"
#include "image/registry.h"

namespace contrast::image {
namespace {

using internal::Descriptor;
using internal::LayerEntry;
using internal::LayerSummary;
using internal::ManifestDocument;

constexpr std::string_view kOfflineMiss = "not in the cache (run once without --offline)";
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

// Concurrent callers asking for the same key share one computation; results
// stay for the resolver's lifetime (failures are dropped so a later call
// retries).
template <typename T>
class SingleFlight {
 public:
  Result<T> Do(const std::string& key, const std::function<Result<T>()>& compute) {
    std::promise<Result<T>> promise;
    std::shared_future<Result<T>> future;
    bool leader = false;
    {
      std::lock_guard lock(mu_);
      auto it = entries_.find(key);
      if (it != entries_.end()) {
        future = it->second;
      } else {
        future = promise.get_future().share();
        entries_.emplace(key, future);
        leader = true;
      }
    }
    if (!leader) return future.get();
    Result<T> result = compute();
    promise.set_value(result);
    if (!result) {
      std::lock_guard lock(mu_);
      entries_.erase(key);
    }
    return result;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_future<Result<T>>> entries_;
};

std::optional<std::filesystem::path> DockerConfigPath(const ResolverOptions& options) {
  if (options.docker_config) return options.docker_config;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::filesystem::path(dir) / "config.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".docker" / "config.json";
  }
  return std::nullopt;
}

bool Decided(const LayerEntry& e) { return e.state != LayerEntry::State::kAbsent; }

}  // namespace

struct ImageResolver::Impl {
  ResolverOptions options;
  std::optional<Error> config_error;  // a docker config that could not be read
  std::unique_ptr<internal::RegistryClient> registry;
  SingleFlight<Bytes> documents;      // digest → manifest, index or config bytes
  SingleFlight<LayerSummary> layers;  // layer digest → what it holds
  SingleFlight<std::string> tags;     // reference → digest

  std::atomic<uint64_t> manifests_fetched{0}, blobs_fetched{0}, layers_fetched{0}, cache_hits{0}, bytes_fetched{0},
      tag_lookups{0};

  explicit Impl(ResolverOptions o) : options(std::move(o)) {
    internal::RegistryOptions registry_options;
    registry_options.insecure_registries = options.insecure_registries;
    registry_options.mirrors = options.mirrors;
    registry_options.timeout_seconds = options.timeout_seconds;
    if (auto path = DockerConfigPath(options); path) {
      std::error_code ec;
      const bool exists = std::filesystem::exists(*path, ec);
      if (exists) {
        auto text = ReadTextFile(*path, internal::kMaxDocumentSize);
        auto creds = text ? internal::ParseDockerConfig(*text)
                          : Result<std::map<std::string, internal::Credentials>>(Fail(text.error()));
        if (creds) {
          registry_options.credentials = std::move(*creds);
        } else {
          config_error = creds.error().Wrap("reading the docker config " + path->string());
        }
      } else if (options.docker_config) {
        config_error = Error{ErrorCode::kNotFound, "docker config " + path->string() + " does not exist"};
      }
    }
    registry = std::make_unique<internal::RegistryClient>(std::move(registry_options));
  }

  // --- the disk cache -------------------------------------------------------
  std::filesystem::path BlobCachePath(std::string_view digest) const {
    return options.cache_dir / "blobs" / "sha256" / std::string(internal::DigestHex(digest));
  }
  std::filesystem::path LayerCachePath(std::string_view digest) const {
    return options.cache_dir / "layers" / "sha256" / (std::string(internal::DigestHex(digest)) + ".json");
  }
  std::filesystem::path RefCachePath(const ImageReference& ref) const {
    return options.cache_dir / "refs" / internal::EscapeReference(ref.CriName());
  }
  // The cache only speeds things up: a failed write is not an error.
  void CacheWrite(const std::filesystem::path& path, ByteView data) const {
    if (options.cache_dir.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    (void)WriteFileAtomic(path, data);
  }
  // A verified blob from the cache, or nullopt (a corrupt entry is removed).
  std::optional<Bytes> CachedBlob(std::string_view digest) {
    if (options.cache_dir.empty()) return std::nullopt;
    const auto path = BlobCachePath(digest);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    auto data = ReadFile(path, internal::kMaxDocumentSize);
    if (!data || !internal::VerifyDigest(*data, digest, "cache")) {
      std::filesystem::remove(path, ec);
      return std::nullopt;
    }
    ++cache_hits;
    return std::move(*data);
  }

  // --- image-layout directories ---------------------------------------------
  std::optional<std::filesystem::path> LayoutBlob(std::string_view digest) const {
    for (const auto& dir : options.layout_dirs) {
      auto path = dir / "blobs" / "sha256" / std::string(internal::DigestHex(digest));
      std::error_code ec;
      if (std::filesystem::is_regular_file(path, ec)) return path;
    }
    return std::nullopt;
  }

  // The digest a layout directory's index.json names for the reference.
  Result<std::optional<std::string>> FindInLayouts(const ImageReference& ref) const {
    const std::string tag = ref.tag.empty() ? "latest" : ref.tag;
    for (const auto& dir : options.layout_dirs) {
      std::error_code ec;
      if (!std::filesystem::exists(dir / "oci-layout", ec)) {
        return Fail(ErrorCode::kNotFound, "image-layout directory " + dir.string() + " has no oci-layout file");
      }
      auto text = ReadTextFile(dir / "index.json", internal::kMaxDocumentSize);
      if (!text) return Fail(text.error().Wrap("image-layout directory " + dir.string()));
      auto index = internal::ParseManifestDocument(*text);
      if (!index) return Fail(index.error().Wrap("image-layout directory " + dir.string() + ": index.json"));
      for (const Descriptor& d : index->manifests) {
        auto name = d.annotations.find(std::string(kRefNameAnnotation));
        if (name == d.annotations.end()) continue;
        if (name->second == ref.String() || name->second == ref.CriName() || name->second == ref.Name() + ":" + tag ||
            name->second == tag) {
          return std::optional<std::string>(d.digest);
        }
      }
    }
    return std::optional<std::string>();
  }

  // --- documents and layers -------------------------------------------------
  Result<Bytes> Document(const ImageReference& ref, const std::string& digest, bool manifest) {
    return documents.Do(digest, [&]() -> Result<Bytes> {
      if (auto cached = CachedBlob(digest)) return std::move(*cached);
      if (auto path = LayoutBlob(digest)) {
        auto data = ReadFile(*path, internal::kMaxDocumentSize);
        if (!data) return Fail(data.error());
        if (auto status = internal::VerifyDigest(*data, digest, path->string()); !status) return Fail(status.error());
        return std::move(*data);
      }
      const std::string what = manifest ? "manifest " : "config ";
      if (options.offline) return Fail(ErrorCode::kNotFound, what + digest + " is " + std::string(kOfflineMiss));
      auto data = manifest ? registry->GetManifest(ref, digest, nullptr) : registry->GetBlob(ref, digest);
      if (!data) return Fail(data.error());
      ++(manifest ? manifests_fetched : blobs_fetched);
      bytes_fetched += data->size();
      CacheWrite(BlobCachePath(digest), *data);
      return std::move(*data);
    });
  }

  Result<LayerSummary> Layer(const ImageReference& ref, const Descriptor& layer) {
    return layers.Do(layer.digest, [&]() -> Result<LayerSummary> {
      if (!options.cache_dir.empty()) {
        std::error_code ec;
        const auto path = LayerCachePath(layer.digest);
        if (std::filesystem::exists(path, ec)) {
          auto text = ReadTextFile(path, 4 * internal::kMaxImageFileSize);
          auto summary = text ? internal::ParseLayerSummary(*text) : Result<LayerSummary>(Fail(text.error()));
          if (summary) {
            ++cache_hits;
            return summary;
          }
          std::filesystem::remove(path, ec);
        }
      }
      internal::LayerScanner scanner;
      auto feed = [&](ByteView data) { return scanner.Feed(data); };
      if (auto path = LayoutBlob(layer.digest)) {
        if (auto status = ScanFile(*path, layer.digest, feed); !status) return Fail(status.error());
      } else if (options.offline) {
        return Fail(ErrorCode::kNotFound, "layer " + layer.digest + " is " + std::string(kOfflineMiss));
      } else {
        uint64_t bytes = 0;
        auto status = registry->StreamBlob(ref, layer.digest, static_cast<uint64_t>(layer.size), feed, &bytes);
        bytes_fetched += bytes;
        if (!status) return Fail(status.error());
        ++blobs_fetched;
        ++layers_fetched;
      }
      if (auto status = scanner.Finish(); !status) return Fail(status.error().Wrap("layer " + layer.digest));
      const std::string serialized = internal::SerializeLayerSummary(scanner.summary());
      CacheWrite(LayerCachePath(layer.digest), AsBytes(serialized));
      return scanner.summary();
    });
  }

  static Status ScanFile(const std::filesystem::path& path, std::string_view digest,
                         const std::function<Status(ByteView)>& feed) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Fail(ErrorCode::kIo, "cannot open " + path.string());
    internal::Sha256Stream hash;
    std::vector<char> buffer(256 * 1024);
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      const ByteView chunk(reinterpret_cast<const uint8_t*>(buffer.data()), n);
      hash.Update(chunk);
      if (auto status = feed(chunk); !status) return Fail(status.error().Wrap(path.string()));
    }
    if (in.bad()) return Fail(ErrorCode::kIo, "reading " + path.string() + " failed");
    if (const std::string actual = hash.FinishDigest(); actual != digest) {
      return Fail(ErrorCode::kValidationFailed, path.string() + ": digest mismatch: expected " + std::string(digest) +
                                                    ", content hashes to " + actual);
    }
    return {};
  }

  // --- resolution -----------------------------------------------------------
  Result<std::string> ResolveTag(const ImageReference& ref) {
    return tags.Do(ref.CriName(), [&]() -> Result<std::string> {
      auto from_layout = FindInLayouts(ref);
      if (!from_layout) return Fail(from_layout.error());
      if (*from_layout) return **from_layout;
      if (options.offline) {
        if (!options.cache_dir.empty()) {
          auto text = ReadTextFile(RefCachePath(ref), 1024);
          if (text) {
            const std::string digest(text->substr(0, text->find('\n')));
            if (internal::IsSha256Digest(digest)) {
              ++cache_hits;
              return digest;
            }
          }
        }
        return Fail(ErrorCode::kNotFound, "tag is " + std::string(kOfflineMiss));
      }
      const std::string tag = ref.tag.empty() ? "latest" : ref.tag;
      ++tag_lookups;
      auto digest = registry->HeadManifest(ref, tag);
      // A registry that refuses HEAD (not 404, not a network failure) may
      // still answer GET, which gives the digest too.
      if (!digest && digest.error().code == ErrorCode::kHttpStatus) digest = std::string();
      if (!digest) return Fail(digest.error());
      if (digest->empty()) {
        // No Docker-Content-Digest: the digest is that of the bytes served.
        auto data = registry->GetManifest(ref, tag, &*digest);
        if (!data) return Fail(data.error());
        ++manifests_fetched;
        bytes_fetched += data->size();
        CacheWrite(BlobCachePath(*digest), *data);
        const Bytes copy = *data;
        (void)documents.Do(*digest, [&]() -> Result<Bytes> { return copy; });
      }
      CacheWrite(RefCachePath(ref), AsBytes(*digest + "\n"));
      return *digest;
    });
  }

  Result<ResolvedImage> ResolveParsed(const ImageReference& ref) {
    if (config_error) return Fail(*config_error);
    ResolvedImage image;
    image.reference = ref;
    if (!ref.digest.empty()) {
      image.digest = ref.digest;
    } else {
      auto digest = ResolveTag(ref);
      if (!digest) return Fail(digest.error());
      image.digest = *digest;
    }
    std::string manifest_digest = image.digest;
    ManifestDocument manifest;
    // An index may point at another index; two levels are plenty.
    for (int depth = 0;; ++depth) {
      auto bytes = Document(ref, manifest_digest, true);
      if (!bytes) return Fail(bytes.error());
      auto doc = internal::ParseManifestDocument(AsChars(*bytes));
      if (!doc) return Fail(doc.error().Wrap("manifest " + manifest_digest));
      if (doc->kind == ManifestDocument::Kind::kManifest) {
        manifest = std::move(*doc);
        break;
      }
      if (depth == 2) return Fail(ErrorCode::kUnsupported, "image indexes nested too deeply");
      auto entry = internal::SelectPlatform(*doc);
      if (!entry) return Fail(entry.error().Wrap("image index " + manifest_digest));
      manifest_digest = entry->digest;
    }
    auto config_bytes = Document(ref, manifest.config.digest, false);
    if (!config_bytes) return Fail(config_bytes.error());
    auto config = internal::ParseImageConfig(AsChars(*config_bytes));
    if (!config) return Fail(config.error().Wrap("config " + manifest.config.digest));
    image.config = std::move(*config);
    if (!options.read_files) return image;

    LayerEntry passwd, group;
    for (auto layer = manifest.layers.rbegin(); layer != manifest.layers.rend(); ++layer) {
      if (Decided(passwd) && Decided(group)) break;  // lower layers cannot change the answer
      auto summary = Layer(ref, *layer);
      if (!summary) return Fail(summary.error());
      if (!Decided(passwd)) passwd = summary->passwd;
      if (!Decided(group)) group = summary->group;
    }
    if (passwd.state == LayerEntry::State::kFound) image.files.passwd = passwd.content;
    if (group.state == LayerEntry::State::kFound) image.files.group = group.content;
    return image;
  }
};

ImageResolver::ImageResolver(ResolverOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
ImageResolver::~ImageResolver() = default;

Result<ResolvedImage> ImageResolver::Resolve(std::string_view reference) {
  auto ref = ImageReference::Parse(reference);
  if (!ref) return Fail(ref.error());
  auto image = impl_->ResolveParsed(*ref);
  if (!image) return Fail(image.error().Wrap(PrintableExcerpt(reference, 300)));
  return image;
}

std::vector<Result<ResolvedImage>> ImageResolver::ResolveAll(const std::vector<std::string>& references) {
  // One resolution per distinct reference (as normalised).
  std::vector<std::string> distinct;
  std::vector<size_t> slot(references.size());
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < references.size(); ++i) {
    auto ref = ImageReference::Parse(references[i]);
    const std::string key = ref ? ref->String() : references[i];
    auto [it, inserted] = seen.emplace(key, distinct.size());
    if (inserted) distinct.push_back(references[i]);
    slot[i] = it->second;
  }
  std::vector<std::optional<Result<ResolvedImage>>> results(distinct.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < distinct.size(); i = next++) results[i] = Resolve(distinct[i]);
  };
  const size_t workers =
      std::min<size_t>(distinct.size(), static_cast<size_t>(std::max(1, impl_->options.concurrency)));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  std::vector<Result<ResolvedImage>> out;
  out.reserve(references.size());
  for (size_t i = 0; i < references.size(); ++i) out.push_back(*results[slot[i]]);
  return out;
}

ResolverStats ImageResolver::stats() const {
  ResolverStats s;
  s.manifests_fetched = impl_->manifests_fetched;
  s.blobs_fetched = impl_->blobs_fetched;
  s.layers_fetched = impl_->layers_fetched;
  s.cache_hits = impl_->cache_hits;
  s.bytes_fetched = impl_->bytes_fetched;
  s.tag_lookups = impl_->tag_lookups;
  return s;
}

std::filesystem::path DefaultCacheDir() {
  if (const char* dir = std::getenv("CONTRAST_CACHE_DIR"); dir != nullptr && *dir != '\0') return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "contrast";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "contrast";
  }
  return {};
}

}  // namespace contrast::image
