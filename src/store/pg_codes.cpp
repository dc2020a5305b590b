// Issued offline admin codes in PostgreSQL (codes.h).
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

IssuedCode code_of(const Row& r) {
  IssuedCode c;
  c.id = r.int_at(0);
  c.endpoint_id = r.text_at(1);
  c.ref = r.int_at(3);
  c.generation = static_cast<std::uint32_t>(r.int_at(4));
  c.user = r.text_at(5);
  c.duration_s = r.int_at(6);
  c.command = r.text_at(7);
  c.issued_by = r.text_at(8);
  c.issued_at = r.time_at(9);
  c.valid_until = r.opt_time_at(10);
  c.used_at = r.opt_time_at(11);
  c.used_event_id = r.opt_text_at(12);
  return c;
}

Result<std::vector<IssuedCode>> codes_of(Result<Rows> rows) {
  if (!rows.ok()) return rows.error();
  std::vector<IssuedCode> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    const Row row = rows->row(i);
    IssuedCode c = code_of(row);
    const auto kind = parse_issued_code_kind(row.text_at(2));
    if (!kind) {
      return internal_error(fmt::format("issued code {} has an unknown kind (the database was edited?)", c.id));
    }
    c.kind = *kind;
    out.push_back(std::move(c));
  }
  return out;
}

constexpr std::string_view kColumns =
    "id, endpoint_id, kind, ref, generation, user_name, duration_s, command, issued_by, issued_s, valid_until_s, "
    "used_s, used_event_id";

// The statements for each filter, made once.
struct CodeSql {
  std::string all;
  std::string by_endpoint;
  std::string by_user;
  std::string by_both;
};

const CodeSql& sql() {
  static const CodeSql kSql{
      fmt::format("SELECT {} FROM issued_codes ORDER BY id DESC LIMIT $1", kColumns),
      fmt::format("SELECT {} FROM issued_codes WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2", kColumns),
      fmt::format("SELECT {} FROM issued_codes WHERE user_name = $1 ORDER BY id DESC LIMIT $2", kColumns),
      fmt::format("SELECT {} FROM issued_codes WHERE endpoint_id = $1 AND user_name = $2 ORDER BY id DESC LIMIT $3",
                  kColumns),
  };
  return kSql;
}

}  // namespace

Result<IssuedCode> PgTx::insert_issued_code(const IssuedCode& code) {
  if (code.user.empty() || code.issued_by.empty()) {
    return invalid_argument("an issued code needs a user and an issuer");
  }
  // One statement checks the endpoint and its generation and inserts, so a
  // rotation cannot slip in between.
  auto rows = conn_.query(
      "INSERT INTO issued_codes (endpoint_id, kind, ref, generation, user_name, duration_s, command, issued_by, "
      "issued_s, valid_until_s) SELECT id, $2::text, $3::bigint, $4::bigint, $5::text, $6::bigint, $7::text, "
      "$8::text, $9::bigint, $10::bigint FROM endpoints WHERE id = $1 AND retired_s IS NULL AND "
      "codes_key_generation = $4::bigint RETURNING id",
      "store issued code", code.endpoint_id, to_string(code.kind), code.ref, code.generation, code.user,
      code.duration_s, code.command, code.issued_by, code.issued_at, code.valid_until);
  if (!rows.ok()) return rows.error();
  if (!rows->empty()) {
    IssuedCode out = code;
    out.id = rows->row(0).int_at(0);
    out.used_at.reset();
    out.used_event_id.reset();
    return out;
  }
  auto q = conn_.query("SELECT codes_key_generation FROM endpoints WHERE id = $1 AND retired_s IS NULL",
                       "read codes key generation", code.endpoint_id);
  if (!q.ok()) return q.error();
  if (q->empty()) return not_found("no enrolled endpoint " + code.endpoint_id);
  return conflict(fmt::format("the codes key of endpoint {} is at generation {}, not {}: it was rotated meanwhile",
                              code.endpoint_id, q->row(0).int_at(0), code.generation));
}

Result<std::optional<std::int64_t>> PgTx::mark_code_used(const CodeUse& use) {
  // The newest unused match, found and marked in one statement.
  auto rows = conn_.query(
      "UPDATE issued_codes SET used_s = $6, used_event_id = $7 WHERE id = (SELECT id FROM issued_codes WHERE "
      "endpoint_id = $1 AND kind = $2 AND ref = $3 AND generation = $4 AND user_name = $5 AND used_s IS NULL ORDER "
      "BY id DESC LIMIT 1) AND used_s IS NULL RETURNING id",
      "mark code used", use.endpoint_id, to_string(use.kind), use.ref, use.generation, use.user, use.used_at,
      use.event_id);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(rows->row(0).int_at(0));
}

Result<std::vector<IssuedCode>> PgStore::issued_codes(const IssuedCodeFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  const auto limit = static_cast<std::int64_t>(f.limit);
  return read<std::vector<IssuedCode>>([&](Conn& conn) {
    if (f.endpoint_id && f.user) {
      return codes_of(conn.query(sql().by_both, "read issued codes", *f.endpoint_id, *f.user, limit));
    }
    if (f.endpoint_id) return codes_of(conn.query(sql().by_endpoint, "read issued codes", *f.endpoint_id, limit));
    if (f.user) return codes_of(conn.query(sql().by_user, "read issued codes", *f.user, limit));
    return codes_of(conn.query(sql().all, "read issued codes", limit));
  });
}

}  // namespace hoist::store::pg_backend
