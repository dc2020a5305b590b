// The submission throttle on its own: the two buckets, what a refusal
// takes (nothing), the reports that stand for many refusals, the bound on
// memory whatever names an endpoint sends, clock jumps, and parallel
// callers. The request service and the API on top are in
// request_service_test.cpp and api_tests.
#include "server/app/submission_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace hoist::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const AuditTime kT0{std::chrono::sys_days{std::chrono::year{2026} / 3 / 2}.time_since_epoch() + std::chrono::hours{10}};

const SubmissionThrottle::Sender kWeb1{"ep-1", "agent:ep-1", "web-01"};
const SubmissionThrottle::Sender kWeb2{"ep-2", "agent:ep-2", "web-02"};

SubmissionThrottle::Options small() {
  SubmissionThrottle::Options o;
  o.limits.per_endpoint = {10, seconds{1}};
  o.limits.per_user = {3, seconds{6}};
  o.report_every = seconds{60};
  return o;
}

// How many of `n` submissions of `user` at `now` are admitted.
int admitted(SubmissionThrottle& t, const SubmissionThrottle::Sender& s, const std::string& user, int n,
             AuditTime now) {
  int ok = 0;
  for (int i = 0; i < n; ++i) ok += t.admit(s, user, now) ? 0 : 1;
  return ok;
}

TEST(SubmissionThrottle, TheDefaultsAreGenerousForPeople) {
  const SubmissionThrottle t;
  EXPECT_EQ(t.options().limits.per_endpoint, (BucketLimit{60, seconds{1}}));
  EXPECT_EQ(t.options().limits.per_user, (BucketLimit{20, seconds{6}}));
  EXPECT_EQ(t.options().report_every, std::chrono::minutes{1});
}

TEST(SubmissionThrottle, AUserGetsTheirBurstThenOneEachInterval) {
  SubmissionThrottle t(small());
  EXPECT_EQ(admitted(t, kWeb1, "alice", 10, kT0), 3);
  const auto refused = t.admit(kWeb1, "alice", kT0 + seconds{1});
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->by_endpoint_limit);
  EXPECT_EQ(refused->retry_after, seconds{5});
  EXPECT_EQ(admitted(t, kWeb1, "alice", 5, kT0 + seconds{6}), 1);
  EXPECT_EQ(admitted(t, kWeb1, "alice", 5, kT0 + seconds{12}), 1);
  // Others on the endpoint are not held up by alice's limit.
  EXPECT_EQ(admitted(t, kWeb1, "bob", 10, kT0 + seconds{12}), 3);
}

TEST(SubmissionThrottle, AnEndpointGetsItsBurstWhateverTheNames) {
  SubmissionThrottle t(small());
  int ok = 0;
  for (int i = 0; i < 100; ++i) ok += t.admit(kWeb1, "user" + std::to_string(i), kT0) ? 0 : 1;
  EXPECT_EQ(ok, 10);
  const auto refused = t.admit(kWeb1, "fresh", kT0 + milliseconds{200});
  ASSERT_TRUE(refused);
  EXPECT_TRUE(refused->by_endpoint_limit);
  EXPECT_EQ(refused->retry_after, seconds{1});  // 800 ms, rounded up
  EXPECT_EQ(admitted(t, kWeb1, "fresh", 1, kT0 + seconds{1}), 1);
  // Another endpoint is not held up at all.
  EXPECT_EQ(admitted(t, kWeb2, "alice", 3, kT0 + seconds{1}), 3);
}

TEST(SubmissionThrottle, ARefusalTakesNothingFromTheOtherBucket) {
  SubmissionThrottle t(small());
  // mallory is over her own limit and keeps trying: the endpoint's bucket
  // loses only the 3 she was given.
  EXPECT_EQ(admitted(t, kWeb1, "mallory", 1000, kT0), 3);
  EXPECT_EQ(admitted(t, kWeb1, "alice", 3, kT0), 3);
  EXPECT_EQ(admitted(t, kWeb1, "bob", 3, kT0), 3);
  EXPECT_EQ(admitted(t, kWeb1, "carol", 3, kT0), 1);  // the endpoint's tenth
  // And an endpoint at its limit takes nothing from a user's bucket.
  EXPECT_EQ(admitted(t, kWeb1, "dave", 50, kT0), 0);
  EXPECT_EQ(admitted(t, kWeb1, "dave", 3, kT0 + seconds{3}), 3);
}

