// history::EtcdStore against real etcd clusters (tests/support/etcd_cluster.h).
#include "history/etcd_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "crypto/hash.h"
#include "history/history.h"
#include "support/etcd_cluster.h"

namespace contrast::history {
namespace {

using testing::EtcdCluster;
using Clock = std::chrono::steady_clock;

Bytes B(std::string_view text) { return Bytes(text.begin(), text.end()); }

std::string ManifestKey(int i) {
  std::string hex = HexEncode(crypto::Sha256(AsBytes(std::to_string(i))));
  return "manifests/" + hex;
}

std::shared_ptr<EtcdStore> OpenStore(EtcdStoreOptions options) {
  auto store = EtcdStore::Open(std::move(options));
  EXPECT_TRUE(store) << store.error().message;
  return store ? *store : nullptr;
}

// What a watch reported, in order, for tests to wait on.
class WatchLog {
 public:
  WatchCallbacks Callbacks() {
    return {[this](const std::optional<Bytes>& value) {
              std::lock_guard lock(mutex_);
              events_.push_back(value ? "value:" + std::string(AsChars(*value)) : "value:<absent>");
              changed_.notify_all();
            },
            [this](const Status& health) {
              std::lock_guard lock(mutex_);
              events_.push_back(health ? "health:ok" : "health:error");
              if (!health) last_error_ = health.error().message;
              changed_.notify_all();
            }};
  }
  // Waits until the newest event is `event`.
  bool WaitFor(const std::string& event, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return !events_.empty() && events_.back() == event; });
  }
  // Waits until `event` occurs at or after index `from`; its index or -1.
  int WaitForAfter(const std::string& event, size_t from,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    int found = -1;
    changed_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < events_.size(); ++i) {
        if (events_[i] == event) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return events_.size();
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::string last_error() {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> events_;
  std::string last_error_;
};

std::string Joined(const std::vector<std::string>& events) {
  std::string text;
  for (const auto& e : events) text += e + " ";
  return text;
}

// A loopback TCP forwarder to one etcd member that can stop passing the
// member's answers on (requests still arrive): a link that dies after a
// request went out.
class AnswerDroppingProxy {
 public:
  explicit AnswerDroppingProxy(uint16_t target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      ADD_FAILURE() << "proxy: cannot listen";
    }
    port_ = ntohs(addr.sin_port);
    threads_.emplace_back([this] { Accept(); });
  }
  ~AnswerDroppingProxy() {
    stopping_ = true;
    for (auto& t : threads_) t.join();
    ::close(listener_);
    for (int fd : fds_) ::close(fd);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  void DropAnswers() { drop_answers_ = true; }

 private:
  void Accept() {
    while (!stopping_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(target_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      fds_.push_back(client);
      fds_.push_back(server);
      threads_.emplace_back([this, client, server] { Pump(client, server, false); });
      threads_.emplace_back([this, client, server] { Pump(server, client, true); });
    }
  }
  void Pump(int from, int to, bool answers) {
    char buffer[16384];
    while (!stopping_) {
      pollfd p{from, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::read(from, buffer, sizeof buffer);
      if (n <= 0) {
        ::shutdown(to, SHUT_WR);
        return;
      }
      if (answers && drop_answers_) continue;
      if (::write(to, buffer, static_cast<size_t>(n)) != n) return;
    }
  }

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drop_answers_{false};
  std::vector<int> fds_;              // accept thread only, until the destructor
  std::vector<std::thread> threads_;  // grows on the accept thread only
};

class EtcdStoreTest : public ::testing::Test {
 protected:
  void StartCluster(size_t members = 3, bool tls = true) {
    cluster_ = std::make_unique<EtcdCluster>(members, tls);
    ASSERT_TRUE(cluster_->Start());
  }
  std::unique_ptr<EtcdCluster> cluster_;
};

// The same answers as DirectoryStore for absent, present and mismatching
// values.
TEST_F(EtcdStoreTest, GetSetHasCompareAndSwapOverTls) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster();
  auto store = OpenStore(cluster_->StoreOptions());
  ASSERT_TRUE(store);
  const std::string key = ManifestKey(1);

  auto absent = store->Get(key);
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_FALSE(absent->has_value());
  EXPECT_FALSE(*store->Has(key));
  // Expecting a value on an absent key: no swap.
  EXPECT_FALSE(*store->CompareAndSwap(key, AsBytes("x"), AsBytes("y")));
  EXPECT_FALSE(*store->Has(key));
  // Expecting absence: swaps once.
  EXPECT_TRUE(*store->CompareAndSwap(key, std::nullopt, AsBytes("one")));
  EXPECT_FALSE(*store->CompareAndSwap(key, std::nullopt, AsBytes("two")));
  EXPECT_EQ(**store->Get(key), B("one"));
  EXPECT_TRUE(*store->Has(key));
  // Mismatching expectation: nothing written.
  EXPECT_FALSE(*store->CompareAndSwap(key, AsBytes("wrong"), AsBytes("two")));
  EXPECT_EQ(**store->Get(key), B("one"));
  EXPECT_TRUE(*store->CompareAndSwap(key, AsBytes("one"), AsBytes("two")));
  EXPECT_EQ(**store->Get(key), B("two"));
  ASSERT_TRUE(store->Set(key, AsBytes("three")));
  EXPECT_EQ(**store->Get(key), B("three"));
  // An empty value is a value, not absence.
  ASSERT_TRUE(store->Set(kLatestKey, {}));
  EXPECT_TRUE(*store->Has(kLatestKey));
  EXPECT_TRUE((*store->Get(kLatestKey))->empty());

  EXPECT_EQ(store->Get("../etc/passwd").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->Set("manifests/xyz", AsBytes("v")).error().code, ErrorCode::kInvalidArgument);

  // Another client of the same prefix sees it; another prefix does not.
  auto same = OpenStore(cluster_->StoreOptions());
  EXPECT_EQ(**same->Get(key), B("three"));
  auto other = OpenStore(cluster_->StoreOptions("/other-deployment/"));
  EXPECT_FALSE(*other->Has(key));
  EXPECT_TRUE(*other->CompareAndSwap(key, std::nullopt, AsBytes("theirs")));
  EXPECT_EQ(**store->Get(key), B("three"));
  EXPECT_EQ(**other->Get(key), B("theirs"));
}

TEST_F(EtcdStoreTest, CompareAndSwapRacesHaveExactlyOneWinnerPerRound) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster();
  constexpr int kRounds = 25;
  std::shared_ptr<EtcdStore> stores[2] = {OpenStore(cluster_->StoreOptions()), OpenStore(cluster_->StoreOptions())};
  std::atomic<int> wins[kRounds][2] = {};
  std::barrier sync(2);
  auto racer = [&](int me) {
    for (int round = 0; round < kRounds; ++round) {
      sync.arrive_and_wait();
      // Round r moves latest from "r-1:*" (whoever won) to "r:me"; odd rounds
      // also race on creating a fresh key.
      std::optional<Bytes> current = *stores[me]->Get(kLatestKey);
      const std::string mine = std::to_string(round) + ":" + std::to_string(me);
      sync.arrive_and_wait();
      auto swapped = round == 0 ? stores[me]->CompareAndSwap(kLatestKey, std::nullopt, AsBytes(mine))
                                : stores[me]->CompareAndSwap(kLatestKey, *current, AsBytes(mine));
      ASSERT_TRUE(swapped) << swapped.error().message;
      if (*swapped) wins[round][me]++;
      auto created = stores[me]->CompareAndSwap(ManifestKey(1000 + round), std::nullopt, AsBytes(mine));
      ASSERT_TRUE(created) << created.error().message;
      if (*created) wins[round][me] += 2;
    }
  };
  std::thread a(racer, 0), b(racer, 1);
  a.join();
  b.join();
  for (int round = 0; round < kRounds; ++round) {
    const int w0 = wins[round][0], w1 = wins[round][1];
    EXPECT_EQ((w0 & 1) + (w1 & 1), 1) << "latest, round " << round;
    EXPECT_EQ((w0 >> 1) + (w1 >> 1), 1) << "create, round " << round;
    const int winner = (w0 & 2) ? 0 : 1;
    EXPECT_EQ(**stores[0]->Get(ManifestKey(1000 + round)), B(std::to_string(round) + ":" + std::to_string(winner)));
  }
  const int last_winner = (wins[kRounds - 1][0] & 1) ? 0 : 1;
  EXPECT_EQ(**stores[1]->Get(kLatestKey), B(std::to_string(kRounds - 1) + ":" + std::to_string(last_winner)));
}

TEST_F(EtcdStoreTest, HistoryWrittenThroughOneStoreIsWalkedThroughAnother) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster();
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  ASSERT_TRUE(key);
  const Bytes public_key = *key->PublicKeyDer();
  auto writer = History::Create(OpenStore(cluster_->StoreOptions("/deployment-a/")), std::move(*key));
  ASSERT_TRUE(writer) << writer.error().message;
  std::optional<TransitionHash> previous;
  for (int i = 0; i < 3; ++i) {
    auto latest =
        writer->Append(AsBytes("manifest " + std::to_string(i)), {B("policy " + std::to_string(i))}, previous);
    ASSERT_TRUE(latest) << latest.error().message;
    previous = latest->transition_hash;
  }
  auto reader = HistoryReader::Create(OpenStore(cluster_->StoreOptions("/deployment-a/")), public_key);
  ASSERT_TRUE(reader);
  auto walked = reader->Walk();
  ASSERT_TRUE(walked) << walked.error().message;
  ASSERT_EQ(walked->size(), 3u);
  EXPECT_EQ((*walked)[0].manifest, B("manifest 0"));
  EXPECT_EQ((*walked)[2].manifest, B("manifest 2"));
  EXPECT_EQ((*walked)[2].transition_hash, *previous);
  // A stale writer loses: its expected previous is no longer latest.
  auto stale = writer->Append(AsBytes("manifest x"), {}, std::nullopt);
  ASSERT_FALSE(stale);
  EXPECT_TRUE(IsConcurrentUpdate(stale.error())) << stale.error().message;
  // Another deployment's prefix has no history.
  auto elsewhere = HistoryReader::Create(OpenStore(cluster_->StoreOptions("/deployment-b/")), public_key);
  EXPECT_FALSE(*elsewhere->HasHistory());
}

TEST_F(EtcdStoreTest, WatchFollowsChangesAndResumesWhenItsMemberIsKilled) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster();
  auto writer = OpenStore(cluster_->StoreOptions());
  ASSERT_TRUE(writer->Set(kLatestKey, AsBytes("v0")));
  // The watcher talks to member 0 first (endpoint order).
  auto watcher = OpenStore(cluster_->StoreOptions());
  WatchLog log;
  auto watch = watcher->Watch(kLatestKey, log.Callbacks());
  ASSERT_TRUE(watch) << watch.error().message;
  ASSERT_TRUE(log.WaitFor("value:v0")) << Joined(log.events());
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(writer->Set(kLatestKey, AsBytes("v" + std::to_string(i))));
  ASSERT_TRUE(log.WaitFor("value:v5")) << Joined(log.events());
  // In order: each reported value is newer than the one before.
  {
    int last = -1;
    for (const auto& e : log.events()) {
      ASSERT_EQ(e.substr(0, 7), "value:v") << Joined(log.events());
      const int n = std::stoi(e.substr(7));
      EXPECT_GT(n, last) << Joined(log.events());
      last = n;
    }
  }
  const size_t before = log.size();
  cluster_->Kill(0);
  const int error_at = log.WaitForAfter("health:error", before);
  ASSERT_GE(error_at, 0) << Joined(log.events());
  EXPECT_NE(log.last_error().find("127.0.0.1"), std::string::npos) << log.last_error();
  const int ok_at = log.WaitForAfter("health:ok", static_cast<size_t>(error_at));
  ASSERT_GE(ok_at, 0) << Joined(log.events());
  // After reconnecting: the current value, then changes again.
  EXPECT_EQ(log.WaitForAfter("value:v5", static_cast<size_t>(ok_at) + 1), ok_at + 1) << Joined(log.events());
  ASSERT_TRUE(writer->Set(kLatestKey, AsBytes("v6")));
  EXPECT_TRUE(log.WaitFor("value:v6")) << Joined(log.events());
  // Destroying the watch stops it: no callback afterwards.
  watch->reset();
  const size_t final_size = log.size();
  ASSERT_TRUE(writer->Set(kLatestKey, AsBytes("v7")));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(log.size(), final_size);
}

