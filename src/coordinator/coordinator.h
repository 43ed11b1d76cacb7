// The Coordinator process as a library: start it with its options and an
// evidence issuer, read the ports it bound, stop it. apps/contrast-coordinator
// only turns flags into CoordinatorOptions and waits for a signal; tests and
// the demo run it in-process the same way:
//
//   CoordinatorOptions options;
//   options.user_api_address = "127.0.0.1:0";   // port 0: any free port
//   options.mesh_api_address = "127.0.0.1:0";
//   options.probe_address = "127.0.0.1:0";
//   options.state_dir = dir / "history";
//   auto coordinator = Coordinator::Start(options, issuer);
//   ... (*coordinator)->user_api_port() ...
//   (*coordinator)->Stop();   // also done by the destructor
//
// What runs (DESIGN.md sections 5, 7, 8):
//   user API   (default :1313)  UserAPI: GetVersion, SetManifest, GetManifests,
//                               Recover
//   mesh API   (default :7777)  MeshAPI: NewMeshCert
//   probes     (default :9102)  /probe/startup, /probe/liveness,
//                               /probe/readiness, /metrics (Prometheus)
// The session TLS identity is fresh per process. Every other key comes from
// the seed drawn at the first manifest (seed/engine.h) or is sealed under it
// in the store (the mesh CA key). A Coordinator that finds a history in its
// store at startup therefore cannot continue it on its own: it starts
// awaiting recovery (not ready; SetManifest and NewMeshCert refused with
// kAwaitingRecoveryReason; GetManifests serves the stored history unsigned)
// until a seed-share owner calls Recover with the seed, or, with peers
// configured, a ready replica hands the seed over (peer_recovery.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attest/evidence.h"
#include "attest/evidence_verifier.h"
#include "common/result.h"
#include "coordinator/state.h"
#include "history/store.h"
#include "session/admission.h"
#include "session/protocol.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace contrast::coordinator {

inline constexpr uint16_t kDefaultUserApiPort = 1313;
inline constexpr uint16_t kDefaultMeshApiPort = 7777;
inline constexpr uint16_t kDefaultProbePort = 9102;

// The version GetVersion reports (the project version).
std::string_view CoordinatorVersion();

// Limits on the gRPC connections of the user and mesh API (docs/security.md,
// "Starvation"). Zero disables a limit.
struct ConnectionLimits {
  // Concurrent streams on one connection (HTTP/2 MAX_CONCURRENT_STREAMS);
  // further ones are refused by the transport before any handler runs.
  int max_streams_per_connection = 8;
  // TCP accepted to TLS done; a connection that stays silent is closed.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  // A connection without a call for this long is closed.
  std::chrono::milliseconds max_connection_idle{std::chrono::seconds(30)};
  // Every connection is closed after this long (after max_connection_age_grace
  // for calls still running); clients reconnect.
  std::chrono::milliseconds max_connection_age{std::chrono::minutes(10)};
  std::chrono::milliseconds max_connection_age_grace{std::chrono::seconds(30)};
};

struct CoordinatorOptions {
  // "host:port" (IPv6 as "[::]:1313"); port 0 picks a free port. The probe
  // address takes a numeric host or none (":9102": every interface).
  std::string user_api_address = "0.0.0.0:1313";
  std::string mesh_api_address = "0.0.0.0:7777";
  std::string probe_address = "0.0.0.0:9102";
  // The history directory (history::DirectoryStore; created if missing).
  std::filesystem::path state_dir;
  // Another history backend; when set, state_dir is ignored.
  std::shared_ptr<history::Store> store;
  // How long Stop lets running calls finish before cancelling them.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(20)};
  // Per-step bound of every session RPC (a slow or silent client).
  session::SessionOptions session_options;
  // Upper bound of handler threads per gRPC server (each in-flight session
  // RPC holds one); calls beyond it fail with RESOURCE_EXHAUSTED.
  int max_threads_per_server = 1024;
  // Admission of session RPCs, per server (each API has its own budget):
  // sessions per client address, unattested sessions, opening deadline.
  session::AdmissionLimits admission;
  // Connection limits of both gRPC servers.
  ConnectionLimits connections;
  // How workloads' evidence is verified: where VCEKs, CRLs and TDX
  // collateral come from, the fetch deadline and the cache
  // (attest/collateral_flags.h makes it from the program's flags).
  attest::EvidenceVerifierOptions verifier;
  // Where logs go; spdlog's default logger when unset.
  std::shared_ptr<spdlog::logger> logger;
  // Peer recovery (peer_recovery.h): while awaiting recovery, ask these
  // replicas' mesh APIs ("host:port") for the seed, and every address of
  // peers_dns ("NAME:PORT", a headless Service), every
  // peer_recovery_interval. Neither set: wait for `contrast recover`.
  std::vector<std::string> peers;
  std::string peers_dns;
  std::chrono::milliseconds peer_recovery_interval{std::chrono::seconds(10)};
};

class Coordinator {
 public:
  // Opens the history, makes the keys and starts the three servers. The
  // issuer produces the Coordinator's own evidence (SetManifest and
  // GetManifests attest it). Errors: kInvalidArgument (options), kIo (cannot
  // listen or open the store), kCrypto (keys).
  static Result<std::unique_ptr<Coordinator>> Start(CoordinatorOptions options, std::shared_ptr<attest::Issuer> issuer);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // The ports actually bound.
  uint16_t user_api_port() const { return user_api_port_; }
  uint16_t mesh_api_port() const { return mesh_api_port_; }
  uint16_t probe_port() const { return probe_port_; }

  // What /probe/readiness reports.
  Readiness readiness() const;
  // What /metrics serves.
  std::string RenderMetrics() const;

  // Graceful stop: refuses new calls, lets running ones finish for up to
  // shutdown_timeout, then cancels them, and stops the probe server.
  // Idempotent; joins every thread the Coordinator started.
  void Stop();

 private:
  struct Parts;
  class StoreHealth;
  explicit Coordinator(CoordinatorOptions options, std::shared_ptr<attest::Issuer> issuer);
  Status OpenHistory();
  Status WatchHistory();
  Status StartApiServers();
  Status StartProbeServer();
  Status StartPeerRecovery();

  CoordinatorOptions options_;
  std::unique_ptr<Parts> parts_;
  uint16_t user_api_port_ = 0;
  uint16_t mesh_api_port_ = 0;
  uint16_t probe_port_ = 0;
  std::atomic<bool> serving_{false};
  std::mutex stop_mutex_;
  bool stopped_ = false;
};

}  // namespace contrast::coordinator
