#include "image/registry.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace contrast::image::internal {
namespace {

// Error bodies are kept only this far, for the message.
constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMaxTokenResponse = 1024 * 1024;

Status GlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK)
    return Fail(ErrorCode::kInternal, std::string("curl_global_init: ") + curl_easy_strerror(result));
  return {};
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string HostOnly(std::string_view host_and_port) {
  if (!host_and_port.empty() && host_and_port.front() == '[') {
    return std::string(host_and_port.substr(0, host_and_port.find(']') + 1));
  }
  return std::string(host_and_port.substr(0, host_and_port.find(':')));
}

// "manifest unknown; ..." from a distribution error body, else "".
std::string RegistryErrorText(const Bytes& body) {
  try {
    const auto j = nlohmann::json::parse(AsChars(body));
    std::string out;
    for (const auto& e : j.at("errors")) {
      std::string message = e.value("message", "");
      if (message.empty()) message = e.value("code", "");
      if (!message.empty()) out += (out.empty() ? "" : "; ") + PrintableExcerpt(message, 200);
    }
    return out;
  } catch (const nlohmann::json::exception&) {
    return "";
  }
}

}  // namespace

struct RegistryClient::Reply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, final response only
  Bytes body;
  bool body_too_large = false;
};

struct RegistryClient::Request {
  std::string method = "GET";  // GET, HEAD or POST
  std::string url;
  std::vector<std::string> headers;
  std::string post_body;
  size_t max_body = kMaxDocumentSize;
  // Receives a 200 response's body instead of Reply::body.
  const std::function<Status(ByteView)>* sink = nullptr;
  bool stream = false;  // a long transfer: stall timeout instead of a total one
  int timeout_seconds = 60;
};

namespace {

struct TransferState {
  const std::function<Status(ByteView)>* sink = nullptr;
  size_t max_body = 0;
  long status = 0;
  std::map<std::string, std::string> headers;
  Bytes body;
  bool too_large = false;
  Error sink_error;
  bool sink_failed = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const std::string_view line(data, size * count);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or 100-continue): start over.
    state->headers.clear();
    const size_t space = line.find(' ');
    state->status =
        space == std::string_view::npos ? 0 : std::strtol(std::string(line.substr(space + 1, 3)).c_str(), nullptr, 10);
    return size * count;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos)
    state->headers[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const size_t n = size * count;
  if (state->status == 200 && state->sink != nullptr) {
    auto status = (*state->sink)(ByteView(reinterpret_cast<const uint8_t*>(data), n));
    if (!status) {
      state->sink_error = status.error();
      state->sink_failed = true;
      return 0;
    }
    return n;
  }
  const size_t limit = (state->status >= 200 && state->status < 300) ? state->max_body : kMaxErrorBody;
  if (n > limit - std::min(limit, state->body.size())) {
    if (state->status >= 200 && state->status < 300) {
      state->too_large = true;
      return 0;
    }
    return n;  // an error body: keep the start, drop the rest
  }
  state->body.insert(state->body.end(), data, data + n);
  return n;
}

}  // namespace

std::string Endpoint::RepositoryUrl(std::string_view repository) const {
  std::string url = scheme + "://" + host + "/v2/";
  if (!prefix.empty()) url += prefix + "/";
  return url + std::string(repository) + "/";
}

RegistryClient::RegistryClient(RegistryOptions options) : options_(std::move(options)) {}

RegistryClient::~RegistryClient() {
  for (void* handle : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(handle));
}

void* RegistryClient::AcquireHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_handles_.empty()) {
      void* handle = idle_handles_.back();
      idle_handles_.pop_back();
      curl_easy_reset(static_cast<CURL*>(handle));
      return handle;
    }
  }
  return curl_easy_init();
}

