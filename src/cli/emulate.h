// `contrast emulate ...`: the emulated SEV-SNP platform for development, CI
// and the demo. Nothing here is a security guarantee.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace contrast::cli {

struct EmulateInitCommand {
  std::filesystem::path state_dir;
  std::string product = "Milan";
  std::string tcb;  // "bootloader=3,tee=0,snp=8,microcode=115"; empty = default
};

struct EmulateReportCommand {
  std::filesystem::path state_dir;
  std::string measurement;                      // 48 bytes hex; default all zero
  std::string host_data;                        // 32 bytes hex
  std::optional<std::filesystem::path> policy;  // HOST_DATA = SHA-256 of this file
  std::string report_data;                      // up to 64 bytes hex
  std::filesystem::path out;
  std::optional<std::filesystem::path> vcek_out;   // VCEK, PEM
  std::optional<std::filesystem::path> chain_out;  // ASK then ARK, PEM
};

int RunEmulateInit(const EmulateInitCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateReport(const EmulateReportCommand& command, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
