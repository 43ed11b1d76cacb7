#include <gtest/gtest.h>

#include "common/time.h"

namespace contrast {
namespace {

TEST(Rfc3339, ParsesUtcOffsetsAndFractions) {
  auto t = ParseRfc3339("2025-06-01T00:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->time_since_epoch().count(), 1748736000);
  EXPECT_EQ(*ParseRfc3339("2025-06-01T02:00:00+02:00"), *t);
  EXPECT_EQ(*ParseRfc3339("2025-05-31T23:00:00.999-01:00"), *t);
  EXPECT_EQ(FormatRfc3339(*t), "2025-06-01T00:00:00Z");
}

TEST(Rfc3339, RejectsMalformed) {
  for (const char* bad :
       {"", "2025-06-01", "2025-06-01T00:00:00", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2025-06-01T24:00:00Z",
        "2025-06-01T00:00:00Zjunk", "2025-06-01T00:00:00.Z", "2025-06-01T00:00:00+2:00"}) {
    auto t = ParseRfc3339(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error().code, ErrorCode::kParse);
    }
  }
}

}  // namespace
}  // namespace contrast
