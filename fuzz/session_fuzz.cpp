// Fuzz target: decoding of session frames and of the evidence they carry, up
// to verification (contrast.v1.SessionFrame -> attest::Evidence ->
// attest::EvidenceVerifier).
//
// The input is tried two ways: as a serialized SessionFrame (whatever it
// holds), and as the raw report of "snp" and "emulated-snp" evidence, so the
// shared SEV-SNP vectors make useful seeds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "attest/evidence_verifier.h"
#include "contrast/evidence.pb.h"
#include "session/evidence.h"

namespace {

using namespace contrast;
using namespace contrast::attest;
using contrast::session::EvidenceFromProto;

const EvidenceVerifier& Verifier() {
  static const EvidenceVerifier verifier([] { return *ParseRfc3339("2025-06-01T00:00:00Z"); });
  return verifier;
}

AcceptableReferenceValues ReferenceValues(bool emulated) {
  snp::SnpReferenceValues entry;
  entry.product = snp::Product::kMilan;
  AcceptableReferenceValues rv;
  if (emulated) {
    rv.emulated.push_back(emulated::InsecureEmulatedReferenceValues{entry, {}});
  } else {
    rv.snp.push_back(entry);
  }
  rv.allowed_host_data.push_back({});
  return rv;
}

void VerifyAll(const Evidence& evidence) {
  static const AcceptableReferenceValues snp = ReferenceValues(false);
  static const AcceptableReferenceValues emulated = ReferenceValues(true);
  for (const AcceptableReferenceValues* rv : {&snp, &emulated}) {
    auto verified = Verifier().Verify(evidence, ReportData{}, *rv);
    // Nothing the fuzzer makes can carry an AMD signature over zero REPORT_DATA.
    if (verified) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::SessionFrame frame;
  if (frame.ParseFromArray(data, static_cast<int>(size)) && frame.has_evidence()) {
    if (auto evidence = EvidenceFromProto(frame.evidence())) VerifyAll(*evidence);
  }
  const Bytes raw(data, data + size);
  VerifyAll(Evidence{std::string(kPlatformSnp), raw, {}, {}, {}});
  VerifyAll(Evidence{std::string(kPlatformInsecureEmulatedSnp), raw, {}, {}, {}});
  VerifyAll(Evidence{std::string(kPlatformTdx), raw, {}, {}, {}});
  return 0;
}
