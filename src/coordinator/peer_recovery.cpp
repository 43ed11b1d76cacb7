#include "coordinator/peer_recovery.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "attestation_policy/reference_values.h"
#include "contrast/meshapi.grpc.pb.h"
#include "coordinator/log.h"
#include "history/history.h"
#include "manifest/manifest.h"
#include "session/nonce.h"
#include "session/protocol.h"

namespace contrast::coordinator {
namespace {

struct HostPort {
  std::string host;  // without IPv6 brackets
  uint16_t port = 0;
};

// "host:port" or "[v6]:port", port 1-65535.
Result<HostPort> ParsePeerAddress(std::string_view address, std::string_view what) {
  const size_t colon = address.rfind(':');
  auto invalid = [&] {
    return Fail(ErrorCode::kInvalidArgument, std::string(what) + " \"" + std::string(address) +
                                                 "\": expected HOST:PORT with a port from 1 to 65535");
  };
  if (colon == std::string_view::npos || colon == 0) return invalid();
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find_first_of("[] \t/") != std::string_view::npos) return invalid();
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return invalid();
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

std::string FormatTarget(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<std::string> NumericHost(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text)) == nullptr) return std::nullopt;
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text)) == nullptr) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return std::string(text);
}

// Every address `host` resolves to, numeric, in resolver order.
Result<std::vector<std::string>> Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    return Fail(ErrorCode::kNetwork, "cannot resolve " + LogValue(host) + ": " + gai_strerror(rc));
  }
  std::vector<std::string> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addr == nullptr) continue;
    auto numeric = NumericHost(a->ai_addr);
    if (numeric && std::find(out.begin(), out.end(), *numeric) == out.end()) out.push_back(*numeric);
  }
  freeaddrinfo(found);
  return out;
}

// This host's addresses (every interface), plus the wildcard ones a
// listener on "0.0.0.0" or "[::]" answers on.
std::set<std::string> LocalAddresses() {
  std::set<std::string> out{"0.0.0.0", "::"};
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (auto numeric = NumericHost(i->ifa_addr)) out.insert(*numeric);
  }
  freeifaddrs(list);
  return out;
}

// True when `host` (a name or a numeric address) is one of `local`.
bool IsLocal(const std::string& host, const std::set<std::string>& local) {
  if (local.count(host) != 0) return true;
  auto resolved = Resolve(host);
  if (!resolved) return false;
  return std::any_of(resolved->begin(), resolved->end(), [&](const std::string& a) { return local.count(a) != 0; });
}

// What a peer must attest to: the store's latest manifest, read without a
// key (this Coordinator has none yet), every value still checked against
// the hash naming it.
Result<attest::AcceptableReferenceValues> PeerReferenceValues(history::Store& store) {
  auto latest = history::ReadLatestUnverified(store);
  if (!latest) return Fail(latest.error().Wrap("reading transitions/latest"));
  if (!latest->has_value()) return Fail(ErrorCode::kFailedPrecondition, "the history store is empty");
  auto transition = history::ReadTransition(store, (*latest)->transition_hash);
  if (!transition) return Fail(transition.error().Wrap("reading the latest transition"));
  auto bytes = history::ReadManifest(store, transition->manifest_hash);
  if (!bytes) return Fail(bytes.error().Wrap("reading the latest manifest"));
  auto manifest = manifest::ParseManifest(AsChars(*bytes));
  if (!manifest) return Fail(manifest.error().Wrap("the latest stored manifest"));
  if (manifest->CoordinatorPolicyHashes().empty()) {
    return Fail(ErrorCode::kPolicyViolation,
                "the latest stored manifest lists no policy with Role coordinator: no peer can be trusted with the "
                "seed");
  }
  return attestation_policy::CoordinatorReferenceValues(*manifest);
}

}  // namespace

