// Peer recovery (issue #17 item 3): a Coordinator replica awaiting recovery
// gets the seed from a ready replica on the same store over MeshAPI.RecoverPeer,
// both attesting as Coordinators. In-process Coordinators on the emulated
// platform; each "replica" is a Coordinator on the same DirectoryStore
// directory or the same MemoryStore.
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/peer_recovery.h"
#include "harness.h"

namespace contrast::coordinator::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kAwaiting(kAwaitingRecoveryReason);

// Polls `condition` until it holds or a generous bound passes (rounds run
// every 100 ms here; the bound only keeps a broken build from hanging).
bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// The value of one series in Prometheus text ("name{label=\"x\"}"), 0 when
// absent.
double MetricValue(const std::string& text, const std::string& series) {
  const std::regex pattern("(^|\n)" + std::regex_replace(series, std::regex(R"([{}\[\]().*+?^$|\\])"), R"(\$&)") +
                           " ([0-9.e+]+)");
  std::smatch match;
  if (!std::regex_search(text, match, pattern)) return 0;
  return std::stod(match[2].str());
}

// manifest with kWebPolicy as the Coordinator's: what a test client trusts
// to talk to a Coordinator that runs with the web policy.
manifest::Manifest WithWebAsCoordinator(manifest::Manifest m) {
  m.policies[HashOf(kWebPolicy)].role = manifest::Role::kCoordinator;
  return m;
}

// One in-process replica with its log kept.
struct Replica {
  std::unique_ptr<Coordinator> coordinator;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log;

  std::string UserTarget() const { return "127.0.0.1:" + std::to_string(coordinator->user_api_port()); }
  std::string MeshTarget() const { return "127.0.0.1:" + std::to_string(coordinator->mesh_api_port()); }
  std::string Log() const {
    std::string out;
    for (const std::string& line : log->last_formatted()) out += line;
    return out;
  }
  double Metric(const std::string& series) const { return MetricValue(coordinator->RenderMetrics(), series); }
  bool Ready() const { return coordinator->readiness().ready; }
};

std::string Attempts(const std::string& result) {
  return "contrast_peer_recovery_attempts_total{result=\"" + result + "\"}";
}
std::string Served(const std::string& result) {
  return "contrast_peer_recoveries_served_total{result=\"" + result + "\"}";
}

class PeerRecoveryTest : public ::testing::Test {
 protected:
  struct ReplicaOptions {
    std::string policy;  // its HOST_DATA
    std::vector<std::string> peers;
    std::string peers_dns;
  };
  static ReplicaOptions Policy(const std::string& policy) { return ReplicaOptions{policy, {}, ""}; }
  static ReplicaOptions Peers(std::vector<std::string> peers, const std::string& policy = kCoordinatorPolicy) {
    return ReplicaOptions{policy, std::move(peers), ""};
  }
  static ReplicaOptions PeersDns(const std::string& name) { return ReplicaOptions{kCoordinatorPolicy, {}, name}; }

  CoordinatorOptions Options(const ReplicaOptions& replica) const {
    CoordinatorOptions options;
    options.user_api_address = "127.0.0.1:0";
    options.mesh_api_address = "127.0.0.1:0";
    options.probe_address = "127.0.0.1:0";
    if (store_) {
      options.store = store_;
    } else {
      options.state_dir = dir_.path() / "history";
    }
    options.shutdown_timeout = std::chrono::seconds(5);
    options.logger = QuietLogger();  // Start replaces it with one the test reads
    options.peers = replica.peers;
    options.peers_dns = replica.peers_dns;
    options.peer_recovery_interval = std::chrono::milliseconds(100);
    return options;
  }

  Replica Start(const ReplicaOptions& replica = Policy(kCoordinatorPolicy)) {
    Replica out;
    out.log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
    auto logger = std::make_shared<spdlog::logger>("replica", out.log);
    logger->set_level(spdlog::level::info);
    CoordinatorOptions options = Options(replica);
    options.logger = logger;
    out.coordinator = Must(Coordinator::Start(options, IssuerFor(replica.policy)));
    return out;
  }

