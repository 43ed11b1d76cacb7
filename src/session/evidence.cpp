#include "session/evidence.h"

#include <utility>

#include "contrast/evidence.pb.h"

namespace contrast::session {
namespace {

Status CheckSize(std::string_view field, size_t size, size_t limit) {
  if (size <= limit) return {};
  return Fail(ErrorCode::kParse, "evidence." + std::string(field) + ": " + std::to_string(size) +
                                     " bytes exceed the limit of " + std::to_string(limit));
}

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

}  // namespace

void EvidenceToProto(const Evidence& evidence, v1::Evidence* out) {
  out->set_platform(evidence.platform);
  out->set_report(std::string(AsChars(evidence.report)));
  out->set_endorsement_key(std::string(AsChars(evidence.endorsement_key)));
  out->set_cert_chain(evidence.cert_chain);
  out->set_crl(std::string(AsChars(evidence.crl)));
}

Result<Evidence> EvidenceFromProto(const v1::Evidence& proto) {
  if (proto.platform() != kPlatformSnp && proto.platform() != kPlatformEmulatedSnp) {
    std::string shown = proto.platform().substr(0, 64);
    for (char& c : shown) {
      if (c < 0x20 || c > 0x7E) c = '?';
    }
    return Fail(ErrorCode::kParse, "evidence.platform: expected \"snp\" or \"emulated-snp\", got \"" + shown + "\"");
  }
  for (const Status& s : {CheckSize("report", proto.report().size(), kMaxReportSize),
                          CheckSize("endorsement_key", proto.endorsement_key().size(), kMaxEndorsementKeySize),
                          CheckSize("cert_chain", proto.cert_chain().size(), kMaxCertChainSize),
                          CheckSize("crl", proto.crl().size(), kMaxCrlSize)}) {
    if (!s) return Fail(s.error());
  }
  Evidence evidence;
  evidence.platform = proto.platform();
  evidence.report = ToBytes(proto.report());
  evidence.endorsement_key = ToBytes(proto.endorsement_key());
  evidence.cert_chain = proto.cert_chain();
  evidence.crl = ToBytes(proto.crl());
  return evidence;
}

EmulatedEvidenceIssuer::EmulatedEvidenceIssuer(attest::emulated::VmHandle vm, Bytes vcek_der,
                                               std::string cert_chain_pem)
    : vm_(std::move(vm)), vcek_der_(std::move(vcek_der)), cert_chain_pem_(std::move(cert_chain_pem)) {}

EmulatedEvidenceIssuer EmulatedEvidenceIssuer::ForVm(const attest::emulated::SecureProcessor& processor,
                                                     attest::emulated::VmHandle vm) {
  return EmulatedEvidenceIssuer(std::move(vm), processor.vcek_der(), processor.ask_pem() + processor.ark_pem());
}

Result<Evidence> EmulatedEvidenceIssuer::Issue(const ReportData& report_data) {
  auto report = vm_.GetReport(report_data);
  if (!report) return Fail(report.error().Wrap("emulated secure processor"));
  Evidence evidence;
  evidence.platform = std::string(kPlatformEmulatedSnp);
  evidence.report = std::move(*report);
  evidence.endorsement_key = vcek_der_;
  evidence.cert_chain = cert_chain_pem_;
  return evidence;
}

Result<Evidence> SnpEvidenceIssuer::Issue(const ReportData& /*report_data*/) {
  return Fail(ErrorCode::kUnsupported,
              "issuing SEV-SNP evidence from configfs-tsm (/sys/kernel/config/tsm/report) is not implemented yet; "
              "use the emulated platform for development");
}

}  // namespace contrast::session
