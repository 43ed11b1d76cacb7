// Load generator for the Coordinator on etcd (issue #17), one run:
//
//  1. Attested sessions per second (NewMeshCert, both ends attest, as an
//     Initializer runs it) against 1 Coordinator and then against R replicas
//     (default 3) sharing one etcd cluster, with the same total number of
//     client threads; each thread sends its sessions to the replicas in
//     turn. Replicas 2..R get the seed by peer recovery from replica 1.
//  2. SetManifest latency (p50, p99, max) of N owner-signed updates (each
//     changes one SAN, so every manifest has the same size) on etcd, first
//     with the other replicas running (they follow the history through their
//     watch), then with replica 1 alone, then on a DirectoryStore in a
//     temporary directory; the ratio etcd / directory.
//
// etcd: a real 3-member cluster with TLS everywhere (tests/support
// etcd_cluster.h), on loopback, on this machine. Everything runs on the
// emulated platform, in this process. Prints a table, then one JSON object
// (also written to --json FILE).
//
// Usage: ha_bench [--seconds N] [--clients N] [--replicas N] [--updates N] [--json FILE]
#include <openssl/opensslv.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/emulated/issuer.h"
#include "attest/emulated/secure_processor.h"
#include "attest/evidence_verifier.h"
#include "attestation_policy/reference_values.h"
#include "contrast/meshapi.grpc.pb.h"
#include "contrast/userapi.grpc.pb.h"
#include "coordinator/coordinator.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "history/directory_store.h"
#include "history/etcd_store.h"
#include "history/history.h"
#include "manifest/manifest.h"
#include "session/credentials.h"
#include "session/nonce.h"
#include "session/protocol.h"
#include "support/etcd_cluster.h"

namespace {

using namespace contrast;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// What a failure must not leave behind: std::exit skips main's destructors,
// and the etcd members are processes of their own (own process group).
std::unique_ptr<contrast::testing::EtcdCluster> g_cluster;
std::filesystem::path g_directory_store;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "ha_bench: %s\n", message.c_str());
  std::fflush(stderr);
  g_cluster.reset();  // kills the members, removes their directory
  if (!g_directory_store.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(g_directory_store, ec);
  }
  // Coordinator threads are still running: no static destructors.
  std::_Exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) Die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

void Must(Status s, const char* what) {
  if (!s) Die(std::string(what) + ": " + s.error().message);
}

struct Flags {
  int seconds = 10;
  int clients = 16;
  int replicas = 3;
  int updates = 200;
  std::string json_file;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: ha_bench [--seconds N] [--clients N] [--replicas N] [--updates N] [--json FILE]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) Die("missing value for " + flag);
    const std::string value = argv[++i];
    auto number = [&](int min) {
      const int n = std::atoi(value.c_str());
      if (n < min) Die(flag + " must be at least " + std::to_string(min));
      return n;
    };
    if (flag == "--seconds") {
      flags.seconds = number(1);
    } else if (flag == "--clients") {
      flags.clients = number(1);
    } else if (flag == "--replicas") {
      flags.replicas = number(2);
    } else if (flag == "--updates") {
      flags.updates = number(1);
    } else if (flag == "--json") {
      flags.json_file = value;
    } else {
      Die("unknown flag " + flag);
    }
  }
  return flags;
}

std::string EtcdVersion() {
  FILE* pipe = ::popen((std::string(contrast::testing::kEtcdBinary) + " --version 2>&1").c_str(), "r");
  if (pipe == nullptr) return "unknown";
  char line[256] = {};
  std::string version = "unknown";
  if (std::fgets(line, sizeof line, pipe) != nullptr) {
    version = line;
    const std::string prefix = "etcd Version: ";
    if (version.rfind(prefix, 0) == 0) version = version.substr(prefix.size());
    while (!version.empty() && (version.back() == '\n' || version.back() == '\r')) version.pop_back();
  }
  ::pclose(pipe);
  return version;
}

// ---- The deployment: emulated platform, manifest, owner ------------------

const std::string kCoordinatorPolicy = "package agent_policy\n# coordinator\n";
const std::string kWebPolicy = "package agent_policy\n# web\n";

