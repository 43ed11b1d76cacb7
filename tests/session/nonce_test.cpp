#include "session/nonce.h"

#include <gtest/gtest.h>

#include <set>

#include "fixtures.h"

namespace contrast::session {
namespace {

using testing::FakeClock;

TEST(NonceTracker, NoncesAreFreshAndSingleUse) {
  NonceTracker tracker;
  std::set<Nonce> seen;
  for (int i = 0; i < 100; ++i) {
    auto nonce = tracker.Issue();
    ASSERT_TRUE(nonce);
    EXPECT_TRUE(seen.insert(*nonce).second);
  }
  EXPECT_EQ(tracker.outstanding(), 100u);
  const Nonce first = *seen.begin();
  EXPECT_TRUE(tracker.Consume(first));
  auto reused = tracker.Consume(first);
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(reused.error().message.find("already used"), std::string::npos) << reused.error().message;
  EXPECT_EQ(tracker.outstanding(), 99u);
}

TEST(NonceTracker, RejectsNoncesItDidNotIssue) {
  NonceTracker a;
  NonceTracker b;
  auto nonce = a.Issue();
  ASSERT_TRUE(nonce);
  EXPECT_FALSE(b.Consume(*nonce));
  EXPECT_FALSE(a.Consume(Nonce{}));
  EXPECT_TRUE(a.Consume(*nonce));
}

TEST(NonceTracker, NoncesExpireAfterTheLifetime) {
  FakeClock clock;
  NonceTracker tracker(std::chrono::seconds(60), clock.AsClock());
  auto on_time = tracker.Issue();
  auto late = tracker.Issue();
  ASSERT_TRUE(on_time && late);
  clock.Advance(std::chrono::seconds(60));
  EXPECT_TRUE(tracker.Consume(*on_time));
  clock.Advance(std::chrono::seconds(1));
  auto expired = tracker.Consume(*late);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kTimeout);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos) << expired.error().message;
  // Issuing prunes what has expired.
  auto stale = tracker.Issue();
  ASSERT_TRUE(stale);
  clock.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(tracker.Issue());
  EXPECT_EQ(tracker.outstanding(), 1u);
  EXPECT_FALSE(tracker.Consume(*stale));
}

TEST(NonceTracker, LifetimeIsCappedAtSixtySeconds) {
  NonceTracker tracker(std::chrono::seconds(3600));
  EXPECT_EQ(tracker.lifetime(), std::chrono::seconds(60));
  EXPECT_EQ(NonceTracker(std::chrono::seconds(5)).lifetime(), std::chrono::seconds(5));
}

TEST(NonceTracker, AFloodCannotEvictAnHonestNonce) {
  NonceTracker tracker(std::chrono::seconds(60), {}, 4);
  auto honest = tracker.Issue();
  ASSERT_TRUE(honest);
  // Someone opens far more sessions than the tracker holds.
  size_t refused = 0;
  for (int i = 0; i < 100; ++i) {
    auto flood = tracker.Issue();
    if (!flood) {
      EXPECT_EQ(flood.error().code, ErrorCode::kResourceExhausted) << flood.error().message;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 97u);
  EXPECT_EQ(tracker.outstanding(), 4u);
  // The honest session, still attesting, completes.
  EXPECT_TRUE(tracker.Consume(*honest));
  // And its slot is free again for the next one.
  EXPECT_TRUE(tracker.Issue());
}

TEST(NonceTracker, ExpiredNoncesMakeRoom) {
  FakeClock clock;
  NonceTracker tracker(std::chrono::seconds(10), clock.AsClock(), 2);
  ASSERT_TRUE(tracker.Issue());
  ASSERT_TRUE(tracker.Issue());
  EXPECT_FALSE(tracker.Issue());
  clock.Advance(std::chrono::seconds(11));
  EXPECT_TRUE(tracker.Issue());
}

TEST(NonceTracker, ConsumedNoncesDoNotPileUp) {
  NonceTracker tracker(std::chrono::seconds(60), {}, 2);
  auto held = tracker.Issue();
  ASSERT_TRUE(held);
  for (int i = 0; i < 1000; ++i) {
    auto n = tracker.Issue();
    ASSERT_TRUE(n);
    ASSERT_TRUE(tracker.Consume(*n));
  }
  EXPECT_TRUE(tracker.Consume(*held));
}

}  // namespace
}  // namespace contrast::session
