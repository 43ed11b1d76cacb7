// The fixture of the high-availability tests (issue #17): a real etcd
// cluster of three members with TLS (Debian's etcd-server), three
// Coordinator replicas on it, each in its own emulated VM with the same
// Coordinator policy and each naming the other two as --peers, plus a load of
// workloads asking for certificates (the Initializer's own library call,
// RequestMeshCredentials, from this process) and of manifest updates (the
// `contrast set` binary), and the check that nothing was lost.
//
// Durations and rounds are short by default (CI); scripts/ha-fault-test runs
// the same tests longer (CONTRAST_HA_LOAD_SECONDS, CONTRAST_HA_ROUNDS).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crypto/hash.h"
#include "crypto/x509.h"
#include "e2e/coordinator_fixture.h"
#include "initializer/initializer.h"
#include "seed/shares.h"
#include "session/credentials.h"
#include "support/etcd_cluster.h"

namespace contrast::e2e {

inline int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::max(1, std::atoi(value));
}

// How long each fault test keeps its load running around a fault.
inline std::chrono::seconds LoadDuration() { return std::chrono::seconds(EnvInt("CONTRAST_HA_LOAD_SECONDS", 2)); }
// scripts/ha-fault-test: faults that take long to show (a black-holed link).
inline bool LongRun() { return std::getenv("CONTRAST_HA_LONG") != nullptr; }
// Rounds of the concurrent-update test.
inline int ConcurrentRounds() { return EnvInt("CONTRAST_HA_ROUNDS", 10); }

// One manifest update as the load made it.
struct UpdateRecord {
  int updater = 0;
  size_t replica = 0;
  std::string manifest_sha256;
  bool acknowledged = false;
  // The call failed in transport (the replica died, a deadline passed): the
  // update may or may not have been stored.
  bool outcome_unknown = false;
  std::string mesh_ca_pem;  // acknowledged only
  std::string output;
};

// One certificate a workload received.
struct IssuedCertificate {
  size_t replica = 0;
  initializer::MeshCredentials credentials;
};

struct Ledger {
  std::mutex mutex;
  std::vector<UpdateRecord> updates;  // in the order they finished
  std::vector<IssuedCertificate> certificates;
  std::map<size_t, int> issued;  // per replica
  std::map<size_t, int> refused;
  std::vector<std::string> refusals;  // "replica i: reason"
};

struct LoadOptions {
  int certificate_threads = 2;
  int updaters = 1;
  // Pause between one updater's updates (a bounded load).
  std::chrono::milliseconds update_pause{std::chrono::milliseconds(150)};
};

class HaE2e : public CoordinatorE2e {
 protected:
  static constexpr size_t kReplicas = 3;

  struct Replica {
    uint16_t user = 0, mesh = 0, probe = 0;
    std::unique_ptr<ChildProcess> process;
    int runs = 0;
  };

  void SetUp() override {
    CoordinatorE2e::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    CONTRAST_REQUIRE_ETCD();
    // Recovery by a seed-share owner (all replicas down); RSA-2048 keeps it
    // fast.
    auto owner = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
    ASSERT_TRUE(owner);
    ASSERT_TRUE(WriteFileAtomic(dir_ / "seedshare-owner.pem", *owner->ToPkcs8Pem(), 0600));
    seedshare_owner_keys_.push_back(HexEncode(*seed::RsaPublicKeyPkcs1Der(*owner)));

    etcd_ = std::make_unique<testing::EtcdCluster>(3, /*tls=*/true);
    ASSERT_TRUE(etcd_->Start());
    ASSERT_TRUE(WriteFileAtomic(dir_ / "etcd-ca.pem", etcd_->ca_pem()));
    ASSERT_TRUE(WriteFileAtomic(dir_ / "etcd-client.pem", etcd_->client_cert_pem()));
    ASSERT_TRUE(WriteFileAtomic(dir_ / "etcd-client-key.pem", etcd_->client_key_pem(), 0600));
    for (Replica& r : replicas_) {
      r.user = testing::FreeLoopbackPort();
      r.mesh = testing::FreeLoopbackPort();
      r.probe = testing::FreeLoopbackPort();
    }
    manifest_ = WriteManifest("manifest.json", Manifest(kMeasurement));
  }

