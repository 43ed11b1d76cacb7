// Parsers of what registries, caches and layout directories hand us:
// manifests, indexes, configs, auth challenges, Docker client configs.
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "common/text.h"
#include "crypto/hash.h"
#include "image/internal.h"

namespace contrast::image::internal {
namespace {

using nlohmann::json;

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

Result<json> ParseJson(std::string_view text, std::string_view what) {
  if (text.size() > kMaxDocumentSize) {
    return Fail(ErrorCode::kParse,
                std::string(what) + " is larger than " + std::to_string(kMaxDocumentSize) + " bytes");
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kParse, std::string(what) + " is not valid JSON: " + e.what());
  }
}

Result<std::string> OptionalString(const json& object, const char* key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Fail(ErrorCode::kParse, std::string(what) + ": \"" + key + "\" is not a string");
  return it->get<std::string>();
}

Result<std::vector<std::string>> OptionalStringList(const json& object, const char* key, std::string_view what) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) return Fail(ErrorCode::kParse, std::string(what) + ": \"" + key + "\" is not an array");
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return Fail(ErrorCode::kParse, std::string(what) + ": \"" + key + "\" has an element that is not a string");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<Descriptor> ParseDescriptor(const json& j, std::string_view what) {
  if (!j.is_object()) return Fail(ErrorCode::kParse, std::string(what) + " is not an object");
  Descriptor d;
  auto media_type = OptionalString(j, "mediaType", what);
  if (!media_type) return Fail(media_type.error());
  d.media_type = *media_type;
  auto digest = OptionalString(j, "digest", what);
  if (!digest) return Fail(digest.error());
  if (!IsSha256Digest(*digest)) {
    return Fail(ErrorCode::kUnsupported, std::string(what) + ": digest \"" + PrintableExcerpt(*digest, 80) +
                                             "\" is not sha256:<64 lower-case hex>");
  }
  d.digest = *digest;
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Fail(ErrorCode::kParse, std::string(what) + ": \"size\" is missing or not a non-negative integer");
  }
  d.size = size->get<int64_t>();
  if (auto platform = j.find("platform"); platform != j.end() && !platform->is_null()) {
    if (!platform->is_object()) return Fail(ErrorCode::kParse, std::string(what) + ": \"platform\" is not an object");
    Platform p;
    auto os = OptionalString(*platform, "os", what);
    auto arch = OptionalString(*platform, "architecture", what);
    auto variant = OptionalString(*platform, "variant", what);
    if (!os) return Fail(os.error());
    if (!arch) return Fail(arch.error());
    if (!variant) return Fail(variant.error());
    p.os = *os;
    p.architecture = *arch;
    p.variant = *variant;
    d.platform = p;
  }
  if (auto annotations = j.find("annotations"); annotations != j.end() && annotations->is_object()) {
    for (const auto& [key, value] : annotations->items()) {
      if (value.is_string()) d.annotations[key] = value.get<std::string>();
    }
  }
  return d;
}

bool IsIndexType(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }
bool IsManifestType(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }

}  // namespace

bool IsSha256Digest(std::string_view digest) {
  return digest.size() == 71 && digest.substr(0, 7) == "sha256:" &&
         std::all_of(digest.begin() + 7, digest.end(), IsLowerHex);
}

std::string_view DigestHex(std::string_view digest) { return digest.substr(7); }

std::string DigestOf(ByteView data) { return "sha256:" + HexEncode(crypto::Sha256(data)); }

Status VerifyDigest(ByteView data, std::string_view digest, std::string_view what) {
  const std::string actual = DigestOf(data);
  if (actual != digest) {
    return Fail(ErrorCode::kValidationFailed, std::string(what) + ": digest mismatch: expected " + std::string(digest) +
                                                  ", content hashes to " + actual);
  }
  return {};
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ != nullptr) EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}
Sha256Stream::~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
void Sha256Stream::Update(ByteView data) {
  if (ctx_ != nullptr) EVP_DigestUpdate(ctx_, data.data(), data.size());
}
std::string Sha256Stream::FinishDigest() {
  uint8_t out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (ctx_ == nullptr || EVP_DigestFinal_ex(ctx_, out, &length) != 1 || length != 32) return "sha256:?";
  return "sha256:" + HexEncode(ByteView(out, length));
}

