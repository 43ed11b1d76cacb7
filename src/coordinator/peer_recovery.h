// Peer recovery (issue #17): a Coordinator replica that found the shared
// history but has no seed (a new replica, or one that restarted) gets seed
// and salt from a ready replica over the mesh API (MeshAPI.RecoverPeer, flow
// in meshapi.proto), instead of waiting for a seed-share owner.
//
// While the Coordinator is awaiting recovery (stale and no seed), every
// interval, one round:
//   1. reads the store's latest manifest UNVERIFIED (no key yet) and takes its
//      reference values and Role coordinator policies as what a peer must
//      attest to; a forged manifest gains nothing: the seed a peer hands over
//      must still verify the stored history's signature (RecoverFromPeer);
//   2. lists the candidates (ListPeerCandidates) and tries them in order:
//      mutual attestation as "coordinator" with the Coordinator's own issuer
//      and session key, then ManifestUpdater::RecoverFromPeer;
//   3. stops at the first success (log event=recovered_from_peer), else logs
//      one warning naming every peer's reason. The seed never reaches a log.
// With no peers configured nothing runs: the Coordinator waits for
// `contrast recover`, as a single one does.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attest/evidence.h"
#include "attest/verifier.h"
#include "common/result.h"
#include "coordinator/manifest_updater.h"
#include "coordinator/metrics.h"
#include "coordinator/state.h"
#include "history/store.h"
#include "session/credentials.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace contrast::coordinator {

struct PeerRecoveryOptions {
  // Mesh API addresses of the other replicas, "host:port".
  std::vector<std::string> peers;
  // "NAME:PORT": NAME resolves (getaddrinfo, every round) to all replicas, as
  // a Kubernetes headless Service does. Empty: none.
  std::string peers_dns;
  // Time between rounds while awaiting recovery.
  std::chrono::milliseconds interval{std::chrono::seconds(10)};
  // This Coordinator's mesh API port: a candidate on it at one of this
  // host's addresses is itself and is skipped. 0: skip nothing.
  uint16_t own_mesh_api_port = 0;
  // Bound of one session with one peer.
  std::chrono::milliseconds session_deadline{std::chrono::seconds(30)};
};

// kInvalidArgument naming the entry that is not "host:port" (port 1-65535).
Status ValidatePeerRecoveryOptions(const PeerRecoveryOptions& options);

// One round's candidates, "host:port" (IPv6 as "[addr]:port"), without
// duplicates and without this Coordinator itself: `peers` as given, then every
// address `peers_dns` resolves to. A name that does not resolve is an error
// only when no candidate is left (kNetwork naming it).
Result<std::vector<std::string>> ListPeerCandidates(const PeerRecoveryOptions& options);

class PeerRecovery {
 public:
  // All references must outlive the PeerRecovery.
  struct Dependencies {
    ManifestUpdater& updater;
    const StateGuard& guard;
    std::shared_ptr<history::Store> store;
    attest::Issuer& issuer;  // the Coordinator's own evidence
    const attest::Verifier& verifier;
    const session::SessionIdentity& identity;  // the Coordinator's session TLS key
    CoordinatorMetrics& metrics;
    std::shared_ptr<spdlog::logger> logger;
  };

  // Starts the thread; with neither peers nor peers_dns it starts none.
  // kInvalidArgument for malformed options.
  static Result<std::unique_ptr<PeerRecovery>> Start(PeerRecoveryOptions options, Dependencies dependencies);
  ~PeerRecovery();
  PeerRecovery(const PeerRecovery&) = delete;
  PeerRecovery& operator=(const PeerRecovery&) = delete;

  // Cancels a session in flight and joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit PeerRecovery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace contrast::coordinator
