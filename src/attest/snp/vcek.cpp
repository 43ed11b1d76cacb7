#include "attest/snp/vcek.h"

#include <array>
#include <climits>
#include <string_view>

namespace contrast::attest::snp {
namespace {

constexpr std::string_view kCnVcek = "SEV-VCEK";
constexpr std::string_view kCnVlek = "SEV-VLEK";
constexpr size_t kMaxNameLength = 256;

// The AMD extensions we read (1.3.6.1.4.1.3704.1.*).
enum Field : size_t {
  kStructVersion,
  kProductName,
  kBlSpl,
  kTeeSpl,
  kSnpSpl,
  kSpl4,
  kSpl5,
  kSpl6,
  kSpl7,
  kUcodeSpl,
  kFmcSpl,
  kHwId,
  kCspId,
  kFieldCount,
};

struct FieldSpec {
  std::string_view oid;
  std::string_view name;
};

constexpr std::array<FieldSpec, kFieldCount> kFields = {{
    {"1.3.6.1.4.1.3704.1.1", "structVersion"},
    {"1.3.6.1.4.1.3704.1.2", "productName"},
    {"1.3.6.1.4.1.3704.1.3.1", "blSPL"},
    {"1.3.6.1.4.1.3704.1.3.2", "teeSPL"},
    {"1.3.6.1.4.1.3704.1.3.3", "snpSPL"},
    {"1.3.6.1.4.1.3704.1.3.4", "spl4"},
    {"1.3.6.1.4.1.3704.1.3.5", "spl5"},
    {"1.3.6.1.4.1.3704.1.3.6", "spl6"},
    {"1.3.6.1.4.1.3704.1.3.7", "spl7"},
    {"1.3.6.1.4.1.3704.1.3.8", "ucodeSPL"},
    {"1.3.6.1.4.1.3704.1.3.9", "fmcSPL"},
    {"1.3.6.1.4.1.3704.1.4", "hwID"},
    {"1.3.6.1.4.1.3704.1.5", "cspID"},
}};

tl::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kCertificateInvalid, "endorsement key: " + std::move(message));
}

std::string Describe(Field field) {
  return std::string(kFields[field].name) + " (" + std::string(kFields[field].oid) + ")";
}

// A DER INTEGER that fills `value` exactly.
Result<int64_t> DecodeInteger(const Bytes& value, Field field) {
  if (value.empty() || value.size() > static_cast<size_t>(LONG_MAX)) return Invalid(Describe(field) + " is empty");
  const unsigned char* p = value.data();
  crypto::Asn1IntegerPtr integer(d2i_ASN1_INTEGER(nullptr, &p, static_cast<long>(value.size())));
  if (!integer || static_cast<size_t>(p - value.data()) != value.size()) {
    crypto::ClearOpensslErrors();
    return Invalid(Describe(field) + " is not a DER INTEGER");
  }
  int64_t out = 0;
  if (ASN1_INTEGER_get_int64(&out, integer.get()) != 1) {
    crypto::ClearOpensslErrors();
    return Invalid(Describe(field) + " does not fit in 64 bits");
  }
  return out;
}

Result<uint8_t> DecodeSpl(const Bytes& value, Field field) {
  auto v = DecodeInteger(value, field);
  if (!v) return Fail(v.error());
  if (*v < 0 || *v > 255) return Invalid(Describe(field) + " is " + std::to_string(*v) + ", expected 0..255");
  return static_cast<uint8_t>(*v);
}

// A DER IA5String of printable ASCII that fills `value` exactly.
Result<std::string> DecodeIa5(const Bytes& value, Field field) {
  if (value.empty() || value.size() > static_cast<size_t>(LONG_MAX)) return Invalid(Describe(field) + " is empty");
  const unsigned char* p = value.data();
  crypto::Asn1StringPtr text(d2i_ASN1_IA5STRING(nullptr, &p, static_cast<long>(value.size())));
  if (!text || static_cast<size_t>(p - value.data()) != value.size()) {
    crypto::ClearOpensslErrors();
    return Invalid(Describe(field) + " is not a DER IA5String");
  }
  const int length = ASN1_STRING_length(text.get());
  if (length <= 0 || static_cast<size_t>(length) > kMaxNameLength) {
    return Invalid(Describe(field) + " has length " + std::to_string(length) + ", expected 1.." +
                   std::to_string(kMaxNameLength));
  }
  const unsigned char* data = ASN1_STRING_get0_data(text.get());
  std::string out(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
  for (const char c : out) {
    if (c < 0x20 || c > 0x7E) return Invalid(Describe(field) + " contains a non-printable character");
  }
  return out;
}

// KDS encodes the hwID as the raw bytes; some tools wrap it in a DER OCTET
// STRING. The raw form has exactly 8 or 64 bytes, the wrapped form 10 or 66.
Result<Bytes> DecodeHwId(const Bytes& value) {
  if (value.size() == 8 || value.size() == 64) return value;
  if (!value.empty() && value[0] == V_ASN1_OCTET_STRING && value.size() <= 128) {
    const unsigned char* p = value.data();
    crypto::Asn1OctetStringPtr inner(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(value.size())));
    if (inner && static_cast<size_t>(p - value.data()) == value.size()) {
      const unsigned char* data = ASN1_STRING_get0_data(inner.get());
      const auto length = static_cast<size_t>(ASN1_STRING_length(inner.get()));
      if (length == 8 || length == 64) return Bytes(data, data + length);
      return Invalid(Describe(kHwId) + " is " + std::to_string(length) + " bytes, expected 8 or 64");
    }
    crypto::ClearOpensslErrors();
  }
  return Invalid(Describe(kHwId) + " is " + std::to_string(value.size()) +
                 " bytes and not an OCTET STRING of 8 or 64 bytes");
}

}  // namespace

