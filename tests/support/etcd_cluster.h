// A real etcd cluster for tests of history::EtcdStore: N `etcd` processes
// (Debian's /usr/bin/etcd) on free loopback ports, in a temporary directory,
// with TLS everywhere (a fresh CA, one serving/peer certificate for
// 127.0.0.1 and localhost, one client certificate; client and peer
// certificates are required) or, for the plaintext test, none. Short
// heartbeat and election timeouts so that a killed leader is replaced in
// about a second.
//
// Without /usr/bin/etcd, CONTRAST_REQUIRE_ETCD() skips the test, and fails it
// under CI=true (CI installs etcd-server with scripts/setup).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "history/etcd_store.h"
#include "support/fuse.h"  // UnderCi
#include "support/process.h"

namespace contrast::testing {

inline constexpr const char* kEtcdBinary = "/usr/bin/etcd";

class EtcdCluster {
 public:
  explicit EtcdCluster(size_t members = 3, bool tls = true);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  static bool Available();

  // Starts every member and waits until each answers a linearizable read
  // (so the cluster has a leader), at most `timeout`. False (and a test
  // failure with the members' logs) otherwise.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL / SIGTERM of member i; Restart starts it again with the same data
  // directory and ports and waits until it answers.
  void Kill(size_t i);
  void Stop(size_t i);
  bool Restart(size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGSTOP / SIGCONT of member i: its connections stay open but nothing
  // answers (a black-holed link, as far as a client can tell).
  void Pause(size_t i);
  void Resume(size_t i);

  size_t size() const { return members_.size(); }
  // "127.0.0.1:port" client endpoints, member order.
  std::vector<std::string> endpoints() const;
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& client_cert_pem() const { return client_cert_pem_; }
  const std::string& client_key_pem() const { return client_key_pem_; }
  // Options for a store on this cluster (all endpoints, TLS when the cluster
  // has it), with short timeouts fit for tests.
  history::EtcdStoreOptions StoreOptions(std::string prefix = "/contrast/") const;
  std::string Log(size_t i) const;
  // A CA that signed nothing of this cluster's, PEM.
  static std::string UnrelatedCaPem();

 private:
  struct Member {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    std::filesystem::path data_dir;
    std::filesystem::path log;
    std::unique_ptr<ChildProcess> process;
  };
  void Launch(size_t i, bool first_start);
  bool WaitAnswers(size_t i, std::chrono::milliseconds timeout);

  bool tls_;
  std::filesystem::path dir_;
  std::vector<Member> members_;
  std::string ca_pem_, client_cert_pem_, client_key_pem_;
  std::filesystem::path server_cert_, server_key_, ca_file_;
  int launches_ = 0;
};

}  // namespace contrast::testing

// At the start of a test: etcd must be installed.
#define CONTRAST_REQUIRE_ETCD()                                                                              \
  do {                                                                                                       \
    if (!::contrast::testing::EtcdCluster::Available()) {                                                    \
      if (::contrast::testing::UnderCi()) FAIL() << "/usr/bin/etcd is missing (CI=true: run scripts/setup)"; \
      GTEST_SKIP() << "/usr/bin/etcd is missing: install etcd-server (scripts/setup) to run the etcd tests"; \
    }                                                                                                        \
  } while (0)