Result<ManifestDocument> ParseManifestDocument(std::string_view text) {
  auto parsed = ParseJson(text, "manifest");
  if (!parsed) return Fail(parsed.error());
  const json& j = *parsed;
  if (!j.is_object()) return Fail(ErrorCode::kParse, "manifest is not a JSON object");
  auto schema = j.find("schemaVersion");
  if (schema != j.end() && schema->is_number_integer() && schema->get<int64_t>() == 1) {
    return Fail(ErrorCode::kUnsupported,
                "Docker image manifest schema 1 is not supported (deprecated; push the image again)");
  }
  if (schema == j.end() || !schema->is_number_integer() || schema->get<int64_t>() != 2) {
    return Fail(ErrorCode::kParse, "manifest: \"schemaVersion\" is not 2");
  }
  ManifestDocument doc;
  auto media_type = OptionalString(j, "mediaType", "manifest");
  if (!media_type) return Fail(media_type.error());
  doc.media_type = *media_type;
  bool is_index;
  if (IsIndexType(doc.media_type)) {
    is_index = true;
  } else if (IsManifestType(doc.media_type)) {
    is_index = false;
  } else if (!doc.media_type.empty()) {
    return Fail(ErrorCode::kUnsupported,
                "manifest media type \"" + PrintableExcerpt(doc.media_type, 100) + "\" is not supported");
  } else if (j.contains("manifests")) {
    is_index = true;
  } else if (j.contains("config") || j.contains("layers")) {
    is_index = false;
  } else {
    return Fail(ErrorCode::kParse, "manifest has neither \"manifests\" nor \"config\" and \"layers\"");
  }
  if (is_index) {
    doc.kind = ManifestDocument::Kind::kIndex;
    auto manifests = j.find("manifests");
    if (manifests == j.end() || !manifests->is_array()) {
      return Fail(ErrorCode::kParse, "image index: \"manifests\" is missing or not an array");
    }
    for (size_t i = 0; i < manifests->size(); ++i) {
      auto d = ParseDescriptor((*manifests)[i], "image index: manifests[" + std::to_string(i) + "]");
      if (!d) return Fail(d.error());
      doc.manifests.push_back(std::move(*d));
    }
    return doc;
  }
  doc.kind = ManifestDocument::Kind::kManifest;
  auto config = j.find("config");
  if (config == j.end()) return Fail(ErrorCode::kParse, "image manifest: \"config\" is missing");
  auto c = ParseDescriptor(*config, "image manifest: config");
  if (!c) return Fail(c.error());
  doc.config = std::move(*c);
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) {
    return Fail(ErrorCode::kParse, "image manifest: \"layers\" is missing or not an array");
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    auto d = ParseDescriptor((*layers)[i], "image manifest: layers[" + std::to_string(i) + "]");
    if (!d) return Fail(d.error());
    doc.layers.push_back(std::move(*d));
  }
  return doc;
}

Result<Descriptor> SelectPlatform(const ManifestDocument& index, std::string_view os, std::string_view architecture) {
  std::set<std::string> available;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform) continue;
    if (d.platform->os == os && d.platform->architecture == architecture) return d;
    available.insert(d.platform->os + "/" + d.platform->architecture);
  }
  std::string list;
  for (const auto& p : available) list += (list.empty() ? "" : ", ") + p;
  return Fail(ErrorCode::kNotFound, "image index has no " + std::string(os) + "/" + std::string(architecture) +
                                        " manifest (it has: " + (list.empty() ? "none" : list) + ")");
}

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  auto parsed = ParseJson(text, "image config");
  if (!parsed) return Fail(parsed.error());
  if (!parsed->is_object()) return Fail(ErrorCode::kParse, "image config is not a JSON object");
  ImageConfig config;
  auto it = parsed->find("config");
  if (it == parsed->end() || it->is_null()) return config;
  if (!it->is_object()) return Fail(ErrorCode::kParse, "image config: \"config\" is not an object");
  const json& c = *it;
  constexpr std::string_view kWhat = "image config";
  auto entrypoint = OptionalStringList(c, "Entrypoint", kWhat);
  auto cmd = OptionalStringList(c, "Cmd", kWhat);
  auto env = OptionalStringList(c, "Env", kWhat);
  auto working_dir = OptionalString(c, "WorkingDir", kWhat);
  auto user = OptionalString(c, "User", kWhat);
  for (const Error* e :
       {entrypoint ? nullptr : &entrypoint.error(), cmd ? nullptr : &cmd.error(), env ? nullptr : &env.error(),
        working_dir ? nullptr : &working_dir.error(), user ? nullptr : &user.error()}) {
    if (e != nullptr) return Fail(*e);
  }
  config.entrypoint = std::move(*entrypoint);
  config.cmd = std::move(*cmd);
  config.env = std::move(*env);
  config.working_dir = std::move(*working_dir);
  config.user = std::move(*user);
  if (auto volumes = c.find("Volumes"); volumes != c.end() && !volumes->is_null()) {
    if (!volumes->is_object()) return Fail(ErrorCode::kParse, "image config: \"Volumes\" is not an object");
    for (const auto& [key, value] : volumes->items()) config.volumes.push_back(key);
    std::sort(config.volumes.begin(), config.volumes.end());
  }
  return config;
}

