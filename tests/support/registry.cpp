#include "support/registry.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.h"

namespace contrast::testing {
namespace {

using nlohmann::json;

constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr const char* kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";

std::string Digest(ByteView data) {
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 15];
  }
  return hex;
}

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// --- tar ---------------------------------------------------------------------

void PutOctal(uint8_t* field, size_t width, uint64_t value) {
  // width-1 octal digits and a NUL.
  std::string digits(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && value > 0; value >>= 3) digits[i] = static_cast<char>('0' + (value & 7));
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = 0;
}

void PutString(uint8_t* field, size_t width, const std::string& s) {
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

void AppendHeader(Bytes& out, const std::string& name, const std::string& prefix, char type, uint64_t size,
                  unsigned mode, const std::string& link = "") {
  uint8_t h[512] = {};
  PutString(h, 100, name);
  PutOctal(h + 100, 8, mode);
  PutOctal(h + 108, 8, 0);
  PutOctal(h + 116, 8, 0);
  PutOctal(h + 124, 12, size);
  PutOctal(h + 136, 12, 0);
  h[156] = static_cast<uint8_t>(type);
  PutString(h + 157, 100, link);
  std::memcpy(h + 257,
              "ustar\0"
              "00",
              8);
  PutString(h + 345, 155, prefix);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (uint8_t b : h) sum += b;
  PutOctal(h + 148, 7, sum);
  h[155] = ' ';
  out.insert(out.end(), h, h + 512);
}

void AppendData(Bytes& out, const std::string& data) {
  out.insert(out.end(), data.begin(), data.end());
  out.resize(out.size() + (512 - data.size() % 512) % 512, 0);
}

void AppendEntry(Bytes& out, const std::string& path, char type, const std::string& content, unsigned mode,
                 const std::string& link, TestLayer::Names names) {
  switch (names) {
    case TestLayer::Names::kGnuLongName: {
      const std::string data = path + '\0';
      AppendHeader(out, "././@LongLink", "", 'L', data.size(), 0644);
      AppendData(out, data);
      AppendHeader(out, "decoy-gnu", "", type, content.size(), mode, link);
      break;
    }
    case TestLayer::Names::kPax: {
      // "<len> path=<path>\n", where <len> counts its own digits.
      const std::string body = " path=" + path + "\n";
      size_t length = body.size() + 1;
      while (std::to_string(length).size() + body.size() != length) ++length;
      const std::string record = std::to_string(length) + body;
      AppendHeader(out, "PaxHeaders/decoy", "", 'x', record.size(), 0644);
      AppendData(out, record);
      AppendHeader(out, "decoy-pax", "", type, content.size(), mode, link);
      break;
    }
    case TestLayer::Names::kUstar: {
      std::string name = path, prefix;
      if (name.size() > 100) {
        const size_t split = path.rfind('/', 155);
        if (split == std::string::npos || path.size() - split - 1 > 100) {
          ADD_FAILURE() << "path too long for plain ustar: " << path;
          return;
        }
        prefix = path.substr(0, split);
        name = path.substr(split + 1);
      }
      AppendHeader(out, name, prefix, type, content.size(), mode, link);
      break;
    }
  }
  AppendData(out, content);
}

}  // namespace

Bytes BuildTar(const TestLayer& layer) {
  Bytes out;
  std::set<std::string> dirs;
  auto parents = [&](const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      const std::string dir = path.substr(0, slash);
      if (dirs.insert(dir).second) AppendEntry(out, dir + "/", '5', "", 0755, "", layer.names);
    }
  };
  auto dir_and_base = [](const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::make_pair(std::string(), path)
                                      : std::make_pair(path.substr(0, slash + 1), path.substr(slash + 1));
  };
  for (const std::string& dir : layer.opaque_dirs) {
    const std::string path = dir + "/.wh..wh..opq";
    parents(path);
    AppendEntry(out, path, '0', "", 0644, "", layer.names);
  }
  for (const std::string& removed : layer.whiteouts) {
    const auto [dir, base] = dir_and_base(removed);
    const std::string path = dir + ".wh." + base;
    parents(path);
    AppendEntry(out, path, '0', "", 0644, "", layer.names);
  }
  for (const TestFile& file : layer.files) {
    parents(file.path);
    if (file.symlink_target.empty()) {
      AppendEntry(out, file.path, '0', file.content, file.mode, "", layer.names);
    } else {
      AppendEntry(out, file.path, '2', "", 0777, file.symlink_target, layer.names);
    }
  }
  out.resize(out.size() + 1024, 0);  // end-of-archive marker
  return out;
}

Bytes Gzip(ByteView data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    ADD_FAILURE() << "deflateInit2 failed";
    return {};
  }
  Bytes out(deflateBound(&z, data.size()) + 64);
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  if (rc != Z_STREAM_END) ADD_FAILURE() << "deflate failed: " << rc;
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

