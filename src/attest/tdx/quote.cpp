#include "attest/tdx/quote.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>
#include <string_view>

namespace contrast::attest::tdx {
namespace {

// Quote signature, attestation key, certification data type and size.
constexpr size_t kAuthDataFixedSize = 64 + 64 + 2 + 4;
// QE report, its signature, the QE auth data length.
constexpr size_t kQeCertificationFixedSize = kEnclaveReportSize + 64 + 2;
// Far above any real chain (~3.7 KiB); keeps hostile sizes from meaning
// anything.
constexpr size_t kMaxPckChainSize = 64 * 1024;

std::string Hex(uint64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

// Bounds-checked little-endian reads from a fixed buffer. Every read names
// the field, so a truncated quote says what was missing.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }

  Result<ByteView> Take(size_t n, std::string_view field) {
    if (n > remaining()) {
      return Fail(ErrorCode::kParse, "quote is truncated: " + std::string(field) + " needs " + std::to_string(n) +
                                         " bytes at offset " + Hex(offset_) + ", " + std::to_string(remaining()) +
                                         " left");
    }
    ByteView out = bytes_.subspan(offset_, n);
    offset_ += n;
    return out;
  }

  template <size_t N>
  Status Copy(std::array<uint8_t, N>& out, std::string_view field) {
    auto bytes = Take(N, field);
    if (!bytes) return Fail(bytes.error());
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return {};
  }

  Result<uint64_t> Le(size_t n, std::string_view field) {
    auto bytes = Take(n, field);
    if (!bytes) return Fail(bytes.error());
    uint64_t value = 0;
    for (size_t i = n; i-- > 0;) value = (value << 8) | (*bytes)[i];
    return value;
  }

 private:
  ByteView bytes_;
  size_t offset_ = 0;
};

uint64_t Le64(const std::array<uint8_t, 8>& bytes) {
  uint64_t value = 0;
  for (size_t i = 8; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

#define TDX_TRY(expr)                                                  \
  do {                                                                 \
    if (auto status_ = (expr); !status_) return Fail(status_.error()); \
  } while (0)

Status ParseHeader(Reader& r, QuoteHeader& h) {
  auto version = r.Le(2, "version");
  if (!version) return Fail(version.error());
  h.version = static_cast<uint16_t>(*version);
  if (h.version != kQuoteVersion4 && h.version != kQuoteVersion5) {
    return Fail(ErrorCode::kUnsupported,
                "quote format not supported: version " + std::to_string(h.version) + " (expected 4 or 5)");
  }
  auto key_type = r.Le(2, "attestation key type");
  if (!key_type) return Fail(key_type.error());
  h.attestation_key_type = static_cast<uint16_t>(*key_type);
  if (h.attestation_key_type != kAttestationKeyTypeEcdsaP256) {
    return Fail(ErrorCode::kUnsupported, "attestation key type " + std::to_string(h.attestation_key_type) +
                                             " not supported (expected 2, ECDSA P-256)");
  }
  auto tee_type = r.Le(4, "TEE type");
  if (!tee_type) return Fail(tee_type.error());
  h.tee_type = static_cast<uint32_t>(*tee_type);
  if (h.tee_type != kTeeTypeTdx) {
    return Fail(ErrorCode::kUnsupported, "TEE type " + Hex(h.tee_type) + " not supported (expected 0x81, TDX)");
  }
  TDX_TRY(r.Copy(h.reserved, "reserved header bytes"));
  TDX_TRY(r.Copy(h.qe_vendor_id, "QE vendor id"));
  TDX_TRY(r.Copy(h.user_data, "user data"));
  return {};
}

Status ParseTdReport(Reader& r, bool td15, TdReport& t) {
  TDX_TRY(r.Copy(t.tee_tcb_svn, "TEE_TCB_SVN"));
  TDX_TRY(r.Copy(t.mr_seam, "MRSEAM"));
  TDX_TRY(r.Copy(t.mr_signer_seam, "MRSIGNERSEAM"));
  TDX_TRY(r.Copy(t.seam_attributes, "SEAMATTRIBUTES"));
  TDX_TRY(r.Copy(t.td_attributes, "TDATTRIBUTES"));
  TDX_TRY(r.Copy(t.xfam, "XFAM"));
  TDX_TRY(r.Copy(t.mr_td, "MRTD"));
  TDX_TRY(r.Copy(t.mr_config_id, "MRCONFIGID"));
  TDX_TRY(r.Copy(t.mr_owner, "MROWNER"));
  TDX_TRY(r.Copy(t.mr_owner_config, "MROWNERCONFIG"));
  for (auto& rtmr : t.rtmrs) TDX_TRY(r.Copy(rtmr, "RTMR"));
  TDX_TRY(r.Copy(t.report_data, "REPORTDATA"));
  if (td15) {
    std::array<uint8_t, 16> svn2{};
    Measurement service_td{};
    TDX_TRY(r.Copy(svn2, "TEE_TCB_SVN2"));
    TDX_TRY(r.Copy(service_td, "MRSERVICETD"));
    t.tee_tcb_svn2 = svn2;
    t.mr_service_td = service_td;
  }
  return {};
}

Status ParseBody(Reader& r, Quote& q) {
  if (q.header.version == kQuoteVersion4) {
    q.body_type = kBodyTypeTdReport10;
    return ParseTdReport(r, false, q.td_report);
  }
  auto type = r.Le(2, "body type");
  if (!type) return Fail(type.error());
  auto size = r.Le(4, "body size");
  if (!size) return Fail(size.error());
  q.body_type = static_cast<uint16_t>(*type);
  size_t expected = 0;
  if (q.body_type == kBodyTypeTdReport10) {
    expected = kTdReport10Size;
  } else if (q.body_type == kBodyTypeTdReport15) {
    expected = kTdReport15Size;
  } else {
    return Fail(ErrorCode::kUnsupported, "quote v5 body type " + std::to_string(q.body_type) +
                                             " not supported (expected 2, TD report 1.0, or 3, TD report 1.5)");
  }
  if (*size != expected) {
    return Fail(ErrorCode::kParse, "quote v5 body size " + Hex(*size) + " does not match body type " +
                                       std::to_string(q.body_type) + " (expected " + Hex(expected) + ")");
  }
  return ParseTdReport(r, q.body_type == kBodyTypeTdReport15, q.td_report);
}

EnclaveReport DecodeEnclaveReport(const std::array<uint8_t, kEnclaveReportSize>& b) {
  EnclaveReport e;
  auto le = [&](size_t off, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | b[off + i];
    return v;
  };
  std::copy_n(b.begin(), 16, e.cpu_svn.begin());
  e.misc_select = static_cast<uint32_t>(le(0x10, 4));
  std::copy_n(b.begin() + 0x30, 16, e.attributes.begin());
  std::copy_n(b.begin() + 0x40, 32, e.mr_enclave.begin());
  std::copy_n(b.begin() + 0x80, 32, e.mr_signer.begin());
  e.isv_prod_id = static_cast<uint16_t>(le(0x100, 2));
  e.isv_svn = static_cast<uint16_t>(le(0x102, 2));
  std::copy_n(b.begin() + 0x140, 64, e.report_data.begin());
  return e;
}

// The certification data that follows the attestation key: QE report
// certification data (type 6) whose last element is the PCK chain (type 5).
// `declared_size` is the outer size field; everything inside must add up to
// it exactly.
Status ParseQeCertification(Reader& r, size_t declared_size, Quote& q) {
  const size_t start = r.offset();
  TDX_TRY(r.Copy(q.qe_report_bytes, "QE report"));
  q.qe_report = DecodeEnclaveReport(q.qe_report_bytes);
  TDX_TRY(r.Copy(q.qe_report_signature, "QE report signature"));
  auto auth_size = r.Le(2, "QE auth data size");
  if (!auth_size) return Fail(auth_size.error());
  auto auth = r.Take(*auth_size, "QE auth data");
  if (!auth) return Fail(auth.error());
  q.qe_auth_data.assign(auth->begin(), auth->end());
  auto type = r.Le(2, "PCK certification data type");
  if (!type) return Fail(type.error());
  if (*type != kCertificationDataPckChain) {
    return Fail(ErrorCode::kUnsupported, "inner certification data type " + std::to_string(*type) +
                                             " not supported (expected 5, PCK certificate chain)");
  }
  auto chain_size = r.Le(4, "PCK certification data size");
  if (!chain_size) return Fail(chain_size.error());
  const size_t expected = kQeCertificationFixedSize + q.qe_auth_data.size() + 2 + 4 + *chain_size;
  if (*chain_size > kMaxPckChainSize || expected != declared_size) {
    return Fail(ErrorCode::kParse, "QE report certification data size " + Hex(declared_size) +
                                       " does not match its contents (expected " + Hex(expected) + ")");
  }
  auto chain = r.Take(*chain_size, "PCK certificate chain");
  if (!chain) return Fail(chain.error());
  q.pck_chain_pem.assign(AsChars(*chain));
  if (r.offset() - start != declared_size) return Fail(ErrorCode::kInternal, "QE certification data accounting");
  return {};
}

}  // namespace

uint64_t TdReport::td_attributes_value() const { return Le64(td_attributes); }
uint64_t TdReport::xfam_value() const { return Le64(xfam); }
uint64_t TdReport::seam_attributes_value() const { return Le64(seam_attributes); }

Result<Quote> ParseQuote(ByteView bytes) {
  Reader r(bytes);
  Quote q;
  TDX_TRY(ParseHeader(r, q.header));
  TDX_TRY(ParseBody(r, q));
  q.signed_region.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(r.offset()));

  auto signed_data_size = r.Le(4, "signed data size");
  if (!signed_data_size) return Fail(signed_data_size.error());
  TDX_TRY(r.Copy(q.signature, "quote signature"));
  TDX_TRY(r.Copy(q.attestation_key, "attestation key"));
  auto cert_type = r.Le(2, "certification data type");
  if (!cert_type) return Fail(cert_type.error());
  if (*cert_type != kCertificationDataQeReport) {
    return Fail(ErrorCode::kUnsupported, "certification data type " + std::to_string(*cert_type) +
                                             " not supported (expected 6, QE report certification data)");
  }
  auto cert_size = r.Le(4, "certification data size");
  if (!cert_size) return Fail(cert_size.error());
  // The signed-data size is redundant with the certification data size; a
  // quote whose sizes disagree is malformed even when its signatures verify
  // (the sizes are not covered by any signature).
  if (*signed_data_size < kAuthDataFixedSize || *signed_data_size - kAuthDataFixedSize != *cert_size) {
    const uint64_t implied = *signed_data_size >= kAuthDataFixedSize ? *signed_data_size - kAuthDataFixedSize : 0;
    return Fail(ErrorCode::kParse, "certificate data size " + Hex(implied) + " (from the signed data size " +
                                       Hex(*signed_data_size) + ") does not match the certification data, expected " +
                                       Hex(*cert_size));
  }
  if (*cert_size > r.remaining()) {
    return Fail(ErrorCode::kParse, "quote is truncated: certification data size " + Hex(*cert_size) + ", " +
                                       std::to_string(r.remaining()) + " bytes left");
  }
  TDX_TRY(ParseQeCertification(r, *cert_size, q));
  q.size = r.offset();
  // Bytes after the PCK chain are covered by no signature and no size field
  // (quotes from fixed-size buffers carry padding, and go-tdx-guest's sample
  // carries text); they are ignored, and `size` says where the quote ends.
  return q;
}

#undef TDX_TRY

}  // namespace contrast::attest::tdx
