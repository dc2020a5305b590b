// Failed logins in PostgreSQL (logins.h): hoist_begin_login (pg_schema.cpp,
// migration 3) counts both keys in one round trip, outside the write lock
// (the keys' own row locks order the attempts on them).
#include <cstdint>
#include <string>

#include "store/login_schedule.h"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<LoginAdmission> PgStore::begin_login(const std::string& user_key, const std::string& address_key,
                                            const LoginSchedule& schedule) {
  if (auto st = check_login_call(user_key, address_key, schedule); !st.ok()) return st.error();
  return read<LoginAdmission>([&](Conn& conn) -> Result<LoginAdmission> {
    auto rows = conn.query("SELECT hoist_begin_login($1, $2, $3, $4, $5, $6)", "count a login attempt", user_key,
                           address_key, static_cast<std::int64_t>(schedule.free_failures),
                           static_cast<std::int64_t>(schedule.base_delay.count()),
                           static_cast<std::int64_t>(schedule.max_delay.count()),
                           static_cast<std::int64_t>(schedule.forget_after.count()));
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return internal_error("database: count a login attempt: no row (this is a bug)");
    const std::int64_t wait = rows->row(0).int_at(0);
    if (wait <= 0) return LoginAdmission{.admitted = true, .retry_after = std::chrono::seconds{0}};
    return LoginAdmission{.admitted = false, .retry_after = std::chrono::seconds{wait}};
  });
}

Status PgStore::login_succeeded(const std::string& user_key, const std::string& address_key) {
  if (user_key.empty() || address_key.empty() || user_key == address_key) {
    return invalid_argument("a login's keys must be two different non-empty keys");
  }
  auto done = read<std::int64_t>([&](Conn& conn) {
    return conn.execute(
        "WITH forgotten AS (DELETE FROM login_failures WHERE key = $1) UPDATE login_failures SET failures = "
        "GREATEST(failures - 1, 0) WHERE key = $2",
        "count a login that succeeded", user_key, address_key);
  });
  if (!done.ok()) return done.error();
  return {};
}

}  // namespace hoist::store::pg_backend
