#include "core/token_bucket.h"

#include <gtest/gtest.h>

namespace hoist {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const BucketTime kT0 = BucketTime{std::chrono::sys_days{std::chrono::year{2026} / 3 / 2}.time_since_epoch()};

// Takes as many as the bucket gives at `now`.
int drain(TokenBucket& b, const BucketLimit& limit, BucketTime now) {
  int n = 0;
  b.refill(limit, now);
  while (b.wait(limit) == milliseconds{0}) {
    b.take(limit);
    ++n;
    if (n > 1'000'000) break;
  }
  return n;
}

TEST(TokenBucket, ANewBucketGivesTheBurstThenWaitsOneInterval) {
  const BucketLimit limit{20, seconds{6}};
  TokenBucket b(limit, kT0);
  EXPECT_EQ(drain(b, limit, kT0), 20);
  EXPECT_EQ(b.wait(limit), seconds{6});
  b.refill(limit, kT0 + seconds{5});
  EXPECT_EQ(b.wait(limit), seconds{1});
  EXPECT_EQ(drain(b, limit, kT0 + seconds{6}), 1);
  EXPECT_EQ(b.wait(limit), seconds{6});
}

TEST(TokenBucket, TakeUpToTakesWhatItHoldsAndNoMore) {
  const BucketLimit limit{100, milliseconds{50}};
  TokenBucket b(limit, kT0);
  EXPECT_EQ(b.take_up_to(limit, 30), 30);
  EXPECT_EQ(b.take_up_to(limit, 0), 0);
  EXPECT_EQ(b.take_up_to(limit, -5), 0);
  EXPECT_EQ(b.take_up_to(limit, 1000), 70);
  EXPECT_EQ(b.take_up_to(limit, 1), 0);
  EXPECT_EQ(b.wait(limit), milliseconds{50});
  // 120 ms later: two whole tokens, and 20 ms of credit kept for the third.
  b.refill(limit, kT0 + milliseconds{120});
  EXPECT_EQ(b.take_up_to(limit, 1000), 2);
  EXPECT_EQ(b.wait(limit), milliseconds{30});
  b.refill(limit, kT0 + milliseconds{150});
  EXPECT_EQ(b.take_up_to(limit, 1000), 1);
}

TEST(TokenBucket, RefillsAtTheIntervalExactlyWithoutDrift) {
  const BucketLimit limit{1, milliseconds{333}};
  TokenBucket b(limit, kT0);
  int taken = 0;
  // 3000 steps of 111 ms: 333 s, so 1000 takes (plus the first, full).
  for (int i = 0; i <= 3000; ++i) taken += drain(b, limit, kT0 + milliseconds{111} * i);
  EXPECT_EQ(taken, 1001);
}

TEST(TokenBucket, SustainedRateHoldsWhateverTheCallRate) {
  const BucketLimit limit{60, seconds{1}};
  TokenBucket b(limit, kT0);
  int taken = 0;
  // One try every 5 ms for 100 s: the burst, then one a second.
  for (int i = 0; i < 20'000; ++i) {
    const auto now = kT0 + milliseconds{5} * i;
    b.refill(limit, now);
    if (b.wait(limit) == milliseconds{0}) {
      b.take(limit);
      ++taken;
    }
  }
  EXPECT_EQ(taken, 60 + 99);
}

TEST(TokenBucket, NeverFillsAboveTheBurst) {
  const BucketLimit limit{5, seconds{1}};
  TokenBucket b(limit, kT0);
  EXPECT_EQ(drain(b, limit, kT0 + std::chrono::hours{24} * 365), 5);
}

TEST(TokenBucket, FullAtSaysWhenItIsTheSameAsANewOne) {
  const BucketLimit limit{3, seconds{10}};
  TokenBucket b(limit, kT0);
  EXPECT_EQ(b.full_at(limit), kT0);
  b.take(limit);
  b.take(limit);
  EXPECT_EQ(b.full_at(limit), kT0 + seconds{20});
  b.refill(limit, kT0 + seconds{15});
  EXPECT_EQ(b.full_at(limit), kT0 + seconds{20});
}

TEST(TokenBucket, ABackwardJumpNeitherRefillsNorLocks) {
  const BucketLimit limit{2, seconds{10}};
  TokenBucket b(limit, kT0);
  EXPECT_EQ(drain(b, limit, kT0), 2);
  // Set back a day: no new take, but no day-long lock either.
  const auto back = kT0 - std::chrono::hours{24};
  EXPECT_EQ(drain(b, limit, back), 0);
  EXPECT_EQ(b.wait(limit), seconds{10});
  EXPECT_EQ(drain(b, limit, back + seconds{10}), 1);
  // Back to the right time: one forward jump, at most full.
  EXPECT_EQ(drain(b, limit, kT0 + seconds{1}), 2);
}

TEST(TokenBucket, LimitsAreValidated) {
  EXPECT_TRUE((BucketLimit{1, milliseconds{1}}.validate("x").ok()));
  EXPECT_TRUE((BucketLimit{kMaxBucketBurst, kMaxBucketInterval}.validate("x").ok()));
  EXPECT_FALSE((BucketLimit{0, seconds{1}}.validate("x").ok()));
  EXPECT_FALSE((BucketLimit{kMaxBucketBurst + 1, seconds{1}}.validate("x").ok()));
  EXPECT_FALSE((BucketLimit{1, milliseconds{0}}.validate("x").ok()));
  EXPECT_FALSE((BucketLimit{1, milliseconds{-5}}.validate("x").ok()));
  const auto bad = BucketLimit{1, kMaxBucketInterval + milliseconds{1}}.validate("requests.user_every");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("requests.user_every"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace hoist
