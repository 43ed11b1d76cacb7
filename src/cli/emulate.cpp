#include "cli/emulate.h"

#include <ostream>
#include <sstream>

#include "attest/emulated/secure_processor.h"
#include "cli/app.h"
#include "cli/output.h"
#include "common/files.h"
#include "crypto/hash.h"

namespace contrast::cli {
namespace {

using attest::emulated::SecureProcessor;
using attest::emulated::SecureProcessorOptions;
namespace snp = attest::snp;

int UsageError(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitUsage;
}

// "bootloader=3,tee=0,snp=8,microcode=115" (fmc= for Turin).
Result<snp::TcbParts> ParseTcbFlag(const std::string& text, snp::TcbParts tcb) {
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return Fail(ErrorCode::kInvalidArgument, "--tcb: expected NAME=VALUE, got " + item);
    const std::string name = item.substr(0, eq);
    int value = -1;
    try {
      size_t used = 0;
      value = std::stoi(item.substr(eq + 1), &used);
      if (used != item.size() - eq - 1) value = -1;
    } catch (const std::exception&) {
      value = -1;
    }
    if (value < 0 || value > 255) return Fail(ErrorCode::kInvalidArgument, "--tcb: " + name + " must be 0..255");
    const auto v = static_cast<uint8_t>(value);
    if (name == "bootloader") {
      tcb.bootloader = v;
    } else if (name == "tee") {
      tcb.tee = v;
    } else if (name == "snp") {
      tcb.snp = v;
    } else if (name == "microcode") {
      tcb.microcode = v;
    } else if (name == "fmc") {
      tcb.fmc = v;
    } else {
      return Fail(ErrorCode::kInvalidArgument,
                  "--tcb: unknown component " + name + " (bootloader, tee, snp, microcode, fmc)");
    }
  }
  return tcb;
}

template <size_t N>
Result<snp::ByteArray<N>> FixedHex(const std::string& flag, const std::string& hex, bool allow_shorter = false) {
  snp::ByteArray<N> out{};
  if (hex.empty()) return out;
  auto bytes = HexDecode(hex);
  if (!bytes) return Fail(bytes.error().Wrap(flag));
  if (bytes->size() > N || (!allow_shorter && bytes->size() != N)) {
    return Fail(ErrorCode::kInvalidArgument, flag + ": expected " + std::string(allow_shorter ? "at most " : "") +
                                                 std::to_string(N) + " bytes of hex, got " +
                                                 std::to_string(bytes->size()));
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

int RunEmulateInit(const EmulateInitCommand& command, std::ostream& out, std::ostream& err) {
  SecureProcessorOptions options;
  auto product = snp::ParseProduct(command.product);
  if (!product) return UsageError(err, product.error());
  options.product = *product;
  if (!command.tcb.empty()) {
    auto tcb = ParseTcbFlag(command.tcb, options.tcb);
    if (!tcb) return UsageError(err, tcb.error());
    options.tcb = *tcb;
  }
  auto sp = SecureProcessor::Create(command.state_dir, options);
  if (!sp) return UsageError(err, sp.error());
  PrintInsecureWarning(err);
  out << "emulated secure processor created in " << command.state_dir.string() << "\n"
      << "  product  " << snp::ProductName(sp->product()) << "\n"
      << "  chip id  " << HexEncode(sp->chip_id()) << "\n"
      << "  TCB      " << snp::FormatTcb(sp->tcb(), sp->product()) << "\n"
      << "  root     sha256:" << HexEncode(crypto::Sha256(sp->ark_der())) << "\n";
  return kExitOk;
}

int RunEmulateReport(const EmulateReportCommand& command, std::ostream& out, std::ostream& err) {
  auto sp = SecureProcessor::Load(command.state_dir);
  if (!sp) return UsageError(err, sp.error());
  auto measurement = FixedHex<48>("--measurement", command.measurement);
  if (!measurement) return UsageError(err, measurement.error());
  if (command.policy && !command.host_data.empty()) {
    return UsageError(err, Error{ErrorCode::kInvalidArgument, "--host-data and --policy exclude each other"});
  }
  snp::ByteArray<32> host_data{};
  if (command.policy) {
    auto policy = ReadFile(*command.policy);
    if (!policy) return UsageError(err, policy.error());
    host_data = crypto::Sha256(*policy);
  } else {
    auto parsed = FixedHex<32>("--host-data", command.host_data);
    if (!parsed) return UsageError(err, parsed.error());
    host_data = *parsed;
  }
  auto report_data = HexDecode(command.report_data);
  if (!report_data) return UsageError(err, report_data.error().Wrap("--report-data"));

  // The launcher's part: register the VM with what it measured and the
  // policy hash. The guest's part: ask for a report with its REPORT_DATA.
  auto vm = sp->RegisterVm(*measurement, host_data);
  if (!vm) return UsageError(err, vm.error());
  auto report = vm->GetReport(*report_data);
  if (!report) return UsageError(err, report.error());

  if (auto written = WriteFileAtomic(command.out, *report); !written) return UsageError(err, written.error());
  if (command.vcek_out) {
    if (auto written = WriteFileAtomic(*command.vcek_out, sp->vcek_pem()); !written) {
      return UsageError(err, written.error());
    }
  }
  if (command.chain_out) {
    if (auto written = WriteFileAtomic(*command.chain_out, sp->ask_pem() + sp->ark_pem()); !written) {
      return UsageError(err, written.error());
    }
  }
  out << "wrote emulated SEV-SNP report to " << command.out.string() << " (HOST_DATA " << HexEncode(host_data) << ")\n";
  return kExitOk;
}

}  // namespace contrast::cli
