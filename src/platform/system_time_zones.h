// TimeZones backed by the system tz database (/usr/share/zoneinfo, through
// Howard Hinnant's date library, which C++20's <chrono> zones came from;
// g++ 12 does not ship them yet).
#pragma once

#include "core/time_window.h"

namespace hoist::platform {

class SystemTimeZones final : public TimeZones {
 public:
  [[nodiscard]] bool known(std::string_view zone) const override;
  [[nodiscard]] std::optional<LocalTime> local_time(std::string_view zone, TimePoint at) const override;
};

}  // namespace hoist::platform
