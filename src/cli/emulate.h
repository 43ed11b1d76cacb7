// `contrast emulate ...`: the emulated SEV-SNP platform for development, CI
// and the demo. Nothing here is a security guarantee.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

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

// `emulate serve`: the emulator as a daemon on two Unix sockets (guest
// socket and `<socket>.launcher`) until SIGTERM or SIGINT.
struct EmulateServeCommand {
  std::filesystem::path state_dir;
  std::filesystem::path socket;
  bool init = false;  // create the state when state_dir holds none
};

// `emulate root-hash`: SHA-256 (hex) of the emulated ARK, the value a
// manifest's EmulatedRootSHA256 must name.
struct EmulateRootHashCommand {
  std::filesystem::path state_dir;
};

// `emulate run`: registers a VM with the daemon, mounts an emulated
// configfs-tsm for it (`emulate tsm`, in a private directory) and runs a
// command as that VM with CONTRAST_TSM_DIR naming the mount (and without the
// daemon's socket and token), so the command obtains evidence through the
// kernel interface real guests use; unmounts when the command exits. Exits with the command's status, 128+N if it died
// of signal N; 1 when the daemon cannot be reached, 2 on usage errors, 126 when the command cannot be executed, 127
// when it is not found.
struct EmulateRunCommand {
  std::filesystem::path socket;
  std::optional<std::filesystem::path> policy;  // HOST_DATA = SHA-256 of this file
  std::string host_data;                        // 32 bytes hex
  // "FILE[:NAME]": HOST_DATA = the digest of the policy annotation of the
  // workload NAME in the Kubernetes YAML FILE (NAME may be left out when the
  // file holds one annotated workload). The command also gets the
  // Coordinator's expected identity (CONTRAST_COORDINATOR_POLICY_HASHES and
  // CONTRAST_COORDINATOR_REFERENCE_VALUES) that `generate` pinned in the
  // pod's Initializer, as the runtime would give that container.
  std::string pod;
  std::string measurement;  // 48 bytes hex; default all zero
  std::vector<std::string> command;
};

// `emulate guest-report`: inside `emulate run`, fetches a report for the
// current VM from the daemon (what the VM can see and choose).
struct EmulateGuestReportCommand {
  std::string report_data;  // up to 64 bytes hex
  std::filesystem::path out;
  std::optional<std::filesystem::path> vcek_out;   // VCEK, PEM
  std::optional<std::filesystem::path> chain_out;  // ASK then ARK, PEM
};

// `emulate tsm`: the emulated configfs-tsm (attest/emulated/tsm_fs.h) for the
// VM of CONTRAST_EMULATED_SOCKET / CONTRAST_EMULATED_VM_TOKEN, mounted on
// `mount` until SIGTERM, SIGINT, or the mount is removed. `emulate run`
// starts one per VM and gives the command CONTRAST_TSM_DIR instead of the
// daemon's socket and token.
struct EmulateTsmCommand {
  std::filesystem::path mount;
  // Set by `emulate run` (hidden): stop when that process dies.
  int parent_pid = 0;
};

int RunEmulateInit(const EmulateInitCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateReport(const EmulateReportCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateServe(const EmulateServeCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateRootHash(const EmulateRootHashCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateRun(const EmulateRunCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateGuestReport(const EmulateGuestReportCommand& command, std::ostream& out, std::ostream& err);
int RunEmulateTsm(const EmulateTsmCommand& command, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
