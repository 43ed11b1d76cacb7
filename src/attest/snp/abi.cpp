#include "attest/snp/abi.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

namespace contrast::attest::snp {
namespace {

// Field offsets (AMD SEV-SNP ABI, ATTESTATION_REPORT table).
constexpr size_t kOffVersion = 0x000;
constexpr size_t kOffGuestSvn = 0x004;
constexpr size_t kOffPolicy = 0x008;
constexpr size_t kOffFamilyId = 0x010;
constexpr size_t kOffImageId = 0x020;
constexpr size_t kOffVmpl = 0x030;
constexpr size_t kOffSignatureAlgo = 0x034;
constexpr size_t kOffCurrentTcb = 0x038;
constexpr size_t kOffPlatformInfo = 0x040;
constexpr size_t kOffSignerInfo = 0x048;
constexpr size_t kOffReportData = 0x050;
constexpr size_t kOffMeasurement = 0x090;
constexpr size_t kOffHostData = 0x0C0;
constexpr size_t kOffIdKeyDigest = 0x0E0;
constexpr size_t kOffAuthorKeyDigest = 0x110;
constexpr size_t kOffReportId = 0x140;
constexpr size_t kOffReportIdMa = 0x160;
constexpr size_t kOffReportedTcb = 0x180;
constexpr size_t kOffCpuidFamId = 0x188;
constexpr size_t kOffCpuidModId = 0x189;
constexpr size_t kOffCpuidStep = 0x18A;
constexpr size_t kOffChipId = 0x1A0;
constexpr size_t kOffCommittedTcb = 0x1E0;
constexpr size_t kOffCurrentBuild = 0x1E8;
constexpr size_t kOffCurrentMinor = 0x1E9;
constexpr size_t kOffCurrentMajor = 0x1EA;
constexpr size_t kOffCommittedBuild = 0x1EC;
constexpr size_t kOffCommittedMinor = 0x1ED;
constexpr size_t kOffCommittedMajor = 0x1EE;
constexpr size_t kOffLaunchTcb = 0x1F0;
constexpr size_t kOffLaunchMitVector = 0x1F8;
constexpr size_t kOffCurrentMitVector = 0x200;
constexpr size_t kOffSignatureR = 0x2A0;
constexpr size_t kOffSignatureS = 0x2E8;
constexpr size_t kOffSignatureEnd = 0x330;
constexpr size_t kEcdsaComponentSize = 72;
constexpr size_t kP384ComponentSize = 48;

// Reserved policy bit 17 must be one; bits 63:26 must be zero.
constexpr uint64_t kPolicyReservedOne = uint64_t{1} << 17;
constexpr uint64_t kPolicyMbzMask = ~((uint64_t{1} << 26) - 1);
// SIGNER_INFO bits 31:5 must be zero.
constexpr uint32_t kSignerInfoMbzMask = ~uint32_t{0x1F};
// PLATFORM_INFO bit 6 and bits 63:8 are reserved.
constexpr uint64_t kPlatformInfoReservedMask = (uint64_t{1} << 6) | ~uint64_t{0xFF};

uint32_t Le32(ByteView b, size_t off) {
  return uint32_t{b[off]} | uint32_t{b[off + 1]} << 8 | uint32_t{b[off + 2]} << 16 | uint32_t{b[off + 3]} << 24;
}
uint64_t Le64(ByteView b, size_t off) { return uint64_t{Le32(b, off)} | uint64_t{Le32(b, off + 4)} << 32; }
void PutLe32(Bytes& b, size_t off, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutLe64(Bytes& b, size_t off, uint64_t v) {
  for (size_t i = 0; i < 8; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
template <size_t N>
ByteArray<N> Take(ByteView b, size_t off) {
  ByteArray<N> out;
  std::memcpy(out.data(), b.data() + off, N);
  return out;
}
template <size_t N>
void Put(Bytes& b, size_t off, const ByteArray<N>& v) {
  std::memcpy(b.data() + off, v.data(), N);
}

std::string HexOffset(size_t off) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%03zX", off);
  return buffer;
}

// Returns the first non-zero offset in [begin, end), or end.
size_t FirstNonZero(ByteView b, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    if (b[i] != 0) return i;
  }
  return end;
}

Status RequireZero(ByteView b, size_t begin, size_t end, std::string_view what) {
  const size_t at = FirstNonZero(b, begin, end);
  if (at == end) return {};
  return Fail(ErrorCode::kParse,
              std::string(what) + " must be zero, but byte " + HexOffset(at) + " is " + std::to_string(b[at]));
}

bool Bit(uint64_t v, int bit) { return (v >> bit & 1) != 0; }

std::string Hex64(uint64_t v) {
  char hex[24];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(v));
  return hex;
}

}  // namespace

std::string_view ProductName(Product product) {
  switch (product) {
    case Product::kMilan: return "Milan";
    case Product::kGenoa: return "Genoa";
    case Product::kTurin: return "Turin";
    case Product::kUnknown: break;
  }
  return "unknown";
}

Result<Product> ParseProduct(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  // KDS names may carry a stepping ("Milan-B0").
  if (const size_t dash = lower.find('-'); dash != std::string::npos) lower.resize(dash);
  if (lower == "milan") return Product::kMilan;
  if (lower == "genoa") return Product::kGenoa;
  if (lower == "turin") return Product::kTurin;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown SEV-SNP product \"" + std::string(name.substr(0, 64)) + "\" (expected Milan, Genoa or Turin)");
}

