// Users, API tokens and console login sessions in PostgreSQL (users.h),
// as sqlite_users.cpp stores them.
//
// A failed statement aborts a PostgreSQL transaction, so no insert here is
// left to fail on a constraint: a taken key is ON CONFLICT DO NOTHING (no
// row inserted), a missing owner a WHERE EXISTS that inserts nothing, and
// only then is the reason looked up, in the same transaction, which goes
// on. Lists are ordered byte-wise (COLLATE "C"), as SQLite orders them,
// whatever the database's default collation.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

Result<std::vector<UserRecord>> users_of(Result<Rows> rows) {
  if (!rows.ok()) return rows.error();
  std::vector<UserRecord> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    const Row r = rows->row(i);
    UserRecord u;
    u.name = r.text_at(0);
    const auto role = parse_role(r.text_at(1));
    if (!role) return internal_error("user " + u.name + " has an unknown role (the database was edited?)");
    u.role = *role;
    u.password_hash = r.text_at(2);
    u.created_at = r.time_at(3);
    u.disabled = r.int_at(4) != 0;
    u.version = r.int_at(5);
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::optional<UserRecord>> first_user(Result<Rows> rows) {
  auto users = users_of(std::move(rows));
  if (!users.ok()) return users.error();
  if (users->empty()) return std::optional<UserRecord>();
  return std::optional<UserRecord>(std::move(users->front()));
}

TokenRecord token_of(const Row& r) {
  TokenRecord t;
  t.id = r.text_at(0);
  t.user = r.text_at(1);
  t.label = r.text_at(2);
  t.secret_hash = r.text_at(3);
  t.created_at = r.time_at(4);
  t.expires_at = r.opt_time_at(5);
  t.revoked_at = r.opt_time_at(6);
  t.last_used_at = r.opt_time_at(7);
  return t;
}

// Whether `sql` (one parameter) finds a row.
Result<bool> exists(Conn& conn, std::string_view sql, std::string_view what, const std::string& key) {
  auto rows = conn.query(sql, what, key);
  if (!rows.ok()) return rows.error();
  return !rows->empty();
}

}  // namespace

Result<UserRecord> PgTx::insert_user(const UserRecord& user) {
  if (user.name.empty() || user.password_hash.empty()) {
    return invalid_argument("a user needs a name and a password hash");
  }
  auto inserted = conn_.execute(
      "INSERT INTO users (name, role, password_hash, created_s, disabled, version) VALUES ($1, $2, $3, $4, $5, 1) ON "
      "CONFLICT (name) DO NOTHING",
      "store user " + user.name, user.name, std::string(to_string(user.role)), user.password_hash, user.created_at,
      user.disabled);
  if (!inserted.ok()) return inserted.error();
  if (*inserted != 1) return conflict("a user named " + user.name + " already exists");
  UserRecord out = user;
  out.version = 1;
  return out;
}

Result<UserRecord> PgTx::insert_first_user(const UserRecord& user) {
  // Under the write lock every replica's writes take, and read after it
  // was granted (READ COMMITTED: each statement sees what committed before
  // it): nobody adds a user between the two.
  auto rows = conn_.query("SELECT EXISTS (SELECT 1 FROM users)", "look for users");
  if (!rows.ok()) return rows.error();
  if (!rows->empty() && rows->row(0).text_at(0) == "t") {
    return conflict("there are users already: " + user.name + " is not the first");
  }
  return insert_user(user);
}

Result<UserRecord> PgTx::update_user(const UserRecord& user) {
  if (user.password_hash.empty()) return invalid_argument("a user needs a password hash");
  auto updated = first_user(conn_.query(
      "UPDATE users SET role = $1, password_hash = $2, disabled = $3, version = version + 1 WHERE name = $4 AND "
      "version = $5 RETURNING name, role, password_hash, created_s, disabled, version",
      "update user " + user.name, std::string(to_string(user.role)), user.password_hash, user.disabled, user.name,
      user.version));
  if (!updated.ok()) return updated.error();
  if (*updated) return std::move(**updated);
  auto stored = conn_.query("SELECT version FROM users WHERE name = $1", "read user " + user.name, user.name);
  if (!stored.ok()) return stored.error();
  if (stored->empty()) return not_found("no user named " + user.name);
  return conflict(fmt::format("user {} changed meanwhile (version {} is stored, {} was read): reload and retry",
                              user.name, stored->row(0).int_at(0), user.version));
}

Status PgTx::insert_token(const TokenRecord& t) {
  if (t.id.empty() || t.secret_hash.empty()) return invalid_argument("a token needs an id and a secret hash");
  auto inserted = conn_.execute(
      "INSERT INTO api_tokens (id, user_name, label, secret_hash, created_s, expires_s, revoked_s, last_used_s) SELECT "
      "$1::TEXT, $2::TEXT, $3::TEXT, $4::TEXT, $5::BIGINT, $6::BIGINT, $7::BIGINT, $8::BIGINT WHERE "
      "EXISTS (SELECT 1 FROM users WHERE name = $2::TEXT) ON CONFLICT (id) DO NOTHING",
      "store token", t.id, t.user, t.label, t.secret_hash, t.created_at, t.expires_at, t.revoked_at, t.last_used_at);
  if (!inserted.ok()) return inserted.error();
  if (*inserted == 1) return {};
  // Nothing inserted: a taken id (as SQLite, which checks it before the
  // owner), or no such user.
  auto taken = exists(conn_, "SELECT 1 FROM api_tokens WHERE id = $1", "read token", t.id);
  if (!taken.ok()) return taken.error();
  if (*taken) return conflict("a token with id " + t.id + " already exists");
  return not_found("no user named " + t.user + " to own the token");
}