// challenge = scheme 1*SP auth-param *( "," auth-param ); values are tokens or
// quoted strings with backslash escapes.
Result<AuthChallenge> ParseWwwAuthenticate(std::string_view header) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kParse, "WWW-Authenticate \"" + PrintableExcerpt(header, 200) + "\": " + why);
  };
  size_t i = 0;
  auto skip_space = [&] {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
  };
  skip_space();
  const size_t scheme_start = i;
  while (i < header.size() && header[i] != ' ' && header[i] != '\t' && header[i] != ',') ++i;
  AuthChallenge challenge;
  challenge.scheme = std::string(header.substr(scheme_start, i - scheme_start));
  if (challenge.scheme.empty()) return bad("no scheme");
  while (true) {
    skip_space();
    while (i < header.size() && (header[i] == ',' || header[i] == ' ' || header[i] == '\t')) ++i;
    if (i >= header.size()) break;
    const size_t key_start = i;
    while (i < header.size() && header[i] != '=' && header[i] != ' ' && header[i] != ',') ++i;
    std::string key(header.substr(key_start, i - key_start));
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    skip_space();
    if (i >= header.size() || header[i] != '=') return bad("parameter \"" + PrintableExcerpt(key) + "\" has no value");
    ++i;
    skip_space();
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      bool closed = false;
      while (i < header.size()) {
        const char c = header[i++];
        if (c == '\\' && i < header.size()) {
          value += header[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) return bad("unterminated quoted value");
    } else {
      const size_t value_start = i;
      while (i < header.size() && header[i] != ',' && header[i] != ' ' && header[i] != '\t') ++i;
      value = std::string(header.substr(value_start, i - value_start));
    }
    challenge.params[key] = value;
  }
  return challenge;
}

std::string NormaliseRegistryHost(std::string_view key) {
  std::string_view host = key;
  if (const size_t scheme = host.find("://"); scheme != std::string_view::npos) host.remove_prefix(scheme + 3);
  if (const size_t slash = host.find('/'); slash != std::string_view::npos) host = host.substr(0, slash);
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  if (out == "index.docker.io" || out == "registry-1.docker.io" || out == "registry.hub.docker.com") return "docker.io";
  return out;
}

