#include "session/admission.h"

#include <arpa/inet.h>
#include <grpcpp/server_context.h>

#include <array>
#include <atomic>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace contrast::session {

struct AdmittedSession {
  AdmissionControl* control = nullptr;
  std::string peer_key;
  const void* call = nullptr;
  std::optional<std::chrono::steady_clock::time_point> opening_deadline;
  // Set once, by the handler's thread (the protocol steps run there).
  std::atomic<bool> attested{false};
  std::atomic<bool> server_attested{false};
};

namespace {

// The tickets of running calls by their ServerContext, so that the protocol
// steps, which only see the context, find the call's opening deadline.
class CallRegistry {
 public:
  static CallRegistry& Instance() {
    static CallRegistry* const registry = new CallRegistry();  // intentionally leaked: used until exit
    return *registry;
  }

  void Add(AdmittedSession* session) {
    if (session->call == nullptr) return;
    std::lock_guard lock(mutex_);
    calls_[session->call] = session;
  }

  void Remove(const AdmittedSession* session) {
    if (session->call == nullptr) return;
    std::lock_guard lock(mutex_);
    if (auto it = calls_.find(session->call); it != calls_.end() && it->second == session) calls_.erase(it);
  }

  // Runs `fn(session)` under the lock when the call has a ticket.
  template <typename Fn>
  auto With(const grpc::ServerContext& context, Fn fn) -> decltype(fn(static_cast<AdmittedSession*>(nullptr))) {
    std::lock_guard lock(mutex_);
    const auto it = calls_.find(&context);
    return fn(it == calls_.end() ? nullptr : it->second);
  }

 private:
  std::mutex mutex_;
  std::unordered_map<const void*, AdmittedSession*> calls_;
};

std::string_view StripPrefix(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix ? text.substr(prefix.size()) : std::string_view{};
}

// "1.2.3.4:port" -> "1.2.3.4"; empty when not an IPv4 address and port.
std::string Ipv4Key(std::string_view rest) {
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return "";
  const std::string host(rest.substr(0, colon));
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1) return "";
  std::array<char, INET_ADDRSTRLEN> text{};
  if (inet_ntop(AF_INET, &address, text.data(), text.size()) == nullptr) return "";
  return text.data();
}

// "[v6]:port" (brackets possibly percent-encoded, a zone "%25eth0" or
// "%eth0" after the address) -> its /64, or the IPv4 address of an
// IPv4-mapped one; empty when malformed.
std::string Ipv6Key(std::string_view rest) {
  std::string host;
  if (auto inner = StripPrefix(rest, "["); !inner.empty()) {
    const size_t close = inner.find(']');
    if (close == std::string_view::npos) return "";
    host = std::string(inner.substr(0, close));
  } else if (auto encoded = StripPrefix(rest, "%5B"); !encoded.empty()) {
    const size_t close = encoded.find("%5D");
    if (close == std::string_view::npos) return "";
    host = std::string(encoded.substr(0, close));
  } else {
    return "";
  }
  if (const size_t zone = host.find('%'); zone != std::string::npos) host.resize(zone);
  in6_addr address{};
  if (inet_pton(AF_INET6, host.c_str(), &address) != 1) return "";
  static constexpr std::array<uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.s6_addr, kMappedPrefix.data(), kMappedPrefix.size()) == 0) {
    std::array<char, INET_ADDRSTRLEN> text{};
    if (inet_ntop(AF_INET, address.s6_addr + 12, text.data(), text.size()) == nullptr) return "";
    return text.data();
  }
  std::memset(address.s6_addr + 8, 0, 8);
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(AF_INET6, &address, text.data(), text.size()) == nullptr) return "";
  return std::string(text.data()) + "/64";
}

}  // namespace

std::string PeerKey(std::string_view grpc_peer) {
  if (auto rest = StripPrefix(grpc_peer, "ipv4:"); !rest.empty()) {
    std::string key = Ipv4Key(rest);
    return key.empty() ? "unknown" : key;
  }
  if (auto rest = StripPrefix(grpc_peer, "ipv6:"); !rest.empty()) {
    std::string key = Ipv6Key(rest);
    return key.empty() ? "unknown" : key;
  }
  if (grpc_peer.substr(0, 5) == "unix:") return "unix";
  return "unknown";
}

// ---- AdmissionTicket ---------------------------------------------------

AdmissionTicket::AdmissionTicket(std::unique_ptr<AdmittedSession> session) : session_(std::move(session)) {
  CallRegistry::Instance().Add(session_.get());
}

AdmissionTicket::AdmissionTicket(AdmissionTicket&& other) noexcept = default;

AdmissionTicket& AdmissionTicket::operator=(AdmissionTicket&& other) noexcept {
  if (this != &other) {
    Release();
    session_ = std::move(other.session_);
  }
  return *this;
}

AdmissionTicket::~AdmissionTicket() { Release(); }

void AdmissionTicket::Release() {
  if (!session_) return;
  CallRegistry::Instance().Remove(session_.get());
  session_->control->Release(*session_);
  session_.reset();
}