// A member that stops answering without closing its connections (SIGSTOP):
// the keepalive pings notice it, and the watch moves on.
TEST_F(EtcdStoreTest, WatchNoticesASilentMember) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster();
  auto writer = OpenStore(cluster_->StoreOptions());
  ASSERT_TRUE(writer->Set(kLatestKey, AsBytes("a")));
  auto watcher = OpenStore(cluster_->StoreOptions());
  WatchLog log;
  auto watch = watcher->Watch(kLatestKey, log.Callbacks());
  ASSERT_TRUE(watch);
  ASSERT_TRUE(log.WaitFor("value:a"));
  const size_t before = log.size();
  const auto paused_at = Clock::now();
  cluster_->Pause(0);
  const int error_at = log.WaitForAfter("health:error", before);
  const auto noticed_after = Clock::now() - paused_at;
  ASSERT_GE(error_at, 0) << Joined(log.events());
  // keepalive 1 s + timeout 1 s in the test options; generous margin.
  EXPECT_LT(noticed_after, std::chrono::seconds(10));
  ASSERT_GE(log.WaitForAfter("health:ok", static_cast<size_t>(error_at)), 0) << Joined(log.events());
  ASSERT_TRUE(writer->Set(kLatestKey, AsBytes("b")));
  EXPECT_TRUE(log.WaitFor("value:b")) << Joined(log.events());
  cluster_->Resume(0);
}

