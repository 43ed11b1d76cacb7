// Errors over gRPC: one table maps our codes to status codes, and a client
// restores the exact code from the status details.
#include <gtest/gtest.h>

#include "session/protocol.h"

namespace contrast::session {
namespace {

constexpr int kLastCode = static_cast<int>(ErrorCode::kPolicyViolation);

TEST(GrpcStatus, EveryCodeSurvivesTheRoundTrip) {
  for (int i = 0; i <= kLastCode; ++i) {
    const Error sent{static_cast<ErrorCode>(i), "why"};
    const grpc::Status status = ToGrpcStatus(sent);
    EXPECT_FALSE(status.ok()) << ErrorCodeName(sent.code);
    EXPECT_EQ(status.error_code(), GrpcCodeFor(sent.code));
    const Error received = FromGrpcStatus(status);
    EXPECT_EQ(received.code, sent.code) << ErrorCodeName(sent.code);
    EXPECT_EQ(received.message, "server: " + std::string(GrpcCodeName(status.error_code())) + ": why");
  }
}

TEST(GrpcStatus, RefusalsHaveTheStatusClientsActOn) {
  EXPECT_EQ(GrpcCodeFor(ErrorCode::kFailedPrecondition), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(GrpcCodeFor(ErrorCode::kConflict), grpc::StatusCode::ABORTED);
  EXPECT_EQ(GrpcCodeFor(ErrorCode::kResourceExhausted), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GrpcCodeFor(ErrorCode::kParse), grpc::StatusCode::INVALID_ARGUMENT);
  // Every attestation verdict is a denial, whatever failed.
  for (ErrorCode code : {ErrorCode::kSignatureInvalid, ErrorCode::kUntrustedRoot, ErrorCode::kMeasurementMismatch,
                         ErrorCode::kPolicyViolation, ErrorCode::kValidationFailed}) {
    EXPECT_EQ(GrpcCodeFor(code), grpc::StatusCode::PERMISSION_DENIED) << ErrorCodeName(code);
  }
  // Our own failures are not the caller's fault.
  for (ErrorCode code : {ErrorCode::kIo, ErrorCode::kInternal, ErrorCode::kCrypto}) {
    EXPECT_EQ(GrpcCodeFor(code), grpc::StatusCode::INTERNAL) << ErrorCodeName(code);
  }
}

TEST(GrpcStatus, AStatusWithoutOurCodeGetsTheTablesCode) {
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::ABORTED, "lost")).code, ErrorCode::kConflict);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no")).code, ErrorCode::kValidationFailed);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")).code, ErrorCode::kNetwork);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::CANCELLED, "gone")).code, ErrorCode::kNetwork);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DATA_LOSS, "lost")).code, ErrorCode::kInternal);
  // Details that name no code are ignored, not trusted.
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "x", "no-such-code")).code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace contrast::session
