#include "attest/emulated/tdx_platform.h"

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "crypto/keys.h"
#include "crypto/signature.h"
#include "crypto/x509_builder.h"

namespace contrast::attest::emulated {

using crypto::KeyType;
using crypto::PrivateKey;

namespace detail {
// What real hardware keeps in fuses, the TDX module and the QE, plus the CA
// keys Intel keeps (an emulator signs its own collateral).
struct TdxPlatform {
  TdxPlatform(PrivateKey root_key_in, PrivateKey platform_ca_key_in, PrivateKey pck_key_in,
              PrivateKey tcb_signing_key_in, PrivateKey attestation_key_in, crypto::Certificate root_in,
              crypto::Certificate platform_ca_in, crypto::Certificate pck_in, crypto::Certificate tcb_signing_in)
      : root_key(std::move(root_key_in)),
        platform_ca_key(std::move(platform_ca_key_in)),
        pck_key(std::move(pck_key_in)),
        tcb_signing_key(std::move(tcb_signing_key_in)),
        attestation_key(std::move(attestation_key_in)),
        root(std::move(root_in)),
        platform_ca(std::move(platform_ca_in)),
        pck(std::move(pck_in)),
        tcb_signing(std::move(tcb_signing_in)) {}

  PrivateKey root_key;
  PrivateKey platform_ca_key;
  PrivateKey pck_key;
  PrivateKey tcb_signing_key;
  PrivateKey attestation_key;
  crypto::Certificate root;
  crypto::Certificate platform_ca;
  crypto::Certificate pck;
  crypto::Certificate tcb_signing;
  tdx::PckCertificateInfo pck_info;
  std::array<uint8_t, 16> tee_tcb_svn{};
  tdx::Measurement mr_seam{};
  tdx::EnclaveReport qe_report;
  std::array<uint8_t, 64> attestation_key_xy{};
  // Certification data type 6 (QE report, its signature, QE auth data, PCK
  // chain): the same in every quote, so it is built once.
  Bytes certification_data;
};
}  // namespace detail

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kSgxExtensionOid = "1.2.840.113741.1.13.1";
constexpr std::string_view kRootName = kEmulatedTdxRootName;
constexpr std::string_view kPlatformCaName = "Intel SGX PCK Platform CA";
constexpr std::string_view kPckName = "Intel SGX PCK Certificate";
constexpr std::string_view kTcbSigningName = "Intel SGX TCB Signing";
constexpr auto kCaValidity = std::chrono::years(25);
constexpr auto kLeafValidity = std::chrono::years(7);
// Intel's QE: MISCSELECT 0, ATTRIBUTES as real TD QEs report them.
constexpr std::array<uint8_t, 16> kQeAttributes = {0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0};
constexpr std::string_view kQeIdentityAttributes = "11000000000000000000000000000000";
constexpr std::string_view kQeIdentityAttributesMask = "FBFFFFFFFFFFFFFF0000000000000000";

constexpr std::string_view kStateFile = "state.json";
constexpr std::string_view kStateFormat = "contrast-emulated-tdx/v1";
constexpr unsigned kKeyMode = 0400;
constexpr unsigned kCertMode = 0644;

TimePoint Plus(TimePoint t, std::chrono::years years) {
  return t + std::chrono::duration_cast<std::chrono::seconds>(years);
}

template <size_t N>
Status RandomFill(std::array<uint8_t, N>& out) {
  return crypto::Check(RAND_bytes(out.data(), static_cast<int>(N)), "drawing random bytes");
}

// A fixed value derived from a label: plainly not one of Intel's.
template <size_t N>
std::array<uint8_t, N> LabelDigest(std::string_view label) {
  std::array<uint8_t, N> out{};
  if constexpr (N == 48) {
    out = crypto::Sha384(AsBytes(label));
  } else {
    static_assert(N == 32);
    out = crypto::Sha256(AsBytes(label));
  }
  return out;
}

void PutLe(Bytes& out, uint64_t value, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void Append(Bytes& out, ByteView bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

// ---- DER for Intel's SGX extension: SEQUENCE OF SEQUENCE { OID, value } ----

Bytes Tlv(uint8_t tag, ByteView content) {
  Bytes out{tag};
  const size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    Bytes length;
    for (size_t v = n; v > 0; v >>= 8) length.insert(length.begin(), static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(0x80 | length.size()));
    Append(out, length);
  }
  Append(out, content);
  return out;
}

Bytes Sequence(const std::vector<Bytes>& items) {
  Bytes content;
  for (const Bytes& item : items) Append(content, item);
  return Tlv(0x30, content);
}

Result<Bytes> Oid(const std::string& dotted) {
  crypto::Owned<ASN1_OBJECT, ASN1_OBJECT_free> object(OBJ_txt2obj(dotted.c_str(), 1));
  if (!object) return Fail(crypto::OpensslError(ErrorCode::kInternal, "encoding OID " + dotted));
  unsigned char* der = nullptr;
  const int length = i2d_ASN1_OBJECT(object.get(), &der);
  if (length <= 0) return Fail(crypto::OpensslError(ErrorCode::kInternal, "encoding OID " + dotted));
  crypto::OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

// SEQUENCE { OID <sgx>.<arc>, value }.
Result<Bytes> Member(const std::string& arc, Result<Bytes> value) {
  if (!value) return Fail(value.error());
  auto oid = Oid(std::string(kSgxExtensionOid) + "." + arc);
  if (!oid) return Fail(oid.error());
  return Sequence({*oid, *value});
}

Result<Bytes> SgxExtension(const tdx::PckCertificateInfo& info) {
  std::vector<Result<Bytes>> tcb;
  for (size_t i = 0; i < 16; ++i) {
    tcb.push_back(Member("2." + std::to_string(i + 1), crypto::EncodeDerInteger(info.sgx_components[i])));
  }
  tcb.push_back(Member("2.17", crypto::EncodeDerInteger(info.pce_svn)));
  tcb.push_back(Member("2.18", crypto::EncodeDerOctetString(info.cpu_svn)));
  std::vector<Bytes> tcb_items;
  for (auto& item : tcb) {
    if (!item) return Fail(item.error());
    tcb_items.push_back(std::move(*item));
  }
  std::vector<Result<Bytes>> members;
  members.push_back(Member("1", crypto::EncodeDerOctetString(info.ppid)));
  members.push_back(Member("2", Sequence(tcb_items)));
  members.push_back(Member("3", crypto::EncodeDerOctetString(info.pce_id)));
  members.push_back(Member("4", crypto::EncodeDerOctetString(info.fmspc)));
  members.push_back(Member("5", Tlv(0x0a, Bytes{static_cast<uint8_t>(info.sgx_type)})));  // ENUMERATED
  if (info.platform_instance_id) {
    members.push_back(Member("6", crypto::EncodeDerOctetString(*info.platform_instance_id)));
    std::vector<Bytes> configuration;
    const std::pair<const char*, std::optional<bool>> flags[] = {
        {"7.1", info.dynamic_platform}, {"7.2", info.cached_keys}, {"7.3", info.smt_enabled}};
    for (const auto& [arc, flag] : flags) {
      auto item = Member(arc, crypto::EncodeDerBoolean(flag.value_or(false)));
      if (!item) return Fail(item.error());
      configuration.push_back(std::move(*item));
    }
    members.push_back(Member("7", Sequence(configuration)));
  }
  std::vector<Bytes> items;
  for (auto& item : members) {
    if (!item) return Fail(item.error());
    items.push_back(std::move(*item));
  }
  return Sequence(items);
}

// ---- Certificates ----

crypto::DistinguishedName IntelShapedName(std::string_view common_name) {
  return {{"CN", std::string(common_name)},
          {"O", std::string(kEmulatedTdxOrganization)},
          {"L", "Santa Clara"},
          {"ST", "CA"},
          {"C", "US"}};
}

Result<Bytes> RandomSerial() {
  std::array<uint8_t, 20> serial{};
  if (auto ok = RandomFill(serial); !ok) return Fail(ok.error());
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x01);  // positive, no leading zero
  return Bytes(serial.begin(), serial.end());
}

std::string CrlUrl(std::string_view what) { return "https://emulated-tdx.invalid/" + std::string(what); }

Result<crypto::Certificate> Issue(crypto::CertificateBuilder& builder, const PrivateKey& issuer_key,
                                  std::string_view what) {
  auto der = builder.SignDer(issuer_key);
  if (!der) return Fail(der.error().Wrap("issuing the " + std::string(what)));
  return crypto::Certificate::ParseDer(*der);
}

Result<PrivateKey> NewP256Key() { return PrivateKey::Generate(KeyType::kEcP256); }

// ---- The Quoting Enclave ----

Result<std::array<uint8_t, 64>> PublicPoint(const PrivateKey& key) {
  std::array<uint8_t, 65> point{};
  size_t length = 0;
  if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &length) != 1 ||
      length != point.size() || point[0] != 0x04) {
    return Fail(crypto::OpensslError(ErrorCode::kInternal, "exporting the attestation key as an uncompressed point"));
  }
  std::array<uint8_t, 64> xy{};
  std::copy(point.begin() + 1, point.end(), xy.begin());
  return xy;
}