namespace {

json ConfigJson(const image::ImageConfig& c, const std::string& architecture, const std::vector<std::string>& diff_ids,
                const std::vector<std::string>& extra_env) {
  json config = json::object();
  if (!c.entrypoint.empty()) config["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) config["Cmd"] = c.cmd;
  std::vector<std::string> env = c.env;
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  if (!env.empty()) config["Env"] = env;
  if (!c.working_dir.empty()) config["WorkingDir"] = c.working_dir;
  if (!c.user.empty()) config["User"] = c.user;
  if (!c.volumes.empty()) {
    json volumes = json::object();
    for (const auto& v : c.volumes) volumes[v] = json::object();
    config["Volumes"] = volumes;
  }
  return json{{"architecture", architecture},
              {"os", "linux"},
              {"config", config},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
}

json DescriptorJson(const BuiltBlob& blob) {
  return json{{"mediaType", blob.media_type}, {"digest", blob.digest}, {"size", blob.data.size()}};
}

}  // namespace

BuiltImage BuildImage(const TestImage& image) {
  BuiltImage built;
  std::vector<BuiltBlob> layers;
  std::vector<std::string> diff_ids;
  for (const TestLayer& layer : image.layers) {
    Bytes tar = BuildTar(layer);
    diff_ids.push_back(Digest(tar));
    BuiltBlob blob;
    blob.media_type = layer.gzip ? kOciLayerGzip : kOciLayerTar;
    blob.data = layer.gzip ? Gzip(tar) : std::move(tar);
    blob.digest = Digest(blob.data);
    built.layer_digests.push_back(blob.digest);
    layers.push_back(std::move(blob));
  }
  auto manifest_for = [&](const std::string& architecture, const std::vector<std::string>& extra_env) {
    BuiltBlob config;
    config.media_type = kOciConfig;
    config.data = ToBytes(ConfigJson(image.config, architecture, diff_ids, extra_env).dump());
    config.digest = Digest(config.data);
    json manifest = {{"schemaVersion", 2}, {"mediaType", kOciManifest}, {"config", DescriptorJson(config)}};
    manifest["layers"] = json::array();
    for (const auto& layer : layers) manifest["layers"].push_back(DescriptorJson(layer));
    BuiltBlob document;
    document.media_type = kOciManifest;
    document.data = ToBytes(manifest.dump());
    document.digest = Digest(document.data);
    built.blobs.push_back(std::move(config));
    return document;
  };
  BuiltBlob amd64 = manifest_for("amd64", {});
  built.config_digest = built.blobs.back().digest;
  built.blobs.insert(built.blobs.end(), layers.begin(), layers.end());
  if (!image.multi_platform) {
    built.digest = amd64.digest;
    built.media_type = amd64.media_type;
    built.document = std::move(amd64.data);
    return built;
  }
  BuiltBlob arm64 = manifest_for("arm64", {"CONTRAST_TEST_PLATFORM=linux/arm64"});
  json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
  for (const auto& [blob, arch] : {std::pair{&arm64, "arm64"}, std::pair{&amd64, "amd64"}}) {
    json entry = DescriptorJson(*blob);
    entry["platform"] = {{"os", "linux"}, {"architecture", arch}};
    index["manifests"].push_back(entry);
  }
  built.document = ToBytes(index.dump());
  built.digest = Digest(built.document);
  built.media_type = kOciIndex;
  built.platform_manifests = {std::move(arm64), std::move(amd64)};
  return built;
}

std::string WriteImageLayout(const std::filesystem::path& dir, const std::string& ref_name, const TestImage& image) {
  const BuiltImage built = BuildImage(image);
  std::error_code ec;
  std::filesystem::create_directories(dir / "blobs" / "sha256", ec);
  auto write = [&](const std::filesystem::path& path, ByteView data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) ADD_FAILURE() << "cannot write " << path;
  };
  auto write_blob = [&](const std::string& digest, ByteView data) {
    write(dir / "blobs" / "sha256" / digest.substr(7), data);
  };
  for (const auto& blob : built.blobs) write_blob(blob.digest, blob.data);
  for (const auto& blob : built.platform_manifests) write_blob(blob.digest, blob.data);
  write_blob(built.digest, built.document);
  write(dir / "oci-layout", AsBytes(std::string_view(R"({"imageLayoutVersion":"1.0.0"})")));
  json index = {{"schemaVersion", 2},
                {"mediaType", kOciIndex},
                {"manifests",
                 {{{"mediaType", built.media_type},
                   {"digest", built.digest},
                   {"size", built.document.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", ref_name}}}}}}};
  const std::string text = index.dump();
  write(dir / "index.json", AsBytes(text));
  return built.digest;
}

// --- the registry process ------------------------------------------------------

namespace {

struct HttpResult {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;  // transport failure
};

size_t CollectBody(char* data, size_t size, size_t count, void* user) {
  static_cast<HttpResult*>(user)->body.append(data, size * count);
  return size * count;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  auto* result = static_cast<HttpResult*>(user);
  std::string line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    result->headers[name] = value;
  }
  return size * count;
}

HttpResult Call(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                ByteView body, const std::string& user_password) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  if (!user_password.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERPWD, user_password.c_str());
  }
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (method == "PUT" || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) result.error = curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

}  // namespace

struct TestRegistry::Server {
  std::unique_ptr<ChildProcess> process;
};

bool TestRegistry::Available() { return std::filesystem::exists(kRegistryBinary); }

TestRegistry::TestRegistry() : TestRegistry(Options{}) {}

TestRegistry::TestRegistry(Options options) : options_(std::move(options)), server_(std::make_unique<Server>()) {
  if (!Available()) {
    ADD_FAILURE() << kRegistryBinary << " is not installed (Debian package docker-registry)";
    return;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/contrast-registry-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return;
  }
  dir_ = pattern;
  std::string auth;
  if (!options_.user.empty()) {
    std::ofstream(dir_ / "htpasswd") << options_.user << ":" << options_.bcrypt_hash << "\n";
    auth = "auth:\n  htpasswd:\n    realm: contrast-test\n    path: " + (dir_ / "htpasswd").string() + "\n";
  }
  // A port picked a moment ago can be taken meanwhile: try a few.
  for (int attempt = 0; attempt < 3 && !ok_; ++attempt) {
    port_ = FreeLoopbackPort();
    std::ofstream(dir_ / "config.yml") << "version: 0.1\n"
                                          "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                                          "storage:\n  filesystem:\n    rootdirectory: "
                                       << (dir_ / "storage").string()
                                       << "\n  delete:\n    enabled: true\n"
                                          "http:\n  addr: 127.0.0.1:"
                                       << port_ << "\n  secret: contrast-test-secret\n"
                                       << auth;
    server_->process = std::make_unique<ChildProcess>(
        std::vector<std::string>{kRegistryBinary, "serve", (dir_ / "config.yml").string()},
        dir_ / ("registry-" + std::to_string(attempt) + ".log"));
    const std::string url = "http://" + Host() + "/v2/";
    ok_ = server_->process->WaitUntil(
        [&] {
          const HttpResult r = Call("GET", url, {}, {}, "");
          return r.error.empty() && (r.status == 200 || r.status == 401);
        },
        std::chrono::seconds(30));
    if (!ok_) {
      const std::string output = server_->process->Output();
      server_->process->Stop();
      if (attempt == 2) ADD_FAILURE() << "docker-registry did not start; output:\n" << output;
    }
  }
}

TestRegistry::~TestRegistry() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void TestRegistry::Stop() {
  if (server_ && server_->process) server_->process->Stop();
}

std::string TestRegistry::Host() const { return "127.0.0.1:" + std::to_string(port_); }

std::string TestRegistry::Reference(const std::string& repository, const std::string& tag) const {
  return Host() + "/" + repository + ":" + tag;
}

std::filesystem::path TestRegistry::BlobDataPath(const std::string& digest) const {
  const std::string hex = digest.substr(digest.find(':') + 1);
  return dir_ / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex.substr(0, 2) / hex / "data";
}

std::string TestRegistry::PushImage(const std::string& repository, const std::string& tag, const TestImage& image) {
  return PushImageDetailed(repository, tag, image).digest;
}

BuiltImage TestRegistry::PushImageDetailed(const std::string& repository, const std::string& tag,
                                           const TestImage& image) {
  BuiltImage built = BuildImage(image);
  if (!ok_) {
    ADD_FAILURE() << "the test registry is not running";
    built.digest.clear();
    return built;
  }
  const std::string base = "http://" + Host() + "/v2/" + repository + "/";
  const std::string credentials = options_.user.empty() ? "" : options_.user + ":" + options_.password;
  auto fail = [&](const std::string& what, const HttpResult& r) {
    ADD_FAILURE() << "pushing " << repository << ":" << tag << ": " << what << ": "
                  << (r.error.empty() ? "HTTP " + std::to_string(r.status) + " " + r.body : r.error);
    built.digest.clear();
    return built;
  };
  for (const BuiltBlob& blob : built.blobs) {
    // Monolithic upload: open a session, then PUT the whole blob with its digest.
    const HttpResult start = Call("POST", base + "blobs/uploads/", {}, {}, credentials);
    if (!start.error.empty() || start.status != 202 || !start.headers.contains("location")) {
      return fail("POST blobs/uploads/", start);
    }
    std::string location = start.headers.at("location");
    if (location.rfind("http", 0) != 0) location = "http://" + Host() + location;
    location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + blob.digest;
    const HttpResult put = Call("PUT", location, {"Content-Type: application/octet-stream"}, blob.data, credentials);
    if (!put.error.empty() || put.status != 201) return fail("PUT blob " + blob.digest, put);
  }
  auto put_manifest = [&](const std::string& reference, const std::string& media_type, const Bytes& data) {
    const HttpResult r =
        Call("PUT", base + "manifests/" + reference, {"Content-Type: " + media_type}, data, credentials);
    if (!r.error.empty() || r.status != 201) {
      fail("PUT manifest " + reference, r);
      return false;
    }
    return true;
  };
  for (const BuiltBlob& m : built.platform_manifests) {
    if (!put_manifest(m.digest, m.media_type, m.data)) return built;
  }
  const std::string digest = built.digest;
  if (!put_manifest(tag, built.media_type, built.document)) return built;
  return built;
}

}  // namespace contrast::testing
