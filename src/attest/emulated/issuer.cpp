#include "attest/emulated/issuer.h"

#include <utility>

#include "attest/emulated/daemon.h"

namespace contrast::attest::emulated {
namespace {

class VmReportSource final : public InsecureEmulatedReportSource {
 public:
  VmReportSource(VmHandle vm, Bytes vcek_der, std::string cert_chain_pem)
      : vm_(std::move(vm)), vcek_der_(std::move(vcek_der)), cert_chain_pem_(std::move(cert_chain_pem)) {}

  Result<Evidence> Fetch(const ReportData& report_data) const override {
    auto report = vm_.GetReport(report_data);
    if (!report) return Fail(report.error().Wrap("emulated secure processor"));
    Evidence evidence;
    evidence.report = std::move(*report);
    evidence.endorsement_key = vcek_der_;
    evidence.cert_chain = cert_chain_pem_;
    return evidence;
  }

 private:
  VmHandle vm_;
  Bytes vcek_der_;
  std::string cert_chain_pem_;
};

class DaemonReportSource final : public InsecureEmulatedReportSource {
 public:
  explicit DaemonReportSource(GuestClient client) : client_(std::move(client)) {}

  Result<Evidence> Fetch(const ReportData& report_data) const override {
    auto emulated = client_.GetReport(report_data);
    if (!emulated) return Fail(emulated.error().Wrap("issuing emulated-snp evidence"));
    Evidence evidence;
    evidence.report = std::move(emulated->report);
    evidence.endorsement_key = std::move(emulated->vcek_der);
    evidence.cert_chain = std::move(emulated->cert_chain_pem);
    return evidence;
  }

 private:
  GuestClient client_;
};

}  // namespace

InsecureEmulatedIssuer::InsecureEmulatedIssuer(std::shared_ptr<const InsecureEmulatedReportSource> source)
    : source_(std::move(source)) {}

InsecureEmulatedIssuer InsecureEmulatedIssuer::ForVm(const SecureProcessor& processor, VmHandle vm) {
  return InsecureEmulatedIssuer(
      std::make_shared<VmReportSource>(std::move(vm), processor.vcek_der(), processor.ask_pem() + processor.ark_pem()));
}

InsecureEmulatedIssuer InsecureEmulatedIssuer::ForGuest(GuestClient client) {
  return InsecureEmulatedIssuer(std::make_shared<DaemonReportSource>(std::move(client)));
}

Result<Evidence> InsecureEmulatedIssuer::Issue(const ReportData& report_data) {
  auto evidence = source_->Fetch(report_data);
  if (!evidence) return Fail(evidence.error());
  evidence->platform = std::string(kPlatformInsecureEmulatedSnp);
  return evidence;
}

}  // namespace contrast::attest::emulated
