// Authenticity of an SEV-SNP report: does it come from genuine AMD hardware?
//
// Checks, in order: the trust anchors (pinned AMD ARK/ASK/ASVK for the
// product, or an explicitly named non-AMD root such as the emulated secure
// processor), the ARK self-signature, ASK/ASVK under the ARK, the VCEK/VLEK
// under the ASK/ASVK (RSA-PSS SHA-384), certificate validity at the
// verification time, revocation (below), the
// endorsement key's AMD extensions against the report (TCB, chip id, product),
// and finally the report signature (ECDSA P-384 / SHA-384 over 0x000..0x29F).
//
// Revocation is checked against a CRL the verifier obtained itself, never
// one that came with the evidence: VerifyOptions::crl (an operator's file) or
// else VerifyOptions::crl_source (collateral.h fetches and caches AMD's). The
// CRL must be signed by the anchored ARK and current at the verification
// time; the ASK/ASVK and the VCEK/VLEK must not be listed. Without a usable
// CRL the report still verifies, with RevocationCheck "not checked" and the
// reason; whether that is acceptable is the manifest's decision (validate.h,
// AllowMissingRevocationCheck).
//
// Verification says nothing about whether the report is *acceptable*; that is
// validate.h, against the manifest's reference values.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "attest/snp/abi.h"
#include "attest/snp/trust.h"
#include "attest/snp/vcek.h"
#include "common/time.h"
#include "crypto/x509.h"

namespace contrast::attest::snp {

// The outcome of the revocation check of one verification.
struct RevocationCheck {
  // True: the ASK/ASVK and the VCEK/VLEK were looked up in a CRL signed by
  // the anchored ARK and current at the verification time, and neither is
  // listed (a listed one fails verification with kCertificateRevoked).
  bool checked = false;
  // checked: which CRL ("CRL of ARK-Milan, thisUpdate ..., nextUpdate ...");
  // otherwise why there was none ("no CRL source is configured", "fetching
  // the CRL from https://...: timed out ...").
  std::string detail;
};

// Where a Verifier gets the ARK's CRL when the caller gave none
// (VerifyOptions::crl_source). Implementations must be thread-safe.
class CrlSource {
 public:
  virtual ~CrlSource() = default;
  // A CRL issued by `ark` for `product`'s VCEK side (kind kVcek: revokes
  // ASKs) or VLEK side (kVlek: ASVKs), whose signature by `ark` verifies and
  // which is current now (wall clock). Any error means "none available"; its
  // message is the reason RevocationCheck reports.
  virtual Result<crypto::Crl> CurrentCrl(Product product, SigningKey kind, const crypto::Certificate& ark) const = 0;
};

// A report whose signature and endorsement chain have been verified. The only
// way to obtain one is Verifier::Verify.
class VerifiedReport {
 public:
  const Report& report() const { return report_; }
  Product product() const { return product_; }
  SigningKey signing_key() const { return signing_key_; }
  // The TCB the endorsement key (VCEK/VLEK) was issued for; equals the
  // report's REPORTED_TCB.
  const TcbParts& endorsed_tcb() const { return endorsed_tcb_; }
  // The endorsement key's parsed AMD extensions.
  const EndorsementKeyInfo& endorsement_key() const { return endorsement_key_; }
  // Name of the root that anchored the chain ("AMD ARK-Milan", or the
  // emulated root's subject).
  const std::string& root_name() const { return root_name_; }
  // True when the root is not an AMD root (emulated platform).
  bool insecure_root() const { return insecure_root_; }
  // Whether revocation was checked, and against which CRL or why not.
  const RevocationCheck& revocation() const { return revocation_; }

 private:
  friend class Verifier;
  Report report_;
  Product product_ = Product::kUnknown;
  SigningKey signing_key_ = SigningKey::kVcek;
  TcbParts endorsed_tcb_;
  EndorsementKeyInfo endorsement_key_;
  std::string root_name_;
  bool insecure_root_ = false;
  RevocationCheck revocation_;
};

struct VerifyOptions {
  // Product line. kUnknown: taken from the report's CPUID (v3+), else from
  // the endorsement key's productName; an explicit value must agree with both.
  Product product = Product::kUnknown;
  // The time at which certificates (and the CRL) must be valid. Several real
  // leaf certificates are expired today, so tests pin it.
  TimePoint at = Now();
  // DER or PEM CRL issued by the ARK that the verifying side chose (e.g. an
  // operator's file); never one the attester sent. When given, it must verify
  // and be current (else verification fails), and crl_source is not asked.
  std::optional<Bytes> crl;
  // Asked for the ARK's CRL when `crl` is unset; not owned, must outlive the
  // call. A CRL it cannot provide, or one not current at `at`, leaves
  // revocation "not checked" with the reason. Null: "not checked (no CRL
  // source is configured)".
  const CrlSource* crl_source = nullptr;
};

// Verifies reports. Owns the trust anchors and a cache of endorsement-key
// chain results, so the RSA-4096 chain checks run once per VCEK/VLEK, not
// once per report. Thread-safe.
class Verifier {
 public:
  // With the pinned AMD roots for Milan, Genoa and Turin.
  Verifier();
  // With explicitly given anchors only (e.g. the emulated secure processor's
  // root). The AMD roots are not added.
  explicit Verifier(TrustAnchors anchors);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // `endorsement_key`: the VCEK or VLEK certificate, DER or PEM.
  //
  // Codes: kParse (report bytes), kCertificateInvalid (endorsement key or CRL
  // malformed, wrong kind for the report), kProductMismatch, kUntrustedRoot
  // (no anchor, issuer is not the anchored ASK/ASVK), kSignatureInvalid
  // (a certificate, the CRL or the report signature; unsigned reports),
  // kCertificateExpired (a certificate or options.crl at options.at),
  // kCertificateRevoked (the ASK/ASVK or the VCEK/VLEK is listed in the CRL),
  // kTcbMismatch, kChipIdMismatch.
  Result<VerifiedReport> Verify(ByteView report, ByteView endorsement_key, const VerifyOptions& options) const;
  Result<VerifiedReport> Verify(const Report& report, ByteView endorsement_key, const VerifyOptions& options) const;

  // Only the endorsement key: its chain to the anchors of options.product (or
  // of its productName), validity at options.at and revocation (a listed
  // certificate fails; "not checked" is not reported here). For VCEKs
  // fetched from the KDS before any report needs them.
  Result<EndorsementKeyInfo> VerifyEndorsementKey(ByteView endorsement_key, const VerifyOptions& options) const;

  // Number of chain verifications actually performed (cache misses); for
  // tests and benchmarks.
  size_t chain_verifications() const;

 private:
  struct Impl;
  Result<VerifiedReport> VerifyBytes(const Report& report, ByteView signed_bytes, ByteView endorsement_key,
                                     const VerifyOptions& options) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace contrast::attest::snp
