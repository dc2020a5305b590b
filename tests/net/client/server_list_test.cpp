// net/client/server_list.h: the list of hoistd URLs as given, the back-off
// schedule and the rotation among URLs, all pure (no I/O, time passed in).
#include "net/client/server_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hoist::net {
namespace {

using std::chrono::milliseconds;
using TimePoint = ServerRotation::TimePoint;

TEST(ServerList, TakesRepeatedAndCommaSeparatedUrlsInOrder) {
  auto urls = parse_server_list({"https://a:8443", " https://b:8443 , https://c ", "https://[::1]:1"});
  ASSERT_TRUE(urls) << urls.error().message;
  EXPECT_EQ(*urls, (std::vector<std::string>{"https://a:8443", "https://b:8443", "https://c", "https://[::1]:1"}));
  EXPECT_EQ(join_server_list(*urls), "https://a:8443,https://b:8443,https://c,https://[::1]:1");
  auto again = parse_server_list({join_server_list(*urls)});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *urls);
}

TEST(ServerList, RefusesWhatIsNotAListOfHttpsUrls) {
  const std::vector<std::vector<std::string>> bad{
      {},
      {""},
      {"https://a,"},
      {",https://a"},
      {"https://a,,https://b"},
      {"http://a:8443"},
      {"https://a", "http://b"},
      {"https://a,ftp://b"},
      {"a:8443"},
      {"https://a", "https://a"},
      {"https://a,https://b,https://a"},
  };
  for (const auto& given : bad) {
    auto urls = parse_server_list(given);
    ASSERT_FALSE(urls) << ::testing::PrintToString(given);
    EXPECT_EQ(urls.error().code, ErrorCode::kInvalidArgument);
  }
  auto plain = parse_server_list({"https://a", "http://b:8443"});
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("http://b:8443"), std::string::npos) << plain.error().message;
}

