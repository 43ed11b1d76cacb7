// X.509 certificates and CRLs: parsing (DER and PEM), the fields verifiers
// look at, signature checks against an issuer, and chain verification to
// explicitly given trust anchors.
//
// Parsing is for untrusted bytes: a Certificate says nothing about who made
// it. Trust comes only from VerifySignedBy / VerifyChain against anchors the
// caller pins.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/time.h"
#include "crypto/hash.h"
#include "crypto/openssl.h"

namespace contrast::crypto {

// One X.509 v3 extension as stored in the certificate.
struct Extension {
  std::string oid;  // dotted text, e.g. "1.3.6.1.4.1.3704.1.3.1"
  bool critical = false;
  Bytes value;  // contents of the extnValue OCTET STRING
};

// A parsed certificate. Copies share the underlying X509 (reference count);
// the object is immutable after parsing.
class Certificate {
 public:
  // Exactly one DER certificate; trailing bytes are rejected.
  static Result<Certificate> ParseDer(ByteView der);
  // The first CERTIFICATE block of PEM text.
  static Result<Certificate> ParsePem(std::string_view pem);
  // PEM when the data contains a PEM header, DER otherwise.
  static Result<Certificate> ParseAuto(ByteView data);
  // Every CERTIFICATE block of PEM text, in order; at least one.
  static Result<std::vector<Certificate>> ParsePemChain(std::string_view pem);
  // Takes ownership of `x509` (must not be null).
  static Result<Certificate> FromX509(X509Ptr x509);

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;
  ~Certificate() = default;

  // Borrowed; valid while this Certificate lives.
  X509* get() const { return x509_.get(); }
  Bytes Der() const;
  Sha256Digest Sha256Fingerprint() const;
  std::string SubjectCommonName() const;  // empty when there is none
  std::string IssuerCommonName() const;
  // The full names in one line (RFC 2253), for messages.
  std::string SubjectText() const;
  std::string IssuerText() const;
  // Big-endian magnitude of the serial number and its lower-case hex.
  Bytes Serial() const;
  std::string SerialHex() const;
  TimePoint NotBefore() const { return not_before_; }
  TimePoint NotAfter() const { return not_after_; }
  // notBefore <= at <= notAfter.
  bool ValidAt(TimePoint at) const;
  // kCertificateExpired naming `what`, the time and the validity window.
  Status CheckValidAt(TimePoint at, std::string_view what) const;
  // Borrowed public key; valid while this Certificate lives. Null if the key
  // cannot be decoded (unsupported algorithm).
  EVP_PKEY* PublicKey() const;
  // True when the subject and issuer names are equal.
  bool SelfIssued() const;

  // The signature on this certificate verifies with the issuer's public key
  // (algorithm and RSA-PSS parameters come from this certificate) and this
  // certificate's issuer name equals the issuer's subject name.
  // kUntrustedRoot on a name mismatch, kSignatureInvalid on a bad signature.
  Status VerifySignedBy(const Certificate& issuer) const;
  // Only the signature, with a bare key.
  Status VerifySignatureWith(EVP_PKEY* key) const;

  std::vector<Extension> Extensions() const;
  // The value of the extension with this OID; nullopt when absent.
  // kInvalidArgument for malformed OID text, kCertificateInvalid when the
  // extension occurs more than once.
  Result<std::optional<Bytes>> ExtensionValue(std::string_view oid) const;

 private:
  Certificate(X509Ptr x509, TimePoint not_before, TimePoint not_after);
  X509Ptr x509_;
  TimePoint not_before_{};
  TimePoint not_after_{};
};

// A certificate revocation list.
class Crl {
 public:
  // DER, or PEM ("X509 CRL" block) when the data contains a PEM header.
  static Result<Crl> Parse(ByteView data);

  Crl(const Crl& other);
  Crl& operator=(const Crl& other);
  Crl(Crl&&) noexcept = default;
  Crl& operator=(Crl&&) noexcept = default;
  ~Crl() = default;

  X509_CRL* get() const { return crl_.get(); }
  std::string IssuerText() const;
  TimePoint ThisUpdate() const { return this_update_; }
  std::optional<TimePoint> NextUpdate() const { return next_update_; }

  // The CRL's issuer name equals the certificate's subject and its signature
  // verifies with the certificate's key.
  Status VerifySignedBy(const Certificate& issuer) const;
  // thisUpdate <= at <= nextUpdate (no nextUpdate: only the first half).
  // kCertificateExpired otherwise.
  Status CheckCurrentAt(TimePoint at) const;
  // The certificate's serial number is listed. Does not check that the CRL
  // belongs to the certificate's issuer; callers verify that first.
  bool IsRevoked(const Certificate& certificate) const;

 private:
  Crl(X509CrlPtr crl, TimePoint this_update, std::optional<TimePoint> next_update);
  X509CrlPtr crl_;
  TimePoint this_update_{};
  std::optional<TimePoint> next_update_;
};

// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to a TimePoint.
Result<TimePoint> FromAsn1Time(const ASN1_TIME* time);

// Verifies `leaf` through `intermediates` (untrusted, any order) to one of
// `anchors` (trusted, self-signed) at time `at` with OpenSSL's path builder.
// Anchors are the only trust: nothing in the chain is trusted by itself, and
// the system trust store is never consulted. When `crls` is non-empty, every
// certificate below an anchor must be covered by a current CRL of its issuer.
// Codes: kCertificateExpired, kSignatureInvalid, kUntrustedRoot,
// kCertificateRevoked, kCertificateInvalid.
Status VerifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   std::span<const Certificate> anchors, TimePoint at, std::span<const Crl> crls = {});

}  // namespace contrast::crypto