void RegistryClient::ReleaseHandle(void* handle) {
  // Kept for reuse: each handle keeps its connections open.
  std::lock_guard lock(mu_);
  if (idle_handles_.size() < 16) {
    idle_handles_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

Endpoint RegistryClient::EndpointFor(const ImageReference& ref) const {
  Endpoint endpoint;
  std::string target;
  auto mirror = options_.mirrors.find(ref.domain);
  if (mirror == options_.mirrors.end() && ref.domain == "docker.io") {
    for (const char* alias : {"index.docker.io", "registry-1.docker.io"}) {
      mirror = options_.mirrors.find(alias);
      if (mirror != options_.mirrors.end()) break;
    }
  }
  if (mirror != options_.mirrors.end()) {
    std::string_view value = mirror->second;
    if (value.substr(0, 7) == "http://") {
      endpoint.scheme = "http";
      value.remove_prefix(7);
    } else if (value.substr(0, 8) == "https://") {
      endpoint.scheme = "https";
      value.remove_prefix(8);
    }
    const size_t slash = value.find('/');
    endpoint.host = std::string(value.substr(0, slash));
    if (slash != std::string_view::npos) {
      std::string_view prefix = value.substr(slash + 1);
      while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
      endpoint.prefix = std::string(prefix);
    }
  } else {
    endpoint.host = ref.domain == "docker.io" ? "registry-1.docker.io" : ref.domain;
  }
  if (endpoint.scheme.empty()) {
    const bool insecure =
        IsLoopbackHost(endpoint.host) || std::any_of(options_.insecure_registries.begin(),
                                                     options_.insecure_registries.end(), [&](const std::string& h) {
                                                       const std::string normal = Lower(h);
                                                       return normal == Lower(endpoint.host) ||
                                                              normal == Lower(HostOnly(endpoint.host));
                                                     });
    endpoint.scheme = insecure ? "http" : "https";
  }
  return endpoint;
}

Result<RegistryClient::Reply> RegistryClient::Perform(const Request& request) {
  if (auto status = GlobalInit(); !status) return Fail(status.error());
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (curl == nullptr) return Fail(ErrorCode::kInternal, "curl_easy_init failed");
  struct Release {
    RegistryClient* client;
    CURL* handle;
    ~Release() { client->ReleaseHandle(handle); }
  } release{this, curl};

  TransferState state;
  state.sink = request.sink;
  state.max_body = request.max_body;
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, &curl_slist_free_all);

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // Blob downloads are commonly redirected to storage; curl does not send
  // our Authorization header to another host.
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "contrast");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  const long timeout = std::max(1, request.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(timeout, 30L));
  if (request.stream) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout);
  } else {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.post_body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.post_body.size()));
  }

  const CURLcode code = curl_easy_perform(curl);
  const std::string what = request.method + " " + request.url;
  if (state.sink_failed) return Fail(state.sink_error);
  if (state.too_large) {
    return Fail(ErrorCode::kParse, what + ": response larger than " + std::to_string(request.max_body) + " bytes");
  }
  if (code != CURLE_OK) {
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT: return Fail(ErrorCode::kTimeout, what + ": timed out: " + detail);
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
        return Fail(ErrorCode::kNetwork, what + ": cannot resolve the registry host: " + detail);
      case CURLE_COULDNT_CONNECT: return Fail(ErrorCode::kNetwork, what + ": registry unreachable: " + detail);
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_PEER_FAILED_VERIFICATION:
        return Fail(ErrorCode::kNetwork,
                    what + ": TLS failed: " + detail + " (a registry without TLS needs --insecure-registry)");
      default: return Fail(ErrorCode::kNetwork, what + ": " + detail);
    }
  }
  Reply reply;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.headers = std::move(state.headers);
  reply.body = std::move(state.body);
  return reply;
}

