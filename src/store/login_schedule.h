// What both backends check of begin_login's arguments (logins.h), and the
// schedule's delay, for SQLite's side (PostgreSQL computes it in SQL,
// hoist_login_delay_s in pg_schema.cpp; the conformance suite holds them
// to the same answers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "store/logins.h"

namespace hoist::store {

inline Status check_login_call(const std::string& user_key, const std::string& address_key,
                               const LoginSchedule& schedule) {
  if (user_key.empty() || address_key.empty()) return invalid_argument("a login's keys must not be empty");
  if (user_key == address_key) return invalid_argument("a login's user key and address key must differ");
  if (schedule.free_failures < 0 || schedule.base_delay.count() < 1 || schedule.max_delay < schedule.base_delay ||
      schedule.forget_after <= schedule.max_delay) {
    return invalid_argument("a login schedule needs free_failures >= 0 and 1 s <= base <= max < forget_after");
  }
  return {};
}

// The lock after a key's `failures`-th failure, in seconds (0 while free).
inline std::int64_t login_delay_s(std::int64_t failures, const LoginSchedule& schedule) {
  if (failures <= schedule.free_failures) return 0;
  const std::int64_t doublings = std::min<std::int64_t>(failures - schedule.free_failures - 1, 40);
  const std::int64_t max_s = schedule.max_delay.count();
  std::int64_t delay = schedule.base_delay.count();
  for (std::int64_t k = 0; k < doublings && delay < max_s; ++k) delay *= 2;
  return std::min(delay, max_s);
}

}  // namespace hoist::store
