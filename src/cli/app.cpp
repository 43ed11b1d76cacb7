#include "cli/app.h"

#include <functional>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli/attestation.h"
#include "cli/coordinator_commands.h"
#include "cli/emulate.h"
#include "cli/generate.h"
#include "cli/policy_commands.h"
#include "cli/recover_command.h"
#include "cli/sign_command.h"

namespace contrast::cli {
namespace {

constexpr const char* kVersion = "0.1.0";

// The parsed flags of every command; CLI11 writes into these while parsing,
// and the selected command's callback runs with them afterwards.
struct Commands {
  AttestationShowCommand show;
  AttestationVerifyCommand verify;
  EmulateInitCommand emulate_init;
  EmulateReportCommand emulate_report;
  EmulateServeCommand emulate_serve;
  EmulateRootHashCommand emulate_root_hash;
  EmulateRunCommand emulate_run;
  EmulateGuestReportCommand emulate_guest_report;
  EmulateTsmCommand emulate_tsm;
  std::function<int()> run;
};

void AddAttestationCommands(CLI::App& app, Commands& c, std::ostream& out, std::ostream& err) {
  CLI::App* attestation = app.add_subcommand("attestation", "Inspect and verify attestation evidence");
  attestation->require_subcommand(1);

  auto& show = c.show;
  CLI::App* show_cmd = attestation->add_subcommand("show", "Print every field of an SEV-SNP report, decoded");
  show_cmd->add_option("REPORT", show.report, "Raw SEV-SNP attestation report (1184 bytes)")->required();
  show_cmd->add_option("--product", show.product, "Decode TCBs for this product line (Milan, Genoa, Turin)");
  show_cmd->add_flag("--json", show.json, "Print JSON");
  show_cmd->callback([&] { c.run = [&] { return RunAttestationShow(show, out, err); }; });

  auto& verify = c.verify;
  CLI::App* verify_cmd = attestation->add_subcommand(
      "verify",
      "Verify an SEV-SNP report (--report) or an Intel TDX quote (--quote): authenticity (AMD or Intel certificate "
      "chain, endorsement key, signatures; for TDX also the TCB status from Intel PCS collateral) and, with "
      "--reference-values, acceptability (every field against the manifest's reference values). Exit 0 when "
      "valid, 1 when not (every failed check listed), 2 on usage errors.");
  CLI::Option* report_opt =
      verify_cmd->add_option("--report", verify.report, "Raw SEV-SNP attestation report (1184 bytes)");
  CLI::Option* quote_opt =
      verify_cmd->add_option("--quote", verify.quote, "Intel TDX quote (DCAP v4 or v5, with its PCK chain)");
  report_opt->excludes(quote_opt);
  verify_cmd->add_option("--tcb-info", verify.tcb_info, "TDX: Intel PCS TCB info response body (JSON)")
      ->needs(quote_opt);
  verify_cmd->add_option("--qe-identity", verify.qe_identity, "TDX: Intel PCS QE identity response body (JSON)")
      ->needs(quote_opt);
  verify_cmd
      ->add_option("--collateral-chain", verify.collateral_chain,
                   "TDX: the issuer chain of TCB info and QE identity (PEM: TCB signing cert, root)")
      ->needs(quote_opt);
  verify_cmd->add_option("--pck-crl", verify.pck_crl, "TDX: PCK CRL (DER or PEM) of the PCK Platform/Processor CA")
      ->needs(quote_opt);
  verify_cmd->add_option("--root-crl", verify.root_crl, "TDX: Intel SGX Root CA CRL (DER or PEM)")->needs(quote_opt);
  verify_cmd
      ->add_option("--accept-tcb-status", verify.accept_tcb_status,
                   "TDX: comma-separated TCB statuses to accept (UpToDate, SWHardeningNeeded, "
                   "ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, "
                   "OutOfDateConfigurationNeeded)")
      ->capture_default_str()
      ->needs(quote_opt);
  verify_cmd->add_option("--pcs-url", verify.pcs_url, "TDX: Intel PCS base URL (when no collateral files are given)")
      ->default_str("https://api.trustedservices.intel.com")
      ->needs(quote_opt);
  verify_cmd->add_option("--collateral-proxy", verify.collateral_proxy,
                         "Collateral proxy base URL (air-gapped clusters): requests go to PROXY/<path>?<query>");
  verify_cmd->add_option("--vcek", verify.vcek, "VCEK or VLEK certificate (DER or PEM); default: fetch from the KDS");
  verify_cmd->add_option("--product", verify.product,
                         "Milan, Genoa or Turin; default: from the report's CPUID (version 3+) or the VCEK");
  verify_cmd->add_option("--reference-values", verify.reference_values,
                         "JSON: the manifest's ReferenceValues object ({\"snp\": [...]}), a manifest, or one entry");
  verify_cmd->add_option("--at", verify.at, "Verification time, RFC 3339 (default: now)");
  verify_cmd->add_option("--kds-url", verify.kds_url, "AMD Key Distribution Service base URL")
      ->default_str("https://kdsintf.amd.com");
  verify_cmd->add_option("--cache-dir", verify.cache_dir, "Directory caching certificates fetched from the KDS");
  verify_cmd->add_option("--crl", verify.crl, "CRL (DER or PEM) issued by the ARK: check revocation");
  verify_cmd->add_flag("--fetch-crl", verify.fetch_crl, "Fetch the CRL from the KDS and check revocation");
  verify_cmd->add_option("--insecure-emulated-chain", verify.insecure_emulated_chain,
                         "INSECURE: trust the emulated secure processor whose chain (ASK then ARK, PEM) this is");
  verify_cmd->add_flag("--json", verify.json, "Print the result as JSON");
  verify_cmd->callback([&] {
    if (verify.report.empty() && !verify.quote) throw CLI::RequiredError("--report or --quote");
    c.run = [&] { return RunAttestationVerify(verify, out, err); };
  });
}

void AddEmulateCommands(CLI::App& app, Commands& c, std::ostream& out, std::ostream& err) {
  CLI::App* emulate =
      app.add_subcommand("emulate", "INSECURE emulated SEV-SNP platform for development, CI and the demo");
  emulate->require_subcommand(1);

  auto& init = c.emulate_init;
  CLI::App* init_cmd = emulate->add_subcommand(
      "init", "Create an emulated AMD secure processor (own ARK -> ASK -> VCEK chain, chip id, TCB)");
  init_cmd->add_option("--state-dir", init.state_dir, "Directory for its keys and certificates (created)")->required();
  init_cmd->add_option("--product", init.product, "Milan or Genoa")->capture_default_str();
  init_cmd->add_option("--tcb", init.tcb, "TCB, e.g. bootloader=3,tee=0,snp=8,microcode=115");
  init_cmd->callback([&] { c.run = [&] { return RunEmulateInit(init, out, err); }; });

  auto& report = c.emulate_report;
  CLI::App* report_cmd =
      emulate->add_subcommand("report", "Register an emulated VM and write a signed SEV-SNP report for it");
  report_cmd->add_option("--state-dir", report.state_dir, "State directory of `contrast emulate init`")->required();
  report_cmd->add_option("--measurement", report.measurement, "Launch MEASUREMENT, 48 bytes hex (default zero)");
  auto* host_data = report_cmd->add_option("--host-data", report.host_data, "HOST_DATA, 32 bytes hex");
  report_cmd->add_option("--policy", report.policy, "Set HOST_DATA to the SHA-256 of this policy file")
      ->excludes(host_data);
  report_cmd->add_option("--report-data", report.report_data, "REPORT_DATA, up to 64 bytes hex");
  report_cmd->add_option("-o,--out", report.out, "Where to write the 1184-byte report")->required();
  report_cmd->add_option("--vcek-out", report.vcek_out, "Also write the emulated VCEK (PEM)");
  report_cmd->add_option("--chain-out", report.chain_out, "Also write the emulated ASK and ARK (PEM)");
  report_cmd->callback([&] { c.run = [&] { return RunEmulateReport(report, out, err); }; });

  auto& serve = c.emulate_serve;
  CLI::App* serve_cmd = emulate->add_subcommand(
      "serve",
      "Serve the emulated secure processor on Unix sockets until SIGTERM/SIGINT: SOCKET for guests (reports), "
      "SOCKET.launcher for launchers (VM registration)");
  serve_cmd->add_option("--state-dir", serve.state_dir, "State directory of `contrast emulate init`")->required();
  serve_cmd->add_option("--socket", serve.socket, "Guest socket path; the launcher socket is PATH.launcher")
      ->required();
  serve_cmd->add_flag("--init", serve.init, "Create the state (like `emulate init`) when the directory holds none");
  serve_cmd->callback([&] { c.run = [&] { return RunEmulateServe(serve, out, err); }; });

  auto& root_hash = c.emulate_root_hash;
  CLI::App* root_hash_cmd =
      emulate->add_subcommand("root-hash", "Print the SHA-256 of the emulated ARK: the manifest's EmulatedRootSHA256");
  root_hash_cmd->add_option("--state-dir", root_hash.state_dir, "State directory of `contrast emulate init`")
      ->required();
  root_hash_cmd->callback([&] { c.run = [&] { return RunEmulateRootHash(root_hash, out, err); }; });

  auto& run = c.emulate_run;
  CLI::App* run_cmd = emulate->add_subcommand(
      "run",
      "Register an emulated VM with the daemon, mount an emulated configfs-tsm for it (`emulate tsm`) and run "
      "COMMAND as that VM (CONTRAST_TSM_DIR set to the mount); exits with its status (128+N if killed by signal N)");
  run_cmd->add_option("--socket", run.socket, "Guest socket of `contrast emulate serve`")->required();
  auto* run_host_data = run_cmd->add_option("--host-data", run.host_data, "HOST_DATA, 32 bytes hex");
  auto* run_policy = run_cmd->add_option("--policy", run.policy, "Set HOST_DATA to the SHA-256 of this policy file")
                         ->excludes(run_host_data);
  run_cmd
      ->add_option("--pod", run.pod,
                   "FILE[:NAME]: set HOST_DATA to the digest of the policy `contrast generate` attached to the "
                   "workload NAME in FILE, as the Kata runtime would, and give COMMAND the Coordinator's expected "
                   "identity pinned in the pod's Initializer (CONTRAST_COORDINATOR_POLICY_HASHES, "
                   "CONTRAST_COORDINATOR_REFERENCE_VALUES)")
      ->excludes(run_host_data)
      ->excludes(run_policy);
  run_cmd->add_option("--measurement", run.measurement, "Launch MEASUREMENT, 48 bytes hex (default zero)");
  run_cmd->add_option("COMMAND", run.command, "The command and its arguments, after --")->required();
  run_cmd->callback([&] { c.run = [&] { return RunEmulateRun(run, out, err); }; });

  auto& tsm = c.emulate_tsm;
  CLI::App* tsm_cmd = emulate->add_subcommand(
      "tsm",
      "Serve an emulated configfs-tsm (FUSE; layout of /sys/kernel/config/tsm, provider emulated_sev_guest) on "
      "DIR for the VM of CONTRAST_EMULATED_SOCKET and CONTRAST_EMULATED_VM_TOKEN, until SIGTERM/SIGINT or "
      "until unmounted. `emulate run` starts one per VM; point programs at it with CONTRAST_TSM_DIR=DIR");
  tsm_cmd->add_option("--mount", tsm.mount, "An existing directory to mount on (needs /dev/fuse)")->required();
  tsm_cmd->add_option("--parent-pid", tsm.parent_pid, "Stop when this parent process dies (used by `emulate run`)")
      ->group("");
  tsm_cmd->callback([&] { c.run = [&] { return RunEmulateTsm(tsm, out, err); }; });

  auto& guest_report = c.emulate_guest_report;
  CLI::App* guest_report_cmd =
      emulate->add_subcommand("guest-report", "Inside `emulate run`: get a signed report for this VM from the daemon");
  guest_report_cmd->add_option("--report-data", guest_report.report_data, "REPORT_DATA, up to 64 bytes hex");
  guest_report_cmd->add_option("-o,--out", guest_report.out, "Where to write the 1184-byte report")->required();
  guest_report_cmd->add_option("--vcek-out", guest_report.vcek_out, "Also write the emulated VCEK (PEM)");
  guest_report_cmd->add_option("--chain-out", guest_report.chain_out, "Also write the emulated ASK and ARK (PEM)");
  guest_report_cmd->callback([&] { c.run = [&] { return RunEmulateGuestReport(guest_report, out, err); }; });
}

}  // namespace

int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"contrast: confidential container deployments on Kubernetes", "contrast"};
  app.set_version_flag("--version", std::string("contrast ") + kVersion);
  app.require_subcommand(1);
  Commands commands;
  AddAttestationCommands(app, commands, out, err);
  AddCoordinatorCommands(app, commands.run, out, err);
  AddEmulateCommands(app, commands, out, err);
  AddGenerateCommand(app, commands.run, out, err);
  AddPolicyCommands(app, commands.run, out, err);
  AddRecoverCommand(app, commands.run, out, err);
  AddSignCommand(app, commands.run, out, err);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return commands.run ? commands.run() : kExitUsage;
}

}  // namespace contrast::cli