std::array<uint8_t, tdx::kEnclaveReportSize> EncodeEnclaveReport(const tdx::EnclaveReport& e) {
  std::array<uint8_t, tdx::kEnclaveReportSize> b{};
  auto put = [&](size_t offset, ByteView bytes) { std::copy(bytes.begin(), bytes.end(), b.begin() + offset); };
  auto put_le = [&](size_t offset, uint64_t value, size_t n) {
    for (size_t i = 0; i < n; ++i) b[offset + i] = static_cast<uint8_t>(value >> (8 * i));
  };
  put(0x00, e.cpu_svn);
  put_le(0x10, e.misc_select, 4);
  put(0x30, e.attributes);
  put(0x40, e.mr_enclave);
  put(0x80, e.mr_signer);
  put_le(0x100, e.isv_prod_id, 2);
  put_le(0x102, e.isv_svn, 2);
  put(0x140, e.report_data);
  return b;
}

std::string PemOf(const crypto::Certificate& cert) {
  auto pem = crypto::CertificatePemFromDer(cert.Der());
  return pem ? *pem : std::string();  // the certificate was produced or checked by us
}

// The QE report binding the attestation key, signed by the PCK key, and the
// whole certification data around it.
Status BuildQe(detail::TdxPlatform& p, uint16_t isv_prod_id, uint16_t isv_svn) {
  auto xy = PublicPoint(p.attestation_key);
  if (!xy) return Fail(xy.error());
  p.attestation_key_xy = *xy;
  Bytes auth_data(32);
  for (size_t i = 0; i < auth_data.size(); ++i) auth_data[i] = static_cast<uint8_t>(i);

  tdx::EnclaveReport& qe = p.qe_report;
  qe.cpu_svn = p.pck_info.cpu_svn;
  qe.misc_select = 0;
  qe.attributes = kQeAttributes;
  qe.mr_enclave = LabelDigest<32>("contrast emulated TDX quoting enclave (INSECURE)");
  qe.mr_signer = LabelDigest<32>("contrast emulated TDX quoting enclave signer (INSECURE)");
  qe.isv_prod_id = isv_prod_id;
  qe.isv_svn = isv_svn;
  Bytes bound(xy->begin(), xy->end());
  Append(bound, auth_data);
  const crypto::Sha256Digest digest = crypto::Sha256(bound);
  qe.report_data.fill(0);
  std::copy(digest.begin(), digest.end(), qe.report_data.begin());
  const auto report = EncodeEnclaveReport(qe);
  auto signature = crypto::SignEcdsaP256Sha256(p.pck_key, report);
  if (!signature) return Fail(signature.error().Wrap("signing the QE report"));

  // Intel terminates the chain with a NUL byte.
  std::string chain = PemOf(p.pck) + PemOf(p.platform_ca) + PemOf(p.root);
  chain.push_back('\0');
  Bytes& out = p.certification_data;
  out.clear();
  Append(out, report);
  Append(out, signature->r);
  Append(out, signature->s);
  PutLe(out, auth_data.size(), 2);
  Append(out, auth_data);
  PutLe(out, tdx::kCertificationDataPckChain, 2);
  PutLe(out, chain.size(), 4);
  Append(out, AsBytes(chain));
  return {};
}

