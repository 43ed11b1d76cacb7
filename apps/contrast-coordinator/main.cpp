// contrast-coordinator: flags (each also an environment variable) become
// CoordinatorOptions; the Coordinator runs until SIGTERM or SIGINT, then stops
// gracefully and the process exits 0.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "attest/collateral_flags.h"
#include "attest/detect.h"
#include "common/files.h"
#include "coordinator/coordinator.h"
#include "coordinator/log.h"
#include "history/etcd_store.h"
#include "history/store_url.h"

namespace {

using contrast::coordinator::CoordinatorOptions;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;

struct Flags {
  CoordinatorOptions options;
  std::string state_dir = "/var/lib/contrast/history";
  // The history backend (history/store_url.h) and, for etcd, the TLS files.
  std::string store = "dir";
  std::string etcd_ca, etcd_cert, etcd_key;
  std::string log_level = "info";
  std::string tsm_dir;  // empty: CONTRAST_TSM_DIR, else detected
  // Where the verifier's collateral comes from (attest/collateral_flags.h).
  contrast::attest::CollateralFlags collateral;
  int shutdown_timeout_seconds = 20;
  // Admission and connection limits (docs/security.md, "Starvation").
  int evidence_timeout_seconds = 5;
  int handshake_timeout_seconds = 10;
  int max_connection_idle_seconds = 30;
  // Peer recovery (coordinator/peer_recovery.h).
  int peer_recovery_interval_seconds = 10;
};

// Each API server (user, mesh) applies these on its own.
void AddLimitFlags(CLI::App& app, Flags& flags) {
  contrast::session::AdmissionLimits& admission = flags.options.admission;
  contrast::coordinator::ConnectionLimits& connections = flags.options.connections;
  app.add_option("--max-sessions-per-peer", admission.max_sessions_per_peer,
                 "Session calls one client address (IPv4 address or IPv6 /64) may hold at once; 0: no limit")
      ->envname("CONTRAST_MAX_SESSIONS_PER_PEER")
      ->capture_default_str();
  app.add_option("--max-unattested-sessions", admission.max_unattested_sessions,
                 "Session calls that may be waiting for their request and evidence at once, over all clients; "
                 "0: no limit")
      ->envname("CONTRAST_MAX_UNATTESTED_SESSIONS")
      ->capture_default_str();
  app.add_option("--evidence-timeout", flags.evidence_timeout_seconds,
                 "Seconds from a session call's start until its request and evidence must have arrived; later "
                 "steps get 30 s each; 0: no such bound")
      ->envname("CONTRAST_EVIDENCE_TIMEOUT")
      ->check(CLI::Range(0, 300))
      ->capture_default_str();
  app.add_option("--handshake-timeout", flags.handshake_timeout_seconds,
                 "Seconds a new connection has to complete its TLS handshake; 0: gRPC's default (120)")
      ->envname("CONTRAST_HANDSHAKE_TIMEOUT")
      ->check(CLI::Range(0, 300))
      ->capture_default_str();
  app.add_option("--max-connection-idle", flags.max_connection_idle_seconds,
                 "Seconds a connection may stay without a call before it is closed; 0: no limit")
      ->envname("CONTRAST_MAX_CONNECTION_IDLE")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  app.add_option("--max-streams-per-connection", connections.max_streams_per_connection,
                 "Concurrent calls on one connection; 0: gRPC's default (unlimited)")
      ->envname("CONTRAST_MAX_STREAMS_PER_CONNECTION")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--max-threads", flags.options.max_threads_per_server,
                 "Handler threads per API server; calls beyond them are refused")
      ->envname("CONTRAST_MAX_THREADS")
      ->check(CLI::Range(2, 65536))
      ->capture_default_str();
}

