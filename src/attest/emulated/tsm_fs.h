// An emulated configfs-tsm (`contrast emulate tsm --mount DIR`): a FUSE file
// system with the layout and semantics of the Linux kernel's
// /sys/kernel/config/tsm (attest/tsm/configfs_tsm.h), backed by the emulated
// secure processor daemon, so the emulated platform obtains evidence through
// the very issuer real SEV-SNP guests use. Development, CI and the demo only:
// NOT a security boundary.
//
//   DIR/report/                     mkdir / rmdir entries (at most max_entries)
//   DIR/report/<entry>/inblob       0200  REPORT_DATA, <= 64 bytes, zero-padded;
//                                         committed when the writer closes it
//   DIR/report/<entry>/privlevel    0644  "0".."3"
//   DIR/report/<entry>/privlevel_floor 0444 "0"
//   DIR/report/<entry>/generation   0444  writes to inblob and privlevel so far
//   DIR/report/<entry>/provider     0444  "emulated_sev_guest"
//   DIR/report/<entry>/outblob      0444  SNP report for the current inblob
//   DIR/report/<entry>/auxblob      0444  certificate table: VCEK, ASK, ARK (DER)
//
// Like the kernel, outblob and auxblob are made once per generation and
// cached; every open file sees the contents of its first read. The reports
// come from the daemon through a GuestClient (the VM's token): this process
// can choose REPORT_DATA, never MEASUREMENT or HOST_DATA.
//
// Mounted with an EmulatedTdxGuest instead, it serves what the kernel's
// tdx_guest provider does: `provider` "tdx_guest", `outblob` a TDX quote of
// the emulated TDX platform for the TD's fixed fields with REPORTDATA = the
// inblob, and only generation, inblob, outblob and provider (no auxblob, no
// privlevel). Tests only: nothing on the command line mounts it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <variant>

#include "attest/emulated/daemon.h"
#include "attest/emulated/tdx_platform.h"
#include "common/result.h"

namespace contrast::attest::emulated {

// A runaway guest must not exhaust memory: mkdir beyond this is ENOSPC.
inline constexpr size_t kDefaultMaxTsmEntries = 64;

struct TsmFileSystemOptions {
  size_t max_entries = kDefaultMaxTsmEntries;
  // Test hooks (not reachable from the command line).
  // Entries have no `provider` attribute.
  bool omit_provider_for_test = false;
  // The first outblob read of this file system finds that another writer
  // wrote inblob just before it: the read returns that writer's report and
  // `generation` has moved, as when two processes share an entry.
  bool race_first_outblob_read_for_test = false;
};

// A TD on the emulated TDX platform: the fields its launch fixed (MRTD,
// RTMRs, MRCONFIGID = policy digest zero-padded, ...) and its quote format.
struct EmulatedTdxGuest {
  InsecureEmulatedTdx platform;
  TdReportFields td;
  uint16_t quote_version = tdx::kQuoteVersion4;
};

// Where the reports come from, chosen at mount time: the emulated secure
// processor daemon (provider "emulated_sev_guest") or an emulated TD
// ("tdx_guest").
using TsmReportSource = std::variant<GuestClient, EmulatedTdxGuest>;

class TsmFileSystem {
 public:
  // Mounts on `mountpoint` (an existing directory) and serves it on threads
  // of its own. kNotFound when /dev/fuse does not exist; kIo (naming the path,
  // the errno and libfuse's message) when it cannot be opened or the mount
  // fails.
  static Result<std::unique_ptr<TsmFileSystem>> Mount(const std::filesystem::path& mountpoint, TsmReportSource source,
                                                      TsmFileSystemOptions options = {});
  // Unmounts (if still mounted) and waits for the serving threads.
  ~TsmFileSystem();
  TsmFileSystem(const TsmFileSystem&) = delete;
  TsmFileSystem& operator=(const TsmFileSystem&) = delete;

  const std::filesystem::path& mountpoint() const;
  // Blocks until the file system is unmounted: by Unmount(), or from outside
  // (`fusermount3 -u`, `umount`).
  void Wait();
  // Ends serving and unmounts. Any thread, more than once; not from a signal
  // handler.
  void Unmount();

 private:
  struct Impl;
  explicit TsmFileSystem(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace contrast::attest::emulated