TEST_F(EtcdStoreTest, QuorumLossFailsWithinTheRetryBudgetAndRecovers) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster();
  auto options = cluster_->StoreOptions();
  options.retry_budget = std::chrono::milliseconds(1500);
  auto store = OpenStore(options);
  ASSERT_TRUE(store->Set(kLatestKey, AsBytes("before")));
  cluster_->Stop(1);
  cluster_->Stop(2);
  // Bound: the retry budget plus one RPC deadline, with a generous margin.
  const auto bound = options.retry_budget + options.rpc_timeout + std::chrono::seconds(3);
  auto timed = [&](const char* what, auto&& operation) {
    const auto start = Clock::now();
    const Error error = operation();
    const auto took = Clock::now() - start;
    EXPECT_EQ(error.code, ErrorCode::kUnavailable) << what << ": " << error.message;
    EXPECT_LT(took, bound) << what;
    std::cout << what << " failed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
              << " ms: " << error.message << "\n";
    EXPECT_NE(error.message.find(cluster_->endpoints()[0]), std::string::npos) << error.message;
  };
  timed("get", [&] {
    auto r = store->Get(kLatestKey);
    EXPECT_FALSE(r);
    return r ? Error{} : r.error();
  });
  timed("set", [&] {
    auto r = store->Set(kLatestKey, AsBytes("during"));
    EXPECT_FALSE(r);
    return r ? Error{} : r.error();
  });
  timed("cas", [&] {
    auto r = store->CompareAndSwap(ManifestKey(7), std::nullopt, AsBytes("during"));
    EXPECT_FALSE(r);
    return r ? Error{} : r.error();
  });
  ASSERT_TRUE(cluster_->Restart(1));
  ASSERT_TRUE(cluster_->Restart(2));
  auto after = store->Get(kLatestKey);
  ASSERT_TRUE(after) << after.error().message;
  // The Set during the outage may or may not have been applied (it timed
  // out); nothing else changed the key.
  EXPECT_TRUE(**after == B("before") || **after == B("during"));
  ASSERT_TRUE(store->Set(kLatestKey, AsBytes("after")));
  EXPECT_EQ(**store->Get(kLatestKey), B("after"));
}

