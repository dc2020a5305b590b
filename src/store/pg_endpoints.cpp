// Endpoints and enrolment tokens in PostgreSQL (endpoints.h), their labels
// in child tables, as sqlite_endpoints.cpp stores them.
//
// A record is read with its labels in one query (a LEFT JOIN, one row per
// label, in order), not one query per record. No insert is left to fail
// on a taken id (a failed statement aborts the transaction): ON CONFLICT
// DO NOTHING, and no row inserted is the Conflict. Lists are ordered
// byte-wise (COLLATE "C"), as SQLite orders them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

constexpr LabelTable kEnrollmentTokenLabels{
    "SELECT label FROM enrollment_token_labels WHERE token_id = $1 ORDER BY position",
    "INSERT INTO enrollment_token_labels (token_id, position, label) VALUES ($1, $2, $3)"};

constexpr LabelTable kEndpointLabels{"SELECT label FROM endpoint_labels WHERE endpoint_id = $1 ORDER BY position",
                                     "INSERT INTO endpoint_labels (endpoint_id, position, label) VALUES ($1, $2, $3)"};

// Records read with their labels: the rows of one record are adjacent
// (ordered by the record, then the label's position); column 0 is the
// record's id, column `label_col` the label, NULL for a record without.
template <class T, class F>
Result<std::vector<T>> with_labels(Result<Rows> rows, int label_col, F&& read) {
  if (!rows.ok()) return rows.error();
  std::vector<T> out;
  for (int i = 0; i < rows->size(); ++i) {
    const Row r = rows->row(i);
    if (out.empty() || out.back().id != r.text_at(0)) out.push_back(read(r));
    if (!r.is_null(label_col)) out.back().labels.push_back(r.text_at(label_col));
  }
  return out;
}

template <class T>
Result<std::optional<T>> first_of(Result<std::vector<T>> records) {
  if (!records.ok()) return records.error();
  if (records->empty()) return std::optional<T>();
  return std::optional<T>(std::move(records->front()));
}

EnrollmentTokenRecord enrollment_token_of(const Row& r) {
  EnrollmentTokenRecord t;
  t.id = r.text_at(0);
  t.secret_hash = r.text_at(1);
  t.uses_left = static_cast<int>(r.int_at(2));
  t.expires_at = r.time_at(3);
  t.created_by = r.text_at(4);
  t.created_at = r.time_at(5);
  t.revoked_at = r.opt_time_at(6);
  return t;
}

EndpointRecord endpoint_of(const Row& r) {
  EndpointRecord e;
  e.id = r.text_at(0);
  e.hostname = r.text_at(1);
  e.credential_hash = r.text_at(2);
  e.agent_version = r.text_at(3);
  e.enrolled_at = r.time_at(4);
  e.last_seen = r.opt_time_at(5);
  e.retired_at = r.opt_time_at(6);
  e.codes_key_generation = static_cast<std::uint32_t>(r.int_at(7));
  return e;
}

Result<std::optional<EnrollmentTokenRecord>> enrollment_token_on(Conn& conn, const std::string& id) {
  return first_of(with_labels<EnrollmentTokenRecord>(
      conn.query("SELECT t.id, t.secret_hash, t.uses_left, t.expires_s, t.created_by, t.created_s, t.revoked_s, "
                 "l.label FROM enrollment_tokens t LEFT JOIN enrollment_token_labels l ON l.token_id = t.id WHERE "
                 "t.id = $1 ORDER BY l.position",
                 "read enrolment token", id),
      7, enrollment_token_of));
}

}  // namespace

Status PgTx::insert_enrollment_token(const EnrollmentTokenRecord& t) {
  if (t.id.empty() || t.secret_hash.empty()) {
    return invalid_argument("an enrolment token needs an id and a secret hash");
  }
  if (t.uses_left < 1) return invalid_argument("an enrolment token needs at least one use");
  auto inserted = conn_.execute(
      "INSERT INTO enrollment_tokens (id, secret_hash, uses_left, expires_s, created_by, created_s, revoked_s) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
      "store enrolment token", t.id, t.secret_hash, t.uses_left, t.expires_at, t.created_by, t.created_at,
      t.revoked_at);
  if (!inserted.ok()) return inserted.error();
  if (*inserted != 1) return conflict("an enrolment token " + t.id + " exists");
  return write_labels(conn_, kEnrollmentTokenLabels, t.id, t.labels);
}

Result<EnrollmentTokenRecord> PgTx::use_enrollment_token(const std::string& id, TimePoint now) {
  // One statement decides and takes the use, so racing agents cannot both
  // take the last one (and writers run one at a time anyway).
  auto changed = conn_.execute(
      "UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left > 0 AND expires_s > $2 "
      "AND revoked_s IS NULL",
      "use enrolment token", id, now);
  if (!changed.ok()) return changed.error();
  const bool used = *changed == 1;
  auto token = enrollment_token_on(conn_, id);
  if (!token.ok()) return token.error();
  if (!*token) return not_found("no enrolment token " + id);
  if (used) return std::move(**token);
  const EnrollmentTokenRecord& t = **token;
  if (t.revoked_at) return permission_denied("enrolment token " + id + " was revoked");
  if (now >= t.expires_at) return permission_denied("enrolment token " + id + " has expired");
  return permission_denied("enrolment token " + id + " has no uses left");
}

