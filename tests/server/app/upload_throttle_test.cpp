// The upload throttle on its own: a prefix of an upload taken, the rest
// counted, whole refusals with when to come back, one report standing for
// many cut uploads, other endpoints untouched, the bound on memory and
// clock jumps. The API on top is in api_tests (throttle_test.cpp).
#include "server/app/upload_throttle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace hoist::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const AuditTime kT0{std::chrono::sys_days{std::chrono::year{2026} / 3 / 2}.time_since_epoch() + std::chrono::hours{10}};

const UploadThrottle::Sender kWeb1{"ep-1", "agent:ep-1", "web-01"};
const UploadThrottle::Sender kWeb2{"ep-2", "agent:ep-2", "web-02"};

UploadThrottle::Options small() {
  UploadThrottle::Options o;
  o.limit = {250, milliseconds{100}};
  o.report_every = seconds{60};
  return o;
}

TEST(UploadThrottle, TakesThePrefixTheBucketHoldsAndCountsTheRest) {
  UploadThrottle t(small());
  auto first = t.admit(kWeb1, 100, kT0);
  EXPECT_EQ(first.events, 100U);
  EXPECT_FALSE(first.report);
  auto second = t.admit(kWeb1, 200, kT0);
  EXPECT_EQ(second.events, 150U);  // what is left of the burst
  ASSERT_TRUE(second.report) << "the first cut after a quiet window is audited at once";
  EXPECT_EQ(second.report->uploads, 1U);
  EXPECT_EQ(second.report->events, 50U);
  EXPECT_EQ(second.report->host, "web-01");
  EXPECT_EQ(second.report->actor, "agent:ep-1");

  // Empty now: refused whole, told when one more is taken.
  auto unread = t.refuse_if_empty(kWeb1, kT0);
  ASSERT_TRUE(unread);
  EXPECT_EQ(unread->retry_after, seconds{1});
  EXPECT_FALSE(unread->report);
  auto refused = t.admit(kWeb1, 100, kT0 + milliseconds{50});
  EXPECT_EQ(refused.events, 0U);
  EXPECT_EQ(refused.retry_after, seconds{1});
  EXPECT_FALSE(refused.report) << "counted, not audited, within the window";

  // 1 s later: ten more.
  EXPECT_FALSE(t.refuse_if_empty(kWeb1, kT0 + seconds{1}));
  EXPECT_EQ(t.admit(kWeb1, 100, kT0 + seconds{1}).events, 10U);

  // Another endpoint has its own bucket.
  EXPECT_EQ(t.admit(kWeb2, 250, kT0 + seconds{1}).events, 250U);
  EXPECT_FALSE(t.refuse_if_empty({"ep-3", "agent:ep-3", "h"}, kT0)) << "an endpoint never seen is not empty";
  // The refusals before reading count as uploads, with no events.
  auto due = t.due_reports(kT0 + seconds{60});
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(due[0].uploads, 3U);  // the unread one, the refused one, the one cut to 10
  EXPECT_EQ(due[0].events, 100U + 90U);
}

TEST(UploadThrottle, OneReportAWindowStandsForEveryCutUpload) {
  UploadThrottle t(small());
  ASSERT_EQ(t.admit(kWeb1, 250, kT0).events, 250U);
  int reports = 0;
  std::uint64_t events = 0;
  for (int i = 0; i < 1000; ++i) {
    auto a = t.admit(kWeb1, 100, kT0 + milliseconds{i * 10});
    if (a.report) {
      ++reports;
      events += a.report->events;
    }
  }
  EXPECT_EQ(reports, 1);
  EXPECT_TRUE(t.due_reports(kT0 + seconds{30}).empty()) << "the window is not over";
  auto due = t.due_reports(kT0 + seconds{60});
  ASSERT_EQ(due.size(), 1U);
  // 1000 uploads of 100 over 10 s took one each 100 ms after the first:
  // 99 of 100,000; every upload was cut, the first reported at once.
  EXPECT_EQ(events, 100U);
  EXPECT_EQ(events + due[0].events, 1000U * 100 - 99);
  EXPECT_EQ(due[0].uploads, 999U);
  EXPECT_EQ(due[0].first_at, kT0 + milliseconds{10});
  EXPECT_EQ(due[0].last_at, kT0 + milliseconds{9990});
  // A report that could not be written comes back for the next.
  t.give_back(due[0]);
  auto again = t.due_reports(kT0 + seconds{61}, true);
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again[0].events, due[0].events);
  // Quiet since: forgotten.
  EXPECT_TRUE(t.due_reports(kT0 + seconds{200}).empty());
}

TEST(UploadThrottle, MemoryIsBoundedAndAFullBucketIsForgotten) {
  auto o = small();
  o.max_tracked = 3;
  UploadThrottle t(o);
  for (int i = 0; i < 100; ++i) {
    const std::string id = "ep-" + std::to_string(i);
    EXPECT_EQ(t.admit({id, "agent:" + id, "h"}, 10, kT0).events, 10U);
    EXPECT_LE(t.tracked(), 3U);
  }
  // 1 s refills ten: every bucket is full again, and forgotten.
  (void)t.admit(kWeb1, 1, kT0 + seconds{2});
  EXPECT_EQ(t.tracked(), 1U);
}

TEST(UploadThrottle, AClockSetBackNeitherRefillsNorLocks) {
  UploadThrottle t(small());
  ASSERT_EQ(t.admit(kWeb1, 250, kT0).events, 250U);
  EXPECT_EQ(t.admit(kWeb1, 10, kT0 - std::chrono::hours{24}).events, 0U);
  EXPECT_EQ(t.admit(kWeb1, 10, kT0 - std::chrono::hours{24} + seconds{1}).events, 10U);
}

TEST(UploadThrottle, BadOptionsAreRefused) {
  auto o = small();
  o.limit.burst = 0;
  EXPECT_FALSE(UploadThrottle::validate(o).ok());
  o = small();
  o.report_every = milliseconds{10};
  EXPECT_FALSE(UploadThrottle::validate(o).ok());
  EXPECT_THROW(UploadThrottle{o}, std::invalid_argument);
  EXPECT_TRUE(UploadThrottle::validate(UploadThrottle::Options{}).ok());
}

}  // namespace
}  // namespace hoist::app
