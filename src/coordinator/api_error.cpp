#include "coordinator/api_error.h"

#include <utility>

#include "session/protocol.h"

namespace contrast::coordinator {

tl::unexpected<ApiError> Refuse(const Error& error) {
  return tl::unexpected<ApiError>(ApiError{session::ToGrpcStatus(error).error_code(), error});
}

tl::unexpected<ApiError> RefusePrecondition(std::string message) {
  return tl::unexpected<ApiError>(
      ApiError{grpc::StatusCode::FAILED_PRECONDITION, Error{ErrorCode::kFailedPrecondition, std::move(message)}});
}

tl::unexpected<ApiError> RefusePermission(ErrorCode code, std::string message) {
  return tl::unexpected<ApiError>(ApiError{grpc::StatusCode::PERMISSION_DENIED, Error{code, std::move(message)}});
}

tl::unexpected<ApiError> RefuseArgument(std::string message) {
  return tl::unexpected<ApiError>(
      ApiError{grpc::StatusCode::INVALID_ARGUMENT, Error{ErrorCode::kInvalidArgument, std::move(message)}});
}

tl::unexpected<ApiError> RefuseInternal(const Error& error) {
  return tl::unexpected<ApiError>(ApiError{grpc::StatusCode::INTERNAL, error});
}

grpc::Status ToGrpcStatus(const ApiError& error) {
  return grpc::Status(error.status_code, error.error.message, std::string(ErrorCodeName(error.error.code)));
}

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    default: return "OTHER";
  }
}

}  // namespace contrast::coordinator
