// The emulated secure processor as a daemon on two Unix sockets (see
// proto/contrast/emulated.proto), and the clients the launcher and the guest
// use. Development, CI and the demo only: NOT a security boundary.
//
//   launcher socket  `<socket>.launcher`: RegisterVm(MEASUREMENT, HOST_DATA)
//                    -> VM token. What the host side (`contrast emulate run`)
//                    uses when it starts a "VM".
//   guest socket     `<socket>`: GetReport(VM token, REPORT_DATA) -> signed
//                    report, VCEK (DER), ASK then ARK (PEM). What a program in
//                    the "VM" uses; it cannot choose MEASUREMENT or HOST_DATA.
//
// Both sockets are created with mode 0600 (bound in a private directory and
// renamed into place, so they are never reachable with looser permissions).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "attest/emulated/secure_processor.h"

namespace contrast::attest::emulated {

// `socket` is the guest socket; the launcher socket is `socket` + ".launcher".
std::filesystem::path LauncherSocketPath(const std::filesystem::path& socket);

// At most this many VMs are registered with one daemon; more is
// RESOURCE_EXHAUSTED (a runaway launcher must not exhaust memory).
inline constexpr size_t kMaxRegisteredVms = 65536;

class Daemon {
 public:
  // Serves `processor` on `socket` and LauncherSocketPath(socket). A stale
  // socket file (nobody listening) is replaced; a live one, or a path that
  // exists but is not a socket, is kInvalidArgument. Paths longer than a Unix
  // socket address allows are kInvalidArgument; failures to listen kIo.
  static Result<std::unique_ptr<Daemon>> Start(SecureProcessor processor, const std::filesystem::path& socket);
  // Stops serving and removes both socket files.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  const std::filesystem::path& guest_socket() const;
  const std::filesystem::path& launcher_socket() const;
  const SecureProcessor& processor() const;

  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Wakes Wait(). Safe to call from any thread, more than once.
  void Shutdown();

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What the guest receives: a report and what is needed to verify it.
struct EmulatedEvidence {
  Bytes report;
  Bytes vcek_der;
  std::string cert_chain_pem;  // ASK then ARK
};

// Launcher side: registers a VM and returns its token (64 hex digits).
// kNetwork (with a hint to start `contrast emulate serve`) when no daemon
// answers; kInvalidArgument when the daemon rejects the request.
Result<std::string> RegisterVmWithDaemon(const std::filesystem::path& socket, const Measurement& measurement,
                                         const HostData& host_data);

// Guest side: the token is all the VM has. Copyable and thread-safe (one
// shared gRPC channel).
class GuestClient {
 public:
  // kInvalidArgument unless `vm_token_hex` is 64 hex digits.
  static Result<GuestClient> Create(std::filesystem::path socket, std::string_view vm_token_hex);
  // From CONTRAST_EMULATED_SOCKET and CONTRAST_EMULATED_VM_TOKEN, which
  // `contrast emulate run` sets for the command it starts. kInvalidArgument
  // when either is missing, empty or malformed.
  static Result<GuestClient> FromEnvironment();

  // `report_data`: at most 64 bytes. Errors: kNetwork (daemon unreachable),
  // kNotFound (the daemon does not know the token, e.g. it was restarted),
  // kInvalidArgument (rejected request), kTimeout, kParse (a malformed
  // answer).
  Result<EmulatedEvidence> GetReport(ByteView report_data) const;

  const std::filesystem::path& socket() const { return socket_; }

 private:
  GuestClient(std::filesystem::path socket, Bytes vm_token, std::shared_ptr<grpc::Channel> channel);
  std::filesystem::path socket_;
  Bytes vm_token_;
  std::shared_ptr<grpc::Channel> channel_;
};

inline constexpr const char* kSocketEnv = "CONTRAST_EMULATED_SOCKET";
inline constexpr const char* kVmTokenEnv = "CONTRAST_EMULATED_VM_TOKEN";

}  // namespace contrast::attest::emulated
