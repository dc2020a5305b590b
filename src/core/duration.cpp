#include "core/duration.h"

#include <fmt/format.h>
#include <cstdint>

namespace hoist {

Result<Seconds> parse_duration(std::string_view text) {
  if (text.empty()) {
    return invalid_argument("empty duration: write a number and a unit, such as 15m, 2h or 1d");
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') {
      return invalid_argument(fmt::format(
          "invalid duration \"{}\": expected a number at position {}, as in 15m, 2h, 1d or 1h30m", text, i + 1));
    }
    std::int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxDuration.count()) {
        return invalid_argument(
            fmt::format("duration \"{}\" is too long: the maximum is {}", text, format_duration(kMaxDuration)));
      }
      ++i;
    }
    if (i == text.size()) {
      return invalid_argument(fmt::format("invalid duration \"{}\": the number needs a unit (s, m, h, d or w)", text));
    }
    std::int64_t unit = 0;
    switch (text[i]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = std::int64_t{7} * 86400; break;
      default:
        return invalid_argument(
            fmt::format("invalid duration \"{}\": unknown unit '{}'; use s, m, h, d or w", text, text[i]));
    }
    ++i;
    total += n * unit;
    if (total > kMaxDuration.count()) {
      return invalid_argument(
          fmt::format("duration \"{}\" is too long: the maximum is {}", text, format_duration(kMaxDuration)));
    }
  }
  if (total == 0) {
    return invalid_argument(fmt::format("duration \"{}\" is zero: a duration must be positive", text));
  }
  return Seconds{total};
}

std::string format_duration(Seconds d) {
  std::int64_t s = d.count();
  if (s == 0) return "0s";
  std::string out;
  if (s < 0) {
    out += '-';
    s = -s;
  }
  struct Unit {
    std::int64_t size;
    char name;
  };
  for (const Unit u : {Unit{86400, 'd'}, Unit{3600, 'h'}, Unit{60, 'm'}, Unit{1, 's'}}) {
    if (s >= u.size) {
      out += fmt::format("{}{}", s / u.size, u.name);
      s %= u.size;
    }
  }
  return out;
}

}  // namespace hoist
