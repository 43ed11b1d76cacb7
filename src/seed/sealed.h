// Sealed records: AES-256-GCM under the seed's sealing key, bound to 32
// bytes naming what they belong to, so that a record cannot be moved
// elsewhere or altered unnoticed. The Coordinator binds its sealed CA state
// to the signed history record it was written with
// (history::SealedStateBinding: SHA-256 of transitions/latest's record).
//
// Record layout (all of it stored in the untrusted history store):
//   magic "CSR1" (4) ‖ nonce (12, random) ‖ ciphertext ‖ tag (16)
// Associated data: "contrast sealed state v1" ‖ purpose ‖ 0x00 ‖ binding
// (32). The plaintext of the mesh CA record is sealed.cpp's
// SealedCaState encoding (below).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace contrast::seed {

inline constexpr size_t kMaxSealedRecordSize = 64 * 1024;

using SealBinding = std::array<uint8_t, 32>;

// kInvalidArgument for a key that is not 32 bytes.
Result<Bytes> Seal(ByteView key, std::string_view purpose, const SealBinding& binding, ByteView plaintext);
// kValidationFailed ("the sealed record ... does not authenticate ...") for
// a wrong key, another binding or purpose, or any flipped byte; kParse
// for a record too short, too long or without the magic.
Result<Bytes> Open(ByteView key, std::string_view purpose, const SealBinding& binding, ByteView record);

// What the Coordinator keeps sealed per signed history record: the mesh CA key and the
// CA certificates (DER) as they were issued, so that a recovered Coordinator
// serves the very same certificates.
struct SealedCaState {
  Bytes mesh_ca_key_pkcs8;  // PKCS#8 DER, secret
  Bytes root_certificate;
  Bytes intermediate_certificate;
  Bytes mesh_ca_certificate;
};
inline constexpr std::string_view kSealedCaPurpose = "mesh ca";

// Length-prefixed encoding: for each field in order, a 4-byte big-endian
// length and the bytes. Decode is strict (kParse: truncated, trailing bytes,
// a field over kMaxSealedRecordSize).
Bytes EncodeSealedCaState(const SealedCaState& state);
Result<SealedCaState> DecodeSealedCaState(ByteView bytes);

}  // namespace contrast::seed
