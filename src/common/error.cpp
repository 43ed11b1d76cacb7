#include "common/result.h"

namespace contrast {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid-argument";
    case ErrorCode::kParse: return "parse";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kNotFound: return "not-found";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kFailedPrecondition: return "failed-precondition";
    case ErrorCode::kCrypto: return "crypto";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kHttpStatus: return "http-status";
    case ErrorCode::kSignatureInvalid: return "signature-invalid";
    case ErrorCode::kCertificateInvalid: return "certificate-invalid";
    case ErrorCode::kCertificateExpired: return "certificate-expired";
    case ErrorCode::kCertificateRevoked: return "certificate-revoked";
    case ErrorCode::kUntrustedRoot: return "untrusted-root";
    case ErrorCode::kTcbMismatch: return "tcb-mismatch";
    case ErrorCode::kChipIdMismatch: return "chip-id-mismatch";
    case ErrorCode::kProductMismatch: return "product-mismatch";
    case ErrorCode::kValidationFailed: return "validation-failed";
    case ErrorCode::kMeasurementMismatch: return "measurement-mismatch";
    case ErrorCode::kTcbTooLow: return "tcb-too-low";
    case ErrorCode::kPolicyViolation: return "policy-violation";
  }
  return "unknown";
}

bool IsAttestationVerdict(ErrorCode code) {
  switch (code) {
    case ErrorCode::kSignatureInvalid:
    case ErrorCode::kCertificateInvalid:
    case ErrorCode::kCertificateExpired:
    case ErrorCode::kCertificateRevoked:
    case ErrorCode::kUntrustedRoot:
    case ErrorCode::kTcbMismatch:
    case ErrorCode::kChipIdMismatch:
    case ErrorCode::kProductMismatch:
    case ErrorCode::kValidationFailed:
    case ErrorCode::kMeasurementMismatch:
    case ErrorCode::kTcbTooLow:
    case ErrorCode::kPolicyViolation: return true;
    default: return false;
  }
}

Error Error::Wrap(std::string_view context) const { return Error{code, std::string(context) + ": " + message}; }

}  // namespace contrast
