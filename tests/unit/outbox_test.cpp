#include "core/outbox.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hoist::outbox {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const AuditTime kSince{Millis{1'800'000'000'000}};

AttemptOutcome http(int status, std::optional<std::string> retry_after = std::nullopt) {
  return AttemptOutcome{status, std::move(retry_after), ""};
}
AttemptOutcome no_answer(std::string why = "connection refused") {
  return AttemptOutcome{std::nullopt, std::nullopt, std::move(why)};
}

RetrySchedule no_jitter() {
  RetrySchedule s;
  s.jitter = 0;
  return s;
}

TEST(OutboxSchedule, TheDefaultScheduleWaitsNow5s30s2m10m1hThenHourly) {
  const RetrySchedule s = no_jitter();
  ASSERT_TRUE(s.validate().ok());
  const std::vector<Millis> want = {seconds(5), seconds(30), minutes(2), minutes(10), hours(1), hours(1), hours(1)};
  AuditTime now = kSince;  // the first attempt goes at once (delays[0] == 0)
  EXPECT_EQ(s.delay_after(0), Millis{0});
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto d = decide(no_answer(), static_cast<std::int64_t>(i + 1), kSince, now, s, 0.5);
    ASSERT_EQ(d.verdict, Verdict::kRetry) << i;
    EXPECT_EQ(d.next_attempt_at - now, want[i]) << "after attempt " << i + 1;
    EXPECT_EQ(d.reason, "connection refused");
    now = d.next_attempt_at;
  }
}

