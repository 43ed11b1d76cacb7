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
// Before it accepts anything from the Coordinator it attests it in the same
// session (DESIGN.md section 5): the Coordinator's evidence (role
// "coordinator") must carry one of the expected policy digests as HOST_DATA
// and match the expected reference values (expected_coordinator.h). The
// order keeps refusing cheap for the Coordinator: the Initializer proves
// itself first, and only then asks the Coordinator for its evidence.
//
//   request -> workload evidence -> Coordinator's evidence -> response
//
// A Coordinator that fails is refused with the reason (policy digest got and
// expected, or the reference value that failed) and the Initializer tries
// again until its timeout: a fake one on the path may be transient.
// Without an expected identity (a hand-added Initializer, as in the 2024
// README) it still runs the evidence step but accepts whatever answers,
// warning loudly that the Coordinator was NOT attested.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "attest/evidence.h"
#include "attest/evidence_verifier.h"
#include "common/result.h"
#include "initializer/expected_coordinator.h"
#include "session/credentials.h"

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
  // Whom to accept as the Coordinator; nullopt: anyone (NOT attested, with
  // a loud warning).
  std::optional<ExpectedCoordinator> expected_coordinator;
  // Where the verifier of the Coordinator's evidence gets collateral (KDS,
  // PCS or a proxy; attest/collateral_flags.h).
  attest::EvidenceVerifierOptions verifier;
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
// with `identity`: attests with `issuer` as a workload, then attests the
// Coordinator against `expected_coordinator` (nullptr: its evidence is read
// but not checked), and only then reads the answer. A Coordinator that
// fails is an error with the verifier's code (kValidationFailed for a
// HOST_DATA not expected, kUntrustedRoot, kMeasurementMismatch, ...) whose
// message starts with "the Coordinator at <target> failed attestation". The
// answer is checked before it is accepted (it is untrusted until the
// workload uses it):
// one mesh CA and one root certificate, a chain of leaf and intermediate,
// the leaf for identity's key and signed by the mesh CA, a workload secret
// of 64 bytes or none (kParse, kCertificateInvalid otherwise). Other errors: those of the session
// (server errors with their code restored, e.g. kValidationFailed for a
// policy the manifest does not list; kNetwork; kTimeout).
Result<MeshCredentials> RequestMeshCredentials(const std::string& target, const session::SessionIdentity& identity,
                                               attest::Issuer& issuer, const ExpectedCoordinator* expected_coordinator,
                                               std::chrono::milliseconds deadline);

// Writes the four files under <root_dir>/tls-config and the workload secret
// under <root_dir>/secrets (directories created if needed), each atomically,
// with the modes above.
Status WriteMeshCredentials(const std::filesystem::path& root_dir, const MeshCredentials& credentials);

// The whole Initializer: a fresh session identity, RequestMeshCredentials
// until it succeeds (every failure logged with its reason, with backoff;
// rejections by the Coordinator are retried too, since the manifest may be
// updated, and so is a Coordinator that fails attestation, since a fake one
// on the path may go away), then WriteMeshCredentials. Fails only when `timeout` passes
// (kTimeout, with the last failure), when the issuer cannot produce evidence
// on this platform at all (kUnsupported), or when the files cannot be
// written.
Status RunInitializer(const InitializerConfig& config, attest::Issuer& issuer);

// The `contrast-initializer` program: flags and environment, then
// RunInitializer with the issuer attest::DetectIssuer finds. Exit codes: 0 done,
// 1 failed, 2 usage error.
int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace contrast::initializer