  // A ready replica A with BaseManifest set through its API.
  Replica StartReadyWithManifest(v1::SetManifestResponse& set) {
    Replica a = Start();
    set = Must(
        UserClient(a.UserTarget()).SetManifest(Request(manifest::SerializeManifest(BaseManifest())), BaseManifest()));
    return a;
  }

  // B recovered from A: the same CAs, and it certifies workloads under them.
  static void ExpectServesLike(const Replica& b, const v1::SetManifestResponse& a_set) {
    auto latest = Must(UserClient(b.UserTarget()).GetLatestTransition(BaseManifest()));
    EXPECT_FALSE(latest.awaiting_recovery());
    EXPECT_EQ(latest.root_ca(), a_set.root_ca());
    EXPECT_EQ(latest.mesh_ca(), a_set.mesh_ca());
    EXPECT_EQ(latest.latest_transition_hash(), a_set.transition_hash());
    auto web = IssuerFor(kWebPolicy);
    auto certificate = MeshClient(b.MeshTarget()).NewMeshCert(*web);
    ASSERT_TRUE(certificate) << certificate.error().message;
    EXPECT_EQ(certificate->mesh_ca(), a_set.mesh_ca());
    EXPECT_EQ(certificate->root_ca(), a_set.root_ca());
  }

  TempDir dir_;
  std::shared_ptr<MemoryStore> store_;  // set: replicas share it instead of dir_
};

// ---- Candidates ------------------------------------------------------------

TEST(PeerCandidates, SkipsItselfAndDuplicates) {
  PeerRecoveryOptions options;
  options.peers = {"127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:5001", "[::1]:5002", "[::1]:5000"};
  options.own_mesh_api_port = 5000;
  EXPECT_THAT(Must(ListPeerCandidates(options)), ElementsAre("127.0.0.1:5001", "[::1]:5002"));
  options.own_mesh_api_port = 0;  // cannot tell: every one is asked
  EXPECT_THAT(Must(ListPeerCandidates(options)),
              ElementsAre("127.0.0.1:5000", "127.0.0.1:5001", "[::1]:5002", "[::1]:5000"));
}

TEST(PeerCandidates, ResolvesTheDnsNameToEveryAddress) {
  PeerRecoveryOptions options;
  options.peers_dns = "localhost:5003";
  const std::vector<std::string> candidates = Must(ListPeerCandidates(options));
  EXPECT_THAT(candidates, ::testing::Contains("127.0.0.1:5003"));
  // Its own port on this host: all of them are itself.
  options.own_mesh_api_port = 5003;
  EXPECT_THAT(Must(ListPeerCandidates(options)), ::testing::IsEmpty());
}

TEST(PeerCandidates, AnUnresolvableNameFailsOnlyWithoutOtherPeers) {
  PeerRecoveryOptions options;
  options.peers_dns = "no-such-replica.invalid:7777";
  auto none = ListPeerCandidates(options);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNetwork);
  EXPECT_THAT(none.error().message, HasSubstr("no-such-replica.invalid"));
  options.peers = {"10.0.0.7:7777"};
  EXPECT_THAT(Must(ListPeerCandidates(options)), ElementsAre("10.0.0.7:7777"));
}