// The transaction reached etcd and was applied, but its answer was lost.
// Replaying it would find the key taken and report a lost race; the store
// reads the key back instead and finds its own value.
TEST_F(EtcdStoreTest, CompareAndSwapWhoseAnswerIsLostReportsItsOwnWrite) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster(1, /*tls=*/false);
  const std::string member = cluster_->endpoints()[0];
  AnswerDroppingProxy proxy(static_cast<uint16_t>(std::stoi(member.substr(member.rfind(':') + 1))));
  auto options = cluster_->StoreOptions();
  options.endpoints = {proxy.endpoint(), member};  // the proxy first
  options.rpc_timeout = std::chrono::milliseconds(500);
  auto store = OpenStore(options);
  ASSERT_FALSE(*store->Has(kLatestKey));  // connects through the proxy
  proxy.DropAnswers();
  auto swapped = store->CompareAndSwap(kLatestKey, std::nullopt, AsBytes("mine"));
  ASSERT_TRUE(swapped) << swapped.error().message;
  EXPECT_TRUE(*swapped);
  auto direct_options = cluster_->StoreOptions();
  direct_options.endpoints = {member};
  EXPECT_EQ(**OpenStore(direct_options)->Get(kLatestKey), B("mine"));
}

TEST_F(EtcdStoreTest, TlsRefusesClientsWithoutCertificateOrWithTheWrongCa) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster(1);
  auto expect_refused = [&](EtcdStoreOptions options, const char* what) {
    options.retry_budget = std::chrono::milliseconds(1000);
    auto store = OpenStore(options);
    ASSERT_TRUE(store) << what;
    auto read = store->Get(kLatestKey);
    ASSERT_FALSE(read) << what;
    EXPECT_EQ(read.error().code, ErrorCode::kUnavailable) << what;
    EXPECT_NE(read.error().message.find(cluster_->endpoints()[0]), std::string::npos) << read.error().message;
    EXPECT_NE(read.error().message.find("TLS"), std::string::npos) << read.error().message;
    std::cout << what << ": " << read.error().message << "\n";
  };
  auto no_client_cert = cluster_->StoreOptions();
  no_client_cert.tls->client_cert_pem.clear();
  no_client_cert.tls->client_key_pem.clear();
  expect_refused(no_client_cert, "no client certificate");
  auto wrong_ca = cluster_->StoreOptions();
  wrong_ca.tls->ca_pem = EtcdCluster::UnrelatedCaPem();
  expect_refused(wrong_ca, "wrong CA");
  auto plaintext = cluster_->StoreOptions();
  plaintext.tls.reset();
  {
    plaintext.retry_budget = std::chrono::milliseconds(1000);
    auto read = OpenStore(plaintext)->Get(kLatestKey);
    EXPECT_FALSE(read) << "plaintext to a TLS member";
  }
  // Half a client identity is a usage error.
  auto half = cluster_->StoreOptions();
  half.tls->client_key_pem.clear();
  EXPECT_EQ(EtcdStore::Open(half).error().code, ErrorCode::kInvalidArgument);
  // The right identity works.
  EXPECT_TRUE(OpenStore(cluster_->StoreOptions())->Get(kLatestKey));
}

