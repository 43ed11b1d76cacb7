#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/http.h"
#include "observability/metrics.h"
#include "observability/probe_server.h"

namespace contrast::observability {
namespace {

using ::testing::HasSubstr;

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
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE contrast_sessions_total counter\ncontrast_sessions_total 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE contrast_manifest_generation gauge\ncontrast_manifest_generation 4\n"));
  EXPECT_THAT(text, HasSubstr("contrast_attestation_failures_total{reason=\"tcb-too-low\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("{reason=\"quote\\\"d\"} 1\n"));
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

TEST(ProbeServer, ServesRoutesOverRealHttp) {
  bool ready = false;
  auto server = ProbeServer::Start("127.0.0.1", 0,
                                   {{"/probe/readiness",
                                     [&] {
                                       return ready ? HttpResponse{200, "text/plain", "ready\n"}
                                                    : HttpResponse{503, "text/plain", "no manifest set\n"};
                                     }},
                                    {"/metrics", [] {
                                       return HttpResponse{200, "text/plain", "m 1\n"};
                                     }}});
  ASSERT_TRUE(server) << server.error().message;
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto not_ready = http::Get(base + "/probe/readiness");
  ASSERT_TRUE(not_ready) << not_ready.error().message;
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(std::string(not_ready->body.begin(), not_ready->body.end()), "no manifest set\n");
  ready = true;
  EXPECT_EQ(http::Get(base + "/probe/readiness?verbose=1")->status, 200);
  EXPECT_EQ(http::Get(base + "/metrics")->status, 200);
  EXPECT_EQ(http::Get(base + "/nope")->status, 404);
  (*server)->Stop();
  EXPECT_FALSE(http::Get(base + "/metrics"));  // refused after Stop
}

TEST(ProbeServer, SurvivesGarbageAndSlowClients) {
  auto server = ProbeServer::Start("127.0.0.1", 0, {{"/ok", [] { return HttpResponse{}; }}});
  ASSERT_TRUE(server);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*server)->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (const std::string& junk :
       {std::string("\x00\x01\x02", 3), std::string(20000, 'A'), std::string("POST /ok HTTP/1.1\r\n\r\n")}) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
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

}  // namespace
}  // namespace contrast::observability