TEST(SubmissionThrottle, RefusalsAreReportedOncePerWindowWithTheirCount) {
  SubmissionThrottle t(small());
  ASSERT_EQ(admitted(t, kWeb1, "mallory", 3, kT0), 3);
  // The first refusal is reported at once, by itself.
  auto first = t.admit(kWeb1, "mallory", kT0);
  ASSERT_TRUE(first && first->report);
  EXPECT_EQ(first->report->throttled, 1U);
  EXPECT_EQ(first->report->endpoint_id, "ep-1");
  EXPECT_EQ(first->report->actor, "agent:ep-1");
  EXPECT_EQ(first->report->host, "web-01");
  EXPECT_EQ(first->report->last_user, "mallory");
  // 1000 more of hers within the window, and 100 under other names once
  // the endpoint's bucket is low: no report handed out.
  int reports = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = t.admit(kWeb1, "mallory", kT0 + milliseconds{i});
    ASSERT_TRUE(r) << i;
    reports += r->report ? 1 : 0;
  }
  int others = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = t.admit(kWeb1, "n" + std::to_string(i), kT0 + seconds{2});
    others += r ? 0 : 1;
    reports += r && r->report ? 1 : 0;
  }
  EXPECT_EQ(others, 9);  // the endpoint's 7 left and 2 s of refill
  EXPECT_EQ(reports, 0);
  EXPECT_TRUE(t.due_reports(kT0 + seconds{59}).empty());
  // Once the window has passed, one report holds them all.
  auto due = t.due_reports(kT0 + seconds{60});
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].throttled, 1091U);
  EXPECT_EQ(due[0].by_endpoint_limit, 91U);
  EXPECT_EQ(due[0].first_at, kT0);
  EXPECT_EQ(due[0].last_at, kT0 + seconds{2});
  EXPECT_EQ(due[0].last_user, "n99");
  EXPECT_TRUE(t.due_reports(kT0 + seconds{200}).empty());
  EXPECT_EQ(t.floods(), 0U) << "a reported, quiet endpoint is forgotten";
}

TEST(SubmissionThrottle, ARefusalAfterAQuietWindowIsReportedAtOnce) {
  SubmissionThrottle t(small());
  ASSERT_EQ(admitted(t, kWeb1, "mallory", 3, kT0), 3);
  ASSERT_TRUE(t.admit(kWeb1, "mallory", kT0)->report);
  ASSERT_FALSE(t.admit(kWeb1, "mallory", kT0 + seconds{1})->report);
  // 61 s later the bucket has refilled; exhaust it again.
  const auto later = kT0 + seconds{61};
  ASSERT_EQ(admitted(t, kWeb1, "mallory", 3, later), 3);
  auto again = t.admit(kWeb1, "mallory", later);
  ASSERT_TRUE(again && again->report);
  EXPECT_EQ(again->report->throttled, 2U) << "the one counted since, and this one";
  EXPECT_EQ(again->report->first_at, kT0 + seconds{1});
}

TEST(SubmissionThrottle, AllReportsAtShutdownWhateverTheWindow) {
  SubmissionThrottle t(small());
  for (const auto* s : {&kWeb1, &kWeb2}) {
    ASSERT_EQ(admitted(t, *s, "m", 3, kT0), 3);
    ASSERT_TRUE(t.admit(*s, "m", kT0)->report);
    ASSERT_FALSE(t.admit(*s, "m", kT0)->report);
  }
  EXPECT_TRUE(t.due_reports(kT0 + seconds{1}).empty());
  EXPECT_EQ(t.due_reports(kT0 + seconds{1}, true).size(), 2U);
}

TEST(SubmissionThrottle, AReportGivenBackIsCountedInTheNext) {
  SubmissionThrottle t(small());
  ASSERT_EQ(admitted(t, kWeb1, "m", 3, kT0), 3);
  auto first = t.admit(kWeb1, "m", kT0);
  ASSERT_TRUE(first && first->report);
  t.give_back(*first->report);  // the audit write failed
  ASSERT_TRUE(t.admit(kWeb1, "m", kT0 + seconds{2}));
  auto due = t.due_reports(kT0 + seconds{60});
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].throttled, 2U);
  EXPECT_EQ(due[0].first_at, kT0);
  EXPECT_EQ(due[0].last_at, kT0 + seconds{2});
}

TEST(SubmissionThrottle, ManyUserNamesCannotGrowTheTableBeyondItsBound) {
  auto o = small();
  o.limits.per_endpoint = {1000, milliseconds{1}};  // an endpoint that lets everything through
  o.max_tracked = 500;
  SubmissionThrottle t(o);
  // 20000 names in 20 s: each admitted one adds a bucket (a refused
  // one adds none), and the table never passes its bound.
  std::size_t most = 0;
  for (int i = 0; i < 20'000; ++i) {
    (void)t.admit(kWeb1, "u" + std::to_string(i) + std::string(200, 'x'), kT0 + milliseconds{i});
    most = std::max(most, t.tracked());
  }
  EXPECT_EQ(most, 500U) << "it fills up, and never passes its bound";
}