struct Deployment {
  std::optional<attest::emulated::SecureProcessor> sp;
  attest::emulated::Measurement measurement{};
  std::optional<crypto::PrivateKey> owner_key;
  Bytes owner_spki;
  std::shared_ptr<attest::Issuer> workload_issuer;
  // What clients check the Coordinator against, as the Initializer does.
  attest::AcceptableReferenceValues coordinator_values;
  attest::EvidenceVerifier verifier;
  mutable session::NonceTracker nonces;
  std::shared_ptr<spdlog::logger> quiet =
      std::make_shared<spdlog::logger>("ha-bench", std::make_shared<spdlog::sinks::null_sink_mt>());

  std::shared_ptr<attest::Issuer> VmIssuer(const std::string& policy) const {
    return std::make_shared<attest::emulated::InsecureEmulatedIssuer>(attest::emulated::InsecureEmulatedIssuer::ForVm(
        *sp, Must(sp->RegisterVm(measurement, manifest::PolicyHashOf(AsBytes(policy)).bytes), "registering a VM")));
  }

  // The manifest of update `version` (0: the first): web's SANs name the
  // version, with a fixed width so that every manifest has the same size.
  manifest::Manifest ManifestVersion(int version) const {
    manifest::Manifest m;
    m.policies[manifest::PolicyHashOf(AsBytes(kCoordinatorPolicy))] = {
        {"coordinator"}, "", manifest::Role::kCoordinator};
    char san[32];
    std::snprintf(san, sizeof san, "web-%06d", version);
    m.policies[manifest::PolicyHashOf(AsBytes(kWebPolicy))] = {{"web", "*", san}, "", manifest::Role::kNone};
    attest::emulated::InsecureEmulatedReferenceValues entry;
    entry.snp.product = sp->product();
    entry.snp.trusted_measurement = measurement;
    entry.snp.minimum_tcb = sp->tcb();
    entry.snp.guest_policy.smt = true;
    entry.snp.platform_info.smt_enabled = true;
    // The emulator publishes no CRL.
    entry.snp.allow_missing_revocation_check = true;
    entry.root_sha256 = crypto::Sha256(sp->ark_der());
    m.reference_values.emulated.push_back(entry);
    m.workload_owner_key_digests.push_back(crypto::Sha256(owner_spki));
    return m;
  }
};

std::unique_ptr<Deployment> MakeDeployment() {
  auto d = std::make_unique<Deployment>();
  d->sp.emplace(Must(attest::emulated::SecureProcessor::CreateInMemory(), "emulator"));
  d->measurement.fill(0x42);
  d->owner_key.emplace(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384), "owner key"));
  d->owner_spki = Must(d->owner_key->PublicKeyDer(), "owner public key");
  d->workload_issuer = d->VmIssuer(kWebPolicy);
  d->coordinator_values = attestation_policy::CoordinatorReferenceValues(d->ManifestVersion(0));
  return d;
}

std::unique_ptr<coordinator::Coordinator> StartCoordinator(const Deployment& d, std::shared_ptr<history::Store> store,
                                                           std::vector<std::string> peers = {}) {
  coordinator::CoordinatorOptions options;
  options.user_api_address = "127.0.0.1:0";
  options.mesh_api_address = "127.0.0.1:0";
  options.probe_address = "127.0.0.1:0";
  options.store = std::move(store);
  options.logger = d.quiet;
  options.peers = std::move(peers);
  options.peer_recovery_interval = std::chrono::milliseconds(200);
  return Must(coordinator::Coordinator::Start(options, d.VmIssuer(kCoordinatorPolicy)), "starting a Coordinator");
}

