// The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP firmware ABI, doc 56860):
// parsing of the raw 0x4A0-byte structure into typed fields, decoding of its
// bit fields, and serialisation back to the exact bytes.
//
// A parsed Report is *unverified*: nothing here says the bytes came from AMD
// hardware. The only way to a VerifiedReport is snp::Verify (verify.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/bytes.h"

namespace contrast::attest::snp {

inline constexpr size_t kReportSize = 0x4A0;
// The signature covers bytes 0x000..0x29F.
inline constexpr size_t kSignedRegionSize = 0x2A0;
inline constexpr uint32_t kMinReportVersion = 2;
inline constexpr uint32_t kMaxReportVersion = 5;
inline constexpr uint32_t kSignatureAlgoEcdsaP384Sha384 = 1;

// The AMD product line. It selects the trust anchors and the TCB byte layout.
enum class Product { kUnknown, kMilan, kGenoa, kTurin };

// "Milan", "Genoa", "Turin" (the KDS spelling), "unknown".
std::string_view ProductName(Product product);
// Case-insensitive; accepts KDS names with a stepping suffix ("Milan-B0").
Result<Product> ParseProduct(std::string_view name);

// A TCB_VERSION decomposed into its security patch levels. The byte layout
// depends on the product: Milan/Genoa have no FMC; Turin moves every field.
struct TcbParts {
  uint8_t fmc = 0;  // Turin only; always 0 for Milan/Genoa
  uint8_t bootloader = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t microcode = 0;

  bool operator==(const TcbParts&) const = default;
  // Every component of *this is <= the same component of other.
  bool AllAtMost(const TcbParts& other) const;
};

TcbParts DecodeTcb(uint64_t raw, Product product);
uint64_t EncodeTcb(const TcbParts& parts, Product product);
std::string FormatTcb(const TcbParts& parts, Product product);

// Guest POLICY (u64 at 0x008).
struct GuestPolicy {
  uint8_t abi_minor = 0;
  uint8_t abi_major = 0;
  bool smt = false;
  bool migrate_ma = false;
  bool debug = false;
  bool single_socket = false;
  bool cxl_allowed = false;
  bool mem_aes_256_xts = false;
  bool rapl_dis = false;
  bool ciphertext_hiding_dram = false;
  bool page_swap_disable = false;

  static GuestPolicy Decode(uint64_t raw);
  // Sets the reserved bit 17, which the firmware requires.
  uint64_t Encode() const;
  bool operator==(const GuestPolicy&) const = default;
};

// PLATFORM_INFO (u64 at 0x040).
struct PlatformInfo {
  bool smt_enabled = false;
  bool tsme_enabled = false;
  bool ecc_enabled = false;
  bool rapl_disabled = false;
  bool ciphertext_hiding_dram_enabled = false;
  bool alias_check_complete = false;
  bool tio_enabled = false;

  static PlatformInfo Decode(uint64_t raw);
  uint64_t Encode() const;
  bool operator==(const PlatformInfo&) const = default;
};

// Which key signed the report (SIGNER_INFO bits 4:2).
enum class SigningKey : uint8_t { kVcek = 0, kVlek = 1, kNone = 7 };
std::string_view SigningKeyName(SigningKey key);

struct SignerInfo {
  bool author_key_en = false;
  bool mask_chip_key = false;
  SigningKey signing_key = SigningKey::kVcek;

  static SignerInfo Decode(uint32_t raw);
  uint32_t Encode() const;
};

template <size_t N>
using ByteArray = std::array<uint8_t, N>;

// Every field of the report, in layout order. Integers are host-order values
// of the little-endian fields.
struct Report {
  uint32_t version = 0;
  uint32_t guest_svn = 0;
  uint64_t policy = 0;
  ByteArray<16> family_id{};
  ByteArray<16> image_id{};
  uint32_t vmpl = 0;
  uint32_t signature_algo = 0;
  uint64_t current_tcb = 0;
  uint64_t platform_info = 0;
  uint32_t signer_info = 0;
  ByteArray<64> report_data{};
  ByteArray<48> measurement{};
  ByteArray<32> host_data{};
  ByteArray<48> id_key_digest{};
  ByteArray<48> author_key_digest{};
  ByteArray<32> report_id{};
  ByteArray<32> report_id_ma{};
  uint64_t reported_tcb = 0;
  uint8_t cpuid_fam_id = 0;  // v3+
  uint8_t cpuid_mod_id = 0;  // v3+
  uint8_t cpuid_step = 0;    // v3+
  ByteArray<64> chip_id{};
  uint64_t committed_tcb = 0;
  uint8_t current_build = 0;
  uint8_t current_minor = 0;
  uint8_t current_major = 0;
  uint8_t committed_build = 0;
  uint8_t committed_minor = 0;
  uint8_t committed_major = 0;
  uint64_t launch_tcb = 0;
  uint64_t launch_mit_vector = 0;   // v5+
  uint64_t current_mit_vector = 0;  // v5+
  // ECDSA P-384 signature components, 72-byte little-endian fields as stored.
  ByteArray<72> signature_r{};
  ByteArray<72> signature_s{};

  GuestPolicy Policy() const { return GuestPolicy::Decode(policy); }
  PlatformInfo Platform() const { return PlatformInfo::Decode(platform_info); }
  SignerInfo Signer() const { return SignerInfo::Decode(signer_info); }
  // The product line named by the CPUID fields (v3+), kUnknown for v2 reports
  // or unrecognised family/model.
  Product ProductFromCpuid() const;
  // True when the platform masked the chip id (all zero).
  bool ChipIdMasked() const;
};

// Strict parse: exactly kReportSize bytes, version 2..5, signature algorithm
// 1, policy bit 17 set, every reserved / must-be-zero range zero (ranges
// depend on the version), no reserved signing-key value. Errors name the
// field and offset.
Result<Report> ParseReport(ByteView bytes);

// The exact kReportSize bytes of the report; ParseReport(SerializeReport(r))
// round-trips, and SerializeReport(ParseReport(b)) == b.
Bytes SerializeReport(const Report& report);

// The report as JSON, fields in layout order, every field decoded (hex for byte fields, TCBs
// decomposed for `product`, or for the CPUID product when kUnknown).
nlohmann::ordered_json ReportToJson(const Report& report, Product product = Product::kUnknown);

}  // namespace contrast::attest::snp
