// The fixture of the end-to-end tests around the Coordinator: the emulated
// secure processor daemon, a Coordinator in an emulated VM, the `contrast`
// CLI and Initializers in emulated workload VMs, all as real processes
// talking over loopback and Unix sockets.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/tsm/configfs_tsm.h"
#include "common/files.h"
#include "common/http.h"
#include "contrast/meshapi.grpc.pb.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "session/credentials.h"
#include "session/protocol.h"
#include "support/fuse.h"
#include "support/process.h"

namespace contrast::e2e {

using contrast::testing::ChildProcess;
using contrast::testing::Completed;
using contrast::testing::RunProcess;

inline const std::string kBin = CONTRAST_BIN_DIR;
inline const std::string kMeasurement(96, 'a');

// Under AddressSanitizer every process costs several times the CPU: the
// load test starts fewer Initializers there, on the same paths.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
constexpr bool kSanitized = __has_feature(address_sanitizer);
#else
constexpr bool kSanitized = false;
#endif

inline std::string Sha256Hex(std::string_view text) { return HexEncode(crypto::Sha256(AsBytes(text))); }

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class CoordinatorE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every emulated VM (`contrast emulate run`) gets an emulated configfs-tsm.
    CONTRAST_REQUIRE_FUSE();
    dir_ = std::filesystem::temp_directory_path() / ("contrast-e2e-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "policies");
    socket_ = dir_ / "sp.sock";
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBin + "/contrast", "emulate", "serve", "--state-dir", (dir_ / "sp").string(),
                                 "--socket", socket_.string(), "--init"},
        dir_ / "sp.log");
    // Key generation (RSA-4096) can take long on a loaded machine.
    ASSERT_TRUE(daemon_->WaitUntil([&] { return std::filesystem::exists(socket_); })) << daemon_->Output();
    const Completed root = Contrast({"emulate", "root-hash", "--state-dir", (dir_ / "sp").string()});
    ASSERT_EQ(root.code, 0) << root.output;
    root_hash_ = Trim(root.output);
    for (const char* name : {"coordinator", "web", "client", "rogue"}) {
      const std::string policy = std::string("package agent_policy\n# ") + name + "\n";
      ASSERT_TRUE(WriteFileAtomic(PolicyPath(name), policy));
      hashes_[name] = Sha256Hex(policy);
    }
    auto owner = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
    ASSERT_TRUE(owner);
    ASSERT_TRUE(WriteFileAtomic(dir_ / "workload-owner.pem", *owner->ToPkcs8Pem(), 0600));
    owner_digest_ = HexEncode(crypto::Sha256(*owner->PublicKeyDer()));
  }

  void TearDown() override {
    coordinator_.reset();
    tsms_.clear();  // unmounts before dir_ goes
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path PolicyPath(const std::string& name) const { return dir_ / "policies" / (name + ".rego"); }

  // A manifest for the coordinator, web and client policies (not rogue).
  std::string Manifest(const std::string& measurement, const std::vector<std::string>& workloads = {"web", "client"},
                       const std::string& owner_digest = "") const {
    std::string policies =
        "\"" + hashes_.at("coordinator") + "\": {\"SANs\": [\"coordinator\"], \"Role\": \"coordinator\"}";
    for (const std::string& w : workloads) {
      const auto secret_id = workload_secret_ids_.find(w);
      policies +=
          ",\n    \"" + hashes_.at(w) + "\": {\"SANs\": [\"" + w + "\", \"127.0.0.1\"]" +
          (secret_id == workload_secret_ids_.end() ? "" : ", \"WorkloadSecretID\": \"" + secret_id->second + "\"") +
          "}";
    }
    std::string seedshare_keys;
    for (const std::string& key : seedshare_owner_keys_) {
      seedshare_keys += (seedshare_keys.empty() ? "\"" : ", \"") + key + "\"";
    }
    return "{\n  \"Policies\": {\n    " + policies +
           "\n  },\n  \"ReferenceValues\": {\"emulated\": [{\"ProductName\": \"Milan\", \"TrustedMeasurement\": \"" +
           measurement +
           "\", \"MinimumTCB\": {\"BootloaderVersion\": 3, \"TEEVersion\": 0, \"SNPVersion\": 8, "
           "\"MicrocodeVersion\": 115}, \"GuestPolicy\": {\"SMT\": true}, \"PlatformInfo\": {\"SMTEnabled\": true}, "
           // The emulated platform has no CRL to check against unless a test
           // serves one (--insecure-emulated-kds-url).
           "\"AllowMissingRevocationCheck\": true, \"EmulatedRootSHA256\": \"" +
           root_hash_ + "\"}]},\n  \"WorkloadOwnerKeyDigests\": [" +
           (owner_digest.empty() ? "\"" + owner_digest_ + "\"" : "\"" + owner_digest + "\"") +
           "],\n  \"SeedshareOwnerPubKeys\": [" + seedshare_keys + "]\n}\n";
  }

  std::string WriteManifest(const std::string& name, const std::string& content) {
    EXPECT_TRUE(WriteFileAtomic(dir_ / name, content));
    return (dir_ / name).string();
  }

  Completed Contrast(std::vector<std::string> args) {
    args.insert(args.begin(), bin_ + "/contrast");
    return RunProcess(args, dir_ / ("contrast-" + std::to_string(++runs_) + ".log"));
  }

  // keep_ports: a restart on the ports of the previous run (clients that
  // retry find it again). wrapper: a command the launcher runs under (e.g. a
  // shell that lowers a limit, then execs "$@").
  void StartCoordinator(bool keep_ports = false, std::vector<std::string> wrapper = {}) {
    if (!keep_ports || user_port_ == 0) {
      user_port_ = testing::FreeLoopbackPort();
      mesh_port_ = testing::FreeLoopbackPort();
      probe_port_ = testing::FreeLoopbackPort();
    }
    std::vector<std::string> command = {bin_ + "/contrast",
                                        "emulate",
                                        "run",
                                        "--socket",
                                        socket_.string(),
                                        "--policy",
                                        PolicyPath("coordinator").string(),
                                        "--measurement",
                                        kMeasurement,
                                        "--",
                                        bin_ + "/contrast-coordinator",
                                        "--state-dir",
                                        (dir_ / "coordinator-state").string(),
                                        "--user-api-address",
                                        "127.0.0.1:" + std::to_string(user_port_),
                                        "--mesh-api-address",
                                        "127.0.0.1:" + std::to_string(mesh_port_),
                                        "--probe-address",
                                        "127.0.0.1:" + std::to_string(probe_port_)};
    command.insert(command.begin(), wrapper.begin(), wrapper.end());
    coordinator_ =
        std::make_unique<ChildProcess>(command, dir_ / ("coordinator-" + std::to_string(++coordinator_runs_) + ".log"));
    ASSERT_TRUE(coordinator_->WaitUntil([&] { return Probe("/probe/liveness") == 200; }))
        << "the Coordinator did not come up:\n"
        << coordinator_->Output();
  }

  // A workload VM driven from this test process, the way a program inside
  // it obtains evidence: registered with the daemon (kMeasurement, HOST_DATA
  // the policy's hash), with its own emulated configfs-tsm (`contrast emulate
  // tsm`), read by the issuer real guests use. Null after a test failure.
  std::unique_ptr<attest::Issuer> WorkloadVmIssuer(const std::string& policy) {
    attest::emulated::Measurement measurement{};
    attest::emulated::HostData host_data{};
    const Bytes measurement_bytes = HexDecode(kMeasurement).value_or(Bytes{});
    const Bytes host_bytes = HexDecode(hashes_.at(policy)).value_or(Bytes{});
    if (measurement_bytes.size() != measurement.size() || host_bytes.size() != host_data.size()) {
      ADD_FAILURE() << "bad measurement or policy hash";
      return nullptr;
    }
    std::copy(measurement_bytes.begin(), measurement_bytes.end(), measurement.begin());
    std::copy(host_bytes.begin(), host_bytes.end(), host_data.begin());
    auto token = attest::emulated::RegisterVmWithDaemon(socket_, measurement, host_data);
    if (!token) {
      ADD_FAILURE() << token.error().message;
      return nullptr;
    }
    const std::filesystem::path mount = dir_ / ("tsm-" + policy + "-" + std::to_string(tsms_.size()));
    std::filesystem::create_directories(mount);
    tsms_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{bin_ + "/contrast", "emulate", "tsm", "--mount", mount.string()},
        dir_ / ("tsm-" + std::to_string(tsms_.size()) + ".log"),
        std::map<std::string, std::string>{{attest::emulated::kSocketEnv, socket_.string()},
                                           {attest::emulated::kVmTokenEnv, *token}}));
    if (!tsms_.back()->WaitUntil([&] {
          std::error_code ec;  // a mount going away answers ENOTCONN for a moment
          return std::filesystem::exists(mount / "report", ec) && !ec;
        })) {
      ADD_FAILURE() << "the emulated configfs-tsm did not serve " << mount << ":\n" << tsms_.back()->Output();
      return nullptr;
    }
    auto issuer = attest::tsm::ConfigfsTsmIssuer::Open({.tsm_dir = mount});
    if (!issuer) {
      ADD_FAILURE() << issuer.error().message;
      return nullptr;
    }
    return std::move(*issuer);
  }

  long Probe(const std::string& path) {
    auto response = http::Get("http://127.0.0.1:" + std::to_string(probe_port_) + path);
    return response ? response->status : -1;
  }

  std::string Metrics() {
    auto response = http::Get("http://127.0.0.1:" + std::to_string(probe_port_) + "/metrics");
    return response ? std::string(response->body.begin(), response->body.end()) : "";
  }

  std::string User() const { return "127.0.0.1:" + std::to_string(user_port_); }

  Completed Set(const std::string& manifest, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"set",         "-c",        User(), "-m", manifest, "--workspace-dir",
                                     dir_.string(), "--timeout", "20"};
    for (const char* name : {"coordinator", "web", "client"}) args.push_back(PolicyPath(name).string());
    args.insert(args.end(), extra.begin(), extra.end());
    return Contrast(args);
  }

  std::vector<std::string> InitializerArgs(const std::string& policy, const std::filesystem::path& root,
                                           const std::string& timeout = "60") const {
    return {bin_ + "/contrast",
            "emulate",
            "run",
            "--socket",
            socket_.string(),
            "--policy",
            PolicyPath(policy).string(),
            "--measurement",
            kMeasurement,
            "--",
            "/usr/bin/env",
            "COORDINATOR_HOST=127.0.0.1:" + std::to_string(mesh_port_),
            bin_ + "/contrast-initializer",
            "--root-dir",
            root.string(),
            "--timeout",
            timeout};
  }

  Completed Initialize(const std::string& policy, const std::filesystem::path& root,
                       const std::string& timeout = "60") {
    return RunProcess(InitializerArgs(policy, root, timeout), dir_ / ("init-" + std::to_string(++runs_) + ".log"));
  }

  std::filesystem::path dir_;
  std::filesystem::path socket_;
  std::unique_ptr<ChildProcess> daemon_;
  std::unique_ptr<ChildProcess> coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> tsms_;  // WorkloadVmIssuer's
  std::string root_hash_;
  std::map<std::string, std::string> hashes_;
  std::string owner_digest_;
  // Manifest() lists these: hex PKCS#1 RSA public keys, and workload name ->
  // WorkloadSecretID.
  std::vector<std::string> seedshare_owner_keys_;
  std::map<std::string, std::string> workload_secret_ids_;
  uint16_t user_port_ = 0, mesh_port_ = 0, probe_port_ = 0;
  int runs_ = 0;
  int coordinator_runs_ = 0;
  // Where the binaries under test are (a test may run another build's).
  std::string bin_ = kBin;
};

inline std::string Read(const std::filesystem::path& path) {
  auto text = ReadTextFile(path);
  return text ? *text : "";
}

}  // namespace contrast::e2e