Status ValidatePeerRecoveryOptions(const PeerRecoveryOptions& options) {
  for (const std::string& peer : options.peers) {
    if (auto parsed = ParsePeerAddress(peer, "peer"); !parsed) return Fail(parsed.error());
  }
  if (!options.peers_dns.empty()) {
    if (auto parsed = ParsePeerAddress(options.peers_dns, "peers DNS name"); !parsed) return Fail(parsed.error());
  }
  if (options.interval.count() <= 0)
    return Fail(ErrorCode::kInvalidArgument, "peer recovery interval must be positive");
  return {};
}

Result<std::vector<std::string>> ListPeerCandidates(const PeerRecoveryOptions& options) {
  if (auto valid = ValidatePeerRecoveryOptions(options); !valid) return Fail(valid.error());
  const std::set<std::string> local = options.own_mesh_api_port != 0 ? LocalAddresses() : std::set<std::string>{};
  std::vector<std::string> out;
  auto add = [&](const std::string& host, uint16_t port) {
    if (port == options.own_mesh_api_port && IsLocal(host, local)) return;
    std::string target = FormatTarget(host, port);
    if (std::find(out.begin(), out.end(), target) == out.end()) out.push_back(std::move(target));
  };
  for (const std::string& peer : options.peers) {
    const HostPort parsed = *ParsePeerAddress(peer, "peer");
    add(parsed.host, parsed.port);
  }
  if (!options.peers_dns.empty()) {
    const HostPort name = *ParsePeerAddress(options.peers_dns, "peers DNS name");
    auto resolved = Resolve(name.host);
    if (!resolved && out.empty()) return Fail(resolved.error());
    if (resolved) {
      for (const std::string& address : *resolved) add(address, name.port);
    }
  }
  return out;
}

struct PeerRecovery::Impl {
  PeerRecoveryOptions options;
  Dependencies d;
  session::NonceTracker nonces;  // the challenges this replica sends its peers

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  grpc::ClientContext* in_flight = nullptr;  // the session to cancel on Stop
  std::thread thread;

  Impl(PeerRecoveryOptions o, Dependencies deps) : options(std::move(o)), d(std::move(deps)) {}

  bool AwaitingRecovery() const {
    if (!d.guard.stale_reason()) return false;
    const std::shared_ptr<const State> state = d.guard.Current();
    return !state || !state->seed;
  }