bool TcbParts::AllAtMost(const TcbParts& o) const {
  return fmc <= o.fmc && bootloader <= o.bootloader && tee <= o.tee && snp <= o.snp && microcode <= o.microcode;
}

TcbParts DecodeTcb(uint64_t raw, Product product) {
  auto byte = [raw](int i) { return static_cast<uint8_t>(raw >> (8 * i)); };
  if (product == Product::kTurin) {
    return TcbParts{.fmc = byte(0), .bootloader = byte(1), .tee = byte(2), .snp = byte(3), .microcode = byte(7)};
  }
  return TcbParts{.fmc = 0, .bootloader = byte(0), .tee = byte(1), .snp = byte(6), .microcode = byte(7)};
}

uint64_t EncodeTcb(const TcbParts& p, Product product) {
  auto at = [](uint8_t v, int i) { return uint64_t{v} << (8 * i); };
  if (product == Product::kTurin) {
    return at(p.fmc, 0) | at(p.bootloader, 1) | at(p.tee, 2) | at(p.snp, 3) | at(p.microcode, 7);
  }
  return at(p.bootloader, 0) | at(p.tee, 1) | at(p.snp, 6) | at(p.microcode, 7);
}

std::string FormatTcb(const TcbParts& p, Product product) {
  std::string out;
  if (product == Product::kTurin) out += "fmc=" + std::to_string(p.fmc) + " ";
  out += "bootloader=" + std::to_string(p.bootloader) + " tee=" + std::to_string(p.tee) +
         " snp=" + std::to_string(p.snp) + " microcode=" + std::to_string(p.microcode);
  return out;
}

GuestPolicy GuestPolicy::Decode(uint64_t raw) {
  return GuestPolicy{
      .abi_minor = static_cast<uint8_t>(raw),
      .abi_major = static_cast<uint8_t>(raw >> 8),
      .smt = Bit(raw, 16),
      .migrate_ma = Bit(raw, 18),
      .debug = Bit(raw, 19),
      .single_socket = Bit(raw, 20),
      .cxl_allowed = Bit(raw, 21),
      .mem_aes_256_xts = Bit(raw, 22),
      .rapl_dis = Bit(raw, 23),
      .ciphertext_hiding_dram = Bit(raw, 24),
      .page_swap_disable = Bit(raw, 25),
  };
}

