// An emulated Intel TDX platform (DCAP, ECDSA P-256): for tests, development
// and CI only. It is NOT a security boundary, and nothing it signs is
// trusted by a verifier that pins the real Intel SGX Root CA.
//
// It owns an Intel-shaped P-256 hierarchy under a root that names itself as
// insecure: root CA -> "Intel SGX PCK Platform CA" -> "Intel SGX PCK
// Certificate" (with Intel's SGX extension), and root -> "Intel SGX TCB
// Signing"; a Quoting Enclave (attestation key, QE report signed by the PCK
// key); and it signs TDX quotes (v4 and v5) in the real binary format and
// Intel PCS collateral (tcbInfo, QE identity, CRLs) in the real JSON/DER
// formats, so tdx::Verify runs unchanged against it once the emulated root is
// pinned (tdx::Verifier(root()) or VerifyOptions::pinned_root).
//
// The platform's TCB (CPUSVN, PCESVN, TEE_TCB_SVN), the TDX module (MRSEAM)
// and the QE are fixed at creation; the TD chooses its own fields and
// REPORTDATA per quote, as a TD does on real hardware.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attest/tdx/collateral.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/verify.h"
#include "common/bytes.h"
#include "common/time.h"
#include "crypto/hash.h"
#include "crypto/x509.h"

namespace contrast::attest::emulated {

// The organisation in every emulated TDX certificate's subject, so nobody
// mistakes the chain for Intel's. (The CNs below the root must be Intel's:
// tdx::Verify checks them.)
inline constexpr std::string_view kEmulatedTdxOrganization = "Contrast Emulated Intel TDX (INSECURE)";
inline constexpr std::string_view kEmulatedTdxRootName = "INSECURE Emulated Intel SGX Root CA";

// The TD report fields the TD's launch and runtime decide. TEE_TCB_SVN(2),
// MRSEAM, MRSIGNERSEAM and SEAMATTRIBUTES come from the platform's TDX
// module; REPORTDATA is an argument of Quote.
struct TdReportFields {
  // SEPT_VE_DISABLE, as Contrast requires.
  std::array<uint8_t, 8> td_attributes{0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00};
  std::array<uint8_t, 8> xfam{0xe7, 0x1a, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00};
  tdx::Measurement mr_td{};
  tdx::Measurement mr_config_id{};
  tdx::Measurement mr_owner{};
  tdx::Measurement mr_owner_config{};
  std::array<tdx::Measurement, 4> rtmrs{};
  // TD 1.5 bodies (v5 quotes) only.
  tdx::Measurement mr_service_td{};
};

struct EmulatedTdxOptions {
  // The platform TCB the PCK certificate is issued for: CPUSVN (its 16 bytes
  // are also the SGX TCB component SVNs) and PCESVN.
  std::array<uint8_t, 16> cpu_svn{0x04, 0x04, 0x02, 0x02, 0x04, 0x01, 0x00, 0x05};
  uint16_t pce_svn = 13;
  std::array<uint8_t, 2> pce_id{0x00, 0x00};
  // Not an FMSPC Intel has assigned.
  std::array<uint8_t, 6> fmspc{0xee, 0xee, 0x00, 0x00, 0x00, 0x00};
  // 0 standard, 1 scalable, 2 scalable with integrity. Scalable types carry
  // a platform instance id and the configuration below, as Intel's do.
  int sgx_type = 1;
  bool dynamic_platform = false;
  bool cached_keys = false;
  bool smt_enabled = true;
  // The TDX module: TEE_TCB_SVN byte 0 = module SVN, byte 1 = major version
  // (> 0: the tcbInfo has a TDX_<major> module identity), 2.. other
  // components. TEE_TCB_SVN2 of TD 1.5 bodies equals it.
  std::array<uint8_t, 16> tee_tcb_svn{0x06, 0x01, 0x03};
  // nullopt: SHA-384 of a fixed label (not an Intel module).
  std::optional<tdx::Measurement> mr_seam;
  // The Quoting Enclave's identity.
  uint16_t qe_isv_prod_id = 2;
  uint16_t qe_isv_svn = 4;
  // Start of the certificates' validity (root and CA 25 years, PCK and TCB
  // signing 7); a day back by default to tolerate clock skew.
  TimePoint not_before = Now() - std::chrono::hours(24);
};

struct EmulatedTdxCollateralOptions {
  // tcbInfo and QE identity issueDate / nextUpdate; also the CRLs'
  // thisUpdate / nextUpdate unless set below.
  TimePoint issue_date = Now() - std::chrono::hours(1);
  TimePoint next_update = Now() + std::chrono::hours(24 * 30);
  std::optional<TimePoint> crl_this_update;
  std::optional<TimePoint> crl_next_update;
  uint32_t tcb_evaluation_data_number = 17;
  // Platform TCB levels, newest first. nullopt: one UpToDate level equal to
  // the platform's TCB (PlatformTcbLevel).
  std::optional<std::vector<tdx::TcbLevel>> tcb_levels;
  // Levels of the TDX_<major> module identity (written only when the
  // module's major version is > 0). nullopt: one UpToDate level at the
  // module's SVN.
  std::optional<std::vector<tdx::IsvTcbLevel>> tdx_module_levels;
  // QE identity levels. nullopt: one UpToDate level at the QE's ISVSVN.
  std::optional<std::vector<tdx::IsvTcbLevel>> qe_levels;
  // Revocations: this platform's certificates, and any further serial
  // numbers (big-endian), listed in the PCK CRL (by the Platform CA) or the
  // root CRL.
  bool revoke_pck_leaf = false;
  bool revoke_pck_platform_ca = false;
  bool revoke_tcb_signing = false;
  std::vector<Bytes> pck_crl_extra_serials;
  std::vector<Bytes> root_crl_extra_serials;
};

namespace detail {
struct TdxPlatform;  // keys, certificates and the fixed QE certification data
}  // namespace detail

// Copyable (shares its immutable state); thread-safe.
class InsecureEmulatedTdx {
 public:
  // A fresh platform (new keys, certificates, PPID and platform instance
  // id) in memory only (tests).
  static Result<InsecureEmulatedTdx> CreateInMemory(const EmulatedTdxOptions& options = {});
  // The same, written to `state_dir` (created with mode 0700 if missing;
  // must not already hold a state). Private keys: PKCS#8 PEM, mode 0400.
  static Result<InsecureEmulatedTdx> Create(const std::filesystem::path& state_dir,
                                            const EmulatedTdxOptions& options = {});
  // Loads a state written by Create and checks it: every key matches its
  // certificate, the chains verify, and the PCK extension parses.
  static Result<InsecureEmulatedTdx> Load(const std::filesystem::path& state_dir);

