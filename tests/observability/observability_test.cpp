#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http.h"
#include "observability/metrics.h"
#include "observability/probe_server.h"
#include "support/process.h"

namespace contrast::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

TEST(Metrics, RendersPrometheusTextFormat) {
  Registry registry;
  Counter& sessions = registry.AddCounter("contrast_sessions_total", "Attested sessions.");
  Gauge& generation = registry.AddGauge("contrast_manifest_generation", "Manifests set so far.");
  LabeledCounter& failures =
      registry.AddLabeledCounter("contrast_attestation_failures_total", "Failed attestations.", "reason");
  sessions.Increment();
  sessions.Increment(2);
  generation.Set(4);
  failures.Increment("tcb-too-low");
  failures.Increment("quote\"d");
  failures.Increment("line\nbreak\\");
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE contrast_sessions_total counter\ncontrast_sessions_total 3\n"));
  EXPECT_THAT(text, HasSubstr("# HELP contrast_sessions_total Attested sessions.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE contrast_manifest_generation gauge\ncontrast_manifest_generation 4\n"));
  EXPECT_THAT(text, HasSubstr("contrast_attestation_failures_total{reason=\"tcb-too-low\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("{reason=\"quote\\\"d\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("{reason=\"line\\nbreak\\\\\"} 1\n"));
  EXPECT_EQ(failures.value("tcb-too-low"), 1u);
  EXPECT_EQ(failures.value("never-seen"), 0u);
  EXPECT_EQ(failures.Snapshot().size(), 3u);
}

TEST(Metrics, AnnouncesLabeledCountersBeforeTheFirstCountAndKeepsOrder) {
  Registry registry;
  registry.AddCounter("contrast_first_total", "First.");
  registry.AddLabeledCounter("contrast_recoveries_total", "Recoveries.", "result");
  Gauge& gauge = registry.AddGauge("contrast_last", "Last.");
  gauge.Set(3);
  gauge.Add(-5);
  EXPECT_EQ(gauge.value(), -2);
  const std::string text = registry.Render();
  EXPECT_THAT(text,
              HasSubstr("# HELP contrast_recoveries_total Recoveries.\n# TYPE contrast_recoveries_total counter\n"));
  EXPECT_THAT(text, Not(HasSubstr("contrast_recoveries_total{")));
  EXPECT_THAT(text, HasSubstr("contrast_last -2\n"));
  EXPECT_LT(text.find("contrast_first_total"), text.find("contrast_recoveries_total"));
  EXPECT_LT(text.find("contrast_recoveries_total"), text.find("contrast_last"));
}

TEST(Metrics, RegisteringANameAgainReturnsTheSameMetric) {
  Registry registry;
  Counter& first = registry.AddCounter("contrast_x_total", "X.");
  Counter& second = registry.AddCounter("contrast_x_total", "X.");
  EXPECT_EQ(&first, &second);
  second.Increment();
  EXPECT_EQ(first.value(), 1u);
  const std::string text = registry.Render();
  EXPECT_EQ(text.find("# TYPE contrast_x_total"), text.rfind("# TYPE contrast_x_total"));
}

TEST(Metrics, CountersAreThreadSafe) {
  Registry registry;
  Counter& counter = registry.AddCounter("c", "c");
  LabeledCounter& labeled = registry.AddLabeledCounter("l", "l", "k");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        counter.Increment();
        labeled.Increment("x");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.value(), 8000u);
  EXPECT_EQ(labeled.value("x"), 8000u);
}

int ConnectTo(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the server has ended the connection (end of stream, reset, or an
// answer followed by the end).
bool ClosedByServer(int fd, int wait_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, wait_ms) > 0;
}

struct Timed {
  long status = -1;
  std::chrono::microseconds elapsed{};
};

Timed TimedGet(uint16_t port, const std::string& path) {
  const auto start = Clock::now();
  auto response = http::Get("http://127.0.0.1:" + std::to_string(port) + path);
  Timed timed;
  timed.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  if (response) timed.status = response->status;
  return timed;
}

// Idle and trickling connections, held open until destroyed. A background
// thread sends one more byte to the trickling ones every 100 ms, so a server
// with only a per-read timeout never times them out.
class SlowLoris {
 public:
  SlowLoris(uint16_t port, int count) {
    const std::string partial[] = {"", "GET /probe/liv", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "};
    for (int i = 0; i < count; ++i) {
      const int fd = ConnectTo(port);
      if (fd < 0) continue;
      const std::string& start = partial[i % 3];
      if (!start.empty()) {
        (void)!::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
        trickling_.push_back(fd);
      }
      fds_.push_back(fd);
    }
    trickler_ = std::thread([this] {
      while (!done_.load()) {
        for (int fd : trickling_) (void)!::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~SlowLoris() {
    done_ = true;
    trickler_.join();
    for (int fd : fds_) ::close(fd);
  }
  const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<int> fds_;
  std::vector<int> trickling_;
  std::atomic<bool> done_{false};
  std::thread trickler_;
};

std::map<std::string, HttpHandler> ProbeRoutes(Registry& registry) {
  auto ok = [] { return HttpResponse{200, "text/plain", "ok\n"}; };
  return {{"/probe/startup", ok},
          {"/probe/liveness", ok},
          {"/probe/readiness", ok},
          {"/metrics", [&registry] {
             return HttpResponse{200, "text/plain; version=0.0.4", registry.Render()};
           }}};
}

TEST(ProbeServer, ServesRoutesOverRealHttp) {
  std::atomic<bool> ready = false;
  auto server = ProbeServer::Start("127.0.0.1", 0,
                                   {{"/probe/readiness",
                                     [&] {
                                       return ready ? HttpResponse{200, "text/plain", "ready\n"}
                                                    : HttpResponse{503, "text/plain", "no manifest set\n"};
                                     }},
                                    {"/metrics", [] {
                                       return HttpResponse{200, "text/plain; version=0.0.4", "m 1\n"};
                                     }}});
  ASSERT_TRUE(server) << server.error().message;
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto not_ready = http::Get(base + "/probe/readiness");
  ASSERT_TRUE(not_ready) << not_ready.error().message;
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(std::string(not_ready->body.begin(), not_ready->body.end()), "no manifest set\n");
  ready = true;
  EXPECT_EQ(http::Get(base + "/probe/readiness?verbose=1")->status, 200);
  auto metrics = http::Get(base + "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(std::string(metrics->body.begin(), metrics->body.end()), "m 1\n");
  EXPECT_EQ(http::Get(base + "/nope")->status, 404);
  (*server)->Stop();
  EXPECT_FALSE(http::Get(base + "/metrics"));  // refused after Stop
}

TEST(ProbeServer, SecondServerOnTheSamePortFailsToStart) {
  auto first = ProbeServer::Start("127.0.0.1", 0, {});
  ASSERT_TRUE(first);
  auto second = ProbeServer::Start("127.0.0.1", (*first)->port(), {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kIo);
  EXPECT_FALSE(ProbeServer::Start("not-an-address", 0, {}));
}

TEST(ProbeServer, SurvivesGarbageAndSlowClients) {
  auto server = ProbeServer::Start("127.0.0.1", 0, {{"/ok", [] { return HttpResponse{}; }}});
  ASSERT_TRUE(server);
  for (const std::string& junk :
       {std::string("\x00\x01\x02", 3), std::string(20000, 'A'), std::string("POST /ok HTTP/1.1\r\n\r\n"),
        std::string(1 << 20, '\n'), "GET /ok HTTP/1.1\r\nX: " + std::string(1 << 20, 'x')}) {
    const int fd = ConnectTo((*server)->port());
    ASSERT_GE(fd, 0);
    (void)!::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    char buffer[256];
    (void)!::recv(fd, buffer, sizeof buffer, 0);
    ::close(fd);
  }
  auto ok = http::Get("http://127.0.0.1:" + std::to_string((*server)->port()) + "/ok");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

size_t FromEnvironment(const char* name, size_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && std::atoi(value) > 0 ? static_cast<size_t>(std::atoi(value)) : fallback;
}

// Issue #15 item 3: 100 slow-loris connections (idle, or trickling a request
// line or header a byte at a time) are held open, and every probe and the
// metrics still answer within 1 s each. Uses only the defaults.
// scripts/probe-load-test runs it larger (PROBE_LOAD_CONNECTIONS,
// PROBE_LOAD_ROUNDS) and reads the latencies it prints.
TEST(ProbeServer, ProbesAnswerWithin1sWhile100SlowLorisConnectionsAreHeld) {
  const size_t connections = FromEnvironment("PROBE_LOAD_CONNECTIONS", 100);
  const size_t rounds = FromEnvironment("PROBE_LOAD_ROUNDS", 3);
  Registry registry;
  registry.AddCounter("contrast_sessions_total", "Sessions.").Increment();
  auto server = ProbeServer::Start("127.0.0.1", 0, ProbeRoutes(registry));
  ASSERT_TRUE(server) << server.error().message;
  const uint16_t port = (*server)->port();
  SlowLoris loris(port, static_cast<int>(connections));
  ASSERT_EQ(loris.fds().size(), connections);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take them all
  std::vector<std::chrono::microseconds> latencies;
  for (size_t round = 0; round < rounds; ++round) {
    for (const char* path : {"/probe/startup", "/probe/liveness", "/probe/readiness", "/metrics"}) {
      const Timed probe = TimedGet(port, path);
      EXPECT_EQ(probe.status, 200) << path;
      EXPECT_LT(probe.elapsed, std::chrono::seconds(1)) << path;
      latencies.push_back(probe.elapsed);
    }
  }
  std::sort(latencies.begin(), latencies.end());
  const auto ms = [](std::chrono::microseconds t) { return static_cast<double>(t.count()) / 1000.0; };
  std::cout << "probe latency with " << connections << " slow-loris connections held, " << latencies.size()
            << " requests: p50 " << ms(latencies[latencies.size() / 2]) << " ms, p99 "
            << ms(latencies[(latencies.size() * 99) / 100]) << " ms, max " << ms(latencies.back()) << " ms\n";
  if (connections <= ProbeServerOptions{}.max_connections) {
    // They really were held: none was closed to make room.
    size_t still_open = 0;
    for (int fd : loris.fds()) still_open += ClosedByServer(fd) ? 0 : 1;
    EXPECT_EQ(still_open, connections);
  }
  (*server)->Stop();  // closes held connections instead of waiting for them
  size_t closed = 0;
  for (int fd : loris.fds()) closed += ClosedByServer(fd, 5000) ? 1 : 0;
  EXPECT_EQ(closed, connections);
}

TEST(ProbeServer, TricklingClientIsCutOffAtTheWholeRequestDeadline) {
  ProbeServerOptions options;
  options.request_deadline = std::chrono::milliseconds(300);
  auto server = ProbeServer::Start("127.0.0.1", 0, {{"/ok", [] { return HttpResponse{}; }}}, options);
  ASSERT_TRUE(server);
  const int fd = ConnectTo((*server)->port());
  ASSERT_GE(fd, 0);
  // One byte every 20 ms: each read succeeds at once, so only a deadline for
  // the whole request ends this; the client would go on for 10 s.
  const std::string request = "GET /ok HTTP/1.1\r\nX-Trickle: " + std::string(400, 'a');
  bool cut_off = false;
  for (char byte : request) {
    if (::send(fd, &byte, 1, MSG_NOSIGNAL) != 1 || ClosedByServer(fd, 20)) {
      cut_off = true;
      break;
    }
  }
  EXPECT_TRUE(cut_off) << "the server kept reading a request trickled over 8 s";
  ::close(fd);
  EXPECT_EQ(TimedGet((*server)->port(), "/ok").status, 200);
}

TEST(ProbeServer, WhenFullTheOldestUnfinishedRequestMakesRoomAndThreadsStayBounded) {
  ProbeServerOptions options;
  options.max_connections = 4;
  Registry registry;
  const size_t threads_before = testing::Threads(::getpid());
  auto server = ProbeServer::Start("127.0.0.1", 0, ProbeRoutes(registry), options);
  ASSERT_TRUE(server);
  const uint16_t port = (*server)->port();
  SlowLoris loris(port, 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The acceptor, at most four workers, and the slow-loris trickler.
  EXPECT_LE(testing::Threads(::getpid()), threads_before + 1 + 4 + 1);
  for (const char* path : {"/probe/liveness", "/probe/readiness", "/metrics"}) {
    const Timed probe = TimedGet(port, path);
    EXPECT_EQ(probe.status, 200) << path;
    EXPECT_LT(probe.elapsed, std::chrono::seconds(1)) << path;
  }
  EXPECT_TRUE(ClosedByServer(loris.fds().front(), 1000)) << "the oldest idle connection was kept";
}

TEST(ProbeServer, EvictionSparesRequestsBeingAnswered) {
  ProbeServerOptions options;
  options.max_connections = 2;
  options.request_deadline = std::chrono::milliseconds(2000);
  std::atomic<int> entered = 0;
  std::atomic<bool> release = false;
  auto slow = [&] {
    ++entered;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return HttpResponse{200, "text/plain", "slow\n"};
  };
  auto server = ProbeServer::Start("127.0.0.1", 0, {{"/slow", slow}, {"/ok", [] { return HttpResponse{}; }}}, options);
  ASSERT_TRUE(server);
  const uint16_t port = (*server)->port();
  std::vector<long> statuses(2, -1);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < 2; ++i) clients.emplace_back([&, i] { statuses[i] = TimedGet(port, "/slow").status; });
  while (entered.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Both workers are answering; new idle connections wait (or are refused)
  // instead of evicting them.
  SlowLoris loris(port, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  release = true;
  for (auto& client : clients) client.join();
  EXPECT_EQ(statuses, (std::vector<long>{200, 200}));
  EXPECT_EQ(TimedGet(port, "/ok").status, 200);
}

}  // namespace
}  // namespace contrast::observability