Status RegistryClient::Authenticate(const Endpoint& endpoint, std::string_view repository,
                                    const std::string& challenge_header, std::string& authorization) {
  auto challenge = ParseWwwAuthenticate(challenge_header);
  if (!challenge) return Fail(challenge.error());
  Credentials creds;
  if (auto it = options_.credentials.find(NormaliseRegistryHost(endpoint.host)); it != options_.credentials.end()) {
    creds = it->second;
  }
  const std::string basic = creds.username.empty() && creds.password.empty()
                                ? ""
                                : "Basic " + Base64Encode(AsBytes(creds.username + ":" + creds.password));
  const std::string scheme = Lower(challenge->scheme);
  if (scheme == "basic") {
    if (basic.empty()) {
      return Fail(ErrorCode::kHttpStatus,
                  "the registry " + endpoint.host + " requires credentials and the docker config has none for it");
    }
    authorization = basic;
    return {};
  }
  if (scheme != "bearer") {
    return Fail(ErrorCode::kUnsupported,
                "unsupported authentication scheme \"" + PrintableExcerpt(challenge->scheme) + "\"");
  }
  const std::string realm = challenge->params["realm"];
  if (realm.substr(0, 7) != "http://" && realm.substr(0, 8) != "https://") {
    return Fail(ErrorCode::kParse, "bearer challenge without an http(s) realm");
  }
  std::string scope = challenge->params["scope"];
  if (scope.empty()) scope = "repository:" + std::string(repository) + ":pull";
  const std::string service = challenge->params["service"];
  auto escape = [](const std::string& s) {
    char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
    std::string out = e != nullptr ? e : "";
    curl_free(e);
    return out;
  };
  Request token_request;
  token_request.max_body = kMaxTokenResponse;
  token_request.timeout_seconds = options_.timeout_seconds;
  if (!creds.identity_token.empty()) {
    // OAuth2 refresh-token grant, as the Docker client does with an identity token.
    token_request.method = "POST";
    token_request.url = realm;
    token_request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    token_request.post_body = "grant_type=refresh_token&client_id=contrast&service=" + escape(service) +
                              "&scope=" + escape(scope) + "&refresh_token=" + escape(creds.identity_token);
  } else {
    token_request.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + "service=" + escape(service) +
                        "&scope=" + escape(scope);
    if (!basic.empty()) token_request.headers.push_back("Authorization: " + basic);
  }
  auto reply = Perform(token_request);
  if (!reply) return Fail(reply.error().Wrap("fetching a registry token"));
  if (reply->status != 200) {
    std::string detail = RegistryErrorText(reply->body);
    return Fail(ErrorCode::kHttpStatus,
                "fetching a registry token from " + realm + ": HTTP " + std::to_string(reply->status) +
                    (detail.empty() ? "" : " (" + detail + ")") +
                    (basic.empty() ? " (no credentials in the docker config for " + endpoint.host + ")" : ""));
  }
  std::string token;
  try {
    const auto j = nlohmann::json::parse(AsChars(reply->body));
    if (j.contains("token") && j["token"].is_string()) token = j["token"].get<std::string>();
    if (token.empty() && j.contains("access_token") && j["access_token"].is_string()) {
      token = j["access_token"].get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  if (token.empty() || std::any_of(token.begin(), token.end(), [](char c) { return c < 0x21 || c > 0x7e; })) {
    return Fail(ErrorCode::kParse, "the token response from " + realm + " has no usable token");
  }
  authorization = "Bearer " + token;
  return {};
}

Result<RegistryClient::Reply> RegistryClient::PerformAuthenticated(Request request, const Endpoint& endpoint,
                                                                   std::string_view repository) {
  const std::string key = endpoint.host + "|" + std::string(repository);
  std::string authorization;
  {
    std::lock_guard lock(mu_);
    if (auto it = authorizations_.find(key); it != authorizations_.end()) authorization = it->second;
  }
  const std::vector<std::string> base_headers = request.headers;
  for (int attempt = 0; attempt < 2; ++attempt) {
    request.headers = base_headers;
    if (!authorization.empty()) request.headers.push_back("Authorization: " + authorization);
    auto reply = Perform(request);
    if (!reply || reply->status != 401 || attempt == 1) return reply;
    auto challenge = reply->headers.find("www-authenticate");
    if (challenge == reply->headers.end()) return reply;
    std::string fresh;
    if (auto status = Authenticate(endpoint, repository, challenge->second, fresh); !status) {
      return Fail(status.error().Wrap(request.method + " " + request.url + ": HTTP 401"));
    }
    if (fresh == authorization) return reply;  // the same credentials again would fail again
    authorization = fresh;
    std::lock_guard lock(mu_);
    authorizations_[key] = authorization;
  }
  return Fail(ErrorCode::kInternal, "unreachable");
}

namespace {

Error StatusError(const std::string& method, const std::string& url, long status, const Bytes& body) {
  const std::string detail = RegistryErrorText(body);
  std::string message = method + " " + url + ": HTTP " + std::to_string(status);
  if (!detail.empty()) {
    message += " (" + detail + ")";
  } else if (status == 401) {
    message += " (unauthorized: check the credentials in the docker config)";
  }
  return Error{status == 404 ? ErrorCode::kNotFound : ErrorCode::kHttpStatus, message};
}

std::string ManifestAccept() {
  return "Accept: " + std::string(kOciIndex) + ", " + std::string(kOciManifest) + ", " +
         std::string(kDockerManifestList) + ", " + std::string(kDockerManifest);
}

}  // namespace

Result<std::string> RegistryClient::HeadManifest(const ImageReference& ref, std::string_view tag) {
  const Endpoint endpoint = EndpointFor(ref);
  Request request;
  request.method = "HEAD";
  request.url = endpoint.RepositoryUrl(ref.repository) + "manifests/" + std::string(tag);
  request.headers.push_back(ManifestAccept());
  request.timeout_seconds = options_.timeout_seconds;
  auto reply = PerformAuthenticated(request, endpoint, ref.repository);
  if (!reply) return Fail(reply.error());
  if (reply->status != 200) return Fail(StatusError("HEAD", request.url, reply->status, reply->body));
  auto digest = reply->headers.find("docker-content-digest");
  if (digest == reply->headers.end() || !IsSha256Digest(digest->second)) return std::string();
  return digest->second;
}

Result<Bytes> RegistryClient::GetManifest(const ImageReference& ref, std::string_view tag_or_digest,
                                          std::string* digest_out) {
  const Endpoint endpoint = EndpointFor(ref);
  Request request;
  request.url = endpoint.RepositoryUrl(ref.repository) + "manifests/" + std::string(tag_or_digest);
  request.headers.push_back(ManifestAccept());
  request.timeout_seconds = options_.timeout_seconds;
  auto reply = PerformAuthenticated(request, endpoint, ref.repository);
  if (!reply) return Fail(reply.error());
  if (reply->status != 200) return Fail(StatusError("GET", request.url, reply->status, reply->body));
  const std::string actual = DigestOf(reply->body);
  if (IsSha256Digest(tag_or_digest)) {
    if (auto status = VerifyDigest(reply->body, tag_or_digest, "GET " + request.url); !status)
      return Fail(status.error());
  } else if (auto header = reply->headers.find("docker-content-digest");
             header != reply->headers.end() && IsSha256Digest(header->second) && header->second != actual) {
    return Fail(ErrorCode::kValidationFailed, "GET " + request.url + ": the registry names digest " + header->second +
                                                  " but the manifest hashes to " + actual);
  }
  if (digest_out != nullptr) *digest_out = actual;
  return std::move(reply->body);
}

Result<Bytes> RegistryClient::GetBlob(const ImageReference& ref, std::string_view digest) {
  const Endpoint endpoint = EndpointFor(ref);
  Request request;
  request.url = endpoint.RepositoryUrl(ref.repository) + "blobs/" + std::string(digest);
  request.timeout_seconds = options_.timeout_seconds;
  auto reply = PerformAuthenticated(request, endpoint, ref.repository);
  if (!reply) return Fail(reply.error());
  if (reply->status != 200) return Fail(StatusError("GET", request.url, reply->status, reply->body));
  if (auto status = VerifyDigest(reply->body, digest, "GET " + request.url); !status) return Fail(status.error());
  return std::move(reply->body);
}

Status RegistryClient::StreamBlob(const ImageReference& ref, std::string_view digest, uint64_t max_size,
                                  const std::function<Status(ByteView)>& sink, uint64_t* bytes) {
  const Endpoint endpoint = EndpointFor(ref);
  Sha256Stream hash;
  uint64_t total = 0;
  const std::function<Status(ByteView)> hashing_sink = [&](ByteView data) -> Status {
    hash.Update(data);
    total += data.size();
    // A registry streaming more than the manifest announced is not serving this blob.
    if (total > max_size) {
      return Fail(ErrorCode::kValidationFailed,
                  "the blob is larger than the " + std::to_string(max_size) + " bytes its descriptor gives");
    }
    return sink(data);
  };
  Request request;
  request.url = endpoint.RepositoryUrl(ref.repository) + "blobs/" + std::string(digest);
  request.timeout_seconds = options_.timeout_seconds;
  request.stream = true;
  request.sink = &hashing_sink;
  auto reply = PerformAuthenticated(request, endpoint, ref.repository);
  if (bytes != nullptr) *bytes = total;
  if (!reply) return Fail(reply.error().Wrap("GET " + request.url));
  if (reply->status != 200) return Fail(StatusError("GET", request.url, reply->status, reply->body));
  const std::string actual = hash.FinishDigest();
  if (actual != digest) {
    return Fail(ErrorCode::kValidationFailed, "GET " + request.url + ": digest mismatch: expected " +
                                                  std::string(digest) + ", content hashes to " + actual);
  }
  return {};
}

}  // namespace contrast::image::internal