TEST(OutboxSchedule, GivesUpWhenTheNextAttemptWouldPassTheMaxAge) {
  RetrySchedule s = no_jitter();
  s.max_age = hours(3);
  // 2 h 30 min after the first enqueueing, the next (1 h later) is too late.
  const auto d = decide(http(500), 8, kSince, kSince + minutes(150), s, 0.5);
  EXPECT_EQ(d.verdict, Verdict::kDead);
  EXPECT_NE(d.reason.find("HTTP 500"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("given up"), std::string::npos) << d.reason;
  // ... but at 1 h 30 min it still fits.
  EXPECT_EQ(decide(http(500), 8, kSince, kSince + minutes(90), s, 0.5).verdict, Verdict::kRetry);
}

TEST(OutboxSchedule, JitterSpreadsEachWaitWithinItsBounds) {
  RetrySchedule s;
  s.jitter = 0.2;
  const auto low = decide(no_answer(), 2, kSince, kSince, s, 0.0);
  const auto mid = decide(no_answer(), 2, kSince, kSince, s, 0.5);
  const auto high = decide(no_answer(), 2, kSince, kSince, s, 0.999999);
  EXPECT_EQ(mid.next_attempt_at - kSince, seconds(30));
  EXPECT_EQ(low.next_attempt_at - kSince, seconds(24));
  EXPECT_GE(high.next_attempt_at - kSince, Millis{35'999});
  EXPECT_LE(high.next_attempt_at - kSince, seconds(36));
  // Out-of-range draws are clamped, never make a negative wait.
  EXPECT_EQ(decide(no_answer(), 2, kSince, kSince, s, -7).next_attempt_at - kSince, seconds(24));
}

struct Classified {
  int status;
  Verdict verdict;
};

class OutboxClassify : public ::testing::TestWithParam<Classified> {};

TEST_P(OutboxClassify, Status) {
  const auto& c = GetParam();
  const auto d = decide(http(c.status), 1, kSince, kSince, no_jitter(), 0.5);
  EXPECT_EQ(d.verdict, c.verdict) << c.status << ": " << d.reason;
  if (c.verdict == Verdict::kDelivered) {
    EXPECT_EQ(d.reason, "");
  } else {
    EXPECT_NE(d.reason.find(std::to_string(c.status)), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Answers, OutboxClassify,
                         ::testing::Values(Classified{200, Verdict::kDelivered}, Classified{202, Verdict::kDelivered},
                                           Classified{204, Verdict::kDelivered}, Classified{299, Verdict::kDelivered},
                                           Classified{301, Verdict::kDead}, Classified{307, Verdict::kDead},
                                           Classified{400, Verdict::kDead}, Classified{401, Verdict::kDead},
                                           Classified{403, Verdict::kDead}, Classified{404, Verdict::kDead},
                                           Classified{410, Verdict::kDead}, Classified{413, Verdict::kDead},
                                           Classified{408, Verdict::kRetry}, Classified{429, Verdict::kRetry},
                                           Classified{500, Verdict::kRetry}, Classified{502, Verdict::kRetry},
                                           Classified{503, Verdict::kRetry}, Classified{504, Verdict::kRetry},
                                           Classified{100, Verdict::kDead}, Classified{600, Verdict::kDead}));

TEST(OutboxClassify, NoAnswerIsRetried) {
  const auto d = decide(no_answer("no answer within 2 s"), 1, kSince, kSince, no_jitter(), 0.5);
  EXPECT_EQ(d.verdict, Verdict::kRetry);
  EXPECT_EQ(d.next_attempt_at - kSince, seconds(5));
  EXPECT_EQ(d.reason, "no answer within 2 s");
}

TEST(OutboxRetryAfter, HonouredOn429And503Only) {
  const auto s = no_jitter();
  auto d = decide(http(429, "120"), 1, kSince, kSince, s, 0.5);
  EXPECT_EQ(d.verdict, Verdict::kRetry);
  EXPECT_EQ(d.next_attempt_at - kSince, seconds(120));
  d = decide(http(503, "Fri, 01 Jan 2027 08:00:10 GMT"), 1, kSince, AuditTime{Millis{1'798'790'400'000}}, s, 0.5);
  EXPECT_EQ(d.verdict, Verdict::kRetry);
  EXPECT_EQ(d.next_attempt_at, AuditTime{Millis{1'798'790'410'000}});
  // Elsewhere it is ignored: a 500 waits on the schedule.
  EXPECT_EQ(decide(http(500, "120"), 1, kSince, kSince, s, 0.5).next_attempt_at - kSince, seconds(5));
  // Unreadable: the schedule.
  EXPECT_EQ(decide(http(429, "soon"), 1, kSince, kSince, s, 0.5).next_attempt_at - kSince, seconds(5));
  // At most an hour, whatever it asks.
  EXPECT_EQ(decide(http(429, "999999"), 1, kSince, kSince, s, 0.5).next_attempt_at - kSince, kMaxRetryAfter);
  // Never shorter than the schedule: "0" and a date in the past wait for
  // it, as a longer schedule step does (a receiver's 429 cannot make a
  // busy loop).
  EXPECT_EQ(decide(http(429, "0"), 1, kSince, kSince, s, 0.5).next_attempt_at - kSince, seconds(5));
  EXPECT_EQ(decide(http(503, "2"), 2, kSince, kSince, s, 0.5).next_attempt_at - kSince, seconds(30));
  EXPECT_EQ(decide(http(429, "Fri, 01 Jan 2027 07:00:00 GMT"), 1, kSince, AuditTime{Millis{1'798'790'400'000}}, s, 0.5)
                    .next_attempt_at -
                AuditTime{Millis{1'798'790'400'000}},
            seconds(5));
  // A Retry-After past the max age dead-letters.
  RetrySchedule short_age = s;
  short_age.max_age = minutes(10);
  EXPECT_EQ(decide(http(429, "3000"), 1, kSince, kSince, short_age, 0.5).verdict, Verdict::kDead);
}

TEST(OutboxRetryAfter, Parses) {
  const AuditTime now{Millis{1'798'790'400'000}};  // 2027-01-01T08:00:00Z
  EXPECT_EQ(parse_retry_after("0", now), Millis{0});
  EXPECT_EQ(parse_retry_after(" 30 ", now), seconds(30));
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2027 08:01:00 GMT", now), minutes(1));
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2027 07:00:00 GMT", now), Millis{0});  // in the past
  for (const char* bad :
       {"", "-1", "1.5", "30s", "1234567890", "Fri, 01 Jan 2027 08:01:00 UTC", "Fri, 32 Jan 2027 08:01:00 GMT",
        "Xyz, 01 Jan 2027 08:01:00 GMT", "Fri, 01 Foo 2027 08:01:00 GMT", "Fri, 01 Jan 2027 25:01:00 GMT",
        "Thursday, 01-Jan-27 08:01:00 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, now).has_value()) << bad;
  }
}

TEST(OutboxSchedule, ValidateNamesTheProblem) {
  RetrySchedule s;
  EXPECT_TRUE(s.validate().ok());
  s.delays = {};
  EXPECT_FALSE(s.validate().ok());
  s.delays = {seconds(0), seconds(10), seconds(5)};
  EXPECT_NE(s.validate().error().message.find("shorter"), std::string::npos);
  s.delays = {seconds(0), hours(25)};
  EXPECT_FALSE(s.validate().ok());
  s = RetrySchedule{};
  s.max_age = Millis{10};
  EXPECT_FALSE(s.validate().ok());
  s = RetrySchedule{};
  s.jitter = 0.9;
  EXPECT_FALSE(s.validate().ok());
}

TEST(OutboxStates, RoundTrip) {
  for (const auto st : {DeliveryState::kPending, DeliveryState::kDelivered, DeliveryState::kDead}) {
    EXPECT_EQ(parse_delivery_state(to_string(st)), st);
  }
  EXPECT_FALSE(parse_delivery_state("Pending").has_value());
}

}  // namespace
}  // namespace hoist::outbox
