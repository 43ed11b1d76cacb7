// Trust anchors for SEV-SNP: the AMD root (ARK) and intermediates (ASK for
// VCEKs, ASVK for VLEKs) per product line.
//
// The AMD certificates are embedded in the program and pinned by the SHA-256
// of their DER encoding; a chain that arrives with evidence is never trusted
// by itself. A non-AMD root (the emulated secure processor) is trusted only
// when a caller builds TrustAnchors with it explicitly, and it is marked
// insecure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "attest/snp/abi.h"
#include "common/time.h"

namespace contrast::attest::snp {

struct ProductAnchors {
  Product product = Product::kUnknown;
  Bytes ark_der;          // self-signed root
  Bytes ask_der;          // signs VCEKs
  Bytes asvk_der;         // signs VLEKs (may be empty: VLEKs then fail)
  bool insecure = false;  // not an AMD root; a Verifier refuses anchors that claim
                          // to be AMD's (insecure = false) but do not match the pins
};

struct TrustAnchors {
  std::vector<ProductAnchors> products;

  // The embedded AMD roots for Milan, Genoa and Turin. The first call checks
  // every embedded certificate against its pinned SHA-256 digest and aborts
  // the program on a mismatch (a build defect, never caused by input).
  static const TrustAnchors& Amd();
  const ProductAnchors* Find(Product product) const;
};

// A pinned AMD certificate, for docs and tests.
struct PinnedCertificate {
  Product product;
  std::string_view role;        // "ARK", "ASK" or "ASVK"
  std::string_view sha256_hex;  // of the DER encoding
  std::string_view source_url;  // where AMD publishes it (KDS cert_chain)
};
const std::vector<PinnedCertificate>& PinnedAmdCertificates();

// True when `der` is the pinned AMD certificate for `product` and `role`.
bool IsPinnedAmdCertificate(Product product, std::string_view role, ByteView der);

// Checks a certificate chain that arrived from outside (a KDS cert_chain
// response, a GUID table, a cloud provider): PEM text with the intermediate
// first and the ARK second, exactly two certificates. The ARK must be
// byte-identical to the anchored ARK for `product`; the intermediate must be
// signed by it, be the ASK (kind kVcek) or the ASVK (kind kVlek) by name, and
// both must be valid at `at`. Codes: kCertificateInvalid, kUntrustedRoot,
// kSignatureInvalid, kCertificateExpired.
Status VerifyAmdCertChain(std::string_view pem, Product product, SigningKey kind, TimePoint at,
                          const TrustAnchors& anchors = TrustAnchors::Amd());

// "ARK-Milan", "SEV-Milan", "SEV-VLEK-Milan": the subject CNs AMD uses.
std::string ArkCommonName(Product product);
std::string IntermediateCommonName(Product product, SigningKey kind);

}  // namespace contrast::attest::snp