  void TearDown() override {
    StopLoad();
    for (Replica& r : replicas_) r.process.reset();
    etcd_.reset();
    CoordinatorE2e::TearDown();
  }

  // --store for `endpoints` (default: the cluster's own).
  std::string StoreUrl(const std::vector<std::string>& endpoints) const {
    std::string url = "etcd://";
    for (size_t i = 0; i < endpoints.size(); ++i) url += (i ? "," : "") + endpoints[i];
    return url + "/contrast-e2e";
  }

  // Starts replica i (on the ports it had before, so peers and clients find
  // it again) and waits until it answers its liveness probe.
  void StartReplica(size_t i, std::optional<std::vector<std::string>> store_endpoints = std::nullopt) {
    Replica& r = replicas_[i];
    std::string peers;
    for (size_t j = 0; j < kReplicas; ++j) {
      if (j != i) peers += (peers.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(replicas_[j].mesh);
    }
    const std::vector<std::string> command = {
        bin_ + "/contrast",
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
        (dir_ / ("replica-" + std::to_string(i))).string(),
        "--store",
        StoreUrl(store_endpoints.value_or(etcd_->endpoints())),
        "--etcd-ca",
        (dir_ / "etcd-ca.pem").string(),
        "--etcd-cert",
        (dir_ / "etcd-client.pem").string(),
        "--etcd-key",
        (dir_ / "etcd-client-key.pem").string(),
        "--user-api-address",
        "127.0.0.1:" + std::to_string(r.user),
        "--mesh-api-address",
        "127.0.0.1:" + std::to_string(r.mesh),
        "--probe-address",
        "127.0.0.1:" + std::to_string(r.probe),
        "--peers",
        peers,
        "--peer-recovery-interval",
        "1",
    };
    r.process = std::make_unique<ChildProcess>(
        command, dir_ / ("replica-" + std::to_string(i) + "-run-" + std::to_string(++r.runs) + ".log"));
    ASSERT_TRUE(r.process->WaitUntil([&] { return ReplicaProbe(i, "/probe/liveness") == 200; }))
        << "replica " << i << " did not come up:\n"
        << r.process->Output();
  }

  void StartAll() {
    for (size_t i = 0; i < kReplicas; ++i) {
      StartReplica(i);
      if (HasFatalFailure()) return;
    }
  }

  // SIGKILL to the replica's VM (the launcher and the Coordinator in it).
  void KillReplica(size_t i) {
    ASSERT_TRUE(replicas_[i].process);
    replicas_[i].process->Kill();
  }

  long ReplicaProbe(size_t i, const std::string& path) const {
    auto response = http::Get("http://127.0.0.1:" + std::to_string(replicas_[i].probe) + path);
    return response ? response->status : -1;
  }
  bool Ready(size_t i) const { return ReplicaProbe(i, "/probe/readiness") == 200; }
  std::string ReadinessReason(size_t i) const {
    auto response = http::Get("http://127.0.0.1:" + std::to_string(replicas_[i].probe) + "/probe/readiness");
    return response ? std::string(response->body.begin(), response->body.end()) : "(no answer)";
  }
  // Polls until replica i is ready (true) or `within` passes (false).
  bool WaitReady(size_t i, std::chrono::milliseconds within) const {
    return WaitFor([&] { return Ready(i); }, within);
  }
  bool WaitNotReady(size_t i, std::chrono::milliseconds within) const {
    return WaitFor([&] { return !Ready(i); }, within);
  }
  // A replica's log is written asynchronously to the state it reports.
  bool LogsEventually(size_t i, std::string_view needle) const {
    return WaitFor([&] { return replicas_[i].process->Output().find(needle) != std::string::npos; },
                   std::chrono::seconds(5));
  }
  static bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }

  std::string UserOf(size_t i) const { return "127.0.0.1:" + std::to_string(replicas_[i].user); }
  std::string MeshOf(size_t i) const { return "127.0.0.1:" + std::to_string(replicas_[i].mesh); }

  // Thread-safe `contrast ...` (its own log file per run).
  Completed RunContrast(std::vector<std::string> args) {
    args.insert(args.begin(), bin_ + "/contrast");
    return RunProcess(args, dir_ / ("ha-contrast-" + std::to_string(++contrast_runs_) + ".log"));
  }

