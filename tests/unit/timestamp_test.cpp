#include "core/timestamp.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace hoist {
namespace {

using test::utc;

struct GoodTimestamp {
  std::string text;
  TimePoint expected;
};

std::ostream& operator<<(std::ostream& os, const GoodTimestamp& c) {
  return os << c.text;
}

class ParseTimestampGood : public ::testing::TestWithParam<GoodTimestamp> {};

TEST_P(ParseTimestampGood, Parses) {
  const auto& c = GetParam();
  const auto t = parse_timestamp(c.text);
  ASSERT_TRUE(t.ok()) << c.text << ": " << t.error().message;
  EXPECT_EQ(*t, c.expected) << c.text << " -> " << format_timestamp(*t);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseTimestampGood,
    ::testing::Values(GoodTimestamp{"2026-11-24T09:30:00Z", utc(2026, 11, 24, 9, 30)},
                      GoodTimestamp{"2026-11-24T09:30Z", utc(2026, 11, 24, 9, 30)},  // seconds are optional
                      GoodTimestamp{"2026-11-24 09:30:05Z", utc(2026, 11, 24, 9, 30, 5)},
                      GoodTimestamp{"2026-11-24T09:30:00z", utc(2026, 11, 24, 9, 30)},  // RFC 3339 allows
                      GoodTimestamp{"2026-11-24t09:30:00Z", utc(2026, 11, 24, 9, 30)},  // lower case
                      GoodTimestamp{"2026-11-24T10:30:00+01:00", utc(2026, 11, 24, 9, 30)},
                      GoodTimestamp{"2026-11-24T04:00:00-05:30", utc(2026, 11, 24, 9, 30)},
                      GoodTimestamp{"2026-11-24T00:15:00+01:00", utc(2026, 11, 23, 23, 15)},  // previous day
                      GoodTimestamp{"2024-02-29T23:59:59Z", utc(2024, 2, 29, 23, 59, 59)},    // leap day
                      GoodTimestamp{"1970-01-01T00:00:00Z", TimePoint{}},
                      GoodTimestamp{"9999-12-31T23:59:59Z", utc(9999, 12, 31, 23, 59, 59)}));

class ParseTimestampBad : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseTimestampBad, IsInvalidArgument) {
  const auto t = parse_timestamp(GetParam());
  ASSERT_FALSE(t.ok()) << "\"" << GetParam() << "\" parsed as " << format_timestamp(*t);
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(t.error().message.find("2026-11-24T09:30:00Z"), std::string::npos) << t.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseTimestampBad,
    ::testing::Values("", "2026", "2026-11-24", "2026-11-24T09:30:00",  // no zone
                      "2026-11-24T09:30:00 Z", "2026-11-24X09:30:00Z", "2026/11/24T09:30:00Z", "2026-11-24T9:30:00Z",
                      "2026-11-24T09:30:0Z", "2026-11-24T09:30:00.5Z",                         // no fractions
                      "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",  // not a leap year
                      "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T23:60:00Z",
                      "2026-11-24T23:59:60Z",  // no leap seconds
                      "1969-12-31T23:59:59Z", "2026-11-24T09:30:00+1:00", "2026-11-24T09:30:00+01",
                      "2026-11-24T09:30:00+0100", "2026-11-24T09:30:00+24:00", "2026-11-24T09:30:00+01:60",
                      "2026-11-24T09:30:00Zjunk", "2026-11-24T09:30:00+01:00junk", " 2026-11-24T09:30:00Z",
                      "-026-11-24T09:30:00Z", "2026-11-24T09:30:00\xc3\x9a"));

struct Formatted {
  TimePoint t;
  std::string text;
};

std::ostream& operator<<(std::ostream& os, const Formatted& c) {
  return os << c.text;
}

class FormatTimestampTable : public ::testing::TestWithParam<Formatted> {};

TEST_P(FormatTimestampTable, Formats) {
  EXPECT_EQ(format_timestamp(GetParam().t), GetParam().text);
}

INSTANTIATE_TEST_SUITE_P(Table, FormatTimestampTable,
                         ::testing::Values(Formatted{TimePoint{}, "1970-01-01T00:00:00Z"},
                                           Formatted{utc(2026, 11, 24, 9, 30), "2026-11-24T09:30:00Z"},
                                           Formatted{utc(2024, 2, 29, 23, 59, 59), "2024-02-29T23:59:59Z"},
                                           Formatted{utc(2000, 1, 2, 3, 4, 5), "2000-01-02T03:04:05Z"}));

TEST(Timestamp, RoundTrips) {
  for (const TimePoint t : {TimePoint{}, utc(2026, 11, 24, 9, 30, 1), utc(2038, 1, 19, 3, 14, 8),
                            utc(2100, 3, 1, 0, 0, 0), utc(9999, 12, 31, 23, 59, 59)}) {
    const auto back = parse_timestamp(format_timestamp(t));
    ASSERT_TRUE(back.ok()) << format_timestamp(t);
    EXPECT_EQ(*back, t) << format_timestamp(t);
  }
}

}  // namespace
}  // namespace hoist