Status ValidateOptions(const EmulatedTdxOptions& options) {
  if (options.sgx_type < 0 || options.sgx_type > 2) {
    return Fail(ErrorCode::kInvalidArgument, "SGX type must be 0, 1 or 2, got " + std::to_string(options.sgx_type));
  }
  return {};
}

// The platform and, for Create, nothing else: every key lives in it.
Result<std::shared_ptr<detail::TdxPlatform>> NewPlatform(const EmulatedTdxOptions& options) {
  if (auto ok = ValidateOptions(options); !ok) return Fail(ok.error());
  auto root_key = NewP256Key();
  auto platform_ca_key = NewP256Key();
  auto pck_key = NewP256Key();
  auto tcb_signing_key = NewP256Key();
  auto attestation_key = NewP256Key();
  for (auto* key : {&root_key, &platform_ca_key, &pck_key, &tcb_signing_key, &attestation_key}) {
    if (!*key) return Fail(key->error());
  }

  tdx::PckCertificateInfo info;
  if (auto ok = RandomFill(info.ppid); !ok) return Fail(ok.error());
  info.cpu_svn = options.cpu_svn;
  info.sgx_components = options.cpu_svn;
  info.pce_svn = options.pce_svn;
  info.pce_id = options.pce_id;
  info.fmspc = options.fmspc;
  info.sgx_type = options.sgx_type;
  if (options.sgx_type != 0) {
    std::array<uint8_t, 16> instance{};
    if (auto ok = RandomFill(instance); !ok) return Fail(ok.error());
    info.platform_instance_id = Bytes(instance.begin(), instance.end());
    info.dynamic_platform = options.dynamic_platform;
    info.cached_keys = options.cached_keys;
    info.smt_enabled = options.smt_enabled;
  }
  auto extension = SgxExtension(info);
  if (!extension) return Fail(extension.error());

  const TimePoint not_before = options.not_before;
  const auto root_name = IntelShapedName(kRootName);
  const auto platform_ca_name = IntelShapedName(kPlatformCaName);
  auto serials = std::array<Result<Bytes>, 4>{RandomSerial(), RandomSerial(), RandomSerial(), RandomSerial()};
  for (const auto& serial : serials) {
    if (!serial) return Fail(serial.error());
  }

  crypto::CertificateBuilder root_builder;
  root_builder.SetSubject(root_name)
      .SetIssuer(root_name)
      .SetSerial(*serials[0])
      .SetValidity(not_before, Plus(not_before, kCaValidity))
      .SetPublicKey(*root_key)
      .AddBasicConstraints(true, 1)
      .AddKeyUsage(crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign)
      .AddSubjectKeyIdentifier()
      .AddCrlDistributionPoint(CrlUrl("IntelSGXRootCA.der"));
  auto root = Issue(root_builder, *root_key, "root CA");
  if (!root) return Fail(root.error());

  crypto::CertificateBuilder ca_builder;
  ca_builder.SetSubject(platform_ca_name)
      .SetIssuer(root_name)
      .SetSerial(*serials[1])
      .SetValidity(not_before, Plus(not_before, kCaValidity))
      .SetPublicKey(*platform_ca_key)
      .AddBasicConstraints(true, 0)
      .AddKeyUsage(crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign)
      .AddSubjectKeyIdentifier()
      .AddAuthorityKeyIdentifier()
      .AddCrlDistributionPoint(CrlUrl("IntelSGXRootCA.der"));
  auto platform_ca = Issue(ca_builder, *root_key, "PCK Platform CA");
  if (!platform_ca) return Fail(platform_ca.error());

  crypto::CertificateBuilder pck_builder;
  pck_builder.SetSubject(IntelShapedName(kPckName))
      .SetIssuer(platform_ca_name)
      .SetSerial(*serials[2])
      .SetValidity(not_before, Plus(not_before, kLeafValidity))
      .SetPublicKey(*pck_key)
      .AddBasicConstraints(false)
      .AddKeyUsage(crypto::kKeyUsageDigitalSignature)
      .AddSubjectKeyIdentifier()
      .AddAuthorityKeyIdentifier()
      .AddCrlDistributionPoint(CrlUrl("pckcrl?ca=platform&encoding=der"))
      .AddExtension(std::string(kSgxExtensionOid), std::move(*extension));
  auto pck = Issue(pck_builder, *platform_ca_key, "PCK certificate");
  if (!pck) return Fail(pck.error());

  crypto::CertificateBuilder signing_builder;
  signing_builder.SetSubject(IntelShapedName(kTcbSigningName))
      .SetIssuer(root_name)
      .SetSerial(*serials[3])
      .SetValidity(not_before, Plus(not_before, kLeafValidity))
      .SetPublicKey(*tcb_signing_key)
      .AddBasicConstraints(false)
      .AddKeyUsage(crypto::kKeyUsageDigitalSignature)
      .AddSubjectKeyIdentifier()
      .AddAuthorityKeyIdentifier()
      .AddCrlDistributionPoint(CrlUrl("IntelSGXRootCA.der"));
  auto tcb_signing = Issue(signing_builder, *root_key, "TCB signing certificate");
  if (!tcb_signing) return Fail(tcb_signing.error());

  auto p = std::make_shared<detail::TdxPlatform>(
      std::move(*root_key), std::move(*platform_ca_key), std::move(*pck_key), std::move(*tcb_signing_key),
      std::move(*attestation_key), std::move(*root), std::move(*platform_ca), std::move(*pck), std::move(*tcb_signing));
  // What the verifier will read, rather than what we meant to write.
  auto parsed = tdx::ParsePckExtension(p->pck);
  if (!parsed) return Fail(parsed.error().Wrap("the emulated PCK certificate"));
  p->pck_info = std::move(*parsed);
  p->tee_tcb_svn = options.tee_tcb_svn;
  p->mr_seam = options.mr_seam.value_or(LabelDigest<48>("contrast emulated TDX module (INSECURE)"));
  if (auto ok = BuildQe(*p, options.qe_isv_prod_id, options.qe_isv_svn); !ok) return Fail(ok.error());
  return p;
}

