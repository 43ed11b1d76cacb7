// Authenticity and TCB status of an Intel TDX quote (DCAP, ECDSA P-256).
//
// Verify checks, in order:
//  1. the quote parses (quote.h) and comes from Intel's Quoting Enclave
//     (QE vendor id);
//  2. the PCK chain embedded in the quote: leaf "Intel SGX PCK Certificate",
//     intermediate "Intel SGX PCK Platform CA" / "... Processor CA", and a
//     root byte-identical to the pinned Intel SGX Root CA (a chain that
//     arrives with the quote is never trusted by itself); signatures, validity
//     at `at`, and revocation (root CRL for the intermediate, PCK CRL for the
//     leaf);
//  3. the QE report signature by the PCK leaf key, and the attestation-key
//     binding: QE REPORTDATA = SHA-256(attestation key || QE auth data) || 0^32;
//  4. the quote signature by the attestation key over header and body;
//  5. the collateral: issuer chain (TCB signing certificate under the pinned
//     root, valid at `at`, not revoked), the signatures over tcbInfo and the
//     QE identity, both current at `at`;
//  6. the TCB evaluation (EvaluateTcb): platform TCB level, TDX module
//     identity and QE identity, converged into one status, which must be one
//     of the accepted statuses.
// Whether the TD's measurements are acceptable (MRTD, RTMRs, MRCONFIGID, ...)
// is validation against reference values, not this file.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attest/tdx/collateral.h"
#include "attest/tdx/quote.h"
#include "common/time.h"
#include "crypto/x509.h"

namespace contrast::attest::tdx {

// The embedded Intel SGX Root CA. The first call checks it against its pinned
// SHA-256 (IntelSgxRootCaSha256Hex) and aborts on a mismatch (a build defect).
const crypto::Certificate& IntelSgxRootCa();
std::string_view IntelSgxRootCaSha256Hex();

// Intel's SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate.
struct PckCertificateInfo {
  std::array<uint8_t, 16> ppid{};
  std::array<uint8_t, 16> cpu_svn{};
  // TCB component SVNs .2.1 to .2.16 (compared with sgxtcbcomponents).
  std::array<uint8_t, 16> sgx_components{};
  uint16_t pce_svn = 0;
  std::array<uint8_t, 2> pce_id{};
  std::array<uint8_t, 6> fmspc{};
  // 0 standard, 1 scalable, 2 scalable with integrity.
  int sgx_type = 0;
  // Present for multi-package (scalable) platforms only.
  std::optional<Bytes> platform_instance_id;
  std::optional<bool> dynamic_platform;
  std::optional<bool> cached_keys;
  std::optional<bool> smt_enabled;
};

// Decodes the SGX extension with OpenSSL's ASN.1 parser. kCertificateInvalid
// when it is missing or malformed.
Result<PckCertificateInfo> ParsePckExtension(const crypto::Certificate& pck);

// The result of matching a quote against TCB info and QE identity.
struct TcbEvaluation {
  // Converged as Intel's QVL does: the platform level's status, worsened by
  // an OutOfDate/Revoked TDX module and then by the QE's status.
  TcbStatus status = TcbStatus::kRevoked;
  // The matched platform TCB level.
  TcbStatus platform_status = TcbStatus::kRevoked;
  TimePoint tcb_date{};
  // "TDX_01" etc.; empty when the tcbInfo has no module identities or the
  // quote reports module major version 0.
  std::string tdx_module_identity;
  std::optional<TcbStatus> tdx_module_status;
  TcbStatus qe_status = TcbStatus::kRevoked;
  TimePoint qe_tcb_date{};
  // Union of the advisory IDs of the matched platform, module and QE levels,
  // in that order, without duplicates.
  std::vector<std::string> advisory_ids;
  uint32_t tcb_evaluation_data_number = 0;
};

// Matches the quote and its PCK certificate against the collateral, without
// checking any signature or time (callers verify those first). Codes:
// kTcbMismatch (FMSPC / PCE-ID / TDX module signer or attributes differ, no
// module identity for the reported version), kMeasurementMismatch (the QE is
// not the one the QE identity describes), kTcbTooLow (no TCB level matches).
Result<TcbEvaluation> EvaluateTcb(const Quote& quote, const PckCertificateInfo& pck, const TcbInfo& tcb_info,
                                  const QeIdentity& qe_identity);

// kTcbTooLow naming the status, the accepted list and the advisories when
// evaluation.status is not in `accepted`.
Status CheckTcbStatusAccepted(const TcbEvaluation& evaluation, std::span<const TcbStatus> accepted);

// Intel PCS collateral as received.
struct Collateral {
  std::string tcb_info;      // body of /tdx/certification/v4/tcb?fmspc=...
  std::string qe_identity;   // body of /tdx/certification/v4/qe/identity
  std::string issuer_chain;  // PEM: TCB signing certificate, root (both responses use the same chain)
  Bytes pck_crl;             // DER or PEM, issued by the PCK Platform/Processor CA; empty = not given
  Bytes root_crl;            // DER or PEM, issued by the root; empty = not given
};

struct VerifyOptions {
  // Certificates, CRLs and collateral must be valid at this time.
  TimePoint at = Now();
  std::vector<TcbStatus> accepted_tcb_statuses = {TcbStatus::kUpToDate};
  // nullopt: the Intel SGX Root CA.
  std::optional<crypto::Certificate> pinned_root;
  // When true (the default), both CRLs must be given; otherwise missing CRLs
  // are skipped and VerifiedQuote::revocation_checked() says so.
  bool require_crls = true;
};

// Collateral whose signatures have been verified against the pinned root; it
// can be reused for many quotes (time validity is checked at every use).
class VerifiedCollateral {
 public:
  const SignedTcbInfo& tcb_info() const { return tcb_info_; }
  const SignedQeIdentity& qe_identity() const { return qe_identity_; }
  const crypto::Certificate& tcb_signing() const { return tcb_signing_; }
  const crypto::Certificate& root() const { return root_; }
  const std::optional<crypto::Crl>& pck_crl() const { return pck_crl_; }
  const std::optional<crypto::Crl>& root_crl() const { return root_crl_; }

