#include "crypto/x509_builder.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <ctime>
#include <limits>

namespace contrast::crypto {
namespace {

using X509RevokedPtr = Owned<X509_REVOKED, X509_REVOKED_free>;

constexpr int kPssSaltLength = 48;

Status InvalidIf(bool bad, std::string message) {
  if (bad) return Fail(ErrorCode::kInvalidArgument, std::move(message));
  return {};
}

Result<X509NamePtr> BuildName(const DistinguishedName& dn, std::string_view what) {
  if (dn.empty()) return Fail(ErrorCode::kInvalidArgument, std::string(what) + " name is empty");
  X509NamePtr name(X509_NAME_new());
  if (!name) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a name"));
  for (const NameAttribute& entry : dn) {
    if (entry.value.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return Fail(ErrorCode::kInvalidArgument, std::string(what) + " field " + entry.field + " is too long");
    }
    const auto* value = reinterpret_cast<const unsigned char*>(entry.value.data());
    if (X509_NAME_add_entry_by_txt(name.get(), entry.field.c_str(), MBSTRING_UTF8, value,
                                   static_cast<int>(entry.value.size()), -1, 0) != 1) {
      return Fail(OpensslError(ErrorCode::kInvalidArgument,
                               std::string(what) + " field \"" + entry.field + "\" = \"" + entry.value + "\""));
    }
  }
  return name;
}

Result<Asn1IntegerPtr> BuildSerial(const Bytes& serial) {
  if (serial.empty() || serial.size() > 20) {
    return Fail(ErrorCode::kInvalidArgument,
                "serial number must be 1 to 20 bytes, got " + std::to_string(serial.size()));
  }
  BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn) return Fail(OpensslError(ErrorCode::kCrypto, "decoding the serial number"));
  Asn1IntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return Fail(OpensslError(ErrorCode::kCrypto, "encoding the serial number"));
  return out;
}

Result<Asn1TimePtr> BuildTime(TimePoint t) {
  Asn1TimePtr out(ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count())));
  if (!out) return Fail(OpensslError(ErrorCode::kInvalidArgument, "encoding time " + FormatRfc3339(t)));
  return out;
}

// A digest-sign context: RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) for RSA
// keys, ECDSA-SHA384 for P-384 keys, ECDSA-SHA256 for P-256 keys (as Intel's
// SGX certificates and CRLs are signed).
Result<EvpMdCtxPtr> NewSigningContext(const PrivateKey& key) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a digest context"));
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by ctx
  const EVP_MD* md = key.type() == KeyType::kEcP256 ? EVP_sha256() : EVP_sha384();
  if (auto ok = Check(EVP_DigestSignInit(ctx.get(), &pkey_ctx, md, nullptr, key.get()), "sign init"); !ok) {
    return Fail(ok.error());
  }
  if (key.type() == KeyType::kEcP384 || key.type() == KeyType::kEcP256) return ctx;
  if (EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, kPssSaltLength) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, EVP_sha384()) <= 0) {
    return Fail(OpensslError(ErrorCode::kCrypto, "configuring RSASSA-PSS"));
  }
  return ctx;
}

template <typename T, int (*I2d)(const T*, unsigned char**)>
Result<Bytes> ToDer(const T* object, std::string_view what) {
  unsigned char* der = nullptr;
  const int length = I2d(object, &der);
  if (length <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "encoding " + std::string(what)));
  OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

// The extnValue content of a standard extension from OpenSSL's config syntax.
Result<Bytes> StandardExtensionValue(int nid, const std::string& config) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, config.c_str()));
  if (!ext) return Fail(OpensslError(ErrorCode::kInvalidArgument, "extension " + config));
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext.get());
  const unsigned char* bytes = ASN1_STRING_get0_data(data);
  return Bytes(bytes, bytes + ASN1_STRING_length(data));
}

// An IA5String GENERAL_NAME (dNSName, uniformResourceIdentifier): printable
// ASCII only, so no NUL or control character can hide in a name.
Result<GENERAL_NAME*> NewIa5GeneralName(int type, const std::string& text, std::string_view what) {
  const bool printable = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
  if (text.empty() || !printable || text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(what) + " must be non-empty printable ASCII, got \"" + text + "\"");
  }
  Asn1StringPtr ia5(ASN1_IA5STRING_new());
  if (!ia5 || ASN1_STRING_set(ia5.get(), text.data(), static_cast<int>(text.size())) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding " + std::string(what)));
  }
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a general name"));
  GENERAL_NAME_set0_value(name, type, ia5.release());
  return name;
}

