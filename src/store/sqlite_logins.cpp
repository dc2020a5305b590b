// Failed logins in SQLite (logins.h): both keys read and counted in one
// write transaction, on this machine's clock. hoistd on SQLite counts
// logins in its own memory (server/auth/login_limiter.h, one process has
// every count); these calls keep the backends alike (hoistd migrate, the
// conformance suite) and serve any process that does share the file.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/login_schedule.h"
#include "store/sqlite_backend.h"

namespace hoist::store::sqlite_backend {

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<LoginAdmission> SqliteStore::begin_login(const std::string& user_key, const std::string& address_key,
                                                const LoginSchedule& schedule) {
  if (auto st = check_login_call(user_key, address_key, schedule); !st.ok()) return st.error();
  const std::lock_guard lock(mu_);
  LoginAdmission out;
  const Status st = db_->write([&]() -> Status {
    const std::int64_t now = wall_ms();
    if (auto pruned = execute(
            "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE forget_ms <= ? ORDER BY "
            "forget_ms LIMIT 16)",
            "forget idle login counts", now);
        !pruned.ok()) {
      return pruned.error();
    }
    std::int64_t wait_ms = 0;
    std::array<std::int64_t, 2> counts{0, 0};  // failures now, forgotten ones as 0
    const std::array<std::string_view, 2> keys{user_key, address_key};
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto s = prepare("SELECT failures, last_ms, forget_ms FROM login_failures WHERE key = ?");
      if (!s.ok()) return s.error();
      s->bind_text(1, keys[i]);
      auto row = s->step("read a login count");
      if (!row.ok()) return row.error();
      if (!*row || s->int_at(2) <= now) continue;
      counts[i] = s->int_at(0);
      wait_ms = std::max(wait_ms, s->int_at(1) + login_delay_s(counts[i], schedule) * 1000 - now);
    }
    if (wait_ms > 0) {
      out = LoginAdmission{.admitted = false, .retry_after = std::chrono::seconds{(wait_ms + 999) / 1000}};
      return {};
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::int64_t failures = counts[i] + 1;
      const std::int64_t keep_s =
          std::max<std::int64_t>(schedule.forget_after.count(), login_delay_s(failures, schedule));
      auto put = execute(
          "INSERT INTO login_failures (key, failures, last_ms, forget_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO "
          "UPDATE SET failures = excluded.failures, last_ms = excluded.last_ms, forget_ms = excluded.forget_ms",
          "count a login attempt", keys[i], failures, now, now + keep_s * 1000);
      if (!put.ok()) return put.error();
    }
    out = LoginAdmission{.admitted = true, .retry_after = std::chrono::seconds{0}};
    return {};
  });
  if (!st.ok()) return st.error();
  return out;
}

Status SqliteStore::login_succeeded(const std::string& user_key, const std::string& address_key) {
  if (user_key.empty() || address_key.empty() || user_key == address_key) {
    return invalid_argument("a login's keys must be two different non-empty keys");
  }
  const std::lock_guard lock(mu_);
  return db_->write([&]() -> Status {
    if (auto gone = execute("DELETE FROM login_failures WHERE key = ?", "count a login that succeeded",
                            std::string_view(user_key));
        !gone.ok()) {
      return gone.error();
    }
    auto back = execute("UPDATE login_failures SET failures = MAX(failures - 1, 0) WHERE key = ?",
                        "count a login that succeeded", std::string_view(address_key));
    return back.ok() ? Status{} : Status{back.error()};
  });
}

}  // namespace hoist::store::sqlite_backend
