// Durations as people write them in policies and on the command line:
// "90s", "15m", "2h", "1d", "1w", or a sum such as "1h30m".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist {

using Seconds = std::chrono::seconds;
using TimePoint = std::chrono::sys_seconds;

// Longest duration Hoist accepts anywhere (a year). Anything longer is almost
// certainly a typo, and bounding it keeps arithmetic on deadlines far from
// overflow.
inline constexpr Seconds kMaxDuration = std::chrono::days{366};

// Parses a positive duration. Fails with InvalidArgument, naming the problem,
// for empty input, unknown units, zero, or anything above kMaxDuration.
Result<Seconds> parse_duration(std::string_view text);

// Formats a duration in the largest units that represent it exactly:
// 5400s -> "1h30m", 86400s -> "1d", 0 -> "0s".
std::string format_duration(Seconds d);

// The policy's cap wins over what was asked for.
inline Seconds cap_duration(Seconds requested, Seconds cap) {
  return requested < cap ? requested : cap;
}

}  // namespace hoist
