// The endorsement key certificates AMD issues per chip and TCB (VCEK) or per
// cloud provider (VLEK), and their AMD extensions (OID arc
// 1.3.6.1.4.1.3704.1): struct version, product name, TCB components,
// hardware id, CSP id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "attest/snp/abi.h"
#include "crypto/x509.h"

namespace contrast::attest::snp {

struct EndorsementKeyInfo {
  SigningKey kind = SigningKey::kVcek;  // from the subject CN: SEV-VCEK / SEV-VLEK
  int64_t struct_version = 0;           // .1
  std::string product_name;             // .2, e.g. "Milan-B0", "Genoa", "Turin"
  Product product = Product::kUnknown;  // product_name without the stepping
  TcbParts tcb;                         // .3.1 bl, .3.2 tee, .3.3 snp, .3.8 ucode, .3.9 fmc (Turin)
  std::optional<Bytes> hwid;            // .4: 64 bytes (Milan/Genoa) or 8 (Turin); absent in VLEKs
  std::optional<std::string> csp_id;    // .5: VLEK only
};

// Parses the AMD extensions of a VCEK/VLEK certificate (DER). Untrusted input
// (a fuzz target): bounds-checked, never crashes. Accepts the raw and the
// OCTET STRING-wrapped hwID encodings and 1- or 2-byte SPL INTEGERs. Rejects
// (kCertificateInvalid): a subject CN other than SEV-VCEK / SEV-VLEK,
// duplicate or missing extensions (.1, .2, .3.1, .3.2, .3.3, .3.8; .3.9 on
// Turin only), an unknown product name, values out of range (SPLs outside
// 0..255), hwID lengths other than 8 or 64, a VCEK without hwID, and hwID
// or cspID on the wrong kind of key.
Result<EndorsementKeyInfo> ParseEndorsementKey(ByteView certificate_der);
Result<EndorsementKeyInfo> ParseEndorsementKey(const crypto::Certificate& certificate);

}  // namespace contrast::attest::snp
