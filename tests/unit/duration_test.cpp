#include "core/duration.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace hoist {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;

struct GoodDuration {
  std::string text;
  Seconds expected;
};

class ParseDurationGood : public ::testing::TestWithParam<GoodDuration> {};

TEST_P(ParseDurationGood, Parses) {
  const auto& c = GetParam();
  const auto d = parse_duration(c.text);
  ASSERT_TRUE(d.ok()) << c.text << ": " << d.error().message;
  EXPECT_EQ(*d, c.expected) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseDurationGood,
    ::testing::Values(GoodDuration{"1s", Seconds{1}}, GoodDuration{"90s", Seconds{90}},
                      GoodDuration{"15m", minutes{15}}, GoodDuration{"2h", hours{2}}, GoodDuration{"1d", days{1}},
                      GoodDuration{"1w", days{7}}, GoodDuration{"1h30m", minutes{90}},
                      GoodDuration{"1d2h3m4s", days{1} + hours{2} + minutes{3} + Seconds{4}},
                      GoodDuration{"0h5m", minutes{5}},  // a zero part is fine when the sum is positive
                      GoodDuration{"007m", minutes{7}}, GoodDuration{"30m30m", hours{1}},
                      GoodDuration{"366d", days{366}},  // exactly kMaxDuration
                      GoodDuration{"52w2d", days{366}}, GoodDuration{"31622400s", days{366}}));

struct BadDuration {
  std::string text;
  std::string message_part;  // the message must say what is wrong
};

class ParseDurationBad : public ::testing::TestWithParam<BadDuration> {};

TEST_P(ParseDurationBad, FailsWithInvalidArgument) {
  const auto& c = GetParam();
  const auto d = parse_duration(c.text);
  ASSERT_FALSE(d.ok()) << "\"" << c.text << "\" parsed as " << d->count() << "s";
  EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(d.error().message.find(c.message_part), std::string::npos)
      << "message \"" << d.error().message << "\" should mention \"" << c.message_part << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseDurationBad,
    ::testing::Values(BadDuration{"", "empty"}, BadDuration{"15", "needs a unit"}, BadDuration{"1h30", "needs a unit"},
                      BadDuration{"m", "expected a number"}, BadDuration{"h5", "expected a number"},
                      BadDuration{"-5m", "expected a number"}, BadDuration{"+5m", "expected a number"},
                      BadDuration{" 5m", "expected a number"}, BadDuration{"5m ", "expected a number"},
                      BadDuration{"5 m", "unknown unit"}, BadDuration{"5x", "unknown unit"},
                      BadDuration{"5M", "unknown unit"}, BadDuration{"5ms", "expected a number"},
                      BadDuration{"1.5h", "unknown unit"}, BadDuration{"0s", "zero"}, BadDuration{"0h0m", "zero"},
                      BadDuration{"367d", "too long"}, BadDuration{"53w", "too long"},
                      BadDuration{"366d1s", "too long"}, BadDuration{"31622401s", "too long"},
                      BadDuration{"99999999999999999999999s", "too long"},  // would overflow int64
                      BadDuration{"9223372036854775807w", "too long"}));

TEST(ParseDuration, HugeSumOfSmallPartsIsTooLongNotOverflow) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += "1d";
  const auto d = parse_duration(text);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("too long"), std::string::npos);
}

struct Formatted {
  Seconds d;
  std::string text;
};

class FormatDurationTable : public ::testing::TestWithParam<Formatted> {};

TEST_P(FormatDurationTable, Formats) {
  EXPECT_EQ(format_duration(GetParam().d), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(Table, FormatDurationTable,
                         ::testing::Values(Formatted{Seconds{0}, "0s"}, Formatted{Seconds{1}, "1s"},
                                           Formatted{Seconds{59}, "59s"}, Formatted{Seconds{60}, "1m"},
                                           Formatted{Seconds{5400}, "1h30m"}, Formatted{Seconds{86400}, "1d"},
                                           Formatted{Seconds{90061}, "1d1h1m1s"}, Formatted{Seconds{3601}, "1h1s"},
                                           Formatted{days{7}, "7d"}, Formatted{days{366}, "366d"},
                                           Formatted{Seconds{-90}, "-1m30s"}));

TEST(FormatDuration, RoundTripsThroughParse) {
  for (const Seconds d : {Seconds{1}, Seconds{61}, Seconds{3599}, Seconds{3600}, Seconds{86399}, Seconds{90061},
                          days{30} + Seconds{7}, kMaxDuration}) {
    const auto parsed = parse_duration(format_duration(d));
    ASSERT_TRUE(parsed.ok()) << format_duration(d);
    EXPECT_EQ(*parsed, d) << format_duration(d);
  }
}

TEST(CapDuration, PolicyCapWins) {
  EXPECT_EQ(cap_duration(hours{2}, hours{1}), hours{1});
  EXPECT_EQ(cap_duration(minutes{30}, hours{1}), minutes{30});
  EXPECT_EQ(cap_duration(hours{1}, hours{1}), hours{1});
}

}  // namespace
}  // namespace hoist