// ---- Collateral ----

std::string Upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c; });
  return text;
}

Json IsvLevelsJson(const std::vector<tdx::IsvTcbLevel>& levels) {
  Json out = Json::array();
  for (const tdx::IsvTcbLevel& level : levels) {
    Json entry = {{"tcb", {{"isvsvn", level.isv_svn}}},
                  {"tcbDate", FormatRfc3339(level.tcb_date)},
                  {"tcbStatus", std::string(tdx::TcbStatusName(level.status))}};
    if (!level.advisory_ids.empty()) entry["advisoryIDs"] = level.advisory_ids;
    out.push_back(std::move(entry));
  }
  return out;
}

tdx::IsvTcbLevel UpToDateIsvLevel(uint16_t isv_svn, TimePoint tcb_date) {
  tdx::IsvTcbLevel level;
  level.isv_svn = isv_svn;
  level.tcb_date = tcb_date;
  level.status = tdx::TcbStatus::kUpToDate;
  return level;
}

Json ComponentsJson(const std::array<uint8_t, 16>& svns) {
  Json out = Json::array();
  for (uint8_t svn : svns) out.push_back({{"svn", svn}});
  return out;
}

void AddModule(Json& object, const std::string& mr_signer_hex) {
  object["mrsigner"] = mr_signer_hex;
  object["attributes"] = "0000000000000000";
  object["attributesMask"] = "FFFFFFFFFFFFFFFF";
}

