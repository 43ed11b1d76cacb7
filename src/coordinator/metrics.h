// The Coordinator's Prometheus metrics (served on /metrics).
#pragma once

#include "observability/metrics.h"

namespace contrast::coordinator {

// References into a Registry that outlives this object.
struct CoordinatorMetrics {
  explicit CoordinatorMetrics(observability::Registry& registry);

  // contrast_sessions_total: attested session RPCs (SetManifest,
  // GetManifests, Recover, NewMeshCert) that completed successfully.
  observability::Counter& sessions;
  // contrast_sessions_started_total: session RPCs that reached a handler,
  // whatever became of them.
  observability::Counter& sessions_started;
  // contrast_sessions_refused_total{reason}: session RPCs refused by
  // admission control (session/admission.h): "peer-limit" and
  // "unattested-limit" at the call's start, "opening-timeout" when the
  // request and evidence did not arrive in time.
  observability::LabeledCounter& sessions_refused;
  // contrast_attestation_failures_total{reason}: workloads whose attestation
  // failed, by ErrorCodeName of the failure ("validation-failed", ...).
  observability::LabeledCounter& attestation_failures;
  // contrast_mesh_certificates_issued_total.
  observability::Counter& mesh_certificates_issued;
  // contrast_manifest_generation: manifests in the history (0: none).
  observability::Gauge& manifest_generation;
  // contrast_ready: 1 when serving mesh certificates, else 0.
  observability::Gauge& ready;
  // contrast_awaiting_recovery: 1 while the Coordinator holds a history it
  // has no seed for (after a restart), else 0.
  observability::Gauge& awaiting_recovery;
  // contrast_recoveries_total{result}: Recover calls, "ok" or the
  // ErrorCodeName of the refusal.
  observability::LabeledCounter& recoveries;
  // contrast_peer_recoveries_served_total{result}: RecoverPeer calls this
  // replica answered, "ok" (seed handed over) or the ErrorCodeName of the
  // refusal.
  observability::LabeledCounter& peer_recoveries_served;
  // contrast_peer_recovery_attempts_total{result}: this replica's attempts
  // to recover from one peer, "ok" or the ErrorCodeName of the failure.
  observability::LabeledCounter& peer_recovery_attempts;
};

}  // namespace contrast::coordinator
