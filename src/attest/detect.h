// Where a program's attestation evidence comes from, detected once at
// startup (the Coordinator and the Initializer). In this order:
//
//   1. an explicit configfs-tsm root: DetectOptions::tsm_dir (`--tsm-dir`),
//      else CONTRAST_TSM_DIR (e.g. the emulated one `contrast emulate tsm`
//      mounts)                                   -> tsm::ConfigfsTsmIssuer
//   2. <default tsm dir>/report exists (real SEV-SNP or TDX, kernel 6.7+)
//                                                -> tsm::ConfigfsTsmIssuer
//   3. /dev/sev-guest exists (SEV-SNP, older kernels) -> tsm::SevGuestIssuer
//   4. CONTRAST_EMULATED_SOCKET and CONTRAST_EMULATED_VM_TOKEN (set by
//      `contrast emulate run`): the emulator daemon
//                                   -> emulated::InsecureEmulatedIssuer
//   5. none of these: kNotFound, naming everything that was tried.
//
// Only one of the two emulator variables set is a misconfiguration
// (kInvalidArgument), rather than a silent "nothing found".
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "attest/evidence.h"
#include "common/result.h"

namespace contrast::attest {

struct DetectOptions {
  // `--tsm-dir`; empty: CONTRAST_TSM_DIR, else detection by steps 2 to 4.
  std::filesystem::path tsm_dir;
  // Where real hardware exposes its interfaces (tests point them elsewhere).
  std::filesystem::path default_tsm_dir = "/sys/kernel/config/tsm";
  std::filesystem::path sev_guest_device = "/dev/sev-guest";
};

struct DetectedIssuer {
  std::unique_ptr<Issuer> issuer;
  // One line for the startup log, e.g. "attestation: snp evidence from
  // configfs-tsm /sys/kernel/config/tsm (provider sev_guest)".
  std::string description;
};

// Errors: those of the chosen issuer's Open (wrapped with where its path came
// from), kInvalidArgument (half-set or malformed emulator variables),
// kNotFound (no source at all).
Result<DetectedIssuer> DetectIssuer(const DetectOptions& options = {});

}  // namespace contrast::attest