// {"<key>":<value>,"signature":"<hex r||s>"}, the signature over the exact
// bytes of <value>.
Result<std::string> SignedBody(std::string_view key, const Json& value, const PrivateKey& signing_key) {
  const std::string signed_json = value.dump();
  auto signature = crypto::SignEcdsaP256Sha256(signing_key, AsBytes(signed_json));
  if (!signature) return Fail(signature.error().Wrap("signing " + std::string(key)));
  Bytes rs(signature->r.begin(), signature->r.end());
  Append(rs, signature->s);
  return "{\"" + std::string(key) + "\":" + signed_json + ",\"signature\":\"" + HexEncode(rs) + "\"}";
}

Result<Bytes> SignCrl(const crypto::Certificate& issuer, const PrivateKey& issuer_key, TimePoint this_update,
                      TimePoint next_update, const std::vector<Bytes>& serials) {
  crypto::CrlBuilder builder;
  // The same name as the issuer's certificate subject (IntelShapedName).
  builder.SetIssuer(IntelShapedName(issuer.SubjectCommonName())).SetUpdateTimes(this_update, next_update);
  for (const Bytes& serial : serials) builder.AddRevoked(serial, this_update);
  return builder.SignDer(issuer_key);
}

// ---- Persistence ----

struct StateFiles {
  std::filesystem::path dir;
  std::filesystem::path Cert(std::string_view role) const { return dir / (std::string(role) + ".pem"); }
  std::filesystem::path Key(std::string_view role) const { return dir / (std::string(role) + ".key.pem"); }
  std::filesystem::path State() const { return dir / kStateFile; }
};

constexpr std::string_view kRoles[] = {"root", "pck-platform-ca", "pck", "tcb-signing"};

Status WriteKey(const StateFiles& files, std::string_view role, const PrivateKey& key) {
  auto pem = key.ToPkcs8Pem();
  if (!pem) return Fail(pem.error());
  return WriteFileAtomic(files.Key(role), *pem, kKeyMode);
}

Status WriteState(const StateFiles& files, const detail::TdxPlatform& p) {
  const std::pair<const PrivateKey*, const crypto::Certificate*> pairs[] = {{&p.root_key, &p.root},
                                                                            {&p.platform_ca_key, &p.platform_ca},
                                                                            {&p.pck_key, &p.pck},
                                                                            {&p.tcb_signing_key, &p.tcb_signing}};
  for (size_t i = 0; i < std::size(kRoles); ++i) {
    if (auto ok = WriteKey(files, kRoles[i], *pairs[i].first); !ok) return ok;
    if (auto ok = WriteFileAtomic(files.Cert(kRoles[i]), PemOf(*pairs[i].second), kCertMode); !ok) return ok;
  }
  if (auto ok = WriteKey(files, "attestation", p.attestation_key); !ok) return ok;
  const Json state = {{"format", std::string(kStateFormat)},
                      {"tee_tcb_svn", HexEncode(p.tee_tcb_svn)},
                      {"mr_seam", HexEncode(p.mr_seam)},
                      {"qe_isv_prod_id", p.qe_report.isv_prod_id},
                      {"qe_isv_svn", p.qe_report.isv_svn}};
  // state.json goes last: its presence marks a complete state.
  return WriteFileAtomic(files.State(), state.dump(2) + "\n", kCertMode);
}

Result<PrivateKey> LoadKey(const StateFiles& files, std::string_view role) {
  auto pem = ReadTextFile(files.Key(role), 1 << 16);
  if (!pem) return Fail(pem.error());
  auto key = PrivateKey::FromPkcs8Pem(*pem);
  if (!key) return Fail(key.error().Wrap(files.Key(role).string()));
  if (key->type() != KeyType::kEcP256) {
    return Fail(ErrorCode::kInvalidArgument, files.Key(role).string() + " holds a " +
                                                 std::string(crypto::KeyTypeName(key->type())) +
                                                 " key, expected EC P-256");
  }
  return key;
}

Result<std::pair<PrivateKey, crypto::Certificate>> LoadPair(const StateFiles& files, std::string_view role) {
  auto key = LoadKey(files, role);
  if (!key) return Fail(key.error());
  auto pem = ReadTextFile(files.Cert(role), 1 << 16);
  if (!pem) return Fail(pem.error());
  auto cert = crypto::Certificate::ParsePem(*pem);
  if (!cert) return Fail(cert.error().Wrap(files.Cert(role).string()));
  if (!key->Matches(cert->PublicKey())) {
    return Fail(ErrorCode::kCertificateInvalid,
                files.Key(role).string() + " is not the key of the certificate " + files.Cert(role).string());
  }
  return std::make_pair(std::move(*key), std::move(*cert));
}