uint64_t GuestPolicy::Encode() const {
  auto bit = [](bool b, int i) { return b ? uint64_t{1} << i : 0; };
  return uint64_t{abi_minor} | uint64_t{abi_major} << 8 | bit(smt, 16) | kPolicyReservedOne | bit(migrate_ma, 18) |
         bit(debug, 19) | bit(single_socket, 20) | bit(cxl_allowed, 21) | bit(mem_aes_256_xts, 22) | bit(rapl_dis, 23) |
         bit(ciphertext_hiding_dram, 24) | bit(page_swap_disable, 25);
}

PlatformInfo PlatformInfo::Decode(uint64_t raw) {
  return PlatformInfo{
      .smt_enabled = Bit(raw, 0),
      .tsme_enabled = Bit(raw, 1),
      .ecc_enabled = Bit(raw, 2),
      .rapl_disabled = Bit(raw, 3),
      .ciphertext_hiding_dram_enabled = Bit(raw, 4),
      .alias_check_complete = Bit(raw, 5),
      .tio_enabled = Bit(raw, 7),
  };
}

uint64_t PlatformInfo::Encode() const {
  auto bit = [](bool b, int i) { return b ? uint64_t{1} << i : 0; };
  return bit(smt_enabled, 0) | bit(tsme_enabled, 1) | bit(ecc_enabled, 2) | bit(rapl_disabled, 3) |
         bit(ciphertext_hiding_dram_enabled, 4) | bit(alias_check_complete, 5) | bit(tio_enabled, 7);
}

std::string_view SigningKeyName(SigningKey key) {
  switch (key) {
    case SigningKey::kVcek: return "VCEK";
    case SigningKey::kVlek: return "VLEK";
    case SigningKey::kNone: return "none";
  }
  return "reserved";
}

SignerInfo SignerInfo::Decode(uint32_t raw) {
  return SignerInfo{.author_key_en = (raw & 1) != 0,
                    .mask_chip_key = (raw & 2) != 0,
                    .signing_key = static_cast<SigningKey>(raw >> 2 & 7)};
}

uint32_t SignerInfo::Encode() const {
  return (author_key_en ? 1u : 0u) | (mask_chip_key ? 2u : 0u) | static_cast<uint32_t>(signing_key) << 2;
}

Product Report::ProductFromCpuid() const {
  if (version < 3) return Product::kUnknown;
  const uint8_t model = cpuid_mod_id;
  if (cpuid_fam_id == 0x19) {
    if (model <= 0x0F) return Product::kMilan;
    if ((model >= 0x10 && model <= 0x1F) || (model >= 0xA0 && model <= 0xAF)) return Product::kGenoa;
  }
  if (cpuid_fam_id == 0x1A && model <= 0x11) return Product::kTurin;
  return Product::kUnknown;
}

bool Report::ChipIdMasked() const {
  return std::all_of(chip_id.begin(), chip_id.end(), [](uint8_t b) { return b == 0; });
}

