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
#include <vector>

#include "attest/snp/abi.h"

namespace contrast::attest::snp {

struct ProductAnchors {
  Product product = Product::kUnknown;
  Bytes ark_der;   // self-signed root
  Bytes ask_der;   // signs VCEKs
  Bytes asvk_der;  // signs VLEKs (may be empty: VLEKs then fail)
  bool insecure = false;  // not an AMD root
};

struct TrustAnchors {
  std::vector<ProductAnchors> products;

  // The embedded AMD roots for Milan, Genoa and Turin (checked against their
  // pinned SHA-256 digests on first use).
  static const TrustAnchors& Amd();
  const ProductAnchors* Find(Product product) const;
};

// A pinned AMD certificate, for docs and tests.
struct PinnedCertificate {
  Product product;
  std::string_view role;         // "ARK", "ASK" or "ASVK"
  std::string_view sha256_hex;   // of the DER encoding
  std::string_view source_url;   // where AMD publishes it
};
const std::vector<PinnedCertificate>& PinnedAmdCertificates();

}  // namespace contrast::attest::snp
