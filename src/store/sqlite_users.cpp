// Users, API tokens and console login sessions in SQLite (users.h).
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::store::sqlite_backend {

namespace {

Result<std::vector<UserRecord>> query_users(Stmt& stmt) {
  std::vector<UserRecord> out;
  for (;;) {
    auto row = stmt.step("read users");
    if (!row.ok()) return row.error();
    if (!*row) break;
    UserRecord u;
    u.name = stmt.text_at(0);
    const auto role = parse_role(stmt.text_at(1));
    if (!role) return internal_error("user " + u.name + " has an unknown role (the database was edited?)");
    u.role = *role;
    u.password_hash = stmt.text_at(2);
    u.created_at = stmt.time_at(3);
    u.disabled = stmt.int_at(4) != 0;
    u.version = stmt.int_at(5);
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::vector<TokenRecord>> query_tokens(Stmt& stmt) {
  std::vector<TokenRecord> out;
  for (;;) {
    auto row = stmt.step("read tokens");
    if (!row.ok()) return row.error();
    if (!*row) break;
    TokenRecord t;
    t.id = stmt.text_at(0);
    t.user = stmt.text_at(1);
    t.label = stmt.text_at(2);
    t.secret_hash = stmt.text_at(3);
    t.created_at = stmt.time_at(4);
    t.expires_at = stmt.opt_time_at(5);
    t.revoked_at = stmt.opt_time_at(6);
    t.last_used_at = stmt.opt_time_at(7);
    out.push_back(std::move(t));
  }
  return out;
}

constexpr std::string_view kUserColumns = "name, role, password_hash, created_s, disabled, version";

constexpr std::string_view kTokenColumns =
    "id, user_name, label, secret_hash, created_s, expires_s, revoked_s, last_used_s";

}  // namespace

Result<UserRecord> SqliteTx::insert_user(const UserRecord& user) {
  if (user.name.empty() || user.password_hash.empty()) {
    return invalid_argument("a user needs a name and a password hash");
  }
  auto s = store_.prepare(fmt::format("INSERT INTO users ({}) VALUES (?, ?, ?, ?, ?, 1)", kUserColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, user.name);
  s->bind_text(2, to_string(user.role));
  s->bind_text(3, user.password_hash);
  s->bind_time(4, user.created_at);
  s->bind_int(5, user.disabled ? 1 : 0);
  if (auto ran = s->run("store user " + user.name); !ran.ok()) {
    const Error& e = ran.error();
    return e.code == ErrorCode::kConflict ? conflict("a user named " + user.name + " already exists") : e;
  }
  UserRecord out = user;
  out.version = 1;
  return out;
}

Result<UserRecord> SqliteTx::insert_first_user(const UserRecord& user) {
  // Inside the write transaction: nobody adds a user between the two.
  {
    auto s = store_.prepare("SELECT EXISTS (SELECT 1 FROM users)");
    if (!s.ok()) return s.error();
    auto row = s->step("look for users");
    if (!row.ok()) return row.error();
    if (*row && s->int_at(0) != 0) return conflict("there are users already: " + user.name + " is not the first");
  }
  return insert_user(user);
}

Result<UserRecord> SqliteTx::update_user(const UserRecord& user) {
  if (user.password_hash.empty()) return invalid_argument("a user needs a password hash");
  auto s = store_.prepare(
      "UPDATE users SET role = ?, password_hash = ?, disabled = ?, version = version + 1 WHERE name = ? AND "
      "version = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, to_string(user.role));
  s->bind_text(2, user.password_hash);
  s->bind_int(3, user.disabled ? 1 : 0);
  s->bind_text(4, user.name);
  s->bind_int(5, user.version);
  if (auto ran = s->run("update user " + user.name); !ran.ok()) return ran.error();
  const bool changed = store_.db().changes() == 1;
  auto q = store_.prepare(fmt::format("SELECT {} FROM users WHERE name = ?", kUserColumns));
  if (!q.ok()) return q.error();
  q->bind_text(1, user.name);
  auto rows = query_users(*q);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return not_found("no user named " + user.name);
  if (!changed) {
    return conflict(fmt::format("user {} changed meanwhile (version {} is stored, {} was read): reload and retry",
                                user.name, rows->front().version, user.version));
  }
  return std::move(rows->front());
}

Status SqliteTx::insert_token(const TokenRecord& t) {
  if (t.id.empty() || t.secret_hash.empty()) return invalid_argument("a token needs an id and a secret hash");
  auto s = store_.prepare(fmt::format("INSERT INTO api_tokens ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", kTokenColumns));
  if (!s.ok()) return s.error();
  Stmt& st = *s;
  st.bind_text(1, t.id);
  st.bind_text(2, t.user);
  st.bind_text(3, t.label);
  st.bind_text(4, t.secret_hash);
  st.bind_time(5, t.created_at);
  st.bind_opt_time(6, t.expires_at);
  st.bind_opt_time(7, t.revoked_at);
  st.bind_opt_time(8, t.last_used_at);
  auto ran = st.run("store token");
  if (ran.ok()) return {};
  if (store_.db().foreign_key_failed()) return not_found("no user named " + t.user + " to own the token");
  const Error& e = ran.error();
  return e.code == ErrorCode::kConflict ? Status{conflict("a token with id " + t.id + " already exists")} : Status{e};
}

Status SqliteTx::revoke_token(const std::string& id, TimePoint at) {
  auto changed = store_.execute("UPDATE api_tokens SET revoked_s = COALESCE(revoked_s, ?) WHERE id = ?", "revoke token",
                                at, std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no token with id " + id);
  return {};
}

Result<std::size_t> SqliteTx::revoke_user_tokens(const std::string& user, TimePoint at) {
  auto changed = store_.execute(
      "UPDATE api_tokens SET revoked_s = ? WHERE user_name = ? AND revoked_s IS NULL AND "
      "(expires_s IS NULL OR expires_s > ?)",
      "revoke the user's tokens", at, std::string_view(user), at);
  if (!changed.ok()) return changed.error();
  return static_cast<std::size_t>(*changed);
}

Status SqliteTx::touch_token(const std::string& id, TimePoint at) {
  auto changed = store_.execute("UPDATE api_tokens SET last_used_s = ? WHERE id = ?", "record token use", at,
                                std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no token with id " + id);
  return {};
}

Result<std::optional<UserRecord>> SqliteStore::user(const std::string& name) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM users WHERE name = ?", kUserColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  return first_row(query_users(*s));
}

Result<std::vector<UserRecord>> SqliteStore::users() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM users ORDER BY name", kUserColumns));
  if (!s.ok()) return s.error();
  return query_users(*s);
}

Result<std::optional<TokenRecord>> SqliteStore::token(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM api_tokens WHERE id = ?", kTokenColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_tokens(*s));
}

Result<std::vector<TokenRecord>> SqliteStore::tokens(const std::string& user) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM api_tokens WHERE user_name = ? ORDER BY id", kTokenColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, user);
  return query_tokens(*s);
}

Status SqliteTx::insert_session(const SessionRecord& session) {
  if (session.id_hash.empty() || session.csrf_hash.empty()) {
    return invalid_argument("a session needs an id hash and a CSRF token hash");
  }
  auto s = store_.prepare(
      "INSERT INTO login_sessions (id_hash, user_name, csrf_hash, created_s, expires_s, revoked_s) VALUES (?, ?, ?, ?, "
      "?, ?)");
  if (!s.ok()) return s.error();
  s->bind_text(1, session.id_hash);
  s->bind_text(2, session.user);
  s->bind_text(3, session.csrf_hash);
  s->bind_time(4, session.created_at);
  s->bind_time(5, session.expires_at);
  s->bind_opt_time(6, session.revoked_at);
  auto ran = s->run("store session");
  if (ran.ok()) return {};
  if (store_.db().foreign_key_failed()) {
    return not_found("no user named " + session.user);
  }
  const Error& e = ran.error();
  return e.code == ErrorCode::kConflict ? Status{conflict("that session exists")} : Status{e};
}

Status SqliteTx::revoke_session(const std::string& id_hash, TimePoint at) {
  auto changed = store_.execute("UPDATE login_sessions SET revoked_s = COALESCE(revoked_s, ?) WHERE id_hash = ?",
                                "revoke session", at, std::string_view(id_hash));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no such session");
  return {};
}

Result<std::size_t> SqliteTx::revoke_user_sessions(const std::string& user, TimePoint at) {
  auto changed = store_.execute(
      "UPDATE login_sessions SET revoked_s = ? WHERE user_name = ? AND revoked_s IS NULL AND expires_s > ?",
      "revoke sessions", at, std::string_view(user), at);
  if (!changed.ok()) return changed.error();
  return static_cast<std::size_t>(*changed);
}

Result<std::optional<SessionRecord>> SqliteStore::session(const std::string& id_hash) {
  std::lock_guard lock(mu_);
  auto s = prepare(
      "SELECT id_hash, user_name, csrf_hash, created_s, expires_s, revoked_s FROM login_sessions WHERE id_hash = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, id_hash);
  auto row = s->step("read session");
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<SessionRecord>();
  return std::optional<SessionRecord>(
      SessionRecord{s->text_at(0), s->text_at(1), s->text_at(2), s->time_at(3), s->time_at(4), s->opt_time_at(5)});
}

}  // namespace hoist::store::sqlite_backend
