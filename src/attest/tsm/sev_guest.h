// Evidence from /dev/sev-guest, for SEV-SNP guests whose kernel predates
// configfs-tsm (before 6.7): the SNP_GET_EXT_REPORT ioctl (report plus the
// host's certificate table, cert_table.h), falling back to SNP_GET_REPORT
// (report only; the verifier then fetches the VCEK from AMD's KDS) when the
// host offers no extended report. Structures come from the kernel's uapi
// header <linux/sev-guest.h>; their layout is checked at compile time.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "attest/evidence.h"

namespace contrast::attest::tsm {

inline constexpr std::string_view kDefaultSevGuestDevice = "/dev/sev-guest";

class SevGuestIssuer final : public Issuer {
 public:
  // kNotFound when the device does not exist; kIo with the path and errno when
  // it cannot be opened.
  static Result<std::unique_ptr<SevGuestIssuer>> Open(
      std::filesystem::path device = std::string(kDefaultSevGuestDevice), int vmpl = 0);
  ~SevGuestIssuer() override;

  std::string_view platform() const override;  // kPlatformSnp
  // Failures name the device, the ioctl, the errno and the firmware / VMM
  // error codes the kernel reported.
  Result<Evidence> Issue(const ReportData& report_data) override;

 private:
  SevGuestIssuer(std::filesystem::path device, int fd, int vmpl);
  std::filesystem::path device_;
  int fd_;
  int vmpl_;
};

}  // namespace contrast::attest::tsm
