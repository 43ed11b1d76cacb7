#include "ca/ca.h"

#include <arpa/inet.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>

#include "common/time.h"

namespace contrast::ca {
namespace {

using crypto::SubjectAltName;

constexpr std::chrono::seconds kBackdate = std::chrono::hours(1);
constexpr std::chrono::years kCaLifetime{10};
constexpr std::chrono::years kLeafLifetime{1};
constexpr size_t kSerialBytes = 16;
// ub-common-name (RFC 5280 appendix A); OpenSSL refuses longer CNs.
constexpr size_t kMaxCommonNameLength = 64;
constexpr int kMinRsaBits = 2048;

// The same date and time of day `years` later (29 February -> 28 February).
TimePoint AddYears(TimePoint t, std::chrono::years years) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day date = std::chrono::year_month_day(day) + years;
  if (!date.ok()) date = date.year() / date.month() / std::chrono::last;
  return std::chrono::sys_days(date) + (t - day);
}

crypto::DistinguishedName NameWithCn(std::string_view cn) { return {{"CN", std::string(cn)}}; }

// A random positive 128-bit serial number (big-endian magnitude, never zero).
Result<Bytes> RandomSerial() {
  Bytes serial(kSerialBytes);
  do {
    if (auto ok = crypto::Check(RAND_bytes(serial.data(), static_cast<int>(serial.size())), "drawing a serial number");
        !ok) {
      return Fail(ok.error());
    }
  } while (std::all_of(serial.begin(), serial.end(), [](uint8_t b) { return b == 0; }));
  return serial;
}

Status RequireP384(const crypto::PrivateKey& key, std::string_view what) {
  if (key.type() == crypto::KeyType::kEcP384) return {};
  return Fail(ErrorCode::kInvalidArgument,
              std::string(what) + " key: expected EC P-384, got " + std::string(crypto::KeyTypeName(key.type())));
}

Result<crypto::Certificate> ParseBuilt(const Result<Bytes>& der, std::string_view what) {
  if (!der) return Fail(der.error().Wrap(std::string("building the ") + std::string(what) + " certificate"));
  return crypto::Certificate::ParseDer(*der);
}

// The CA extensions shared by root, intermediate and mesh CA.
crypto::CertificateBuilder CaCertificateBuilder(std::string_view subject_cn, std::string_view issuer_cn,
                                                const crypto::PrivateKey& subject_key, Bytes serial, TimePoint now,
                                                std::optional<int> path_length) {
  crypto::CertificateBuilder builder;
  builder.SetSubject(NameWithCn(subject_cn))
      .SetIssuer(NameWithCn(issuer_cn))
      .SetSerial(std::move(serial))
      .SetValidity(now - kBackdate, AddYears(now, kCaLifetime))
      .SetPublicKey(subject_key)
      .AddBasicConstraints(true, path_length)
      .AddKeyUsage(crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign | crypto::kKeyUsageDigitalSignature)
      .AddSubjectKeyIdentifier();
  return builder;
}

bool IsSchemeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

bool HasUriScheme(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const char first = text[0];
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) return false;
  return std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(colon), IsSchemeChar);
}

bool IsIpAddress(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// "SANs[1]" plus a printable rendering of the value for messages.
std::string DescribeSan(size_t index, std::string_view value) {
  std::string out = "SANs[" + std::to_string(index) + "] \"";
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F && c != '"' && c != '\\') {
      out += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    }
  }
  return out + "\"";
}

Status CheckSanCharacters(size_t index, const std::string& san) {
  if (san.empty()) return Fail(ErrorCode::kInvalidArgument, "SANs[" + std::to_string(index) + "] is empty");
  for (size_t i = 0; i < san.size(); ++i) {
    const auto byte = static_cast<unsigned char>(san[i]);
    if (byte <= 0x20 || byte >= 0x7F) {
      char found[8];
      std::snprintf(found, sizeof found, "0x%02x", byte);
      return Fail(ErrorCode::kInvalidArgument, DescribeSan(index, san) +
                                                   ": expected printable ASCII without spaces, found byte " + found +
                                                   " at offset " + std::to_string(i));
    }
  }
  return {};
}

