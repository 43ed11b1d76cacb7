#include "coordinator/metrics.h"

namespace contrast::coordinator {

CoordinatorMetrics::CoordinatorMetrics(observability::Registry& registry)
    : sessions(registry.AddCounter("contrast_sessions_total", "Attested session RPCs that completed successfully.")),
      sessions_started(registry.AddCounter("contrast_sessions_started_total",
                                           "Session RPCs that reached the Coordinator, whatever their outcome.")),
      sessions_refused(registry.AddLabeledCounter(
          "contrast_sessions_refused_total",
          "Session RPCs refused by admission control (limits, opening deadline), by reason.", "reason")),
      attestation_failures(registry.AddLabeledCounter("contrast_attestation_failures_total",
                                                      "Workload attestations that failed, by reason.", "reason")),
      mesh_certificates_issued(
          registry.AddCounter("contrast_mesh_certificates_issued_total", "Mesh certificates issued to workloads.")),
      manifest_generation(
          registry.AddGauge("contrast_manifest_generation", "Number of manifests in the history (0: none set).")),
      ready(registry.AddGauge("contrast_ready", "1 when the Coordinator has a manifest and serves, else 0.")),
      awaiting_recovery(registry.AddGauge(
          "contrast_awaiting_recovery", "1 while the Coordinator awaits `contrast recover` after a restart, else 0.")),
      recoveries(registry.AddLabeledCounter("contrast_recoveries_total", "Recover calls, by result.", "result")),
      peer_recoveries_served(registry.AddLabeledCounter("contrast_peer_recoveries_served_total",
                                                        "RecoverPeer calls answered for other replicas, by result.",
                                                        "result")),
      peer_recovery_attempts(registry.AddLabeledCounter(
          "contrast_peer_recovery_attempts_total", "Attempts to recover from one peer replica, by result.", "result")) {
}

}  // namespace contrast::coordinator
