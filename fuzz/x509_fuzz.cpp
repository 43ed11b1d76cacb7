// Fuzz target: certificate (DER, PEM, PEM chains) and CRL parsing, and the
// accessors the verifier uses on what parsed.
#include <cstdint>

#include "crypto/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using contrast::crypto::Certificate;
  using contrast::crypto::Crl;
  const contrast::ByteView input(data, size);
  if (auto cert = Certificate::ParseAuto(input)) {
    (void)cert->SubjectCommonName();
    (void)cert->IssuerCommonName();
    (void)cert->SerialHex();
    (void)cert->Sha256Fingerprint();
    (void)cert->ExtensionValue("1.3.6.1.4.1.3704.1.4");
    (void)cert->VerifySignedBy(*cert);
  }
  (void)Certificate::ParsePemChain(contrast::AsChars(input));
  if (auto crl = Crl::Parse(input)) (void)crl->CheckCurrentAt(contrast::Now());
  return 0;
}
