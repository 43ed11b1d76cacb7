// The Initializer (DESIGN.md section 8): the first init container of every
// workload pod. It attests itself to the Coordinator's mesh API as a
// workload, receives a mesh certificate for a fresh key, and writes what the
// workload's containers need to a shared volume:
//
//   <root>/tls-config/mesh-ca.pem               0444  mesh CA certificate
//   <root>/tls-config/certChain.pem             0444  leaf, then intermediate
//   <root>/tls-config/key.pem                   0400  the leaf's key, PKCS#8 PEM
//   <root>/tls-config/coordinator-root-ca.pem   0444  Coordinator root CA
//   <root>/secrets/workload-secret-seed         0400  the workload secret, hex
//                                                     (only when the pod's
//                                                     manifest entry has a
//                                                     WorkloadSecretID)
//
// It does not attest the Coordinator (like upstream): what it receives is only
// useful together with the key it generated itself, and the workload's peers
// decide whom to trust.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "session/credentials.h"
#include "session/evidence.h"

namespace contrast::initializer {

inline constexpr uint16_t kDefaultMeshApiPort = 7777;
inline constexpr const char* kCoordinatorHostEnv = "COORDINATOR_HOST";

// COORDINATOR_HOST as a gRPC target "host:port": "host" (port 7777),
// "host:port", "[v6addr]", "[v6addr]:port" or a bare IPv6 address.
// kInvalidArgument, naming the variable and the value, when it is empty,
// holds a scheme, a path, whitespace or characters no host name has, or the
// port is not 1..65535.
Result<std::string> ParseCoordinatorHost(std::string_view value);

// "1s", "500ms", "2m", "1h" or a plain number of seconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

using Logger = std::function<void(std::string_view line)>;
// Timestamped lines on stderr.
Logger StderrLogger();

struct InitializerConfig {
  std::string coordinator;  // gRPC target "host:port" (ParseCoordinatorHost)
  std::filesystem::path root_dir = "/contrast";
  // Backoff between attempts: doubles from retry_initial up to retry_max;
  // each wait is drawn uniformly from [delay/2, delay] (jitter).
  std::chrono::milliseconds retry_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::seconds(10)};
  // Give up after this long; zero: never.
  std::chrono::milliseconds timeout{0};
  // Deadline of one attempt (bounded by what is left of `timeout`).
  std::chrono::milliseconds attempt_timeout{std::chrono::seconds(30)};
  Logger log = StderrLogger();
};

// What the Coordinator hands out, plus the key, as written to disk.
struct MeshCredentials {
  std::string mesh_ca_pem;
  std::string cert_chain_pem;  // leaf, then intermediate
  std::string private_key_pem;
  std::string root_ca_pem;
  std::string workload_secret_hex;  // 128 hex digits, or empty; secret
};

// One NewMeshCert exchange with the Coordinator at `target` over a session
// with `identity`, attesting with `issuer` as a workload. The answer is
// checked before it is accepted (it is untrusted until the workload uses it):
// one mesh CA and one root certificate, a chain of leaf and intermediate,
// the leaf for identity's key and signed by the mesh CA, a workload secret
// of 64 bytes or none (kParse, kCertificateInvalid otherwise). Other errors: those of the session
// (server errors with their code restored, e.g. kValidationFailed for a
// policy the manifest does not list; kNetwork; kTimeout).
Result<MeshCredentials> RequestMeshCredentials(const std::string& target, const session::SessionIdentity& identity,
                                               session::EvidenceIssuer& issuer, std::chrono::milliseconds deadline);

// Writes the four files under <root_dir>/tls-config and the workload secret
// under <root_dir>/secrets (directories created if needed), each atomically,
// with the modes above.
Status WriteMeshCredentials(const std::filesystem::path& root_dir, const MeshCredentials& credentials);

// The whole Initializer: a fresh session identity, RequestMeshCredentials
// until it succeeds (every failure logged with its reason, with backoff;
// rejections by the Coordinator are retried too, since the manifest may be
// updated), then WriteMeshCredentials. Fails only when `timeout` passes
// (kTimeout, with the last failure), when the issuer cannot produce evidence
// on this platform at all (kUnsupported), or when the files cannot be
// written.
Status RunInitializer(const InitializerConfig& config, session::EvidenceIssuer& issuer);

// The `contrast-initializer` program: flags and environment, then
// RunInitializer with platform::IssuerFromEnvironment(). Exit codes: 0 done,
// 1 failed, 2 usage error.
int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace contrast::initializer
