// The audit trail in SQLite (audit_trail.h): each event chained to the
// newest one inside the write transaction, hashes stored as 64 hex digits.
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::store::sqlite_backend {

namespace {

Result<std::vector<AuditEvent>> query_events(Stmt& stmt) {
  std::vector<AuditEvent> out;
  for (;;) {
    auto row = stmt.step("read audit events");
    if (!row.ok()) return row.error();
    if (!*row) break;
    AuditEvent e;
    e.seq = static_cast<std::uint64_t>(stmt.int_at(0));
    e.time = AuditTime{std::chrono::milliseconds{stmt.int_at(1)}};
    e.actor = stmt.text_at(2);
    e.action = stmt.text_at(3);
    e.target = stmt.text_at(4);
    e.host = stmt.text_at(5);
    e.details = stmt.text_at(6);
    // A stored hash that is not 64 hex digits is itself tampering: keep the
    // event with a zero hash so verification reports it.
    if (auto h = Sha256::from_hex(stmt.text_at(7)); h.ok()) e.prev_hash = *h;
    if (auto h = Sha256::from_hex(stmt.text_at(8)); h.ok()) e.hash = *h;
    out.push_back(std::move(e));
  }
  return out;
}

Error trail_refused(std::string_view what) {
  return unavailable(fmt::format(
      "{}: the database was changed outside hoistd. hoistd appends nothing to an audit trail that does not verify, so "
      "it changes nothing; see docs/hoistd.md, \"When the audit trail does not verify\"",
      what));
}

constexpr std::string_view kEventColumns = "seq, time_ms, actor, action, target, host, details, prev_hash, hash";

}  // namespace

Result<std::optional<AuditEvent>> SqliteStore::last_event_locked() {
  auto stmt = prepare(fmt::format("SELECT {} FROM audit_events ORDER BY seq DESC LIMIT 1", kEventColumns));
  if (!stmt.ok()) return stmt.error();
  return first_row(query_events(*stmt));
}

Status SqliteStore::check_head_locked(const std::optional<AuditEvent>& prev) {
  if (prev && audit_event_hash(*prev) != prev->hash) {
    return trail_refused(fmt::format("the newest audit event, #{}, does not match its hash", prev->seq));
  }
  if (!committed_head_) return {};
  if (prev && prev->seq == committed_head_->seq && prev->hash == committed_head_->hash) return {};
  auto s = prepare("SELECT hash FROM audit_events WHERE seq = ?");
  if (!s.ok()) return s.error();
  s->bind_int(1, static_cast<std::int64_t>(committed_head_->seq));
  auto row = s->step("read the audit trail's head");
  if (!row.ok()) return row.error();
  if (!*row || s->text_at(0) != committed_head_->hash.hex()) {
    return trail_refused(
        fmt::format("audit event #{}, which this hoistd wrote, is gone or changed", committed_head_->seq));
  }
  return {};
}

Result<AuditEvent> SqliteTx::append_audit(const AuditDraft& draft) {
  if (draft.actor.empty() || draft.action.empty()) {
    return invalid_argument("an audit event needs an actor and an action");
  }
  auto prev = store_.last_event_locked();
  if (!prev.ok()) return prev.error();
  if (auto st = store_.check_head_locked(*prev); !st.ok()) return st.error();
  AuditEvent e;
  e.time = draft.time;
  e.actor = draft.actor;
  e.action = draft.action;
  e.target = draft.target;
  e.host = draft.host;
  e.details = draft.details.empty() ? "{}" : draft.details;
  e = chain_after(*prev, std::move(e));
  auto stmt = store_.prepare(
      "INSERT INTO audit_events (seq, time_ms, actor, action, target, host, details, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  Stmt& s = *stmt;
  s.bind_int(1, static_cast<std::int64_t>(e.seq));
  s.bind_int(2, e.time.time_since_epoch().count());
  s.bind_text(3, e.actor);
  s.bind_text(4, e.action);
  s.bind_text(5, e.target);
  s.bind_text(6, e.host);
  s.bind_text(7, e.details);
  s.bind_text(8, e.prev_hash.hex());
  s.bind_text(9, e.hash.hex());
  if (auto ran = s.run("append audit event"); !ran.ok()) return ran.error();
  if (auto queued = store_.enqueue_routed_locked(e); !queued.ok()) return queued.error();
  appended_ = ChainHead{e.seq, e.hash};
  return e;
}

Result<std::vector<AuditEvent>> SqliteStore::audit_events(const AuditFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  std::string sql = fmt::format("SELECT {} FROM audit_events WHERE seq > ?", kEventColumns);
  if (f.since) sql += " AND time_ms >= ?";
  if (f.until) sql += " AND time_ms < ?";
  if (f.actor) sql += " AND actor = ?";
  if (f.action) sql += " AND action = ?";
  if (f.target) sql += " AND target = ?";
  if (f.host) sql += " AND host = ?";
  sql += " ORDER BY seq LIMIT ?";
  std::lock_guard lock(mu_);
  auto stmt = prepare(sql);
  if (!stmt.ok()) return stmt.error();
  Stmt& s = *stmt;
  int i = 1;
  s.bind_int(i++, static_cast<std::int64_t>(f.after_seq));
  if (f.since) s.bind_int(i++, f.since->time_since_epoch().count());
  if (f.until) s.bind_int(i++, f.until->time_since_epoch().count());
  for (const auto* v : {&f.actor, &f.action, &f.target, &f.host}) {
    if (*v) s.bind_text(i++, **v);
  }
  s.bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_events(s);
}

Result<std::vector<AuditEvent>> SqliteStore::audit_range(std::uint64_t first, std::size_t count) {
  std::lock_guard lock(mu_);
  auto stmt = prepare(fmt::format("SELECT {} FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?", kEventColumns));
  if (!stmt.ok()) return stmt.error();
  stmt->bind_int(1, static_cast<std::int64_t>(first));
  stmt->bind_int(2, static_cast<std::int64_t>(count));
  return query_events(*stmt);
}

Result<std::optional<ChainHead>> SqliteStore::audit_head() {
  std::lock_guard lock(mu_);
  auto last = last_event_locked();
  if (!last.ok()) return last.error();
  if (!*last) return std::optional<ChainHead>();
  return std::optional<ChainHead>(ChainHead{(*last)->seq, (*last)->hash});
}

}  // namespace hoist::store::sqlite_backend
