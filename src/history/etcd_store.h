// A history::Store on an etcd v3 cluster (etcd's gRPC API), so that several
// Coordinator replicas share one history and one linearizable
// CompareAndSwap on transitions/latest.
//
// Every store key K lives at etcd key <prefix>K; one prefix per deployment
// keeps deployments that share a cluster apart. Reads are linearizable (the
// member confirms with the leader), so a Get after a successful Set on any
// replica sees it.
//
// Transport: TLS with a client certificate (etcd's --client-cert-auth) when
// `tls` is given; plaintext otherwise, which is only sensible when etcd
// listens on loopback (Open logs a warning for any other endpoint). Each RPC
// has a deadline; UNAVAILABLE and DEADLINE_EXCEEDED are retried with
// exponential backoff and jitter, moving on to the next endpoint each time,
// for at most `retry_budget`; then the call fails with kUnavailable naming
// the endpoints and the last gRPC error. HTTP/2 keepalive pings notice a
// silently cut link (a black-holed member) within keepalive_time +
// keepalive_timeout while a call or watch is open.
//
// CompareAndSwap is a read followed by an etcd transaction that writes only
// if the key's mod_revision is still the one read (or, for an absent key, its
// create_revision is 0). A transaction whose RPC failed after it may have
// reached etcd (UNAVAILABLE, DEADLINE_EXCEEDED, a dropped connection) is
// ambiguous: it may or may not have been applied. It is never replayed
// blindly; the key is read again, and from then on any read that finds
// exactly `value` means the write was ours (history values are unique:
// content-addressed blobs and signed records), however later attempts
// ended; otherwise the whole CAS starts over from the read. Only requests
// etcd refused outright (INVALID_ARGUMENT, PERMISSION_DENIED,
// UNAUTHENTICATED, FAILED_PRECONDITION, RESOURCE_EXHAUSTED) are known not
// to have been applied. The one misreport this allows: our write landed and
// another writer replaced it before any re-read, so CAS reports false (the
// caller re-reads the history and sees the other write, as on any lost
// race; the history itself stays a chain).
//
// Values are responses from a server we do not trust more than the disk
// under DirectoryStore: a Range for one key must return zero or one value for
// exactly that key, no value above max_value_size.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "history/store.h"

namespace contrast::history {

struct EtcdTlsOptions {
  std::string ca_pem;  // the CA that signed the etcd members' serving certificates
  // Our client certificate (chain) and its private key, for etcd's
  // --client-cert-auth: both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
};

struct EtcdStoreOptions {
  // "host:port" ("[v6]:port" for IPv6); at least one.
  std::vector<std::string> endpoints;
  // Prepended to every store key; must start and end with '/'.
  std::string prefix = "/contrast/";
  // nullopt: plaintext (loopback only).
  std::optional<EtcdTlsOptions> tls;
  // Deadline of each RPC.
  std::chrono::milliseconds rpc_timeout{5000};
  // How long one operation keeps retrying an unreachable cluster.
  std::chrono::milliseconds retry_budget{15000};
  // Values above this are refused on Set and on Get. etcd itself refuses
  // requests above its --max-request-bytes (1.5 MiB by default): a cluster
  // that should take values this large needs that raised.
  size_t max_value_size = 16 * 1024 * 1024;
  // HTTP/2 keepalive: a ping after this much silence, the connection is
  // dropped when unanswered after keepalive_timeout. etcd refuses pings
  // more often than every 5 s (--grpc-keepalive-min-time).
  std::chrono::milliseconds keepalive_time{6000};
  std::chrono::milliseconds keepalive_timeout{4000};
};

class EtcdStore final : public Store {
 public:
  // Checks the options and sets up the channels; does not contact etcd (a
  // cluster that is down at start is retried on first use).
  static Result<std::shared_ptr<EtcdStore>> Open(EtcdStoreOptions options);
  ~EtcdStore() override;

  Result<std::optional<Bytes>> Get(std::string_view key) override;
  Result<bool> Has(std::string_view key) override;
  Status Set(std::string_view key, ByteView value) override;
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override;
  // An etcd watch stream on the key, on a thread of its own. It reads the
  // value, then follows changes from the revision of that read. When the
  // stream breaks (member down, link cut, member without a leader), it
  // reports on_health(error), reconnects with backoff to the next endpoint,
  // reads the value again and resumes from there: on_health(ok), on_value.
  Result<std::unique_ptr<StoreWatch>> Watch(std::string_view key, WatchCallbacks callbacks) override;

  const EtcdStoreOptions& options() const;

  struct Impl;

 private:
  explicit EtcdStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace contrast::history
