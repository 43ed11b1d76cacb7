// The emulated AMD secure processor (platform "emulated-snp"): for
// development, CI and the local demo only. It is NOT a security boundary.
//
// It owns an ARK -> ASK -> VCEK chain with the X.509 shape of AMD's (RSA-4096
// roots signing with RSASSA-PSS, an EC P-384 VCEK carrying the AMD TCB and
// hwID extensions) under a root that names itself as insecure, and signs
// SEV-SNP attestation reports in the real binary format, so the ordinary
// snp::Verifier and validation code run unchanged against it.
//
// The trust boundary of real hardware is kept in the API: the launcher
// registers a VM with its MEASUREMENT and HOST_DATA and hands the resulting
// VmHandle to the guest side, which can only choose REPORT_DATA.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "attest/snp/abi.h"
#include "attest/snp/trust.h"
#include "common/bytes.h"
#include "common/time.h"
#include "crypto/keys.h"

namespace contrast::attest::emulated {

using Measurement = snp::ByteArray<48>;
using HostData = snp::ByteArray<32>;
using ChipId = snp::ByteArray<64>;

// The organisation in every emulated certificate's subject, so nobody mistakes
// the chain for AMD's.
inline constexpr std::string_view kEmulatedOrganization = "Contrast Emulated Secure Processor (INSECURE)";

struct SecureProcessorOptions {
  // Milan or Genoa (their TCB layout and 64-byte chip id).
  snp::Product product = snp::Product::kMilan;
  // The TCB the platform runs; the VCEK is issued for it.
  snp::TcbParts tcb{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
  // Start of the certificates' validity (ARK and ASK 25 years, VCEK 7); a day
  // back by default to tolerate clock skew between emulator and verifier.
  TimePoint not_before = Now() - std::chrono::hours(24);
  // The ARK and ASK keys: RSA-4096 like AMD's. Tests may choose kRsa2048,
  // which is much faster to generate.
  crypto::KeyType ca_key_type_for_test = crypto::KeyType::kRsa4096;
};

class SecureProcessor;
namespace detail {
struct Platform;  // the emulated chip: its chain, VCEK key, chip id and TCB
}  // namespace detail

// A launched VM as the guest sees it: it can ask for reports, with its own
// REPORT_DATA, and nothing else. MEASUREMENT, HOST_DATA and the guest policy
// are fixed at registration. Copyable; thread-safe.
class VmHandle {
 public:
  // A signed 0x4A0-byte report (version 3, VMPL 0, signed by the VCEK). The
  // platform fields: CPUID of the product, the chip id, current = reported =
  // committed = launch TCB, firmware 1.55 build 1, PLATFORM_INFO SMT enabled,
  // REPORT_ID_MA all 0xFF (no migration agent). `report_data` is at most 64
  // bytes and is zero-padded (like configfs-tsm's inblob); longer input is
  // kInvalidArgument.
  Result<Bytes> GetReport(ByteView report_data) const;

  const Measurement& measurement() const { return measurement_; }
  const HostData& host_data() const { return host_data_; }
  const snp::ByteArray<32>& report_id() const { return report_id_; }

 private:
  friend class SecureProcessor;
  VmHandle(std::shared_ptr<const detail::Platform> platform, const Measurement& measurement, const HostData& host_data,
           uint64_t policy, const snp::ByteArray<32>& report_id);

  std::shared_ptr<const detail::Platform> platform_;
  Measurement measurement_;
  HostData host_data_;
  uint64_t policy_;
  snp::ByteArray<32> report_id_;
};

class SecureProcessor {
 public:
  // A fresh emulator (new keys, certificates and chip id) whose state is
  // written to `state_dir` (created with mode 0700 if missing; must not
  // already hold a state). Private keys: PKCS#8 PEM, mode 0400.
  static Result<SecureProcessor> Create(const std::filesystem::path& state_dir,
                                        const SecureProcessorOptions& options = {});
  // A fresh emulator that lives only in memory (tests).
  static Result<SecureProcessor> CreateInMemory(const SecureProcessorOptions& options = {});
  // Loads a state written by Create and checks all of it: every key matches
  // its certificate, the chain signatures verify, and the VCEK's AMD
  // extensions carry the stored chip id, TCB and product.
  static Result<SecureProcessor> Load(const std::filesystem::path& state_dir);

  // Registers a VM: what the launcher (host side) does. The guest policy
  // defaults to SMT allowed, ABI 0.0.
  // Fails only if the random REPORT_ID cannot be drawn.
  Result<VmHandle> RegisterVm(const Measurement& measurement, const HostData& host_data,
                              const snp::GuestPolicy& policy = snp::GuestPolicy{.smt = true}) const;

  snp::Product product() const;
  const ChipId& chip_id() const;
  const snp::TcbParts& tcb() const;

  // Certificates, DER and PEM. The ARK is the root a verifier must name
  // explicitly to accept this emulator's reports.
  const Bytes& ark_der() const;
  const Bytes& ask_der() const;
  const Bytes& vcek_der() const;
  std::string ark_pem() const;
  std::string ask_pem() const;
  std::string vcek_pem() const;

  // Anchors for snp::Verifier: this emulator's ARK and ASK, marked insecure.
  snp::ProductAnchors TrustAnchor() const;

 private:
  explicit SecureProcessor(std::shared_ptr<const detail::Platform> platform) : platform_(std::move(platform)) {}
  std::shared_ptr<const detail::Platform> platform_;
};

}  // namespace contrast::attest::emulated