TEST(SubmissionThrottle, FullBucketsAreForgotten) {
  SubmissionThrottle t(small());
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(t.admit(kWeb1, "user" + std::to_string(i), kT0));
  EXPECT_EQ(t.tracked(), 11U);  // the endpoint and ten users
  // Each user took one of 3 (full 6 s later); the endpoint 10 of 10 (full 10 s later).
  (void)t.admit(kWeb2, "x", kT0 + seconds{6});
  EXPECT_EQ(t.tracked(), 3U);
  (void)t.admit(kWeb2, "x", kT0 + seconds{60});
  EXPECT_EQ(t.tracked(), 2U) << "only web-02's, just used";
}

TEST(SubmissionThrottle, RefusedSubmissionsAddNoBuckets) {
  SubmissionThrottle t(small());
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(t.admit(kWeb1, "user" + std::to_string(i), kT0));
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(t.admit(kWeb1, "other" + std::to_string(i), kT0));
  EXPECT_EQ(t.tracked(), 11U);
}

TEST(SubmissionThrottle, ALongNameCostsWhatAShortOneDoes) {
  SubmissionThrottle t(small());
  const std::string huge(1 << 20, 'a');
  ASSERT_FALSE(t.admit(kWeb1, huge, kT0));
  ASSERT_FALSE(t.admit(kWeb1, huge, kT0));
  ASSERT_FALSE(t.admit(kWeb1, huge, kT0));
  auto refused = t.admit(kWeb1, huge, kT0);
  ASSERT_TRUE(refused && refused->report);
  EXPECT_EQ(refused->report->last_user.size(), 256U);
  // The same name with one more byte is another user.
  EXPECT_FALSE(t.admit(kWeb1, huge + "a", kT0));
}

TEST(SubmissionThrottle, AClockSetBackNeitherLocksNorRefills) {
  SubmissionThrottle t(small());
  ASSERT_EQ(admitted(t, kWeb1, "alice", 3, kT0), 3);
  ASSERT_TRUE(t.admit(kWeb1, "alice", kT0)->report);
  const auto back = kT0 - std::chrono::hours{24};
  auto refused = t.admit(kWeb1, "alice", back);
  ASSERT_TRUE(refused) << "no refill for a jump back";
  EXPECT_EQ(refused->retry_after, seconds{6}) << "not a day";
  EXPECT_TRUE(refused->report) << "a report window does not last as long as the jump back";
  EXPECT_FALSE(t.admit(kWeb1, "alice", back)->report);
  EXPECT_EQ(admitted(t, kWeb1, "alice", 3, back + seconds{6}), 1);
}

TEST(SubmissionThrottle, AClockSetForwardRefillsAtMostToFull) {
  SubmissionThrottle t(small());
  ASSERT_EQ(admitted(t, kWeb1, "alice", 3, kT0), 3);
  EXPECT_EQ(admitted(t, kWeb1, "alice", 10, kT0 + std::chrono::hours{24} * 365), 3);
}

TEST(SubmissionThrottle, ParallelSubmissionsGetNoMoreThanSequentialOnes) {
  SubmissionThrottle t(small());
  std::atomic<int> ok{0};
  std::atomic<int> reports{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 8; ++th) {
    threads.emplace_back([&, th] {
      for (int i = 0; i < 2000; ++i) {
        auto r = t.admit(kWeb1, "user" + std::to_string((th * 2000 + i) % 50), kT0);
        if (!r) {
          ++ok;
        } else if (r->report) {
          ++reports;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(reports.load(), 1);
  auto due = t.due_reports(kT0 + seconds{60});
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].throttled + 1 + 10, 16000U);
}

TEST(SubmissionThrottle, BadOptionsAreRefused) {
  auto o = small();
  o.limits.per_user.burst = 0;
  EXPECT_FALSE(SubmissionThrottle::validate(o).ok());
  EXPECT_THROW(SubmissionThrottle{o}, std::invalid_argument);
  o = small();
  o.max_tracked = 1;
  EXPECT_FALSE(SubmissionThrottle::validate(o).ok());
  o = small();
  o.report_every = milliseconds{10};
  EXPECT_FALSE(SubmissionThrottle::validate(o).ok());
}

}  // namespace
}  // namespace hoist::app
