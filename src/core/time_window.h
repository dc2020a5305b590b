// Time windows on rules ("weekdays 08:00-18:00 in Europe/Paris"). The core
// does no I/O, so local time comes from a TimeZones implementation passed in:
// the platform layer's reads the system tz database, tests pass a fake.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/result.h"

namespace hoist {

struct LocalTime {
  int weekday = 0;        // 0 = Monday ... 6 = Sunday (ISO 8601)
  int minute_of_day = 0;  // 0 ... 1439
};

class TimeZones {
 public:
  virtual ~TimeZones() = default;
  // True when the zone name (such as "Europe/Paris" or "UTC") is known.
  [[nodiscard]] virtual bool known(std::string_view zone) const = 0;
  // Local wall-clock time in the zone. nullopt for an unknown zone: a window
  // in an unknown zone never matches (fails closed).
  [[nodiscard]] virtual std::optional<LocalTime> local_time(std::string_view zone, TimePoint at) const = 0;
};

struct TimeWindow {
  std::uint8_t days = 0x7f;  // bit d set = weekday d allowed (bit 0 = Monday)
  int start_minute = 0;      // inclusive
  int end_minute = 1440;     // exclusive; end < start spans midnight
  std::string zone = "UTC";

  // A window that spans midnight belongs to the day it starts on: "fri
  // 22:00-06:00" covers Friday 22:00 to Saturday 06:00.
  [[nodiscard]] bool contains(const LocalTime& t) const;
  [[nodiscard]] bool contains(TimePoint at, const TimeZones& zones) const;
};

// Parses "mon-fri", "sat,sun", "mon,wed-fri", "all". Days are mon tue wed thu
// fri sat sun; ranges may wrap ("fri-mon").
Result<std::uint8_t> parse_days(std::string_view text);
// Parses "08:00-18:00" (end exclusive; "00:00-24:00" is the whole day).
Result<std::pair<int, int>> parse_hours(std::string_view text);

}  // namespace hoist
