#include "platform/system_time_zones.h"

#include <date/tz.h>

namespace hoist::platform {

namespace {

const date::time_zone* find(std::string_view zone) {
  try {
    return date::locate_zone(zone);
  } catch (const std::exception&) {
    return nullptr;  // unknown zone, or no tz database: windows fail closed
  }
}

}  // namespace

bool SystemTimeZones::known(std::string_view zone) const {
  return find(zone) != nullptr;
}

std::optional<LocalTime> SystemTimeZones::local_time(std::string_view zone, TimePoint at) const {
  const date::time_zone* tz = find(zone);
  if (tz == nullptr) return std::nullopt;
  const auto local = tz->to_local(at);
  const auto day = std::chrono::floor<date::days>(local);
  const date::weekday wd{day};
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(local - day).count();
  return LocalTime{static_cast<int>(wd.iso_encoding()) - 1, static_cast<int>(minutes)};
}

}  // namespace hoist::platform