Status PgTx::revoke_enrollment_token(const std::string& id, TimePoint at) {
  auto changed = conn_.execute("UPDATE enrollment_tokens SET revoked_s = COALESCE(revoked_s, $1) WHERE id = $2",
                               "revoke enrolment token", at, id);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no enrolment token " + id);
  return {};
}

Status PgTx::insert_endpoint(const EndpointRecord& e) {
  if (e.id.empty() || e.hostname.empty() || e.credential_hash.empty()) {
    return invalid_argument("an endpoint needs an id, a hostname and a credential hash");
  }
  if (e.codes_key_generation < 1) return invalid_argument("an endpoint's codes key generation starts at 1");
  auto inserted = conn_.execute(
      "INSERT INTO endpoints (id, hostname, credential_hash, agent_version, enrolled_s, last_seen_s, retired_s, "
      "codes_key_generation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
      "store endpoint", e.id, e.hostname, e.credential_hash, e.agent_version, e.enrolled_at, e.last_seen, e.retired_at,
      e.codes_key_generation);
  if (!inserted.ok()) return inserted.error();
  if (*inserted != 1) return conflict("an endpoint " + e.id + " exists");
  return write_labels(conn_, kEndpointLabels, e.id, e.labels);
}

Status PgTx::record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) {
  auto changed =
      conn_.execute("UPDATE endpoints SET last_seen_s = $1, agent_version = $2 WHERE id = $3 AND retired_s IS NULL",
                    "record heartbeat", at, agent_version, id);
  if (!changed.ok()) return changed.error();
  if (*changed == 1) return {};
  auto rows = conn_.query("SELECT 1 FROM endpoints WHERE id = $1", "read endpoint", id);
  if (!rows.ok()) return rows.error();
  if (!rows->empty()) return permission_denied("endpoint " + id + " is retired");
  return not_found("no endpoint " + id);
}

Status PgTx::retire_endpoint(const std::string& id, TimePoint at) {
  auto changed =
      conn_.execute("UPDATE endpoints SET retired_s = COALESCE(retired_s, $1), credential_hash = '' WHERE id = $2",
                    "retire endpoint", at, id);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no endpoint " + id);
  return {};
}

Result<std::uint32_t> PgTx::bump_codes_key_generation(const std::string& endpoint_id) {
  auto rows = conn_.query(
      "UPDATE endpoints SET codes_key_generation = codes_key_generation + 1 WHERE id = $1 AND retired_s IS NULL "
      "RETURNING codes_key_generation",
      "rotate codes key", endpoint_id);
  if (!rows.ok()) return rows.error();
  if (rows->size() != 1) return not_found("no enrolled endpoint " + endpoint_id);
  return static_cast<std::uint32_t>(rows->row(0).int_at(0));
}

Result<std::vector<EnrollmentTokenRecord>> PgStore::enrollment_tokens() {
  return read<std::vector<EnrollmentTokenRecord>>([](Conn& conn) {
    return with_labels<EnrollmentTokenRecord>(
        conn.query("SELECT t.id, t.secret_hash, t.uses_left, t.expires_s, t.created_by, t.created_s, t.revoked_s, "
                   "l.label FROM enrollment_tokens t LEFT JOIN enrollment_token_labels l ON l.token_id = t.id ORDER "
                   "BY t.created_s DESC, t.id COLLATE \"C\", l.position",
                   "read enrolment tokens"),
        7, enrollment_token_of);
  });
}

Result<std::optional<EnrollmentTokenRecord>> PgStore::enrollment_token(const std::string& id) {
  return read<std::optional<EnrollmentTokenRecord>>([&](Conn& conn) { return enrollment_token_on(conn, id); });
}

Result<std::optional<EndpointRecord>> PgStore::endpoint(const std::string& id) {
  return read<std::optional<EndpointRecord>>([&](Conn& conn) {
    return first_of(with_labels<EndpointRecord>(
        conn.query("SELECT e.id, e.hostname, e.credential_hash, e.agent_version, e.enrolled_s, e.last_seen_s, "
                   "e.retired_s, e.codes_key_generation, l.label FROM endpoints e LEFT JOIN endpoint_labels l ON "
                   "l.endpoint_id = e.id WHERE e.id = $1 ORDER BY l.position",
                   "read endpoint", id),
        8, endpoint_of));
  });
}

Result<std::vector<EndpointRecord>> PgStore::endpoints() {
  return read<std::vector<EndpointRecord>>([](Conn& conn) {
    return with_labels<EndpointRecord>(
        conn.query("SELECT e.id, e.hostname, e.credential_hash, e.agent_version, e.enrolled_s, e.last_seen_s, "
                   "e.retired_s, e.codes_key_generation, l.label FROM endpoints e LEFT JOIN endpoint_labels l ON "
                   "l.endpoint_id = e.id ORDER BY e.id COLLATE \"C\", l.position",
                   "read endpoints"),
        8, endpoint_of);
  });
}

}  // namespace hoist::store::pg_backend