template <size_t N>
Result<std::array<uint8_t, N>> HexArray(const Json& state, const char* field) {
  const auto it = state.find(field);
  auto bytes = it != state.end() && it->is_string() ? HexDecode(it->get<std::string>())
                                                    : Result<Bytes>(Fail(ErrorCode::kParse, "missing"));
  if (!bytes || bytes->size() != N) {
    return Fail(ErrorCode::kParse,
                std::string("state.json ") + field + " must be " + std::to_string(N) + " bytes of hex");
  }
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Result<uint16_t> U16(const Json& state, const char* field) {
  const auto it = state.find(field);
  if (it == state.end() || !it->is_number_unsigned() || it->get<uint64_t>() > 0xFFFF) {
    return Fail(ErrorCode::kParse, std::string("state.json ") + field + " must be an integer 0..65535");
  }
  return static_cast<uint16_t>(it->get<uint64_t>());
}

Result<std::shared_ptr<detail::TdxPlatform>> LoadPlatform(const StateFiles& files) {
  auto text = ReadTextFile(files.State(), 1 << 16);
  if (!text) return Fail(text.error());
  const Json state = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) return Fail(ErrorCode::kParse, "state.json is not a JSON object");
  const auto format = state.find("format");
  if (format == state.end() || !format->is_string() || format->get<std::string>() != kStateFormat) {
    return Fail(ErrorCode::kUnsupported, "state.json is not a \"" + std::string(kStateFormat) + "\" state");
  }
  auto tee_tcb_svn = HexArray<16>(state, "tee_tcb_svn");
  auto mr_seam = HexArray<48>(state, "mr_seam");
  auto prod_id = U16(state, "qe_isv_prod_id");
  auto isv_svn = U16(state, "qe_isv_svn");
  if (!tee_tcb_svn) return Fail(tee_tcb_svn.error());
  if (!mr_seam) return Fail(mr_seam.error());
  if (!prod_id) return Fail(prod_id.error());
  if (!isv_svn) return Fail(isv_svn.error());

  auto root = LoadPair(files, "root");
  if (!root) return Fail(root.error());
  auto ca = LoadPair(files, "pck-platform-ca");
  if (!ca) return Fail(ca.error());
  auto pck = LoadPair(files, "pck");
  if (!pck) return Fail(pck.error());
  auto signing = LoadPair(files, "tcb-signing");
  if (!signing) return Fail(signing.error());
  auto attestation_key = LoadKey(files, "attestation");
  if (!attestation_key) return Fail(attestation_key.error());
  if (auto ok = root->second.VerifySignedBy(root->second); !ok) return Fail(ok.error().Wrap("root CA"));
  if (auto ok = ca->second.VerifySignedBy(root->second); !ok) return Fail(ok.error().Wrap("PCK Platform CA"));
  if (auto ok = pck->second.VerifySignedBy(ca->second); !ok) return Fail(ok.error().Wrap("PCK certificate"));
  if (auto ok = signing->second.VerifySignedBy(root->second); !ok) return Fail(ok.error().Wrap("TCB signing"));
  auto info = tdx::ParsePckExtension(pck->second);
  if (!info) return Fail(info.error());

  auto p = std::make_shared<detail::TdxPlatform>(std::move(root->first), std::move(ca->first), std::move(pck->first),
                                                 std::move(signing->first), std::move(*attestation_key),
                                                 std::move(root->second), std::move(ca->second), std::move(pck->second),
                                                 std::move(signing->second));
  p->pck_info = std::move(*info);
  p->tee_tcb_svn = *tee_tcb_svn;
  p->mr_seam = *mr_seam;
  if (auto ok = BuildQe(*p, *prod_id, *isv_svn); !ok) return Fail(ok.error());
  return p;
}

}  // namespace

// ---- InsecureEmulatedTdx ----

Result<InsecureEmulatedTdx> InsecureEmulatedTdx::CreateInMemory(const EmulatedTdxOptions& options) {
  auto platform = NewPlatform(options);
  if (!platform) return Fail(platform.error());
  return InsecureEmulatedTdx(std::move(*platform));
}

Result<InsecureEmulatedTdx> InsecureEmulatedTdx::Create(const std::filesystem::path& state_dir,
                                                        const EmulatedTdxOptions& options) {
  const StateFiles files{state_dir};
  std::error_code ec;
  if (std::filesystem::exists(files.State(), ec)) {
    return Fail(ErrorCode::kInvalidArgument,
                state_dir.string() + " already holds an emulated TDX state; not overwriting");
  }
  if (std::filesystem::create_directories(state_dir, ec)) {
    std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all, ec);
  }
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + state_dir.string() + ": " + ec.message());
  auto platform = NewPlatform(options);
  if (!platform) return Fail(platform.error());
  if (auto ok = WriteState(files, **platform); !ok) {
    return Fail(ok.error().Wrap("writing the emulated TDX state to " + state_dir.string()));
  }
  return InsecureEmulatedTdx(std::move(*platform));
}

Result<InsecureEmulatedTdx> InsecureEmulatedTdx::Load(const std::filesystem::path& state_dir) {
  auto platform = LoadPlatform(StateFiles{state_dir});
  if (!platform) return Fail(platform.error().Wrap("loading the emulated TDX state from " + state_dir.string()));
  return InsecureEmulatedTdx(std::move(*platform));
}

