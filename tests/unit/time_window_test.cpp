#include "core/time_window.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace hoist {
namespace {

using test::FakeTimeZones;
using test::utc;

constexpr int kMon = 0;
constexpr int kTue = 1;
constexpr int kFri = 4;
constexpr int kSat = 5;
constexpr int kSun = 6;

constexpr int hm(int h, int m) {
  return h * 60 + m;
}

TimeWindow window(std::uint8_t days, int start, int end, std::string zone = "UTC") {
  TimeWindow w;
  w.days = days;
  w.start_minute = start;
  w.end_minute = end;
  w.zone = std::move(zone);
  return w;
}

constexpr std::uint8_t bit(int day) {
  return static_cast<std::uint8_t>(1U << day);
}
constexpr std::uint8_t kWeekdays = 0x1f;

TEST(FakeTimeZones, KnowsItsZonesAndComputesLocalTime) {
  const FakeTimeZones zones;
  EXPECT_TRUE(zones.known("UTC"));
  EXPECT_TRUE(zones.known("Test/Plus2"));
  EXPECT_FALSE(zones.known("Mars/Olympus"));
  const auto t = zones.local_time("UTC", utc(2024, 1, 5, 22, 30));  // a Friday
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->weekday, kFri);
  EXPECT_EQ(t->minute_of_day, hm(22, 30));
  const auto plus2 = zones.local_time("Test/Plus2", utc(2024, 1, 5, 22, 30));
  ASSERT_TRUE(plus2.has_value());
  EXPECT_EQ(plus2->weekday, kSat);
  EXPECT_EQ(plus2->minute_of_day, hm(0, 30));
  EXPECT_FALSE(zones.local_time("Nowhere", utc(2024, 1, 5)).has_value());
}

struct ContainsCase {
  const char* what;
  TimeWindow w;
  int weekday;
  int minute;
  bool expected;
};

class WindowContainsLocal : public ::testing::TestWithParam<ContainsCase> {};

TEST_P(WindowContainsLocal, Table) {
  const auto& c = GetParam();
  EXPECT_EQ(c.w.contains(LocalTime{c.weekday, c.minute}), c.expected) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, WindowContainsLocal,
    ::testing::Values(
        // weekdays 08:00-18:00: start inclusive, end exclusive.
        ContainsCase{"start minute is inside", window(kWeekdays, hm(8, 0), hm(18, 0)), kMon, hm(8, 0), true},
        ContainsCase{"minute before start", window(kWeekdays, hm(8, 0), hm(18, 0)), kMon, hm(7, 59), false},
        ContainsCase{"last minute inside", window(kWeekdays, hm(8, 0), hm(18, 0)), kFri, hm(17, 59), true},
        ContainsCase{"end minute is outside", window(kWeekdays, hm(8, 0), hm(18, 0)), kFri, hm(18, 0), false},
        ContainsCase{"right hours, wrong day", window(kWeekdays, hm(8, 0), hm(18, 0)), kSat, hm(12, 0), false},
        ContainsCase{"whole day", window(0x7f, 0, 1440), kSun, hm(23, 59), true},
        ContainsCase{"whole day from midnight", window(0x7f, 0, 1440), kSun, 0, true},
        ContainsCase{"no days at all", window(0, 0, 1440), kMon, hm(12, 0), false},
        // fri 22:00-06:00 spans midnight and belongs to Friday.
        ContainsCase{"fri 22:00 itself", window(bit(kFri), hm(22, 0), hm(6, 0)), kFri, hm(22, 0), true},
        ContainsCase{"fri 21:59", window(bit(kFri), hm(22, 0), hm(6, 0)), kFri, hm(21, 59), false},
        ContainsCase{"fri 23:59", window(bit(kFri), hm(22, 0), hm(6, 0)), kFri, hm(23, 59), true},
        ContainsCase{"sat 00:00", window(bit(kFri), hm(22, 0), hm(6, 0)), kSat, 0, true},
        ContainsCase{"sat 03:00", window(bit(kFri), hm(22, 0), hm(6, 0)), kSat, hm(3, 0), true},
        ContainsCase{"sat 05:59", window(bit(kFri), hm(22, 0), hm(6, 0)), kSat, hm(5, 59), true},
        ContainsCase{"sat 06:00 (end)", window(bit(kFri), hm(22, 0), hm(6, 0)), kSat, hm(6, 0), false},
        ContainsCase{"fri 03:00 belongs to thursday", window(bit(kFri), hm(22, 0), hm(6, 0)), kFri, hm(3, 0), false},
        ContainsCase{"sat 22:00 is not friday", window(bit(kFri), hm(22, 0), hm(6, 0)), kSat, hm(22, 0), false},
        ContainsCase{"sat 12:00 between parts", window(bit(kFri), hm(22, 0), hm(6, 0)), kSat, hm(12, 0), false},
        // A sunday night window spills into monday (day wrap).
        ContainsCase{"sun night into mon", window(bit(kSun), hm(23, 0), hm(1, 0)), kMon, hm(0, 30), true},
        ContainsCase{"mon night not into tue", window(bit(kSun), hm(23, 0), hm(1, 0)), kTue, hm(0, 30), false}));