  Completed SetVia(size_t i, const std::string& manifest, const std::filesystem::path& workspace,
                   std::vector<std::string> extra = {}, const std::string& timeout = "15") {
    std::vector<std::string> args = {
        "set", "-c", UserOf(i), "-m", manifest, "--workspace-dir", workspace.string(), "--timeout", timeout};
    for (const char* name : {"coordinator", "web", "client"}) args.push_back(PolicyPath(name).string());
    args.insert(args.end(), extra.begin(), extra.end());
    return RunContrast(args);
  }

  Completed VerifyVia(size_t i, const std::string& manifest, const std::filesystem::path& workspace) {
    return RunContrast(
        {"verify", "-c", UserOf(i), "-m", manifest, "--workspace-dir", workspace.string(), "--timeout", "30"});
  }

  Completed RecoverVia(size_t i) {
    return RunContrast({"recover", "-c", UserOf(i), "-m", manifest_, "--seedshare-owner-key",
                        (dir_ / "seedshare-owner.pem").string(), "--seed", (dir_ / "seed-shares.json").string(),
                        "--workspace-dir", dir_.string(), "--timeout", "20"});
  }

  // The manifest with one more SAN for "web": a distinct manifest per tag.
  std::string ManifestVariant(const std::string& tag) {
    std::string text = Manifest(kMeasurement);
    const std::string web = "[\"web\", \"127.0.0.1\"]";
    const size_t at = text.find(web);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos) text.replace(at, web.size(), "[\"web\", \"web-" + tag + "\", \"127.0.0.1\"]");
    return WriteManifest("manifest-" + tag + ".json", text);
  }

  // A workspace for one updater: its own verify/ state, the shared owner key.
  std::filesystem::path Workspace(const std::string& name) {
    const std::filesystem::path workspace = dir_ / name;
    std::filesystem::create_directories(workspace);
    EXPECT_TRUE(WriteFileAtomic(workspace / "workload-owner.pem", Read(dir_ / "workload-owner.pem"), 0600));
    return workspace;
  }

  // The first manifest via replica i, from the fixture's workspace (which
  // then holds the seed shares).
  void SetFirstManifest(size_t i) {
    const Completed set = SetVia(i, manifest_, dir_);
    ASSERT_EQ(set.code, 0) << set.output;
    first_mesh_ca_ = Read(dir_ / "mesh-ca.pem");
  }

  // ---- Load -------------------------------------------------------------------

  // Starts workloads and updaters round-robin over every replica (the
  // killed ones too: their refusals are counted, not hidden).
  void StartLoad(LoadOptions options = LoadOptions()) {
    stop_load_ = false;
    for (int t = 0; t < options.certificate_threads; ++t) {
      std::shared_ptr<attest::Issuer> issuer(WorkloadVmIssuer("web").release());
      ASSERT_TRUE(issuer);
      load_.emplace_back([this, issuer, t] {
        for (size_t n = static_cast<size_t>(t); !stop_load_; ++n) RequestCertificate(n % kReplicas, *issuer);
      });
    }
    for (int u = 0; u < options.updaters; ++u) {
      const std::filesystem::path workspace = Workspace("updater-" + std::to_string(u));
      load_.emplace_back([this, u, workspace, pause = options.update_pause] {
        for (size_t n = static_cast<size_t>(u); !stop_load_; ++n) {
          if (static_cast<int>(n % kReplicas) == updates_skip_) continue;
          Update(u, n % kReplicas, workspace, "u" + std::to_string(u) + "-" + std::to_string(n));
          std::this_thread::sleep_for(pause);
        }
      });
    }
  }

  void StopLoad() {
    stop_load_ = true;
    for (std::thread& t : load_) t.join();
    load_.clear();
  }

  void RequestCertificate(size_t replica, attest::Issuer& issuer) {
    auto identity = session::SessionIdentity::Generate();
    if (!identity) return;
    auto credentials =
        initializer::RequestMeshCredentials(MeshOf(replica), *identity, issuer, nullptr, std::chrono::seconds(5));
    std::lock_guard lock(ledger_.mutex);
    if (credentials) {
      ++ledger_.issued[replica];
      if (ledger_.certificates.size() < 5000) ledger_.certificates.push_back({replica, std::move(*credentials)});
    } else {
      ++ledger_.refused[replica];
      if (ledger_.refusals.size() < 200) {
        ledger_.refusals.push_back("replica " + std::to_string(replica) + ": " + credentials.error().message);
      }
      // A dead replica refuses at once: do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // One `contrast set` of a fresh manifest variant via `replica`.
  UpdateRecord Update(int updater, size_t replica, const std::filesystem::path& workspace, const std::string& tag) {
    const std::string manifest = ManifestVariant(tag);
    UpdateRecord record;
    record.updater = updater;
    record.replica = replica;
    record.manifest_sha256 = Sha256Hex(Read(manifest));
    // A short --timeout: the load must not sit on an unreachable replica.
    const Completed set = SetVia(replica, manifest, workspace, {"--allow-unverified-base"}, "5");
    record.acknowledged = set.code == 0;
    record.output = set.output;
    if (record.acknowledged) {
      record.mesh_ca_pem = Read(workspace / "mesh-ca.pem");
    } else {
      // Refusals the Coordinator made on purpose leave nothing behind; a
      // call cut off in transport may have been stored before it was cut.
      // A call the CLI had to retry may have been stored by an attempt
      // whose answer was lost.
      const bool retried = set.output.find("waiting for the Coordinator") != std::string::npos;
      record.outcome_unknown = retried || (set.output.find("concurrent update") == std::string::npos &&
                                           set.output.find("FAILED_PRECONDITION") == std::string::npos &&
                                           set.output.find("PERMISSION_DENIED") == std::string::npos &&
                                           set.output.find("awaiting recovery") == std::string::npos);
    }
    std::lock_guard lock(ledger_.mutex);
    ledger_.updates.push_back(record);
    return record;
  }

  int Issued(size_t replica) {
    std::lock_guard lock(ledger_.mutex);
    return ledger_.issued[replica];
  }
  int Refused(size_t replica) {
    std::lock_guard lock(ledger_.mutex);
    return ledger_.refused[replica];
  }
  int Acknowledged() {
    std::lock_guard lock(ledger_.mutex);
    return static_cast<int>(std::count_if(ledger_.updates.begin(), ledger_.updates.end(),
                                          [](const UpdateRecord& r) { return r.acknowledged; }));
  }

  // ---- The check that nothing was lost ----------------------------------------

  // Manifest SHA-256s of `verify/` in `workspace`, oldest first.
  static std::vector<std::string> VerifiedHistory(const std::filesystem::path& workspace) {
    std::vector<std::string> hashes;
    for (size_t i = 0;; ++i) {
      const std::filesystem::path file = workspace / "verify" / ("manifest." + std::to_string(i) + ".json");
      if (!std::filesystem::exists(file)) break;
      hashes.push_back(Sha256Hex(Read(file)));
    }
    return hashes;
  }

  // After the load: every replica in `live` becomes ready and serves the
  // same history (no fork); every acknowledged update is in it, in the order
  // each updater saw it acknowledged; no update the Coordinator refused is
  // in it; every certificate chains to a mesh CA of an update in the history
  // and to the one root.
  void ExpectNothingLost(const std::vector<size_t>& live) {
    for (size_t i : live) {
      ASSERT_TRUE(WaitReady(i, std::chrono::seconds(45)))
          << "replica " << i << " is not ready: " << ReadinessReason(i) << "\n"
          << replicas_[i].process->Output();
    }
    // A closing update settles the history, so that verify can name it.
    // (A fresh manifest per attempt: one whose answer was lost may still
    // have been stored.)
    const std::filesystem::path closing_workspace = Workspace("closing");
    std::string closing;
    Completed set{1, ""};
    for (int attempt = 0; attempt < 5 && set.code != 0; ++attempt) {
      closing = ManifestVariant("closing-" + std::to_string(attempt));
      set = SetVia(live.front(), closing, closing_workspace, {"--allow-unverified-base"});
    }
    ASSERT_EQ(set.code, 0) << set.output;

    std::optional<std::vector<std::string>> history;
    std::string root_ca;
    for (size_t i : live) {
      const std::filesystem::path workspace =
          Workspace("verify-" + std::to_string(i) + "-" + std::to_string(++verifies_));
      // A replica that has not reloaded the closing update yet answers with
      // the one before; it catches up through its watch.
      Completed verified{1, ""};
      ASSERT_TRUE(WaitFor(
          [&] {
            verified = VerifyVia(i, closing, workspace);
            return verified.code == 0;
          },
          std::chrono::seconds(30)))
          << "verify via replica " << i << ":\n"
          << verified.output;
      const std::vector<std::string> seen = VerifiedHistory(workspace);
      ASSERT_FALSE(seen.empty());
      EXPECT_EQ(seen.back(), Sha256Hex(Read(closing)));
      if (history) {
        EXPECT_EQ(seen, *history) << "replica " << i << " serves another history";
      } else {
        history = seen;
        root_ca = Read(workspace / "verify" / "coordinator-root-ca.pem");
      }
    }
    ASSERT_TRUE(history.has_value());
    std::map<std::string, size_t> position;
    for (size_t p = 0; p < history->size(); ++p) {
      EXPECT_TRUE(position.emplace((*history)[p], p).second) << "manifest " << (*history)[p] << " is in it twice";
    }

    std::lock_guard lock(ledger_.mutex);
    std::set<std::string> mesh_cas = {first_mesh_ca_};
    std::map<int, size_t> last_position;  // per updater
    bool unknown_stored = false;
    int acknowledged = 0;
    for (const UpdateRecord& update : ledger_.updates) {
      const auto at = position.find(update.manifest_sha256);
      if (update.acknowledged) {
        ++acknowledged;
        mesh_cas.insert(update.mesh_ca_pem);
        if (at == position.end()) {
          std::string manifests;
          for (const std::string& hash : *history) manifests += "  " + hash + "\n";
          FAIL() << "acknowledged update " << update.manifest_sha256 << " via replica " << update.replica
                 << " is missing from the history:\n"
                 << manifests << "`contrast set` said:\n"
                 << update.output;
        }
        if (last_position.count(update.updater)) {
          EXPECT_GT(at->second, last_position[update.updater])
              << "updater " << update.updater << "'s updates are out of order";
        }
        last_position[update.updater] = at->second;
      } else if (at != position.end()) {
        EXPECT_TRUE(update.outcome_unknown) << "an update the Coordinator refused is in the history:\n"
                                            << update.output;
        unknown_stored = true;
      }
    }
    // The first manifest, every acknowledged update and the closing one.
    EXPECT_GE(history->size(), static_cast<size_t>(acknowledged) + 2);

    auto root = crypto::Certificate::ParsePem(root_ca);
    ASSERT_TRUE(root) << root.error().message;
    for (const IssuedCertificate& issued : ledger_.certificates) {
      const initializer::MeshCredentials& c = issued.credentials;
      EXPECT_EQ(c.root_ca_pem, root_ca) << "a certificate from replica " << issued.replica << " has another root";
      auto chain = crypto::Certificate::ParsePemChain(c.cert_chain_pem);
      auto mesh_ca = crypto::Certificate::ParsePem(c.mesh_ca_pem);
      ASSERT_TRUE(chain && chain->size() == 2 && mesh_ca);
      EXPECT_TRUE((*chain)[0].VerifySignedBy(*mesh_ca));
      EXPECT_TRUE((*chain)[0].VerifySignedBy((*chain)[1])) << "the leaf is not signed by its intermediate";
      EXPECT_TRUE((*chain)[1].VerifySignedBy(*root)) << "the intermediate is not signed by the root";
      // Mesh CAs of updates whose acknowledgement was lost are not known
      // here; their intermediates still chain to the root (above).
      if (!unknown_stored) {
        EXPECT_TRUE(mesh_cas.count(c.mesh_ca_pem))
            << "a certificate from replica " << issued.replica << " is under a mesh CA no update returned";
      }
    }
  }

  std::unique_ptr<testing::EtcdCluster> etcd_;
  std::array<Replica, kReplicas> replicas_;
  std::string manifest_;
  std::string first_mesh_ca_;
  Ledger ledger_;
  std::vector<std::thread> load_;
  std::atomic<bool> stop_load_{false};
  // A replica the updaters leave out for now (-1: none), so that a fault
  // test's updates go on while it waits for that replica.
  std::atomic<int> updates_skip_{-1};
  std::atomic<int> contrast_runs_{0};
  int verifies_ = 0;
};

}  // namespace contrast::e2e