Result<GENERAL_NAME*> NewIpGeneralName(const std::string& text) {
  unsigned char address[16];
  int length = 0;
  if (inet_pton(AF_INET, text.c_str(), address) == 1) {
    length = 4;
  } else if (inet_pton(AF_INET6, text.c_str(), address) == 1) {
    length = 16;
  } else {
    return Fail(ErrorCode::kInvalidArgument, "IP address SAN \"" + text + "\" is not an IPv4 or IPv6 address");
  }
  Asn1OctetStringPtr octets(ASN1_OCTET_STRING_new());
  if (!octets || ASN1_OCTET_STRING_set(octets.get(), address, length) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding an IP address SAN"));
  }
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a general name"));
  GENERAL_NAME_set0_value(name, GEN_IPADD, octets.release());
  return name;
}

// DER GeneralNames (the subjectAltName extension value).
Result<Bytes> EncodeSubjectAltNames(const std::vector<SubjectAltName>& names) {
  if (names.empty()) return Fail(ErrorCode::kInvalidArgument, "subjectAltName needs at least one name");
  GeneralNamesPtr general_names(GENERAL_NAMES_new());
  if (!general_names) return Fail(OpensslError(ErrorCode::kCrypto, "allocating subjectAltName"));
  for (const SubjectAltName& san : names) {
    Result<GENERAL_NAME*> name = Fail(ErrorCode::kInternal, "unknown SAN kind");
    switch (san.kind) {
      case SubjectAltName::Kind::kDns: name = NewIa5GeneralName(GEN_DNS, san.value, "DNS SAN"); break;
      case SubjectAltName::Kind::kUri: name = NewIa5GeneralName(GEN_URI, san.value, "URI SAN"); break;
      case SubjectAltName::Kind::kIpAddress: name = NewIpGeneralName(san.value); break;
    }
    if (!name) return Fail(name.error());
    if (sk_GENERAL_NAME_push(general_names.get(), *name) <= 0) {
      GENERAL_NAME_free(*name);
      return Fail(OpensslError(ErrorCode::kCrypto, "adding a SAN"));
    }
  }
  return ToDer<GENERAL_NAMES, i2d_GENERAL_NAMES>(general_names.get(), "subjectAltName");
}

Result<Bytes> EncodeSubjectKeyId(ByteView subject_spki) {
  auto id = KeyIdentifier(subject_spki);
  if (!id) return Fail(id.error());
  return EncodeDerOctetString(*id);
}

using AuthorityKeyIdPtr = Owned<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;

Result<Bytes> EncodeAuthorityKeyId(const PrivateKey& issuer_key) {
  auto spki = issuer_key.PublicKeyDer();
  if (!spki) return Fail(spki.error());
  auto id = KeyIdentifier(*spki);
  if (!id) return Fail(id.error());
  AuthorityKeyIdPtr aki(AUTHORITY_KEYID_new());
  if (!aki) return Fail(OpensslError(ErrorCode::kCrypto, "allocating authorityKeyIdentifier"));
  aki->keyid = ASN1_OCTET_STRING_new();
  if (aki->keyid == nullptr || ASN1_OCTET_STRING_set(aki->keyid, id->data(), static_cast<int>(id->size())) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding authorityKeyIdentifier"));
  }
  return ToDer<AUTHORITY_KEYID, i2d_AUTHORITY_KEYID>(aki.get(), "authorityKeyIdentifier");
}

}  // namespace

CertificateBuilder& CertificateBuilder::SetSubject(DistinguishedName name) {
  subject_ = std::move(name);
  return *this;
}

CertificateBuilder& CertificateBuilder::SetIssuer(DistinguishedName name) {
  issuer_ = std::move(name);
  return *this;
}

CertificateBuilder& CertificateBuilder::SetSerial(Bytes serial) {
  serial_ = std::move(serial);
  return *this;
}

CertificateBuilder& CertificateBuilder::SetValidity(TimePoint not_before, TimePoint not_after) {
  not_before_ = not_before;
  not_after_ = not_after;
  return *this;
}

CertificateBuilder& CertificateBuilder::SetPublicKey(const PrivateKey& key) {
  auto der = key.PublicKeyDer();
  if (!der) {
    if (!error_) error_ = der.error();
    return *this;
  }
  public_key_der_ = std::move(*der);
  return *this;
}

CertificateBuilder& CertificateBuilder::SetPublicKeyDer(Bytes spki_der) {
  public_key_der_ = std::move(spki_der);
  return *this;
}