Result<std::map<std::string, Credentials>> ParseDockerConfig(std::string_view text) {
  auto parsed = ParseJson(text, "docker config");
  if (!parsed) return Fail(parsed.error());
  if (!parsed->is_object()) return Fail(ErrorCode::kParse, "docker config is not a JSON object");
  std::map<std::string, Credentials> out;
  auto auths = parsed->find("auths");
  if (auths == parsed->end() || auths->is_null()) return out;
  if (!auths->is_object()) return Fail(ErrorCode::kParse, "docker config: \"auths\" is not an object");
  for (const auto& [key, entry] : auths->items()) {
    const std::string what = "docker config: auths[\"" + PrintableExcerpt(key, 100) + "\"]";
    if (!entry.is_object()) return Fail(ErrorCode::kParse, what + " is not an object");
    Credentials creds;
    auto auth = OptionalString(entry, "auth", what);
    auto username = OptionalString(entry, "username", what);
    auto password = OptionalString(entry, "password", what);
    auto token = OptionalString(entry, "identitytoken", what);
    for (const Error* e : {auth ? nullptr : &auth.error(), username ? nullptr : &username.error(),
                           password ? nullptr : &password.error(), token ? nullptr : &token.error()}) {
      if (e != nullptr) return Fail(*e);
    }
    if (!auth->empty()) {
      auto decoded = Base64Decode(*auth);
      if (!decoded) return Fail(ErrorCode::kParse, what + ": \"auth\" is not valid base64");
      const std::string_view pair = AsChars(*decoded);
      const size_t colon = pair.find(':');
      if (colon == std::string_view::npos) return Fail(ErrorCode::kParse, what + ": \"auth\" is not user:password");
      creds.username = std::string(pair.substr(0, colon));
      creds.password = std::string(pair.substr(colon + 1));
    } else {
      creds.username = *username;
      creds.password = *password;
    }
    creds.identity_token = *token;
    if (!creds.empty()) out[NormaliseRegistryHost(key)] = std::move(creds);
  }
  return out;
}

std::string SerializeLayerSummary(const LayerSummary& summary) {
  auto entry = [](const LayerEntry& e) {
    json j = json::object();
    switch (e.state) {
      case LayerEntry::State::kAbsent: j["state"] = "absent"; break;
      case LayerEntry::State::kFound: j["state"] = "found"; break;
      case LayerEntry::State::kWhiteout: j["state"] = "whiteout"; break;
    }
    // Base64: file content need not be UTF-8, JSON strings must be.
    if (e.content) j["content"] = Base64Encode(AsBytes(*e.content));
    return j;
  };
  json j = {{"version", 1}, {"passwd", entry(summary.passwd)}, {"group", entry(summary.group)}};
  return j.dump();
}

Result<LayerSummary> ParseLayerSummary(std::string_view text) {
  auto parsed = ParseJson(text, "layer summary");
  if (!parsed) return Fail(parsed.error());
  const json& j = *parsed;
  if (!j.is_object() || j.value("version", json()) != json(1)) {
    return Fail(ErrorCode::kParse, "layer summary: not version 1");
  }
  auto entry = [&](const char* key) -> Result<LayerEntry> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return Fail(ErrorCode::kParse, std::string("layer summary: no ") + key);
    LayerEntry e;
    auto state = OptionalString(*it, "state", "layer summary");
    if (!state) return Fail(state.error());
    if (*state == "absent") {
      e.state = LayerEntry::State::kAbsent;
    } else if (*state == "found") {
      e.state = LayerEntry::State::kFound;
    } else if (*state == "whiteout") {
      e.state = LayerEntry::State::kWhiteout;
    } else {
      return Fail(ErrorCode::kParse, "layer summary: unknown state");
    }
    if (auto content = it->find("content"); content != it->end()) {
      if (!content->is_string()) return Fail(ErrorCode::kParse, "layer summary: content is not a string");
      auto decoded = Base64Decode(content->get<std::string>());
      if (!decoded) return Fail(ErrorCode::kParse, "layer summary: content is not base64");
      if (decoded->size() > kMaxImageFileSize) return Fail(ErrorCode::kParse, "layer summary: content too large");
      e.content = std::string(AsChars(*decoded));
    }
    return e;
  };
  LayerSummary summary;
  auto passwd = entry("passwd");
  if (!passwd) return Fail(passwd.error());
  auto group = entry("group");
  if (!group) return Fail(group.error());
  summary.passwd = std::move(*passwd);
  summary.group = std::move(*group);
  return summary;
}

std::string EscapeReference(std::string_view reference) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : reference) {
    if (IsLowerHex(c) || (c >= 'g' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_') {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close != std::string_view::npos && host.substr(1, close - 1) == "::1";
  }
  if (host == "::1") return true;
  if (const size_t colon = host.find(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (host == "localhost") return true;
  // 127.0.0.0/8 as a dotted quad.
  if (host.substr(0, 4) != "127.") return false;
  int parts = 0;
  size_t start = 0;
  while (true) {
    const size_t dot = host.find('.', start);
    const std::string_view part = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(part)) > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

}  // namespace contrast::image::internal
