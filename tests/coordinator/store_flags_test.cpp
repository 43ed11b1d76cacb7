// contrast-coordinator's history backend flags (--store, --etcd-ca,
// --etcd-cert, --etcd-key): usage errors stop the start with a clear message,
// and an etcd store is used when given.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "harness.h"
#include "history/etcd_store.h"
#include "support/etcd_cluster.h"
#include "support/process.h"

#ifndef CONTRAST_COORDINATOR_BINARY
#error "CONTRAST_COORDINATOR_BINARY must name the contrast-coordinator executable"
#endif

namespace contrast::coordinator::testing {
namespace {

using ::testing::HasSubstr;

// What `contrast emulate run` gives a program (as in binary_test.cpp).
std::map<std::string, std::string> EmulatorEnvironment() {
  static TempDir dir;
  static attest::emulated::Daemon* daemon =
      Must(attest::emulated::Daemon::Start(Emulator(), dir.path() / "sp.sock")).release();
  const std::string token =
      Must(attest::emulated::RegisterVmWithDaemon(daemon->guest_socket(), kMeasurement, HashOf("store").bytes));
  return {{std::string(attest::emulated::kSocketEnv), daemon->guest_socket().string()},
          {std::string(attest::emulated::kVmTokenEnv), token}};
}

std::vector<std::string> Args(const TempDir& dir, std::vector<std::string> more) {
  std::vector<std::string> args = {CONTRAST_COORDINATOR_BINARY,
                                   "--user-api-address",
                                   "127.0.0.1:0",
                                   "--mesh-api-address",
                                   "127.0.0.1:0",
                                   "--state-dir",
                                   (dir.path() / "state").string(),
                                   "--shutdown-timeout",
                                   "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(StoreFlags, UsageErrorsStopTheStart) {
  TempDir dir;
  const struct {
    std::vector<std::string> flags;
    std::string message;
  } cases[] = {
      {{"--store", "etcd://etcd-0"}, "needs a port"},
      {{"--store", "consul://x:1"}, "neither \\\"dir\\\" nor"},
      {{"--store", "etcd://127.0.0.1:2379", "--etcd-ca", "/nonexistent/ca.pem"}, "give all three or none"},
      {{"--store", "etcd://127.0.0.1:2379", "--etcd-ca", "/nonexistent/ca.pem", "--etcd-cert", "/nonexistent/c.pem",
        "--etcd-key", "/nonexistent/k.pem"},
       "reading /nonexistent/ca.pem"},
      {{"--etcd-ca", "/nonexistent/ca.pem"}, "need --store etcd://"},
  };
  for (const auto& c : cases) {
    auto result = contrast::testing::RunProcess(Args(dir, c.flags), dir.path() / "log", {}, std::chrono::seconds(30));
    EXPECT_EQ(result.code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("event=startup_failed")) << c.message;
    EXPECT_THAT(result.output, HasSubstr(c.message)) << result.output;
  }
}

// With --store etcd://..., the Coordinator keeps its history in etcd, under
// the URL's prefix, over TLS with the given files; nothing in --state-dir.
TEST(StoreFlags, EtcdStoreIsUsed) {
  CONTRAST_REQUIRE_ETCD();
  contrast::testing::EtcdCluster cluster(1);
  ASSERT_TRUE(cluster.Start());
  TempDir dir;
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return (dir.path() / name).string();
  };
  const std::string store = "etcd://" + cluster.endpoints()[0] + "/binary-test";
  contrast::testing::ChildProcess coordinator(
      Args(dir,
           {"--store", store, "--etcd-ca", write("ca.pem", cluster.ca_pem()), "--etcd-cert",
            write("cert.pem", cluster.client_cert_pem()), "--etcd-key", write("key.pem", cluster.client_key_pem())}),
      dir.path() / "coordinator.log", EmulatorEnvironment());
  ASSERT_TRUE(
      coordinator.WaitUntil([&] { return coordinator.Output().find("event=coordinator_started") != std::string::npos; },
                            std::chrono::seconds(30)))
      << coordinator.Output();
  EXPECT_THAT(coordinator.Output(), HasSubstr("event=history_store store=" + store));
  // It read the (empty) history through etcd at startup and watches it.
  EXPECT_THAT(coordinator.Output(), ::testing::Not(HasSubstr("event=store_unreachable")));
  EXPECT_THAT(coordinator.Output(), ::testing::Not(HasSubstr("event=history_reload_failed")));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "state" / "transitions"));
  EXPECT_EQ(coordinator.Stop(), 0) << coordinator.Output();
}

}  // namespace
}  // namespace contrast::coordinator::testing