Result<Report> ParseReport(ByteView b) {
  if (b.size() != kReportSize) {
    return Fail(ErrorCode::kParse, "attestation report is " + std::to_string(b.size()) + " bytes, expected " +
                                       std::to_string(kReportSize));
  }
  Report r;
  r.version = Le32(b, kOffVersion);
  if (r.version < kMinReportVersion || r.version > kMaxReportVersion) {
    return Fail(ErrorCode::kParse, "unsupported report VERSION " + std::to_string(r.version) + " (supported: 2 to 5)");
  }
  r.guest_svn = Le32(b, kOffGuestSvn);
  r.policy = Le64(b, kOffPolicy);
  if ((r.policy & kPolicyReservedOne) == 0) {
    return Fail(ErrorCode::kParse, "POLICY reserved bit 17 must be 1");
  }
  if ((r.policy & kPolicyMbzMask) != 0) {
    return Fail(ErrorCode::kParse, "POLICY reserved bits 63:26 must be zero (policy " + Hex64(r.policy) + ")");
  }
  r.family_id = Take<16>(b, kOffFamilyId);
  r.image_id = Take<16>(b, kOffImageId);
  r.vmpl = Le32(b, kOffVmpl);
  r.signature_algo = Le32(b, kOffSignatureAlgo);
  if (r.signature_algo != kSignatureAlgoEcdsaP384Sha384) {
    return Fail(ErrorCode::kParse, "SIGNATURE_ALGO " + std::to_string(r.signature_algo) +
                                       " is not supported (expected 1, ECDSA P-384 with SHA-384)");
  }
  r.current_tcb = Le64(b, kOffCurrentTcb);
  r.platform_info = Le64(b, kOffPlatformInfo);
  if ((r.platform_info & kPlatformInfoReservedMask) != 0) {
    return Fail(ErrorCode::kParse, "PLATFORM_INFO has reserved bits set (bit 6 or bits 63:8)");
  }
  r.signer_info = Le32(b, kOffSignerInfo);
  if ((r.signer_info & kSignerInfoMbzMask) != 0) {
    return Fail(ErrorCode::kParse, "SIGNER_INFO reserved bits 31:5 must be zero");
  }
  const auto key = static_cast<uint8_t>(r.signer_info >> 2 & 7);
  if (key != 0 && key != 1 && key != 7) {
    return Fail(ErrorCode::kParse, "SIGNER_INFO names reserved signing key " + std::to_string(key));
  }
  if (auto z = RequireZero(b, 0x04C, 0x050, "reserved bytes 0x04C..0x04F"); !z) return Fail(z.error());
  r.report_data = Take<64>(b, kOffReportData);
  r.measurement = Take<48>(b, kOffMeasurement);
  r.host_data = Take<32>(b, kOffHostData);
  r.id_key_digest = Take<48>(b, kOffIdKeyDigest);
  r.author_key_digest = Take<48>(b, kOffAuthorKeyDigest);
  r.report_id = Take<32>(b, kOffReportId);
  r.report_id_ma = Take<32>(b, kOffReportIdMa);
  r.reported_tcb = Le64(b, kOffReportedTcb);
  if (r.version >= 3) {
    r.cpuid_fam_id = b[kOffCpuidFamId];
    r.cpuid_mod_id = b[kOffCpuidModId];
    r.cpuid_step = b[kOffCpuidStep];
    if (auto z = RequireZero(b, 0x18B, 0x1A0, "reserved bytes 0x18B..0x19F"); !z) return Fail(z.error());
  } else if (auto z = RequireZero(b, 0x188, 0x1A0, "reserved bytes 0x188..0x19F (version 2)"); !z) {
    return Fail(z.error());
  }
  r.chip_id = Take<64>(b, kOffChipId);
  r.committed_tcb = Le64(b, kOffCommittedTcb);
  r.current_build = b[kOffCurrentBuild];
  r.current_minor = b[kOffCurrentMinor];
  r.current_major = b[kOffCurrentMajor];
  if (auto z = RequireZero(b, 0x1EB, 0x1EC, "reserved byte 0x1EB"); !z) return Fail(z.error());
  r.committed_build = b[kOffCommittedBuild];
  r.committed_minor = b[kOffCommittedMinor];
  r.committed_major = b[kOffCommittedMajor];
  if (auto z = RequireZero(b, 0x1EF, 0x1F0, "reserved byte 0x1EF"); !z) return Fail(z.error());
  r.launch_tcb = Le64(b, kOffLaunchTcb);
  if (r.version >= 5) {
    r.launch_mit_vector = Le64(b, kOffLaunchMitVector);
    r.current_mit_vector = Le64(b, kOffCurrentMitVector);
    if (auto z = RequireZero(b, 0x208, kSignedRegionSize, "reserved bytes 0x208..0x29F"); !z) return Fail(z.error());
  } else if (auto z = RequireZero(b, 0x1F8, kSignedRegionSize, "reserved bytes 0x1F8..0x29F (before version 5)"); !z) {
    return Fail(z.error());
  }
  r.signature_r = Take<72>(b, kOffSignatureR);
  r.signature_s = Take<72>(b, kOffSignatureS);
  // P-384 components use 48 of the 72 bytes; the rest of the signature area is zero.
  if (auto z = RequireZero(b, kOffSignatureR + kP384ComponentSize, kOffSignatureS, "SIGNATURE.R bytes 48..71"); !z) {
    return Fail(z.error());
  }
  if (auto z = RequireZero(b, kOffSignatureS + kP384ComponentSize, kOffSignatureEnd, "SIGNATURE.S bytes 48..71"); !z) {
    return Fail(z.error());
  }
  if (auto z = RequireZero(b, kOffSignatureEnd, kReportSize, "reserved signature bytes 0x330..0x49F"); !z) {
    return Fail(z.error());
  }
  static_assert(kOffSignatureS == kOffSignatureR + kEcdsaComponentSize);
  return r;
}

