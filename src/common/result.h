// Result<T>: the return type of every fallible operation in Contrast.
//
// Errors are values. A verification that says "no" is a normal outcome with a
// granular code; exceptions never cross a module's public API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace contrast {

enum class ErrorCode {
  // Generic.
  kInvalidArgument,     // caller passed something unusable (usage error)
  kParse,               // bytes/text from outside are malformed
  kIo,                  // file system or OS call failed
  kNotFound,            // a file, key or object does not exist
  kUnsupported,         // a valid input we deliberately do not handle
  kInternal,            // a bug or an unexpected library failure
  kFailedPrecondition,  // the system is not in a state that allows this (e.g. not ready)
  kConflict,            // a conditional change lost: something changed it first (compare-and-swap)
  kResourceExhausted,   // a limit on concurrent work was reached; the caller may try again later
  kUnavailable,         // a backend (the history store) cannot be reached now; the caller may try again later
  kCrypto,              // an OpenSSL operation failed unexpectedly
  // Networking.
  kNetwork,     // connection, DNS, TLS failure
  kTimeout,     // the peer did not answer in time
  kHttpStatus,  // the peer answered with a non-success status
  // Authenticity (verify).
  kSignatureInvalid,    // a signature does not verify
  kCertificateInvalid,  // malformed certificate or wrong shape
  kCertificateExpired,  // not valid at the verification time
  kCertificateRevoked,  // listed in a CRL
  kUntrustedRoot,       // chain does not lead to a pinned anchor
  kTcbMismatch,         // reported TCB differs from the endorsement key's TCB
  kChipIdMismatch,      // chip id differs from the endorsement key's hardware id
  kProductMismatch,     // report, certificate and requested product disagree
  // Acceptability (validate).
  kValidationFailed,  // one or more reference values did not match
  kMeasurementMismatch,
  kTcbTooLow,
  kPolicyViolation,
};

// A short stable name for a code ("signature-invalid"), for logs and metrics
// (and, over gRPC, the status details a client restores the code from).
std::string_view ErrorCodeName(ErrorCode code);
// The code of such a name; nullopt for anything else.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

// True for the verdicts of attestation: the evidence was checked and is not
// authentic or not acceptable (as opposed to malformed input or a failure to
// check at all).
bool IsAttestationVerdict(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "message" prefixed with more context: Wrap("reading VCEK") turns
  // "no such file" into "reading VCEK: no such file".
  [[nodiscard]] Error Wrap(std::string_view context) const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Result<void> for operations with no value.
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

}  // namespace contrast