 private:
  friend Result<VerifiedCollateral> VerifyCollateral(const Collateral&, const crypto::Certificate&);
  VerifiedCollateral(SignedTcbInfo tcb_info, SignedQeIdentity qe_identity, crypto::Certificate tcb_signing,
                     crypto::Certificate root);
  SignedTcbInfo tcb_info_;
  SignedQeIdentity qe_identity_;
  crypto::Certificate tcb_signing_;
  crypto::Certificate root_;
  std::optional<crypto::Crl> pck_crl_;
  std::optional<crypto::Crl> root_crl_;
};

// Parses the collateral, verifies the issuer chain to `pinned_root`, the
// tcbInfo and QE identity signatures and the root CRL's signature (the PCK
// CRL's issuer comes with the quote, so it is checked in Verify). Times are
// not checked here.
Result<VerifiedCollateral> VerifyCollateral(const Collateral& collateral, const crypto::Certificate& pinned_root);

// The PCK chain of a quote, verified.
struct VerifiedPckChain {
  crypto::Certificate leaf;
  crypto::Certificate intermediate;
  PckCertificateInfo info;
};

// Steps 1 to 4 only, without a cache: the quote's own signatures, the QE
// binding and the PCK chain to `pinned_root` at `at`, with whichever CRLs are
// given (their signatures, currency and revocation are all checked here).
// For vectors whose collateral cannot be checked at the same time, and for
// callers that verify collateral separately.
Result<VerifiedPckChain> VerifyQuoteSignatures(const Quote& quote, const crypto::Certificate& pinned_root, TimePoint at,
                                               const std::optional<crypto::Crl>& pck_crl,
                                               const std::optional<crypto::Crl>& root_crl);

// A quote whose signatures, PCK chain and collateral verified and whose TCB
// status is accepted. The only way to obtain one is Verify.
class VerifiedQuote {
 public:
  const Quote& quote() const { return quote_; }
  const TdReport& td_report() const { return quote_.td_report; }
  const TcbEvaluation& tcb() const { return tcb_; }
  TcbStatus tcb_status() const { return tcb_.status; }
  const PckCertificateInfo& pck() const { return pck_; }
  // PCK leaf subject and the CA that issued it ("Intel SGX PCK Platform CA").
  const std::string& pck_issuer() const { return pck_issuer_; }
  // Both CRLs were given and checked.
  bool revocation_checked() const { return revocation_checked_; }

 private:
  friend class Verifier;
  Quote quote_;
  TcbEvaluation tcb_;
  PckCertificateInfo pck_;
  std::string pck_issuer_;
  bool revocation_checked_ = false;
};

// Verifies quotes against one pinned root. It caches, per platform, what is
// the same for every quote and independent of time (the PCK chain parsed and
// its signatures checked, the QE report signature and key binding, the
// attestation key): OpenSSL 3 spends ~0.4 ms decoding each certificate.
// Validity at options.at, CRLs, the quote signature, the collateral and the
// TCB evaluation run on every call. Failures are not cached; the cache holds
// at most 256 platforms. Thread-safe.
class Verifier {
 public:
  // The Intel SGX Root CA.
  Verifier();
  explicit Verifier(crypto::Certificate pinned_root);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // Codes: kParse / kUnsupported (quote malformed, unsupported format),
  // kCertificateInvalid, kUntrustedRoot (chain does not end in the pinned
  // root; collateral verified against another root), kSignatureInvalid
  // (quote, QE report, certificate or CRL signature; QE binding),
  // kCertificateExpired (certificate, CRL or collateral not valid at
  // options.at), kCertificateRevoked, kTcbMismatch, kMeasurementMismatch,
  // kTcbTooLow (no matching level; status not accepted), kInvalidArgument
  // (CRLs required but missing; options.pinned_root set to another root).
  Result<VerifiedQuote> Verify(ByteView quote, const VerifiedCollateral& collateral,
                               const VerifyOptions& options) const;

  const crypto::Certificate& pinned_root() const;
  // Platform verifications actually performed (cache misses); for tests and
  // benchmarks.
  size_t platform_verifications() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One-off verification (no cache across calls) against options.pinned_root
// (default: the Intel SGX Root CA). Codes as Verifier::Verify; the second form
// also fails with VerifyCollateral's codes.
Result<VerifiedQuote> Verify(ByteView quote, const VerifiedCollateral& collateral, const VerifyOptions& options);
Result<VerifiedQuote> Verify(ByteView quote, const Collateral& collateral, const VerifyOptions& options);

}  // namespace contrast::attest::tdx
