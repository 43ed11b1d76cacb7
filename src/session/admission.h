// Admission of session RPCs on a server: who may start a session now, and how
// long a session may take to open. Every session handler takes a ticket as
// its first act; a refusal is cheap (no crypto, no frame read) and the call
// ends at once with RESOURCE_EXHAUSTED.
//
//   auto ticket = admission.Admit(*context);
//   if (!ticket) return session::ToGrpcStatus(ticket.error());
//   ... the session (protocol.h) ...            // ticket released on return
//
// What it bounds (docs/security.md, "Starvation"):
//   - sessions per peer: one client address (an IPv4 address, or an IPv6 /64,
//     which one host usually owns whole) holds at most max_sessions_per_peer
//     sessions at once, so a few hosts cannot take every handler thread;
//   - unattested sessions: at most max_unattested_sessions sessions are still
//     opening at once, in all; this also keeps the outstanding challenge
//     nonces (nonce.h) far below the NonceTracker's capacity;
//   - the opening: an admitted session must finish opening within
//     opening_timeout of its admission, not within the 30 s each later step
//     gets, so an idle or trickling client frees its thread in seconds.
//
// "Opening" ends when the session is attested: on the mesh API when the
// workload's evidence has been verified (AttestPeerOnServer); on the user
// API, where the Coordinator attests itself to an anonymous client, when the
// request has been read after the Coordinator's evidence went out
// (AttestSelfOnServer, then ReadMessage). protocol.cpp reports both through
// the functions at the end of this header; the server steps of an opening
// session are cut off at its opening deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace grpc {
class ServerContext;
}  // namespace grpc

namespace contrast::session {

struct AdmissionLimits {
  // Sessions (opening or attested) one peer may hold at once. Zero: no limit.
  size_t max_sessions_per_peer = 32;
  // Sessions still opening, over all peers. Zero: no limit.
  size_t max_unattested_sessions = 768;
  // From admission until the session must be attested (request and evidence
  // in). Zero: no bound beyond each step's own timeout.
  std::chrono::milliseconds opening_timeout{std::chrono::seconds(5)};
};

// Why a session was refused or cut off: the label of the refusal metric.
inline constexpr std::string_view kRefusedPeerLimit = "peer-limit";
inline constexpr std::string_view kRefusedUnattestedLimit = "unattested-limit";
inline constexpr std::string_view kRefusedOpeningTimeout = "opening-timeout";

// The key a peer's sessions are counted under, from grpc::ServerContext::
// peer(): "ipv4:10.0.0.7:41234" -> "10.0.0.7"; "ipv6:[2001:db8::5]:443" and
// "ipv6:%5B2001:db8::5%5D:443" -> "2001:db8::/64"; an IPv4-mapped IPv6
// address counts as the IPv4 address; "unix:..." -> "unix". Anything else
// (malformed, unknown scheme) -> "unknown": peers that cannot be told apart
// share one budget rather than each getting their own.
std::string PeerKey(std::string_view grpc_peer);

class AdmissionControl;
struct AdmittedSession;

// One admitted session; releases its place when destroyed. Move-only.
class AdmissionTicket {
 public:
  AdmissionTicket(AdmissionTicket&& other) noexcept;
  AdmissionTicket& operator=(AdmissionTicket&& other) noexcept;
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;
  ~AdmissionTicket();

  // The session is attested: it leaves the unattested count and its opening
  // deadline no longer applies. Idempotent. (protocol.cpp calls
  // MarkCallAttested instead; this is for callers that hold the ticket.)
  void MarkAttested();
  bool attested() const;
  // When the opening must be done; nullopt when opening_timeout is zero.
  std::optional<std::chrono::steady_clock::time_point> opening_deadline() const;

 private:
  friend class AdmissionControl;
  explicit AdmissionTicket(std::unique_ptr<AdmittedSession> session);
  void Release();
  std::unique_ptr<AdmittedSession> session_;
};

// Thread-safe. Must outlive every ticket it hands out (the Coordinator keeps
// it beside the server whose handlers take them).
class AdmissionControl {
 public:
  // Called once per refusal with its reason (kRefused*), outside any lock.
  using RefusalObserver = std::function<void(std::string_view reason)>;

  explicit AdmissionControl(AdmissionLimits limits = {}, RefusalObserver on_refusal = {});
  ~AdmissionControl();
  AdmissionControl(const AdmissionControl&) = delete;
  AdmissionControl& operator=(const AdmissionControl&) = delete;

  // Admits the call of `context` (peer from context.peer()), or refuses with
  // kResourceExhausted naming the limit. The ticket ties the call's server
  // steps to its opening deadline (protocol.cpp finds it by `context`).
  Result<AdmissionTicket> Admit(const grpc::ServerContext& context);
  // The same for a peer string and a call identity (tests; nullptr: a call
  // the protocol steps do not know).
  Result<AdmissionTicket> Admit(std::string_view grpc_peer, const void* call);

  size_t sessions() const;
  size_t unattested() const;
  size_t sessions_of(std::string_view grpc_peer) const;
  const AdmissionLimits& limits() const { return limits_; }

 private:
  friend class AdmissionTicket;
  void Release(AdmittedSession& session);
  void Attested(AdmittedSession& session);
  void Refused(std::string_view reason) const;

  AdmissionLimits limits_;
  RefusalObserver on_refusal_;
  mutable std::mutex mutex_;
  size_t sessions_ = 0;
  size_t unattested_ = 0;
  std::map<std::string, size_t, std::less<>> per_peer_;

  // The protocol hooks below move a call's session along.
  friend void MarkCallAttested(const grpc::ServerContext& context);
  friend void NoteRequestRead(const grpc::ServerContext& context);
  friend void NoteOpeningTimedOut(const grpc::ServerContext& context);
};

// ---- For the session protocol (protocol.cpp) ---------------------------
// A call's server steps find its ticket through its ServerContext. Calls
// without a ticket (handlers that take none) behave as before: each step
// only has its own timeout.

// The opening deadline of the call, while it is still opening.
std::optional<std::chrono::steady_clock::time_point> OpeningDeadlineOf(const grpc::ServerContext& context);
// The call's peer was attested (mesh API: its evidence verified).
void MarkCallAttested(const grpc::ServerContext& context);
// The server attested itself in this call (user API); the next request read
// ends the opening (NoteRequestRead).
void NoteServerAttested(const grpc::ServerContext& context);
void NoteRequestRead(const grpc::ServerContext& context);
// A step of the call was cut off by the opening deadline: counted as a
// refusal with reason kRefusedOpeningTimeout.
void NoteOpeningTimedOut(const grpc::ServerContext& context);

}  // namespace contrast::session
