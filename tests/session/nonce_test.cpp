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

TEST(NonceTracker, CapacityForgetsTheOldest) {
  NonceTracker tracker(std::chrono::seconds(60), {}, 2);
  auto first = tracker.Issue();
  auto second = tracker.Issue();
  auto third = tracker.Issue();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(tracker.outstanding(), 2u);
  EXPECT_FALSE(tracker.Consume(*first));
  EXPECT_TRUE(tracker.Consume(*second));
  EXPECT_TRUE(tracker.Consume(*third));
  // Consumed nonces do not pile up behind an outstanding one.
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