TEST(PeerCandidates, MalformedAddressesAreRejected) {
  for (const std::string bad : {"host", "host:", ":7777", "host:0", "host:65536", "host:77x", "[::1:7777"}) {
    PeerRecoveryOptions options;
    options.peers = {bad};
    auto listed = ListPeerCandidates(options);
    ASSERT_FALSE(listed) << bad;
    EXPECT_EQ(listed.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_THAT(listed.error().message, HasSubstr(bad));
    PeerRecoveryOptions dns;
    dns.peers_dns = bad;
    EXPECT_FALSE(ValidatePeerRecoveryOptions(dns)) << bad;
  }
}

TEST_F(PeerRecoveryTest, StartRefusesMalformedPeers) {
  CoordinatorOptions options = Options(Peers({"replica-0"}));
  auto started = Coordinator::Start(options, IssuerFor(kCoordinatorPolicy));
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(started.error().message, HasSubstr("replica-0"));
}

// ---- Replicas ----------------------------------------------------------------

// (a) B starts on A's store directory, awaits recovery and recovers from A
// by itself: the same root and mesh CA, and it issues mesh certificates.
TEST_F(PeerRecoveryTest, ReplicaRecoversFromAReadyPeer) {
  v1::SetManifestResponse set;
  Replica a = StartReadyWithManifest(set);
  Replica b = Start(Peers({a.MeshTarget()}));
  ASSERT_TRUE(Eventually([&] { return b.Ready(); })) << b.Log();
  ExpectServesLike(b, set);
  EXPECT_THAT(b.Log(), HasSubstr("event=recovered_from_peer peer=" + a.MeshTarget() + " generation=1"));
  EXPECT_EQ(b.Metric(Attempts("ok")), 1);
  EXPECT_EQ(a.Metric(Served("ok")), 1);
  EXPECT_THAT(a.Log(), HasSubstr("event=peer_recovery_served"));
}

// (b) B runs with a policy the manifest lists, but not as Role coordinator:
// A refuses to hand over the seed, and B keeps awaiting recovery.
TEST_F(PeerRecoveryTest, PeerRefusesAReplicaWhosePolicyIsNotRoleCoordinator) {
  v1::SetManifestResponse set;
  Replica a = StartReadyWithManifest(set);
  Replica b = Start(Peers({a.MeshTarget()}, kWebPolicy));
  ASSERT_TRUE(Eventually([&] { return b.Metric(Attempts("validation-failed")) >= 2 || b.Ready(); })) << b.Log();
  EXPECT_FALSE(b.Ready());
  EXPECT_EQ(b.coordinator->readiness().reason, kAwaiting);
  EXPECT_GE(a.Metric(Served("validation-failed")), 2);
  EXPECT_EQ(a.Metric(Served("ok")), 0);
  EXPECT_EQ(b.Metric(Attempts("ok")), 0);
  const std::string log = b.Log();
  EXPECT_THAT(log, HasSubstr("event=peer_recovery_failed"));
  EXPECT_THAT(log, HasSubstr(a.MeshTarget() + ": server: PERMISSION_DENIED"));
  EXPECT_THAT(log, HasSubstr("HOST_DATA"));
  EXPECT_THAT(log, HasSubstr(HexEncode(HashOf(kWebPolicy).bytes)));
}

// (c) A awaits recovery too: B keeps asking; once a seed-share owner
// recovers A, B recovers from A on a later round.
TEST_F(PeerRecoveryTest, ReplicaRetriesUntilAPeerIsReady) {
  store_ = std::make_shared<MemoryStore>();
  const BuiltHistory built = BuildHistory(store_, {{SeededManifest(), AllPolicies()}});
  Replica a = Start();
  Replica b = Start(Peers({a.MeshTarget()}));
  ASSERT_TRUE(Eventually([&] { return b.Metric(Attempts("failed-precondition")) >= 2 || b.Ready(); })) << b.Log();
  EXPECT_FALSE(b.Ready());
  EXPECT_EQ(a.Metric(Served("ok")), 0);
  EXPECT_THAT(b.Log(), HasSubstr("awaiting recovery"));

  auto recovered =
      UserClient(a.UserTarget()).Recover(SignedRecover(built.secret, SeedshareOwnerKey(0)), SeededManifest());
  ASSERT_TRUE(recovered) << recovered.error().message;
  ASSERT_TRUE(Eventually([&] { return b.Ready(); })) << b.Log();
  auto latest = Must(UserClient(b.UserTarget()).GetLatestTransition(SeededManifest()));
  EXPECT_EQ(latest.root_ca(), built.root_ca);
  EXPECT_EQ(latest.root_ca(), recovered->root_ca());
  EXPECT_EQ(latest.mesh_ca(), recovered->mesh_ca());
  EXPECT_EQ(latest.latest_transition_hash(), ToString(built.latest));
  // The seed went over the session, never into a log.
  const std::string seed_hex = HexEncode(built.secret.seed);
  EXPECT_THAT(a.Log(), Not(HasSubstr(seed_hex)));
  EXPECT_THAT(b.Log(), Not(HasSubstr(seed_hex)));
}

// (d) A is ready and holds the real seed, but attests with a policy that
// the stored manifest does not list as Role coordinator: B does not trust it
// and does not take the seed.
TEST_F(PeerRecoveryTest, ReplicaRefusesAPeerThatIsNotACoordinatorOfTheStoredManifest) {
  store_ = std::make_shared<MemoryStore>();
  const BuiltHistory built = BuildHistory(store_, {{SeededManifest(), AllPolicies()}});
  Replica a = Start(Policy(kWebPolicy));
  ASSERT_TRUE(UserClient(a.UserTarget())
                  .Recover(SignedRecover(built.secret, SeedshareOwnerKey(0)), WithWebAsCoordinator(SeededManifest())));
  ASSERT_TRUE(a.Ready());
  Replica b = Start(Peers({a.MeshTarget()}));
  ASSERT_TRUE(Eventually([&] { return b.Metric(Attempts("validation-failed")) >= 2 || b.Ready(); })) << b.Log();
  EXPECT_FALSE(b.Ready());
  EXPECT_EQ(b.coordinator->readiness().reason, kAwaiting);
  EXPECT_EQ(b.Metric(Attempts("ok")), 0);
  EXPECT_THAT(b.Log(), HasSubstr(a.MeshTarget() + ": the peer is not a Coordinator of the stored manifest"));
}

// (e) The peers come from a DNS name, as from a headless Service.
TEST_F(PeerRecoveryTest, ReplicaFindsItsPeerThroughDns) {
  v1::SetManifestResponse set;
  Replica a = StartReadyWithManifest(set);
  Replica b = Start(PeersDns("localhost:" + std::to_string(a.coordinator->mesh_api_port())));
  ASSERT_TRUE(Eventually([&] { return b.Ready(); })) << b.Log();
  ExpectServesLike(b, set);
  EXPECT_THAT(b.Log(),
              HasSubstr("event=recovered_from_peer peer=127.0.0.1:" + std::to_string(a.coordinator->mesh_api_port())));
}

// B starts on an empty store next to A; the first manifest is set through
// A. B sees the history appear (the store watch), turns awaiting recovery and
// gets the seed from A: every replica serves without an owner's help.
TEST_F(PeerRecoveryTest, ReplicaStartedBeforeTheFirstManifestRecoversOnceAPeerSetsIt) {
  Replica a = Start();
  Replica b = Start(Peers({a.MeshTarget()}));
  EXPECT_FALSE(b.Ready());
  const v1::SetManifestResponse set = Must(
      UserClient(a.UserTarget()).SetManifest(Request(manifest::SerializeManifest(BaseManifest())), BaseManifest()));
  ASSERT_TRUE(Eventually([&] { return b.Ready(); })) << b.Log();
  ExpectServesLike(b, set);
  EXPECT_EQ(a.Metric(Served("ok")), 1);
}

// Without peers no replica asks anyone: B stays awaiting recovery next to a
// ready A (contrast recover is the only way, as for a single Coordinator).
TEST_F(PeerRecoveryTest, WithoutPeersNothingIsAsked) {
  v1::SetManifestResponse set;
  Replica a = StartReadyWithManifest(set);
  Replica b = Start();
  // A replica with peers started after B recovers; B, without, does not.
  Replica c = Start(Peers({a.MeshTarget()}));
  ASSERT_TRUE(Eventually([&] { return c.Ready(); })) << c.Log();
  EXPECT_FALSE(b.Ready());
  EXPECT_EQ(a.Metric(Served("ok")), 1);
  EXPECT_THAT(b.Log(), Not(HasSubstr("peer_recovery")));
}

}  // namespace
}  // namespace contrast::coordinator::testing
