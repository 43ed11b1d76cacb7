// Building X.509 certificates and CRLs: enough to mint AMD-shaped chains
// (RSA-PSS roots, EC leaves with custom extensions) and CAs of our own.
//
// Signing picks the algorithm from the issuer key: RSA keys sign with
// RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48, as AMD's ARK and ASK do), EC
// P-384 keys with ECDSA-SHA384, EC P-256 keys with ECDSA-SHA256 (Intel's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/time.h"
#include "crypto/keys.h"

namespace contrast::crypto {

// One attribute of a distinguished name ("CN", "SEV-VCEK"); fields by OpenSSL
// short name or dotted OID. Values are encoded as UTF8String (C as
// PrintableString), as in AMD's certificates.
struct NameAttribute {
  std::string field;
  std::string value;
};
// In encoding order, e.g. {{"OU", "Engineering"}, {"C", "US"}, ..., {"CN", "ARK-Milan"}}.
using DistinguishedName = std::vector<NameAttribute>;

// keyUsage bits (RFC 5280 names).
enum KeyUsage : unsigned {
  kKeyUsageDigitalSignature = 1u << 0,
  kKeyUsageKeyEncipherment = 1u << 2,
  kKeyUsageKeyAgreement = 1u << 4,
  kKeyUsageKeyCertSign = 1u << 5,
  kKeyUsageCrlSign = 1u << 6,
};

// extendedKeyUsage purposes.
enum ExtendedKeyUsage : unsigned {
  kExtKeyUsageServerAuth = 1u << 0,
  kExtKeyUsageClientAuth = 1u << 1,
};

// One subjectAltName entry. The builder encodes; it does not decide which
// kind a manifest string is (that is the CA's rule).
struct SubjectAltName {
  enum class Kind { kDns, kIpAddress, kUri };
  Kind kind = Kind::kDns;
  // DNS name or URI (ASCII, no control characters), or an IPv4/IPv6 address
  // in text form (encoded as its 4 or 16 bytes).
  std::string value;
};

class CertificateBuilder {
 public:
  CertificateBuilder& SetSubject(DistinguishedName name);
  CertificateBuilder& SetIssuer(DistinguishedName name);
  // Big-endian unsigned serial number (e.g. {0x01, 0x00, 0x00}).
  CertificateBuilder& SetSerial(Bytes serial);
  CertificateBuilder& SetValidity(TimePoint not_before, TimePoint not_after);
  // The subject public key: the public half of `key`, or a DER
  // SubjectPublicKeyInfo.
  CertificateBuilder& SetPublicKey(const PrivateKey& key);
  CertificateBuilder& SetPublicKeyDer(Bytes spki_der);

  // Standard extensions, always marked critical where RFC 5280 says so
  // (basicConstraints and keyUsage here).
  CertificateBuilder& AddBasicConstraints(bool ca, std::optional<int> path_length = std::nullopt);
  CertificateBuilder& AddKeyUsage(unsigned key_usage_bits);
  CertificateBuilder& AddCrlDistributionPoint(std::string uri);
  // Non-critical; at least one entry.
  CertificateBuilder& AddSubjectAltNames(const std::vector<SubjectAltName>& names);
  // Non-critical; bits from ExtendedKeyUsage.
  CertificateBuilder& AddExtendedKeyUsage(unsigned purposes);
  // Key identifiers (RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey
  // BIT STRING), computed when signing: the subject's from the certificate's
  // public key, the authority's from the signing key.
  CertificateBuilder& AddSubjectKeyIdentifier();
  CertificateBuilder& AddAuthorityKeyIdentifier();
  // Any extension: `value` goes as-is into the extnValue OCTET STRING, so it
  // is normally DER, but need not be (AMD's hwID is raw bytes).
  CertificateBuilder& AddExtension(std::string oid, Bytes value, bool critical = false);

  // The signed certificate (X.509 v3), DER. Fails with kInvalidArgument if a
  // field is missing or malformed.
  Result<Bytes> SignDer(const PrivateKey& issuer_key) const;

 private:
  // Where an extension's value comes from.
  enum class Source { kValue, kConfig, kSubjectKeyId, kAuthorityKeyId };
  struct Extension {
    std::string oid;  // dotted, or empty for the standard ones below
    int nid = 0;
    Bytes value;
    std::string config;  // OpenSSL extension config text for standard ones
    bool critical = false;
    Source source = Source::kValue;
  };
  DistinguishedName subject_;
  DistinguishedName issuer_;
  Bytes serial_;
  std::optional<TimePoint> not_before_;
  std::optional<TimePoint> not_after_;
  Bytes public_key_der_;
  std::vector<Extension> extensions_;
  std::optional<Error> error_;  // first setter error, reported by SignDer
};

// A v2 CRL listing revoked serial numbers.
class CrlBuilder {
 public:
  CrlBuilder& SetIssuer(DistinguishedName name);
  CrlBuilder& SetUpdateTimes(TimePoint this_update, TimePoint next_update);
  CrlBuilder& AddRevoked(Bytes serial, TimePoint revoked_at);
  Result<Bytes> SignDer(const PrivateKey& issuer_key) const;

 private:
  struct Revoked {
    Bytes serial;
    TimePoint at;
  };
  DistinguishedName issuer_;
  std::optional<TimePoint> this_update_;
  std::optional<TimePoint> next_update_;
  std::vector<Revoked> revoked_;
};

// PEM ("BEGIN CERTIFICATE" / "BEGIN X509 CRL") of a DER certificate or CRL.
Result<std::string> CertificatePemFromDer(ByteView der);
Result<std::string> CrlPemFromDer(ByteView der);

// DER encodings for extension values.
Result<Bytes> EncodeDerInteger(int64_t value);
Result<Bytes> EncodeDerIa5String(std::string_view text);
Result<Bytes> EncodeDerBoolean(bool value);
Result<Bytes> EncodeDerOctetString(ByteView value);

// The RFC 5280 (method 1) key identifier of a DER SubjectPublicKeyInfo: SHA-1
// of its subjectPublicKey BIT STRING contents. kParse for malformed input.
Result<Bytes> KeyIdentifier(ByteView spki_der);

}  // namespace contrast::crypto
