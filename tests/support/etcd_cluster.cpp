#include "support/etcd_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/time.h"
#include "crypto/keys.h"
#include "crypto/x509_builder.h"

namespace contrast::testing {
namespace {

using namespace crypto;

struct Issued {
  std::string cert_pem;
  std::string key_pem;
};

// A certificate for `key`, signed by `issuer_key` (self-signed when the names
// match); aborts the test setup on failure (a bug in the test).
std::string Certify(const PrivateKey& key, const DistinguishedName& subject, const PrivateKey& issuer_key,
                    const DistinguishedName& issuer, bool ca, unsigned purposes, uint8_t serial) {
  const TimePoint now = Now();
  CertificateBuilder builder;
  builder.SetSubject(subject)
      .SetIssuer(issuer)
      .SetSerial({serial, 0x01})
      .SetValidity(now - std::chrono::hours(1), now + std::chrono::hours(24))
      .SetPublicKey(key)
      .AddSubjectKeyIdentifier()
      .AddAuthorityKeyIdentifier();
  if (ca) {
    builder.AddBasicConstraints(true).AddKeyUsage(kKeyUsageKeyCertSign | kKeyUsageCrlSign);
  } else {
    builder.AddBasicConstraints(false)
        .AddKeyUsage(kKeyUsageDigitalSignature | kKeyUsageKeyEncipherment)
        .AddExtendedKeyUsage(purposes);
    if (purposes & kExtKeyUsageServerAuth) {
      builder.AddSubjectAltNames(
          {{SubjectAltName::Kind::kIpAddress, "127.0.0.1"}, {SubjectAltName::Kind::kDns, "localhost"}});
    }
  }
  auto der = builder.SignDer(issuer_key);
  if (!der) {
    ADD_FAILURE() << "test certificate: " << der.error().message;
    return "";
  }
  auto pem = CertificatePemFromDer(*der);
  if (!pem) ADD_FAILURE() << "test certificate PEM: " << pem.error().message;
  return pem ? *pem : "";
}

PrivateKey NewKey() {
  auto key = PrivateKey::Generate(KeyType::kEcP256);
  if (!key) std::abort();
  return std::move(*key);
}

std::string KeyPem(const PrivateKey& key) {
  auto pem = key.ToPkcs8Pem();
  if (!pem) std::abort();
  return *pem;
}

void WriteText(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

}  // namespace

bool EtcdCluster::Available() { return ::access(kEtcdBinary, X_OK) == 0; }

std::string EtcdCluster::UnrelatedCaPem() {
  const PrivateKey key = NewKey();
  const DistinguishedName name = {{"CN", "unrelated test CA"}};
  return Certify(key, name, key, name, true, 0, 0x42);
}

EtcdCluster::EtcdCluster(size_t members, bool tls) : tls_(tls) {
  char pattern[] = "/tmp/contrast-etcd-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  dir_ = pattern;
  if (tls_) {
    const PrivateKey ca_key = NewKey();
    const DistinguishedName ca_name = {{"CN", "contrast etcd test CA"}};
    ca_pem_ = Certify(ca_key, ca_name, ca_key, ca_name, true, 0, 0x01);
    const PrivateKey server_key = NewKey();
    const std::string server_pem = Certify(server_key, {{"CN", "etcd member"}}, ca_key, ca_name, false,
                                           kExtKeyUsageServerAuth | kExtKeyUsageClientAuth, 0x02);
    const PrivateKey client_key = NewKey();
    client_cert_pem_ =
        Certify(client_key, {{"CN", "contrast coordinator"}}, ca_key, ca_name, false, kExtKeyUsageClientAuth, 0x03);
    client_key_pem_ = KeyPem(client_key);
    ca_file_ = dir_ / "ca.pem";
    server_cert_ = dir_ / "member.pem";
    server_key_ = dir_ / "member-key.pem";
    WriteText(ca_file_, ca_pem_);
    WriteText(server_cert_, server_pem);
    WriteText(server_key_, KeyPem(server_key));
  }
  for (size_t i = 0; i < members; ++i) {
    Member member;
    member.name = "m" + std::to_string(i);
    member.client_port = FreeLoopbackPort();
    member.peer_port = FreeLoopbackPort();
    member.data_dir = dir_ / member.name;
    members_.push_back(std::move(member));
  }
}

EtcdCluster::~EtcdCluster() {
  for (auto& member : members_) {
    if (member.process) member.process->Kill();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void EtcdCluster::Launch(size_t i, bool first_start) {
  Member& member = members_[i];
  const std::string scheme = tls_ ? "https://" : "http://";
  const std::string client_url = scheme + "127.0.0.1:" + std::to_string(member.client_port);
  const std::string peer_url = scheme + "127.0.0.1:" + std::to_string(member.peer_port);
  std::string initial_cluster;
  for (const auto& m : members_) {
    initial_cluster +=
        (initial_cluster.empty() ? "" : ",") + m.name + "=" + scheme + "127.0.0.1:" + std::to_string(m.peer_port);
  }
  std::vector<std::string> argv = {kEtcdBinary, "--name=" + member.name, "--data-dir=" + member.data_dir.string(),
                                   "--listen-client-urls=" + client_url, "--advertise-client-urls=" + client_url,
                                   "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
                                   "--initial-cluster=" + initial_cluster, "--initial-cluster-token=contrast-test",
                                   std::string("--initial-cluster-state=") + (first_start ? "new" : "existing"),
                                   "--heartbeat-interval=50", "--election-timeout=500",
                                   // 16 MiB values plus framing (EtcdStore's limit).
                                   "--max-request-bytes=17825792", "--logger=zap", "--log-outputs=stderr",
                                   "--log-level=warn",
                                   // Lets the tests ping every second (EtcdStoreOptions keepalive).
                                   "--grpc-keepalive-min-time=500ms"};
  if (tls_) {
    for (const std::string side : {"", "peer-"}) {
      argv.push_back("--" + side + "cert-file=" + server_cert_.string());
      argv.push_back("--" + side + "key-file=" + server_key_.string());
      argv.push_back("--" + side + "trusted-ca-file=" + ca_file_.string());
      argv.push_back("--" + side + "client-cert-auth");
    }
  }
  member.log = dir_ / (member.name + "-" + std::to_string(++launches_) + ".log");
  member.process = std::make_unique<ChildProcess>(argv, member.log, std::map<std::string, std::string>{});
}

bool EtcdCluster::WaitAnswers(size_t i, std::chrono::milliseconds timeout) {
  auto options = StoreOptions();
  options.endpoints = {endpoints()[i]};
  options.retry_budget = std::chrono::milliseconds(500);
  options.rpc_timeout = std::chrono::milliseconds(500);
  auto store = history::EtcdStore::Open(options);
  if (!store) {
    ADD_FAILURE() << store.error().message;
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!members_[i].process->running()) break;
    auto read = (*store)->Get(history::kLatestKey);
    if (read) return true;
    last = read.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "etcd member " << i << " did not answer: " << last << "\nlog:\n" << Log(i);
  return false;
}

bool EtcdCluster::Start(std::chrono::milliseconds timeout) {
  for (size_t i = 0; i < members_.size(); ++i) Launch(i, true);
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!WaitAnswers(i, timeout)) return false;
  }
  return true;
}

void EtcdCluster::Kill(size_t i) { members_[i].process->Kill(); }

void EtcdCluster::Stop(size_t i) { members_[i].process->Stop(); }

void EtcdCluster::Pause(size_t i) { ::kill(members_[i].process->pid(), SIGSTOP); }

void EtcdCluster::Resume(size_t i) { ::kill(members_[i].process->pid(), SIGCONT); }

bool EtcdCluster::Restart(size_t i, std::chrono::milliseconds timeout) {
  if (members_[i].process) members_[i].process->Kill();
  Launch(i, false);
  return WaitAnswers(i, timeout);
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> list;
  for (const auto& member : members_) list.push_back("127.0.0.1:" + std::to_string(member.client_port));
  return list;
}

history::EtcdStoreOptions EtcdCluster::StoreOptions(std::string prefix) const {
  history::EtcdStoreOptions options;
  options.endpoints = endpoints();
  options.prefix = std::move(prefix);
  if (tls_) options.tls = history::EtcdTlsOptions{ca_pem_, client_cert_pem_, client_key_pem_};
  options.rpc_timeout = std::chrono::milliseconds(1000);
  options.retry_budget = std::chrono::milliseconds(3000);
  options.keepalive_time = std::chrono::milliseconds(1000);
  options.keepalive_timeout = std::chrono::milliseconds(1000);
  return options;
}

std::string EtcdCluster::Log(size_t i) const {
  std::ifstream in(members_[i].log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
  return text;
}

}  // namespace contrast::testing
