// The denial budget on its own: each user's burst and rate, counts handed
// out once a minute and given back when they could not be queued, users
// apart, and memory bounded (agent/denial_budget.h; the agent over it is
// in agent_outbox_test.cpp).
#include "agent/denial_budget.h"

#include <gtest/gtest.h>

namespace hoist::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const BucketTime kT0{std::chrono::sys_days{std::chrono::year{2026} / 3 / 2}.time_since_epoch()};

DenialBudget::Options small() {
  DenialBudget::Options o;
  o.limit = {5, seconds{1}};
  o.report_every = seconds{60};
  o.max_tracked = 3;
  return o;
}

int admitted(DenialBudget& b, std::uint32_t uid, int n, BucketTime now) {
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += b.admit(uid, "u" + std::to_string(uid), now) ? 1 : 0;
  return ok;
}

TEST(DenialBudget, EachUserHasABurstThenARateAndTheRestIsCounted) {
  DenialBudget b(small());
  EXPECT_EQ(admitted(b, 1000, 100, kT0), 5);
  EXPECT_EQ(admitted(b, 1001, 3, kT0), 3) << "another user has a budget of their own";
  EXPECT_EQ(admitted(b, 1000, 100, kT0 + seconds{2}), 2);
  EXPECT_TRUE(b.due(kT0 + seconds{59}).empty()) << "a minute after the first held back";
  auto due = b.due(kT0 + seconds{60});
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].uid, 1000U);
  EXPECT_EQ(due[0].user, "u1000");
  EXPECT_EQ(due[0].count, 95U + 98U);
  EXPECT_EQ(due[0].first_at, kT0);
  EXPECT_EQ(due[0].last_at, kT0 + seconds{2});
  EXPECT_TRUE(b.due(kT0 + seconds{61}).empty()) << "handed out once";
  // A count that could not be queued comes back.
  b.give_back(due[0]);
  auto again = b.due(kT0 + seconds{62}, true);
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again[0].count, due[0].count);
}

TEST(DenialBudget, MemoryIsBoundedAndNothingGoesUncounted) {
  DenialBudget b(small());
  for (std::uint32_t uid = 1; uid <= 3; ++uid) EXPECT_EQ(admitted(b, uid, 10, kT0), 5);
  EXPECT_EQ(b.tracked(), 3U);
  // Every tracked user holds a count: a fourth is not tracked, and its
  // decisions are queued as they are rather than lost.
  EXPECT_EQ(admitted(b, 4, 10, kT0), 10);
  EXPECT_EQ(b.tracked(), 3U);
  // Once the counts are handed out and the buckets full again, they go.
  EXPECT_EQ(b.due(kT0 + seconds{60}).size(), 3U);
  EXPECT_EQ(b.tracked(), 0U);
}

}  // namespace
}  // namespace hoist::agent