// Replicas awaiting recovery ask these for the seed (docs/ha.md).
void AddPeerFlags(CLI::App& app, Flags& flags) {
  app.add_option("--peers", flags.options.peers,
                 "Mesh API addresses (HOST:PORT) of other Coordinator replicas to recover the seed from after a "
                 "restart")
      ->envname("CONTRAST_PEERS")
      ->delimiter(',');
  app.add_option("--peers-dns", flags.options.peers_dns,
                 "NAME:PORT: every address NAME resolves to (a headless Service) is a replica to recover from")
      ->envname("CONTRAST_PEERS_DNS");
  app.add_option("--peer-recovery-interval", flags.peer_recovery_interval_seconds,
                 "Seconds between peer recovery rounds while awaiting recovery")
      ->envname("CONTRAST_PEER_RECOVERY_INTERVAL")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

void AddFlags(CLI::App& app, Flags& flags) {
  app.add_option("--user-api-address", flags.options.user_api_address, "Listen address of the user API (host:port)")
      ->envname("CONTRAST_USER_API_ADDRESS")
      ->capture_default_str();
  app.add_option("--mesh-api-address", flags.options.mesh_api_address, "Listen address of the mesh API (host:port)")
      ->envname("CONTRAST_MESH_API_ADDRESS")
      ->capture_default_str();
  app.add_option("--probe-address", flags.options.probe_address,
                 "Listen address of the probes and /metrics (numeric host:port)")
      ->envname("CONTRAST_PROBE_ADDRESS")
      ->capture_default_str();
  app.add_option("--state-dir", flags.state_dir, "Directory of the manifest history (created if missing)")
      ->envname("CONTRAST_STATE_DIR")
      ->capture_default_str();
  app.add_option("--store", flags.store,
                 "Manifest history backend: \"dir\" (--state-dir) or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] "
                 "(an etcd v3 cluster shared by all replicas; keys under PREFIX, default /contrast/; --state-dir then "
                 "only keeps the collateral cache)")
      ->envname("CONTRAST_STORE")
      ->capture_default_str();
  app.add_option("--etcd-ca", flags.etcd_ca,
                 "PEM file: the CA of the etcd members' certificates. With --etcd-cert and --etcd-key; without all "
                 "three, etcd is spoken to in plaintext (only sensible on loopback)")
      ->envname("CONTRAST_ETCD_CA");
  app.add_option("--etcd-cert", flags.etcd_cert, "PEM file: the client certificate for etcd (--client-cert-auth)")
      ->envname("CONTRAST_ETCD_CERT");
  app.add_option("--etcd-key", flags.etcd_key, "PEM file: the private key of --etcd-cert")
      ->envname("CONTRAST_ETCD_KEY");
  app.add_option("--log-level", flags.log_level, "Log level")
      ->envname("CONTRAST_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--shutdown-timeout", flags.shutdown_timeout_seconds,
                 "Seconds running calls may take to finish after SIGTERM/SIGINT")
      ->envname("CONTRAST_SHUTDOWN_TIMEOUT")
      ->check(CLI::Range(0, 300))
      ->capture_default_str();
  app.add_option("--tsm-dir", flags.tsm_dir,
                 "configfs-tsm root to take evidence from (default: $CONTRAST_TSM_DIR, else detected: "
                 "/sys/kernel/config/tsm, /dev/sev-guest, `contrast emulate run`)");
  contrast::attest::AddCollateralFlags(app, flags.collateral, "<state-dir>/collateral");
  AddLimitFlags(app, flags);
  AddPeerFlags(app, flags);
}

// --store and the --etcd-* files: an EtcdStore in options.store, or nothing
// for the directory store.
contrast::Status ConfigureStore(Flags& flags) {
  using contrast::ErrorCode;
  using contrast::Fail;
  auto location = contrast::history::ParseStoreUrl(flags.store);
  if (!location) return Fail(location.error());
  const int tls_files = !flags.etcd_ca.empty() + !flags.etcd_cert.empty() + !flags.etcd_key.empty();
  if (location->kind == contrast::history::StoreLocation::Kind::kDirectory) {
    if (tls_files != 0) {
      return Fail(ErrorCode::kInvalidArgument, "--etcd-ca/--etcd-cert/--etcd-key need --store etcd://...");
    }
    return {};
  }
  if (tls_files != 0 && tls_files != 3) {
    return Fail(ErrorCode::kInvalidArgument,
                "--etcd-ca, --etcd-cert and --etcd-key go together: give all three or none");
  }
  contrast::history::EtcdStoreOptions options;
  options.endpoints = location->endpoints;
  options.prefix = location->prefix;
  if (tls_files == 3) {
    contrast::history::EtcdTlsOptions tls;
    const std::pair<const std::string*, std::string*> files[] = {{&flags.etcd_ca, &tls.ca_pem},
                                                                 {&flags.etcd_cert, &tls.client_cert_pem},
                                                                 {&flags.etcd_key, &tls.client_key_pem}};
    for (const auto& [path, pem] : files) {
      auto bytes = contrast::ReadFile(*path, 1024 * 1024);
      if (!bytes) return Fail(bytes.error().Wrap("reading " + *path));
      pem->assign(bytes->begin(), bytes->end());
    }
    options.tls = std::move(tls);
  }
  auto store = contrast::history::EtcdStore::Open(std::move(options));
  if (!store) return Fail(store.error());
  flags.options.store = std::move(*store);
  return {};
}

// One line per event on stderr, UTC timestamps, key=value messages.
std::shared_ptr<spdlog::logger> MakeLogger(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("coordinator");
  logger->set_pattern("time=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return logger;
}

int Run(Flags& flags, const sigset_t& stop_signals) {
  auto logger = MakeLogger(flags.log_level);
  flags.options.state_dir = flags.state_dir;
  if (auto store = ConfigureStore(flags); !store) {
    logger->critical("event=startup_failed error={}", contrast::coordinator::LogValue(store.error().message));
    return kExitFailure;
  }
  if (flags.options.store) logger->info("event=history_store store={}", contrast::coordinator::LogValue(flags.store));
  flags.options.shutdown_timeout = std::chrono::seconds(flags.shutdown_timeout_seconds);
  flags.options.admission.opening_timeout = std::chrono::seconds(flags.evidence_timeout_seconds);
  flags.options.connections.handshake_timeout = std::chrono::seconds(flags.handshake_timeout_seconds);
  flags.options.connections.max_connection_idle = std::chrono::seconds(flags.max_connection_idle_seconds);
  flags.options.logger = logger;
  flags.options.peer_recovery_interval = std::chrono::seconds(flags.peer_recovery_interval_seconds);

  // The cache lives with the history: both persist across restarts.
  auto verifier =
      contrast::attest::VerifierOptionsFrom(flags.collateral, std::filesystem::path(flags.state_dir) / "collateral");
  if (!verifier) {
    logger->critical("event=startup_failed error={}", contrast::coordinator::LogValue(verifier.error().message));
    return kExitFailure;
  }
  flags.options.verifier = std::move(*verifier);
  logger->info("event=collateral {}", contrast::attest::DescribeCollateral(flags.options.verifier));

  contrast::attest::DetectOptions detect;
  detect.tsm_dir = flags.tsm_dir;
  auto issuer = contrast::attest::DetectIssuer(detect);
  if (!issuer) {
    logger->critical("event=startup_failed error={}", contrast::coordinator::LogValue(issuer.error().message));
    return kExitFailure;
  }
  logger->info("event=evidence_issuer issuer={}", contrast::coordinator::LogValue(issuer->description));
  auto coordinator = contrast::coordinator::Coordinator::Start(
      flags.options, std::shared_ptr<contrast::attest::Issuer>(std::move(issuer->issuer)));
  if (!coordinator) {
    logger->critical("event=startup_failed error={}", contrast::coordinator::LogValue(coordinator.error().message));
    return kExitFailure;
  }
  int received = 0;
  while (sigwait(&stop_signals, &received) != 0) {
  }
  logger->info("event=shutdown signal={}", received == SIGTERM ? "SIGTERM" : "SIGINT");
  (*coordinator)->Stop();
  logger->flush();
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any thread exists, so every thread inherits the mask and
  // only the sigwait in Run receives the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CLI::App app{"contrast-coordinator: attestation service and certificate authority of a Contrast deployment",
               "contrast-coordinator"};
  app.set_version_flag("--version", "contrast-coordinator " + std::string(contrast::coordinator::CoordinatorVersion()));
  Flags flags;
  AddFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return Run(flags, stop_signals);
}
