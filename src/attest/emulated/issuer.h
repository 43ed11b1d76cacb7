// Evidence ("emulated-snp") from the emulated secure processor: the report of
// one VM, the emulator's VCEK and its ASK/ARK chain. INSECURE: development,
// CI and the demo only.
//
// One issuer over a report source: an in-process SecureProcessor VM (unit
// tests, test harnesses) or the emulator daemon through the guest socket
// (programs started by `contrast emulate run`).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "attest/emulated/secure_processor.h"
#include "attest/evidence.h"
#include "common/result.h"

namespace contrast::attest::emulated {

class GuestClient;

// Where an InsecureEmulatedIssuer gets its reports. Thread-safe.
class InsecureEmulatedReportSource {
 public:
  virtual ~InsecureEmulatedReportSource() = default;
  // Evidence for `report_data` without its platform tag: the signed report,
  // the emulator's VCEK (DER) and its ASK then ARK (PEM).
  virtual Result<Evidence> Fetch(const ReportData& report_data) const = 0;
};

// Thread-safe; copies share their source.
class InsecureEmulatedIssuer final : public Issuer {
 public:
  explicit InsecureEmulatedIssuer(std::shared_ptr<const InsecureEmulatedReportSource> source);
  // Reports of `vm`, registered with the in-process `processor`.
  static InsecureEmulatedIssuer ForVm(const SecureProcessor& processor, VmHandle vm);
  // Reports from the emulator daemon, for the VM the client's token names.
  static InsecureEmulatedIssuer ForGuest(GuestClient client);

  std::string_view platform() const override { return kPlatformInsecureEmulatedSnp; }
  // Errors of the source, prefixed with where the report came from.
  Result<Evidence> Issue(const ReportData& report_data) override;

 private:
  std::shared_ptr<const InsecureEmulatedReportSource> source_;
};

}  // namespace contrast::attest::emulated