TEST(WindowContainsAt, UsesTheZone) {
  const FakeTimeZones zones;
  const TimeWindow w = window(kWeekdays, hm(8, 0), hm(18, 0), "Test/Plus2");
  EXPECT_TRUE(w.contains(utc(2024, 1, 1, 6, 0), zones));    // Monday 08:00 local
  EXPECT_FALSE(w.contains(utc(2024, 1, 1, 5, 59), zones));  // Monday 07:59 local
  EXPECT_FALSE(w.contains(utc(2024, 1, 1, 16, 0), zones));  // Monday 18:00 local
  EXPECT_TRUE(w.contains(utc(2024, 1, 1, 15, 59), zones));
  // Friday 23:00 UTC is already Saturday 01:00 in Test/Plus2.
  EXPECT_FALSE(window(kWeekdays, 0, 1440, "Test/Plus2").contains(utc(2024, 1, 5, 23, 0), zones));
  EXPECT_TRUE(window(kWeekdays, 0, 1440, "UTC").contains(utc(2024, 1, 5, 23, 0), zones));
}

TEST(WindowContainsAt, MidnightSpanningByTimePoint) {
  const FakeTimeZones zones;
  const TimeWindow w = window(bit(kFri), hm(22, 0), hm(6, 0));
  EXPECT_TRUE(w.contains(utc(2024, 1, 6, 3, 0), zones));   // Saturday 03:00
  EXPECT_FALSE(w.contains(utc(2024, 1, 5, 3, 0), zones));  // Friday 03:00
  EXPECT_TRUE(w.contains(utc(2024, 1, 5, 22, 0), zones));
  EXPECT_FALSE(w.contains(utc(2024, 1, 6, 6, 0), zones));
}

TEST(WindowContainsAt, UnknownZoneNeverMatches) {
  const FakeTimeZones zones;
  const TimeWindow w = window(0x7f, 0, 1440, "Mars/Olympus");
  for (int h = 0; h < 24 * 7; h += 5) {
    EXPECT_FALSE(w.contains(utc(2024, 1, 1, h, 0), zones)) << "hour " << h;
  }
}

struct DaysCase {
  std::string text;
  std::uint8_t mask;
};

class ParseDaysGood : public ::testing::TestWithParam<DaysCase> {};

TEST_P(ParseDaysGood, Parses) {
  const auto m = parse_days(GetParam().text);
  ASSERT_TRUE(m.ok()) << GetParam().text << ": " << m.error().message;
  EXPECT_EQ(int{*m}, int{GetParam().mask}) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(Table, ParseDaysGood,
                         ::testing::Values(DaysCase{"mon", 0x01}, DaysCase{"sun", 0x40}, DaysCase{"mon-fri", 0x1f},
                                           DaysCase{"sat,sun", 0x60}, DaysCase{"mon,wed-fri", 0x1d},
                                           DaysCase{"fri-mon", 0x71},  // wraps over the weekend
                                           DaysCase{"sun-sun", 0x40}, DaysCase{"tue-mon", 0x7f}, DaysCase{"all", 0x7f},
                                           DaysCase{"*", 0x7f}, DaysCase{" mon , tue ", 0x03},
                                           DaysCase{"mon - wed", 0x07}, DaysCase{"mon,mon", 0x01}));

class ParseDaysBad : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseDaysBad, IsInvalidArgument) {
  const auto m = parse_days(GetParam());
  ASSERT_FALSE(m.ok()) << "\"" << GetParam() << "\" parsed as " << int{*m};
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Table, ParseDaysBad,
                         ::testing::Values("", " ", "monday", "Mon", "mon,", ",mon", "mon,,tue", "mon-", "-fri",
                                           "mon-tue-wed", "weekdays", "mon;tue", "1", "all,mon"));

struct HoursCase {
  std::string text;
  int start;
  int end;
};

class ParseHoursGood : public ::testing::TestWithParam<HoursCase> {};

TEST_P(ParseHoursGood, Parses) {
  const auto r = parse_hours(GetParam().text);
  ASSERT_TRUE(r.ok()) << GetParam().text << ": " << r.error().message;
  EXPECT_EQ(r->first, GetParam().start);
  EXPECT_EQ(r->second, GetParam().end);
}

INSTANTIATE_TEST_SUITE_P(Table, ParseHoursGood,
                         ::testing::Values(HoursCase{"08:00-18:00", hm(8, 0), hm(18, 0)},
                                           HoursCase{"22:00-06:00", hm(22, 0), hm(6, 0)},
                                           HoursCase{"00:00-24:00", 0, 1440}, HoursCase{"23:59-00:00", hm(23, 59), 0},
                                           HoursCase{" 09:30 - 10:45 ", hm(9, 30), hm(10, 45)}));

class ParseHoursBad : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseHoursBad, IsInvalidArgument) {
  const auto r = parse_hours(GetParam());
  ASSERT_FALSE(r.ok()) << "\"" << GetParam() << "\" parsed as " << r->first << "-" << r->second;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Table, ParseHoursBad,
                         ::testing::Values("", "08:00", "8:00-18:00", "08:00-18", "08-18", "08:60-09:00", "25:00-26:00",
                                           "24:00-06:00",                 // a window cannot start at 24:00
                                           "24:01-00:00", "08:00-08:00",  // empty
                                           "00:00-00:00", "ab:cd-ef:gh", "08:00 18:00", "08.00-18.00", "-08:00-18:00",
                                           "08:00-18:00-19:00"));

}  // namespace
}  // namespace hoist
