// Shared fakes and helpers for the core unit tests.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/result.h"
#include "core/time_window.h"

namespace hoist {

// Readable GoogleTest output for the core's enums (found by ADL).
inline void PrintTo(Action a, std::ostream* os) {
  *os << to_string(a);
}
inline void PrintTo(ApprovalMode m, std::ostream* os) {
  *os << to_string(m);
}
inline void PrintTo(ErrorCode c, std::ostream* os) {
  *os << to_string(c);
}
inline void PrintTo(RequestState s, std::ostream* os) {
  *os << to_string(s);
}

}  // namespace hoist

namespace hoist::test {

// Time zones with a fixed UTC offset each (no daylight saving). "UTC",
// "Test/Plus2" (+02:00) and "Test/Minus5" (-05:00) are known; every other
// name is unknown, as a zone missing from the tz database would be.
class FakeTimeZones final : public TimeZones {
 public:
  FakeTimeZones() : offsets_{{"UTC", 0}, {"Test/Plus2", 120}, {"Test/Minus5", -300}} {}

  [[nodiscard]] bool known(std::string_view zone) const override { return offsets_.count(std::string(zone)) != 0; }

  [[nodiscard]] std::optional<LocalTime> local_time(std::string_view zone, TimePoint at) const override {
    const auto it = offsets_.find(std::string(zone));
    if (it == offsets_.end()) return std::nullopt;
    const auto local = at + std::chrono::minutes{it->second};
    const auto day = std::chrono::floor<std::chrono::days>(local);
    const std::chrono::weekday wd{day};
    LocalTime t;
    t.weekday = static_cast<int>(wd.iso_encoding()) - 1;
    t.minute_of_day = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
    return t;
  }

 private:
  std::map<std::string, int> offsets_;
};

// A UTC time point. 2024-01-01 is a Monday, so 2024-01-05 is a Friday and
// 2024-01-06 a Saturday.
inline TimePoint utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}} + hours{hour} +
         minutes{minute} + seconds{second};
}

}  // namespace hoist::test