Bytes SerializeReport(const Report& r) {
  Bytes b(kReportSize, 0);
  PutLe32(b, kOffVersion, r.version);
  PutLe32(b, kOffGuestSvn, r.guest_svn);
  PutLe64(b, kOffPolicy, r.policy);
  Put(b, kOffFamilyId, r.family_id);
  Put(b, kOffImageId, r.image_id);
  PutLe32(b, kOffVmpl, r.vmpl);
  PutLe32(b, kOffSignatureAlgo, r.signature_algo);
  PutLe64(b, kOffCurrentTcb, r.current_tcb);
  PutLe64(b, kOffPlatformInfo, r.platform_info);
  PutLe32(b, kOffSignerInfo, r.signer_info);
  Put(b, kOffReportData, r.report_data);
  Put(b, kOffMeasurement, r.measurement);
  Put(b, kOffHostData, r.host_data);
  Put(b, kOffIdKeyDigest, r.id_key_digest);
  Put(b, kOffAuthorKeyDigest, r.author_key_digest);
  Put(b, kOffReportId, r.report_id);
  Put(b, kOffReportIdMa, r.report_id_ma);
  PutLe64(b, kOffReportedTcb, r.reported_tcb);
  if (r.version >= 3) {
    b[kOffCpuidFamId] = r.cpuid_fam_id;
    b[kOffCpuidModId] = r.cpuid_mod_id;
    b[kOffCpuidStep] = r.cpuid_step;
  }
  Put(b, kOffChipId, r.chip_id);
  PutLe64(b, kOffCommittedTcb, r.committed_tcb);
  b[kOffCurrentBuild] = r.current_build;
  b[kOffCurrentMinor] = r.current_minor;
  b[kOffCurrentMajor] = r.current_major;
  b[kOffCommittedBuild] = r.committed_build;
  b[kOffCommittedMinor] = r.committed_minor;
  b[kOffCommittedMajor] = r.committed_major;
  PutLe64(b, kOffLaunchTcb, r.launch_tcb);
  if (r.version >= 5) {
    PutLe64(b, kOffLaunchMitVector, r.launch_mit_vector);
    PutLe64(b, kOffCurrentMitVector, r.current_mit_vector);
  }
  Put(b, kOffSignatureR, r.signature_r);
  Put(b, kOffSignatureS, r.signature_s);
  return b;
}

namespace {

nlohmann::ordered_json TcbJson(uint64_t raw, Product product) {
  const TcbParts p = DecodeTcb(raw, product);
  char hex[24];
  std::snprintf(hex, sizeof hex, "0x%016llx", static_cast<unsigned long long>(raw));
  nlohmann::ordered_json j = {
      {"raw", hex}, {"bootloader", p.bootloader}, {"tee", p.tee}, {"snp", p.snp}, {"microcode", p.microcode}};
  if (product == Product::kTurin) j["fmc"] = p.fmc;
  return j;
}

}  // namespace

