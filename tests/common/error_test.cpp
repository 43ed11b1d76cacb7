// Error codes: every code has one stable name, and the name gives the code
// back (what a gRPC client restores a server's code from).
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/result.h"

namespace contrast {
namespace {

TEST(ErrorCodes, EveryCodeHasAUniqueNameThatMapsBack) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kPolicyViolation); ++i) {
    const auto code = static_cast<ErrorCode>(i);
    const std::string_view name = ErrorCodeName(code);
    EXPECT_NE(name, "unknown") << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(ErrorCodeFromName(name), code) << name;
  }
  EXPECT_EQ(ErrorCodeName(ErrorCode::kConflict), "conflict");
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(static_cast<int>(ErrorCode::kPolicyViolation) + 1)), "unknown");
  EXPECT_FALSE(ErrorCodeFromName("unknown"));
  EXPECT_FALSE(ErrorCodeFromName(""));
  EXPECT_FALSE(ErrorCodeFromName("Conflict"));
}

}  // namespace
}  // namespace contrast