  // A signed quote: `version` 4 (TD 1.0 body) or 5 (TD 1.5 body, type 3).
  // `report_data` is at most 64 bytes, zero-padded. kInvalidArgument for
  // another version or longer REPORTDATA.
  Result<Bytes> Quote(const TdReportFields& td, ByteView report_data, uint16_t version = tdx::kQuoteVersion4) const;

  // Intel PCS collateral for this platform, signed now (the JSON bodies by
  // the TCB signing key, the PCK CRL by the Platform CA, the root CRL by
  // the root).
  Result<tdx::Collateral> Collateral(const EmulatedTdxCollateralOptions& options = {}) const;
  // A platform TCB level this platform matches exactly, with `status`.
  tdx::TcbLevel PlatformTcbLevel(tdx::TcbStatus status, std::vector<std::string> advisory_ids = {}) const;

  // The root a verifier must pin to accept this platform's quotes.
  const crypto::Certificate& root() const;
  crypto::Sha256Digest root_sha256() const;
  std::string root_pem() const;
  const crypto::Certificate& pck_platform_ca() const;
  const crypto::Certificate& pck_leaf() const;
  const crypto::Certificate& tcb_signing() const;
  // "-----BEGIN CERTIFICATE-----" x 3: PCK leaf, Platform CA, root (as in
  // the quote, without its terminating NUL).
  std::string pck_chain_pem() const;
  // The SGX extension of the PCK leaf, decoded.
  const tdx::PckCertificateInfo& pck() const;
  // TEE_TCB_SVN, MRSEAM and the QE report as they appear in every quote.
  const std::array<uint8_t, 16>& tee_tcb_svn() const;
  const tdx::Measurement& mr_seam() const;
  const tdx::EnclaveReport& qe_report() const;

 private:
  explicit InsecureEmulatedTdx(std::shared_ptr<const detail::TdxPlatform> platform) : platform_(std::move(platform)) {}
  std::shared_ptr<const detail::TdxPlatform> platform_;
};

}  // namespace contrast::attest::emulated
