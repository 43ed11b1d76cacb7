#include "session/evidence.h"

#include <string>

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

void EvidenceToProto(const attest::Evidence& evidence, v1::Evidence* out) {
  out->set_platform(evidence.platform);
  out->set_report(std::string(AsChars(evidence.report)));
  out->set_endorsement_key(std::string(AsChars(evidence.endorsement_key)));
  out->set_cert_chain(evidence.cert_chain);
  out->set_crl(std::string(AsChars(evidence.crl)));
}

Result<attest::Evidence> EvidenceFromProto(const v1::Evidence& proto) {
  if (proto.platform() != attest::kPlatformSnp && proto.platform() != attest::kPlatformTdx &&
      proto.platform() != attest::kPlatformInsecureEmulatedSnp) {
    std::string shown = proto.platform().substr(0, 64);
    for (char& c : shown) {
      if (c < 0x20 || c > 0x7E) c = '?';
    }
    return Fail(ErrorCode::kParse,
                "evidence.platform: expected \"snp\", \"tdx\" or \"emulated-snp\", got \"" + shown + "\"");
  }
  for (const Status& s : {CheckSize("report", proto.report().size(), attest::kMaxReportSize),
                          CheckSize("endorsement_key", proto.endorsement_key().size(), attest::kMaxEndorsementKeySize),
                          CheckSize("cert_chain", proto.cert_chain().size(), attest::kMaxCertChainSize),
                          CheckSize("crl", proto.crl().size(), attest::kMaxCrlSize)}) {
    if (!s) return Fail(s.error());
  }
  attest::Evidence evidence;
  evidence.platform = proto.platform();
  evidence.report = ToBytes(proto.report());
  evidence.endorsement_key = ToBytes(proto.endorsement_key());
  evidence.cert_chain = proto.cert_chain();
  evidence.crl = ToBytes(proto.crl());
  return evidence;
}

}  // namespace contrast::session
