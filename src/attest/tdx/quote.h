// Intel TDX DCAP quotes (versions 4 and 5, ECDSA P-256 attestation key) as
// bytes from outside: parsing only.
//
// A Quote says nothing about who made it. Authenticity (quote signature, QE
// report, PCK chain to the pinned Intel root, collateral) is verify.h; the
// only way to a VerifiedQuote is Verify.
//
// Layout (all integers little-endian):
//   header (48) | [v5: body type u16, body size u32] | TD report body
//   | signed-data size u32 | quote signature (64) | attestation key (64)
//   | certification data: type 6 (QE report certification data), size u32,
//       QE report (384) | QE report signature (64) | QE auth data (u16 + N)
//       | certification data: type 5 (PCK chain, PEM), size u32, chain
//   | optional zero padding
// The quote signature covers everything before the signed-data size.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"

namespace contrast::attest::tdx {

using Measurement = std::array<uint8_t, 48>;  // SHA-384 sized registers

inline constexpr uint16_t kQuoteVersion4 = 4;
inline constexpr uint16_t kQuoteVersion5 = 5;
inline constexpr uint16_t kAttestationKeyTypeEcdsaP256 = 2;
inline constexpr uint32_t kTeeTypeTdx = 0x81;
// Intel's QE vendor id, 939a7233-f79c-4ca9-940a-0db3957f0607.
inline constexpr std::array<uint8_t, 16> kIntelQeVendorId = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                             0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

// Quote v5 body types.
inline constexpr uint16_t kBodyTypeTdReport10 = 2;
inline constexpr uint16_t kBodyTypeTdReport15 = 3;
inline constexpr size_t kTdReport10Size = 584;
inline constexpr size_t kTdReport15Size = 648;

// Certification data types.
inline constexpr uint16_t kCertificationDataQeReport = 6;
inline constexpr uint16_t kCertificationDataPckChain = 5;

// TDATTRIBUTES bits (of the little-endian u64).
inline constexpr uint64_t kTdAttributeDebug = uint64_t{1} << 0;
inline constexpr uint64_t kTdAttributeSeptVeDisable = uint64_t{1} << 28;
inline constexpr uint64_t kTdAttributePks = uint64_t{1} << 30;
inline constexpr uint64_t kTdAttributePerfmon = uint64_t{1} << 63;

struct QuoteHeader {
  uint16_t version = 0;
  uint16_t attestation_key_type = 0;
  uint32_t tee_type = 0;
  // Bytes 8..11: reserved in the v4 specification (some tools label them
  // QE SVN / PCE SVN); signed, not a policy input.
  std::array<uint8_t, 4> reserved{};
  std::array<uint8_t, 16> qe_vendor_id{};
  // QE-defined and opaque; signed, not a policy input.
  std::array<uint8_t, 20> user_data{};
};

// The TD report body (TD 1.0, plus the TD 1.5 fields when present). The
// 8-byte attribute fields are kept as they appear in the quote (the
// reference values' hex form); the *_value() helpers decode them.
struct TdReport {
  // Byte 0: TDX module SVN (minor), byte 1: module major version, 2..15:
  // other TCB components (compared with tcbInfo's tdxtcbcomponents).
  std::array<uint8_t, 16> tee_tcb_svn{};
  Measurement mr_seam{};
  Measurement mr_signer_seam{};
  std::array<uint8_t, 8> seam_attributes{};
  std::array<uint8_t, 8> td_attributes{};
  std::array<uint8_t, 8> xfam{};
  Measurement mr_td{};
  Measurement mr_config_id{};
  Measurement mr_owner{};
  Measurement mr_owner_config{};
  std::array<Measurement, 4> rtmrs{};
  std::array<uint8_t, 64> report_data{};
  // TD 1.5 only.
  std::optional<std::array<uint8_t, 16>> tee_tcb_svn2;
  std::optional<Measurement> mr_service_td;

  uint64_t td_attributes_value() const;
  uint64_t xfam_value() const;
  uint64_t seam_attributes_value() const;
  bool debug() const { return (td_attributes_value() & kTdAttributeDebug) != 0; }
};

// The SGX enclave report of the Quoting Enclave (384 bytes).
struct EnclaveReport {
  std::array<uint8_t, 16> cpu_svn{};
  uint32_t misc_select = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 32> mr_enclave{};
  std::array<uint8_t, 32> mr_signer{};
  uint16_t isv_prod_id = 0;
  uint16_t isv_svn = 0;
  std::array<uint8_t, 64> report_data{};
};
inline constexpr size_t kEnclaveReportSize = 384;

struct Quote {
  QuoteHeader header;
  // kBodyTypeTdReport10 for v4 quotes; the declared body type for v5.
  uint16_t body_type = kBodyTypeTdReport10;
  TdReport td_report;

  // The bytes the quote signature covers: header and body (for v5 with the
  // body descriptor), a prefix of the quote.
  Bytes signed_region;
  // ECDSA P-256 r || s (big-endian) over the signed region.
  std::array<uint8_t, 64> signature{};
  // Raw P-256 public point X || Y.
  std::array<uint8_t, 64> attestation_key{};

  EnclaveReport qe_report;
  std::array<uint8_t, kEnclaveReportSize> qe_report_bytes{};
  // ECDSA P-256 r || s over qe_report_bytes by the PCK leaf key.
  std::array<uint8_t, 64> qe_report_signature{};
  Bytes qe_auth_data;
  // PEM: PCK leaf, PCK Platform/Processor CA, Intel SGX Root CA (as sent;
  // may end with NUL bytes).
  std::string pck_chain_pem;

  // Where the quote ends (the end of the PCK chain). Bytes after it are not
  // part of the quote (padding of the buffer it came in) and are ignored.
  size_t size = 0;
};

// Parses a v4 or v5 quote with an ECDSA P-256 attestation key, TEE type TDX,
// QE report certification data (type 6) wrapping a PCK chain (type 5). Every
// size field must be consistent with the others and with the buffer; bytes
// after the quote are ignored. Codes: kParse (truncated, inconsistent,
// malformed), kUnsupported (another version, key type, TEE type, body type or
// certification data type).
Result<Quote> ParseQuote(ByteView bytes);

}  // namespace contrast::attest::tdx
