// Evidence from the Linux kernel's configfs-tsm interface (kernel 6.7+), the
// way real SEV-SNP and TDX guests obtain it:
//
//   mkdir  <tsm>/report/<entry>
//   write  <entry>/inblob      REPORT_DATA (64 bytes)
//   write  <entry>/privlevel   (SNP: VMPL, optional)
//   read   <entry>/generation  number of writes so far
//   read   <entry>/provider    "sev_guest" | "tdx_guest" | emulated_sev_guest
//   read   <entry>/outblob     SNP report, or TDX quote
//   read   <entry>/auxblob     SNP: certificate table (cert_table.h); may be absent or empty
//   read   <entry>/generation  again: if it moved, another writer raced; retry
//   rmdir  <entry>
//
// `<tsm>` is /sys/kernel/config/tsm on real hardware; `contrast emulate tsm`
// serves the same layout (FUSE) for the emulated platform.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "attest/evidence.h"

namespace contrast::attest::tsm {

inline constexpr std::string_view kDefaultTsmDir = "/sys/kernel/config/tsm";
// Names another configfs-tsm root (the emulated one); `--tsm-dir` wins over it.
inline constexpr std::string_view kTsmDirEnv = "CONTRAST_TSM_DIR";

// Providers (the `provider` attribute).
inline constexpr std::string_view kProviderSevGuest = "sev_guest";
inline constexpr std::string_view kProviderTdxGuest = "tdx_guest";
// `contrast emulate tsm`: SNP-format reports of the emulated secure processor.
inline constexpr std::string_view kProviderInsecureEmulated = "emulated_sev_guest";

struct ConfigfsTsmOptions {
  std::filesystem::path tsm_dir = std::string(kDefaultTsmDir);
  // SNP only: written to `privlevel` when set (0..3).
  int privlevel = -1;
  // Attempts when another writer changed the entry between our write and read.
  int max_attempts = 8;
};

class ConfigfsTsmIssuer final : public Issuer {
 public:
  // Reads `provider` once (through a probe entry, removed again) to learn the
  // platform: kNotFound when `<tsm>/report` does not exist ("configfs-tsm not
  // available at ..."), kUnsupported for an unknown provider, kIo with the path
  // and errno otherwise.
  static Result<std::unique_ptr<ConfigfsTsmIssuer>> Open(ConfigfsTsmOptions options);

  std::string_view platform() const override;
  // Every failure names the file and the errno. Evidence of "sev_guest" and
  // the emulated provider carries the VCEK/VLEK and ASK/ARK from auxblob when
  // present; of "tdx_guest" just the quote.
  Result<Evidence> Issue(const ReportData& report_data) override;

 private:
  ConfigfsTsmIssuer(ConfigfsTsmOptions options, std::string provider);
  ConfigfsTsmOptions options_;
  std::string provider_;
};

}  // namespace contrast::attest::tsm