Status PgTx::revoke_token(const std::string& id, TimePoint at) {
  auto changed =
      conn_.execute("UPDATE api_tokens SET revoked_s = COALESCE(revoked_s, $1) WHERE id = $2", "revoke token", at, id);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no token with id " + id);
  return {};
}

Result<std::size_t> PgTx::revoke_user_tokens(const std::string& user, TimePoint at) {
  auto changed = conn_.execute(
      "UPDATE api_tokens SET revoked_s = $1 WHERE user_name = $2 AND revoked_s IS NULL AND "
      "(expires_s IS NULL OR expires_s > $1)",
      "revoke the user's tokens", at, user);
  if (!changed.ok()) return changed.error();
  return static_cast<std::size_t>(*changed);
}

Status PgTx::touch_token(const std::string& id, TimePoint at) {
  auto changed = conn_.execute("UPDATE api_tokens SET last_used_s = $1 WHERE id = $2", "record token use", at, id);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no token with id " + id);
  return {};
}

Status PgTx::insert_session(const SessionRecord& session) {
  if (session.id_hash.empty() || session.csrf_hash.empty()) {
    return invalid_argument("a session needs an id hash and a CSRF token hash");
  }
  auto inserted = conn_.execute(
      "INSERT INTO login_sessions (id_hash, user_name, csrf_hash, created_s, expires_s, revoked_s) SELECT $1::TEXT, "
      "$2::TEXT, $3::TEXT, $4::BIGINT, $5::BIGINT, $6::BIGINT WHERE EXISTS (SELECT 1 FROM users WHERE name = "
      "$2::TEXT) ON CONFLICT (id_hash) DO NOTHING",
      "store session", session.id_hash, session.user, session.csrf_hash, session.created_at, session.expires_at,
      session.revoked_at);
  if (!inserted.ok()) return inserted.error();
  if (*inserted == 1) return {};
  auto taken = exists(conn_, "SELECT 1 FROM login_sessions WHERE id_hash = $1", "read session", session.id_hash);
  if (!taken.ok()) return taken.error();
  if (*taken) return conflict("that session exists");
  return not_found("no user named " + session.user);
}

Status PgTx::revoke_session(const std::string& id_hash, TimePoint at) {
  auto changed = conn_.execute("UPDATE login_sessions SET revoked_s = COALESCE(revoked_s, $1) WHERE id_hash = $2",
                               "revoke session", at, id_hash);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no such session");
  return {};
}

Result<std::size_t> PgTx::revoke_user_sessions(const std::string& user, TimePoint at) {
  auto changed = conn_.execute(
      "UPDATE login_sessions SET revoked_s = $1 WHERE user_name = $2 AND revoked_s IS NULL AND expires_s > $1",
      "revoke sessions", at, user);
  if (!changed.ok()) return changed.error();
  return static_cast<std::size_t>(*changed);
}

Result<std::optional<UserRecord>> PgStore::user(const std::string& name) {
  return read<std::optional<UserRecord>>([&](Conn& conn) {
    return first_user(
        conn.query("SELECT name, role, password_hash, created_s, disabled, version FROM users WHERE name = $1",
                   "read user", name));
  });
}

Result<std::vector<UserRecord>> PgStore::users() {
  return read<std::vector<UserRecord>>([](Conn& conn) {
    return users_of(conn.query(
        "SELECT name, role, password_hash, created_s, disabled, version FROM users ORDER BY name COLLATE \"C\"",
        "read users"));
  });
}

Result<std::optional<TokenRecord>> PgStore::token(const std::string& id) {
  return read<std::optional<TokenRecord>>([&](Conn& conn) {
    return first_row<TokenRecord>(conn.query("SELECT id, user_name, label, secret_hash, created_s, expires_s, "
                                             "revoked_s, last_used_s FROM api_tokens WHERE id = $1",
                                             "read token", id),
                                  token_of);
  });
}

Result<std::vector<TokenRecord>> PgStore::tokens(const std::string& user) {
  return read<std::vector<TokenRecord>>([&](Conn& conn) {
    return all_rows<TokenRecord>(
        conn.query("SELECT id, user_name, label, secret_hash, created_s, expires_s, revoked_s, last_used_s FROM "
                   "api_tokens WHERE user_name = $1 ORDER BY id COLLATE \"C\"",
                   "read tokens", user),
        token_of);
  });
}

Result<std::optional<SessionRecord>> PgStore::session(const std::string& id_hash) {
  return read<std::optional<SessionRecord>>([&](Conn& conn) {
    return first_row<SessionRecord>(
        conn.query("SELECT id_hash, user_name, csrf_hash, created_s, expires_s, revoked_s FROM login_sessions WHERE "
                   "id_hash = $1",
                   "read session", id_hash),
        [](const Row& r) {
          return SessionRecord{r.text_at(0), r.text_at(1), r.text_at(2), r.time_at(3), r.time_at(4), r.opt_time_at(5)};
        });
  });
}

}  // namespace hoist::store::pg_backend