Result<Bytes> InsecureEmulatedTdx::Quote(const TdReportFields& td, ByteView report_data, uint16_t version) const {
  if (version != tdx::kQuoteVersion4 && version != tdx::kQuoteVersion5) {
    return Fail(ErrorCode::kInvalidArgument, "emulated TDX quotes are version 4 or 5, not " + std::to_string(version));
  }
  if (report_data.size() > 64) {
    return Fail(ErrorCode::kInvalidArgument,
                "REPORTDATA is " + std::to_string(report_data.size()) + " bytes, at most 64 allowed");
  }
  const detail::TdxPlatform& p = *platform_;
  Bytes quote;
  quote.reserve(1024 + p.certification_data.size());
  PutLe(quote, version, 2);
  PutLe(quote, tdx::kAttestationKeyTypeEcdsaP256, 2);
  PutLe(quote, tdx::kTeeTypeTdx, 4);
  PutLe(quote, 0, 4);  // reserved
  Append(quote, tdx::kIntelQeVendorId);
  quote.resize(quote.size() + 20);  // user data
  if (version == tdx::kQuoteVersion5) {
    PutLe(quote, tdx::kBodyTypeTdReport15, 2);
    PutLe(quote, tdx::kTdReport15Size, 4);
  }
  const std::array<uint8_t, 8> seam_attributes{};
  const tdx::Measurement mr_signer_seam{};  // Intel-signed modules
  Append(quote, p.tee_tcb_svn);
  Append(quote, p.mr_seam);
  Append(quote, mr_signer_seam);
  Append(quote, seam_attributes);
  Append(quote, td.td_attributes);
  Append(quote, td.xfam);
  Append(quote, td.mr_td);
  Append(quote, td.mr_config_id);
  Append(quote, td.mr_owner);
  Append(quote, td.mr_owner_config);
  for (const auto& rtmr : td.rtmrs) Append(quote, rtmr);
  std::array<uint8_t, 64> padded{};
  std::copy(report_data.begin(), report_data.end(), padded.begin());
  Append(quote, padded);
  if (version == tdx::kQuoteVersion5) {
    Append(quote, p.tee_tcb_svn);  // TEE_TCB_SVN2
    Append(quote, td.mr_service_td);
  }

  auto signature = crypto::SignEcdsaP256Sha256(p.attestation_key, quote);
  if (!signature) return Fail(signature.error().Wrap("signing the quote"));
  const size_t certification_size = p.certification_data.size();
  PutLe(quote, 64 + 64 + 2 + 4 + certification_size, 4);  // signed-data size
  Append(quote, signature->r);
  Append(quote, signature->s);
  Append(quote, p.attestation_key_xy);
  PutLe(quote, tdx::kCertificationDataQeReport, 2);
  PutLe(quote, certification_size, 4);
  Append(quote, p.certification_data);
  return quote;
}

tdx::TcbLevel InsecureEmulatedTdx::PlatformTcbLevel(tdx::TcbStatus status,
                                                    std::vector<std::string> advisory_ids) const {
  const detail::TdxPlatform& p = *platform_;
  tdx::TcbLevel level;
  level.sgx_components = p.pck_info.sgx_components;
  level.pce_svn = p.pck_info.pce_svn;
  level.tdx_components = p.tee_tcb_svn;
  level.tcb_date = *ParseRfc3339("2024-11-13T00:00:00Z");
  level.status = status;
  level.advisory_ids = std::move(advisory_ids);
  return level;
}

