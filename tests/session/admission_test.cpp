#include "session/admission.h"

#include <grpcpp/server_context.h>

#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace contrast::session {
namespace {

using ::testing::HasSubstr;

TEST(PeerKey, ParsesWhatGrpcReports) {
  EXPECT_EQ(PeerKey("ipv4:10.0.0.7:41234"), "10.0.0.7");
  EXPECT_EQ(PeerKey("ipv4:127.0.0.2:1"), "127.0.0.2");
  // Every address of one IPv6 /64 is one peer: a host usually owns the whole
  // /64 and could otherwise open sessions from 2^64 addresses.
  EXPECT_EQ(PeerKey("ipv6:[2001:db8::5]:443"), "2001:db8::/64");
  EXPECT_EQ(PeerKey("ipv6:[2001:db8:0:0:ffff:1:2:3]:443"), "2001:db8::/64");
  EXPECT_EQ(PeerKey("ipv6:[2001:db8:0:1::5]:443"), "2001:db8:0:1::/64");
  EXPECT_EQ(PeerKey("ipv6:%5B2001:db8::5%5D:443"), "2001:db8::/64");  // newer gRPC percent-encodes
  EXPECT_EQ(PeerKey("ipv6:[fe80::1%25eth0]:443"), "fe80::/64");
  EXPECT_EQ(PeerKey("ipv6:[::1]:5000"), "::/64");
  // An IPv4 client of a dual-stack listener is its IPv4 address.
  EXPECT_EQ(PeerKey("ipv6:[::ffff:192.0.2.1]:5000"), "192.0.2.1");
  EXPECT_EQ(PeerKey("unix:/run/contrast.sock"), "unix");
}

TEST(PeerKey, MalformedPeersShareOneKey) {
  for (const char* peer : {"", "ipv4:", "ipv4:1.2.3.4", "ipv4:999.1.1.1:80", "ipv4:1.2.3.4.5:80", "ipv6:::1:80",
                           "ipv6:[::1:80", "ipv6:[zz::1]:80", "ipv6:%5B::1:80", "vsock:3:1024", "garbage"}) {
    EXPECT_EQ(PeerKey(peer), "unknown") << peer;
  }
}

struct Refusals {
  std::map<std::string, int> by_reason;
  AdmissionControl::RefusalObserver Observer() {
    return [this](std::string_view reason) { ++by_reason[std::string(reason)]; };
  }
};

TEST(AdmissionControl, LimitsSessionsPerPeer) {
  Refusals refusals;
  AdmissionControl admission({.max_sessions_per_peer = 2, .max_unattested_sessions = 0}, refusals.Observer());
  auto a = admission.Admit("ipv4:127.0.0.2:1000", nullptr);
  auto b = admission.Admit("ipv4:127.0.0.2:1001", nullptr);
  ASSERT_TRUE(a && b);
  auto c = admission.Admit("ipv4:127.0.0.2:1002", nullptr);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kResourceExhausted);
  EXPECT_THAT(c.error().message, HasSubstr("too many sessions from 127.0.0.2 (at most 2 at once)"));
  // Other peers are not affected.
  EXPECT_TRUE(admission.Admit("ipv4:127.0.0.1:1000", nullptr));
  EXPECT_EQ(admission.sessions_of("ipv4:127.0.0.2:9"), 2u);
  // An attested session still counts against its peer.
  a->MarkAttested();
  EXPECT_FALSE(admission.Admit("ipv4:127.0.0.2:1003", nullptr));
  // A finished one does not.
  { auto done = std::move(*b); }
  EXPECT_TRUE(admission.Admit("ipv4:127.0.0.2:1004", nullptr));
  EXPECT_EQ(refusals.by_reason, (std::map<std::string, int>{{"peer-limit", 2}}));
}