TEST_F(EtcdStoreTest, OversizedValuesAreRefused) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster(1);
  auto store = OpenStore(cluster_->StoreOptions());
  // Larger than gRPC's default 4 MiB receive limit: the channel is set up for
  // values up to max_value_size.
  const Bytes big(5 * 1024 * 1024, 0x5a);
  ASSERT_TRUE(store->Set(ManifestKey(1), big));
  EXPECT_EQ(**store->Get(ManifestKey(1)), big);

  auto small_options = cluster_->StoreOptions();
  small_options.max_value_size = 1024;
  auto small = OpenStore(small_options);
  const Bytes over(1025, 1);
  EXPECT_EQ(small->Set(ManifestKey(2), over).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(small->CompareAndSwap(ManifestKey(2), std::nullopt, over).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(*store->Has(ManifestKey(2)));
  // A value someone else stored above our limit is refused on read.
  auto read = small->Get(ManifestKey(1));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kParse) << read.error().message;
}

TEST_F(EtcdStoreTest, PlaintextSingleMember) {
  CONTRAST_REQUIRE_ETCD();
  StartCluster(1, /*tls=*/false);
  auto store = OpenStore(cluster_->StoreOptions());
  EXPECT_FALSE(*store->Has(kLatestKey));
  EXPECT_TRUE(*store->CompareAndSwap(kLatestKey, std::nullopt, AsBytes("p1")));
  EXPECT_TRUE(*store->CompareAndSwap(kLatestKey, AsBytes("p1"), AsBytes("p2")));
  WatchLog log;
  auto watch = store->Watch(kLatestKey, log.Callbacks());
  ASSERT_TRUE(watch);
  EXPECT_TRUE(log.WaitFor("value:p2"));
  ASSERT_TRUE(store->Set(kLatestKey, AsBytes("p3")));
  EXPECT_TRUE(log.WaitFor("value:p3")) << Joined(log.events());
}

TEST(EtcdStoreOptionsTest, OpenRefusesUnusableOptions) {
  EtcdStoreOptions options;
  EXPECT_EQ(EtcdStore::Open(options).error().code, ErrorCode::kInvalidArgument);  // no endpoints
  options.endpoints = {"127.0.0.1:1"};
  options.prefix = "contrast";
  EXPECT_EQ(EtcdStore::Open(options).error().code, ErrorCode::kInvalidArgument);
  options.prefix = "/contrast/";
  options.tls = EtcdTlsOptions{};
  EXPECT_EQ(EtcdStore::Open(options).error().code, ErrorCode::kInvalidArgument);  // TLS without a CA
  options.tls.reset();
  EXPECT_TRUE(EtcdStore::Open(options));
}

// Nothing listens: bounded failure naming the endpoints, no hang.
TEST(EtcdStoreOptionsTest, UnreachableEndpointsFailWithinTheBudget) {
  EtcdStoreOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()),
                       "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())};
  options.retry_budget = std::chrono::milliseconds(800);
  options.rpc_timeout = std::chrono::milliseconds(300);
  auto store = OpenStore(options);
  const auto start = Clock::now();
  auto read = store->Get(kLatestKey);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(read.error().message.find(options.endpoints[0] + "," + options.endpoints[1]), std::string::npos)
      << read.error().message;
  auto cas = store->CompareAndSwap(kLatestKey, std::nullopt, AsBytes("x"));
  ASSERT_FALSE(cas);
  EXPECT_EQ(cas.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace contrast::history