// The workload's key: exactly one DER SubjectPublicKeyInfo of a type we sign.
Status CheckSubjectPublicKey(ByteView der) {
  if (der.empty()) return Fail(ErrorCode::kParse, "subject public key: empty");
  if (der.size() > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return Fail(ErrorCode::kParse, "subject public key: too long");
  }
  const unsigned char* cursor = der.data();
  crypto::EvpPkeyPtr key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(der.size())));
  if (!key || cursor != der.data() + der.size()) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse,
                "subject public key: not a single DER SubjectPublicKeyInfo (" + std::to_string(der.size()) + " bytes)");
  }
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_EC:
    case EVP_PKEY_ED25519: return {};
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key.get()) >= kMinRsaBits) return {};
      return Fail(ErrorCode::kUnsupported, "subject public key: RSA key has " +
                                               std::to_string(EVP_PKEY_get_bits(key.get())) +
                                               " bits, expected >= " + std::to_string(kMinRsaBits));
    default:
      return Fail(ErrorCode::kUnsupported, "subject public key: unsupported algorithm " +
                                               std::string(OBJ_nid2sn(EVP_PKEY_get_base_id(key.get()))) +
                                               ", expected EC, RSA or Ed25519");
  }
}

// Claims must not break path validation (critical) or shadow the extensions
// the CA sets itself (2.5.29.*), and each OID may occur once.
Status CheckClaims(std::span<const crypto::Extension> claims) {
  std::set<std::string> seen;
  for (size_t i = 0; i < claims.size(); ++i) {
    const crypto::Extension& claim = claims[i];
    const std::string where = "claims[" + std::to_string(i) + "] (" + claim.oid + ")";
    crypto::Asn1ObjectPtr object(OBJ_txt2obj(claim.oid.c_str(), 1));
    if (!object) {
      crypto::ClearOpensslErrors();
      return Fail(ErrorCode::kInvalidArgument, where + ": malformed OID, expected dotted decimal");
    }
    if (claim.critical) return Fail(ErrorCode::kInvalidArgument, where + ": claims must be non-critical");
    if (claim.oid.rfind("2.5.29.", 0) == 0) {
      return Fail(ErrorCode::kInvalidArgument, where + ": standard certificate extensions are set by the CA");
    }
    if (!seen.insert(claim.oid).second) return Fail(ErrorCode::kInvalidArgument, where + ": duplicate OID");
  }
  return {};
}

// The first DNS SAN that fits a CN, else the first SAN that does.
Result<std::string> LeafCommonName(const std::vector<SubjectAltName>& names) {
  auto fits = [](const SubjectAltName& san) { return san.value.size() <= kMaxCommonNameLength; };
  for (const SubjectAltName& san : names) {
    if (san.kind == SubjectAltName::Kind::kDns && fits(san)) return san.value;
  }
  for (const SubjectAltName& san : names) {
    if (fits(san)) return san.value;
  }
  return Fail(ErrorCode::kInvalidArgument, "every SAN is longer than the " + std::to_string(kMaxCommonNameLength) +
                                               " characters a subject common name may have");
}

}  // namespace

struct CertificateAuthority::Root {
  crypto::PrivateKey key;
  crypto::Certificate certificate;
  std::string pem;
};

struct CertificateAuthority::Mesh {
  crypto::PrivateKey key;
  crypto::Certificate intermediate;
  crypto::Certificate mesh_ca;
  std::string intermediate_pem;
  std::string mesh_ca_pem;
};

Result<crypto::Extension> WorkloadSecretIdExtension(std::string_view workload_secret_id) {
  auto value = crypto::EncodeDerOctetString(AsBytes(workload_secret_id));
  if (!value) return Fail(value.error());
  return crypto::Extension{.oid = std::string(kWorkloadSecretIdOid), .critical = false, .value = std::move(*value)};
}

Result<std::vector<SubjectAltName>> ClassifySubjectAltNames(std::span<const std::string> sans) {
  if (sans.empty()) return Fail(ErrorCode::kInvalidArgument, "SANs: expected at least one, got none");
  std::vector<SubjectAltName> out;
  out.reserve(sans.size());
  for (size_t i = 0; i < sans.size(); ++i) {
    if (auto ok = CheckSanCharacters(i, sans[i]); !ok) return Fail(ok.error());
    SubjectAltName::Kind kind = SubjectAltName::Kind::kDns;
    if (IsIpAddress(sans[i])) {
      kind = SubjectAltName::Kind::kIpAddress;
    } else if (HasUriScheme(sans[i])) {
      kind = SubjectAltName::Kind::kUri;
    }
    out.push_back(SubjectAltName{.kind = kind, .value = sans[i]});
  }
  return out;
}

CertificateAuthority::CertificateAuthority(std::shared_ptr<const Root> root, std::shared_ptr<const Mesh> mesh)
    : root_(std::move(root)), mesh_(std::move(mesh)) {}

