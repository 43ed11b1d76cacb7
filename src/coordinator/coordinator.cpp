#include "coordinator/coordinator.h"

#include <grpcpp/resource_quota.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "attest/evidence_verifier.h"
#include "coordinator/log.h"
#include "coordinator/manifest_updater.h"
#include "coordinator/metrics.h"
#include "coordinator/peer_recovery.h"
#include "coordinator/services.h"
#include "history/directory_store.h"
#include "observability/metrics.h"
#include "observability/probe_server.h"
#include "session/credentials.h"
#include "session/nonce.h"

#ifndef CONTRAST_COORDINATOR_VERSION
#define CONTRAST_COORDINATOR_VERSION "0.0.0"
#endif

namespace contrast::coordinator {
namespace {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "host:port", "[v6]:port" or ":port" (no host: every interface).
Result<HostPort> ParseHostPort(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "address \"" + std::string(address) + "\": expected host:port");
  }
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty() || port > 65535) {
    return Fail(ErrorCode::kInvalidArgument,
                "address \"" + std::string(address) + "\": port must be a number from 0 to 65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

// Every connection, idle or not, holds a descriptor: the soft limit (1,024
// on Debian by default) would let a few thousand idle connections stop the
// Coordinator from accepting anyone. Raising it to the hard limit needs no
// privilege.
void RaiseFileDescriptorLimit(spdlog::logger& logger) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    logger.warn("event=fd_limit_unknown error={}", LogValue(std::strerror(errno)));
    return;
  }
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      logger.warn("event=fd_limit_not_raised soft={} hard={} error={}", before, limit.rlim_max,
                  LogValue(std::strerror(errno)));
      return;
    }
  }
  logger.info("event=fd_limit soft={} was={} hard={}", limit.rlim_cur, before, limit.rlim_max);
}

observability::HttpResponse Probe(bool ok, std::string_view reason) {
  if (ok) return {200, "text/plain; charset=utf-8", "ok\n"};
  return {503, "text/plain; charset=utf-8", std::string(reason) + "\n"};
}

}  // namespace

std::string_view CoordinatorVersion() { return CONTRAST_COORDINATOR_VERSION; }

// Whether the Coordinator sees its history store: the watch's own health,
// and whether the last catch-up (Reload) could read the store. A failed
// catch-up is retried every second until one succeeds, so a store that
// answers again makes the Coordinator ready again even when nothing changes
// in it (the watch would not call again then).
class Coordinator::StoreHealth {
 public:
  void Start(Parts& parts);
  void Stop();
  ~StoreHealth() { Stop(); }
  // The watch lost (error) or regained (ok) the store.
  void WatchHealth(const Status& health);
  // Reload, and remember whether the store could be read.
  void CatchUp();
  // The store could not be read (at startup, or by a request): not ready
  // until a reload can.
  void ReadFailed(const Error& error);

 private:
  void Publish();  // with mutex_ held
  void RetryLoop();

  Parts* parts_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool watch_down_ = false;
  bool reload_failed_ = false;
  bool reported_lost_ = false;
  std::string last_error_;
  std::thread thread_;
};

// Everything the running Coordinator owns, in construction order (members
// are destroyed in reverse: servers before the services and state they use).
struct Coordinator::Parts {
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<attest::Issuer> issuer;
  observability::Registry registry;
  CoordinatorMetrics metrics{registry};
  StateGuard guard;
  std::shared_ptr<history::Store> store;
  std::optional<attest::EvidenceVerifier> verifier;  // from options.verifier
  session::NonceTracker nonces;
  std::optional<session::SessionIdentity> identity;
  std::unique_ptr<ManifestUpdater> updater;
  // Follows transitions/latest: catches up when another replica moves it,
  // and turns the Coordinator not ready while it cannot see the store.
  // (store_health before the watch: the watch's callbacks use it.)
  StoreHealth store_health;
  std::unique_ptr<history::StoreWatch> watch;
  // Before the services: their handlers hold tickets until they return.
  std::optional<session::AdmissionControl> user_admission;
  std::optional<session::AdmissionControl> mesh_admission;
  std::unique_ptr<UserApiService> user_service;
  std::unique_ptr<MeshApiService> mesh_service;
  std::unique_ptr<grpc::Server> user_server;
  std::unique_ptr<grpc::Server> mesh_server;
  std::unique_ptr<observability::ProbeServer> probe_server;
  // Last: it uses the updater, identity and store above; stopped first.
  std::unique_ptr<PeerRecovery> peer_recovery;
};

