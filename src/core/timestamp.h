// RFC 3339 timestamps ("2026-11-24T09:30:00Z", "2026-11-24T10:30:00+01:00").
#pragma once

#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/result.h"

namespace hoist {

// Accepts "YYYY-MM-DDTHH:MM[:SS]" followed by "Z" or "+HH:MM"/"-HH:MM"; a
// space or 't' may stand for the 'T' and 'z' for 'Z' (RFC 3339 5.6). Years 1970-9999.
Result<TimePoint> parse_timestamp(std::string_view text);
// "2026-11-24T09:30:00Z"
std::string format_timestamp(TimePoint t);

}  // namespace hoist
