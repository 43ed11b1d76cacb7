#include "platform/issuer.h"

#include <cstdlib>
#include <utility>

namespace contrast::platform {
namespace {

namespace emulated = attest::emulated;

// The value of `name`, empty when unset.
std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

Result<session::Evidence> DaemonEvidenceIssuer::Issue(const session::ReportData& report_data) {
  auto evidence = client_.GetReport(report_data);
  if (!evidence) return Fail(evidence.error().Wrap("issuing emulated-snp evidence"));
  session::Evidence out;
  out.platform = std::string(session::kPlatformEmulatedSnp);
  out.report = std::move(evidence->report);
  out.endorsement_key = std::move(evidence->vcek_der);
  out.cert_chain = std::move(evidence->cert_chain_pem);
  return out;
}

Result<std::unique_ptr<session::EvidenceIssuer>> IssuerFromEnvironment() {
  const bool has_socket = !Env(emulated::kSocketEnv).empty();
  const bool has_token = !Env(emulated::kVmTokenEnv).empty();
  if (has_socket != has_token) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(has_socket ? emulated::kSocketEnv : emulated::kVmTokenEnv) + " is set but " +
                    (has_socket ? emulated::kVmTokenEnv : emulated::kSocketEnv) +
                    " is not: set both (as `contrast emulate run` does) for the emulated platform, or neither for "
                    "SEV-SNP");
  }
  if (!has_socket) return std::unique_ptr<session::EvidenceIssuer>(new session::SnpEvidenceIssuer());
  auto client = emulated::GuestClient::FromEnvironment();
  if (!client) return Fail(client.error());
  return std::unique_ptr<session::EvidenceIssuer>(new DaemonEvidenceIssuer(std::move(*client)));
}

std::string DescribeIssuerEnvironment() {
  const std::string socket = Env(emulated::kSocketEnv);
  if (socket.empty()) return std::string(session::kPlatformSnp);
  return std::string(session::kPlatformEmulatedSnp) + " (INSECURE) via " + socket;
}

}  // namespace contrast::platform