Result<CertificateAuthority> CertificateAuthority::Generate() {
  auto root_key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  if (!root_key) return Fail(root_key.error().Wrap("generating the root CA key"));
  return Create(std::move(*root_key));
}

Result<CertificateAuthority> CertificateAuthority::Create(crypto::PrivateKey root_key,
                                                          std::optional<crypto::PrivateKey> mesh_ca_key) {
  if (auto ok = RequireP384(root_key, "root CA"); !ok) return Fail(ok.error());
  auto serial = RandomSerial();
  if (!serial) return Fail(serial.error());
  auto certificate = ParseBuilt(
      CaCertificateBuilder(kRootCommonName, kRootCommonName, root_key, std::move(*serial), Now(), std::nullopt)
          .SignDer(root_key),
      "root");
  if (!certificate) return Fail(certificate.error());
  auto pem = crypto::CertificatePemFromDer(certificate->Der());
  if (!pem) return Fail(pem.error());
  auto root = std::make_shared<const Root>(Root{std::move(root_key), std::move(*certificate), std::move(*pem)});
  return CertificateAuthority(std::move(root), nullptr).Rotate(std::move(mesh_ca_key));
}

namespace {

// `der` parsed, holding the public half of `key`, with subject `cn`, and
// signed by `issuer`.
Result<crypto::Certificate> RestoreCertificate(ByteView der, const crypto::PrivateKey& key, std::string_view cn,
                                               EVP_PKEY* issuer, std::string_view what) {
  auto certificate = crypto::Certificate::ParseDer(der);
  if (!certificate) return Fail(certificate.error().Wrap("the stored " + std::string(what) + " certificate"));
  if (!key.Matches(certificate->PublicKey())) {
    return Fail(ErrorCode::kValidationFailed,
                "the stored " + std::string(what) + " certificate is not for the " + std::string(what) + " key");
  }
  if (certificate->SubjectCommonName() != cn) {
    return Fail(ErrorCode::kValidationFailed, "the stored " + std::string(what) + " certificate has subject CN \"" +
                                                  certificate->SubjectCommonName() + "\", expected " + std::string(cn));
  }
  if (X509_verify(certificate->get(), issuer) != 1) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kValidationFailed,
                "the stored " + std::string(what) + " certificate's signature does not verify");
  }
  return certificate;
}

}  // namespace

Result<CertificateAuthority> CertificateAuthority::Restore(crypto::PrivateKey root_key, ByteView root_der,
                                                           crypto::PrivateKey mesh_ca_key, ByteView intermediate_der,
                                                           ByteView mesh_ca_der) {
  if (auto ok = RequireP384(root_key, "root CA"); !ok) return Fail(ok.error());
  if (auto ok = RequireP384(mesh_ca_key, "mesh CA"); !ok) return Fail(ok.error());
  auto root = RestoreCertificate(root_der, root_key, kRootCommonName, root_key.get(), "root CA");
  if (!root) return Fail(root.error());
  auto intermediate =
      RestoreCertificate(intermediate_der, mesh_ca_key, kMeshCaCommonName, root_key.get(), "intermediate");
  if (!intermediate) return Fail(intermediate.error());
  auto mesh_ca = RestoreCertificate(mesh_ca_der, mesh_ca_key, kMeshCaCommonName, mesh_ca_key.get(), "mesh CA");
  if (!mesh_ca) return Fail(mesh_ca.error());
  auto root_pem = crypto::CertificatePemFromDer(root->Der());
  if (!root_pem) return Fail(root_pem.error());
  auto intermediate_pem = crypto::CertificatePemFromDer(intermediate->Der());
  if (!intermediate_pem) return Fail(intermediate_pem.error());
  auto mesh_ca_pem = crypto::CertificatePemFromDer(mesh_ca->Der());
  if (!mesh_ca_pem) return Fail(mesh_ca_pem.error());
  auto root_part = std::make_shared<const Root>(Root{std::move(root_key), std::move(*root), std::move(*root_pem)});
  auto mesh_part =
      std::make_shared<const Mesh>(Mesh{std::move(mesh_ca_key), std::move(*intermediate), std::move(*mesh_ca),
                                        std::move(*intermediate_pem), std::move(*mesh_ca_pem)});
  return CertificateAuthority(std::move(root_part), std::move(mesh_part));
}