void AdmissionTicket::MarkAttested() {
  if (session_) session_->control->Attested(*session_);
}

bool AdmissionTicket::attested() const { return session_ && session_->attested; }

std::optional<std::chrono::steady_clock::time_point> AdmissionTicket::opening_deadline() const {
  return session_ ? session_->opening_deadline : std::nullopt;
}

// ---- AdmissionControl --------------------------------------------------

AdmissionControl::AdmissionControl(AdmissionLimits limits, RefusalObserver on_refusal)
    : limits_(limits), on_refusal_(std::move(on_refusal)) {}

AdmissionControl::~AdmissionControl() = default;

Result<AdmissionTicket> AdmissionControl::Admit(const grpc::ServerContext& context) {
  return Admit(context.peer(), &context);
}

Result<AdmissionTicket> AdmissionControl::Admit(std::string_view grpc_peer, const void* call) {
  auto session = std::make_unique<AdmittedSession>();
  session->control = this;
  session->peer_key = PeerKey(grpc_peer);
  session->call = call;
  if (limits_.opening_timeout.count() > 0) {
    session->opening_deadline = std::chrono::steady_clock::now() + limits_.opening_timeout;
  }
  std::string_view refusal;
  {
    std::lock_guard lock(mutex_);
    auto it = per_peer_.find(session->peer_key);
    const size_t of_peer = it == per_peer_.end() ? 0 : it->second;
    if (limits_.max_sessions_per_peer > 0 && of_peer >= limits_.max_sessions_per_peer) {
      refusal = kRefusedPeerLimit;
    } else if (limits_.max_unattested_sessions > 0 && unattested_ >= limits_.max_unattested_sessions) {
      refusal = kRefusedUnattestedLimit;
    } else {
      if (it == per_peer_.end()) it = per_peer_.emplace(session->peer_key, 0).first;
      ++it->second;
      ++sessions_;
      ++unattested_;
    }
  }
  if (refusal.empty()) return AdmissionTicket(std::move(session));
  Refused(refusal);  // outside the lock: the observer may take its own
  if (refusal == kRefusedPeerLimit) {
    return Fail(ErrorCode::kResourceExhausted, "too many sessions from " + session->peer_key + " (at most " +
                                                   std::to_string(limits_.max_sessions_per_peer) +
                                                   " at once); retry later");
  }
  return Fail(ErrorCode::kResourceExhausted, "too many sessions are attesting (at most " +
                                                 std::to_string(limits_.max_unattested_sessions) +
                                                 " at once); retry later");
}

void AdmissionControl::Release(AdmittedSession& session) {
  std::lock_guard lock(mutex_);
  if (!session.attested) --unattested_;
  --sessions_;
  if (auto it = per_peer_.find(session.peer_key); it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
}

void AdmissionControl::Attested(AdmittedSession& session) {
  std::lock_guard lock(mutex_);
  if (session.attested.exchange(true)) return;
  --unattested_;
}

void AdmissionControl::Refused(std::string_view reason) const {
  if (on_refusal_) on_refusal_(reason);
}

size_t AdmissionControl::sessions() const {
  std::lock_guard lock(mutex_);
  return sessions_;
}

size_t AdmissionControl::unattested() const {
  std::lock_guard lock(mutex_);
  return unattested_;
}

size_t AdmissionControl::sessions_of(std::string_view grpc_peer) const {
  std::lock_guard lock(mutex_);
  const auto it = per_peer_.find(PeerKey(grpc_peer));
  return it == per_peer_.end() ? 0 : it->second;
}

// ---- For the session protocol ------------------------------------------

std::optional<std::chrono::steady_clock::time_point> OpeningDeadlineOf(const grpc::ServerContext& context) {
  return CallRegistry::Instance().With(
      context, [](AdmittedSession* session) -> std::optional<std::chrono::steady_clock::time_point> {
        if (session == nullptr || session->attested) return std::nullopt;
        return session->opening_deadline;
      });
}

void MarkCallAttested(const grpc::ServerContext& context) {
  CallRegistry::Instance().With(context, [](AdmittedSession* session) {
    if (session != nullptr) session->control->Attested(*session);
  });
}

void NoteServerAttested(const grpc::ServerContext& context) {
  CallRegistry::Instance().With(context, [](AdmittedSession* session) {
    if (session != nullptr) session->server_attested = true;
  });
}

void NoteRequestRead(const grpc::ServerContext& context) {
  CallRegistry::Instance().With(context, [](AdmittedSession* session) {
    if (session != nullptr && session->server_attested) session->control->Attested(*session);
  });
}

void NoteOpeningTimedOut(const grpc::ServerContext& context) {
  const AdmissionControl* control =
      CallRegistry::Instance().With(context, [](AdmittedSession* session) -> const AdmissionControl* {
        return session == nullptr ? nullptr : session->control;
      });
  if (control != nullptr) control->Refused(kRefusedOpeningTimeout);
}

}  // namespace contrast::session
