// Where a program's attestation evidence comes from, chosen by its
// environment: the emulated secure processor daemon when the program was
// started by `contrast emulate run` (CONTRAST_EMULATED_SOCKET and
// CONTRAST_EMULATED_VM_TOKEN set), real SEV-SNP otherwise.
#pragma once

#include <memory>
#include <string>

#include "attest/emulated/daemon.h"
#include "common/result.h"
#include "session/evidence.h"

namespace contrast::platform {

// Evidence ("emulated-snp") from the emulated secure processor daemon: the
// report of the VM the token names, the emulator's VCEK (DER) and its ASK and
// ARK (PEM). INSECURE: development, CI and the demo only. Thread-safe.
class DaemonEvidenceIssuer final : public session::EvidenceIssuer {
 public:
  explicit DaemonEvidenceIssuer(attest::emulated::GuestClient client) : client_(std::move(client)) {}
  // Errors of GuestClient::GetReport, prefixed with what was asked.
  Result<session::Evidence> Issue(const session::ReportData& report_data) override;

 private:
  attest::emulated::GuestClient client_;
};

// Both variables set and non-empty: a DaemonEvidenceIssuer (kInvalidArgument
// when the token is malformed). Neither set: session::SnpEvidenceIssuer.
// Only one of them set is a misconfiguration, kInvalidArgument, rather than
// a silent fall-back to real hardware.
Result<std::unique_ptr<session::EvidenceIssuer>> IssuerFromEnvironment();

// One line for logs: which issuer IssuerFromEnvironment picks and where it
// gets its evidence from ("emulated-snp (INSECURE) via /run/sp.sock", "snp").
std::string DescribeIssuerEnvironment();

}  // namespace contrast::platform
