// Intel PCS collateral for TDX: TCB info and the TD Quoting Enclave identity,
// as the response bodies Intel's Provisioning Certification Service returns,
// plus the issuer chain ("Intel SGX TCB Signing" certificate, then the root).
//
// Bodies are untrusted bytes until their signature verifies: Intel signs the
// exact bytes of the "tcbInfo" / "enclaveIdentity" JSON value as sent, so the
// parser keeps that byte range and interprets only those bytes (never a
// re-serialisation, and never a second copy of the key elsewhere in the body).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/time.h"
#include "crypto/x509.h"

namespace contrast::attest::tdx {

// TCB statuses Intel assigns to TCB levels (the names are Intel's).
enum class TcbStatus {
  kUpToDate,
  kSwHardeningNeeded,
  kConfigurationNeeded,
  kConfigurationAndSwHardeningNeeded,
  kOutOfDate,
  kOutOfDateConfigurationNeeded,
  kRevoked,
};
// "UpToDate", "SWHardeningNeeded", ... as in Intel's JSON.
std::string_view TcbStatusName(TcbStatus status);
// kParse for anything else.
Result<TcbStatus> ParseTcbStatus(std::string_view name);

// One platform TCB level of a TDX tcbInfo.
struct TcbLevel {
  std::array<uint8_t, 16> sgx_components{};
  uint16_t pce_svn = 0;
  std::array<uint8_t, 16> tdx_components{};
  TimePoint tcb_date{};
  TcbStatus status = TcbStatus::kRevoked;
  std::vector<std::string> advisory_ids;
};

// A TCB level identified by one ISV SVN (QE identity, TDX module identity).
struct IsvTcbLevel {
  uint16_t isv_svn = 0;
  TimePoint tcb_date{};
  TcbStatus status = TcbStatus::kRevoked;
  std::vector<std::string> advisory_ids;
};

// The TDX module signer and SEAM attributes a tcbInfo expects.
struct TdxModule {
  std::array<uint8_t, 48> mr_signer{};
  std::array<uint8_t, 8> attributes{};
  std::array<uint8_t, 8> attributes_mask{};
};

// tdxModuleIdentities entry: "TDX_<major version as two hex digits>".
struct TdxModuleIdentity {
  std::string id;
  TdxModule module;
  std::vector<IsvTcbLevel> levels;  // as sent (newest first)
};

struct TcbInfo {
  std::string id;   // "TDX"
  int version = 0;  // 3
  TimePoint issue_date{};
  TimePoint next_update{};
  std::array<uint8_t, 6> fmspc{};
  std::array<uint8_t, 2> pce_id{};
  int tcb_type = 0;
  uint32_t tcb_evaluation_data_number = 0;
  TdxModule tdx_module;
  std::vector<TdxModuleIdentity> tdx_module_identities;  // may be empty
  std::vector<TcbLevel> levels;                          // as sent (newest first)
};

struct QeIdentity {
  std::string id;   // "TD_QE"
  int version = 0;  // 2
  TimePoint issue_date{};
  TimePoint next_update{};
  uint32_t tcb_evaluation_data_number = 0;
  uint32_t misc_select = 0;
  uint32_t misc_select_mask = 0;
  std::array<uint8_t, 16> attributes{};
  std::array<uint8_t, 16> attributes_mask{};
  std::array<uint8_t, 32> mr_signer{};
  uint16_t isv_prod_id = 0;
  std::vector<IsvTcbLevel> levels;  // as sent (newest first)
};

// A parsed collateral document with the bytes its signature covers.
template <typename T>
struct SignedCollateral {
  T value;
  std::string signed_json;              // the exact bytes of the signed JSON value
  std::array<uint8_t, 64> signature{};  // ECDSA P-256 r || s
};
using SignedTcbInfo = SignedCollateral<TcbInfo>;
using SignedQeIdentity = SignedCollateral<QeIdentity>;

// Parse a PCS response body {"tcbInfo": {...}, "signature": "<hex>"}. The
// tcbInfo must be a TDX tcbInfo of version 3. kParse on anything malformed
// (including a duplicated top-level key), kUnsupported for another id or
// version.
Result<SignedTcbInfo> ParseTcbInfoResponse(std::string_view body);
// {"enclaveIdentity": {...}, "signature": "<hex>"}, id TD_QE, version 2.
Result<SignedQeIdentity> ParseQeIdentityResponse(std::string_view body);

// The signature (SHA-256 ECDSA P-256) over `signed_json` verifies with the
// TCB-signing certificate's key. kSignatureInvalid otherwise. `what` names
// the document in messages ("tcbInfo").
Status VerifyCollateralSignature(std::string_view signed_json, const std::array<uint8_t, 64>& signature,
                                 const crypto::Certificate& tcb_signing, std::string_view what);

// issueDate <= at < nextUpdate. kCertificateExpired naming the document
// ("tcbInfo has expired: nextUpdate ... is before ...").
Status CheckCollateralCurrent(TimePoint issue_date, TimePoint next_update, TimePoint at, std::string_view what);

// The collateral issuer chain: PEM, exactly two certificates, the "Intel SGX
// TCB Signing" certificate first and then a root byte-identical to
// `pinned_root`; the leaf signed by the root. Returns the TCB-signing
// certificate. Time validity and revocation are separate
// (CheckTcbSigningCertificate) so that a verified chain can be cached.
// Codes: kCertificateInvalid, kUntrustedRoot, kSignatureInvalid.
Result<crypto::Certificate> VerifyCollateralIssuerChain(std::string_view pem, const crypto::Certificate& pinned_root);

// The TCB-signing certificate is valid at `at` and, when a root CRL is given,
// not revoked by it (the CRL must be signed by the root and current).
// Codes: kCertificateExpired, kCertificateRevoked, kSignatureInvalid.
Status CheckTcbSigningCertificate(const crypto::Certificate& tcb_signing, const crypto::Certificate& root,
                                  const std::optional<crypto::Crl>& root_crl, TimePoint at);

}  // namespace contrast::attest::tdx