CertificateBuilder& CertificateBuilder::AddBasicConstraints(bool ca, std::optional<int> path_length) {
  std::string config = ca ? "CA:TRUE" : "CA:FALSE";
  if (path_length) {
    if (!ca || *path_length < 0) {
      if (!error_) error_ = Error{ErrorCode::kInvalidArgument, "a path length needs CA:TRUE and must be >= 0"};
      return *this;
    }
    config += ",pathlen:" + std::to_string(*path_length);
  }
  extensions_.push_back(Extension{.oid = "",
                                  .nid = NID_basic_constraints,
                                  .value = {},
                                  .config = config,
                                  .critical = true,
                                  .source = Source::kConfig});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddKeyUsage(unsigned bits) {
  static constexpr std::pair<unsigned, const char*> kNames[] = {
      {kKeyUsageDigitalSignature, "digitalSignature"},
      {kKeyUsageKeyEncipherment, "keyEncipherment"},
      {kKeyUsageKeyAgreement, "keyAgreement"},
      {kKeyUsageKeyCertSign, "keyCertSign"},
      {kKeyUsageCrlSign, "cRLSign"},
  };
  std::string config;
  unsigned known = 0;
  for (const auto& [bit, name] : kNames) {
    known |= bit;
    if ((bits & bit) == 0) continue;
    if (!config.empty()) config += ",";
    config += name;
  }
  if (bits == 0 || (bits & ~known) != 0) {
    if (!error_) error_ = Error{ErrorCode::kInvalidArgument, "unsupported keyUsage bits " + std::to_string(bits)};
    return *this;
  }
  extensions_.push_back(Extension{
      .oid = "", .nid = NID_key_usage, .value = {}, .config = config, .critical = true, .source = Source::kConfig});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddCrlDistributionPoint(std::string uri) {
  // The config syntax would read ',' or '@' as structure, so only plain URIs pass.
  const bool plain = !uri.empty() && uri.find_first_of(",@") == std::string::npos &&
                     std::all_of(uri.begin(), uri.end(), [](char c) { return c > 0x20 && c < 0x7F; });
  if (!plain) {
    if (!error_) error_ = Error{ErrorCode::kInvalidArgument, "unsupported CRL distribution point URI \"" + uri + "\""};
    return *this;
  }
  extensions_.push_back(Extension{.oid = "",
                                  .nid = NID_crl_distribution_points,
                                  .value = {},
                                  .config = "URI:" + uri,
                                  .critical = false,
                                  .source = Source::kConfig});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddSubjectAltNames(const std::vector<SubjectAltName>& names) {
  auto value = EncodeSubjectAltNames(names);
  if (!value) {
    if (!error_) error_ = value.error();
    return *this;
  }
  extensions_.push_back(Extension{.oid = "",
                                  .nid = NID_subject_alt_name,
                                  .value = std::move(*value),
                                  .config = "",
                                  .critical = false,
                                  .source = Source::kValue});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddExtendedKeyUsage(unsigned purposes) {
  static constexpr std::pair<unsigned, const char*> kNames[] = {
      {kExtKeyUsageServerAuth, "serverAuth"},
      {kExtKeyUsageClientAuth, "clientAuth"},
  };
  std::string config;
  unsigned known = 0;
  for (const auto& [bit, name] : kNames) {
    known |= bit;
    if ((purposes & bit) == 0) continue;
    if (!config.empty()) config += ",";
    config += name;
  }
  if (purposes == 0 || (purposes & ~known) != 0) {
    if (!error_) {
      error_ = Error{ErrorCode::kInvalidArgument, "unsupported extendedKeyUsage bits " + std::to_string(purposes)};
    }
    return *this;
  }
  extensions_.push_back(Extension{.oid = "",
                                  .nid = NID_ext_key_usage,
                                  .value = {},
                                  .config = config,
                                  .critical = false,
                                  .source = Source::kConfig});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddSubjectKeyIdentifier() {
  extensions_.push_back(Extension{.oid = "",
                                  .nid = NID_subject_key_identifier,
                                  .value = {},
                                  .config = "",
                                  .critical = false,
                                  .source = Source::kSubjectKeyId});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddAuthorityKeyIdentifier() {
  extensions_.push_back(Extension{.oid = "",
                                  .nid = NID_authority_key_identifier,
                                  .value = {},
                                  .config = "",
                                  .critical = false,
                                  .source = Source::kAuthorityKeyId});
  return *this;
}

CertificateBuilder& CertificateBuilder::AddExtension(std::string oid, Bytes value, bool critical) {
  extensions_.push_back(
      Extension{.oid = std::move(oid), .nid = 0, .value = std::move(value), .config = "", .critical = critical});
  return *this;
}

Result<Bytes> CertificateBuilder::SignDer(const PrivateKey& issuer_key) const {
  if (error_) return Fail(*error_);
  if (auto ok = InvalidIf(!not_before_ || !not_after_, "certificate validity is not set"); !ok) return Fail(ok.error());
  if (auto ok = InvalidIf(*not_after_ < *not_before_, "certificate notAfter is before notBefore"); !ok) {
    return Fail(ok.error());
  }
  if (auto ok = InvalidIf(public_key_der_.empty(), "certificate public key is not set"); !ok) return Fail(ok.error());

  X509Ptr cert(X509_new());
  if (!cert) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a certificate"));
  if (auto ok = Check(X509_set_version(cert.get(), X509_VERSION_3), "setting the version"); !ok)
    return Fail(ok.error());

  auto serial = BuildSerial(serial_);
  if (!serial) return Fail(serial.error());
  auto subject = BuildName(subject_, "subject");
  if (!subject) return Fail(subject.error());
  auto issuer = BuildName(issuer_, "issuer");
  if (!issuer) return Fail(issuer.error());
  auto not_before = BuildTime(*not_before_);
  if (!not_before) return Fail(not_before.error());
  auto not_after = BuildTime(*not_after_);
  if (!not_after) return Fail(not_after.error());
  const unsigned char* cursor = public_key_der_.data();
  EvpPkeyPtr public_key(d2i_PUBKEY(nullptr, &cursor, static_cast<long>(public_key_der_.size())));
  if (!public_key) return Fail(OpensslError(ErrorCode::kInvalidArgument, "decoding the subject public key"));

  if (X509_set_serialNumber(cert.get(), serial->get()) != 1 || X509_set_subject_name(cert.get(), subject->get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer->get()) != 1 || X509_set1_notBefore(cert.get(), not_before->get()) != 1 ||
      X509_set1_notAfter(cert.get(), not_after->get()) != 1 || X509_set_pubkey(cert.get(), public_key.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "filling in the certificate"));
  }

  for (const Extension& spec : extensions_) {
    Result<Bytes> value = spec.value;
    switch (spec.source) {
      case Source::kValue: break;
      case Source::kConfig: value = StandardExtensionValue(spec.nid, spec.config); break;
      case Source::kSubjectKeyId: value = EncodeSubjectKeyId(public_key_der_); break;
      case Source::kAuthorityKeyId: value = EncodeAuthorityKeyId(issuer_key); break;
    }
    if (!value) return Fail(value.error());
    Asn1ObjectPtr owned_oid;
    const ASN1_OBJECT* oid = spec.nid != 0 ? OBJ_nid2obj(spec.nid) : nullptr;
    if (oid == nullptr) {
      owned_oid.reset(OBJ_txt2obj(spec.oid.c_str(), 1));
      if (!owned_oid) return Fail(OpensslError(ErrorCode::kInvalidArgument, "extension OID \"" + spec.oid + "\""));
      oid = owned_oid.get();
    }
    Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
    if (!data || value->size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
        ASN1_OCTET_STRING_set(data.get(), value->data(), static_cast<int>(value->size())) != 1) {
      return Fail(OpensslError(ErrorCode::kCrypto, "encoding extension " + spec.oid));
    }
    X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid, spec.critical ? 1 : 0, data.get()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return Fail(OpensslError(ErrorCode::kCrypto, "adding extension " + spec.oid));
    }
  }

  auto ctx = NewSigningContext(issuer_key);
  if (!ctx) return Fail(ctx.error());
  if (X509_sign_ctx(cert.get(), ctx->get()) <= 0)
    return Fail(OpensslError(ErrorCode::kCrypto, "signing the certificate"));
  return ToDer<X509, i2d_X509>(cert.get(), "the certificate");
}

CrlBuilder& CrlBuilder::SetIssuer(DistinguishedName name) {
  issuer_ = std::move(name);
  return *this;
}

CrlBuilder& CrlBuilder::SetUpdateTimes(TimePoint this_update, TimePoint next_update) {
  this_update_ = this_update;
  next_update_ = next_update;
  return *this;
}

CrlBuilder& CrlBuilder::AddRevoked(Bytes serial, TimePoint revoked_at) {
  revoked_.push_back(Revoked{std::move(serial), revoked_at});
  return *this;
}

Result<Bytes> CrlBuilder::SignDer(const PrivateKey& issuer_key) const {
  if (auto ok = InvalidIf(!this_update_ || !next_update_, "CRL update times are not set"); !ok) return Fail(ok.error());
  X509CrlPtr crl(X509_CRL_new());
  if (!crl) return Fail(OpensslError(ErrorCode::kCrypto, "allocating a CRL"));
  auto issuer = BuildName(issuer_, "CRL issuer");
  if (!issuer) return Fail(issuer.error());
  auto this_update = BuildTime(*this_update_);
  if (!this_update) return Fail(this_update.error());
  auto next_update = BuildTime(*next_update_);
  if (!next_update) return Fail(next_update.error());
  if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), issuer->get()) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update->get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "filling in the CRL"));
  }
  for (const Revoked& entry : revoked_) {
    auto serial = BuildSerial(entry.serial);
    if (!serial) return Fail(serial.error());
    auto at = BuildTime(entry.at);
    if (!at) return Fail(at.error());
    X509RevokedPtr revoked(X509_REVOKED_new());
    if (!revoked || X509_REVOKED_set_serialNumber(revoked.get(), serial->get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), at->get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return Fail(OpensslError(ErrorCode::kCrypto, "adding a revoked serial"));
    }
    (void)revoked.release();  // now owned by the CRL
  }
  if (X509_CRL_sort(crl.get()) != 1) return Fail(OpensslError(ErrorCode::kCrypto, "sorting the CRL"));
  auto ctx = NewSigningContext(issuer_key);
  if (!ctx) return Fail(ctx.error());
  if (X509_CRL_sign_ctx(crl.get(), ctx->get()) <= 0) return Fail(OpensslError(ErrorCode::kCrypto, "signing the CRL"));
  return ToDer<X509_CRL, i2d_X509_CRL>(crl.get(), "the CRL");
}