TEST(ServerList, CapsTheNumberOfUrls) {
  std::vector<std::string> many;
  for (std::size_t i = 0; i < kMaxServers; ++i) many.push_back("https://h" + std::to_string(i));
  ASSERT_TRUE(parse_server_list(many));
  many.push_back("https://one-too-many");
  auto urls = parse_server_list(many);
  ASSERT_FALSE(urls);
  EXPECT_EQ(urls.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(urls.error().message.find("at most 16"), std::string::npos) << urls.error().message;
  // One item with them all, too.
  auto joined = parse_server_list({join_server_list(many)});
  ASSERT_FALSE(joined);
}

TEST(ServerList, ControlBytesInAMessageAreNotPrinted) {
  auto urls = parse_server_list({"http://a\x1b[2Jb"});
  ASSERT_FALSE(urls);
  EXPECT_EQ(urls.error().message.find('\x1b'), std::string::npos);
}

TEST(Backoff, DoublesFromFirstUpToMaxAndJittersIntoTheUpperHalf) {
  const Backoff b{milliseconds(1000), milliseconds(60000)};
  EXPECT_EQ(rest_after(0, 0.5, b), milliseconds(0));
  EXPECT_EQ(rest_after(1, 0.0, b), milliseconds(500));
  EXPECT_EQ(rest_after(1, 0.999999, b), milliseconds(999));
  EXPECT_EQ(rest_after(2, 0.0, b), milliseconds(1000));
  EXPECT_EQ(rest_after(3, 0.0, b), milliseconds(2000));
  EXPECT_EQ(rest_after(7, 0.0, b), milliseconds(30000));
  for (const unsigned failures : {7U, 8U, 30U, 64U, 1000U, 4000000000U}) {
    for (const double jitter : {0.0, 0.25, 0.5, 0.999}) {
      const auto rest = rest_after(failures, jitter, b);
      EXPECT_GE(rest, milliseconds(30000)) << failures;
      EXPECT_LT(rest, milliseconds(60000)) << failures;
    }
  }
  // Jitter out of range (or not a number) is clamped.
  EXPECT_EQ(rest_after(1, -3.0, b), milliseconds(500));
  EXPECT_EQ(rest_after(1, 7.0, b), milliseconds(999));
  EXPECT_EQ(rest_after(1, std::numeric_limits<double>::quiet_NaN(), b), milliseconds(500));
  // Monotone in the failures, for one jitter.
  for (unsigned f = 1; f < 20; ++f) EXPECT_LE(rest_after(f, 0.3, b), rest_after(f + 1, 0.3, b)) << f;
}

TEST(ServerRotation, StartsWithTheFirstAndTriesEachOnceInListOrder) {
  const ServerRotation r(3);
  const TimePoint now{};
  EXPECT_EQ(r.current(), 0U);
  EXPECT_EQ(r.order(now), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(ServerRotation, StartsAtTheOneThatAnsweredBeforeARestartUntilItFails) {
  ServerRotation r(3);
  TimePoint now{};
  r.start_at(2);
  EXPECT_EQ(r.current(), 2U);
  EXPECT_EQ(r.order(now), (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_EQ(r.failures(2), 0U) << "not an answer, not a failure";
  r.start_at(3);  // out of range: ignored
  EXPECT_EQ(r.current(), 2U);
  r.failed(2, now, 0.0);
  EXPECT_EQ(r.order(now), (std::vector<std::size_t>{0, 1}));
}

TEST(ServerRotation, MovesOnWhenTheCurrentFailsAndStaysWhereItAnswered) {
  ServerRotation r(3);
  TimePoint now{};
  r.failed(0, now, 0.0);
  EXPECT_EQ(r.current(), 1U);
  EXPECT_EQ(r.order(now), (std::vector<std::size_t>{1, 2}));  // 0 rests
  r.succeeded(1);
  // Sticky: long after 0's rest ended, 1 is still tried first.
  now += std::chrono::hours(1);
  EXPECT_EQ(r.order(now), (std::vector<std::size_t>{1, 2, 0}));
  EXPECT_EQ(r.current(), 1U);
  // 1 fails: 2, then 0 (rested by now), wrapping around the list.
  r.failed(1, now, 0.0);
  EXPECT_EQ(r.order(now), (std::vector<std::size_t>{2, 0}));
}

TEST(ServerRotation, AFailedServerRestsLongerEachTimeAndIsForgivenWhenItAnswers) {
  ServerRotation r(2, Backoff{milliseconds(1000), milliseconds(8000)});
  const TimePoint t0{};
  r.failed(0, t0, 0.0);
  EXPECT_EQ(r.rests_until(0), t0 + milliseconds(500));
  r.failed(0, t0, 0.0);
  EXPECT_EQ(r.rests_until(0), t0 + milliseconds(1000));
  r.failed(0, t0, 0.0);
  EXPECT_EQ(r.failures(0), 3U);
  EXPECT_EQ(r.rests_until(0), t0 + milliseconds(2000));
  EXPECT_EQ(r.order(t0 + milliseconds(1999)), (std::vector<std::size_t>{1}));
  EXPECT_EQ(r.order(t0 + milliseconds(2000)), (std::vector<std::size_t>{1, 0}));
  r.succeeded(0);
  EXPECT_EQ(r.failures(0), 0U);
  EXPECT_EQ(r.current(), 0U);
  EXPECT_EQ(r.order(t0), (std::vector<std::size_t>{0, 1}));
}

TEST(ServerRotation, WhenAllRestAllAreTriedTheOneThatRestsLeastFirst) {
  ServerRotation r(3);
  const TimePoint t0{};
  r.failed(0, t0, 0.0);                      // until 500 ms
  r.failed(1, t0, 0.0);                      // until 500 ms
  r.failed(1, t0, 0.0);                      // until 1000 ms
  r.failed(2, t0 - milliseconds(400), 0.0);  // until 100 ms
  EXPECT_EQ(r.order(t0), (std::vector<std::size_t>{2, 0, 1}));
  EXPECT_EQ(r.order(t0 + milliseconds(100)), (std::vector<std::size_t>{2}));
  EXPECT_EQ(r.order(t0 + milliseconds(500)), (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(r.order(t0 + milliseconds(99)), (std::vector<std::size_t>{2, 0, 1}));
}

TEST(ServerRotation, OneServerIsAlwaysTried) {
  ServerRotation r(1);
  const TimePoint t0{};
  for (int i = 0; i < 100; ++i) {
    r.failed(0, t0, 0.5);
    EXPECT_EQ(r.order(t0), (std::vector<std::size_t>{0}));
    EXPECT_EQ(r.current(), 0U);
  }
  EXPECT_LE(r.rests_until(0), t0 + milliseconds(60000));
}

TEST(ServerRotation, IndexesOutOfRangeAreIgnored) {
  ServerRotation r(2);
  r.failed(5, TimePoint{}, 0.0);
  r.succeeded(7);
  EXPECT_EQ(r.current(), 0U);
  EXPECT_EQ(r.order(TimePoint{}), (std::vector<std::size_t>{0, 1}));
  const ServerRotation none(0);
  EXPECT_TRUE(none.order(TimePoint{}).empty());
}

}  // namespace
}  // namespace hoist::net