Result<CertificateAuthority> CertificateAuthority::Rotate(std::optional<crypto::PrivateKey> mesh_ca_key) const {
  if (!mesh_ca_key) {
    auto fresh = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
    if (!fresh) return Fail(fresh.error().Wrap("generating the mesh CA key"));
    mesh_ca_key.emplace(std::move(*fresh));
  }
  if (auto ok = RequireP384(*mesh_ca_key, "mesh CA"); !ok) return Fail(ok.error());
  const TimePoint now = Now();
  auto intermediate_serial = RandomSerial();
  if (!intermediate_serial) return Fail(intermediate_serial.error());
  auto mesh_ca_serial = RandomSerial();
  if (!mesh_ca_serial) return Fail(mesh_ca_serial.error());

  auto intermediate = ParseBuilt(
      CaCertificateBuilder(kMeshCaCommonName, kRootCommonName, *mesh_ca_key, std::move(*intermediate_serial), now, 0)
          .AddAuthorityKeyIdentifier()
          .SignDer(root_->key),
      "intermediate");
  if (!intermediate) return Fail(intermediate.error());
  auto mesh_ca = ParseBuilt(
      CaCertificateBuilder(kMeshCaCommonName, kMeshCaCommonName, *mesh_ca_key, std::move(*mesh_ca_serial), now, 0)
          .SignDer(*mesh_ca_key),
      "mesh CA");
  if (!mesh_ca) return Fail(mesh_ca.error());
  auto intermediate_pem = crypto::CertificatePemFromDer(intermediate->Der());
  if (!intermediate_pem) return Fail(intermediate_pem.error());
  auto mesh_ca_pem = crypto::CertificatePemFromDer(mesh_ca->Der());
  if (!mesh_ca_pem) return Fail(mesh_ca_pem.error());

  auto mesh = std::make_shared<const Mesh>(Mesh{std::move(*mesh_ca_key), std::move(*intermediate), std::move(*mesh_ca),
                                                std::move(*intermediate_pem), std::move(*mesh_ca_pem)});
  return CertificateAuthority(root_, std::move(mesh));
}

const crypto::Certificate& CertificateAuthority::root() const { return root_->certificate; }
const crypto::Certificate& CertificateAuthority::intermediate() const { return mesh_->intermediate; }
const crypto::Certificate& CertificateAuthority::mesh_ca() const { return mesh_->mesh_ca; }
const std::string& CertificateAuthority::root_pem() const { return root_->pem; }
const std::string& CertificateAuthority::intermediate_pem() const { return mesh_->intermediate_pem; }
const std::string& CertificateAuthority::mesh_ca_pem() const { return mesh_->mesh_ca_pem; }
const crypto::PrivateKey& CertificateAuthority::mesh_ca_key() const { return mesh_->key; }

Result<MeshCertificate> CertificateAuthority::IssueMeshCertificate(ByteView subject_public_key,
                                                                   std::span<const std::string> sans,
                                                                   std::span<const crypto::Extension> claims) const {
  if (auto ok = CheckSubjectPublicKey(subject_public_key); !ok) return Fail(ok.error());
  auto names = ClassifySubjectAltNames(sans);
  if (!names) return Fail(names.error());
  if (auto ok = CheckClaims(claims); !ok) return Fail(ok.error());
  auto common_name = LeafCommonName(*names);
  if (!common_name) return Fail(common_name.error());
  auto serial = RandomSerial();
  if (!serial) return Fail(serial.error());

  const TimePoint now = Now();
  crypto::CertificateBuilder builder;
  builder.SetSubject(NameWithCn(*common_name))
      .SetIssuer(NameWithCn(kMeshCaCommonName))
      .SetSerial(std::move(*serial))
      .SetValidity(now - kBackdate, AddYears(now, kLeafLifetime))
      .SetPublicKeyDer(Bytes(subject_public_key.begin(), subject_public_key.end()))
      .AddBasicConstraints(false)
      .AddKeyUsage(crypto::kKeyUsageDigitalSignature)
      .AddExtendedKeyUsage(crypto::kExtKeyUsageServerAuth | crypto::kExtKeyUsageClientAuth)
      .AddSubjectAltNames(*names)
      .AddAuthorityKeyIdentifier();
  for (const crypto::Extension& claim : claims) builder.AddExtension(claim.oid, claim.value, false);
  auto der = builder.SignDer(mesh_->key);
  if (!der) return Fail(der.error().Wrap("building the mesh certificate"));

  auto pem = crypto::CertificatePemFromDer(*der);
  if (!pem) return Fail(pem.error());
  std::string chain_pem = *pem + mesh_->intermediate_pem;
  return MeshCertificate{.der = std::move(*der), .pem = std::move(*pem), .chain_pem = std::move(chain_pem)};
}

}  // namespace contrast::ca
