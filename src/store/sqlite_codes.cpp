// Issued offline admin codes in SQLite (codes.h).
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::store::sqlite_backend {

namespace {

constexpr std::string_view kIssuedCodeColumns =
    "id, endpoint_id, kind, ref, generation, user_name, duration_s, command, issued_by, issued_s, valid_until_s, "
    "used_s, used_event_id";

Result<std::vector<IssuedCode>> query_issued_codes(Stmt& stmt) {
  std::vector<IssuedCode> out;
  for (;;) {
    auto row = stmt.step("read issued codes");
    if (!row.ok()) return row.error();
    if (!*row) break;
    IssuedCode c;
    c.id = stmt.int_at(0);
    c.endpoint_id = stmt.text_at(1);
    const auto kind = parse_issued_code_kind(stmt.text_at(2));
    if (!kind)
      return internal_error(fmt::format("issued code {} has an unknown kind (the database was edited?)", c.id));
    c.kind = *kind;
    c.ref = stmt.int_at(3);
    c.generation = static_cast<std::uint32_t>(stmt.int_at(4));
    c.user = stmt.text_at(5);
    c.duration_s = stmt.int_at(6);
    c.command = stmt.text_at(7);
    c.issued_by = stmt.text_at(8);
    c.issued_at = stmt.time_at(9);
    c.valid_until = stmt.opt_time_at(10);
    c.used_at = stmt.opt_time_at(11);
    if (!stmt.is_null(12)) c.used_event_id = stmt.text_at(12);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

Result<IssuedCode> SqliteTx::insert_issued_code(const IssuedCode& code) {
  if (code.user.empty() || code.issued_by.empty()) {
    return invalid_argument("an issued code needs a user and an issuer");
  }
  // One statement checks the endpoint and its generation and inserts, so a
  // rotation cannot slip in between.
  auto s = store_.prepare(
      "INSERT INTO issued_codes (endpoint_id, kind, ref, generation, user_name, duration_s, command, issued_by, "
      "issued_s, valid_until_s) SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM endpoints WHERE id = ?1 AND "
      "retired_s IS NULL AND codes_key_generation = ?4");
  if (!s.ok()) return s.error();
  s->bind_text(1, code.endpoint_id);
  s->bind_text(2, to_string(code.kind));
  s->bind_int(3, code.ref);
  s->bind_int(4, code.generation);
  s->bind_text(5, code.user);
  s->bind_int(6, code.duration_s);
  s->bind_text(7, code.command);
  s->bind_text(8, code.issued_by);
  s->bind_time(9, code.issued_at);
  s->bind_opt_time(10, code.valid_until);
  if (auto st = s->run("store issued code"); !st.ok()) return st.error();
  if (store_.db().changes() == 1) {
    IssuedCode out = code;
    out.id = store_.db().last_insert_rowid();
    out.used_at.reset();
    out.used_event_id.reset();
    return out;
  }
  auto q = store_.prepare("SELECT codes_key_generation FROM endpoints WHERE id = ? AND retired_s IS NULL");
  if (!q.ok()) return q.error();
  q->bind_text(1, code.endpoint_id);
  auto row = q->step("read codes key generation");
  if (!row.ok()) return row.error();
  if (!*row) return not_found("no enrolled endpoint " + code.endpoint_id);
  return conflict(fmt::format("the codes key of endpoint {} is at generation {}, not {}: it was rotated meanwhile",
                              code.endpoint_id, q->int_at(0), code.generation));
}

Result<std::optional<std::int64_t>> SqliteTx::mark_code_used(const CodeUse& use) {
  auto q = store_.prepare(
      "SELECT id FROM issued_codes WHERE endpoint_id = ? AND kind = ? AND ref = ? AND generation = ? AND user_name = "
      "? AND used_s IS NULL ORDER BY id DESC LIMIT 1");
  if (!q.ok()) return q.error();
  q->bind_text(1, use.endpoint_id);
  q->bind_text(2, to_string(use.kind));
  q->bind_int(3, use.ref);
  q->bind_int(4, use.generation);
  q->bind_text(5, use.user);
  auto row = q->step("look up issued code");
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  const std::int64_t id = q->int_at(0);
  auto changed = store_.execute("UPDATE issued_codes SET used_s = ?, used_event_id = ? WHERE id = ? AND used_s IS NULL",
                                "mark code used", use.used_at, std::string_view(use.event_id), id);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return internal_error("an issued code changed inside its transaction (this is a bug)");
  return std::optional<std::int64_t>(id);
}

Result<std::vector<IssuedCode>> SqliteStore::issued_codes(const IssuedCodeFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  std::string sql = fmt::format("SELECT {} FROM issued_codes WHERE 1 = 1", kIssuedCodeColumns);
  if (f.endpoint_id) sql += " AND endpoint_id = ?";
  if (f.user) sql += " AND user_name = ?";
  sql += " ORDER BY id DESC LIMIT ?";
  std::lock_guard lock(mu_);
  auto s = prepare(sql);
  if (!s.ok()) return s.error();
  int i = 1;
  if (f.endpoint_id) s->bind_text(i++, *f.endpoint_id);
  if (f.user) s->bind_text(i++, *f.user);
  s->bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_issued_codes(*s);
}

}  // namespace hoist::store::sqlite_backend