nlohmann::ordered_json ReportToJson(const Report& r, Product product) {
  if (product == Product::kUnknown) product = r.ProductFromCpuid();
  const GuestPolicy pol = r.Policy();
  const PlatformInfo pi = r.Platform();
  const SignerInfo si = r.Signer();
  nlohmann::ordered_json j;
  j["version"] = r.version;
  j["guest_svn"] = r.guest_svn;
  j["policy"] = {{"raw", Hex64(r.policy)},
                 {"abi_major", pol.abi_major},
                 {"abi_minor", pol.abi_minor},
                 {"smt", pol.smt},
                 {"migrate_ma", pol.migrate_ma},
                 {"debug", pol.debug},
                 {"single_socket", pol.single_socket},
                 {"cxl_allowed", pol.cxl_allowed},
                 {"mem_aes_256_xts", pol.mem_aes_256_xts},
                 {"rapl_dis", pol.rapl_dis},
                 {"ciphertext_hiding_dram", pol.ciphertext_hiding_dram},
                 {"page_swap_disable", pol.page_swap_disable}};
  j["family_id"] = HexEncode(r.family_id);
  j["image_id"] = HexEncode(r.image_id);
  j["vmpl"] = r.vmpl;
  j["signature_algo"] = r.signature_algo;
  j["current_tcb"] = TcbJson(r.current_tcb, product);
  j["platform_info"] = {{"raw", Hex64(r.platform_info)},
                        {"smt_enabled", pi.smt_enabled},
                        {"tsme_enabled", pi.tsme_enabled},
                        {"ecc_enabled", pi.ecc_enabled},
                        {"rapl_disabled", pi.rapl_disabled},
                        {"ciphertext_hiding_dram_enabled", pi.ciphertext_hiding_dram_enabled},
                        {"alias_check_complete", pi.alias_check_complete},
                        {"tio_enabled", pi.tio_enabled}};
  j["signer_info"] = {{"raw", Hex64(r.signer_info)},
                      {"author_key_en", si.author_key_en},
                      {"mask_chip_key", si.mask_chip_key},
                      {"signing_key", SigningKeyName(si.signing_key)}};
  j["report_data"] = HexEncode(r.report_data);
  j["measurement"] = HexEncode(r.measurement);
  j["host_data"] = HexEncode(r.host_data);
  j["id_key_digest"] = HexEncode(r.id_key_digest);
  j["author_key_digest"] = HexEncode(r.author_key_digest);
  j["report_id"] = HexEncode(r.report_id);
  j["report_id_ma"] = HexEncode(r.report_id_ma);
  j["reported_tcb"] = TcbJson(r.reported_tcb, product);
  if (r.version >= 3) {
    j["cpuid"] = {{"family", Hex64(r.cpuid_fam_id)}, {"model", Hex64(r.cpuid_mod_id)}, {"stepping", r.cpuid_step}};
  }
  j["product"] = ProductName(product);
  j["chip_id"] = HexEncode(r.chip_id);
  j["committed_tcb"] = TcbJson(r.committed_tcb, product);
  j["current_firmware"] = std::to_string(r.current_major) + "." + std::to_string(r.current_minor) + " build " +
                          std::to_string(r.current_build);
  j["committed_firmware"] = std::to_string(r.committed_major) + "." + std::to_string(r.committed_minor) + " build " +
                            std::to_string(r.committed_build);
  j["launch_tcb"] = TcbJson(r.launch_tcb, product);
  if (r.version >= 5) {
    j["launch_mit_vector"] = Hex64(r.launch_mit_vector);
    j["current_mit_vector"] = Hex64(r.current_mit_vector);
  }
  j["signature"] = {{"r", HexEncode(ByteView(r.signature_r).first(kP384ComponentSize))},
                    {"s", HexEncode(ByteView(r.signature_s).first(kP384ComponentSize))}};
  return j;
}

}  // namespace contrast::attest::snp
