// Endpoints and enrolment tokens in SQLite (endpoints.h), their labels in
// child tables.
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::store::sqlite_backend {

namespace {

constexpr LabelTable kEnrollmentTokenLabels{
    "SELECT label FROM enrollment_token_labels WHERE token_id = ? ORDER BY position",
    "INSERT INTO enrollment_token_labels (token_id, position, label) VALUES (?, ?, ?)"};

constexpr LabelTable kEndpointLabels{"SELECT label FROM endpoint_labels WHERE endpoint_id = ? ORDER BY position",
                                     "INSERT INTO endpoint_labels (endpoint_id, position, label) VALUES (?, ?, ?)"};

constexpr std::string_view kEnrollmentColumns =
    "id, secret_hash, uses_left, expires_s, created_by, created_s, revoked_s";

constexpr std::string_view kEndpointColumns =
    "id, hostname, credential_hash, agent_version, enrolled_s, last_seen_s, retired_s, codes_key_generation";

Result<std::vector<EnrollmentTokenRecord>> query_enrollment_tokens(Db& db, Stmt& stmt) {
  std::vector<EnrollmentTokenRecord> out;
  for (;;) {
    auto row = stmt.step("read enrolment tokens");
    if (!row.ok()) return row.error();
    if (!*row) break;
    EnrollmentTokenRecord t;
    t.id = stmt.text_at(0);
    t.secret_hash = stmt.text_at(1);
    t.uses_left = static_cast<int>(stmt.int_at(2));
    t.expires_at = stmt.time_at(3);
    t.created_by = stmt.text_at(4);
    t.created_at = stmt.time_at(5);
    t.revoked_at = stmt.opt_time_at(6);
    out.push_back(std::move(t));
  }
  for (auto& t : out) {
    auto labels = read_labels(db, kEnrollmentTokenLabels, t.id);
    if (!labels.ok()) return labels.error();
    t.labels = std::move(*labels);
  }
  return out;
}

Result<std::vector<EndpointRecord>> query_endpoints(Db& db, Stmt& stmt) {
  std::vector<EndpointRecord> out;
  for (;;) {
    auto row = stmt.step("read endpoints");
    if (!row.ok()) return row.error();
    if (!*row) break;
    EndpointRecord e;
    e.id = stmt.text_at(0);
    e.hostname = stmt.text_at(1);
    e.credential_hash = stmt.text_at(2);
    e.agent_version = stmt.text_at(3);
    e.enrolled_at = stmt.time_at(4);
    e.last_seen = stmt.opt_time_at(5);
    e.retired_at = stmt.opt_time_at(6);
    e.codes_key_generation = static_cast<std::uint32_t>(stmt.int_at(7));
    out.push_back(std::move(e));
  }
  for (auto& e : out) {
    auto labels = read_labels(db, kEndpointLabels, e.id);
    if (!labels.ok()) return labels.error();
    e.labels = std::move(*labels);
  }
  return out;
}

}  // namespace

Status SqliteTx::insert_enrollment_token(const EnrollmentTokenRecord& t) {
  if (t.id.empty() || t.secret_hash.empty())
    return invalid_argument("an enrolment token needs an id and a secret hash");
  if (t.uses_left < 1) return invalid_argument("an enrolment token needs at least one use");
  auto s = store_.prepare(
      fmt::format("INSERT INTO enrollment_tokens ({}) VALUES (?, ?, ?, ?, ?, ?, ?)", kEnrollmentColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, t.id);
  s->bind_text(2, t.secret_hash);
  s->bind_int(3, t.uses_left);
  s->bind_time(4, t.expires_at);
  s->bind_text(5, t.created_by);
  s->bind_time(6, t.created_at);
  s->bind_opt_time(7, t.revoked_at);
  if (auto st = s->run("store enrolment token"); !st.ok()) {
    return st.error().code == ErrorCode::kConflict ? Status{conflict("an enrolment token " + t.id + " exists")} : st;
  }
  return write_labels(store_.db(), kEnrollmentTokenLabels, t.id, t.labels);
}

Result<EnrollmentTokenRecord> SqliteTx::use_enrollment_token(const std::string& id, TimePoint now) {
  // One statement decides and takes the use, so racing agents cannot both
  // take the last one.
  auto s = store_.prepare(
      "UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0 AND expires_s > ? AND "
      "revoked_s IS NULL");
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  s->bind_time(2, now);
  if (auto st = s->run("use enrolment token"); !st.ok()) return st.error();
  const bool used = store_.db().changes() == 1;
  auto q = store_.prepare(fmt::format("SELECT {} FROM enrollment_tokens WHERE id = ?", kEnrollmentColumns));
  if (!q.ok()) return q.error();
  q->bind_text(1, id);
  auto token = first_row(query_enrollment_tokens(store_.db(), *q));
  if (!token.ok()) return token.error();
  if (!*token) return not_found("no enrolment token " + id);
  if (used) return std::move(**token);
  const EnrollmentTokenRecord& t = **token;
  if (t.revoked_at) return permission_denied("enrolment token " + id + " was revoked");
  if (now >= t.expires_at) return permission_denied("enrolment token " + id + " has expired");
  return permission_denied("enrolment token " + id + " has no uses left");
}

Status SqliteTx::revoke_enrollment_token(const std::string& id, TimePoint at) {
  auto changed = store_.execute("UPDATE enrollment_tokens SET revoked_s = COALESCE(revoked_s, ?) WHERE id = ?",
                                "revoke enrolment token", at, std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no enrolment token " + id);
  return {};
}

Status SqliteTx::insert_endpoint(const EndpointRecord& e) {
  if (e.id.empty() || e.hostname.empty() || e.credential_hash.empty()) {
    return invalid_argument("an endpoint needs an id, a hostname and a credential hash");
  }
  if (e.codes_key_generation < 1) return invalid_argument("an endpoint's codes key generation starts at 1");
  auto s = store_.prepare(fmt::format("INSERT INTO endpoints ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", kEndpointColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, e.id);
  s->bind_text(2, e.hostname);
  s->bind_text(3, e.credential_hash);
  s->bind_text(4, e.agent_version);
  s->bind_time(5, e.enrolled_at);
  s->bind_opt_time(6, e.last_seen);
  s->bind_opt_time(7, e.retired_at);
  s->bind_int(8, e.codes_key_generation);
  if (auto st = s->run("store endpoint"); !st.ok()) {
    return st.error().code == ErrorCode::kConflict ? Status{conflict("an endpoint " + e.id + " exists")} : st;
  }
  return write_labels(store_.db(), kEndpointLabels, e.id, e.labels);
}

Status SqliteTx::record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) {
  auto changed =
      store_.execute("UPDATE endpoints SET last_seen_s = ?, agent_version = ? WHERE id = ? AND retired_s IS NULL",
                     "record heartbeat", at, std::string_view(agent_version), std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed == 1) return {};
  auto q = store_.prepare("SELECT 1 FROM endpoints WHERE id = ?");
  if (!q.ok()) return q.error();
  q->bind_text(1, id);
  auto row = q->step("read endpoint");
  if (!row.ok()) return row.error();
  if (*row) return permission_denied("endpoint " + id + " is retired");
  return not_found("no endpoint " + id);
}

Status SqliteTx::retire_endpoint(const std::string& id, TimePoint at) {
  auto changed =
      store_.execute("UPDATE endpoints SET retired_s = COALESCE(retired_s, ?), credential_hash = '' WHERE id = ?",
                     "retire endpoint", at, std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no endpoint " + id);
  return {};
}

Result<std::uint32_t> SqliteTx::bump_codes_key_generation(const std::string& endpoint_id) {
  auto changed = store_.execute(
      "UPDATE endpoints SET codes_key_generation = codes_key_generation + 1 WHERE id = ? AND retired_s IS NULL",
      "rotate codes key", std::string_view(endpoint_id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no enrolled endpoint " + endpoint_id);
  auto q = store_.prepare("SELECT codes_key_generation FROM endpoints WHERE id = ?");
  if (!q.ok()) return q.error();
  q->bind_text(1, endpoint_id);
  auto row = q->step("read codes key generation");
  if (!row.ok()) return row.error();
  if (!*row) return internal_error("endpoint " + endpoint_id + " vanished inside its transaction (this is a bug)");
  return static_cast<std::uint32_t>(q->int_at(0));
}

Result<std::vector<EnrollmentTokenRecord>> SqliteStore::enrollment_tokens() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM enrollment_tokens ORDER BY created_s DESC, id", kEnrollmentColumns));
  if (!s.ok()) return s.error();
  return query_enrollment_tokens(db(), *s);
}

Result<std::optional<EnrollmentTokenRecord>> SqliteStore::enrollment_token(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM enrollment_tokens WHERE id = ?", kEnrollmentColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_enrollment_tokens(db(), *s));
}

Result<std::optional<EndpointRecord>> SqliteStore::endpoint(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM endpoints WHERE id = ?", kEndpointColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_endpoints(db(), *s));
}

Result<std::vector<EndpointRecord>> SqliteStore::endpoints() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM endpoints ORDER BY id", kEndpointColumns));
  if (!s.ok()) return s.error();
  return query_endpoints(db(), *s);
}

}  // namespace hoist::store::sqlite_backend