Result<std::string> CertificatePemFromDer(ByteView der) {
  const unsigned char* cursor = der.data();
  X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cert || cursor != der.data() + der.size()) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "not a single DER certificate");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding the certificate as PEM"));
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

Result<std::string> CrlPemFromDer(ByteView der) {
  const unsigned char* cursor = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size())));
  if (!crl || cursor != der.data() + der.size()) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "not a single DER CRL");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding the CRL as PEM"));
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

Result<Bytes> EncodeDerInteger(int64_t value) {
  Asn1IntegerPtr integer(ASN1_INTEGER_new());
  if (!integer || ASN1_INTEGER_set_int64(integer.get(), value) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding INTEGER"));
  }
  return ToDer<ASN1_INTEGER, i2d_ASN1_INTEGER>(integer.get(), "INTEGER");
}

Result<Bytes> EncodeDerIa5String(std::string_view text) {
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii || text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Fail(ErrorCode::kInvalidArgument, "IA5String must be ASCII");
  }
  Asn1StringPtr string(ASN1_IA5STRING_new());
  if (!string || ASN1_STRING_set(string.get(), text.data(), static_cast<int>(text.size())) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding IA5String"));
  }
  return ToDer<ASN1_IA5STRING, i2d_ASN1_IA5STRING>(string.get(), "IA5String");
}