Coordinator::Coordinator(CoordinatorOptions options, std::shared_ptr<attest::Issuer> issuer)
    : options_(std::move(options)), parts_(std::make_unique<Parts>()) {
  parts_->logger = options_.logger ? options_.logger : spdlog::default_logger();
  parts_->issuer = std::move(issuer);
  parts_->verifier.emplace(options_.verifier);
}

Result<std::unique_ptr<Coordinator>> Coordinator::Start(CoordinatorOptions options,
                                                        std::shared_ptr<attest::Issuer> issuer) {
  if (!issuer) return Fail(ErrorCode::kInvalidArgument, "no evidence issuer given");
  if (!options.store && options.state_dir.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no history directory (state_dir) given");
  }
  if (options.max_threads_per_server < 2) {
    return Fail(ErrorCode::kInvalidArgument, "max_threads_per_server must be at least 2");
  }
  PeerRecoveryOptions peers;
  peers.peers = options.peers;
  peers.peers_dns = options.peers_dns;
  peers.interval = options.peer_recovery_interval;
  if (auto valid = ValidatePeerRecoveryOptions(peers); !valid) return Fail(valid.error());
  std::unique_ptr<Coordinator> coordinator(new Coordinator(std::move(options), std::move(issuer)));
  RaiseFileDescriptorLimit(*coordinator->parts_->logger);
  if (auto ok = coordinator->OpenHistory(); !ok) return Fail(ok.error());
  if (auto ok = coordinator->StartApiServers(); !ok) return Fail(ok.error());
  if (auto ok = coordinator->StartProbeServer(); !ok) return Fail(ok.error());
  if (auto ok = coordinator->StartPeerRecovery(); !ok) return Fail(ok.error());
  coordinator->serving_ = true;
  coordinator->parts_->logger->info(
      "event=coordinator_started version={} user_api_port={} mesh_api_port={} probe_port={} ready={}",
      CoordinatorVersion(), coordinator->user_api_port_, coordinator->mesh_api_port_, coordinator->probe_port_,
      coordinator->readiness().ready);
  return coordinator;
}

Status Coordinator::OpenHistory() {
  Parts& p = *parts_;
  if (options_.store) {
    p.store = options_.store;
  } else {
    auto store = history::DirectoryStore::Open(options_.state_dir);
    if (!store) return Fail(store.error().Wrap("opening the history directory"));
    p.store = std::move(*store);
  }
  auto updater = ManifestUpdater::Open(p.store, p.guard, p.metrics, p.logger);
  if (!updater) return Fail(updater.error().Wrap("opening the history"));
  p.updater = std::move(*updater);
  return WatchHistory();
}

void Coordinator::StoreHealth::Start(Parts& parts) {
  parts_ = &parts;
  thread_ = std::thread([this] { RetryLoop(); });
}

void Coordinator::StoreHealth::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Coordinator::StoreHealth::WatchHealth(const Status& health) {
  std::lock_guard lock(mutex_);
  watch_down_ = !health;
  if (!health) last_error_ = health.error().message;
  Publish();
}

void Coordinator::StoreHealth::CatchUp() {
  auto outcome = parts_->updater->Reload();
  if (!outcome && outcome.error().code == ErrorCode::kUnavailable) return ReadFailed(outcome.error());
  // Any other failure has already turned the Coordinator stale.
  if (!outcome) parts_->logger->error("event=history_reload_failed error={}", LogValue(outcome.error().message));
  std::lock_guard lock(mutex_);
  reload_failed_ = false;
  Publish();
}

