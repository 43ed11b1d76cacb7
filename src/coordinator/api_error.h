// How the Coordinator refuses an API call: an Error plus the gRPC status code
// the client receives.
//
// Most refusals follow the Error's code (session::ToGrpcStatus: attestation
// failures PERMISSION_DENIED, malformed input INVALID_ARGUMENT, ...). A few
// depend on the Coordinator's state rather than on the request (no manifest
// yet, history from a previous run, a concurrent update): those are
// FAILED_PRECONDITION, which no ErrorCode maps to, so the code is carried
// explicitly.
#pragma once

#include <string>
#include <string_view>

#include <grpcpp/support/status.h>
#include <tl/expected.hpp>

#include "common/result.h"

namespace contrast::coordinator {

struct ApiError {
  grpc::StatusCode status_code = grpc::StatusCode::INTERNAL;
  Error error;
};

template <typename T>
using ApiResult = tl::expected<T, ApiError>;

// The status session::ToGrpcStatus gives `error`.
tl::unexpected<ApiError> Refuse(const Error& error);
// FAILED_PRECONDITION; the Error inside has code kFailedPrecondition (what a
// client's session::FromGrpcStatus restores).
tl::unexpected<ApiError> RefusePrecondition(std::string message);
// PERMISSION_DENIED with `code` (kSignatureInvalid, kPolicyViolation).
tl::unexpected<ApiError> RefusePermission(ErrorCode code, std::string message);
// INVALID_ARGUMENT (kInvalidArgument).
tl::unexpected<ApiError> RefuseArgument(std::string message);
// INTERNAL, keeping `error` (a failure of ours or of the store, not of the
// request).
tl::unexpected<ApiError> RefuseInternal(const Error& error);

// The status a handler returns: the chosen code, the message, and
// ErrorCodeName(error.code) as details (as session::ToGrpcStatus does).
grpc::Status ToGrpcStatus(const ApiError& error);

// "PERMISSION_DENIED", for logs.
std::string_view StatusCodeName(grpc::StatusCode code);

}  // namespace contrast::coordinator