Result<Bytes> EncodeDerBoolean(bool value) {
  // DER: FALSE is 0x00, TRUE is 0xFF.
  return Bytes{V_ASN1_BOOLEAN, 0x01, static_cast<uint8_t>(value ? 0xFF : 0x00)};
}

Result<Bytes> EncodeDerOctetString(ByteView value) {
  if (value.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Fail(ErrorCode::kInvalidArgument, "OCTET STRING too long");
  }
  Asn1OctetStringPtr octets(ASN1_OCTET_STRING_new());
  if (!octets || ASN1_OCTET_STRING_set(octets.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "encoding OCTET STRING"));
  }
  return ToDer<ASN1_OCTET_STRING, i2d_ASN1_OCTET_STRING>(octets.get(), "OCTET STRING");
}

using X509PubkeyPtr = Owned<X509_PUBKEY, X509_PUBKEY_free>;

Result<Bytes> KeyIdentifier(ByteView spki_der) {
  if (spki_der.size() > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return Fail(ErrorCode::kParse, "public key too long");
  }
  const unsigned char* cursor = spki_der.data();
  X509PubkeyPtr spki(d2i_X509_PUBKEY(nullptr, &cursor, static_cast<long>(spki_der.size())));
  if (!spki || cursor != spki_der.data() + spki_der.size()) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "not a single DER SubjectPublicKeyInfo");
  }
  const unsigned char* key_bits = nullptr;
  int key_length = 0;
  if (X509_PUBKEY_get0_param(nullptr, &key_bits, &key_length, nullptr, spki.get()) != 1 || key_length < 0) {
    return Fail(OpensslError(ErrorCode::kParse, "reading the subjectPublicKey"));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (EVP_Digest(key_bits, static_cast<size_t>(key_length), digest, &digest_length, EVP_sha1(), nullptr) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "hashing the public key"));
  }
  return Bytes(digest, digest + digest_length);
}

}  // namespace contrast::crypto