bool WaitReady(const coordinator::Coordinator& c, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (c.readiness().ready) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// ---- SetManifest, as `contrast set` runs it --------------------------------

class Owner {
 public:
  Owner(const Deployment& d, uint16_t user_api_port)
      : d_(d),
        identity_(Must(session::SessionIdentity::Generate(), "identity")),
        stub_(v1::UserAPI::NewStub(
            Must(session::CreateSessionChannel("127.0.0.1:" + std::to_string(user_api_port), identity_), "channel"))) {}

  // The first manifest (no signature) or, with `previous` set, an update
  // signed by the owner. The transition hash and root CA for the next one.
  void Set(int version) {
    const manifest::Manifest m = d_.ManifestVersion(version);
    v1::SetManifestRequest request;
    request.set_manifest(manifest::SerializeManifest(m));
    request.add_policies(kCoordinatorPolicy);
    request.add_policies(kWebPolicy);
    if (!latest_.empty()) {
      history::TransitionHash previous{};
      std::copy(latest_.begin(), latest_.end(), previous.begin());
      const history::TransitionHash transition =
          history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(request.manifest())), previous);
      request.set_owner_public_key(std::string(AsChars(d_.owner_spki)));
      const auto root_key = Must(history::RootKeyDigestOfPem(root_ca_), "root CA");
      request.set_owner_signature(
          std::string(AsChars(Must(history::SignTransition(*d_.owner_key, root_key, transition), "signing"))));
    }
    session::ClientSession call([&](grpc::ClientContext* c) { return stub_->SetManifest(c); });
    Must(call.AttestPeer(session::Role::kCoordinator, d_.verifier, d_.coordinator_values, d_.nonces),
         "attesting the Coordinator");
    v1::SetManifestResponse response;
    Must(call.Send(request), "sending SetManifest");
    Must(call.Receive(&response), "SetManifest");
    Must(call.Finish(), "SetManifest");
    if (response.transition_hash().size() != 32) Die("SetManifest returned no transition hash");
    latest_ = response.transition_hash();
    root_ca_ = response.root_ca();
  }

 private:
  const Deployment& d_;
  session::SessionIdentity identity_;
  std::unique_ptr<v1::UserAPI::Stub> stub_;
  std::string latest_;
  std::string root_ca_;
};

// ---- Statistics ------------------------------------------------------------

struct Latencies {
  size_t count = 0;
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Latencies Summarize(std::vector<double> ms) {
  Latencies l;
  if (ms.empty()) return l;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
  };
  l.count = ms.size();
  l.p50 = at(0.50);
  l.p99 = at(0.99);
  l.max = ms.back();
  double sum = 0;
  for (double v : ms) sum += v;
  l.mean = sum / static_cast<double>(ms.size());
  return l;
}

json ToJson(const Latencies& l) {
  return {{"count", l.count}, {"p50_ms", l.p50}, {"p99_ms", l.p99}, {"max_ms", l.max}, {"mean_ms", l.mean}};
}

// ---- 1. Attested sessions ----------------------------------------------------

bool OneSession(const Deployment& d, const std::string& target) {
  auto identity = session::SessionIdentity::Generate();
  if (!identity) return false;
  auto channel = session::CreateSessionChannel(target, *identity);
  if (!channel) return false;
  v1::MeshAPI::Stub stub(*channel);
  session::ClientSession call([&](grpc::ClientContext* c) { return stub.NewMeshCert(c); });
  v1::NewMeshCertResponse response;
  return call.Send(v1::NewMeshCertRequest{}) &&
         call.AttestSelf(session::Role::kWorkload, *d.workload_issuer, identity->spki_der()) &&
         call.AttestPeer(session::Role::kCoordinator, d.verifier, d.coordinator_values, d.nonces) &&
         call.Receive(&response) && call.Finish() && !response.cert_chain().empty();
}

struct SessionRun {
  size_t replicas = 0;
  size_t sessions = 0;
  size_t errors = 0;
  double per_second = 0;
  Latencies latency;
  std::vector<size_t> per_replica;
};

