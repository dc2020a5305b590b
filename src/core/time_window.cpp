#include "core/time_window.h"

#include <fmt/format.h>
#include <array>

namespace hoist {

namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::optional<int> day_index(std::string_view name) {
  for (std::size_t i = 0; i < kDayNames.size(); ++i) {
    if (kDayNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (const std::size_t i : {0U, 1U, 3U, 4U}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

}  // namespace

bool TimeWindow::contains(const LocalTime& t) const {
  const auto day_on = [this](int d) { return (days >> ((d % 7 + 7) % 7) & 1) != 0; };
  if (start_minute <= end_minute) {
    return day_on(t.weekday) && t.minute_of_day >= start_minute && t.minute_of_day < end_minute;
  }
  // Spans midnight: the evening part belongs to today, the morning part to
  // the window that started yesterday.
  if (t.minute_of_day >= start_minute) return day_on(t.weekday);
  if (t.minute_of_day < end_minute) return day_on(t.weekday - 1);
  return false;
}

bool TimeWindow::contains(TimePoint at, const TimeZones& zones) const {
  const auto local = zones.local_time(zone, at);
  return local.has_value() && contains(*local);
}

Result<std::uint8_t> parse_days(std::string_view text) {
  text = trim(text);
  if (text == "all" || text == "*") return static_cast<std::uint8_t>(0x7f);
  if (text.empty()) return invalid_argument("empty day list: write days such as \"mon-fri\" or \"sat,sun\"");
  std::uint8_t mask = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string_view item = trim(text.substr(pos, comma - pos));
    const std::size_t dash = item.find('-');
    const auto first = day_index(trim(item.substr(0, dash)));
    const auto last = dash == std::string_view::npos ? first : day_index(trim(item.substr(dash + 1)));
    if (!first || !last) {
      return invalid_argument(fmt::format(
          "\"{}\" is not a day or day range: use mon, tue, wed, thu, fri, sat, sun, ranges such as mon-fri, or all",
          item));
    }
    for (int d = *first;; d = (d + 1) % 7) {
      mask = static_cast<std::uint8_t>(mask | (1U << d));
      if (d == *last) break;
    }
    pos = comma + 1;
  }
  return mask;
}

Result<std::pair<int, int>> parse_hours(std::string_view text) {
  text = trim(text);
  const std::size_t dash = text.find('-');
  const auto start = dash == std::string_view::npos ? std::nullopt : parse_clock(trim(text.substr(0, dash)));
  const auto end = dash == std::string_view::npos ? std::nullopt : parse_clock(trim(text.substr(dash + 1)));
  if (!start || !end || *start == 1440) {
    return invalid_argument(
        fmt::format("\"{}\" is not an hour range: write HH:MM-HH:MM, such as 08:00-18:00 or 22:00-06:00", text));
  }
  if (*start == *end) {
    return invalid_argument(fmt::format("hour range \"{}\" is empty: start and end are the same", text));
  }
  return std::pair{*start, *end};
}

}  // namespace hoist