Result<EndorsementKeyInfo> ParseEndorsementKey(ByteView certificate_der) {
  auto cert = crypto::Certificate::ParseDer(certificate_der);
  if (!cert) return Fail(cert.error().Wrap("endorsement key"));
  return ParseEndorsementKey(*cert);
}

Result<EndorsementKeyInfo> ParseEndorsementKey(const crypto::Certificate& certificate) {
  EndorsementKeyInfo info;
  const std::string cn = certificate.SubjectCommonName();
  if (cn == kCnVcek) {
    info.kind = SigningKey::kVcek;
  } else if (cn == kCnVlek) {
    info.kind = SigningKey::kVlek;
  } else {
    return Invalid("subject CN is \"" + cn.substr(0, 64) + "\", expected SEV-VCEK or SEV-VLEK");
  }

  std::array<std::optional<Bytes>, kFieldCount> values;
  for (crypto::Extension& ext : certificate.Extensions()) {
    for (size_t i = 0; i < kFieldCount; ++i) {
      if (ext.oid != kFields[i].oid) continue;
      if (values[i]) return Invalid(Describe(static_cast<Field>(i)) + " occurs more than once");
      values[i] = std::move(ext.value);
    }
  }
  for (const Field required : {kStructVersion, kProductName, kBlSpl, kTeeSpl, kSnpSpl, kUcodeSpl}) {
    if (!values[required]) return Invalid(Describe(required) + " is missing");
  }

  auto version = DecodeInteger(*values[kStructVersion], kStructVersion);
  if (!version) return Fail(version.error());
  info.struct_version = *version;
  auto name = DecodeIa5(*values[kProductName], kProductName);
  if (!name) return Fail(name.error());
  info.product_name = *name;
  auto product = ParseProduct(info.product_name);
  if (!product) return Invalid("unknown productName \"" + info.product_name + "\"");
  info.product = *product;

  struct Spl {
    Field field;
    uint8_t* out;
  };
  uint8_t ignored = 0;  // spl4..spl7 are reserved; checked for range only
  const Spl spls[] = {{kBlSpl, &info.tcb.bootloader},
                      {kTeeSpl, &info.tcb.tee},
                      {kSnpSpl, &info.tcb.snp},
                      {kUcodeSpl, &info.tcb.microcode},
                      {kFmcSpl, &info.tcb.fmc},
                      {kSpl4, &ignored},
                      {kSpl5, &ignored},
                      {kSpl6, &ignored},
                      {kSpl7, &ignored}};
  for (const Spl& spl : spls) {
    if (!values[spl.field]) continue;
    auto v = DecodeSpl(*values[spl.field], spl.field);
    if (!v) return Fail(v.error());
    *spl.out = *v;
  }
  // Only Turin (and later) firmware has an FMC component in its TCB.
  const bool turin = info.product == Product::kTurin;
  if (turin && !values[kFmcSpl]) return Invalid(Describe(kFmcSpl) + " is missing in a Turin certificate");
  if (!turin && values[kFmcSpl]) {
    return Invalid(Describe(kFmcSpl) + " is present in a " + std::string(ProductName(info.product)) + " certificate");
  }

  if (values[kHwId]) {
    if (info.kind != SigningKey::kVcek) return Invalid("a VLEK must not carry " + Describe(kHwId));
    auto hwid = DecodeHwId(*values[kHwId]);
    if (!hwid) return Fail(hwid.error());
    const size_t expected = turin ? 8 : 64;
    if (hwid->size() != expected) {
      return Invalid(Describe(kHwId) + " is " + std::to_string(hwid->size()) + " bytes, expected " +
                     std::to_string(expected) + " for " + std::string(ProductName(info.product)));
    }
    info.hwid = std::move(*hwid);
  } else if (info.kind == SigningKey::kVcek) {
    return Invalid("a VCEK must carry " + Describe(kHwId));
  }
  if (values[kCspId]) {
    if (info.kind != SigningKey::kVlek) return Invalid("a VCEK must not carry " + Describe(kCspId));
    auto csp = DecodeIa5(*values[kCspId], kCspId);
    if (!csp) return Fail(csp.error());
    info.csp_id = std::move(*csp);
  }
  return info;
}

}  // namespace contrast::attest::snp