SessionRun RunSessions(const Deployment& d, const std::vector<std::string>& targets, int clients,
                       std::chrono::seconds duration) {
  std::mutex mutex;
  std::vector<double> latencies;
  std::vector<size_t> per_replica(targets.size(), 0);
  std::atomic<size_t> errors{0};
  const auto start = Clock::now();
  const auto deadline = start + duration;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> mine;
      std::vector<size_t> mine_per_replica(targets.size(), 0);
      for (size_t i = static_cast<size_t>(t); Clock::now() < deadline; ++i) {
        const size_t replica = i % targets.size();
        const auto t0 = Clock::now();
        if (!OneSession(d, targets[replica])) {
          ++errors;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        ++mine_per_replica[replica];
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      for (size_t r = 0; r < targets.size(); ++r) per_replica[r] += mine_per_replica[r];
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  SessionRun run;
  run.replicas = targets.size();
  run.sessions = latencies.size();
  run.errors = errors.load();
  run.per_second = static_cast<double>(latencies.size()) / elapsed;
  run.latency = Summarize(std::move(latencies));
  run.per_replica = std::move(per_replica);
  return run;
}

// ---- 2. SetManifest latency --------------------------------------------------

Latencies RunUpdates(Owner& owner, int first_version, int updates) {
  std::vector<double> ms;
  for (int i = 0; i < updates; ++i) {
    const auto t0 = Clock::now();
    owner.Set(first_version + i);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return Summarize(std::move(ms));
}

std::string MeshTarget(const coordinator::Coordinator& c) { return "127.0.0.1:" + std::to_string(c.mesh_api_port()); }

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  if (!contrast::testing::EtcdCluster::Available())
    Die(std::string(contrast::testing::kEtcdBinary) + " is missing (scripts/setup)");
  spdlog::set_level(spdlog::level::warn);

  const unsigned cores = std::thread::hardware_concurrency();
  const std::string etcd_version = EtcdVersion();
  std::printf("machine: %u cores (nproc), etcd %s (3 members, TLS, loopback), OpenSSL %s\n", cores,
              etcd_version.c_str(), OPENSSL_VERSION_STR);
  std::printf("parameters: --seconds %d --clients %d --replicas %d --updates %d\n", flags.seconds, flags.clients,
              flags.replicas, flags.updates);
  std::fflush(stdout);

  g_cluster = std::make_unique<contrast::testing::EtcdCluster>(3, true);
  if (!g_cluster->Start()) Die("the etcd cluster did not start");
  auto etcd_options = g_cluster->StoreOptions("/ha-bench/");
  // The cluster is healthy throughout; the test defaults would only matter
  // on failures.
  etcd_options.rpc_timeout = std::chrono::milliseconds(5000);
  etcd_options.retry_budget = std::chrono::milliseconds(15000);

  auto deployment = MakeDeployment();
  const Deployment& d = *deployment;
  json result;
  result["machine"] = {{"nproc", cores}, {"etcd_version", etcd_version}, {"openssl", OPENSSL_VERSION_STR}};
  result["parameters"] = {{"seconds", flags.seconds}, {"clients", flags.clients}, {"replicas", flags.replicas},
                          {"updates", flags.updates}, {"etcd_members", 3},        {"etcd_tls", true}};

  // ---- 1. sessions ----
  std::vector<std::unique_ptr<coordinator::Coordinator>> replicas;
  replicas.push_back(StartCoordinator(d, Must(history::EtcdStore::Open(etcd_options), "etcd store")));
  Owner etcd_owner(d, replicas[0]->user_api_port());
  etcd_owner.Set(0);
  if (!WaitReady(*replicas[0], std::chrono::seconds(30))) Die("replica 1 is not ready after SetManifest");
  OneSession(d, MeshTarget(*replicas[0]));  // warm-up: caches the emulated chain

  std::vector<SessionRun> runs;
  runs.push_back(RunSessions(d, {MeshTarget(*replicas[0])}, flags.clients, std::chrono::seconds(flags.seconds)));

  const std::vector<std::string> peers = {MeshTarget(*replicas[0])};
  const auto recovery_start = Clock::now();
  for (int r = 1; r < flags.replicas; ++r) {
    replicas.push_back(StartCoordinator(d, Must(history::EtcdStore::Open(etcd_options), "etcd store"), peers));
  }
  for (size_t r = 1; r < replicas.size(); ++r) {
    if (!WaitReady(*replicas[r], std::chrono::seconds(60))) {
      Die("replica " + std::to_string(r + 1) + " did not recover from its peer: " + replicas[r]->readiness().reason);
    }
  }
  const double recovery_ms = std::chrono::duration<double, std::milli>(Clock::now() - recovery_start).count();
  std::vector<std::string> targets;
  for (const auto& replica : replicas) targets.push_back(MeshTarget(*replica));
  for (const std::string& target : targets) OneSession(d, target);
  runs.push_back(RunSessions(d, targets, flags.clients, std::chrono::seconds(flags.seconds)));

  std::printf("\n1. attested sessions (NewMeshCert, both ends attest), %d client threads, %d s each\n", flags.clients,
              flags.seconds);
  std::printf("%9s %10s %7s %12s %9s %9s %9s  %s\n", "replicas", "sessions", "errors", "sessions/s", "p50 ms", "p99 ms",
              "max ms", "per replica");
  json session_json = json::array();
  for (const SessionRun& run : runs) {
    std::string split;
    for (size_t n : run.per_replica) split += (split.empty() ? "" : "/") + std::to_string(n);
    std::printf("%9zu %10zu %7zu %12.1f %9.2f %9.2f %9.2f  %s\n", run.replicas, run.sessions, run.errors,
                run.per_second, run.latency.p50, run.latency.p99, run.latency.max, split.c_str());
    session_json.push_back({{"replicas", run.replicas},
                            {"sessions", run.sessions},
                            {"errors", run.errors},
                            {"sessions_per_second", run.per_second},
                            {"latency", ToJson(run.latency)},
                            {"per_replica", run.per_replica}});
  }
  std::printf("scaling %zu replicas / 1: %.2fx; replicas 2..%zu recovered from replica 1 in %.0f ms\n", replicas.size(),
              runs[1].per_second / std::max(runs[0].per_second, 1e-9), replicas.size(), recovery_ms);
  std::fflush(stdout);
  result["sessions"] = session_json;
  result["peer_recovery_ms"] = recovery_ms;

  // ---- 2. SetManifest ----
  int version = 1;
  const Latencies etcd_all = RunUpdates(etcd_owner, version, flags.updates);
  version += flags.updates;
  for (size_t r = 1; r < replicas.size(); ++r) replicas[r]->Stop();
  const Latencies etcd_one = RunUpdates(etcd_owner, version, flags.updates);
  for (auto& replica : replicas) replica->Stop();
  replicas.clear();

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("contrast-ha-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  g_directory_store = dir;
  Latencies directory;
  {
    auto store = Must(history::DirectoryStore::Open(dir), "directory store");
    auto single = StartCoordinator(d, store);
    Owner dir_owner(d, single->user_api_port());
    dir_owner.Set(0);
    directory = RunUpdates(dir_owner, 1, flags.updates);
    single->Stop();
  }
  std::filesystem::remove_all(dir);
  g_directory_store.clear();
  g_cluster.reset();

  std::printf("\n2. SetManifest latency, %d owner-signed updates each (attestation of the Coordinator included)\n",
              flags.updates);
  std::printf("%-34s %9s %9s %9s %9s %12s\n", "store", "p50 ms", "p99 ms", "max ms", "mean ms", "p50 / dir");
  auto row = [&](const char* name, const Latencies& l) {
    std::printf("%-34s %9.2f %9.2f %9.2f %9.2f %12.2f\n", name, l.p50, l.p99, l.max, l.mean,
                l.p50 / std::max(directory.p50, 1e-9));
  };
  const std::string etcd_all_name = "etcd, " + std::to_string(flags.replicas) + " replicas running";
  row(etcd_all_name.c_str(), etcd_all);
  row("etcd, 1 replica", etcd_one);
  row("directory (temp dir)", directory);
  result["set_manifest"] = {{"etcd_replicas_running", ToJson(etcd_all)},
                            {"etcd_one_replica", ToJson(etcd_one)},
                            {"directory", ToJson(directory)},
                            {"ratio_p50_etcd_one_over_dir", etcd_one.p50 / std::max(directory.p50, 1e-9)},
                            {"ratio_p99_etcd_one_over_dir", etcd_one.p99 / std::max(directory.p99, 1e-9)},
                            {"ratio_p50_etcd_replicas_over_dir", etcd_all.p50 / std::max(directory.p50, 1e-9)}};

  const std::string text = result.dump(2);
  std::printf("\nJSON:\n%s\n", text.c_str());
  if (!flags.json_file.empty()) {
    std::ofstream out(flags.json_file);
    out << text << "\n";
    if (!out) Die("cannot write " + flags.json_file);
  }
  return 0;
}
