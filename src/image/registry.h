// The OCI distribution client behind ImageResolver (private to the module):
// endpoints (HTTPS, plain HTTP for loopback and insecure registries,
// mirrors), authentication (bearer tokens, basic), and verified reads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "image/image.h"
#include "image/internal.h"

namespace contrast::image::internal {

struct RegistryOptions {
  std::vector<std::string> insecure_registries;
  std::map<std::string, std::string> mirrors;
  std::map<std::string, Credentials> credentials;  // by NormaliseRegistryHost
  int timeout_seconds = 60;
};

// Where the requests for a registry go.
struct Endpoint {
  std::string scheme;  // "https" or "http"
  std::string host;    // host[:port] contacted
  std::string prefix;  // path prefix of a mirror ("" or "some/prefix")
  // "<scheme>://<host>/v2/<prefix/><repository>/"
  std::string RepositoryUrl(std::string_view repository) const;
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  Endpoint EndpointFor(const ImageReference& ref) const;

  // HEAD of a manifest by tag: the digest the registry names
  // (Docker-Content-Digest), or "" when it names none.
  Result<std::string> HeadManifest(const ImageReference& ref, std::string_view tag);
  // GET of a manifest by tag or digest. A digest request is verified against
  // that digest; `digest_out` receives the digest of the bytes.
  Result<Bytes> GetManifest(const ImageReference& ref, std::string_view tag_or_digest, std::string* digest_out);
  // A blob of at most kMaxDocumentSize bytes, verified.
  Result<Bytes> GetBlob(const ImageReference& ref, std::string_view digest);
  // A blob of at most `max_size` bytes (the size its descriptor gives),
  // handed to `sink` as it arrives; verified at the end (the caller must not
  // trust what it was fed until this returns success).
  Status StreamBlob(const ImageReference& ref, std::string_view digest, uint64_t max_size,
                    const std::function<Status(ByteView)>& sink, uint64_t* bytes = nullptr);

 private:
  struct Reply;
  struct Request;
  Result<Reply> Perform(const Request& request);
  Result<Reply> PerformAuthenticated(Request request, const Endpoint& endpoint, std::string_view repository);
  Status Authenticate(const Endpoint& endpoint, std::string_view repository, const std::string& challenge_header,
                      std::string& authorization);
  void* AcquireHandle();
  void ReleaseHandle(void* handle);

  RegistryOptions options_;
  std::mutex mu_;
  std::map<std::string, std::string> authorizations_;  // host|repository → Authorization value
  std::vector<void*> idle_handles_;
};

}  // namespace contrast::image::internal