void Coordinator::StoreHealth::ReadFailed(const Error& error) {
  std::lock_guard lock(mutex_);
  reload_failed_ = true;
  last_error_ = error.message;
  Publish();
}

void Coordinator::StoreHealth::Publish() {
  const bool lost = watch_down_ || reload_failed_;
  if (lost && !reported_lost_) parts_->logger->warn("event=store_unreachable error={}", LogValue(last_error_));
  if (!lost && reported_lost_) parts_->logger->info("event=store_reachable");
  reported_lost_ = lost;
  parts_->guard.SetStoreProblem(lost ? std::optional<std::string>(last_error_) : std::nullopt);
}

void Coordinator::StoreHealth::RetryLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    if (stopping_ || !reload_failed_) continue;
    lock.unlock();
    CatchUp();
    lock.lock();
  }
}

Status Coordinator::WatchHistory() {
  Parts& p = *parts_;
  p.store_health.Start(p);
  if (const auto& unreachable = p.updater->unreachable_at_open()) p.store_health.ReadFailed(*unreachable);
  p.updater->OnStoreUnreachable([&p](const Error& error) { p.store_health.ReadFailed(error); });
  history::WatchCallbacks callbacks;
  callbacks.on_value = [&p](const std::optional<Bytes>&) { p.store_health.CatchUp(); };
  callbacks.on_health = [&p](const Status& health) { p.store_health.WatchHealth(health); };
  auto watch = p.store->Watch(history::kLatestKey, std::move(callbacks));
  if (!watch) return Fail(watch.error().Wrap("watching the history store"));
  p.watch = std::move(*watch);
  return {};
}

namespace {

int Milliseconds(std::chrono::milliseconds duration) {
  return static_cast<int>(std::clamp<int64_t>(duration.count(), 0, std::numeric_limits<int>::max()));
}

// Transport limits (docs/security.md, "Starvation"): what a connection may
// hold before any handler, and so any admission check, sees it.
void ApplyConnectionLimits(grpc::ServerBuilder& builder, const ConnectionLimits& limits) {
  if (limits.max_streams_per_connection > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_streams_per_connection);
  }
  if (limits.handshake_timeout.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, Milliseconds(limits.handshake_timeout));
  }
  if (limits.max_connection_idle.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Milliseconds(limits.max_connection_idle));
  }
  if (limits.max_connection_age.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Milliseconds(limits.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, Milliseconds(limits.max_connection_age_grace));
  }
  // Keepalive: the server pings a connection silent for a minute and drops
  // it when the ping goes unanswered for 20 s (a peer that vanished without
  // a FIN); a client may ping at most every 30 s without calls, and a
  // connection that pings more often is closed after two strikes (a ping
  // flood costs the server a write each).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
}

Result<std::unique_ptr<grpc::Server>> StartServer(const std::string& address,
                                                  const std::shared_ptr<grpc::ServerCredentials>& credentials,
                                                  grpc::Service& service, int max_threads,
                                                  const ConnectionLimits& limits, uint16_t& bound_port) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, credentials, &port);
  session::ConfigureSessionServer(builder);
  // A port another process already serves must be an error, not shared.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  ApplyConnectionLimits(builder, limits);
  grpc::ResourceQuota quota("contrast-coordinator");
  quota.SetMaxThreads(max_threads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port <= 0 || port > 65535) {
    if (server) server->Shutdown();
    return Fail(ErrorCode::kIo, "cannot listen on " + address);
  }
  bound_port = static_cast<uint16_t>(port);
  return server;
}

}  // namespace