TEST(AdmissionControl, CapsUnattestedSessionsOverAllPeers) {
  Refusals refusals;
  AdmissionControl admission({.max_sessions_per_peer = 0, .max_unattested_sessions = 3}, refusals.Observer());
  std::vector<AdmissionTicket> tickets;
  for (int i = 0; i < 3; ++i) {
    auto ticket = admission.Admit("ipv4:10.0.0." + std::to_string(i + 1) + ":5", nullptr);
    ASSERT_TRUE(ticket);
    tickets.push_back(std::move(*ticket));
  }
  auto refused = admission.Admit("ipv4:10.0.0.9:5", nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_THAT(refused.error().message, HasSubstr("too many sessions are attesting (at most 3 at once)"));
  // Attestation frees the place for the next newcomer; the attested session
  // goes on.
  tickets[0].MarkAttested();
  tickets[0].MarkAttested();  // idempotent
  EXPECT_TRUE(tickets[0].attested());
  EXPECT_EQ(admission.unattested(), 2u);
  EXPECT_EQ(admission.sessions(), 3u);
  auto next = admission.Admit("ipv4:10.0.0.9:5", nullptr);
  ASSERT_TRUE(next);
  EXPECT_FALSE(admission.Admit("ipv4:10.0.0.10:5", nullptr));
  EXPECT_EQ(refusals.by_reason, (std::map<std::string, int>{{"unattested-limit", 2}}));
}

TEST(AdmissionControl, TicketsReleaseTheirPlaceOnceWhenDestroyedOrMoved) {
  AdmissionControl admission({.max_sessions_per_peer = 1, .max_unattested_sessions = 1});
  {
    auto ticket = admission.Admit("ipv4:10.0.0.1:5", nullptr);
    ASSERT_TRUE(ticket);
    AdmissionTicket moved = std::move(*ticket);
    AdmissionTicket again = std::move(moved);
    EXPECT_EQ(admission.sessions(), 1u);
    EXPECT_EQ(admission.unattested(), 1u);
  }
  EXPECT_EQ(admission.sessions(), 0u);
  EXPECT_EQ(admission.unattested(), 0u);
  EXPECT_EQ(admission.sessions_of("ipv4:10.0.0.1:6"), 0u);
  // Move-assigning over a held ticket releases the one it held.
  auto first = admission.Admit("ipv4:10.0.0.1:5", nullptr);
  ASSERT_TRUE(first);
  first->MarkAttested();
  auto second = admission.Admit("ipv4:10.0.0.2:5", nullptr);
  ASSERT_TRUE(second);
  *first = std::move(*second);
  EXPECT_EQ(admission.sessions(), 1u);
  EXPECT_EQ(admission.unattested(), 1u);
  EXPECT_EQ(admission.sessions_of("ipv4:10.0.0.1:6"), 0u);
}

TEST(AdmissionControl, ZeroMeansUnlimited) {
  AdmissionControl admission({.max_sessions_per_peer = 0, .max_unattested_sessions = 0, .opening_timeout = {}});
  std::vector<AdmissionTicket> tickets;
  for (int i = 0; i < 1000; ++i) {
    auto ticket = admission.Admit("ipv4:10.0.0.1:5", nullptr);
    ASSERT_TRUE(ticket);
    EXPECT_FALSE(ticket->opening_deadline());
    tickets.push_back(std::move(*ticket));
  }
}

TEST(AdmissionControl, TheProtocolFindsTheCallsOpeningDeadline) {
  Refusals refusals;
  AdmissionControl admission({.opening_timeout = std::chrono::seconds(5)}, refusals.Observer());
  grpc::ServerContext mesh_call;
  grpc::ServerContext user_call;
  grpc::ServerContext unadmitted;
  const auto before = std::chrono::steady_clock::now();
  {
    auto mesh = admission.Admit("ipv4:10.0.0.1:5", &mesh_call);
    auto user = admission.Admit("ipv4:10.0.0.1:6", &user_call);
    ASSERT_TRUE(mesh && user);
    const auto deadline = OpeningDeadlineOf(mesh_call);
    ASSERT_TRUE(deadline);
    EXPECT_EQ(deadline, mesh->opening_deadline());
    EXPECT_GE(*deadline, before + std::chrono::seconds(5));
    EXPECT_LE(*deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    EXPECT_FALSE(OpeningDeadlineOf(unadmitted));
    EXPECT_EQ(admission.unattested(), 2u);

    // Mesh API: the peer's evidence verified ends the opening.
    MarkCallAttested(mesh_call);
    EXPECT_TRUE(mesh->attested());
    EXPECT_FALSE(OpeningDeadlineOf(mesh_call));
    // User API: a request alone does not; after the Coordinator's own
    // evidence went out, it does.
    NoteRequestRead(user_call);
    EXPECT_FALSE(user->attested());
    NoteServerAttested(user_call);
    NoteRequestRead(user_call);
    EXPECT_TRUE(user->attested());
    EXPECT_EQ(admission.unattested(), 0u);

    NoteOpeningTimedOut(mesh_call);
    NoteOpeningTimedOut(unadmitted);  // no ticket: nothing to count
    MarkCallAttested(unadmitted);
  }
  // Released tickets are forgotten.
  EXPECT_FALSE(OpeningDeadlineOf(mesh_call));
  EXPECT_EQ(refusals.by_reason, (std::map<std::string, int>{{"opening-timeout", 1}}));
}

}  // namespace
}  // namespace contrast::session
