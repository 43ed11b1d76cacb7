// A reference value for platform "emulated-snp" (DESIGN.md section 4): an
// SEV-SNP entry that is only trusted under the emulated secure processor
// whose ARK certificate has a given SHA-256. One of these is one
// `ReferenceValues.emulated[]` entry of the manifest. INSECURE: the emulator
// makes up its keys, so a manifest holding one protects nothing.
#pragma once

#include "attest/snp/reference_values.h"
#include "crypto/hash.h"

namespace contrast::attest::emulated {

struct InsecureEmulatedReferenceValues {
  attest::snp::SnpReferenceValues snp;
  crypto::Sha256Digest root_sha256{};  // EmulatedRootSHA256: SHA-256 of the ARK's DER
};

// Semantic equality: the same root and SNP entry.
bool operator==(const InsecureEmulatedReferenceValues& a, const InsecureEmulatedReferenceValues& b);

}  // namespace contrast::attest::emulated