Status Coordinator::StartApiServers() {
  Parts& p = *parts_;
  auto identity = session::SessionIdentity::Generate();
  if (!identity) return Fail(identity.error().Wrap("generating the session TLS identity"));
  p.identity = std::move(*identity);
  auto credentials = session::SessionServerCredentials(*p.identity);
  if (!credentials) return Fail(credentials.error());
  auto count_refusal = [&metrics = p.metrics](std::string_view reason) {
    metrics.sessions_refused.Increment(std::string(reason));
  };
  p.user_admission.emplace(options_.admission, count_refusal);
  p.mesh_admission.emplace(options_.admission, count_refusal);

  p.user_service = std::make_unique<UserApiService>(UserApiService::Dependencies{
      *p.updater, p.guard, *p.issuer, p.identity->spki_der(), p.metrics, options_.session_options, p.logger,
      std::string(CoordinatorVersion()), *p.user_admission});
  p.mesh_service = std::make_unique<MeshApiService>(
      MeshApiService::Dependencies{p.guard, *p.verifier, p.nonces, *p.issuer, p.identity->spki_der(), p.metrics,
                                   options_.session_options, p.logger, *p.mesh_admission, p.updater.get()});
  auto user = StartServer(options_.user_api_address, *credentials, *p.user_service, options_.max_threads_per_server,
                          options_.connections, user_api_port_);
  if (!user) return Fail(user.error().Wrap("user API"));
  p.user_server = std::move(*user);
  auto mesh = StartServer(options_.mesh_api_address, *credentials, *p.mesh_service, options_.max_threads_per_server,
                          options_.connections, mesh_api_port_);
  if (!mesh) return Fail(mesh.error().Wrap("mesh API"));
  p.mesh_server = std::move(*mesh);
  return {};
}

Status Coordinator::StartProbeServer() {
  auto address = ParseHostPort(options_.probe_address);
  if (!address) return Fail(address.error().Wrap("probe server"));
  auto alive = [this] { return Probe(serving_.load(), "not serving"); };
  std::map<std::string, observability::HttpHandler> routes{
      {"/probe/startup", alive},
      {"/probe/liveness", alive},
      {"/probe/readiness",
       [this] {
         const Readiness r = readiness();
         return Probe(r.ready, r.reason);
       }},
      {"/metrics",
       [this] {
         return observability::HttpResponse{200, "text/plain; version=0.0.4", RenderMetrics()};
       }},
  };
  auto server = observability::ProbeServer::Start(address->host, address->port, std::move(routes));
  if (!server) return Fail(server.error().Wrap("probe server"));
  parts_->probe_server = std::move(*server);
  probe_port_ = parts_->probe_server->port();
  return {};
}

Status Coordinator::StartPeerRecovery() {
  Parts& p = *parts_;
  PeerRecoveryOptions options;
  options.peers = options_.peers;
  options.peers_dns = options_.peers_dns;
  options.interval = options_.peer_recovery_interval;
  options.own_mesh_api_port = mesh_api_port_;
  PeerRecovery::Dependencies dependencies{*p.updater,  p.guard,     p.store,   *p.issuer,
                                          *p.verifier, *p.identity, p.metrics, p.logger};
  auto started = PeerRecovery::Start(std::move(options), std::move(dependencies));
  if (!started) return Fail(started.error().Wrap("peer recovery"));
  p.peer_recovery = std::move(*started);
  return {};
}

Readiness Coordinator::readiness() const {
  if (!serving_.load()) return {false, "not serving"};
  return parts_->guard.readiness();
}

std::string Coordinator::RenderMetrics() const {
  parts_->metrics.ready.Set(readiness().ready ? 1 : 0);
  return parts_->registry.Render();
}

void Coordinator::Stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  serving_ = false;
  Parts& p = *parts_;
  if (p.peer_recovery) p.peer_recovery->Stop();
  p.watch.reset();
  p.store_health.Stop();
  // One deadline for both servers: the whole stop takes about
  // shutdown_timeout at most, not twice that.
  const auto deadline = std::chrono::system_clock::now() + options_.shutdown_timeout;
  if (p.user_server) p.user_server->Shutdown(deadline);
  if (p.mesh_server) p.mesh_server->Shutdown(deadline);
  if (p.user_server) p.user_server->Wait();
  if (p.mesh_server) p.mesh_server->Wait();
  p.user_server.reset();
  p.mesh_server.reset();
  if (p.probe_server) p.probe_server->Stop();
  p.probe_server.reset();
  p.metrics.ready.Set(0);
  p.logger->info("event=coordinator_stopped");
}

Coordinator::~Coordinator() { Stop(); }

}  // namespace contrast::coordinator
