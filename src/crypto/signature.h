// Signature verification for signatures that arrive as raw integers rather
// than DER: ECDSA (r, s) as big-endian bytes (TDX quotes, Intel collateral)
// or as the fixed 72-byte little-endian fields of an SEV-SNP report.
#pragma once

#include <openssl/evp.h>

#include "common/bytes.h"
#include "common/result.h"

namespace contrast::crypto {

enum class DigestAlgorithm { kSha256, kSha384 };

// ECDSA over SHA-256/384 of `message` with an EC public key. `r` and `s` are
// unsigned big-endian integers (leading zeros allowed). kSignatureInvalid
// when the signature does not verify or is malformed, kInvalidArgument for a
// missing or non-EC key.
Status VerifyEcdsa(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView r, ByteView s);

// The same, with r and s as unsigned little-endian integers (SEV-SNP stores
// them in 72-byte fields).
Status VerifyEcdsaLittleEndian(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView r_le, ByteView s_le);

// The same, with a DER-encoded ECDSA-Sig-Value.
Status VerifyEcdsaDer(EVP_PKEY* key, DigestAlgorithm digest, ByteView message, ByteView signature_der);

}  // namespace contrast::crypto
