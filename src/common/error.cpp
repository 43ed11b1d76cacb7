#include "common/result.h"

#include <iterator>

namespace contrast {

namespace {

struct NamedCode {
  ErrorCode code;
  std::string_view name;
};

// Every code once, in enum order (checked below): one table for both
// directions.
constexpr NamedCode kCodeNames[] = {
    {ErrorCode::kInvalidArgument, "invalid-argument"},
    {ErrorCode::kParse, "parse"},
    {ErrorCode::kIo, "io"},
    {ErrorCode::kNotFound, "not-found"},
    {ErrorCode::kUnsupported, "unsupported"},
    {ErrorCode::kInternal, "internal"},
    {ErrorCode::kFailedPrecondition, "failed-precondition"},
    {ErrorCode::kConflict, "conflict"},
    {ErrorCode::kResourceExhausted, "resource-exhausted"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kCrypto, "crypto"},
    {ErrorCode::kNetwork, "network"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kHttpStatus, "http-status"},
    {ErrorCode::kSignatureInvalid, "signature-invalid"},
    {ErrorCode::kCertificateInvalid, "certificate-invalid"},
    {ErrorCode::kCertificateExpired, "certificate-expired"},
    {ErrorCode::kCertificateRevoked, "certificate-revoked"},
    {ErrorCode::kUntrustedRoot, "untrusted-root"},
    {ErrorCode::kTcbMismatch, "tcb-mismatch"},
    {ErrorCode::kChipIdMismatch, "chip-id-mismatch"},
    {ErrorCode::kProductMismatch, "product-mismatch"},
    {ErrorCode::kValidationFailed, "validation-failed"},
    {ErrorCode::kMeasurementMismatch, "measurement-mismatch"},
    {ErrorCode::kTcbTooLow, "tcb-too-low"},
    {ErrorCode::kPolicyViolation, "policy-violation"},
};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < std::size(kCodeNames); ++i) {
    if (static_cast<size_t>(kCodeNames[i].code) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kCodeNames must list every ErrorCode in enum order");
static_assert(std::size(kCodeNames) == static_cast<size_t>(ErrorCode::kPolicyViolation) + 1,
              "kCodeNames must end at the last ErrorCode");

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  const auto index = static_cast<size_t>(code);
  return index < std::size(kCodeNames) ? kCodeNames[index].name : "unknown";
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (const NamedCode& entry : kCodeNames) {
    if (entry.name == name) return entry.code;
  }
  return std::nullopt;
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