  void Run() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      lock.unlock();
      if (AwaitingRecovery()) Round();
      lock.lock();
      wake.wait_for(lock, options.interval, [&] { return stopping; });
    }
  }

  void Round() {
    std::string reasons;
    auto note = [&](const std::string& peer, const Error& error) {
      if (!reasons.empty()) reasons += "; ";
      reasons += peer + ": " + error.message;
    };
    auto reference_values = PeerReferenceValues(*d.store);
    if (!reference_values) {
      d.logger->warn("event=peer_recovery_failed reason={}", LogValue(reference_values.error().message));
      return;
    }
    auto candidates = ListPeerCandidates(options);
    if (!candidates) {
      d.logger->warn("event=peer_recovery_failed reason={}", LogValue(candidates.error().message));
      return;
    }
    for (const std::string& peer : *candidates) {
      {
        std::lock_guard lock(mutex);
        if (stopping) return;
      }
      // Another path (Recover, a previous peer) may have made it ready.
      if (!AwaitingRecovery()) return;
      auto recovered = Attempt(peer, *reference_values);
      if (recovered) {
        d.metrics.peer_recovery_attempts.Increment("ok");
        d.logger->info("event=recovered_from_peer peer={} generation={} transition={}", LogValue(peer),
                       recovered->generation, HexEncode(recovered->latest_transition));
        return;
      }
      d.metrics.peer_recovery_attempts.Increment(std::string(ErrorCodeName(recovered.error().code)));
      note(peer, recovered.error());
    }
    if (candidates->empty()) reasons = "no peer to ask (every candidate is this Coordinator)";
    d.logger->warn("event=peer_recovery_failed peers={} reasons={}", candidates->size(), LogValue(reasons));
  }

  Result<RecoverOutput> Attempt(const std::string& peer, const attest::AcceptableReferenceValues& reference_values) {
    auto channel = session::CreateSessionChannel(peer, d.identity);
    if (!channel) return Fail(channel.error());
    std::unique_ptr<v1::MeshAPI::Stub> stub = v1::MeshAPI::NewStub(*channel);
    v1::PeerRecoverResponse response;
    {
      session::ClientSession call([&](grpc::ClientContext* c) { return stub->RecoverPeer(c); },
                                  options.session_deadline);
      if (!Register(call.context())) return Fail(ErrorCode::kUnavailable, "stopping");
      auto exchanged = Exchange(call, reference_values, response);
      Unregister();
      if (!exchanged) {
        OPENSSL_cleanse(response.mutable_seed()->data(), response.seed().size());
        return Fail(exchanged.error());
      }
    }
    std::optional<history::TransitionHash> peer_latest;
    if (response.latest_transition().size() == sizeof(history::TransitionHash)) {
      peer_latest.emplace();
      std::copy(response.latest_transition().begin(), response.latest_transition().end(), peer_latest->begin());
    } else if (!response.latest_transition().empty()) {
      OPENSSL_cleanse(response.mutable_seed()->data(), response.seed().size());
      return Fail(ErrorCode::kParse, "the peer sent a latest transition of " +
                                         std::to_string(response.latest_transition().size()) + " bytes, not 32");
    }
    auto recovered = d.updater.RecoverFromPeer(AsBytes(response.seed()), AsBytes(response.salt()), peer_latest);
    OPENSSL_cleanse(response.mutable_seed()->data(), response.seed().size());
    if (!recovered) return Fail(recovered.error().Wrap("recovering with the peer's seed"));
    return recovered;
  }

  Status Exchange(session::ClientSession& call, const attest::AcceptableReferenceValues& reference_values,
                  v1::PeerRecoverResponse& response) {
    if (auto sent = call.Send(v1::PeerRecoverRequest{}); !sent) return sent;
    if (auto attested = call.AttestSelf(session::Role::kCoordinator, d.issuer, d.identity.spki_der()); !attested) {
      return attested;
    }
    // A peer that is not a Coordinator of the stored manifest gets the call
    // cancelled here: its answer is never read.
    if (auto peer = call.AttestPeer(session::Role::kCoordinator, d.verifier, reference_values, nonces); !peer) {
      // The peer may have ended the call before (it refused this replica):
      // its status (session::FromGrpcStatus, "server: ...") is the reason.
      if (peer.error().message.rfind("server: ", 0) == 0) return Fail(peer.error());
      return Fail(peer.error().Wrap("the peer is not a Coordinator of the stored manifest"));
    }
    if (auto received = call.Receive(&response); !received) return received;
    return call.Finish();
  }

  bool Register(grpc::ClientContext& context) {
    std::lock_guard lock(mutex);
    if (stopping) return false;
    in_flight = &context;
    return true;
  }
  void Unregister() {
    std::lock_guard lock(mutex);
    in_flight = nullptr;
  }

  void Stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
      if (in_flight != nullptr) in_flight->TryCancel();
    }
    wake.notify_all();
    if (thread.joinable()) thread.join();
  }
};

Result<std::unique_ptr<PeerRecovery>> PeerRecovery::Start(PeerRecoveryOptions options, Dependencies dependencies) {
  if (auto valid = ValidatePeerRecoveryOptions(options); !valid) return Fail(valid.error());
  const bool has_peers = !options.peers.empty() || !options.peers_dns.empty();
  auto impl = std::make_unique<Impl>(std::move(options), std::move(dependencies));
  if (has_peers) {
    impl->d.logger->info("event=peer_recovery_enabled peers={} peers_dns={} interval_ms={}", impl->options.peers.size(),
                         LogValue(impl->options.peers_dns), impl->options.interval.count());
    impl->thread = std::thread([raw = impl.get()] { raw->Run(); });
  }
  return std::unique_ptr<PeerRecovery>(new PeerRecovery(std::move(impl)));
}

PeerRecovery::PeerRecovery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerRecovery::~PeerRecovery() { Stop(); }

void PeerRecovery::Stop() { impl_->Stop(); }

}  // namespace contrast::coordinator