Result<tdx::Collateral> InsecureEmulatedTdx::Collateral(const EmulatedTdxCollateralOptions& options) const {
  const detail::TdxPlatform& p = *platform_;
  const std::string issue_date = FormatRfc3339(options.issue_date);
  const std::string next_update = FormatRfc3339(options.next_update);
  const TimePoint level_date = *ParseRfc3339("2024-11-13T00:00:00Z");
  const std::string module_signer = Upper(HexEncode(tdx::Measurement{}));

  Json tcb_info = {{"id", "TDX"},
                   {"version", 3},
                   {"issueDate", issue_date},
                   {"nextUpdate", next_update},
                   {"fmspc", HexEncode(p.pck_info.fmspc)},
                   {"pceId", HexEncode(p.pck_info.pce_id)},
                   {"tcbType", 0},
                   {"tcbEvaluationDataNumber", options.tcb_evaluation_data_number}};
  Json tdx_module = Json::object();
  AddModule(tdx_module, module_signer);
  tcb_info["tdxModule"] = tdx_module;
  const uint8_t module_major = p.tee_tcb_svn[1];
  if (module_major > 0) {
    char id[8];
    std::snprintf(id, sizeof(id), "TDX_%02X", module_major);
    Json identity = {{"id", id}};
    AddModule(identity, module_signer);
    identity["tcbLevels"] = IsvLevelsJson(options.tdx_module_levels.value_or(
        std::vector<tdx::IsvTcbLevel>{UpToDateIsvLevel(p.tee_tcb_svn[0], level_date)}));
    tcb_info["tdxModuleIdentities"] = Json::array({identity});
  }
  Json levels = Json::array();
  for (const tdx::TcbLevel& level :
       options.tcb_levels.value_or(std::vector<tdx::TcbLevel>{PlatformTcbLevel(tdx::TcbStatus::kUpToDate)})) {
    Json entry = {{"tcb",
                   {{"sgxtcbcomponents", ComponentsJson(level.sgx_components)},
                    {"pcesvn", level.pce_svn},
                    {"tdxtcbcomponents", ComponentsJson(level.tdx_components)}}},
                  {"tcbDate", FormatRfc3339(level.tcb_date)},
                  {"tcbStatus", std::string(tdx::TcbStatusName(level.status))}};
    if (!level.advisory_ids.empty()) entry["advisoryIDs"] = level.advisory_ids;
    levels.push_back(std::move(entry));
  }
  tcb_info["tcbLevels"] = std::move(levels);

  const Json qe_identity = {
      {"id", "TD_QE"},
      {"version", 2},
      {"issueDate", issue_date},
      {"nextUpdate", next_update},
      {"tcbEvaluationDataNumber", options.tcb_evaluation_data_number},
      {"miscselect", "00000000"},
      {"miscselectMask", "FFFFFFFF"},
      {"attributes", std::string(kQeIdentityAttributes)},
      {"attributesMask", std::string(kQeIdentityAttributesMask)},
      {"mrsigner", Upper(HexEncode(p.qe_report.mr_signer))},
      {"isvprodid", p.qe_report.isv_prod_id},
      {"tcbLevels", IsvLevelsJson(options.qe_levels.value_or(
                        std::vector<tdx::IsvTcbLevel>{UpToDateIsvLevel(p.qe_report.isv_svn, level_date)}))},
  };

  tdx::Collateral out;
  auto tcb_body = SignedBody("tcbInfo", tcb_info, p.tcb_signing_key);
  if (!tcb_body) return Fail(tcb_body.error());
  auto qe_body = SignedBody("enclaveIdentity", qe_identity, p.tcb_signing_key);
  if (!qe_body) return Fail(qe_body.error());
  out.tcb_info = std::move(*tcb_body);
  out.qe_identity = std::move(*qe_body);
  out.issuer_chain = PemOf(p.tcb_signing) + PemOf(p.root);

  const TimePoint this_update = options.crl_this_update.value_or(options.issue_date);
  const TimePoint crl_next_update = options.crl_next_update.value_or(options.next_update);
  std::vector<Bytes> pck_serials = options.pck_crl_extra_serials;
  if (options.revoke_pck_leaf) pck_serials.push_back(p.pck.Serial());
  std::vector<Bytes> root_serials = options.root_crl_extra_serials;
  if (options.revoke_pck_platform_ca) root_serials.push_back(p.platform_ca.Serial());
  if (options.revoke_tcb_signing) root_serials.push_back(p.tcb_signing.Serial());
  auto pck_crl = SignCrl(p.platform_ca, p.platform_ca_key, this_update, crl_next_update, pck_serials);
  if (!pck_crl) return Fail(pck_crl.error().Wrap("signing the PCK CRL"));
  auto root_crl = SignCrl(p.root, p.root_key, this_update, crl_next_update, root_serials);
  if (!root_crl) return Fail(root_crl.error().Wrap("signing the root CA CRL"));
  out.pck_crl = std::move(*pck_crl);
  out.root_crl = std::move(*root_crl);
  return out;
}

const crypto::Certificate& InsecureEmulatedTdx::root() const { return platform_->root; }
crypto::Sha256Digest InsecureEmulatedTdx::root_sha256() const { return platform_->root.Sha256Fingerprint(); }
std::string InsecureEmulatedTdx::root_pem() const { return PemOf(platform_->root); }
const crypto::Certificate& InsecureEmulatedTdx::pck_platform_ca() const { return platform_->platform_ca; }
const crypto::Certificate& InsecureEmulatedTdx::pck_leaf() const { return platform_->pck; }
const crypto::Certificate& InsecureEmulatedTdx::tcb_signing() const { return platform_->tcb_signing; }
std::string InsecureEmulatedTdx::pck_chain_pem() const {
  return PemOf(platform_->pck) + PemOf(platform_->platform_ca) + PemOf(platform_->root);
}
const tdx::PckCertificateInfo& InsecureEmulatedTdx::pck() const { return platform_->pck_info; }
const std::array<uint8_t, 16>& InsecureEmulatedTdx::tee_tcb_svn() const { return platform_->tee_tcb_svn; }
const tdx::Measurement& InsecureEmulatedTdx::mr_seam() const { return platform_->mr_seam; }
const tdx::EnclaveReport& InsecureEmulatedTdx::qe_report() const { return platform_->qe_report; }

}  // namespace contrast::attest::emulated
